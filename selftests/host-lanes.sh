#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The host side of `make test`, for one matrix kernel; prints TAP lines
# ("ok N host: ..."), which run.sh counts with the guest's.
#
#   host-lanes.sh dkms KVER OUT
#	`make dkms-install` and `make dkms-remove` for KVER as on a real host,
#	but in a scratch dkms tree (source tree, dkms tree, install tree, MOK
#	key) so that the host's own dkms state is never read or changed. The
#	newest kernel goes through its trixie root and trixie's dkms. Leaves the
#	module dkms built and installed, decompressed, in OUT/kvmmemtune.ko:
#	the one the guest loads. dkms's output goes to OUT/dkms.log.
#   host-lanes.sh install KVER OUT STAGE
#	`make install` / `make uninstall` into a DESTDIR; the module metadata
#	(modinfo) of OUT/kvmmemtune.ko; depends=kvm in the guest tree STAGE's
#	modules.dep, and that this module is the only kvmmemtune there.
# No -e: every check reports its own failure as a TAP line.
set -uo pipefail
KMT_CACHE=${KMT_CACHE:-/var/cache/kvmmemtune}
top=$(cd "$(dirname "$0")/.." && pwd)
lane=$1 kver=$2 out=$3
chroot_dir=$(cat "$KMT_CACHE/kernels/$kver/chroot" 2>/dev/null || true)
version=$(sed -n 's/^#define KMT_VERSION "\(.*\)"$/\1/p' "$top/include/kvmmemtune.h")
mkdir -p "$out"

n=$((${KMT_TAP_FIRST:-1} - 1))
tap() {		# $1 = 0 (pass) or not, $2 = description, [$3 = skip reason]
	n=$((n + 1))
	if [ -n "${3:-}" ]; then
		echo "ok $n host: $2 # SKIP $3"
	elif [ "$1" = 0 ]; then
		echo "ok $n host: $2"
	else
		echo "not ok $n host: $2"
	fi
}
check() {	# description, command...: one TAP line for the command's status
	local d=$1
	shift
	if "$@" >> "$out/$lane.log" 2>&1; then tap 0 "$d"; else tap 1 "$d"; fi
}

# A scratch directory for this lane: under OUT, or inside the kernel's
# chroot (one per KMT_WORKDIR, as build-module.sh does), where it is $inner.
if [ -n "$chroot_dir" ]; then
	tag=$(printf '%s' "${KMT_WORKDIR:-default}" | md5sum | cut -c1-8)
	inner=/kmt-$lane/$tag/$kver
	scratch=$chroot_dir$inner
	for m in proc sys dev; do
		mountpoint -q "$chroot_dir/$m" || mount --bind "/$m" "$chroot_dir/$m"
	done
else
	inner=$out/$lane-scratch
	scratch=$inner
fi
rm -rf "$scratch"
mkdir -p "$scratch/proj"
cp -r "$top/Makefile" "$top/Kbuild" "$top/dkms.conf" "$top/module" "$top/include" \
      "$top/tools" "$scratch/proj/"
rm -f "$scratch/proj/tools/kvmmemtune"

# make in the copy, on the host or in the chroot; extra environment first.
run_make() {	# [VAR=value...] -- make args...
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	if [ -n "$chroot_dir" ]; then
		chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			"${envs[@]}" make -C "$inner/proj" "$@"
	else
		env "${envs[@]}" make -C "$inner/proj" "$@"
	fi
}

# What exists of kvmmemtune in the host's own dkms and module trees.
host_state() {
	local root=${chroot_dir:-}
	find "$root/var/lib/dkms" -iname '*kvmmemtune*' 2>/dev/null || true
	find "$root/usr/src" -maxdepth 1 -iname '*kvmmemtune*' 2>/dev/null || true
	find "$root/lib/modules/$kver/" -name 'kvmmemtune.ko*' 2>/dev/null || true
}

decompress() {	# $1 = module, maybe compressed; $2 = destination
	case $1 in
	*.xz) xz -dc "$1" > "$2" ;;
	*.zst) zstd -qdc "$1" > "$2" ;;
	*.gz) gzip -dc "$1" > "$2" ;;
	*) cp "$1" "$2" ;;
	esac
}

