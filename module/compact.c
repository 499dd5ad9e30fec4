// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune compaction policy: compaction on request (policy/compact),
 * automatic compaction of fragmented nodes (policy/compact_auto and its
 * threshold and interval), and compaction before a new VM's memory faults
 * in (policy/compact_on_vm_create).
 *
 * Every trigger goes through the kernel's own per-node trigger,
 * /sys/devices/system/node/nodeN/compact, written by one work item, the
 * compactor: never from a hook. Each is counted by cause, traced
 * (kvmmemtune:compact_trigger) and logged.
 *
 * Why a worker writes the trigger, and the writer of policy/compact waits
 * for it rather than writing itself: a sysfs write holds sysfs's freeze
 * protection and its open file's kernfs mutex; kernel_write() of another
 * sysfs file from inside it takes both lock classes a second time, which
 * lockdep rightly reports as recursive locking. The compactor holds
 * neither when it starts, and the waiter holds nothing the compactor needs:
 * the compactor takes sysfs's freeze protection for reading (sysfs cannot
 * be frozen, so no writer of it can queue between the two) and the node
 * file's own kernfs locks.
 *
 * Locking: kmt_compact_lock serialises settings changes that start or stop
 * the automatic work; the settings themselves are single words read with
 * READ_ONCE(). kmt_compact_reqs_lock (a spinlock) guards the request queue.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/mm.h>	/* HPAGE_PMD_ORDER */
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "trace.h"
#include "vm.h"

#define KMT_THRESHOLD_MAX	1000
#define KMT_INTERVAL_MIN_MS	1000
#define KMT_INTERVAL_MAX_MS	86400000

static DEFINE_MUTEX(kmt_compact_lock);
static bool kmt_compact_auto;
static unsigned int kmt_compact_threshold = 500;
static unsigned int kmt_compact_interval_ms = 60000;
static bool kmt_compact_on_vm_create;
/* Set once the sysfs files exist: module parameters only store before. */
static bool kmt_compact_running;

static atomic64_t kmt_compact_triggers[KMT_NR_COMPACT_CAUSES];
static const char * const kmt_compact_cause_name[KMT_NR_COMPACT_CAUSES] = {
	[KMT_COMPACT_MANUAL] = "manual",
	[KMT_COMPACT_AUTO] = "auto",
	[KMT_COMPACT_VM_CREATE] = "vm_create",
};

/* jiffies of the last automatic trigger per node (nr_node_ids entries). */
static unsigned long *kmt_auto_last;
static unsigned long kmt_auto_fallbacks;
static void kmt_compact_auto_work(struct work_struct *work);
static DECLARE_DELAYED_WORK(kmt_auto_work, kmt_compact_auto_work);

/* The order whose fragmentation matters to guests: the THP (PMD) order. */
static int kmt_huge_order(void)
{
	return HPAGE_PMD_ORDER;
}

/*
 * The kernel's per-node compaction triggers, opened at load: workers have
 * no usable filesystem root on newer kernels, so they cannot look the path
 * up themselves (nr_node_ids entries, NULL for nodes offline at load).
 */
static struct file **kmt_node_compact_file;

static struct file *kmt_open_node_compact(int nid)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/compact", nid);
	return filp_open(path, O_WRONLY, 0);
}

/*
 * Node @nid's trigger, opened now if the node came online after load. Only a
 * task with a filesystem root can open it (a writer of policy/compact, any
 * task on older kernels); the first opener keeps it until unload.
 * Context: process context.
 */
static struct file *kmt_node_compact_file_get(int nid)
{
	struct file *f = READ_ONCE(kmt_node_compact_file[nid]);

	if (f)
		return f;
	f = kmt_open_node_compact(nid);
	if (IS_ERR(f))
		return f;
	if (cmpxchg(&kmt_node_compact_file[nid], NULL, f)) {
		filp_close(f, NULL);
		f = READ_ONCE(kmt_node_compact_file[nid]);
	}
	return f;
}

/* Compact node @nid now, synchronously. Context: the compactor only. */
static int kmt_compact_node(int nid, enum kmt_compact_cause cause)
{
	struct file *f = kmt_node_compact_file_get(nid);
	loff_t pos = 0;
	ssize_t n;

	n = IS_ERR(f) ? PTR_ERR(f) : kernel_write(f, "1", 1, &pos);
	if (n < 0) {
		pr_warn_ratelimited("compact node %d (%s): %zd\n", nid,
				    kmt_compact_cause_name[cause], n);
		return n;
	}
	atomic64_inc(&kmt_compact_triggers[cause]);
	trace_compact_trigger(nid, cause);
	pr_info_ratelimited("compact node %d (%s)\n", nid, kmt_compact_cause_name[cause]);
	return 0;
}

