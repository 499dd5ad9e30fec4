#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest for `make demo`: a live VM and what kvmmemtune shows of it.
echo "KMT-DEMO-BEGIN"
mkfifo /tmp/demo.in
# A QEMU-like command line, so that the tool finds the VM's name.
/tests/demo_vm -name guest=demo-1,debug-threads=on < /tmp/demo.in > /tmp/demo.out &
exec 3> /tmp/demo.in
while ! grep -q ready /tmp/demo.out 2>/dev/null; do sleep 0.1; done
grep -v ready /tmp/demo.out
PATH=/tests:$PATH

run() {
	echo
	echo "\$ $*"
	"$@"
}

run kvmmemtune list
run kvmmemtune scan demo-1
run kvmmemtune show demo-1
run kvmmemtune host
# Piped: the progress line is for terminals, and the console is one.
echo
echo "\$ kvmmemtune collapse demo-1"
kvmmemtune collapse demo-1 2>&1 | cat
run kvmmemtune list
run kvmmemtune set thp never demo-1
run kvmmemtune set thp sometimes demo-1
run kvmmemtune set thp inherit demo-1
echo
echo "\$ kvmmemtune export | grep -E 'guest_bytes|scan_thp|node_resident'"
kvmmemtune export | grep -E 'guest_bytes|scan_thp|node_resident'
exec 3>&-
wait
echo
echo "\$ ls /sys/kernel/kvmmemtune/vms   # after the VM exited"
ls /sys/kernel/kvmmemtune/vms
echo "KMT-DEMO-END"
