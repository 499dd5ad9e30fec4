#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest for `make demo`: a live VM and what kvmmemtune shows of it.
echo "KMT-DEMO-BEGIN"
mkfifo /tmp/demo.in
/tests/demo_vm < /tmp/demo.in > /tmp/demo.out &
exec 3> /tmp/demo.in
while ! grep -q ready /tmp/demo.out 2>/dev/null; do sleep 0.1; done
cat /tmp/demo.out | grep -v ready
vm=$(ls /sys/kernel/kvmmemtune/vms | head -n 1)
echo
echo "\$ kvmmemtune list"
/tests/kvmmemtune list
for f in pid comm memslots stat; do
	echo
	echo "\$ cat /sys/kernel/kvmmemtune/vms/$vm/$f"
	cat "/sys/kernel/kvmmemtune/vms/$vm/$f"
done
exec 3>&-
wait
echo
echo "\$ ls /sys/kernel/kvmmemtune/vms   # after the VM exited"
ls /sys/kernel/kvmmemtune/vms
echo "KMT-DEMO-END"
