/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmmemtune: every kernel-version difference, in one place. Each entry
 * names the change it papers over.
 */
#ifndef _KMT_COMPAT_H
#define _KMT_COMPAT_H

#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/mmzone.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/module.h>
#include <linux/sched/coredump.h>
#include <linux/string.h>
#include <linux/version.h>

#include "../include/kvmmemtune.h"
#include "vm.h"

/*
 * v6.8 "KVM: Allow arch code to track number of memslot address spaces per
 * VM" replaced KVM_ADDRESS_SPACE_NUM by KVM_MAX_NR_ADDRESS_SPACES and a
 * per-VM count.
 */
#ifdef KVM_MAX_NR_ADDRESS_SPACES
#define KMT_MAX_AS KVM_MAX_NR_ADDRESS_SPACES
static inline int kmt_nr_address_spaces(struct kvm *kvm)
{
	return kvm_arch_nr_memslot_as_ids(kvm);
}
#else
#define KMT_MAX_AS KVM_ADDRESS_SPACE_NUM
static inline int kmt_nr_address_spaces(struct kvm *kvm)
{
	return KVM_ADDRESS_SPACE_NUM;
}
#endif

/*
 * v6.2 "mm: convert mm's rss stats into percpu_counter": get_mm_counter()
 * reads the global count only, behind by up to a batch per CPU; the exact
 * value is the sum. Before, the mm's atomic counters were the value.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
static inline unsigned long kmt_mm_counter(struct mm_struct *mm, int member)
{
	return percpu_counter_sum_positive(&mm->rss_stat[member]);
}
#else
static inline unsigned long kmt_mm_counter(struct mm_struct *mm, int member)
{
	return get_mm_counter(mm, member);
}
#endif

/*
 * "sysfs: treewide: constify attribute callback of bin_attribute" (a series
 * between v6.13 and v6.16): read() and the group's bin_attrs take const
 * pointers. A signature change leaves no macro to test for.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#define KMT_BIN_ATTR_CONST const
#define KMT_BIN_ATTR_READ read
#define KMT_BIN_ATTRS bin_attrs
#else
#define KMT_BIN_ATTR_CONST
#define KMT_BIN_ATTR_READ read
#define KMT_BIN_ATTRS bin_attrs
#endif

/*
 * v6.19 "KVM: Export KVM-internal symbols for sub-modules only" limits
 * file_is_kvm() to kvm-amd/kvm-intel. There, recognise a VM file as KVM makes
 * it: the anonymous inode "kvm-vm" with file operations owned by KVM (before
 * v6.6 KVM left kvm_vm_fops.owner unset, so this test only serves 6.19+).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 19, 0)
static inline bool kmt_file_is_kvm(struct file *file)
{
	return file_is_kvm(file);
}
#else
static inline bool kmt_file_is_kvm(struct file *file)
{
	const struct module *owner = file->f_op ? file->f_op->owner : NULL;

	if (!owner || strcmp(file->f_path.dentry->d_name.name, "kvm-vm"))
		return false;
	return !strcmp(owner->name, "kvm") || !strcmp(owner->name, "kvm_amd") ||
	       !strcmp(owner->name, "kvm_intel");
}
#endif

/*
 * v6.18 "mm: convert mm->flags to a bitmap" (mm_flags_*()) and "prctl: extend
 * PR_SET_THP_DISABLE to optionally exclude VM_HUGEPAGE" split MMF_DISABLE_THP
 * into MMF_DISABLE_THP_COMPLETELY and MMF_DISABLE_THP_EXCEPT_ADVISED.
 * Callers hold the mm's mmap lock for writing, as prctl() does.
 */
#ifdef MMF_DISABLE_THP_COMPLETELY
#define KMT_HAVE_THP_ADVISED true
static inline enum kmt_thp_mode kmt_mm_thp_get(struct mm_struct *mm)
{
	if (mm_flags_test(MMF_DISABLE_THP_COMPLETELY, mm))
		return KMT_THP_NEVER;
	if (mm_flags_test(MMF_DISABLE_THP_EXCEPT_ADVISED, mm))
		return KMT_THP_ADVISED;
	return KMT_THP_INHERIT;
}

