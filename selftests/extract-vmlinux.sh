#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the ELF vmlinux inside a bzImage on stdout. QEMU boots the ELF directly
# through its PVH note, which skips the decompressor (seconds under emulation).
set -euo pipefail
img=$1
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

try() {	# $1 = magic as a PCRE, $2 = decompressor
	local off
	for off in $(LC_ALL=C grep -aboP "$1" "$img" | cut -d: -f1); do
		tail -c +$((off + 1)) "$img" | $2 > "$tmp" 2>/dev/null || true
		if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
			cat "$tmp"
			return 0
		fi
	done
	return 1
}

try '\xFD7zXZ\x00' 'xz -dc' || try '\x28\xB5\x2F\xFD' 'zstd -dc' || try '\x1F\x8B\x08' 'gzip -dc' || {
	echo "extract-vmlinux: no compressed ELF found in $img" >&2
	exit 1
}
