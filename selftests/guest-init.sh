#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the test guest: set up the guest, modprobe KVM and kvmmemtune, run the
# selftests (or the demo) and power off. The host reads the serial console:
# TAP lines from the tests, KMT-* lines from here.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null ||
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
echo 1 > /proc/sys/kernel/printk

mode=test
for arg in $(cat /proc/cmdline); do
	case $arg in kmt.mode=*) mode=${arg#kmt.mode=} ;; esac
done
kver=$(uname -r)
# The module as dkms installs it; modprobe finds it through modules.dep.
export KMT_MODULE=/lib/modules/$kver/updates/dkms/kvmmemtune.ko

finish() {
	echo "KMT-DONE"
	sync
	poweroff -f
}

echo "KMT-KERNEL $kver"
modprobe kvm_amd || echo "KMT-ERROR modprobe kvm_amd failed"
[ -c /dev/kvm ] || { echo "KMT-ERROR no /dev/kvm"; finish; }
if ! modprobe kvmmemtune; then
	echo "KMT-ERROR modprobe kvmmemtune failed"
	dmesg | tail -n 20
	finish
fi

# Swap on zram, for the tests that page VM memory out.
if modprobe zram && echo 512M > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null &&
   swapon /dev/zram0; then
	:
else
	echo "KMT-WARN no zram swap: swap tests will skip"
fi

if [ "$mode" = demo ]; then
	/tests/demo.sh
	finish
fi
if [ "$mode" = bench ]; then
	# Every benchmark in the order of the table; each prints detail lines and
	# KMT-ROW lines (figure, goal, met, measurement), gathered into the table.
	echo "KMT-BENCH-BEGIN"
	: > /tmp/bench.out
	for b in hotpath memslot vmlife scan stat memory idle; do
		echo "-- bench_$b"
		{ /tests/bench_$b; echo "$?" > /tmp/bench.rc; } 2>&1 | tee -a /tmp/bench.out |
			grep -v '^KMT-ROW '
		rc=$(cat /tmp/bench.rc)
		[ "$rc" = 0 ] || echo "KMT-ROW bench_$b exited with status $rc" >> /tmp/bench.out
		# A benchmark that failed midway may have left the module unloaded.
		[ -d /sys/kernel/kvmmemtune ] || modprobe kvmmemtune
	done
	echo "KMT-BENCH-END"
	echo "KMT-TABLE-BEGIN"
	printf '%-34s %-11s %-4s %s\n' figure goal met measured
	grep '^KMT-ROW ' /tmp/bench.out | sed 's/^KMT-ROW //'
	echo "KMT-TABLE-END"
	finish
fi

for t in /tests/test_*; do
	echo "KMT-BEGIN ${t##*/}"
	"$t"
	echo "KMT-END ${t##*/} rc=$?"
done
# The whole run, module unloads included, must leave the kernel log clean.
if dmesg | grep -E 'WARNING:|BUG:|Oops|general protection|possible (recursive|circular) locking|INFO: task' > /tmp/trouble; then
	echo "not ok 1 dmesg_clean"
	sed 's/^/# /' /tmp/trouble | head -n 40
else
	echo "ok 1 dmesg_clean"
fi
finish
