#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the test lane, the demo and `make check` need on a Debian 12
# host, and prepare the kernel matrix in a cache outside the tree:
#
#   $KMT_CACHE/kernels/<kver>/vmlinux      ELF kernel, booted by QEMU through PVH
#   $KMT_CACHE/kernels/<kver>/lib/modules  the kernel's modules (as Debian ships them)
#   $KMT_CACHE/kernels/<kver>/kdir         the kernel's build tree (headers package)
#   $KMT_CACHE/kernels/<kver>/chroot       set when the module must be built in a chroot
#   $KMT_CACHE/trixie                      debootstrapped trixie root for the newest kernel
#   $KMT_CACHE/ksft                        kselftest headers and checkpatch from linux-source
#
# Every step is skipped when its result is already present, so a second run is quick.
# Prints the matrix, one "<kver> <kdir> <chroot-or-->" line each, to $KMT_CACHE/matrix.
set -euo pipefail

KMT_CACHE=${KMT_CACHE:-/var/cache/kvmmemtune}
HOST_PKGS="qemu-system-x86 busybox-static cpio sparse dkms openssl debootstrap kmod xz-utils zstd
	   build-essential libc6-dev bc flex bison libelf-dev libssl-dev"
log() { printf 'deps: %s\n' "$*" >&2; }

mkdir -p "$KMT_CACHE/kernels" "$KMT_CACHE/debs"
export DEBIAN_FRONTEND=noninteractive

apt_updated=0
apt_update_once() {
	if [ $apt_updated = 0 ]; then
		log "apt-get update"
		apt-get update -qq >/dev/null
		apt_updated=1
	fi
}

missing=""
for p in $HOST_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt_update_once
	log "installing:$missing"
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Newest package whose name matches a regex, by version sort of the name.
newest_pkg() {
	apt-cache search --names-only "$1" | awk '{print $1}' | sort -V | tail -n 1
}

# Unpack a kernel image package (and its module packages) into $KMT_CACHE/kernels/<kver>.
# $1 = kver, rest = .deb files.
unpack_kernel() {
	local kver=$1 dir=$KMT_CACHE/kernels/$1 deb tmp
	shift
	tmp=$(mktemp -d "$KMT_CACHE/unpack.XXXXXX")
	for deb in "$@"; do
		dpkg-deb -x "$deb" "$tmp"
	done
	local vmlinuz
	vmlinuz=$(ls "$tmp/boot/vmlinuz-$kver" "$tmp/usr/lib/modules/$kver/vmlinuz" 2>/dev/null | head -n 1 || true)
	[ -n "$vmlinuz" ] || { log "no vmlinuz for $kver"; exit 1; }
	mkdir -p "$dir/lib"
	"$(dirname "$0")/extract-vmlinux.sh" "$vmlinuz" > "$dir/vmlinux.tmp"
	rm -f "$vmlinuz"
	rm -rf "$dir/lib/modules"
	if [ -d "$tmp/usr/lib/modules/$kver" ]; then
		mv "$tmp/usr/lib/modules" "$dir/lib/modules"
	else
		mv "$tmp/lib/modules" "$dir/lib/modules"
	fi
	depmod -b "$dir" "$kver"
	mv "$dir/vmlinux.tmp" "$dir/vmlinux"
	rm -rf "$tmp"
}

# ---- Debian 12: 6.1 (linux-image-amd64) and the newest 6.12 from bookworm-security ----
bookworm_kernel() {
	local img=$1 hdr=$2 kver=$3
	if ! dpkg-query -W -f='${Status}' "$hdr" 2>/dev/null | grep -q 'ok installed'; then
		apt_update_once
		log "installing $hdr"
		apt-get install -y -qq --no-install-recommends "$hdr" >/dev/null
	fi
	if [ ! -s "$KMT_CACHE/kernels/$kver/vmlinux" ]; then
		apt_update_once
		log "fetching $img"
		(cd "$KMT_CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$img" >/dev/null)
		unpack_kernel "$kver" "$KMT_CACHE"/debs/"${img}"_*.deb
	fi
	mkdir -p "$KMT_CACHE/kernels/$kver"
	ln -sfn "/usr/src/$hdr" "$KMT_CACHE/kernels/$kver/kdir"
	rm -f "$KMT_CACHE/kernels/$kver/chroot"
	echo "$kver"
}

