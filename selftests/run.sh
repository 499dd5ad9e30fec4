#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh [--demo|--bench|--stress] [KVER...]: build kvmmemtune (with dkms) and its selftests
# for each matrix kernel, boot each kernel under QEMU software emulation (nested SVM, so
# real KVM VMs run inside), run the tests there and count the TAP results.
# Ends with "N passed, N failed, N skipped"; exits non-zero on any failure.
#
# --stress runs only test_stress, with a long storm: KMT_STRESS_SECONDS (300) of it and
# KMT_STRESS_RELOADS (20) module reloads in the middle. A KVER not in the matrix (the
# debug kernel of debug-kernel.sh) is given by name; KMT_DEBUG_LANE=1 adds it to the
# matrix kernels. KMT_TESTS="test_reclaim test_tool"
# runs only those test programs (for development; the dmesg checks still run).
set -uo pipefail
KMT_CACHE=${KMT_CACHE:-/var/cache/kvmmemtune}
export KMT_CACHE
top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/selftests
mode=test
case ${1:-} in
--demo) mode=demo; shift ;;
--bench) mode=bench; shift ;;
--stress) mode=stress; shift ;;
esac
# Passed to the guest's /init on the kernel command line.
guest_args="kmt.mode=$mode"
if [ "$mode" = stress ]; then
	guest_args="$guest_args kmt.stress=${KMT_STRESS_SECONDS:-300},${KMT_STRESS_RELOADS:-20}"
fi
if [ -n "${KMT_TESTS:-}" ]; then
	guest_args="$guest_args kmt.tests=$(echo $KMT_TESTS | tr ' ' ,)"
fi
GUEST_TIMEOUT=${KMT_GUEST_TIMEOUT:-900}
# Two NUMA nodes of 1 GiB each: tests bind memory to node 1.
GUEST_NODE_MEM=1G
GUEST_MEM=2G

start=$(date +%s)
if [ -z "${KMT_SKIP_DEPS:-}" ]; then
	"$here/deps.sh" || { echo "run: installing dependencies failed"; echo "0 passed, 1 failed"; exit 1; }
fi
if [ $# -gt 0 ]; then
	kernels="$*"
elif [ "$mode" = demo ]; then
	kernels=$(tail -n 1 "$KMT_CACHE/matrix")
else
	kernels=$(cat "$KMT_CACHE/matrix")
fi
# KMT_DEBUG_LANE=1 (.ci/run sets it): the lockdep/KASAN/kmemleak kernel of
# debug-kernel.sh joins the matrix kernels (built once, about 10 minutes).
if [ "${KMT_DEBUG_LANE:-}" = 1 ] && [ "$mode" = test ] && [ $# -eq 0 ]; then
	if ! dbg=$("$here/debug-kernel.sh"); then
		echo "run: building the debug kernel failed (log in $KMT_CACHE/debug-kernel)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	kernels="$kernels $dbg"
fi

# KMT_WORKDIR: where this run builds and logs (default: the cache), so that
# two work trees can run at once.
work=${KMT_WORKDIR:-$KMT_CACHE}/run
rm -rf "$work"
mkdir -p "$work/tests"

# ---- static test programs (one build serves every kernel) ----
CFLAGS="-static -O2 -g -Wall -Werror -I$KMT_CACHE/ksft -I$top/include"
for src in "$here"/test_*.c; do
	name=$(basename "$src" .c)
	gcc $CFLAGS -o "$work/tests/$name" "$src" -lpthread ||
		{ echo "run: cannot build $name"; echo "0 passed, 1 failed"; exit 1; }
done
for src in "$here"/demo_vm.c "$here"/bench_*.c; do
	prog=$(basename "$src" .c)
	gcc $CFLAGS -o "$work/tests/$prog" "$src" ||
		{ echo "run: cannot build $prog"; echo "0 passed, 1 failed"; exit 1; }
done
cp "$here/demo.sh" "$work/tests/"
# The tool, static, for the guest (/tests/kvmmemtune).
if ! make -s -C "$top/tools" LDFLAGS=-static O="$work/tool" > "$work/tool-build.log" 2>&1; then
	cat "$work/tool-build.log"
	echo "run: cannot build the tool"; echo "0 passed, 1 failed"; exit 1
fi
cp "$work/tool/kvmmemtune" "$work/tests/"
# Its host-side unit tests, once, counted with the guests' results.
if [ "$mode" = test ]; then
	make -s -C "$top/tools" O="$work/tool-check" check > "$work/tool-unit.log" 2>&1
fi

# Copy one kernel module, decompressed, into the initramfs tree.
stage_module() {	# $1 = kernel modules dir, $2 = stage modules dir, $3 = relpath
	local src=$1/$2 dst
	dst=$3/${2%.xz}
	dst=${dst%.zst}
	mkdir -p "$(dirname "$dst")"
	case $src in
	*.xz) xz -dc "$src" > "$dst" ;;
	*.zst) zstd -qdc "$src" > "$dst" ;;
	*) cp "$src" "$dst" ;;
	esac
}

