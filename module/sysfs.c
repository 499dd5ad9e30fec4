// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune sysfs tree:
 *
 *   /sys/kernel/kvmmemtune/
 *     version
 *     vms/<pid>-<seq>/{pid,comm,memslots,stat}
 *     host/
 *     policy/
 *
 * Per-VM files are root-only: they tell one tenant's layout to whoever reads.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kobject.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "compat.h"
#include "vm.h"

static struct kobject *kmt_root_kobj;
struct kobject *kmt_vms_kobj;
static struct kobject *kmt_host_kobj;
static struct kobject *kmt_policy_kobj;

/* ---- Per-VM directory ---- */

#define to_kmt_vm(k) container_of(k, struct kmt_vm, kobj)

static ssize_t pid_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", to_kmt_vm(kobj)->pid);
}

static ssize_t comm_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_kmt_vm(kobj)->comm);
}

static const char * const kmt_slot_event_key[KMT_SLOT_NR_EVENTS] = {
	[KMT_SLOT_CREATE] = "memslot_create",
	[KMT_SLOT_DELETE] = "memslot_delete",
	[KMT_SLOT_MOVE] = "memslot_move",
	[KMT_SLOT_FLAGS] = "memslot_flags",
};

static const char * const kmt_cause_key[KMT_NR_CAUSES] = {
	[KMT_CAUSE_KSWAPD] = "reclaim_kswapd_bytes",
	[KMT_CAUSE_DIRECT] = "reclaim_direct_bytes",
	[KMT_CAUSE_COMPACTION] = "migrate_compaction_bytes",
	[KMT_CAUSE_KHUGEPAGED] = "collapse_khugepaged_bytes",
	[KMT_CAUSE_KSM] = "ksm_bytes",
	[KMT_CAUSE_NUMA_HINT] = "numa_hint_bytes",
	[KMT_CAUSE_UNMAP] = "unmap_bytes",
	[KMT_CAUSE_OTHER] = "invalidate_other_bytes",
};

static const char * const kmt_map_key[] = { "kvm_map_4k", "kvm_map_2m", "kvm_map_1g" };

static s64 kmt_scan_age_ms(const struct kmt_scan *sc)
{
	return sc ? div_u64(ktime_get_boottime_ns() - sc->when_ns, NSEC_PER_MSEC) : -1;
}

static ssize_t stat_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct kmt_vm *vm = to_kmt_vm(kobj);
	const struct kmt_scan *sc;
	struct kmt_counters c;
	struct kmt_slots *snap;
	struct kmt_vm_pcpu r;
	int len = 0, i, nid;

	kmt_vm_counters(vm, &c);
	if (!c.valid)
		return -ENODEV;
	snap = kmt_vm_slots_begin(vm);
	len += sysfs_emit_at(buf, len, "guest_bytes %llu\n", snap ? snap->guest_bytes : 0);
	len += sysfs_emit_at(buf, len, "memslots %u\n", snap ? snap->nr : 0);
	for (i = 0; i < KMT_SLOT_NR_EVENTS; i++)
		len += sysfs_emit_at(buf, len, "%s %lld\n", kmt_slot_event_key[i],
				     atomic64_read(&vm->slot_events[i]));
	len += sysfs_emit_at(buf, len, "rss_anon_bytes %llu\n", c.rss_anon);
	len += sysfs_emit_at(buf, len, "rss_file_bytes %llu\n", c.rss_file);
	len += sysfs_emit_at(buf, len, "rss_shmem_bytes %llu\n", c.rss_shmem);
	len += sysfs_emit_at(buf, len, "swap_bytes %llu\n", c.swap);
	if (IS_ENABLED(CONFIG_KSM))
		len += sysfs_emit_at(buf, len, "ksm_merging_pages %llu\n", c.ksm_merging);
	for (i = 0; i < ARRAY_SIZE(kmt_map_key); i++)
		len += sysfs_emit_at(buf, len, "%s %llu\n", kmt_map_key[i], c.map[i]);
	len += sysfs_emit_at(buf, len, "nx_lpage_splits %llu\n", c.nx_lpage_splits);

	/* The last scan, as it was; scan_age_ms says how old (-1: never). */
	sc = vm->scan;
	len += sysfs_emit_at(buf, len, "scan_resident_bytes %llu\n", sc ? sc->resident : 0);
	len += sysfs_emit_at(buf, len, "scan_thp_bytes %llu\n", sc ? sc->thp : 0);
	len += sysfs_emit_at(buf, len, "scan_hugetlb_bytes %llu\n", sc ? sc->hugetlb : 0);
	len += sysfs_emit_at(buf, len, "scan_zero_bytes %llu\n", sc ? sc->zero : 0);
	for_each_online_node(nid)
		len += sysfs_emit_at(buf, len, "node%d_resident_bytes %llu\n", nid,
				     sc ? sc->node[nid] : 0);
	len += sysfs_emit_at(buf, len, "scan_age_ms %lld\n", kmt_scan_age_ms(sc));
	len += sysfs_emit_at(buf, len, "scan_duration_us %llu\n",
			     sc ? div_u64(sc->duration_ns, NSEC_PER_USEC) : 0);
	len += sysfs_emit_at(buf, len, "scan_lock_max_us %llu\n",
			     sc ? div_u64(sc->lock_max_ns, NSEC_PER_USEC) : 0);
	kmt_vm_slots_end(vm);

	kmt_vm_reclaim_sum(vm, &r);
	for (i = 0; i < KMT_NR_CAUSES; i++)
		len += sysfs_emit_at(buf, len, "%s %llu\n", kmt_cause_key[i], r.bytes[i]);
	len += sysfs_emit_at(buf, len, "aging_checks %llu\n", r.aging_checks);
	len += sysfs_emit_at(buf, len, "aging_young %llu\n", r.aging_young);
	return len;
}