[ -n "$(apt-cache search --names-only '^linux-image-6\.1\.0-.*-amd64$' | head -n 1)" ] || apt_update_once
img61=$(newest_pkg '^linux-image-6\.1\.0-[0-9]+-amd64$')
kver61=${img61#linux-image-}
img612=$(newest_pkg '^linux-image-6\.12\.[0-9]+\+deb12-amd64$')
kver612=${img612#linux-image-}
[ -n "$kver61" ] && [ -n "$kver612" ] || { log "no 6.1/6.12 kernel packages found"; exit 1; }

matrix=$(mktemp)
bookworm_kernel "$img61" "linux-headers-$kver61" "$kver61" >> "$matrix"
bookworm_kernel "$img612" "linux-headers-$kver612" "$kver612" >> "$matrix"

# ---- the newest Debian kernel, from trixie-backports, built in a trixie root ----
TRIXIE=$KMT_CACHE/trixie
MIRROR=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${MIRROR%/debian}/debian-security

in_trixie() {
	chroot "$TRIXIE" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		DEBIAN_FRONTEND=noninteractive "$@"
}

mount_trixie() {
	local m
	for m in proc sys dev; do
		mountpoint -q "$TRIXIE/$m" || mount --bind "/$m" "$TRIXIE/$m"
	done
}

if [ ! -x "$TRIXIE/usr/bin/gcc-14" ] || [ ! -x "$TRIXIE/usr/bin/sparse" ]; then
	if [ ! -e "$TRIXIE/.debootstrap-done" ]; then
		rm -rf "$TRIXIE"
		log "debootstrap trixie from $MIRROR"
		debootstrap --variant=minbase trixie "$TRIXIE" "$MIRROR" >/dev/null
		touch "$TRIXIE/.debootstrap-done"
	fi
	cat > "$TRIXIE/etc/apt/sources.list" <<EOS
deb $MIRROR trixie main
deb $MIRROR trixie-updates main
deb $MIRROR trixie-backports main
deb $SECMIRROR trixie-security main
EOS
	# The chroot never boots: keep initramfs generation out of package installs.
	in_trixie dpkg-divert --local --rename --add /usr/sbin/update-initramfs >/dev/null || true
	ln -sf /bin/true "$TRIXIE/usr/sbin/update-initramfs"
	mount_trixie
	log "installing the trixie toolchain"
	in_trixie apt-get update -qq >/dev/null
	in_trixie apt-get install -y -qq --no-install-recommends make gcc-14 gcc kmod dkms sparse xz-utils zstd >/dev/null
fi
mount_trixie
# Added later (roots made before lack them): openssl for dkms to sign with,
# libc6-dev for `make install` to build the tool there.
missing=""
for p in openssl libc6-dev; do
	in_trixie dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	log "installing in the trixie root:$missing"
	in_trixie apt-get update -qq >/dev/null
	in_trixie apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Newest kernel ABI in trixie-backports: the highest "<ver>+deb13[...]-amd64" headers package.
newest_trixie=$(in_trixie apt-cache search --names-only '^linux-headers-[0-9][0-9.]*\+deb13(u[0-9]+)?-amd64$' |
		awk '{print $1}' | sort -V | tail -n 1)
[ -n "$newest_trixie" ] || { in_trixie apt-get update -qq >/dev/null;
	newest_trixie=$(in_trixie apt-cache search --names-only '^linux-headers-[0-9][0-9.]*\+deb13(u[0-9]+)?-amd64$' |
			awk '{print $1}' | sort -V | tail -n 1); }
kvern=${newest_trixie#linux-headers-}
[ -n "$kvern" ] || { log "no trixie-backports kernel found"; exit 1; }
if [ ! -d "$TRIXIE/usr/src/linux-headers-$kvern" ]; then
	log "installing linux-headers-$kvern in the trixie root"
	in_trixie apt-get install -y -qq --no-install-recommends "linux-headers-$kvern" >/dev/null
fi
if [ ! -s "$KMT_CACHE/kernels/$kvern/vmlinux" ]; then
	log "fetching the $kvern image"
	rm -rf "$TRIXIE/tmp/kdebs" && mkdir -p "$TRIXIE/tmp/kdebs"
	# 7.x splits the image: linux-image-KVER is a meta package over linux-binary-KVER
	# (vmlinuz) and linux-modules-KVER; older kernels ship both in linux-image-KVER.
	pkgs="linux-binary-$kvern linux-modules-$kvern"
	in_trixie apt-cache show "linux-binary-$kvern" >/dev/null 2>&1 || pkgs="linux-image-$kvern"
	in_trixie sh -c "cd /tmp/kdebs && apt-get download -qq $pkgs" >/dev/null
	unpack_kernel "$kvern" "$TRIXIE"/tmp/kdebs/*.deb
	rm -rf "$TRIXIE/tmp/kdebs"
fi
mkdir -p "$KMT_CACHE/kernels/$kvern"
ln -sfn "$TRIXIE/usr/src/linux-headers-$kvern" "$KMT_CACHE/kernels/$kvern/kdir"
echo "$TRIXIE" > "$KMT_CACHE/kernels/$kvern/chroot"
echo "$kvern" >> "$matrix"

# ---- kselftest harness and checkpatch, from Debian's linux-source ----
KSFT=$KMT_CACHE/ksft
if [ ! -f "$KSFT/kselftest_harness.h" ] || [ ! -f "$KSFT/scripts/checkpatch.pl" ]; then
	apt_update_once
	src=$(newest_pkg '^linux-source-6\.1$')
	log "fetching $src for kselftest_harness.h and checkpatch.pl"
	tmp=$(mktemp -d "$KMT_CACHE/src.XXXXXX")
	(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$src" >/dev/null && dpkg-deb -x ./*.deb x)
	tarball=$(ls "$tmp"/x/usr/src/linux-source-*.tar.xz)
	top=$(basename "$tarball" .tar.xz)
	tar -C "$tmp" -xJf "$tarball" --wildcards "$top/tools/testing/selftests/kselftest*.h" \
		"$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" "$top/scripts/const_structs.checkpatch"
	mkdir -p "$KSFT/scripts"
	cp "$tmp/$top"/tools/testing/selftests/kselftest*.h "$KSFT/"
	cp "$tmp/$top"/scripts/checkpatch.pl "$tmp/$top"/scripts/spelling.txt \
	   "$tmp/$top"/scripts/const_structs.checkpatch "$KSFT/scripts/"
	rm -rf "$tmp"
fi

mv "$matrix" "$KMT_CACHE/matrix"
chmod 644 "$KMT_CACHE/matrix"
log "matrix: $(tr '\n' ' ' < "$KMT_CACHE/matrix")"