/* ---- the compactor: the one writer of the kernel's triggers ---- */

/**
 * struct kmt_compact_req - a request to compact some nodes
 * @entry: in kmt_compact_reqs until the compactor takes it
 * @nodes: the nodes to compact, in node order
 * @cause: what the trigger is counted as
 * @err: 0, or the first error of a node's trigger
 * @done: completed by the compactor when every node was tried
 *
 * Lifetime: on the requester's stack; the requester waits for @done, after
 * which the compactor no longer touches it.
 */
struct kmt_compact_req {
	struct list_head entry;
	nodemask_t nodes;
	enum kmt_compact_cause cause;
	int err;
	struct completion done;
};

static LIST_HEAD(kmt_compact_reqs);
static DEFINE_SPINLOCK(kmt_compact_reqs_lock);

static void kmt_compactor_work(struct work_struct *work)
{
	struct kmt_compact_req *req;
	int nid, err;

	for (;;) {
		spin_lock(&kmt_compact_reqs_lock);
		req = list_first_entry_or_null(&kmt_compact_reqs, struct kmt_compact_req, entry);
		if (req)
			list_del(&req->entry);
		spin_unlock(&kmt_compact_reqs_lock);
		if (!req)
			return;
		for_each_node_mask(nid, req->nodes) {
			err = node_online(nid) ? kmt_compact_node(nid, req->cause) : -ENODEV;
			if (err && !req->err)
				req->err = err;
		}
		complete(&req->done);
		cond_resched();
	}
}

static DECLARE_WORK(kmt_compactor, kmt_compactor_work);

/*
 * Compact @nodes through the compactor and wait until it is done.
 * Context: process context, sleeps for as long as compaction takes.
 */
static int kmt_compact_nodes(const nodemask_t *nodes, enum kmt_compact_cause cause)
{
	struct kmt_compact_req req = { .nodes = *nodes, .cause = cause };

	init_completion(&req.done);
	spin_lock(&kmt_compact_reqs_lock);
	list_add_tail(&req.entry, &kmt_compact_reqs);
	spin_unlock(&kmt_compact_reqs_lock);
	queue_work(system_unbound_wq, &kmt_compactor);
	wait_for_completion(&req.done);
	return req.err;
}

static int kmt_compact_one(int nid, enum kmt_compact_cause cause)
{
	nodemask_t nodes = NODE_MASK_NONE;

	node_set(nid, nodes);
	return kmt_compact_nodes(&nodes, cause);
}

/* ---- automatic compaction ---- */

static void kmt_compact_auto_work(struct work_struct *work)
{
	unsigned long interval = msecs_to_jiffies(READ_ONCE(kmt_compact_interval_ms));
	unsigned int threshold = READ_ONCE(kmt_compact_threshold);
	unsigned long fallbacks = kmt_thp_fault_fallbacks();
	int nid;

	/*
	 * THP faults falling back to small pages, or VMs losing KVM 2M
	 * mappings, since the last look mean guests are being denied huge
	 * pages now: act at half the threshold.
	 */
	if (kmt_vms_lost_huge_mappings() || fallbacks != kmt_auto_fallbacks)
		threshold /= 2;
	kmt_auto_fallbacks = fallbacks;
	for_each_online_node(nid) {
		if (kmt_auto_last[nid] && time_before(jiffies, kmt_auto_last[nid] + interval))
			continue;
		if (kmt_node_unusable_index(nid, kmt_huge_order()) < threshold)
			continue;
		if (!kmt_compact_one(nid, KMT_COMPACT_AUTO))
			kmt_auto_last[nid] = jiffies ?: 1;
	}
	if (READ_ONCE(kmt_compact_auto))
		queue_delayed_work(system_unbound_wq, &kmt_auto_work, interval);
}

/* Start or stop the automatic work. Called with kmt_compact_lock held. */
static void kmt_compact_auto_apply(bool on)
{
	lockdep_assert_held(&kmt_compact_lock);
	WRITE_ONCE(kmt_compact_auto, on);
	if (!kmt_compact_running)
		return;
	if (on) {
		mod_delayed_work(system_unbound_wq, &kmt_auto_work, 0);
	} else {
		/* After this returns no trigger happens: no timer, no work. */
		cancel_delayed_work_sync(&kmt_auto_work);
	}
}

/* ---- compaction before a new VM faults its memory in ---- */

