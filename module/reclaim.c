// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune reclaim: the host's reclaim and compaction, seen through the
 * kernel's own tracepoints (attached by name), a shrinker of our own, and
 * the vm event counters; plus the context classification the mmu notifier
 * uses to say which of them took a VM's memory.
 *
 * Compaction runs in whoever asked for it (kcompactd, an allocating task,
 * a writer of compact_memory) and MADV_PAGEOUT runs with PF_MEMALLOC in the
 * caller, so context alone cannot tell reclaim from compaction: the
 * compaction and direct reclaim tracepoints mark the tasks inside them in
 * small lock-free tables that the notifier consults.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/sysfs.h>
#include <linux/tracepoint.h>
#include <linux/vmstat.h>
/* compaction.h is not self-contained: after mm.h, mmzone.h and sched.h. */
#include <linux/compaction.h>

#include "compat.h"
#include "vm.h"

struct compact_control;	/* opaque: only passed through */
struct reclaim_stat;

/* ---- Tasks inside direct reclaim or compaction ---- */

#define KMT_TASK_SLOTS 64

/* Lock-free: a task enters its own slot and only it leaves it. */
struct kmt_task_table {
	struct task_struct *task[KMT_TASK_SLOTS];
	u64 since_ns[KMT_TASK_SLOTS];
};

static struct kmt_task_table kmt_in_direct_reclaim;
static struct kmt_task_table kmt_in_compaction;

static void kmt_task_enter(struct kmt_task_table *t)
{
	int i;

	for (i = 0; i < KMT_TASK_SLOTS; i++) {
		if (!READ_ONCE(t->task[i]) && !cmpxchg(&t->task[i], NULL, current)) {
			t->since_ns[i] = ktime_get_ns();
			return;
		}
	}
	/* Full: this task's invalidations count as "other". */
}

/* Returns how long the task was inside, 0 if it was not recorded. */
static u64 kmt_task_leave(struct kmt_task_table *t)
{
	int i;

	for (i = 0; i < KMT_TASK_SLOTS; i++) {
		if (READ_ONCE(t->task[i]) == current) {
			u64 ns = ktime_get_ns() - t->since_ns[i];

			WRITE_ONCE(t->task[i], NULL);
			return ns;
		}
	}
	return 0;
}

static bool kmt_task_inside(struct kmt_task_table *t)
{
	int i;

	for (i = 0; i < KMT_TASK_SLOTS; i++)
		if (READ_ONCE(t->task[i]) == current)
			return true;
	return false;
}

/**
 * kmt_current_cause() - which host activity the current context is
 *
 * Context: any; does not sleep. Called from the mmu notifier.
 */
enum kmt_cause kmt_current_cause(void)
{
	if (current_is_kswapd())
		return KMT_CAUSE_KSWAPD;
	if (current->flags & PF_KTHREAD) {
		if (!strncmp(current->comm, "kcompactd", 9))
			return KMT_CAUSE_COMPACTION;
		if (!strcmp(current->comm, "khugepaged"))
			return KMT_CAUSE_KHUGEPAGED;
		if (!strcmp(current->comm, "ksmd"))
			return KMT_CAUSE_KSM;
	}
	/* Direct compaction runs outside direct reclaim: ask it first. */
	if (kmt_task_inside(&kmt_in_compaction))
		return KMT_CAUSE_COMPACTION;
	if (kmt_task_inside(&kmt_in_direct_reclaim))
		return KMT_CAUSE_DIRECT;
	return KMT_CAUSE_OTHER;
}

/* ---- Host counters ---- */

/* Counters a tracepoint gives per node; summed for the host-wide line. */
enum kmt_node_counter {
	KMT_N_KSWAPD_WAKE,
	KMT_N_LRU_SCANNED,
	KMT_N_LRU_RECLAIMED,
	KMT_N_SHRINK_SLAB_CALLS,
	KMT_N_SHRINKER_PRESSURE,
	KMT_N_KCOMPACTD_WAKE,
	KMT_NR_NODE_COUNTERS,
};

static const char * const kmt_node_counter_key[KMT_NR_NODE_COUNTERS] = {
	[KMT_N_KSWAPD_WAKE] = "kswapd_wake",
	[KMT_N_LRU_SCANNED] = "lru_scanned_pages",
	[KMT_N_LRU_RECLAIMED] = "lru_reclaimed_pages",
	[KMT_N_SHRINK_SLAB_CALLS] = "shrink_slab_calls",
	[KMT_N_SHRINKER_PRESSURE] = "shrinker_pressure",
	[KMT_N_KCOMPACTD_WAKE] = "kcompactd_wake",
};

/* nr_node_ids rows; written from tracepoints and the shrinker. */
static atomic64_t (*kmt_node_counters)[KMT_NR_NODE_COUNTERS];

