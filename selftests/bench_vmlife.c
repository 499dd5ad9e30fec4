// SPDX-License-Identifier: GPL-2.0
/*
 * bench_vmlife: what kvmmemtune adds to creating and destroying VMs. One
 * round creates 200 VMs, each with one 64 KiB memslot (the module sees a VM
 * at its first memslot), then closes them all. Two figures per VM:
 * until the last fd is closed, and, with the module loaded, until
 * /sys/kernel/kvmmemtune/vms is empty again: the module's own records go
 * on a workqueue, and a VM whose last reference the module held at close
 * is destroyed there, after close() returned.
 */
#include "kmt_bench.h"

#define NR_VMS 200
#define SLOT_SIZE (64 * 1024)
#define PAIRS 6

struct life {
	int kvm;
	void *mem;
	int vm[NR_VMS];
};

static int life_round(void *arg, int loaded, double *out)
{
	struct life *l = arg;
	double t0 = kmt_now_us(), t1;
	int i, ret;

	for (i = 0; i < NR_VMS; i++) {
		l->vm[i] = kmt_vm_create(l->kvm);
		if (l->vm[i] < 0) {
			ret = -errno;
			goto err;
		}
		ret = kmt_set_slot(l->vm[i], 0, 0, 0, SLOT_SIZE, l->mem);
		if (ret) {
			close(l->vm[i]);
			goto err;
		}
	}
	for (i = 0; i < NR_VMS; i++)
		close(l->vm[i]);
	t1 = kmt_now_us();
	out[0] = (t1 - t0) / NR_VMS;
	out[1] = out[0];
	if (loaded) {
		/* Liveness bound only: 30 s. */
		for (i = 0; i < 30000 && kmt_vms_entries(); i++)
			kmt_sleep_ms(1);
		if (kmt_vms_entries()) {
			fprintf(stderr, "vmlife: vms/ not empty 30 s after close\n");
			return -ETIMEDOUT;
		}
		out[1] = (kmt_now_us() - t0) / NR_VMS;
	}
	return 0;
err:
	fprintf(stderr, "vmlife: VM %d: %s\n", i, strerror(-ret));
	while (--i >= 0)
		close(l->vm[i]);
	return ret;
}

int main(void)
{
	static struct life l;
	struct kmt_round r = { .run = life_round, .arg = &l, .nr_vms = 0 };
	const char *fig_fd = "3 VM create/destroy: fds closed";
	const char *fig_gone = "3 ... until vms/ empty (loaded)";
	struct kmt_dist q0, q1;
	struct kmt_ab ab;

	l.kvm = kmt_kvm_fd();
	l.mem = kmt_guest_mem(SLOT_SIZE);
	if (l.kvm < 0 || !l.mem) {
		kmt_row_failed(fig_fd, "<= 1.05", "no /dev/kvm or memory");
		return 1;
	}
	printf("vmlife: one round = %d VMs created (each with a 64 KiB slot), then all closed\n",
	       NR_VMS);
	if (kmt_ab_run(&r, PAIRS, &ab)) {
		kmt_row_failed(fig_fd, "<= 1.05", "round failed");
		return 1;
	}
	kmt_ab_print("vmlife us/VM until fds closed", &ab, 0, "us");
	kmt_ab_print("vmlife us/VM until vms/ empty (unloaded: fds closed)", &ab, 1, "us");
	kmt_dist(ab.ratio[0], ab.pairs, &q0);
	kmt_dist(ab.ratio[1], ab.pairs, &q1);
	kmt_row(fig_fd, "<= 1.05", q0.med <= 1.05,
		"%.3f (IQR %.3f..%.3f; %d+%d rounds of %d VMs, ABBA)", q0.med, q0.q1, q0.q3,
		ab.pairs, ab.pairs, NR_VMS);
	kmt_row(fig_gone, "<= 1.05", q1.med <= 1.05,
		"%.3f (IQR %.3f..%.3f; vs unloaded fds closed)", q1.med, q1.q1, q1.q3);
	close(l.kvm);
	return 0;
}