/**
 * kmt_compact_vm_added() - compact for a VM seen for the first time
 * @vm: the VM, with its first memslot snapshot
 *
 * When policy/compact_on_vm_create is on and a node holding free memory has
 * fewer free huge-page-sized blocks than the VM's address-space-0 slots
 * need, compact that node before the guest faults its memory in.
 *
 * Context: process context, on kmt_wq.
 */
void kmt_compact_vm_added(struct kmt_vm *vm)
{
	unsigned long nr_free[KMT_NR_ORDERS], need, have;
	const int order = kmt_huge_order();
	struct kmt_slots *snap;
	int nid, o;

	if (!READ_ONCE(kmt_compact_on_vm_create))
		return;
	snap = kmt_vm_slots_begin(vm);
	need = snap ? div_u64(snap->guest_bytes, PAGE_SIZE << order) : 0;
	kmt_vm_slots_end(vm);
	if (!need)
		return;
	for_each_online_node(nid) {
		unsigned long free_pages = 0;

		kmt_node_free_blocks(nid, nr_free);
		have = 0;
		for (o = 0; o < KMT_NR_ORDERS; o++) {
			free_pages += nr_free[o] << o;
			if (o >= order)
				have += nr_free[o] << (o - order);
		}
		if (free_pages && have < need)
			kmt_compact_one(nid, KMT_COMPACT_VM_CREATE);
	}
}

/* ---- settings: parsing shared by sysfs files and module parameters ---- */

static int kmt_parse_bool_word(const char *buf, bool *val)
{
	if (sysfs_streq(buf, "on"))
		*val = true;
	else if (sysfs_streq(buf, "off"))
		*val = false;
	else
		return -EINVAL;
	return 0;
}

static int kmt_parse_range(const char *buf, unsigned int min, unsigned int max,
			   unsigned int *val)
{
	unsigned int v;
	int ret = kstrtouint(buf, 10, &v);

	if (ret)
		return ret;	/* -EINVAL, or -ERANGE on overflow */
	if (v < min || v > max)
		return -EINVAL;
	*val = v;
	return 0;
}

static int kmt_set_compact_auto(const char *buf)
{
	bool on;
	int ret = kmt_parse_bool_word(buf, &on);

	if (ret)
		return ret;
	mutex_lock(&kmt_compact_lock);
	kmt_compact_auto_apply(on);
	mutex_unlock(&kmt_compact_lock);
	return 0;
}

static int kmt_set_threshold(const char *buf)
{
	unsigned int v;
	int ret = kmt_parse_range(buf, 0, KMT_THRESHOLD_MAX, &v);

	if (!ret)
		WRITE_ONCE(kmt_compact_threshold, v);
	return ret;
}

static int kmt_set_interval(const char *buf)
{
	unsigned int v;
	int ret = kmt_parse_range(buf, KMT_INTERVAL_MIN_MS, KMT_INTERVAL_MAX_MS, &v);

	if (!ret)
		WRITE_ONCE(kmt_compact_interval_ms, v);
	return ret;
}

static int kmt_set_on_vm_create(const char *buf)
{
	bool on;
	int ret = kmt_parse_bool_word(buf, &on);

	if (!ret)
		WRITE_ONCE(kmt_compact_on_vm_create, on);
	return ret;
}

static ssize_t kmt_show_bool_word(bool on, char *buf)
{
	return sysfs_emit(buf, on ? "off [on]\n" : "[off] on\n");
}

/* Module parameters: the same names, parsers and errors as policy/ files. */
struct kmt_param {
	int (*set)(const char *buf);
	int (*get)(char *buf);
};

static int kmt_param_set(const char *val, const struct kernel_param *kp)
{
	const struct kmt_param *p = kp->arg;
	int ret = p->set(val);

	if (ret)
		pr_err("%s: invalid value '%s'\n", kp->name, val);
	return ret;
}

static int kmt_param_get(char *buf, const struct kernel_param *kp)
{
	const struct kmt_param *p = kp->arg;

	return p->get(buf);
}

static const struct kernel_param_ops kmt_param_ops = {
	.set = kmt_param_set,
	.get = kmt_param_get,
};

static int kmt_get_compact_auto(char *buf)
{
	return sprintf(buf, "%s\n", READ_ONCE(kmt_compact_auto) ? "on" : "off");
}

static int kmt_get_threshold(char *buf)
{
	return sprintf(buf, "%u\n", READ_ONCE(kmt_compact_threshold));
}

static int kmt_get_interval(char *buf)
{
	return sprintf(buf, "%u\n", READ_ONCE(kmt_compact_interval_ms));
}

