// SPDX-License-Identifier: GPL-2.0
/*
 * demo_vm: a small real VM for `make demo`. Two memslots (64 MiB at 0 and
 * 16 MiB at 4 GiB, 2 MiB-aligned), 16 MiB of the first written with 4 KiB
 * pages as a booting guest would leave it, one vCPU that fills 64 KiB of its
 * memory, then halts. Prints "ready" and keeps the VM alive until its stdin
 * closes or it is killed. Arguments are ignored: demo.sh gives it QEMU's
 * "-name guest=NAME" so that the tool shows a name.
 */
#include "kmt_test.h"

int main(int argc, char **argv)
{
	/* mov $0x2000,%ax; mov %ax,%es; xor %di,%di; mov $0xffff,%cx;
	 * mov $0xaa,%al; rep stosb; hlt
	 */
	static const uint8_t code[] = { 0xb8, 0x00, 0x20, 0x8e, 0xc0, 0x31, 0xff, 0xb9, 0xff,
					0xff, 0xb0, 0xaa, 0xf3, 0xaa, 0xf4 };
	const size_t low = 64 << 20, high = 16 << 20, huge = 2 << 20;
	struct kmt_vcpu v;
	uint8_t *mem, *mem2;
	int kvm, vm, r;
	size_t i;
	char c;

	(void)argc;
	(void)argv;
	kvm = kmt_kvm_fd();
	if (kvm < 0) {
		perror("demo_vm: /dev/kvm");
		return 1;
	}
	vm = kmt_vm_create(kvm);
	mem = kmt_guest_mem(low + huge);
	mem2 = kmt_guest_mem(high + huge);
	if (vm < 0 || !mem || !mem2) {
		perror("demo_vm: VM setup");
		return 1;
	}
	mem = (uint8_t *)(((uintptr_t)mem + huge - 1) & ~(uintptr_t)(huge - 1));
	mem2 = (uint8_t *)(((uintptr_t)mem2 + huge - 1) & ~(uintptr_t)(huge - 1));
	for (i = 0; i < (16 << 20); i += 4096)
		mem[i] = 1;
	memcpy(mem + 0x1000, code, sizeof(code));
	if (kmt_set_slot(vm, 0, 0, 0, low, mem) || kmt_set_slot(vm, 1, 0, 1ULL << 32, high, mem2) ||
	    kmt_vcpu_create(kvm, vm, 0x1000, &v)) {
		perror("demo_vm: memslots/vCPU");
		return 1;
	}
	r = kmt_vcpu_run(&v);
	printf("demo_vm: vCPU exit %d (%s), wrote 0x%02x at guest 0x20000\n", r,
	       r == KVM_EXIT_HLT ? "HLT" : "unexpected", mem[0x20000]);
	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
