// SPDX-License-Identifier: GPL-2.0
/*
 * bench_stat: reading vms/<id>/stat costs the same whatever the guest size,
 * and far less than /proc/PID/smaps_rollup of the same process. A child
 * process holds a VM with 64 MiB of resident guest memory, this process one
 * with 1 GiB (both 4K-backed, as a guest without THP is). Each repetition
 * reads the small VM's stat, the large VM's stat (open, read, close, as
 * `cat` does; batches of reads for the clock's sake) and this process's
 * smaps_rollup once, so the three figures of one repetition are adjacent in
 * time.
 */
#include <signal.h>
#include <sys/wait.h>
#include "kmt_bench.h"

#define SMALL (64 * MiB)
#define LARGE (1 * GiB)
#define REPS 15
#define BATCH 20

/* A VM with @size bytes of resident 4K-backed memory; returns the VM fd. */
static int resident_vm(int kvm, size_t size)
{
	uint8_t *mem = kmt_guest_mem(size);
	int vm = kmt_vm_create(kvm);
	size_t off;

	if (!mem || vm < 0)
		return -1;
	madvise(mem, size, MADV_NOHUGEPAGE);
	for (off = 0; off < size; off += 4096)
		mem[off] = 1;
	if (kmt_set_slot(vm, 0, 0, 0, size, mem))
		return -1;
	return vm;
}

/* Mean time of one read of @path over BATCH reads, in us. */
static double read_us(const char *path, int batch)
{
	static char buf[1 << 16];
	double t = kmt_now_us();
	int i;

	for (i = 0; i < batch; i++)
		kmt_read(path, buf, sizeof(buf));
	return (kmt_now_us() - t) / batch;
}

int main(void)
{
	const char *fig_size = "5 stat read: 1 GiB / 64 MiB guest";
	const char *fig_proc = "5 stat read / smaps_rollup read";
	double small[REPS], large[REPS], proc[REPS], size_ratio[REPS], proc_ratio[REPS];
	char small_dir[256], large_dir[256], small_stat[512], large_stat[512];
	struct kmt_dist ds, dl, dp, qs, qp;
	int kvm, vm, ready[2], i;
	pid_t child;
	char c;

	kvm = kmt_kvm_fd();
	if (kvm < 0 || pipe(ready)) {
		kmt_row_failed(fig_size, "0.83..1.2", "no /dev/kvm");
		return 1;
	}
	child = fork();
	if (child == 0) {
		vm = resident_vm(kvm, SMALL);
		c = vm < 0 ? 'n' : 'y';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	vm = resident_vm(kvm, LARGE);
	if (child < 0 || vm < 0 || read(ready[0], &c, 1) != 1 || c != 'y' ||
	    kmt_wait_vm_count(child, 1) != 1 || kmt_wait_vm_count(getpid(), 1) != 1 ||
	    kmt_vm_newest(child, small_dir, sizeof(small_dir)) ||
	    kmt_vm_newest(getpid(), large_dir, sizeof(large_dir))) {
		kmt_row_failed(fig_size, "0.83..1.2", "VMs not made or not seen by the module");
		if (child > 0)
			kill(child, SIGKILL);
		return 1;
	}
	snprintf(small_stat, sizeof(small_stat), "%s/stat", small_dir);
	snprintf(large_stat, sizeof(large_stat), "%s/stat", large_dir);
	/* Warm up: dentries, the snapshot of each VM. */
	read_us(small_stat, 2);
	read_us(large_stat, 2);
	read_us("/proc/self/smaps_rollup", 1);
	for (i = 0; i < REPS; i++) {
		/* Alternate which VM goes first, against drift within a repetition. */
		if (i % 2) {
			large[i] = read_us(large_stat, BATCH);
			small[i] = read_us(small_stat, BATCH);
		} else {
			small[i] = read_us(small_stat, BATCH);
			large[i] = read_us(large_stat, BATCH);
		}
		proc[i] = read_us("/proc/self/smaps_rollup", 1);
		size_ratio[i] = large[i] / small[i];
		proc_ratio[i] = large[i] / proc[i];
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	kmt_dist(small, REPS, &ds);
	kmt_dist(large, REPS, &dl);
	kmt_dist(proc, REPS, &dp);
	kmt_dist(size_ratio, REPS, &qs);
	kmt_dist(proc_ratio, REPS, &qp);
	printf("stat: %d reps (stat: mean of %d reads each)  stat 64 MiB median %.1f us "
	       "(min %.1f max %.1f)  stat 1 GiB median %.1f us (min %.1f max %.1f)  "
	       "smaps_rollup 1 GiB median %.0f us (min %.0f max %.0f)\n",
	       REPS, BATCH, ds.med, ds.min, ds.max, dl.med, dl.min, dl.max, dp.med, dp.min,
	       dp.max);
	kmt_row(fig_size, "0.83..1.2", qs.med >= 1 / 1.2 && qs.med <= 1.2,
		"%.3f (%.1f / %.1f us; IQR %.3f..%.3f; %d reps of %d reads)", qs.med, dl.med,
		ds.med, qs.q1, qs.q3, REPS, BATCH);
	kmt_row(fig_proc, "< 0.05", qp.med < 0.05,
		"%.4f (%.1f / %.0f us, 1 GiB 4K-backed; IQR %.4f..%.4f; %d reps)", qp.med,
		dl.med, dp.med, qp.q1, qp.q3, REPS);
	close(vm);
	close(kvm);
	kmt_wait_vm_count(getpid(), 0);
	return 0;
}
