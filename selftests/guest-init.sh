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

mode=test only=
for arg in $(cat /proc/cmdline); do
	case $arg in
	kmt.mode=*) mode=${arg#kmt.mode=} ;;
	# KMT_TESTS of run.sh: only these test programs.
	kmt.tests=*) only=${arg#kmt.tests=} ;;
	# make stress: storm length in seconds, module reloads during it.
	kmt.stress=*)
		v=${arg#kmt.stress=}
		export KMT_STRESS_SECONDS=${v%,*} KMT_STRESS_RELOADS=${v#*,}
		;;
	esac
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

tests=/tests/test_*
[ "$mode" = stress ] && tests=/tests/test_stress
[ -n "$only" ] && tests=$(echo "$only" | tr , '\n' | sed 's|^|/tests/|')
for t in $tests; do
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
# Kernels with kmemleak (the debug kernel): nothing of kvmmemtune's unreferenced.
if [ -e /sys/kernel/debug/kmemleak ] ||
   { mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null; [ -e /sys/kernel/debug/kmemleak ]; }; then
	echo scan > /sys/kernel/debug/kmemleak
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak > /tmp/leaks
	if grep -qE 'kvmmemtune|kmt_' /tmp/leaks; then
		echo "not ok 2 kmemleak_clean"
		sed 's/^/# /' /tmp/leaks | head -n 60
	else
		echo "ok 2 kmemleak_clean ($(grep -c '^unreferenced object' /tmp/leaks) reports elsewhere in the kernel)"
	fi
fi
finish