# Modules a module needs, itself included, from modules.dep.
module_closure() {	# $1 = modules dir, $2 = relpath
	local line
	line=$(grep -E "^$2:" "$1/modules.dep")
	echo "${line%%:*}"
	for d in ${line#*:}; do echo "$d"; done
}

# ---- per kernel: module (built and installed by dkms), initramfs, host lanes ----
# Host-side TAP lines go to $work/<kver>/host.tap, counted with the guest's.
prepare() {	# $1 = kver
	local kver=$1 kd=$KMT_CACHE/kernels/$1 stage=$work/$1/root ko m rel moddir
	local host=$work/$1/host tap=$work/$1/host.tap
	moddir=$kd/lib/modules/$kver
	mkdir -p "$stage"/{bin,sbin,proc,sys,dev,tmp,tests} "$stage/lib/modules/$kver/updates/dkms"
	"$here/host-lanes.sh" dkms "$kver" "$host" > "$tap"
	ko=$host/kvmmemtune.ko
	[ -s "$ko" ] || { echo "dkms build failed:"; cat "$tap"; tail -n 30 "$host/dkms.log"; return 1; }
	cp "$ko" "$stage/lib/modules/$kver/updates/dkms/kvmmemtune.ko"
	# KVM for the VMs, zram for swap in the guest.
	for name in kvm-amd zram; do
		rel=$(grep -oE "^[^:]*/$name\.ko[^:]*" "$moddir/modules.dep")
		for m in $(module_closure "$moddir" "$rel"); do
			stage_module "$moddir" "$m" "$stage/lib/modules/$kver"
		done
	done
	cp "$moddir"/modules.order "$moddir"/modules.builtin "$stage/lib/modules/$kver/" 2>/dev/null || true
	depmod -b "$stage" "$kver" 2>/dev/null
	if [ "$mode" = test ]; then
		KMT_TAP_FIRST=$(($(wc -l < "$tap") + 1)) \
			"$here/host-lanes.sh" install "$kver" "$host" "$stage" >> "$tap"
	fi
	cp /bin/busybox "$stage/bin/busybox"
	cp "$here/guest-init.sh" "$stage/init"
	chmod +x "$stage/init"
	cp -r "$work/tests/." "$stage/tests/"
	(cd "$stage" && find . | cpio -o -H newc --quiet) > "$work/$kver/initrd.cpio"
}

# Bench mode: the guest's clocks follow the instructions it executes
# (-icount, 1 ns per instruction, idle time skipped), not the host's wall
# clock. Other guests sharing the host's cores then cannot stretch one
# round and not the next, and every figure is a ratio of emulated time.
# One CPU (maxcpus=1): 6.1 never brings its second CPU up under -icount,
# and all kernels are measured alike. The module's work items then run on
# the benchmark's CPU; with two vCPUs they would still take from the same
# instruction clock, as single-threaded emulation runs one vCPU at a time.
icount= bench_args=
if [ "$mode" = bench ]; then
	icount="-icount shift=0,sleep=off"
	bench_args=" maxcpus=1"
fi

boot() {	# $1 = kver
	local kver=$1 log=$work/$1/console.log limit=$GUEST_TIMEOUT
	# Everything runs several times slower under the debug kernel's checks.
	case $kver in *-kmt-debug) limit=${KMT_DEBUG_TIMEOUT:-5400} ;; esac
	# shellcheck disable=SC2086 # $icount is empty or two words
	timeout "$limit" qemu-system-x86_64 -accel tcg,thread=single -cpu max $icount \
		-m "$GUEST_MEM" -smp 2,sockets=2 -nodefaults -display none -no-reboot \
		-object memory-backend-ram,id=m0,size=$GUEST_NODE_MEM \
		-object memory-backend-ram,id=m1,size=$GUEST_NODE_MEM \
		-numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1 \
		-serial "file:$log" -monitor none \
		-kernel "$KMT_CACHE/kernels/$kver/vmlinux" -initrd "$work/$kver/initrd.cpio" \
		-append "console=ttyS0 quiet panic=-1 oops=panic transparent_hugepage=madvise $guest_args$bench_args" \
		< /dev/null > "$work/$kver/qemu.log" 2>&1
	echo $? > "$work/$kver/qemu.rc"
}

