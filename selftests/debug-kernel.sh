#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh: build (once) a 6.12 kernel with the kernel's own bug
# detectors - lockdep (PROVE_LOCKING), KASAN, DEBUG_ATOMIC_SLEEP, kmemleak -
# from Debian's linux-source-6.12, and lay it out like a matrix kernel:
#
#   $KMT_CACHE/kernels/<kver>/vmlinux, kdir (-> the build tree), lib/modules
#
# so that `selftests/run.sh <kver>` runs the selftests on it. It is not added
# to $KMT_CACHE/matrix: `make test` stays on the distribution kernels.
# Prints the kver on stdout. Build log and timing in $KMT_CACHE/debug-kernel.
# Needs the packages deps.sh installs (build-essential flex bison bc
# libelf-dev libssl-dev).
set -euo pipefail
KMT_CACHE=${KMT_CACHE:-/var/cache/kvmmemtune}
dir=$KMT_CACHE/debug-kernel
src=$dir/linux-source-6.12
obj=$dir/build
log() { printf 'debug-kernel: %s\n' "$*" >&2; }

mkdir -p "$dir"
if [ ! -f "$src/Makefile" ]; then
	if ! ls "$dir"/linux-source-6.12_*.deb >/dev/null 2>&1; then
		log "apt-get download linux-source-6.12"
		(cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root linux-source-6.12)
	fi
	rm -rf "$dir/x"
	dpkg-deb -x "$(ls "$dir"/linux-source-6.12_*.deb | tail -n 1)" "$dir/x"
	tar -C "$dir" -xaf "$dir"/x/usr/src/linux-source-6.12.tar.xz
	rm -rf "$dir/x"
fi

# Bump when the configuration below changes: a cached build of another
# revision is configured and built again (incrementally, in the same tree).
config_rev=2
if [ "$(cat "$dir/config-rev" 2>/dev/null)" != "$config_rev" ]; then
	rm -f "$dir/.done" "$obj/.config"
fi

# Where dkms and `make install` look for a kernel's build tree. /lib/modules
# is one per machine: a cached kernel points it at this cache's tree again,
# which another KMT_CACHE's build may have replaced (or deleted) since.
link_build() {	# $1 = kver
	mkdir -p "/lib/modules/$1"
	ln -sfn "$obj" "/lib/modules/$1/build"
}

kver_file=$dir/kver
cached=$(cat "$kver_file" 2>/dev/null || true)
if [ -f "$dir/.done" ] && [ -n "$cached" ] && [ -s "$KMT_CACHE/kernels/$cached/vmlinux" ]; then
	link_build "$cached"
	echo "$cached"
	exit 0
fi

mkdir -p "$obj"
kmake() { make -C "$src" O="$obj" "$@"; }