static ssize_t scan_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct kmt_vm *vm = to_kmt_vm(kobj);
	s64 age;

	mutex_lock(&vm->lock);
	age = kmt_scan_age_ms(vm->scan);
	mutex_unlock(&vm->lock);
	return sysfs_emit(buf, "%lld\n", age);
}

static ssize_t scan_store(struct kobject *kobj, struct kobj_attribute *attr,
			  const char *buf, size_t count)
{
	unsigned int v;
	int ret;

	if (!kmt_sysfs_text(buf, count))
		return -EINVAL;
	ret = kstrtouint(buf, 10, &v);
	if (ret)
		return ret;
	if (v != 1)
		return -EINVAL;
	ret = kmt_scan_vm(to_kmt_vm(kobj));
	return ret ?: count;
}

/* Copy the window of @text a bin attribute reader asked for; free @text. */
static ssize_t kmt_text_window(char *text, char *buf, loff_t off, size_t count)
{
	ssize_t ret = 0;
	size_t len;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	if (off < len) {
		ret = min_t(size_t, count, len - off);
		memcpy(buf, text + off, ret);
	}
	kvfree(text);
	return ret;
}

/* slot_stat: "as id base_gfn npages resident_bytes thp_bytes" per slot. */
static ssize_t slot_stat_read(struct file *file, struct kobject *kobj,
			      KMT_BIN_ATTR_CONST struct bin_attribute *attr,
			      char *buf, loff_t off, size_t count)
{
	struct kmt_vm *vm = to_kmt_vm(kobj);
	const struct kmt_scan *sc;
	size_t size, len = 0;
	unsigned int i, nr;
	char *text;

	mutex_lock(&vm->lock);
	sc = vm->scan;
	nr = sc ? sc->nr_slots : 0;
	size = (size_t)nr * (12 + 5 * 21) + 1;
	text = kvmalloc(size, GFP_KERNEL);
	if (text) {
		text[0] = '\0';
		for (i = 0; i < nr; i++) {
			const struct kmt_slot_scan *s = &sc->slot[i];

			len += scnprintf(text + len, size - len, "%u %u %llu %llu %llu %llu\n",
					 s->as_id, s->id, s->base_gfn, s->npages,
					 s->resident, s->thp);
		}
	}
	mutex_unlock(&vm->lock);
	return kmt_text_window(text, buf, off, count);
}

/*
 * memslots is a binary attribute only to lift sysfs's one-page limit: a VM
 * can have thousands of slots. Its content is text. Each read() renders the
 * current snapshot; a reader that needs one consistent view reads it in one
 * call with a large enough buffer, as with /proc/PID/maps.
 */
static ssize_t memslots_read(struct file *file, struct kobject *kobj,
			     KMT_BIN_ATTR_CONST struct bin_attribute *attr,
			     char *buf, loff_t off, size_t count)
{
	struct kmt_vm *vm = to_kmt_vm(kobj);
	struct kmt_slots *snap;
	char *text;

	snap = kmt_vm_slots_begin(vm);
	text = kmt_slots_format(snap);
	kmt_vm_slots_end(vm);
	return kmt_text_window(text, buf, off, count);
}

static ssize_t thp_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	int mode = kmt_vm_thp_get(to_kmt_vm(kobj));

	return mode < 0 ? mode : kmt_thp_mode_show(mode, buf);
}

static ssize_t thp_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	int mode = kmt_thp_mode_parse(buf);

	if (!kmt_sysfs_text(buf, count))
		return -EINVAL;
	if (mode < 0)
		return mode;
	mode = kmt_vm_thp_set(to_kmt_vm(kobj), mode);
	return mode ?: count;
}

static struct kobj_attribute kmt_vm_pid_attr = __ATTR(pid, 0400, pid_show, NULL);
static struct kobj_attribute kmt_vm_comm_attr = __ATTR(comm, 0400, comm_show, NULL);
static struct kobj_attribute kmt_vm_stat_attr = __ATTR(stat, 0400, stat_show, NULL);
static struct kobj_attribute kmt_vm_scan_attr = __ATTR(scan, 0600, scan_show, scan_store);
static struct kobj_attribute kmt_vm_thp_attr = __ATTR(thp, 0600, thp_show, thp_store);

