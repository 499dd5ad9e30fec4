// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune memslot mirror: snapshots of a VM's memslots and their text form.
 */
#include <linux/kvm_host.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "compat.h"
#include "vm.h"

static int kmt_slot_cmp(const void *a, const void *b)
{
	const struct kmt_slot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

static int kmt_hva_cmp(const void *a, const void *b)
{
	const struct kmt_hva_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/**
 * kmt_slots_overlap() - bytes of [@start, @end) inside address-space-0 slots
 * @snap: a snapshot, may be NULL
 * @start: first host virtual address
 * @end: end of the range (exclusive)
 *
 * O(log slots). Slots whose host ranges overlap each other (two guest
 * ranges backed by the same memory) are counted once each.
 *
 * Context: any; the caller keeps @snap alive (RCU or kmt_vm.lock).
 */
u64 kmt_slots_overlap(const struct kmt_slots *snap, unsigned long start, unsigned long end)
{
	unsigned int lo = 0, hi, i;
	u64 bytes = 0;

	if (!snap)
		return 0;
	/* First range that starts at or after @start, then step back one. */
	hi = snap->nr_hva;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (snap->hva[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo ? lo - 1 : 0;
	for (; i < snap->nr_hva && snap->hva[i].start < end; i++) {
		unsigned long s = max(start, snap->hva[i].start);
		unsigned long e = min(end, snap->hva[i].end);

		if (e > s)
			bytes += e - s;
	}
	return bytes;
}

/**
 * kmt_slots_read() - snapshot the memslots of @kvm
 * @kvm: the VM; the caller holds a reference on it
 * @gfp: allocation flags for the snapshot
 *
 * Context: process context; takes @kvm->srcu for reading and may sleep when
 * @gfp allows it. Safe against concurrent memslot changes: KVM keeps a
 * memslot set alive until every SRCU reader that saw it has left.
 * Return: the snapshot, to be freed with kvfree(), or NULL on no memory.
 */
struct kmt_slots *kmt_slots_read(struct kvm *kvm, gfp_t gfp)
{
	struct kvm_memslots *set[KMT_MAX_AS];
	struct kvm_memory_slot *ms;
	struct kmt_slots *snap = NULL;
	unsigned int nr = 0, i = 0;
	int as, nr_as, bkt, idx;

	idx = srcu_read_lock(&kvm->srcu);
	nr_as = min(kmt_nr_address_spaces(kvm), KMT_MAX_AS);
	for (as = 0; as < nr_as; as++) {
		set[as] = __kvm_memslots(kvm, as);
		kvm_for_each_memslot(ms, bkt, set[as])
			nr++;
	}
	snap = kvzalloc(struct_size(snap, slot, nr) + nr * sizeof(*snap->hva), gfp);
	if (!snap)
		goto out;
	snap->hva = (struct kmt_hva_range *)&snap->slot[nr];
	for (as = 0; as < nr_as; as++) {
		kvm_for_each_memslot(ms, bkt, set[as]) {
			struct kmt_slot *s = &snap->slot[i++];

			s->as_id = ms->as_id;
			s->id = ms->id;
			s->base_gfn = ms->base_gfn;
			s->npages = ms->npages;
			s->uaddr = ms->userspace_addr;
			s->flags = ms->flags;
			if (ms->as_id == 0) {
				snap->guest_bytes += (u64)ms->npages << PAGE_SHIFT;
				snap->hva[snap->nr_hva].start = ms->userspace_addr;
				snap->hva[snap->nr_hva++].end = ms->userspace_addr +
					(ms->npages << PAGE_SHIFT);
			}
		}
	}
	snap->nr = nr;
	sort(snap->slot, nr, sizeof(snap->slot[0]), kmt_slot_cmp, NULL);
	sort(snap->hva, snap->nr_hva, sizeof(snap->hva[0]), kmt_hva_cmp, NULL);
out:
	srcu_read_unlock(&kvm->srcu, idx);
	return snap;
}

/**
 * kmt_slots_format() - the text of a VM's memslots file, one line per slot
 * @snap: the snapshot, may be NULL
 *
 * Line format: "as id base_gfn npages userspace_addr flags", decimal except
 * userspace_addr in 0x hex.
 *
 * Context: process context; may sleep. The caller keeps @snap alive.
 * Return: a NUL-terminated kvmalloc'ed buffer, or NULL on no memory.
 */
char *kmt_slots_format(const struct kmt_slots *snap)
{
	/* "65535 32767 " + 2 * u64 + "0x" + 16 hex + u32, spaces, newline */
	const size_t line_max = 12 + 2 * 21 + 19 + 11 + 1;
	unsigned int nr = snap ? snap->nr : 0, i;
	size_t size = (size_t)nr * line_max + 1, len = 0;
	char *buf;

	buf = kvmalloc(size, GFP_KERNEL);
	if (!buf)
		return NULL;
	buf[0] = '\0';
	for (i = 0; i < nr; i++) {
		const struct kmt_slot *s = &snap->slot[i];

		len += scnprintf(buf + len, size - len, "%u %u %llu %llu 0x%lx %u\n",
				 s->as_id, s->id, s->base_gfn, s->npages, s->uaddr, s->flags);
	}
	return buf;
}
