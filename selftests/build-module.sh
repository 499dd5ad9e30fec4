#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh KVER [make args...]: build kvmmemtune.ko for one matrix kernel
# in its own build directory ($KMT_CACHE/build/KVER, or inside the kernel's
# chroot), and print the path of the built module. Parallel builds for
# different kernels never share a directory (fixdep breaks if they do).
set -euo pipefail
KMT_CACHE=${KMT_CACHE:-/var/cache/kvmmemtune}
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$1
shift
kdir=$KMT_CACHE/kernels/$kver/kdir
chroot_dir=$(cat "$KMT_CACHE/kernels/$kver/chroot" 2>/dev/null || true)

# KMT_WORKDIR gives concurrent runs (another work tree) their own build dirs.
if [ -n "$chroot_dir" ]; then
	tag=$(printf '%s' "${KMT_WORKDIR:-default}" | md5sum | cut -c1-8)
	inner=/kmt-build/$tag/$kver
	bdir=$chroot_dir$inner
else
	inner=${KMT_WORKDIR:-$KMT_CACHE}/build/$kver
	bdir=$inner
fi
mkdir -p "$bdir"
# Copy the sources (only what Kbuild needs); keep objects for incremental builds.
rm -rf "$bdir/module" "$bdir/include"
cp -r "$top/module" "$top/include" "$top/Kbuild" "$bdir/"
rm -f "$bdir"/module/*.o "$bdir"/module/.*.cmd 2>/dev/null || true

if [ -n "$chroot_dir" ]; then
	for m in proc sys dev; do
		mountpoint -q "$chroot_dir/$m" || mount --bind "/$m" "$chroot_dir/$m"
	done
	chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		make -C "/usr/src/linux-headers-$kver" M="$inner" "$@" modules >&2
else
	make -C "$kdir" M="$inner" "$@" modules >&2
fi
echo "$bdir/kvmmemtune.ko"
