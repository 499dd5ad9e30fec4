// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune mmu_watch: which host activity unmapped, moved or aged a VM's
 * memory.
 *
 * One mmu_notifier per VM process mm (mmu_notifier_get_locked() shares it
 * between the VMs of one process). Every invalidation that overlaps a
 * memslot's host range is charged, in bytes, to a cause read from the
 * context (kmt_current_cause()). The callbacks never sleep, never allocate,
 * find slots with an O(log n) search in an RCU-protected snapshot, count in
 * per-CPU counters, and never change what the caller decides: they return
 * "nothing to do" and "not young".
 *
 * Lifetime: struct kmt_mm_watch is allocated by mmu_notifier_get_locked()
 * through alloc_notifier and freed by free_notifier after the last
 * mmu_notifier_put() and an SRCU grace period; the VM list is changed only
 * on kmt_wq (and at unload) under kmt_mm_watch.lock, and read under RCU.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/percpu.h>
#include <linux/rculist.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "vm.h"

/**
 * struct kmt_mm_watch - the notifier on one VM process's mm
 * @mn:		the subscription
 * @lock:	serialises changes of @vms
 * @vms:	the VMs of this mm being watched (kmt_vm.watch_node)
 */
struct kmt_mm_watch {
	struct mmu_notifier mn;
	spinlock_t lock;	/* see @lock above */
	struct list_head vms;
};

/* Charge @bytes of every watched VM overlapping [start, end) to @cause. */
static void kmt_watch_charge(struct mmu_notifier *mn, unsigned long start, unsigned long end,
			     int cause)
{
	struct kmt_mm_watch *w = container_of(mn, struct kmt_mm_watch, mn);
	struct kmt_vm *vm;

	rcu_read_lock();
	list_for_each_entry_rcu(vm, &w->vms, watch_node) {
		u64 bytes = kmt_slots_overlap(rcu_dereference(vm->slots), start, end);

		if (!bytes)
			continue;
		if (cause < 0)
			this_cpu_inc(vm->pcpu->aging_checks);
		else
			this_cpu_add(vm->pcpu->bytes[cause], bytes);
	}
	rcu_read_unlock();
}

static int kmt_mn_invalidate_range_start(struct mmu_notifier *mn,
					 const struct mmu_notifier_range *range)
{
	enum kmt_cause cause;

	switch (range->event) {
	case MMU_NOTIFY_UNMAP:
		cause = KMT_CAUSE_UNMAP;
		break;
	case MMU_NOTIFY_PROTECTION_VMA:
		/* NUMA balancing's hinting faults; also mprotect() of guest RAM. */
		cause = KMT_CAUSE_NUMA_HINT;
		break;
	default:
		cause = kmt_current_cause();
		break;
	}
	kmt_watch_charge(mn, range->start, range->end, cause);
	return 0;
}

static kmt_young_t kmt_mn_clear_flush_young(struct mmu_notifier *mn, struct mm_struct *mm,
					    unsigned long start, unsigned long end)
{
	kmt_watch_charge(mn, start, end, -1);
	return 0;	/* KVM's own notifier answers for the guest's view. */
}

static kmt_young_t kmt_mn_clear_young(struct mmu_notifier *mn, struct mm_struct *mm,
				      unsigned long start, unsigned long end)
{
	kmt_watch_charge(mn, start, end, -1);
	return 0;
}

static void kmt_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	/* The process is exiting; its VMs go away through the KVM hooks. */
}

static struct mmu_notifier *kmt_mn_alloc(struct mm_struct *mm)
{
	struct kmt_mm_watch *w = kzalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&w->lock);
	INIT_LIST_HEAD(&w->vms);
	return &w->mn;
}

/* Runs from an SRCU callback after the last mmu_notifier_put(). */
static void kmt_mn_free(struct mmu_notifier *mn)
{
	kfree(container_of(mn, struct kmt_mm_watch, mn));
}

static const struct mmu_notifier_ops kmt_mn_ops = {
	.release = kmt_mn_release,
	.invalidate_range_start = kmt_mn_invalidate_range_start,
	.clear_flush_young = kmt_mn_clear_flush_young,
	.clear_young = kmt_mn_clear_young,
	.alloc_notifier = kmt_mn_alloc,
	.free_notifier = kmt_mn_free,
};

/**
 * kmt_watch_vm() - start charging invalidations of @vm's memory
 * @vm: a VM just registered, with its per-CPU counters allocated
 *
 * Without a live process address space (the process is exiting) the VM
 * stays unwatched.
 *
 * Context: process context, on kmt_wq; takes the mm's mmap lock for writing.
 */
void kmt_watch_vm(struct kmt_vm *vm)
{
	struct mmu_notifier *mn;
	struct kmt_mm_watch *w;
	struct mm_struct *mm;

	if (!vm->pcpu || !kmt_vm_get_kvm(vm))
		return;
	mm = vm->kvm->mm;
	if (!mmget_not_zero(mm))
		mm = NULL;
	kmt_vm_put_kvm(vm);
	if (!mm)
		return;
	mmap_write_lock(mm);
	mn = mmu_notifier_get_locked(&kmt_mn_ops, mm);
	mmap_write_unlock(mm);
	mmput(mm);
	if (IS_ERR(mn)) {
		pr_warn_ratelimited("vms/%d-%llu: no reclaim attribution: %ld\n", vm->pid, vm->seq,
				    PTR_ERR(mn));
		return;
	}
	w = container_of(mn, struct kmt_mm_watch, mn);
	spin_lock(&w->lock);
	list_add_rcu(&vm->watch_node, &w->vms);
	spin_unlock(&w->lock);
	vm->watch = w;
}

/**
 * kmt_unwatch_vm() - stop charging invalidations of @vm's memory
 * @vm: a VM being removed
 *
 * The notifier may still be running on @vm under RCU: the caller frees @vm
 * only after a grace period.
 *
 * Context: process context (kmt_wq or unload).
 */
void kmt_unwatch_vm(struct kmt_vm *vm)
{
	struct kmt_mm_watch *w = vm->watch;

	if (!w)
		return;
	spin_lock(&w->lock);
	list_del_rcu(&vm->watch_node);
	spin_unlock(&w->lock);
	vm->watch = NULL;
	mmu_notifier_put(&w->mn);
}

/**
 * kmt_watch_exit() - wait until every notifier of ours is freed
 *
 * Context: module exit, after kmt_unwatch_vm() of every VM.
 */
void kmt_watch_exit(void)
{
	mmu_notifier_synchronize();
}

/**
 * kmt_vm_reclaim_sum() - @vm's attribution counters summed over CPUs
 * @vm: the VM
 * @sum: filled in
 *
 * Context: any.
 */
void kmt_vm_reclaim_sum(struct kmt_vm *vm, struct kmt_vm_pcpu *sum)
{
	int cpu, i;

	memset(sum, 0, sizeof(*sum));
	if (!vm->pcpu)
		return;
	for_each_possible_cpu(cpu) {
		const struct kmt_vm_pcpu *p = per_cpu_ptr(vm->pcpu, cpu);

		for (i = 0; i < KMT_NR_CAUSES; i++)
			sum->bytes[i] += READ_ONCE(p->bytes[i]);
		sum->aging_checks += READ_ONCE(p->aging_checks);
		sum->aging_young += READ_ONCE(p->aging_young);
	}
}