static int kmt_get_on_vm_create(char *buf)
{
	return sprintf(buf, "%s\n", READ_ONCE(kmt_compact_on_vm_create) ? "on" : "off");
}

static const struct kmt_param kmt_param_compact_auto = {
	kmt_set_compact_auto, kmt_get_compact_auto
};

static const struct kmt_param kmt_param_threshold = { kmt_set_threshold, kmt_get_threshold };
static const struct kmt_param kmt_param_interval = { kmt_set_interval, kmt_get_interval };

static const struct kmt_param kmt_param_on_vm_create = {
	kmt_set_on_vm_create, kmt_get_on_vm_create
};

module_param_cb(compact_auto, &kmt_param_ops, (void *)&kmt_param_compact_auto, 0400);
MODULE_PARM_DESC(compact_auto, "Compact fragmented nodes automatically: off (default), on");
module_param_cb(compact_threshold, &kmt_param_ops, (void *)&kmt_param_threshold, 0400);
MODULE_PARM_DESC(compact_threshold,
		 "Unusable-free index (permille, 0..1000) at the THP order that triggers automatic compaction of a node (default 500)");
module_param_cb(compact_interval_ms, &kmt_param_ops, (void *)&kmt_param_interval, 0400);
MODULE_PARM_DESC(compact_interval_ms,
		 "At most one automatic compaction per node per this many ms (1000..86400000, default 60000)");
module_param_cb(compact_on_vm_create, &kmt_param_ops, (void *)&kmt_param_on_vm_create, 0400);
MODULE_PARM_DESC(compact_on_vm_create,
		 "Compact nodes short of free huge blocks when a VM appears: off (default), on");

/* ---- policy/ files ---- */

static ssize_t compact_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	u64 total = 0;
	int i;

	for (i = 0; i < KMT_NR_COMPACT_CAUSES; i++)
		total += atomic64_read(&kmt_compact_triggers[i]);
	return sysfs_emit(buf, "%llu\n", total);
}

static ssize_t compact_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	nodemask_t nodes = NODE_MASK_NONE;
	unsigned int nid;
	int ret;

	if (!kmt_sysfs_text(buf, count))
		return -EINVAL;
	if (sysfs_streq(buf, "all")) {
		nodes = node_states[N_ONLINE];
	} else {
		ret = kstrtouint(buf, 10, &nid);
		if (ret)
			return ret;
		if (nid >= nr_node_ids || !node_online(nid))
			return -EINVAL;
		node_set(nid, nodes);
	}
	/* The compactor may lack a filesystem root to open a new node's file. */
	for_each_node_mask(nid, nodes) {
		struct file *f = kmt_node_compact_file_get(nid);

		if (IS_ERR(f))
			return PTR_ERR(f);
	}
	ret = kmt_compact_nodes(&nodes, KMT_COMPACT_MANUAL);
	return ret ?: count;
}

static ssize_t compact_auto_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return kmt_show_bool_word(READ_ONCE(kmt_compact_auto), buf);
}

static ssize_t compact_auto_store(struct kobject *kobj, struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	if (!kmt_sysfs_text(buf, count))
		return -EINVAL;
	return kmt_set_compact_auto(buf) ?: count;
}

static ssize_t compact_threshold_show(struct kobject *kobj, struct kobj_attribute *attr,
				      char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(kmt_compact_threshold));
}

static ssize_t compact_threshold_store(struct kobject *kobj, struct kobj_attribute *attr,
				       const char *buf, size_t count)
{
	if (!kmt_sysfs_text(buf, count))
		return -EINVAL;
	return kmt_set_threshold(buf) ?: count;
}

static ssize_t compact_interval_ms_show(struct kobject *kobj, struct kobj_attribute *attr,
					char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(kmt_compact_interval_ms));
}

static ssize_t compact_interval_ms_store(struct kobject *kobj, struct kobj_attribute *attr,
					 const char *buf, size_t count)
{
	if (!kmt_sysfs_text(buf, count))
		return -EINVAL;
	return kmt_set_interval(buf) ?: count;
}

static ssize_t compact_on_vm_create_show(struct kobject *kobj, struct kobj_attribute *attr,
					 char *buf)
{
	return kmt_show_bool_word(READ_ONCE(kmt_compact_on_vm_create), buf);
}

static ssize_t compact_on_vm_create_store(struct kobject *kobj, struct kobj_attribute *attr,
					  const char *buf, size_t count)
{
	if (!kmt_sysfs_text(buf, count))
		return -EINVAL;
	return kmt_set_on_vm_create(buf) ?: count;
}

