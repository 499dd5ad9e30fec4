// SPDX-License-Identifier: GPL-2.0
/*
 * bench_memory: kernel memory kvmmemtune spends per tracked VM and per
 * memslot. The kernel-memory counters of /proc/meminfo that can hold what
 * the module allocates (Slab: its records, memslot snapshots, sysfs nodes;
 * Percpu: its per-VM counters; VmallocUsed: large snapshots; KernelStack
 * for completeness) are read before and after making 200 VMs, once with the
 * module loaded and once without, in alternating rounds. KVM's own memory
 * for those VMs is in both deltas and cancels:
 *
 *   per VM   = (delta_loaded - delta_unloaded) with 1 slot per VM / 200
 *   per slot = ((same with 64 slots) - (same with 1 slot)) / (200 * 63)
 *
 * Before each reading: two RCU grace periods (membarrier) around a pause,
 * so that RCU-deferred frees of earlier rounds are done, and the dentry and
 * inode caches dropped (what lookups left there is not the module's).
 */
#include <linux/membarrier.h>
#include "kmt_bench.h"

#define NR_VMS 200
#define MANY_SLOTS 64
#define SLOT_SIZE 4096
#define PAIRS 3

static const char * const meminfo_keys[] = { "Slab:", "Percpu:", "VmallocUsed:", "KernelStack:" };

/* Sum of the kernel-memory counters above, in KiB; -1 on error. */
static long long kernel_kib(void)
{
	char buf[8192], *p;
	long long sum = 0;
	size_t i;

	if (kmt_read("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	for (i = 0; i < sizeof(meminfo_keys) / sizeof(meminfo_keys[0]); i++) {
		p = strstr(buf, meminfo_keys[i]);
		if (!p)
			return -1;
		sum += strtoll(p + strlen(meminfo_keys[i]), NULL, 10);
	}
	return sum;
}

static void settle(void)
{
	syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	kmt_sleep_ms(500);
	syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	kmt_write("/proc/sys/vm/drop_caches", "2");
}

struct mem {
	int kvm;
	int nr_slots;
	uint8_t *mem;
	int vm[NR_VMS];
};

/* out[0] = KiB of kernel memory while NR_VMS VMs of nr_slots slots exist. */
static int mem_round(void *arg, int loaded, double *out)
{
	struct mem *m = arg;
	long long before, after;
	int i, s, ret = 0, made = 0;

	settle();
	before = kernel_kib();
	for (i = 0; i < NR_VMS && !ret; i++) {
		m->vm[i] = kmt_vm_create(m->kvm);
		if (m->vm[i] < 0) {
			ret = -errno;
			break;
		}
		made++;
		for (s = 0; s < m->nr_slots && !ret; s++)
			ret = kmt_set_slot(m->vm[i], s, 0, (uint64_t)s * 2 * MiB, SLOT_SIZE,
					   m->mem + (size_t)s * SLOT_SIZE);
	}
	/* Records and snapshots are made on a workqueue: let it finish. */
	if (loaded)
		for (i = 0; i < 30000 && kmt_vms_entries() < NR_VMS; i++)
			kmt_sleep_ms(1);
	settle();
	after = kernel_kib();
	for (i = 0; i < made; i++)
		close(m->vm[i]);
	for (i = 0; i < 30000 && kmt_vms_entries(); i++)
		kmt_sleep_ms(1);
	if (ret) {
		fprintf(stderr, "memory: VM %d: %s\n", made, strerror(-ret));
		return ret;
	}
	if (before < 0 || after < 0)
		return -EIO;
	out[0] = after - before;
	return 0;
}

/* Median over pairs of (loaded - unloaded) KiB, with its spread. */
static void pair_diffs(const struct kmt_ab *ab, struct kmt_dist *d)
{
	double diff[KMT_MAX_ROUNDS];
	int p;

	for (p = 0; p < ab->pairs; p++)
		diff[p] = ab->loaded[0][p] - ab->unloaded[0][p];
	kmt_dist(diff, ab->pairs, d);
}

int main(void)
{
	static struct mem m;
	struct kmt_round r = { .run = mem_round, .arg = &m, .nr_vms = 0 };
	const char *fig_vm = "6 kernel memory per tracked VM";
	const char *fig_slot = "6 kernel memory per memslot";
	struct kmt_ab one, many;
	struct kmt_dist d1, d64;
	double per_vm, per_slot;

	m.kvm = kmt_kvm_fd();
	m.mem = kmt_guest_mem(MANY_SLOTS * SLOT_SIZE);
	if (m.kvm < 0 || !m.mem || kernel_kib() < 0) {
		kmt_row_failed(fig_vm, "<= 8 KiB", "no /dev/kvm, memory or meminfo");
		return 1;
	}
	printf("memory: Slab+Percpu+VmallocUsed+KernelStack delta while %d VMs exist, "
	       "loaded minus unloaded\n", NR_VMS);
	m.nr_slots = 1;
	if (kmt_ab_run(&r, PAIRS, &one)) {
		kmt_row_failed(fig_vm, "<= 8 KiB", "round failed");
		return 1;
	}
	kmt_ab_print("memory KiB delta, 200 VMs x 1 slot", &one, 0, "KiB");
	m.nr_slots = MANY_SLOTS;
	if (kmt_ab_run(&r, PAIRS, &many)) {
		kmt_row_failed(fig_slot, "<= 256 B", "round failed");
		return 1;
	}
	kmt_ab_print("memory KiB delta, 200 VMs x 64 slots", &many, 0, "KiB");
	pair_diffs(&one, &d1);
	pair_diffs(&many, &d64);
	per_vm = d1.med * 1024 / NR_VMS;
	per_slot = (d64.med - d1.med) * 1024 / (NR_VMS * (MANY_SLOTS - 1));
	printf("memory: module's share with 1 slot/VM %.0f KiB (min %.0f max %.0f), "
	       "with 64 slots/VM %.0f KiB (min %.0f max %.0f)\n",
	       d1.med, d1.min, d1.max, d64.med, d64.min, d64.max);
	kmt_row(fig_vm, "<= 8 KiB", per_vm <= 8192,
		"%.0f B (%.0f KiB for %d VMs; median of %d pairs, min %.0f max %.0f KiB)",
		per_vm, d1.med, NR_VMS, d1.n, d1.min, d1.max);
	kmt_row(fig_slot, "<= 256 B", per_slot <= 256,
		"%.0f B (64 vs 1 slots/VM: %.0f vs %.0f KiB for %d VMs; %d pairs each)",
		per_slot, d64.med, d1.med, NR_VMS, d64.n);
	close(m.kvm);
	return 0;
}