dkms_lane() {
	local flags before t0 t1 ko status
	mkdir -p "$scratch/src" "$scratch/tree" "$scratch/lib/modules/$kver"
	# dkms 3.2 looks for the kernel's headers in the install tree.
	ln -s "/lib/modules/$kver/build" "$scratch/lib/modules/$kver/build"
	# No depmod: it would run on the real /lib/modules/KVER, not the install tree.
	flags="--dkmstree $inner/tree --sourcetree $inner/src --installtree $inner/lib/modules --no-depmod"
	dkms_make() {
		run_make "mok_signing_key=$inner/mok.key" "mok_certificate=$inner/mok.pub" -- \
			"$@" KVER="$kver" DKMS_SRC="$inner/src" DKMS_FLAGS="$flags" >> "$out/dkms.log" 2>&1
	}
	before=$(host_state)
	: > "$out/dkms.log"
	t0=$(date +%s.%N)
	if dkms_make dkms-install; then tap 0 "make dkms-install ($kver)"; else tap 1 "make dkms-install ($kver)"; fi
	t1=$(date +%s.%N)
	echo "dkms-install took $(echo "$t1 - $t0" | bc) s" >> "$out/dkms.log"
	printf '%.1f\n' "$(echo "$t1 - $t0" | bc)" > "$out/dkms.seconds"
	if [ -n "$chroot_dir" ]; then
		status=$(chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			 dkms status $flags 2>&1)
	else
		status=$(dkms status $flags 2>&1)
	fi
	echo "dkms status: $status" >> "$out/dkms.log"
	case $status in
	*"kvmmemtune/$version, $kver, x86_64: installed"*) tap 0 "dkms status: installed" ;;
	*) tap 1 "dkms status: installed" ;;
	esac
	ko=$(ls "$scratch/lib/modules/$kver/updates/dkms/"kvmmemtune.ko* 2>/dev/null | head -n 1 || true)
	if [ -n "$ko" ]; then
		decompress "$ko" "$out/kvmmemtune.ko"
		tap 0 "dkms installed ${ko#"$scratch"/}"
	else
		rm -f "$out/kvmmemtune.ko"
		tap 1 "dkms installed lib/modules/$kver/updates/dkms/kvmmemtune.ko"
	fi
	# dkms signs where it finds sign-file and openssl (a MOK key is made on first use).
	if grep -q '^Signing module' "$out/dkms.log"; then
		[ "$(modinfo -F signer "$out/kvmmemtune.ko" 2>/dev/null)" = "DKMS module signing key" ]
		tap $? "module signed with dkms's MOK key"
	else
		tap 0 "module signed with dkms's MOK key" "dkms did not sign here"
	fi
	# Idempotent: a second install over the first rebuilds and reinstalls.
	dkms_make dkms-install
	tap $? "make dkms-install again"
	dkms_make dkms-remove
	tap $? "make dkms-remove"
	[ -z "$(find "$scratch/src" "$scratch/tree" "$scratch/lib" -type f)" ]
	tap $? "dkms-remove leaves no file in dkms's trees"
	[ "$before" = "$(host_state)" ]
	tap $? "the host's dkms and module trees are untouched"
}

install_lane() {
	local stage=$1 dest=$scratch/dest files want dep
	: > "$out/install.log"
	check "make install DESTDIR=... KVER=$kver" \
		run_make -- install DESTDIR="$inner/dest" KVER="$kver"
	files=$(cd "$dest" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
	echo "installed: $files" >> "$out/install.log"
	want="lib/modules/$kver/updates/kvmmemtune.ko"
	grep -q '^CONFIG_MODULE_COMPRESS_XZ=y' "$KMT_CACHE/kernels/$kver/kdir/.config" && want=$want.xz
	want="$want usr/local/sbin/kvmmemtune"
	[ -f "$top/tools/kvmmemtune.8" ] && want="$want usr/local/share/man/man8/kvmmemtune.8"
	want=$(printf '%s\n' $want | sort)
	[ "$files" = "$want" ]
	tap $? "make install put exactly: $(echo $want)"
	check "make uninstall DESTDIR=... KVER=$kver" \
		run_make -- uninstall DESTDIR="$inner/dest" KVER="$kver"
	[ -z "$(find "$dest" -type f)" ]
	tap $? "make uninstall leaves no file"

	# The metadata of the module the guest runs.
	local ko=$out/kvmmemtune.ko mi
	mi=$(modinfo "$ko" 2>&1 || true)
	echo "$mi" | grep -v '^\s\|^sig' >> "$out/install.log"
	[ "$(modinfo -F version "$ko")" = "$version" ]
	tap $? "modinfo version $version"
	[ "$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/dkms.conf")" = "$version" ]
	tap $? "dkms.conf PACKAGE_VERSION is $version"
	[ "$(modinfo -F license "$ko")" = GPL ] && [ -n "$(modinfo -F author "$ko")" ] &&
		[ -n "$(modinfo -F description "$ko")" ]
	tap $? "modinfo license GPL, author, description"
	[ "$(modinfo -F depends "$ko")" = kvm ]
	tap $? "modinfo depends: kvm"
	[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$kver" ]
	tap $? "modinfo vermagic $kver"
	# Every parameter has a description ("name:description (type)").
	[ -n "$(modinfo -F parm "$ko")" ] && ! modinfo -F parm "$ko" | grep -qvE '^[a-z_]+:[^ (]'
	tap $? "every parameter described: $(modinfo -F parm "$ko" | cut -d: -f1 | tr '\n' ' ')"

	# The guest's tree: modprobe resolves kvm from modules.dep.
	dep=$(grep '^updates/dkms/kvmmemtune.ko:' "$stage/lib/modules/$kver/modules.dep" || true)
	echo "modules.dep: $dep" >> "$out/install.log"
	case " ${dep#*:} " in
	*" kernel/arch/x86/kvm/kvm.ko"[.\ ]*) tap 0 "modules.dep: kvmmemtune depends on kvm.ko" ;;
	*) tap 1 "modules.dep: kvmmemtune depends on kvm.ko" ;;
	esac
	[ "$(cd "$stage" && find . -name 'kvmmemtune.ko*')" = "./lib/modules/$kver/updates/dkms/kvmmemtune.ko" ] &&
		cmp -s "$ko" "$stage/lib/modules/$kver/updates/dkms/kvmmemtune.ko"
	tap $? "the guest's only kvmmemtune.ko is the dkms-built one"
}

case $lane in
dkms) dkms_lane ;;
install) install_lane "$4" ;;
*) echo "usage: $0 dkms|install KVER OUT [STAGE]" >&2; exit 2 ;;
esac
rm -rf "$scratch"
