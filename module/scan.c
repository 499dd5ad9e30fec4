// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune scan: what backs a VM's memslots right now, read from the VM
 * process's page tables without faulting anything in.
 *
 * hmm_range_fault() fills one entry per 4K page, also under a PMD mapping
 * (512 for a 2 MiB THP), where smaps steps over the PMD. So the scan first
 * reads the PMD of every 2 MiB block that lies wholly inside one VMA of the
 * kind hmm_range_fault() would walk, as KVM's host_pfn_mapping_level() does:
 * a block with no page table or an empty PMD holds nothing, a THP PMD is
 * accounted at once, and everything else (4K pages, migration entries,
 * hugetlb, the edges of a VMA or slot) is left to hmm_range_fault(), one call
 * per run of such blocks. The PMD reads happen under the same mmap lock hold
 * as the hmm_range_fault() calls; the mmap lock keeps the page-table pages
 * down to the PMD level in place, and a PMD read once with READ_ONCE() is as
 * good a snapshot as the one hmm_range_fault() takes itself.
 *
 * The scan holds the mmap lock for reading for at most KMT_SCAN_CHUNK pages
 * walked by hmm_range_fault() and at most KMT_SCAN_SPAN of address space at
 * a time (the longest hold is reported), and yields between holds. An
 * mmu_interval_notifier over each slot lets hmm_range_fault() see concurrent
 * invalidations and retry.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hmm.h>
#include <linux/huge_mm.h>
#include <linux/hugetlb.h>
#include <linux/ktime.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/nodemask.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "vm.h"

/* Pages hmm_range_fault() walks per mmap lock hold (8 MiB); pfn array: 16 KiB. */
#define KMT_SCAN_CHUNK	2048
/* Address space per mmap lock hold: at most 128 PMD reads besides the walk. */
#define KMT_SCAN_SPAN	(256UL << 20)
#define KMT_SCAN_RETRIES 16

/**
 * struct kmt_scan_ctx - one slot's scan in progress
 * @mm:		the VM process's address space
 * @res:	the scan result being built
 * @ss:		the slot's entry in @res
 * @pfns:	KMT_SCAN_CHUNK entries for hmm_range_fault()
 * @range:	the hmm_range_fault() request; its notifier_seq is the current
 *		mmap lock hold's
 * @vma:	VMA of the last PMD looked at, valid during one mmap lock hold
 * @count_total: add to @res's totals too (address space 0), not only to @ss
 */
struct kmt_scan_ctx {
	struct mm_struct *mm;
	struct kmt_scan *res;
	struct kmt_slot_scan *ss;
	unsigned long *pfns;
	struct hmm_range range;
	struct vm_area_struct *vma;
	bool count_total;
};

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
 * Account @nr pages from @pfn, mapped at @order (> 0). Neither a PMD read
 * here nor hmm_range_fault() makes sure a huge mapping's pfn has a struct
 * page (device memory in a VM_MIXEDMAP VMA need not): one without is no
 * memory of the VM's and is left out.
 */
static void kmt_scan_add_huge(struct kmt_scan_ctx *c, unsigned long pfn,
			      unsigned int order, unsigned long nr)
{
	struct kmt_scan *res = c->res;
	u64 bytes = (u64)nr << PAGE_SHIFT;
	bool hugetlb;

	if (!pfn_valid(pfn))
		return;
	hugetlb = PageHuge(pfn_to_page(pfn));

	c->ss->resident += bytes;
	if (order >= HPAGE_PMD_ORDER && !hugetlb)
		c->ss->thp += bytes;
	if (!c->count_total)
		return;
	res->resident += bytes;
	if (hugetlb)
		res->hugetlb += bytes;
	else if (order >= HPAGE_PMD_ORDER)
		res->thp += bytes;
	res->node[pfn_to_nid(pfn)] += bytes;
}

/*
 * An entry for a 4K page has HMM_PFN_VALID, maybe HMM_PFN_WRITE, and no
 * other flag (no error, map order 0): without those two it is a bare pfn.
 */
static inline unsigned long kmt_hmm_4k_bits(unsigned long e)
{
	return (e & ~HMM_PFN_WRITE) ^ HMM_PFN_VALID;
}

#define KMT_HMM_IS_4K(bits)	((bits) < (1UL << HMM_PFN_ORDER_SHIFT))

/*
 * Add what the @nr entries of c->pfns from host address @start map. 4K
 * pages, the common case, are counted per run of one node in a tight loop;
 * a huge mapping is accounted once for all its entries.
 */