static struct attribute *kmt_vm_attrs[] = {
	&kmt_vm_pid_attr.attr,
	&kmt_vm_comm_attr.attr,
	&kmt_vm_stat_attr.attr,
	&kmt_vm_scan_attr.attr,
	&kmt_vm_thp_attr.attr,
	NULL,
};

static struct bin_attribute kmt_vm_memslots_attr = {
	.attr = { .name = "memslots", .mode = 0400 },
	.KMT_BIN_ATTR_READ = memslots_read,
};

static struct bin_attribute kmt_vm_slot_stat_attr = {
	.attr = { .name = "slot_stat", .mode = 0400 },
	.KMT_BIN_ATTR_READ = slot_stat_read,
};

static KMT_BIN_ATTR_CONST struct bin_attribute *kmt_vm_bin_attrs[] = {
	&kmt_vm_memslots_attr,
	&kmt_vm_slot_stat_attr,
	NULL,
};

static const struct attribute_group kmt_vm_group = {
	.attrs = kmt_vm_attrs,
	.KMT_BIN_ATTRS = kmt_vm_bin_attrs,
};

static const struct attribute_group *kmt_vm_groups[] = {
	&kmt_vm_group,
	NULL,
};

const struct kobj_type kmt_vm_ktype = {
	.release = kmt_vm_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kmt_vm_groups,
};

/**
 * kmt_vm_sysfs_add() - create the directory vms/<pid>-<seq> of @vm
 * @vm: a VM whose kobject was initialised with kmt_vm_ktype
 *
 * Context: process context, on kmt_wq.
 * Return: 0 or a negative errno (the directory is then missing).
 */
int kmt_vm_sysfs_add(struct kmt_vm *vm)
{
	int ret;

	ret = kobject_add(&vm->kobj, kmt_vms_kobj, "%d-%llu", vm->pid, vm->seq);
	if (ret)
		pr_warn_ratelimited("cannot add vms/%d-%llu: %d\n", vm->pid, vm->seq, ret);
	return ret;
}

/* ---- host/ ---- */

static ssize_t host_stat_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	int len = 0;

	len += sysfs_emit_at(buf, len, "vms %u\n", kmt_vm_count());
	len += sysfs_emit_at(buf, len, "guest_bytes_total %llu\n", kmt_vm_guest_bytes_total());
	len += sysfs_emit_at(buf, len, "memslot_events_lost %llu\n", kmt_kvm_events_lost());
	kmt_compact_stat_show(buf);
	return kmt_host_stat_show(buf);
}

static ssize_t fragmentation_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return kmt_fragmentation_show(buf);
}

static struct kobj_attribute kmt_host_stat_attr = __ATTR(stat, 0400, host_stat_show, NULL);
static struct kobj_attribute kmt_host_frag_attr = __ATTR(fragmentation, 0400, fragmentation_show,
							 NULL);

/* ---- Root ---- */

static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", KMT_VERSION);
}

static struct kobj_attribute kmt_version_attr = __ATTR_RO(version);

/**
 * kmt_sysfs_init() - create /sys/kernel/kvmmemtune and its fixed directories
 *
 * Context: module init.
 * Return: 0 or a negative errno, with nothing left behind.
 */
int kmt_sysfs_init(void)
{
	int ret = -ENOMEM;

	kmt_root_kobj = kobject_create_and_add("kvmmemtune", kernel_kobj);
	if (!kmt_root_kobj)
		return -ENOMEM;
	ret = sysfs_create_file(kmt_root_kobj, &kmt_version_attr.attr);
	if (ret)
		goto err_root;
	ret = -ENOMEM;
	kmt_vms_kobj = kobject_create_and_add("vms", kmt_root_kobj);
	if (!kmt_vms_kobj)
		goto err_root;
	kmt_host_kobj = kobject_create_and_add("host", kmt_root_kobj);
	if (!kmt_host_kobj)
		goto err_vms;
	kmt_policy_kobj = kobject_create_and_add("policy", kmt_root_kobj);
	if (!kmt_policy_kobj)
		goto err_host;
	ret = kmt_policy_sysfs_init(kmt_policy_kobj);
	if (ret)
		goto err_policy;
	ret = kmt_compact_init(kmt_policy_kobj);
	if (ret)
		goto err_policy;
	ret = sysfs_create_file(kmt_host_kobj, &kmt_host_stat_attr.attr);
	if (!ret)
		ret = sysfs_create_file(kmt_host_kobj, &kmt_host_frag_attr.attr);
	if (ret)
		goto err_compact;
	return 0;

err_compact:
	kmt_compact_exit();
err_policy:
	kobject_put(kmt_policy_kobj);
err_host:
	kobject_put(kmt_host_kobj);
err_vms:
	kobject_put(kmt_vms_kobj);
err_root:
	kobject_put(kmt_root_kobj);
	return ret;
}

/**
 * kmt_sysfs_exit() - remove /sys/kernel/kvmmemtune
 *
 * Context: module exit, after every VM directory is gone.
 */
void kmt_sysfs_exit(void)
{
	kmt_compact_exit();
	kobject_put(kmt_policy_kobj);
	kobject_put(kmt_host_kobj);
	kobject_put(kmt_vms_kobj);
	kobject_put(kmt_root_kobj);
}
