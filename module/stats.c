// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune always-current per-VM counters: the VM process's mm counters,
 * KSM, and KVM's own mapping sizes. Each is one load, or a sum over CPUs;
 * nothing is walked.
 */
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/mm_types.h>

#include "compat.h"
#include "vm.h"

/**
 * kmt_vm_counters() - read the O(1) counters of @vm
 * @vm: the VM
 * @c: filled in; @c->valid is false when the VM is going away
 *
 * The mm counters are those of the VM process: every VM of one process
 * shows the same values.
 *
 * Context: process context (dropping the VM reference may destroy the VM).
 */
void kmt_vm_counters(struct kmt_vm *vm, struct kmt_counters *c)
{
	struct kvm *kvm = vm->kvm;
	struct mm_struct *mm;

	memset(c, 0, sizeof(*c));
	if (!kmt_vm_get_kvm(vm))
		return;
	/* KVM holds mmgrab() on its mm: the counters stay readable. */
	mm = kvm->mm;
	c->rss_anon = kmt_mm_counter(mm, MM_ANONPAGES) << PAGE_SHIFT;
	c->rss_file = kmt_mm_counter(mm, MM_FILEPAGES) << PAGE_SHIFT;
	c->rss_shmem = kmt_mm_counter(mm, MM_SHMEMPAGES) << PAGE_SHIFT;
	c->swap = kmt_mm_counter(mm, MM_SWAPENTS) << PAGE_SHIFT;
#ifdef CONFIG_KSM
	c->ksm_merging = READ_ONCE(mm->ksm_merging_pages);
#endif
	c->map[0] = atomic64_read(&kvm->stat.pages_4k);
	c->map[1] = atomic64_read(&kvm->stat.pages_2m);
	c->map[2] = atomic64_read(&kvm->stat.pages_1g);
	c->nx_lpage_splits = READ_ONCE(kvm->stat.nx_lpage_splits);
	c->valid = true;
	kmt_vm_put_kvm(vm);
}