static void kmt_scan_account(struct kmt_scan_ctx *c, unsigned long start,
			     unsigned long nr)
{
	const unsigned long *pfns = c->pfns, *p, *end = pfns + nr;
	unsigned long i = 0, pages = 0, zero = 0, run = 0, run_nid = 0;

	while (i < nr) {
		unsigned long e, pfn, nid, n = 1;
		unsigned int order;

		/* 4K pages of the run's node: not hugetlb, not the zero page. */
		for (p = pfns + i; p < end; p++) {
			pfn = kmt_hmm_4k_bits(*p);
			if (!KMT_HMM_IS_4K(pfn) || is_zero_pfn(pfn) || pfn_to_nid(pfn) != run_nid)
				break;
		}
		run += p - (pfns + i);
		i = p - pfns;
		if (i == nr)
			break;

		e = pfns[i];
		pfn = e & ~HMM_PFN_FLAGS;
		if (!(e & HMM_PFN_VALID) || (e & HMM_PFN_ERROR))
			goto next;
		order = hmm_pfn_to_map_order(e);
		if (order) {
			if (IS_ALIGNED(start + i * PAGE_SIZE, PAGE_SIZE << order) &&
			    i + (1UL << order) <= nr)
				n = 1UL << order;
			kmt_scan_add_huge(c, pfn, order, n);
			goto next;
		}
		if (is_zero_pfn(pfn)) {
			zero++;
			goto next;
		}
		/* A 4K page on another node: a new run. */
		nid = pfn_to_nid(pfn);
		if (!KMT_HMM_IS_4K(kmt_hmm_4k_bits(e))) {
			/* Order 0 with flags of newer kernels (P2PDMA). */
			pages++;
			if (c->count_total)
				c->res->node[nid] += PAGE_SIZE;
			goto next;
		}
		pages += run;
		if (run && c->count_total)
			c->res->node[run_nid] += (u64)run << PAGE_SHIFT;
		run_nid = nid;
		run = 1;
next:
		i += n;
	}
	pages += run;
	c->ss->resident += (u64)pages << PAGE_SHIFT;
	if (!c->count_total)
		return;
	if (run)
		c->res->node[run_nid] += (u64)run << PAGE_SHIFT;
	c->res->resident += (u64)pages << PAGE_SHIFT;
	c->res->zero += (u64)zero << PAGE_SHIFT;
}

/* hmm_range_fault() over [@start, @end), accounted. Returns 0 or -errno. */
static int kmt_scan_walk(struct kmt_scan_ctx *c, unsigned long start,
			 unsigned long end)
{
	int ret;

	if (start == end)
		return 0;
	c->range.start = start;
	c->range.end = end;
	ret = hmm_range_fault(&c->range);
	if (!ret)
		kmt_scan_account(c, start, (end - start) >> PAGE_SHIFT);
	return ret;
}

enum kmt_pmd_kind {
	KMT_PMD_WALK,	/* leave to hmm_range_fault() */
	KMT_PMD_EMPTY,	/* nothing mapped that hmm_range_fault() would report */
	KMT_PMD_THP,	/* a transparent huge page */
};

/*
 * What backs the 2 MiB block at @addr, from its PMD. The caller holds the
 * mmap lock and has checked that the block lies in a VMA that
 * kmt_scan_vma_direct() accepts.
 */
static enum kmt_pmd_kind kmt_scan_read_pmd(struct mm_struct *mm, unsigned long addr,
					   unsigned long *pfn)
{
	pgd_t pgd;
	p4d_t p4d;
	pud_t pud;
	pmd_t pmd;

	/* Local copies, as in KVM: a folded level's offset points into them. */
	pgd = READ_ONCE(*pgd_offset(mm, addr));
	if (pgd_none(pgd))
		return KMT_PMD_EMPTY;
	if (pgd_bad(pgd))
		return KMT_PMD_WALK;
	p4d = READ_ONCE(*p4d_offset(&pgd, addr));
	if (p4d_none(p4d))
		return KMT_PMD_EMPTY;
	if (p4d_bad(p4d))
		return KMT_PMD_WALK;
	pud = READ_ONCE(*pud_offset(&p4d, addr));
	if (pud_none(pud))
		return KMT_PMD_EMPTY;
	if (!pud_present(pud) || pud_leaf(pud) || pud_bad(pud))
		return KMT_PMD_WALK;
	pmd = READ_ONCE(*pmd_offset(&pud, addr));
	if (pmd_none(pmd))
		return KMT_PMD_EMPTY;
	/* Migration entries and PTE tables go to hmm_range_fault(). */
	if (!pmd_present(pmd) || !pmd_trans_huge(pmd))
		return KMT_PMD_WALK;
	/* As hmm_range_fault(): a NUMA hinting PMD is not reported. */
	if (pmd_protnone(pmd))
		return KMT_PMD_EMPTY;
	*pfn = pmd_pfn(pmd);
	return KMT_PMD_THP;
}