if [ ! -f "$obj/.config" ]; then
	log "configuring (defconfig + what the tests need + the debug options)"
	kmake -s defconfig >/dev/null
	cfg() { "$src/scripts/config" --file "$obj/.config" "$@"; }
	# What kvmmemtune and the test guest need.
	cfg --enable MODULES --enable MODULE_UNLOAD --disable MODULE_SIG \
	    --enable VIRTUALIZATION --module KVM --module KVM_AMD --disable KVM_INTEL \
	    --enable KPROBES --enable FTRACE --enable FUNCTION_TRACER --enable DYNAMIC_FTRACE \
	    --enable TRACING --enable KPROBE_EVENTS --enable DEBUG_FS \
	    --enable TRANSPARENT_HUGEPAGE --enable TRANSPARENT_HUGEPAGE_MADVISE \
	    --enable COMPACTION --enable MIGRATION --enable KSM --enable HUGETLBFS \
	    --enable NUMA --enable X86_64_ACPI_NUMA --enable SWAP \
	    --module ZRAM --enable ZSMALLOC --enable DEVTMPFS --enable TMPFS \
	    --enable BLK_DEV_INITRD --enable SERIAL_8250 --enable SERIAL_8250_CONSOLE \
	    --enable PVH --enable MMU_NOTIFIER --enable CGROUPS --enable MEMCG
	# HMM_MIRROR has no prompt: the smallest thing that selects it is the
	# HMM test driver, which needs device-private memory.
	cfg --enable MEMORY_HOTPLUG --enable MEMORY_HOTREMOVE --enable SPARSEMEM_VMEMMAP \
	    --enable ZONE_DEVICE --enable DEVICE_PRIVATE --enable RUNTIME_TESTING_MENU \
	    --module TEST_HMM
	# The bug detectors.
	cfg --enable DEBUG_KERNEL --enable PROVE_LOCKING --enable DEBUG_ATOMIC_SLEEP \
	    --enable KASAN --enable KASAN_GENERIC --enable KASAN_INLINE \
	    --enable DEBUG_KMEMLEAK --set-val DEBUG_KMEMLEAK_MEM_POOL_SIZE 64000 \
	    --disable DEBUG_KMEMLEAK_DEFAULT_OFF --disable DEBUG_KMEMLEAK_AUTO_SCAN \
	    --enable DEBUG_LIST --enable DETECT_HUNG_TASK --enable SOFTLOCKUP_DETECTOR
	# Smaller and faster to build: no debug info, no hardware the guest lacks.
	cfg --enable DEBUG_INFO_NONE --disable DEBUG_INFO_DWARF5 \
	    --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT --disable DEBUG_INFO_BTF \
	    --disable DRM --disable SOUND --disable SND --disable WLAN --disable WIRELESS \
	    --disable CFG80211 --disable NETDEVICES --disable USB_SUPPORT --disable AGP \
	    --disable FB --disable HID --disable SCSI --disable ATA --disable MD \
	    --disable NETWORK_FILESYSTEMS --disable INPUT_JOYSTICK --disable INPUT_TABLET \
	    --disable INPUT_TOUCHSCREEN --disable INPUT_MISC --disable EFI --disable HIBERNATION \
	    --disable SECURITY_SELINUX --disable AUDIT
	cfg --set-str LOCALVERSION -kmt-debug --disable LOCALVERSION_AUTO
	kmake -s olddefconfig >/dev/null
	for opt in KVM_AMD KPROBES HMM_MIRROR PROVE_LOCKING KASAN DEBUG_ATOMIC_SLEEP \
		   DEBUG_KMEMLEAK PVH ZRAM MEMCG; do
		grep -qE "^CONFIG_$opt=[ym]" "$obj/.config" ||
			{ log "CONFIG_$opt did not stick"; exit 1; }
	done
	echo "$config_rev" > "$dir/config-rev"
fi

log "building with make -j2 (log: $dir/build.log)"
t0=$(date +%s)
if ! kmake -j2 vmlinux modules > "$dir/build.log" 2>&1; then
	tail -n 30 "$dir/build.log" >&2
	log "build failed"
	exit 1
fi
t1=$(date +%s)
# Only known once the build has generated include/config/auto.conf.
kver=$(kmake -s kernelrelease)
echo "$((t1 - t0)) s for make -j2 vmlinux modules ($(date -u +%Y-%m-%dT%H:%MZ))" >> "$dir/build-time"

kd=$KMT_CACHE/kernels/$kver
rm -rf "$kd"
mkdir -p "$kd"
kmake -s INSTALL_MOD_PATH="$kd" INSTALL_MOD_STRIP=1 DEPMOD=true modules_install >/dev/null
rm -f "$kd/lib/modules/$kver/build" "$kd/lib/modules/$kver/source"
depmod -b "$kd" "$kver"
ln -sfn "$obj" "$kd/kdir"
link_build "$kver"
cp "$obj/vmlinux" "$kd/vmlinux"
echo "$kver" > "$kver_file"
touch "$dir/.done"
log "done in $((t1 - t0)) s"
echo "$kver"