/* Direct reclaim stalls, their total time and what they reclaimed. */
static atomic64_t kmt_direct_stalls;
static atomic64_t kmt_direct_ns;
static atomic64_t kmt_direct_reclaimed;
/* compact_zone() runs, and those that ended in COMPACT_SUCCESS. */
static atomic64_t kmt_compaction_runs;
static atomic64_t kmt_compaction_success;

static void kmt_node_inc(int nid, enum kmt_node_counter c, u64 v)
{
	if (nid >= 0 && nid < nr_node_ids)
		atomic64_add(v, &kmt_node_counters[nid][c]);
}

/* The kernel's vm events at load: host/stat shows what happened since. */
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
static const struct {
	const char *key;
	enum vm_event_item item;
} kmt_vm_event[] = {
	{ "thp_fault_alloc", THP_FAULT_ALLOC },
	{ "thp_fault_fallback", THP_FAULT_FALLBACK },
	{ "thp_split_pmd", THP_SPLIT_PMD },
};

static unsigned long kmt_vm_event_base[ARRAY_SIZE(kmt_vm_event)];
#endif

/**
 * kmt_thp_fault_fallbacks() - the kernel's thp_fault_fallback event count
 *
 * Context: process context (allocates).
 * Return: the count, 0 without THP.
 */
unsigned long kmt_thp_fault_fallbacks(void)
{
	unsigned long n = 0;
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	unsigned long *ev = kcalloc(NR_VM_EVENT_ITEMS, sizeof(*ev), GFP_KERNEL);

	if (ev) {
		all_vm_events(ev);
		n = ev[THP_FAULT_FALLBACK];
		kfree(ev);
	}
#endif
	return n;
}

/* ---- Tracepoint probes (preemption off; never sleep) ---- */

static void kmt_tp_kswapd_wake(void *data, int nid, int zid, int order)
{
	kmt_node_inc(nid, KMT_N_KSWAPD_WAKE, 1);
}

static void kmt_tp_direct_begin(KMT_DIRECT_BEGIN_PROTO)
{
	atomic64_inc(&kmt_direct_stalls);
	kmt_task_enter(&kmt_in_direct_reclaim);
}

static void kmt_tp_direct_end(KMT_DIRECT_END_PROTO)
{
	atomic64_add(kmt_task_leave(&kmt_in_direct_reclaim), &kmt_direct_ns);
	atomic64_add(nr_reclaimed, &kmt_direct_reclaimed);
}

static void kmt_tp_shrink_slab_start(void *data, struct shrinker *shr, struct shrink_control *sc,
				     long nr_objects_to_shrink, unsigned long cache_items,
				     unsigned long long delta, unsigned long total_scan,
				     int priority)
{
	kmt_node_inc(sc->nid, KMT_N_SHRINK_SLAB_CALLS, 1);
}

static void kmt_tp_lru_shrink_inactive(void *data, int nid, unsigned long nr_scanned,
				       unsigned long nr_reclaimed, struct reclaim_stat *stat,
				       int priority, int file)
{
	kmt_node_inc(nid, KMT_N_LRU_SCANNED, nr_scanned);
	kmt_node_inc(nid, KMT_N_LRU_RECLAIMED, nr_reclaimed);
}

static void kmt_tp_compaction_begin(void *data, struct compact_control *cc,
				    unsigned long zone_start, unsigned long zone_end, bool sync)
{
	kmt_task_enter(&kmt_in_compaction);
}

static void kmt_tp_compaction_end(void *data, struct compact_control *cc,
				  unsigned long zone_start, unsigned long zone_end, bool sync,
				  int status)
{
	kmt_task_leave(&kmt_in_compaction);
	atomic64_inc(&kmt_compaction_runs);
	if (status == COMPACT_SUCCESS)
		atomic64_inc(&kmt_compaction_success);
}

static void kmt_tp_kcompactd_wake(void *data, int nid, int order, enum zone_type highest_zoneidx)
{
	kmt_node_inc(nid, KMT_N_KCOMPACTD_WAKE, 1);
}

static struct kmt_tracepoint {
	const char *name;
	void *probe;
	struct tracepoint *tp;
} kmt_tracepoints[] = {
	{ "mm_vmscan_kswapd_wake", kmt_tp_kswapd_wake },
	{ "mm_vmscan_direct_reclaim_begin", kmt_tp_direct_begin },
	{ "mm_vmscan_direct_reclaim_end", kmt_tp_direct_end },
	{ "mm_shrink_slab_start", kmt_tp_shrink_slab_start },
	{ "mm_vmscan_lru_shrink_inactive", kmt_tp_lru_shrink_inactive },
	{ "mm_compaction_begin", kmt_tp_compaction_begin },
	{ "mm_compaction_end", kmt_tp_compaction_end },
	{ "mm_compaction_kcompactd_wake", kmt_tp_kcompactd_wake },
};