/*
 * Whether a VMA's PMDs may be read directly: one that hmm_range_fault() walks
 * (readable, not VM_IO/VM_PFNMAP) and not hugetlb, which it walks its own way.
 */
static bool kmt_scan_vma_direct(struct vm_area_struct *vma)
{
	return (vma->vm_flags & VM_READ) && !(vma->vm_flags & (VM_IO | VM_PFNMAP)) &&
	       !is_vm_hugetlb_page(vma);
}

/*
 * Scan from @start towards @end within one mmap lock hold: PMD by PMD, with
 * runs of blocks that need a walk handed to hmm_range_fault(). Stops after
 * KMT_SCAN_CHUNK walked pages or KMT_SCAN_SPAN of address space; *@stop is
 * where to go on (on -EBUSY, the start of the run that changed under us).
 * Returns 0 or hmm_range_fault()'s error.
 */
static int kmt_scan_locked(struct kmt_scan_ctx *c, unsigned long start,
			   unsigned long end, unsigned long *stop)
{
	unsigned long addr = start, walk = start, budget = KMT_SCAN_CHUNK;
	unsigned long next, pfn;
	enum kmt_pmd_kind kind;
	int ret;

	end = min(end, ALIGN_DOWN(start, PMD_SIZE) + KMT_SCAN_SPAN);
	c->vma = NULL;
	while (addr < end) {
		next = pmd_addr_end(addr, end);
		kind = KMT_PMD_WALK;
		if (next - addr == PMD_SIZE) {
			if (!c->vma || addr >= c->vma->vm_end)
				c->vma = find_vma(c->mm, addr);
			if (c->vma && c->vma->vm_start <= addr && next <= c->vma->vm_end &&
			    kmt_scan_vma_direct(c->vma))
				kind = kmt_scan_read_pmd(c->mm, addr, &pfn);
		}
		if (kind == KMT_PMD_WALK) {
			if ((next - walk) >> PAGE_SHIFT > budget)
				break;
			addr = next;
			continue;
		}
		ret = kmt_scan_walk(c, walk, addr);
		if (ret) {
			*stop = walk;
			return ret;
		}
		budget -= (addr - walk) >> PAGE_SHIFT;
		if (kind == KMT_PMD_THP)
			kmt_scan_add_huge(c, pfn, HPAGE_PMD_ORDER, HPAGE_PMD_NR);
		addr = next;
		walk = next;
	}
	ret = kmt_scan_walk(c, walk, addr);
	*stop = ret ? walk : addr;
	return ret;
}

/* Scan one slot's host range. Returns 0 or a negative errno. */
static int kmt_scan_slot(struct mm_struct *mm, struct kmt_scan *res,
			 struct kmt_slot_scan *ss, unsigned long *pfns)
{
	unsigned long start = ss->uaddr, end = ss->uaddr + (ss->npages << PAGE_SHIFT);
	struct mmu_interval_notifier mni;
	struct kmt_scan_ctx c = {
		.mm = mm,
		.res = res,
		.ss = ss,
		.pfns = pfns,
		.range = {
			.notifier = &mni,
			.hmm_pfns = pfns,
		},
		.count_total = ss->as_id == 0,
	};
	unsigned long addr, stop;
	int ret, tries = 0;
	u64 t0, hold;

	if (end <= start)
		return 0;
	ret = mmu_interval_notifier_insert(&mni, mm, start, end - start, &kmt_scan_mni_ops);
	if (ret)
		return ret;
	addr = start;
	while (addr < end) {
		c.range.notifier_seq = mmu_interval_read_begin(&mni);
		mmap_read_lock(mm);
		t0 = ktime_get_ns();
		ret = kmt_scan_locked(&c, addr, end, &stop);
		hold = ktime_get_ns() - t0;
		mmap_read_unlock(mm);
		res->lock_max_ns = max(res->lock_max_ns, hold);
		if (stop > addr)
			tries = 0;
		addr = stop;
		if (ret == -EBUSY && ++tries <= KMT_SCAN_RETRIES)
			ret = 0;
		/* A run that keeps changing under us is left out, not waited for. */
		if (ret) {
			res->chunks_skipped++;
			addr = min(end, addr + KMT_SCAN_CHUNK * PAGE_SIZE);
			tries = 0;
		}
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
	pfns = kvcalloc(KMT_SCAN_CHUNK, sizeof(*pfns), GFP_KERNEL);
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
