// SPDX-License-Identifier: GPL-2.0
/*
 * bench_memory: kernel memory kvmmemtune spends per tracked VM and per
 * memslot. 200 VM processes (one VM each, as with QEMU) are made once and
 * left alone; only the module is switched: loaded (it finds the 200 VMs,
 * through the same per-VM path as at first sight), unloaded (it frees all
 * it had), in alternating rounds. Each reading sums what can hold the
 * module's allocations: the bytes of allocated slab objects (its records,
 * memslot snapshots, sysfs nodes: active_objs x objsize of every cache in
 * /proc/slabinfo, after every cache was shrunk so that objects freed into
 * per-CPU caches count as free), and from /proc/meminfo Percpu (its per-VM
 * counters), VmallocUsed (large snapshots) and KernelStack (for
 * completeness). Slab pages (meminfo's Slab) would hide the module's
 * objects in partly used pages that outlive an unload. KVM's memory for
 * the VMs does not change between the readings, so it does not enter; the
 * module's fixed cost (no VM) is measured the same way and taken off:
 *
 *   per VM   = ((loaded - unloaded) with 200 VMs of 1 slot - same with no VM) / 200
 *   per slot = ((same with 200 VMs of 64 slots) - (same with 1 slot)) / (200 * 63)
 *
 * Before each reading: RCU grace periods (membarrier) around a pause, so
 * that RCU-deferred frees are done, and the dentry and inode caches dropped
 * (what lookups left there is not the module's).
 */
#include <linux/membarrier.h>
#include <signal.h>
#include <sys/wait.h>
#include "kmt_bench.h"

#define NR_VMS 200
#define MANY_SLOTS 64
#define SLOT_SIZE 4096
#define PAIRS 7

static const char * const meminfo_keys[] = { "Percpu:", "VmallocUsed:", "KernelStack:" };

/* Bytes of allocated slab objects, from /proc/slabinfo; -1 on error. */
static long long slab_object_bytes(void)
{
	unsigned long long active, total, size;
	long long sum = 0;
	char line[512], name[128];
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %llu %llu %llu", name, &active, &total, &size) == 4)
			sum += active * size;
	fclose(f);
	return sum;
}

/* Slab objects plus the meminfo counters above, in KiB; -1 on error. */
static long long kernel_kib(void)
{
	long long sum = slab_object_bytes() / 1024;
	char buf[8192], *p;
	size_t i;

	if (sum < 0 || kmt_read("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	for (i = 0; i < sizeof(meminfo_keys) / sizeof(meminfo_keys[0]); i++) {
		p = strstr(buf, meminfo_keys[i]);
		if (!p)
			return -1;
		sum += strtoll(p + strlen(meminfo_keys[i]), NULL, 10);
	}
	return sum;
}

/* Empty every slab cache's per-CPU caches into its slabs (SLUB's shrink). */
static void shrink_slabs(void)
{
	DIR *d = opendir("/sys/kernel/slab");
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type == DT_LNK)	/* links: merged caches */
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", e->d_name);
		kmt_write(path, "1");
	}
	closedir(d);
}

static void settle(void)
{
	syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	kmt_sleep_ms(500);
	syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	kmt_write("/proc/sys/vm/drop_caches", "2");
	shrink_slabs();
}

struct fleet {
	int nr_vms;
	pid_t pid[NR_VMS];
};