static void kmt_find_tracepoint(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(kmt_tracepoints); i++)
		if (!strcmp(tp->name, kmt_tracepoints[i].name))
			kmt_tracepoints[i].tp = tp;
}

/* ---- Our own shrinker: how often reclaim asks slab caches, per node ---- */

static struct shrinker *kmt_shrinker;

static unsigned long kmt_shrinker_count(struct shrinker *s, struct shrink_control *sc)
{
	kmt_node_inc(sc->nid, KMT_N_SHRINKER_PRESSURE, 1);
	return 0;	/* nothing to free: scan_objects is never called */
}

static unsigned long kmt_shrinker_scan(struct shrinker *s, struct shrink_control *sc)
{
	return SHRINK_STOP;
}

/**
 * kmt_reclaim_init() - attach to the host's reclaim and compaction
 *
 * A tracepoint this kernel lacks (e.g. no CONFIG_COMPACTION) leaves its
 * counters at 0; host/stat lists the missing ones.
 *
 * Context: module init.
 * Return: 0 or a negative errno, with nothing left attached.
 */
int kmt_reclaim_init(void)
{
	int i, ret;

	kmt_node_counters = kcalloc(nr_node_ids, sizeof(*kmt_node_counters), GFP_KERNEL);
	if (!kmt_node_counters)
		return -ENOMEM;
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	{
		unsigned long *ev = kcalloc(NR_VM_EVENT_ITEMS, sizeof(*ev), GFP_KERNEL);

		if (ev) {
			all_vm_events(ev);
			for (i = 0; i < ARRAY_SIZE(kmt_vm_event); i++)
				kmt_vm_event_base[i] = ev[kmt_vm_event[i].item];
			kfree(ev);
		}
	}
#endif
	for_each_kernel_tracepoint(kmt_find_tracepoint, NULL);
	for (i = 0; i < ARRAY_SIZE(kmt_tracepoints); i++) {
		struct kmt_tracepoint *t = &kmt_tracepoints[i];

		if (!t->tp) {
			pr_info("tracepoint %s not found: its counters stay 0\n", t->name);
			continue;
		}
		ret = tracepoint_probe_register(t->tp, t->probe, NULL);
		if (ret) {
			pr_err("cannot attach to tracepoint %s: %d\n", t->name, ret);
			t->tp = NULL;
			goto err;
		}
	}
	kmt_shrinker = kmt_shrinker_create(kmt_shrinker_count, kmt_shrinker_scan);
	if (IS_ERR(kmt_shrinker)) {
		ret = PTR_ERR(kmt_shrinker);
		kmt_shrinker = NULL;
		goto err;
	}
	return 0;
err:
	kmt_reclaim_exit();
	return ret;
}

/**
 * kmt_reclaim_exit() - detach from reclaim and compaction
 *
 * Context: module exit (or init failure). On return no probe of ours runs.
 */
void kmt_reclaim_exit(void)
{
	int i;

	if (kmt_shrinker)
		kmt_shrinker_destroy(kmt_shrinker);
	kmt_shrinker = NULL;
	for (i = 0; i < ARRAY_SIZE(kmt_tracepoints); i++) {
		struct kmt_tracepoint *t = &kmt_tracepoints[i];

		if (t->tp)
			tracepoint_probe_unregister(t->tp, t->probe, NULL);
		t->tp = NULL;
	}
	tracepoint_synchronize_unregister();
	kfree(kmt_node_counters);
	kmt_node_counters = NULL;
}

/**
 * kmt_host_stat_show() - the reclaim and compaction lines of host/stat
 * @buf: a sysfs page, possibly holding earlier lines
 *
 * Context: process context.
 * Return: bytes written.
 */
