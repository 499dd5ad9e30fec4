/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmmemtune VM registry: one struct kmt_vm per KVM virtual machine seen.
 */
#ifndef _KMT_VM_H
#define _KMT_VM_H

#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct kvm;

/**
 * struct kmt_slot - one KVM memslot as last read from the VM
 * @base_gfn:	first guest frame number
 * @npages:	size in pages
 * @uaddr:	host virtual address of the first page in the VM process
 * @flags:	KVM_MEM_* flags
 * @as_id:	address space (0: normal, 1: SMM on x86)
 * @id:		slot id within its address space
 */
struct kmt_slot {
	u64 base_gfn;
	u64 npages;
	unsigned long uaddr;
	u32 flags;
	u16 as_id;
	u16 id;
};

/* Host virtual address range [start, end) of an address-space-0 slot. */
struct kmt_hva_range {
	unsigned long start;
	unsigned long end;
};

/**
 * struct kmt_slots - an immutable snapshot of a VM's memslots
 * @rcu:	frees the snapshot after readers are done
 * @guest_bytes: sum of the address-space-0 slot sizes
 * @nr:		number of entries in @slot
 * @nr_hva:	number of entries in @hva
 * @hva:	the address-space-0 slots' host ranges, sorted by start, for
 *		the lock-free lookups of the mmu notifier (same allocation)
 * @slot:	the slots, sorted by (as_id, id)
 *
 * Lifetime: published in kmt_vm.slots with rcu_assign_pointer() under
 * kmt_vm.lock; replaced as a whole, freed with kvfree_rcu() when replaced or
 * when the kmt_vm is released. Readers hold rcu_read_lock().
 */
struct kmt_slots {
	struct rcu_head rcu;
	u64 guest_bytes;
	unsigned int nr;
	unsigned int nr_hva;
	struct kmt_hva_range *hva;
	struct kmt_slot slot[];
};

/**
 * struct kmt_slot_scan - what the last scan found behind one memslot
 * @base_gfn:	first guest frame number
 * @npages:	size in pages
 * @uaddr:	host virtual address
 * @resident:	bytes mapped to memory (not counting the shared zero page)
 * @thp:	of those, bytes mapped by transparent huge pages (PMD)
 * @as_id:	address space
 * @id:		slot id
 */
struct kmt_slot_scan {
	u64 base_gfn;
	u64 npages;
	unsigned long uaddr;
	u64 resident;
	u64 thp;
	u16 as_id;
	u16 id;
};

/**
 * struct kmt_scan - result of one page-table scan of a VM's memslots
 * @when_ns:	CLOCK_BOOTTIME of completion
 * @duration_ns: wall time of the scan
 * @lock_max_ns: longest hold of the VM process's mmap lock
 * @resident:	address-space-0 bytes mapped to memory
 * @thp:	of those, bytes in PMD-mapped transparent huge pages
 * @hugetlb:	of those, bytes in hugetlbfs pages
 * @zero:	bytes mapped to the shared zero page (not in @resident)
 * @chunks_skipped: chunks left out because they kept changing
 * @node:	@resident per NUMA node, nr_node_ids entries
 * @nr_slots:	entries in @slot
 * @slot:	per-slot results
 *
 * Lifetime: built by kmt_scan_vm(), then published in kmt_vm.scan under
 * kmt_vm.lock and immutable; freed when replaced or with the kmt_vm.
 * Readers hold kmt_vm.lock.
 */
struct kmt_scan {
	u64 when_ns;
	u64 duration_ns;
	u64 lock_max_ns;
	u64 resident;
	u64 thp;
	u64 hugetlb;
	u64 zero;
	u64 chunks_skipped;
	u64 *node;
	unsigned int nr_slots;
	struct kmt_slot_scan slot[];
};

/* What took or moved a VM's memory, as the mmu notifier saw it. */
enum kmt_cause {
	KMT_CAUSE_KSWAPD,
	KMT_CAUSE_DIRECT,
	KMT_CAUSE_COMPACTION,
	KMT_CAUSE_KHUGEPAGED,
	KMT_CAUSE_KSM,
	KMT_CAUSE_NUMA_HINT,
	KMT_CAUSE_UNMAP,
	KMT_CAUSE_OTHER,
	KMT_NR_CAUSES,
};

/**
 * struct kmt_vm_pcpu - per-CPU share of a VM's reclaim attribution
 * @bytes:	bytes of memslot ranges invalidated, by cause
 * @aging_checks: clear_young and clear_flush_young calls on memslot ranges
 * @aging_young: KVM's answers "young" to those calls (per memslot checked)
 */
