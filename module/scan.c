// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune scan: what backs a VM's memslots right now, read from the VM
 * process's page tables with hmm_range_fault() without faulting anything in.
 *
 * The scan works in chunks of KMT_SCAN_CHUNK pages, holding the mmap lock for
 * reading one chunk at a time (the longest hold is reported), and yields
 * between chunks. An mmu_interval_notifier over each slot lets
 * hmm_range_fault() see concurrent invalidations and retry.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hmm.h>
#include <linux/huge_mm.h>
#include <linux/ktime.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/nodemask.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "vm.h"

/* 8 MiB per chunk: bounds the mmap lock hold and the pfn array (16 KiB). */
#define KMT_SCAN_CHUNK	2048
#define KMT_SCAN_RETRIES 16

static bool kmt_scan_invalidate(struct mmu_interval_notifier *mni,
				const struct mmu_notifier_range *range,
				unsigned long cur_seq)
{
	/* Only makes hmm_range_fault() retry; nothing to tear down. */
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops kmt_scan_mni_ops = {
	.invalidate = kmt_scan_invalidate,
};

/*
 * Add what @nr entries of @pfns, starting at host address @start, map to
 * @res and to @ss. A huge mapping is accounted once for all its entries.
 */
static void kmt_scan_account(struct kmt_scan *res, struct kmt_slot_scan *ss,
			     const unsigned long *pfns, unsigned long start,
			     unsigned long nr, bool count_total)
{
	unsigned long i, n;

	for (i = 0; i < nr; i += n) {
		unsigned long e = pfns[i];
		unsigned int order;
		struct page *page;
		u64 bytes;
		bool huge;

		n = 1;
		if (!(e & HMM_PFN_VALID) || (e & HMM_PFN_ERROR))
			continue;
		page = hmm_pfn_to_page(e);
		order = hmm_pfn_to_map_order(e);
		if (order && IS_ALIGNED(start + i * PAGE_SIZE, PAGE_SIZE << order) &&
		    i + (1UL << order) <= nr)
			n = 1UL << order;
		bytes = (u64)n << PAGE_SHIFT;
		if (is_zero_pfn(page_to_pfn(page))) {
			if (count_total)
				res->zero += bytes;
			continue;
		}
		huge = PageHuge(page);
		ss->resident += bytes;
		if (order >= HPAGE_PMD_ORDER && !huge)
			ss->thp += bytes;
		if (!count_total)
			continue;
		res->resident += bytes;
		if (huge)
			res->hugetlb += bytes;
		else if (order >= HPAGE_PMD_ORDER)
			res->thp += bytes;
		res->node[page_to_nid(page)] += bytes;
	}
}

/* Scan one slot's host range. Returns 0 or a negative errno. */
static int kmt_scan_slot(struct mm_struct *mm, struct kmt_scan *res,
			 struct kmt_slot_scan *ss, unsigned long *pfns)
{
	unsigned long start = ss->uaddr, end = ss->uaddr + (ss->npages << PAGE_SHIFT);
	struct mmu_interval_notifier mni;
	struct hmm_range range = {
		.notifier = &mni,
		.hmm_pfns = pfns,
	};
	unsigned long addr;
	int ret, tries;
	u64 t0, hold;

	if (end <= start)
		return 0;
	ret = mmu_interval_notifier_insert(&mni, mm, start, end - start, &kmt_scan_mni_ops);
	if (ret)
		return ret;
	for (addr = start; addr < end; addr = range.end) {
		range.start = addr;
		range.end = min(end, addr + KMT_SCAN_CHUNK * PAGE_SIZE);
		for (tries = 0; ; tries++) {
			range.notifier_seq = mmu_interval_read_begin(&mni);
			mmap_read_lock(mm);
			t0 = ktime_get_ns();
			ret = hmm_range_fault(&range);
			hold = ktime_get_ns() - t0;
			mmap_read_unlock(mm);
			res->lock_max_ns = max(res->lock_max_ns, hold);
			if (ret != -EBUSY || tries == KMT_SCAN_RETRIES)
				break;
		}
		/* A chunk that keeps changing under us is left out, not waited for. */
		if (!ret)
			kmt_scan_account(res, ss, pfns, range.start,
					 (range.end - range.start) >> PAGE_SHIFT, ss->as_id == 0);
		else
			res->chunks_skipped++;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = 0;
		cond_resched();
	}
	mmu_interval_notifier_remove(&mni);
	return ret;
}

/**
 * kmt_scan_vm() - scan the memory behind every memslot of @vm
 * @vm: the VM
 *
 * Replaces @vm's last scan result. Concurrent scans of one VM wait for each
 * other.
 *
 * Context: process context; sleeps. Takes @vm->scan_lock, briefly @vm->lock,
 * and the VM process's mmap lock for reading one chunk at a time.
 * Return: 0, -ENODEV when the VM or its process is going away, -EINTR,
 * -ENOMEM.
 */
int kmt_scan_vm(struct kmt_vm *vm)
{
	struct kmt_scan *res, *old;
	struct kmt_slots *snap;
	struct mm_struct *mm;
	unsigned long *pfns;
	unsigned int i, nr;
	u64 t0 = ktime_get_ns();
	int ret = 0;

	if (mutex_lock_interruptible(&vm->scan_lock))
		return -EINTR;

	snap = kmt_vm_slots_begin(vm);
	nr = snap ? snap->nr : 0;
	res = kvzalloc(struct_size(res, slot, nr) + nr_node_ids * sizeof(u64), GFP_KERNEL);
	if (res) {
		res->nr_slots = nr;
		res->node = (u64 *)&res->slot[nr];
		for (i = 0; i < nr; i++) {
			res->slot[i].as_id = snap->slot[i].as_id;
			res->slot[i].id = snap->slot[i].id;
			res->slot[i].uaddr = snap->slot[i].uaddr;
			res->slot[i].npages = snap->slot[i].npages;
			res->slot[i].base_gfn = snap->slot[i].base_gfn;
		}
	}
	kmt_vm_slots_end(vm);
	pfns = kvmalloc_array(KMT_SCAN_CHUNK, sizeof(*pfns), GFP_KERNEL);
	if (!res || !pfns) {
		ret = -ENOMEM;
		goto out;
	}

	/* The address space, not the VM, is what the scan needs alive. */
	if (!kmt_vm_get_kvm(vm)) {
		ret = -ENODEV;
		goto out;
	}
	mm = vm->kvm->mm;
	if (!mmget_not_zero(mm))
		mm = NULL;
	kmt_vm_put_kvm(vm);
	if (!mm) {
		ret = -ENODEV;
		goto out;
	}
	for (i = 0; i < nr && !ret; i++)
		ret = kmt_scan_slot(mm, res, &res->slot[i], pfns);
	mmput(mm);
	if (ret)
		goto out;

	res->when_ns = ktime_get_boottime_ns();
	res->duration_ns = ktime_get_ns() - t0;
	mutex_lock(&vm->lock);
	old = vm->scan;
	vm->scan = res;
	mutex_unlock(&vm->lock);
	res = old;
out:
	kvfree(pfns);
	kvfree(res);
	mutex_unlock(&vm->scan_lock);
	return ret;
}