/* A child with one VM of @nr_slots slots, until killed. */
static pid_t vm_process(int kvm, int nr_slots, int ready)
{
	pid_t pid = fork();
	uint8_t *mem;
	int vm, s, ret;
	char c = 'n';

	if (pid)
		return pid;
	mem = kmt_guest_mem((size_t)nr_slots * SLOT_SIZE);
	vm = kmt_vm_create(kvm);
	ret = !mem || vm < 0;
	for (s = 0; s < nr_slots && !ret; s++)
		ret = kmt_set_slot(vm, s, 0, (uint64_t)s * 2 * MiB, SLOT_SIZE,
				   mem + (size_t)s * SLOT_SIZE);
	if (!ret)
		c = 'y';
	if (write(ready, &c, 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

static void fleet_stop(struct fleet *f)
{
	int i;

	for (i = 0; i < f->nr_vms; i++)
		kill(f->pid[i], SIGKILL);
	for (i = 0; i < f->nr_vms; i++)
		waitpid(f->pid[i], NULL, 0);
	f->nr_vms = 0;
	for (i = 0; i < 30000 && kmt_vms_entries(); i++)
		kmt_sleep_ms(1);
}

static int fleet_start(struct fleet *f, int kvm, int nr_vms, int nr_slots)
{
	int ready[2], i, ret = 0;
	char c;

	f->nr_vms = 0;
	if (pipe(ready))
		return -errno;
	for (i = 0; i < nr_vms; i++) {
		f->pid[i] = vm_process(kvm, nr_slots, ready[1]);
		if (f->pid[i] < 0) {
			ret = -errno;
			break;
		}
		f->nr_vms++;
		if (read(ready[0], &c, 1) != 1 || c != 'y') {
			ret = -EIO;
			break;
		}
	}
	close(ready[0]);
	close(ready[1]);
	if (ret)
		fleet_stop(f);
	return ret;
}

/* out[0] = KiB of kernel memory now, the module loaded or not. */
static int mem_round(void *arg, int loaded, double *out)
{
	struct fleet *f = arg;
	long long kib;
	int i;

	/* After a load: until the module has a directory for every VM. */
	for (i = 0; loaded && i < 30000 && kmt_vms_entries() < f->nr_vms; i++)
		kmt_sleep_ms(1);
	if (loaded && kmt_vms_entries() < f->nr_vms)
		return -ETIMEDOUT;
	settle();
	kib = kernel_kib();
	if (kib < 0)
		return -EIO;
	out[0] = kib;
	return 0;
}

/* Median over pairs of (loaded - unloaded) KiB with @nr_vms VMs of @nr_slots. */
static int module_kib(int kvm, int nr_vms, int nr_slots, struct kmt_dist *d)
{
	static struct fleet f;
	struct kmt_round r = { .run = mem_round, .arg = &f, .nr_vms = 0 };
	double diff[KMT_MAX_ROUNDS];
	struct kmt_ab ab;
	int p, ret;

	ret = fleet_start(&f, kvm, nr_vms, nr_slots);
	if (ret) {
		fprintf(stderr, "memory: %d VMs of %d slots: %s\n", nr_vms, nr_slots,
			strerror(-ret));
		return ret;
	}
	ret = kmt_ab_run(&r, PAIRS, &ab);
	fleet_stop(&f);
	if (ret)
		return ret;
	for (p = 0; p < ab.pairs; p++)
		diff[p] = ab.loaded[0][p] - ab.unloaded[0][p];
	kmt_dist(diff, ab.pairs, d);
	printf("memory: %3d VMs x %2d slots: loaded - unloaded median %.0f KiB "
	       "(min %.0f max %.0f; %d pairs, ABBA)\n",
	       nr_vms, nr_slots, d->med, d->min, d->max, d->n);
	return 0;
}

int main(void)
{
	const char *fig_vm = "6 kernel memory per tracked VM";
	const char *fig_slot = "6 kernel memory per memslot";
	struct kmt_dist d0, d1, d64;
	double per_vm, per_slot;
	int kvm;

	kvm = kmt_kvm_fd();
	if (kvm < 0 || kernel_kib() < 0) {
		kmt_row_failed(fig_vm, "<= 8 KiB", "no /dev/kvm, /proc/slabinfo or meminfo");
		return 1;
	}
	printf("memory: slab objects (slabinfo, caches shrunk)+Percpu+VmallocUsed+KernelStack, "
	       "module loaded minus unloaded, VM processes unchanged\n");
	if (module_kib(kvm, 0, 0, &d0) || module_kib(kvm, NR_VMS, 1, &d1) ||
	    module_kib(kvm, NR_VMS, MANY_SLOTS, &d64)) {
		kmt_row_failed(fig_vm, "<= 8 KiB", "round failed");
		return 1;
	}
	per_vm = (d1.med - d0.med) * 1024 / NR_VMS;
	per_slot = (d64.med - d1.med) * 1024 / (NR_VMS * (MANY_SLOTS - 1));
	kmt_row(fig_vm, "<= 8 KiB", per_vm <= 8192,
		"%.0f B ((%.0f - %.0f KiB) / %d VMs; medians of %d pairs, 1-slot min %.0f max %.0f KiB)",
		per_vm, d1.med, d0.med, NR_VMS, d1.n, d1.min, d1.max);
	kmt_row(fig_slot, "<= 256 B", per_slot <= 256,
		"%.0f B ((%.0f - %.0f KiB) / (%d VMs x 63); 64-slot min %.0f max %.0f KiB)",
		per_slot, d64.med, d1.med, NR_VMS, d64.min, d64.max);
	close(kvm);
	return 0;
}