int kmt_host_stat_show(char *buf)
{
	u64 total[KMT_NR_NODE_COUNTERS] = { };
	int len = strlen(buf), nid, c;

	for_each_node(nid)
		for (c = 0; c < KMT_NR_NODE_COUNTERS; c++)
			total[c] += atomic64_read(&kmt_node_counters[nid][c]);
	len += sysfs_emit_at(buf, len, "kswapd_wake %llu\n", total[KMT_N_KSWAPD_WAKE]);
	len += sysfs_emit_at(buf, len, "direct_reclaim_stall %lld\n",
			     atomic64_read(&kmt_direct_stalls));
	len += sysfs_emit_at(buf, len, "direct_reclaim_us %lld\n",
			     div_u64(atomic64_read(&kmt_direct_ns), NSEC_PER_USEC));
	len += sysfs_emit_at(buf, len, "direct_reclaimed_pages %lld\n",
			     atomic64_read(&kmt_direct_reclaimed));
	for (c = KMT_N_LRU_SCANNED; c <= KMT_N_SHRINKER_PRESSURE; c++)
		len += sysfs_emit_at(buf, len, "%s %llu\n", kmt_node_counter_key[c], total[c]);
	len += sysfs_emit_at(buf, len, "compaction_runs %lld\n",
			     atomic64_read(&kmt_compaction_runs));
	len += sysfs_emit_at(buf, len, "compaction_success %lld\n",
			     atomic64_read(&kmt_compaction_success));
	len += sysfs_emit_at(buf, len, "kcompactd_wake %llu\n", total[KMT_N_KCOMPACTD_WAKE]);
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	{
		unsigned long *ev = kcalloc(NR_VM_EVENT_ITEMS, sizeof(*ev), GFP_KERNEL);

		if (ev) {
			all_vm_events(ev);
			for (c = 0; c < ARRAY_SIZE(kmt_vm_event); c++)
				len += sysfs_emit_at(buf, len, "%s %lu\n", kmt_vm_event[c].key,
						     ev[kmt_vm_event[c].item] -
						     kmt_vm_event_base[c]);
			kfree(ev);
		}
	}
#endif
	for_each_online_node(nid)
		for (c = 0; c < KMT_NR_NODE_COUNTERS; c++)
			len += sysfs_emit_at(buf, len, "node%d_%s %lld\n", nid,
					     kmt_node_counter_key[c],
					     atomic64_read(&kmt_node_counters[nid][c]));
	for (c = 0; c < ARRAY_SIZE(kmt_tracepoints); c++)
		if (!kmt_tracepoints[c].tp)
			len += sysfs_emit_at(buf, len, "missing_tracepoint %s\n",
					     kmt_tracepoints[c].name);
	return len;
}

/* ---- host/fragmentation ---- */

/* The kernel's unusable free space index (mm/vmstat.c), in permille. */
static unsigned int kmt_unusable_index(const unsigned long *nr_free, int order)
{
	u64 free_pages = 0, suitable = 0;
	int o;

	for (o = 0; o < KMT_NR_ORDERS; o++) {
		free_pages += (u64)nr_free[o] << o;
		if (o >= order)
			suitable += (u64)nr_free[o] << (o - order);
	}
	/* No free memory counts as all of it unusable, as in the kernel. */
	if (!free_pages)
		return 1000;
	return div64_u64((free_pages - (suitable << order)) * 1000, free_pages);
}

/**
 * kmt_node_free_blocks() - free blocks per order on node @nid
 * @nid: an online node
 * @nr_free: KMT_NR_ORDERS entries, filled in
 *
 * Summed over the node's zones, read without the zone locks as
 * /proc/buddyinfo does: a snapshot good enough for statistics.
 *
 * Context: any.
 */
void kmt_node_free_blocks(int nid, unsigned long *nr_free)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	int z, o;

	memset(nr_free, 0, KMT_NR_ORDERS * sizeof(*nr_free));
	for (z = 0; z < MAX_NR_ZONES; z++) {
		struct zone *zone = &pgdat->node_zones[z];

		if (!populated_zone(zone))
			continue;
		for (o = 0; o < KMT_NR_ORDERS; o++) {
			/* Racy by design, like /proc/buddyinfo: no zone lock. */
			nr_free[o] += data_race(zone->free_area[o].nr_free);
		}
	}
}

/**
 * kmt_node_unusable_index() - unusable free space index of node @nid
 * @nid: an online node
 * @order: the allocation order asked about
 *
 * Context: any.
 * Return: permille, 0..1000.
 */
unsigned int kmt_node_unusable_index(int nid, int order)
{
	unsigned long nr_free[KMT_NR_ORDERS];

	kmt_node_free_blocks(nid, nr_free);
	return kmt_unusable_index(nr_free, order);
}

/**
 * kmt_fragmentation_show() - host/fragmentation: free blocks and unusable
 *			       index per order, per node
 * @buf: a sysfs page
 *
 * Context: process context.
 * Return: bytes written.
 */
ssize_t kmt_fragmentation_show(char *buf)
{
	unsigned long nr_free[KMT_NR_ORDERS];
	int len = 0, nid, o;

	for_each_online_node(nid) {
		kmt_node_free_blocks(nid, nr_free);
		len += sysfs_emit_at(buf, len, "node%d free", nid);
		for (o = 0; o < KMT_NR_ORDERS; o++)
			len += sysfs_emit_at(buf, len, " %lu", nr_free[o]);
		len += sysfs_emit_at(buf, len, "\nnode%d unusable", nid);
		for (o = 0; o < KMT_NR_ORDERS; o++)
			len += sysfs_emit_at(buf, len, " %u", kmt_unusable_index(nr_free, o));
		len += sysfs_emit_at(buf, len, "\n");
	}
	return len;
}