# In parallel: each kernel has its own directories, and the builds use both cores.
for k in $kernels; do
	mkdir -p "$work/$k"
	if ! prepare "$k" > "$work/$k/prepare.log" 2>&1; then
		echo "prepare failed" >> "$work/$k/prepare.log"
	fi &
done
wait
for k in $kernels; do
	case $k in *-kmt-debug) continue ;; esac
	[ -f "$work/$k/initrd.cpio" ] && boot "$k" &
done
wait
# The debug kernel after the others, alone: under its checks its tests'
# time limits leave no room for three more guests on the same cores.
for k in $kernels; do
	case $k in *-kmt-debug) [ -f "$work/$k/initrd.cpio" ] && boot "$k" ;; esac
done

if [ "$mode" = demo ]; then
	for k in $kernels; do
		tr -d '\r' < "$work/$k/console.log" | sed -n '/KMT-[A-Z]*-BEGIN/,/KMT-[A-Z]*-END/p' |
			grep -v '^KMT-'
		grep -q '^KMT-DONE' "$work/$k/console.log" ||
			{ echo "guest $k did not finish:"; tail -n 30 "$work/$k/console.log"; }
	done
	exit 0
fi
# Bench: every benchmark's detail lines per kernel, then one table per kernel.
# Benchmarks report; they never fail the run.
if [ "$mode" = bench ]; then
	for k in $kernels; do
		echo "== $k: details"
		tr -d '\r' < "$work/$k/console.log" | sed -n '/^KMT-BENCH-BEGIN/,/^KMT-BENCH-END/p' |
			grep -v '^KMT-'
	done
	for k in $kernels; do
		echo
		echo "== $k: table (each figure measured in this one guest run)"
		tr -d '\r' < "$work/$k/console.log" | sed -n '/^KMT-TABLE-BEGIN/,/^KMT-TABLE-END/p' |
			grep -v '^KMT-TABLE'
		grep -q '^KMT-DONE' "$work/$k/console.log" ||
			{ echo "guest $k did not finish:"; tail -n 30 "$work/$k/console.log"; }
	done
	echo "run: $(($(date +%s) - start)) s, logs in $work"
	exit 0
fi

pass=0 fail=0 skip=0
if [ "$mode" = test ]; then
	echo "== host: make -C tools check (the tool's unit tests)"
	grep -E '^not ok |^#' "$work/tool-unit.log" | sed 's/^/   /'
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$work/tool-unit.log" | tail -n 1)
	if [ -n "$summary" ]; then
		set -- $summary
		echo "   host: $1 passed, $3 failed, 0 skipped"
		pass=$((pass + $1)) fail=$((fail + $3))
	else
		tail -n 20 "$work/tool-unit.log" | sed 's/^/   | /'
		echo "   host: unit tests did not finish"
		fail=$((fail + 1))
	fi
fi
for k in $kernels; do
	log=$work/$k/console.log
	echo "== $k"
	if [ ! -f "$work/$k/initrd.cpio" ]; then
		sed 's/^/   /' "$work/$k/prepare.log"
		fail=$((fail + 1))
		continue
	fi
	{ cat "$work/$k/host.tap"; tr -d '\r' < "$log"; } > "$log.clean"
	p=$(grep -cE '^ok [0-9]+ ' "$log.clean" | head -n 1)
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log.clean")
	f=$(grep -cE '^not ok [0-9]+ ' "$log.clean")
	p=$((p - s))
	grep -E '^(not )?ok [0-9]+ |^KMT-(ERROR|KERNEL)|^# SKIP|^#.*(FAIL|Expected|ASSERT)' "$log.clean" | sed 's/^/   /'
	if ! grep -q '^KMT-DONE' "$log.clean"; then
		echo "   guest did not finish (qemu rc $(cat "$work/$k/qemu.rc" 2>/dev/null)); last console lines:"
		tail -n 40 "$log.clean" | sed 's/^/   | /'
		f=$((f + 1))
	fi
	if grep -q '^KMT-ERROR' "$log.clean"; then
		f=$((f + 1))
	fi
	echo "   $k: $p passed, $f failed, $s skipped"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "run: $(($(date +%s) - start)) s, logs in $work"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
