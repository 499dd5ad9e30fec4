// SPDX-License-Identifier: GPL-2.0
/*
 * bench_scan: what a kvmmemtune scan of a 1 GiB guest costs, against what a
 * user reads instead (/proc/PID/smaps_rollup + /proc/PID/numa_maps of the VM
 * process), both measured in this one run. Prints medians and their ratio.
 */
#include "kmt_bench.h"

#define REPS 15

static void drain(const char *path)
{
	static char buf[1 << 20];

	kmt_read(path, buf, sizeof(buf));
}

static int bench(const char *variant, int advice)
{
	const size_t size = 1024 * MiB;
	double scan[REPS], proc[REPS], t, ratio;
	char dir[256], path[512], figure[64];
	int kvm, vm, i;
	uint8_t *raw, *mem;
	size_t off;

	kvm = kmt_kvm_fd();
	vm = kmt_vm_create(kvm);
	raw = kmt_guest_mem(size + 2 * MiB);
	if (vm < 0 || !raw)
		return 1;
	mem = (uint8_t *)(((uintptr_t)raw + 2 * MiB - 1) & ~(2 * MiB - 1));
	madvise(mem, size, advice);
	for (off = 0; off < size; off += 4096)
		mem[off] = 1;
	if (kmt_set_slot(vm, 0, 0, 0, size, mem) || kmt_wait_vm_count(getpid(), 1) != 1 ||
	    kmt_vm_newest(getpid(), dir, sizeof(dir)))
		return 1;
	snprintf(path, sizeof(path), "%s/scan", dir);
	for (i = 0; i < REPS; i++) {
		t = kmt_now_us();
		if (kmt_write(path, "1"))
			return 1;
		scan[i] = kmt_now_us() - t;
		t = kmt_now_us();
		drain("/proc/self/smaps_rollup");
		drain("/proc/self/numa_maps");
		proc[i] = kmt_now_us() - t;
	}
	qsort(scan, REPS, sizeof(double), kmt_cmp_double);
	qsort(proc, REPS, sizeof(double), kmt_cmp_double);
	ratio = scan[REPS / 2] / proc[REPS / 2];
	printf("scan-1GiB-%-4s  reps %d  kvmmemtune scan median %8.0f us (min %.0f max %.0f)  "
	       "smaps_rollup+numa_maps median %8.0f us (min %.0f max %.0f)  ratio %.3f  "
	       "(resident %lld, thp %lld, lock max %lld us)\n",
	       variant, REPS, scan[REPS / 2], scan[0], scan[REPS - 1], proc[REPS / 2], proc[0],
	       proc[REPS - 1], ratio,
	       kmt_stat(dir, "scan_resident_bytes"), kmt_stat(dir, "scan_thp_bytes"),
	       kmt_stat(dir, "scan_lock_max_us"));
	snprintf(figure, sizeof(figure), "4 scan 1 GiB %s-backed / proc", variant);
	kmt_row(figure, "<= 0.5", ratio <= 0.5,
		"%.3f (%.0f / %.0f us; medians of %d reps, scan min %.0f max %.0f)", ratio,
		scan[REPS / 2], proc[REPS / 2], REPS, scan[0], scan[REPS - 1]);
	munmap(raw, size + 2 * MiB);
	close(vm);
	close(kvm);
	kmt_wait_vm_count(getpid(), 0);
	return 0;
}

int main(void)
{
	int ret;

	ret = bench("4K", MADV_NOHUGEPAGE);
	ret |= bench("THP", MADV_HUGEPAGE);
	return ret;
}