struct kmt_vm_pcpu {
	u64 bytes[KMT_NR_CAUSES];
	u64 aging_checks;
	u64 aging_young;
};

struct kmt_mm_watch;

/* Memslot changes seen by the commit hook, by kind (enum kvm_mr_change). */
enum kmt_slot_event {
	KMT_SLOT_CREATE,
	KMT_SLOT_DELETE,
	KMT_SLOT_MOVE,
	KMT_SLOT_FLAGS,
	KMT_SLOT_NR_EVENTS,
};

/**
 * struct kmt_vm - what kvmmemtune knows of one VM
 * @kobj:	the VM's directory vms/<pid>-<seq>; its refcount is the VM's
 * @node:	entry in the registry hash, keyed by @kvm
 * @kvm:	the VM. Never dereferenced once @dead is set; before that only
 *		under @kvm_lock or with a reference from kmt_vm_get_kvm().
 * @kvm_lock:	orders kmt_vm_get_kvm() against the destroy hook setting @dead
 * @dead:	KVM began destroying the VM (set once, under @kvm_lock)
 * @pid:	tgid of the process that owns the VM
 * @seq:	module-wide sequence number of first sight
 * @comm:	command name of that process at first sight
 * @lock:	serialises snapshot refreshes and guards @scan (sleeping;
 *		process context only)
 * @scan_lock:	one scan of this VM at a time; taken before @lock
 * @scan:	the last scan result, NULL before the first
 * @slots:	the latest memslot snapshot (RCU)
 * @slots_gen:	memslot changes seen; the snapshot is stale while
 *		@slots_gen differs from @snap_gen
 * @snap_gen:	value of @slots_gen the current snapshot was taken after
 * @slot_events: memslot changes by kind, since first sight
 * @in_sysfs:	the directory was added (set and read on kmt_wq only)
 * @add_work:	adds the directory and takes the first snapshot
 * @refresh_work: refreshes the snapshot a tick after memslot changes
 * @remove_work: removes the directory and drops the registry's reference
 * @watch:	the notifier on the VM process's mm; NULL when none could be
 *		registered (process exiting). Set and cleared on kmt_wq.
 * @watch_node:	entry in @watch's list of VMs (RCU)
 * @pcpu:	reclaim attribution counters, written by the notifier
 * @last_map_2m: KVM's 2M mappings at the last automatic compaction look
 * @rcu:	frees the struct after registry and notifier readers are done
 *
 * Lifetime: allocated at first sight (commit hook or load-time discovery)
 * with one reference, owned by the registry. The destroy hooks unhash it,
 * set @dead and queue @remove_work, which inherits the registry's
 * reference. Each queued work item holds its own reference. The kobject
 * release frees the snapshot and the struct after an RCU grace period, so
 * a registry lookup under rcu_read_lock() never sees freed memory.
 */
struct kmt_vm {
	struct kobject kobj;
	struct hlist_node node;
	struct kvm *kvm;
	spinlock_t kvm_lock;	/* see @kvm_lock above */
	bool dead;
	pid_t pid;
	u64 seq;
	char comm[TASK_COMM_LEN];
	struct mutex lock;	/* see @lock above */
	struct kmt_slots __rcu *slots;
	struct mutex scan_lock;	/* see @scan_lock above */
	struct kmt_scan *scan;
	atomic_t slots_gen;
	int snap_gen;
	atomic64_t slot_events[KMT_SLOT_NR_EVENTS];
	bool in_sysfs;
	struct work_struct add_work;
	struct delayed_work refresh_work;
	struct work_struct remove_work;
	struct kmt_mm_watch *watch;
	struct list_head watch_node;
	struct kmt_vm_pcpu __percpu *pcpu;
	u64 last_map_2m;
	struct rcu_head rcu;
};

int kmt_vm_init(void);
void kmt_vm_exit(void);

struct kmt_vm *kmt_vm_find_or_add(struct kvm *kvm, pid_t pid, const char *comm,
				  gfp_t gfp);
void kmt_vm_slot_event(struct kmt_vm *vm, enum kmt_slot_event ev);
void kmt_vm_destroying(struct kvm *kvm);
void kmt_vm_forget_all(void);
bool kmt_vm_known(struct kvm *kvm);
void kmt_vm_count_young(struct kvm *kvm);
bool kmt_vm_get_kvm(struct kmt_vm *vm);
void kmt_vm_put_kvm(struct kmt_vm *vm);
struct kmt_slots *kmt_vm_slots_begin(struct kmt_vm *vm);
void kmt_vm_slots_end(struct kmt_vm *vm);
void kmt_vm_release(struct kobject *kobj);
unsigned int kmt_vm_count(void);
u64 kmt_vm_guest_bytes_total(void);
bool kmt_vms_lost_huge_mappings(void);
void kmt_vm_flush(void);

