// SPDX-License-Identifier: GPL-2.0
/*
 * bench_hotpath: what kvmmemtune's mmu notifier adds to invalidations of
 * guest memory. A VM with one 256 MiB slot; one loop drops a 64 KiB window
 * of it (MADV_DONTNEED), touches it back in, and toggles its protection
 * (read-only, read-write), so every loop fires about three mmu-notifier
 * invalidations over the slot plus 16 page faults. Windows walk the slot.
 * Time per loop with the module loaded vs not, in alternating rounds.
 */
#include "kmt_bench.h"

#define SLOT_SIZE (256 * MiB)
#define WINDOW (64 * 1024)
#define PAIRS 15
/* Aim for rounds this long: long enough for the clock, short against drift. */
#define ROUND_US 300000.0

struct hot {
	volatile uint8_t *mem;
	size_t off;
	long loops;	/* per round, from calibration */
};

static int hot_loop(struct hot *h)
{
	volatile uint8_t *p = h->mem + h->off;
	size_t i;

	if (madvise((void *)p, WINDOW, MADV_DONTNEED))
		return -errno;
	for (i = 0; i < WINDOW; i += 4096)
		p[i] = 1;
	if (mprotect((void *)p, WINDOW, PROT_READ) ||
	    mprotect((void *)p, WINDOW, PROT_READ | PROT_WRITE))
		return -errno;
	h->off = (h->off + WINDOW) % SLOT_SIZE;
	return 0;
}

static int hot_round(void *arg, int loaded, double *out)
{
	struct hot *h = arg;
	double t = kmt_now_us();
	long i;
	int ret;

	for (i = 0; i < h->loops; i++) {
		ret = hot_loop(h);
		if (ret)
			return ret;
	}
	out[0] = (kmt_now_us() - t) / h->loops;
	return 0;
}

int main(void)
{
	struct hot h = { 0 };
	struct kmt_round r = { .run = hot_round, .arg = &h, .nr_vms = 1 };
	struct kmt_dist q;
	struct kmt_ab ab;
	char dir[256];
	uint8_t *raw;
	size_t off;
	double t;
	int kvm, vm;
	const char *fig = "1 hot path: loaded/unloaded";

	kvm = kmt_kvm_fd();
	vm = kmt_vm_create(kvm);
	raw = kmt_guest_mem(SLOT_SIZE);
	if (vm < 0 || !raw) {
		kmt_row_failed(fig, "<= 1.02", "no VM or memory");
		return 1;
	}
	/* 4K pages: THP would make most invalidations split a huge page. */
	madvise(raw, SLOT_SIZE, MADV_NOHUGEPAGE);
	for (off = 0; off < SLOT_SIZE; off += 4096)
		raw[off] = 1;
	h.mem = raw;
	if (kmt_set_slot(vm, 0, 0, 0, SLOT_SIZE, raw) || kmt_wait_vm_count(getpid(), 1) != 1 ||
	    kmt_vm_newest(getpid(), dir, sizeof(dir))) {
		kmt_row_failed(fig, "<= 1.02", "VM not seen by the module");
		return 1;
	}
	/* Calibrate (module loaded, as guest-init left it): loops per round. */
	t = kmt_now_us();
	for (h.loops = 0; kmt_now_us() - t < ROUND_US; h.loops++)
		hot_loop(&h);
	if (h.loops < 20)
		h.loops = 20;
	printf("hotpath: 256 MiB slot, 64 KiB windows; one loop = MADV_DONTNEED + 16 faults + "
	       "2 mprotect; %ld loops per round\n", h.loops);
	if (kmt_ab_run(&r, PAIRS, &ab)) {
		kmt_row_failed(fig, "<= 1.02", "module load/unload failed");
		return 1;
	}
	kmt_ab_print("hotpath us/loop", &ab, 0, "us");
	/* The notifier does see the loops (counters restart at each load). */
	for (off = 0; off < 16; off++)
		hot_loop(&h);
	kmt_vm_newest(getpid(), dir, sizeof(dir));	/* renamed by the reload */
	printf("hotpath: 16 loops charged invalidate_other_bytes %lld numa_hint_bytes %lld\n",
	       kmt_stat(dir, "invalidate_other_bytes"), kmt_stat(dir, "numa_hint_bytes"));
	kmt_dist(ab.ratio[0], ab.pairs, &q);
	kmt_row(fig, "<= 1.02", q.med <= 1.02,
		"%.3f (IQR %.3f..%.3f; %d+%d rounds of %ld loops, ABBA)", q.med, q.q1, q.q3,
		ab.pairs, ab.pairs, h.loops);
	munmap(raw, SLOT_SIZE);
	close(vm);
	close(kvm);
	kmt_wait_vm_count(getpid(), 0);
	return 0;
}
