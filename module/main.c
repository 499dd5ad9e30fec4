// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune - per-VM memory visibility and tuning for KVM hosts.
 *
 * Wires the parts together in order and unwinds them in reverse.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

#include "compat.h"
#include "vm.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/*
 * For the selftests: fail the load at its very end, with everything set up
 * (sysfs, tracepoints, shrinker, hooks, VMs found), so that the complete
 * unwinding runs as a load failure would run it.
 */
static bool selftest_fail_late;
module_param(selftest_fail_late, bool, 0);
MODULE_PARM_DESC(selftest_fail_late,
		 "For the selftests only: fail the load after everything was set up (default: no)");

static int __init kmt_init(void)
{
	int ret, found;

	/*
	 * What host/stat reads (the reclaim counters) exists before the file
	 * does, and goes after it: a reader never finds it missing.
	 */
	ret = kmt_reclaim_init();
	if (ret)
		return ret;
	ret = kmt_sysfs_init();
	if (ret)
		goto err_reclaim;
	ret = kmt_vm_init();
	if (ret)
		goto err_sysfs;
	ret = kmt_kvm_hooks_init();
	if (ret)
		goto err_vm;
	/* After the hooks: a VM created meanwhile is seen by one or the other. */
	found = kmt_discover_vms();
	if (found < 0) {
		ret = found;
		goto err_hooks;
	}
	if (selftest_fail_late) {
		pr_info("selftest_fail_late: failing the load on purpose\n");
		ret = -ECANCELED;
		goto err_hooks;
	}
	pr_info("version %s loaded, %d existing VMs found\n", KMT_VERSION, found);
	return 0;

err_hooks:
	kmt_kvm_hooks_exit();
err_vm:
	kmt_vm_exit();
err_sysfs:
	kmt_sysfs_exit();
err_reclaim:
	kmt_reclaim_exit();
	return ret;
}

static void __exit kmt_exit(void)
{
	kmt_kvm_hooks_exit();
	kmt_vm_exit();
	kmt_sysfs_exit();
	kmt_reclaim_exit();
	pr_info("unloaded\n");
}

module_init(kmt_init);
module_exit(kmt_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The kvmmemtune developers");
MODULE_DESCRIPTION("Per-VM memory statistics and memory policy for KVM hosts");
MODULE_VERSION(KMT_VERSION);