/* memslot.c */
struct kmt_slots *kmt_slots_read(struct kvm *kvm, gfp_t gfp);
u64 kmt_slots_overlap(const struct kmt_slots *snap, unsigned long start, unsigned long end);

/* mmu_watch.c */
void kmt_watch_vm(struct kmt_vm *vm);
void kmt_unwatch_vm(struct kmt_vm *vm);
void kmt_watch_exit(void);
void kmt_vm_reclaim_sum(struct kmt_vm *vm, struct kmt_vm_pcpu *sum);

/* reclaim.c */
enum kmt_cause kmt_current_cause(void);
int kmt_reclaim_init(void);
void kmt_reclaim_exit(void);
int kmt_host_stat_show(char *buf);
ssize_t kmt_fragmentation_show(char *buf);
void kmt_node_free_blocks(int nid, unsigned long *nr_free);
unsigned int kmt_node_unusable_index(int nid, int order);
unsigned long kmt_thp_fault_fallbacks(void);

/* compact.c */
enum kmt_compact_cause {
	KMT_COMPACT_MANUAL,
	KMT_COMPACT_AUTO,
	KMT_COMPACT_VM_CREATE,
	KMT_NR_COMPACT_CAUSES,
};

int kmt_compact_init(struct kobject *policy_kobj);
void kmt_compact_exit(void);
void kmt_compact_vm_added(struct kmt_vm *vm);
int kmt_compact_stat_show(char *buf);
char *kmt_slots_format(const struct kmt_slots *snap);

/* THP policy of a VM process (what prctl(PR_SET_THP_DISABLE) sets). */
enum kmt_thp_mode {
	KMT_THP_INHERIT,	/* the host's THP settings apply */
	KMT_THP_NEVER,		/* no THP for the process */
	KMT_THP_ADVISED,	/* THP only where advised (MADV_HUGEPAGE); 6.18+ */
	KMT_THP_NR_MODES,
};

/* policy.c */
int kmt_vm_thp_get(struct kmt_vm *vm);
int kmt_vm_thp_set(struct kmt_vm *vm, enum kmt_thp_mode mode);
void kmt_policy_vm_added(struct kmt_vm *vm);
ssize_t kmt_thp_mode_show(enum kmt_thp_mode cur, char *buf);
int kmt_thp_mode_parse(const char *buf);
int kmt_policy_sysfs_init(struct kobject *policy_kobj);

/* scan.c */
int kmt_scan_vm(struct kmt_vm *vm);

/**
 * struct kmt_counters - a VM's always-current counters, read in O(1)
 * @valid:	false when the VM is already being destroyed
 * @rss_anon:	anonymous bytes resident in the VM process
 * @rss_file:	file-backed bytes resident in the VM process
 * @rss_shmem:	shmem bytes resident in the VM process
 * @swap:	bytes of the VM process in swap
 * @ksm_merging: pages of the VM process merged by KSM
 * @map:	KVM's own NPT/EPT mappings: 4K, 2M, 1G
 * @nx_lpage_splits: huge mappings KVM split for the NX huge page mitigation
 */
struct kmt_counters {
	bool valid;
	u64 rss_anon;
	u64 rss_file;
	u64 rss_shmem;
	u64 swap;
	u64 ksm_merging;
	u64 map[3];
	u64 nx_lpage_splits;
};

/* stats.c */
void kmt_vm_counters(struct kmt_vm *vm, struct kmt_counters *c);

/* sysfs.c */

/**
 * kmt_sysfs_text() - whether a sysfs write is text
 * @buf: what a store got: sysfs's NUL-terminated copy of the write
 * @count: bytes written
 *
 * Stores parse @buf as a C string, so "never\0junk" would read as "never":
 * a write with a NUL byte in it is refused as a whole (EINVAL).
 */
static inline bool kmt_sysfs_text(const char *buf, size_t count)
{
	return strnlen(buf, count) == count;
}

extern struct kobject *kmt_vms_kobj;
extern const struct kobj_type kmt_vm_ktype;
int kmt_sysfs_init(void);
void kmt_sysfs_exit(void);
int kmt_vm_sysfs_add(struct kmt_vm *vm);

/* kvm_hooks.c */
int kmt_kvm_hooks_init(void);
void kmt_kvm_hooks_exit(void);
int kmt_discover_vms(void);
u64 kmt_kvm_events_lost(void);

#endif /* _KMT_VM_H */
