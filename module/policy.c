// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune policy: transparent huge pages per VM process.
 *
 * The per-process THP state is the one prctl(PR_SET_THP_DISABLE) sets: it
 * covers every VM of the process and is inherited across fork. Huge pages
 * the process already has stay until they are split or reclaimed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "compat.h"
#include "vm.h"

static const char * const kmt_thp_mode_name[KMT_THP_NR_MODES] = {
	[KMT_THP_INHERIT] = "inherit",
	[KMT_THP_NEVER] = "never",
	[KMT_THP_ADVISED] = "advised",
};

/* Modes this kernel can set: "advised" needs 6.18+. */
static int kmt_thp_nr_modes(void)
{
	return KMT_HAVE_THP_ADVISED ? KMT_THP_NR_MODES : KMT_THP_ADVISED;
}

/**
 * kmt_thp_mode_show() - "[inherit] never" style line with @cur selected
 * @cur: the mode in force
 * @buf: a sysfs page
 *
 * Context: any.
 * Return: bytes written.
 */
ssize_t kmt_thp_mode_show(enum kmt_thp_mode cur, char *buf)
{
	int i, len = 0;

	for (i = 0; i < kmt_thp_nr_modes(); i++)
		len += sysfs_emit_at(buf, len, i == cur ? "%s[%s]" : "%s%s", i ? " " : "",
				     kmt_thp_mode_name[i]);
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}

/**
 * kmt_thp_mode_parse() - the mode a written keyword names
 * @buf: what was written (a trailing newline is allowed)
 *
 * Context: any.
 * Return: the mode, or -EINVAL for anything else.
 */
int kmt_thp_mode_parse(const char *buf)
{
	int i;

	for (i = 0; i < kmt_thp_nr_modes(); i++)
		if (sysfs_streq(buf, kmt_thp_mode_name[i]))
			return i;
	return -EINVAL;
}

/* Given to VMs when first seen; policy/thp_default, module parameter. */
static enum kmt_thp_mode kmt_thp_default = KMT_THP_INHERIT;

static int kmt_thp_default_param_set(const char *val, const struct kernel_param *kp)
{
	int mode = kmt_thp_mode_parse(val);

	if (mode < 0) {
		pr_err("thp_default: invalid value '%s'\n", val);
		return mode;
	}
	WRITE_ONCE(kmt_thp_default, mode);
	return 0;
}

static int kmt_thp_default_param_get(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%s\n", kmt_thp_mode_name[READ_ONCE(kmt_thp_default)]);
}

static const struct kernel_param_ops kmt_thp_default_ops = {
	.set = kmt_thp_default_param_set,
	.get = kmt_thp_default_param_get,
};
module_param_cb(thp_default, &kmt_thp_default_ops, NULL, 0400);
MODULE_PARM_DESC(thp_default,
		 "THP policy given to VMs when first seen: inherit (default), never, advised (6.18+)");

/* Read (@set false) or set the THP mode of @vm's process, under its mmap lock. */
static int kmt_vm_thp_access(struct kmt_vm *vm, enum kmt_thp_mode *mode, bool set)
{
	struct mm_struct *mm;
	int ret = 0;

	if (!kmt_vm_get_kvm(vm))
		return -ENODEV;
	mm = vm->kvm->mm;
	if (!mmget_not_zero(mm))
		mm = NULL;
	kmt_vm_put_kvm(vm);
	if (!mm)
		return -ENODEV;
	if (set) {
		if (mmap_write_lock_killable(mm)) {
			ret = -EINTR;
		} else {
			kmt_mm_thp_set(mm, *mode);
			mmap_write_unlock(mm);
		}
	} else {
		mmap_read_lock(mm);
		*mode = kmt_mm_thp_get(mm);
		mmap_read_unlock(mm);
	}
	mmput(mm);
	return ret;
}

/**
 * kmt_vm_thp_get() - the THP mode of @vm's process
 * @vm: the VM
 *
 * Context: process context; sleeps.
 * Return: the mode, or -ENODEV when the VM or its process is going away.
 */
int kmt_vm_thp_get(struct kmt_vm *vm)
{
	enum kmt_thp_mode mode;
	int ret = kmt_vm_thp_access(vm, &mode, false);

	return ret ?: mode;
}

/**
 * kmt_vm_thp_set() - set the THP mode of @vm's process
 * @vm: the VM
 * @mode: the new mode
 *
 * Context: process context; sleeps on the mm's mmap lock.
 * Return: 0, -ENODEV when the VM or its process is going away, -EINTR.
 */
int kmt_vm_thp_set(struct kmt_vm *vm, enum kmt_thp_mode mode)
{
	return kmt_vm_thp_access(vm, &mode, true);
}

/**
 * kmt_policy_vm_added() - apply policy/thp_default to a VM seen for the first time
 * @vm: the VM
 *
 * Context: process context, on kmt_wq.
 */
void kmt_policy_vm_added(struct kmt_vm *vm)
{
	enum kmt_thp_mode mode = READ_ONCE(kmt_thp_default);

	/* inherit leaves the process's own choice (prctl) alone. */
	if (mode != KMT_THP_INHERIT)
		kmt_vm_thp_set(vm, mode);
}

static ssize_t thp_default_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return kmt_thp_mode_show(READ_ONCE(kmt_thp_default), buf);
}

static ssize_t thp_default_store(struct kobject *kobj, struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	int mode = kmt_thp_mode_parse(buf);

	if (!kmt_sysfs_text(buf, count))
		return -EINVAL;
	if (mode < 0)
		return mode;
	WRITE_ONCE(kmt_thp_default, mode);
	return count;
}

static struct kobj_attribute kmt_thp_default_attr = __ATTR(thp_default, 0600, thp_default_show,
							    thp_default_store);

/**
 * kmt_policy_sysfs_init() - add the policy files
 * @policy_kobj: /sys/kernel/kvmmemtune/policy
 *
 * Context: module init.
 * Return: 0 or a negative errno.
 */
int kmt_policy_sysfs_init(struct kobject *policy_kobj)
{
	return sysfs_create_file(policy_kobj, &kmt_thp_default_attr.attr);
}
