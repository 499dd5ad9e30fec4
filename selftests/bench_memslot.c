// SPDX-License-Identifier: GPL-2.0
/*
 * bench_memslot: what kvmmemtune adds to memslot changes. A VM with a base
 * slot; a second 2 MiB slot is created and deleted again, 10,000 times per
 * variant (module loaded, not loaded) in rounds of 500 pairs, alternating.
 * The module's share is its commit hook (a kprobe) and the snapshot refresh
 * it queues; that work runs on the other vCPU, which under single-threaded
 * emulation takes time from the loop, so the wall clock sees it.
 */
#include "kmt_bench.h"

#define SLOT_SIZE (2 * MiB)
#define PAIRS_PER_ROUND 500
/* 20 rounds per variant x 500 = 10,000 create/delete pairs per variant. */
#define ROUND_PAIRS 20

struct churn {
	int vm;
	void *mem;
};

static int churn_round(void *arg, int loaded, double *out)
{
	struct churn *c = arg;
	double t = kmt_now_us();
	int i, ret;

	for (i = 0; i < PAIRS_PER_ROUND; i++) {
		ret = kmt_set_slot(c->vm, 1, 0, 1 * GiB, SLOT_SIZE, c->mem);
		if (!ret)
			ret = kmt_set_slot(c->vm, 1, 0, 1 * GiB, 0, c->mem);
		if (ret) {
			fprintf(stderr, "memslot: KVM_SET_USER_MEMORY_REGION: %s\n", strerror(-ret));
			return ret;
		}
	}
	out[0] = (kmt_now_us() - t) / PAIRS_PER_ROUND;
	return 0;
}

int main(void)
{
	struct churn c;
	struct kmt_round r = { .run = churn_round, .arg = &c, .nr_vms = 1 };
	const char *fig = "2 memslot churn: loaded/unloaded";
	struct kmt_dist q;
	struct kmt_ab ab;
	void *base;
	int kvm;

	kvm = kmt_kvm_fd();
	c.vm = kmt_vm_create(kvm);
	base = kmt_guest_mem(SLOT_SIZE);
	c.mem = kmt_guest_mem(SLOT_SIZE);
	if (c.vm < 0 || !base || !c.mem ||
	    kmt_set_slot(c.vm, 0, 0, 0, SLOT_SIZE, base) || kmt_wait_vm_count(getpid(), 1) != 1) {
		kmt_row_failed(fig, "<= 1.05", "no VM, or not seen by the module");
		return 1;
	}
	printf("memslot: per variant %d rounds x %d create+delete pairs = %d pairs\n",
	       ROUND_PAIRS, PAIRS_PER_ROUND, ROUND_PAIRS * PAIRS_PER_ROUND);
	if (kmt_ab_run(&r, ROUND_PAIRS, &ab)) {
		kmt_row_failed(fig, "<= 1.05", "round failed");
		return 1;
	}
	kmt_ab_print("memslot us/pair", &ab, 0, "us");
	kmt_dist(ab.ratio[0], ab.pairs, &q);
	kmt_row(fig, "<= 1.05", q.med <= 1.05,
		"%.3f (IQR %.3f..%.3f; %d+%d rounds of %d pairs = %d pairs per variant)",
		q.med, q.q1, q.q3, ab.pairs, ab.pairs, PAIRS_PER_ROUND,
		ab.pairs * PAIRS_PER_ROUND);
	close(c.vm);
	close(kvm);
	kmt_wait_vm_count(getpid(), 0);
	return 0;
}