static inline void kmt_mm_thp_set(struct mm_struct *mm, enum kmt_thp_mode mode)
{
	mm_flags_clear(MMF_DISABLE_THP_COMPLETELY, mm);
	mm_flags_clear(MMF_DISABLE_THP_EXCEPT_ADVISED, mm);
	if (mode == KMT_THP_NEVER)
		mm_flags_set(MMF_DISABLE_THP_COMPLETELY, mm);
	else if (mode == KMT_THP_ADVISED)
		mm_flags_set(MMF_DISABLE_THP_EXCEPT_ADVISED, mm);
}
#else
#define KMT_HAVE_THP_ADVISED false
static inline enum kmt_thp_mode kmt_mm_thp_get(struct mm_struct *mm)
{
	return test_bit(MMF_DISABLE_THP, &mm->flags) ? KMT_THP_NEVER : KMT_THP_INHERIT;
}

static inline void kmt_mm_thp_set(struct mm_struct *mm, enum kmt_thp_mode mode)
{
	if (mode == KMT_THP_NEVER)
		set_bit(MMF_DISABLE_THP, &mm->flags);
	else
		clear_bit(MMF_DISABLE_THP, &mm->flags);
}
#endif

/*
 * The mmu_notifier young callbacks returned int and return bool on newer
 * kernels: take the type from the kernel's own declaration.
 */
#define kmt_young_t typeof(((struct mmu_notifier_ops *)NULL)->clear_young(NULL, NULL, 0, 0))

/*
 * Page orders: v6.8 "mm: Introduce NR_PAGE_ORDERS" (MAX_ORDER was the
 * exclusive bound before v6.4, when it became inclusive).
 */
#ifdef NR_PAGE_ORDERS
#define KMT_NR_ORDERS NR_PAGE_ORDERS
#else
#define KMT_NR_ORDERS MAX_ORDER
#endif

/*
 * Shrinkers: v6.7 "mm: shrinker: add infrastructure for dynamically
 * allocating shrinker" replaced register_shrinker() with shrinker_alloc().
 */
#ifdef SHRINKER_ALLOCATED
static inline struct shrinker *
kmt_shrinker_create(unsigned long (*count)(struct shrinker *, struct shrink_control *),
		    unsigned long (*scan)(struct shrinker *, struct shrink_control *))
{
	struct shrinker *s = shrinker_alloc(SHRINKER_NUMA_AWARE, "kvmmemtune");

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = count;
	s->scan_objects = scan;
	shrinker_register(s);
	return s;
}

static inline void kmt_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}
#else
static inline struct shrinker *
kmt_shrinker_create(unsigned long (*count)(struct shrinker *, struct shrink_control *),
		    unsigned long (*scan)(struct shrinker *, struct shrink_control *))
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);
	int ret;

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	s->flags = SHRINKER_NUMA_AWARE;
	ret = register_shrinker(s, "kvmmemtune");
	if (ret) {
		kfree(s);
		return ERR_PTR(ret);
	}
	return s;
}

static inline void kmt_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(s);
}
#endif

/*
 * mm_vmscan_direct_reclaim_{begin,end} gained a memcg argument (and begin
 * swapped its first two) after v6.12; the 7.x prototypes are the new ones.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#define KMT_DIRECT_BEGIN_PROTO void *data, gfp_t gfp, int order, struct mem_cgroup *memcg
#define KMT_DIRECT_END_PROTO void *data, unsigned long nr_reclaimed, struct mem_cgroup *memcg
#else
#define KMT_DIRECT_BEGIN_PROTO void *data, int order, gfp_t gfp
#define KMT_DIRECT_END_PROTO void *data, unsigned long nr_reclaimed
#endif

#endif /* _KMT_COMPAT_H */
