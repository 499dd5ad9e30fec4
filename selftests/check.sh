#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh: build the module with W=1 and sparse (C=2) for every matrix kernel
# and run checkpatch --strict on the module sources; fail on any report.
set -uo pipefail
KMT_CACHE=${KMT_CACHE:-/var/cache/kvmmemtune}
export KMT_CACHE
top=$(cd "$(dirname "$0")/.." && pwd)
[ -n "${KMT_SKIP_DEPS:-}" ] || "$top/selftests/deps.sh" || exit 1
bad=0
for kver in $(cat "$KMT_CACHE/matrix"); do
	log=$(mktemp)
	if ! "$top/selftests/build-module.sh" "$kver" W=1 C=2 > /dev/null 2> "$log"; then
		echo "check: $kver: build failed"
		bad=1
	fi
	# Kernels newer than Debian's sparse (0.6.4 cannot parse __typeof_unqual__,
	# used since 6.15): kbuild itself declines C=2 there. Say so, and go on
	# with W=1 alone.
	clean="W=1 and sparse clean"
	if grep -q 'specified, but .* is not available or not up to date' "$log"; then
		clean="W=1 clean; sparse skipped: kbuild finds Debian's sparse too old for this kernel"
	fi
	# Anything but kbuild's own progress lines is a finding.
	if grep -vE '^  [A-Z]+ |^make(\[[0-9]+\])?: |^Skipping BTF generation|^.*Makefile:[0-9]+: C=2 specified, but' "$log"; then
		echo "check: $kver: warnings above"
		bad=1
	else
		echo "check: $kver: $clean"
	fi
	rm -f "$log"
done
cp=$KMT_CACHE/ksft/scripts/checkpatch.pl
# Exceptions, each where the kernel's own code makes the same one: tracepoint
# definitions have their own layout; compat.h exists to test kernel versions.
cpcheck() { perl "$cp" --strict --no-tree --quiet --show-types -f "$@"; }
if ! { cpcheck $(ls "$top"/module/*.[ch] "$top"/include/*.h | grep -vE '/(trace|compat)\.h$') &&
       cpcheck --ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT "$top/module/trace.h" &&
       cpcheck --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON "$top/module/compat.h"; }; then
	echo "check: checkpatch --strict reports above"
	bad=1
else
	echo "check: checkpatch --strict clean"
fi
exit $bad