static struct kobj_attribute kmt_compact_attr = __ATTR(compact, 0600, compact_show,
						       compact_store);
static struct kobj_attribute kmt_compact_auto_attr = __ATTR(compact_auto, 0600,
							    compact_auto_show,
							    compact_auto_store);
static struct kobj_attribute kmt_compact_threshold_attr = __ATTR(compact_threshold, 0600,
								 compact_threshold_show,
								 compact_threshold_store);
static struct kobj_attribute kmt_compact_interval_attr = __ATTR(compact_interval_ms, 0600,
								compact_interval_ms_show,
								compact_interval_ms_store);
static struct kobj_attribute kmt_compact_on_vm_create_attr = __ATTR(compact_on_vm_create, 0600,
								    compact_on_vm_create_show,
								    compact_on_vm_create_store);

static struct attribute *kmt_compact_attrs[] = {
	&kmt_compact_attr.attr,
	&kmt_compact_auto_attr.attr,
	&kmt_compact_threshold_attr.attr,
	&kmt_compact_interval_attr.attr,
	&kmt_compact_on_vm_create_attr.attr,
	NULL,
};

static const struct attribute_group kmt_compact_group = {
	.attrs = kmt_compact_attrs,
};

static struct kobject *kmt_compact_kobj;

/**
 * kmt_compact_stat_show() - compaction trigger lines of host/stat
 * @buf: a sysfs page holding earlier lines
 *
 * Context: any.
 * Return: the new length of @buf.
 */
int kmt_compact_stat_show(char *buf)
{
	int len = strlen(buf), i;

	for (i = 0; i < KMT_NR_COMPACT_CAUSES; i++)
		len += sysfs_emit_at(buf, len, "compact_trigger_%s %lld\n",
				     kmt_compact_cause_name[i],
				     atomic64_read(&kmt_compact_triggers[i]));
	return len;
}

static void kmt_compact_close_files(void)
{
	int nid;

	if (!kmt_node_compact_file)
		return;
	for (nid = 0; nid < nr_node_ids; nid++)
		if (kmt_node_compact_file[nid])
			filp_close(kmt_node_compact_file[nid], NULL);
	kfree(kmt_node_compact_file);
	kmt_node_compact_file = NULL;
}

/**
 * kmt_compact_init() - add the compaction files and start what the module
 *			parameters asked for
 * @policy_kobj: /sys/kernel/kvmmemtune/policy
 *
 * Context: module init.
 * Return: 0 or a negative errno, with nothing left behind.
 */
int kmt_compact_init(struct kobject *policy_kobj)
{
	int ret, nid;

	kmt_auto_last = kcalloc(nr_node_ids, sizeof(*kmt_auto_last), GFP_KERNEL);
	kmt_node_compact_file = kcalloc(nr_node_ids, sizeof(*kmt_node_compact_file), GFP_KERNEL);
	if (!kmt_auto_last || !kmt_node_compact_file) {
		ret = -ENOMEM;
		goto err;
	}
	for_each_online_node(nid) {
		struct file *f = kmt_open_node_compact(nid);

		if (IS_ERR(f)) {
			ret = PTR_ERR(f);
			pr_err("cannot open node %d's compaction trigger: %d\n", nid, ret);
			goto err;
		}
		kmt_node_compact_file[nid] = f;
	}
	ret = sysfs_create_group(policy_kobj, &kmt_compact_group);
	if (ret)
		goto err;
	kmt_compact_kobj = policy_kobj;
	kmt_auto_fallbacks = kmt_thp_fault_fallbacks();
	mutex_lock(&kmt_compact_lock);
	kmt_compact_running = true;
	kmt_compact_auto_apply(kmt_compact_auto);
	mutex_unlock(&kmt_compact_lock);
	return 0;
err:
	kmt_compact_close_files();
	kfree(kmt_auto_last);
	return ret;
}

/**
 * kmt_compact_exit() - stop automatic compaction and remove the files
 *
 * Context: module exit.
 */
void kmt_compact_exit(void)
{
	mutex_lock(&kmt_compact_lock);
	kmt_compact_running = false;
	cancel_delayed_work_sync(&kmt_auto_work);
	mutex_unlock(&kmt_compact_lock);
	sysfs_remove_group(kmt_compact_kobj, &kmt_compact_group);
	/* No requester is left; the compactor may still be leaving its loop. */
	flush_work(&kmt_compactor);
	kmt_compact_close_files();
	kfree(kmt_auto_last);
}
