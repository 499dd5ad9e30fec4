/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kvmmemtune benchmarks (bench_*.c): a clock, order
 * statistics, loaded-vs-unloaded rounds, and the KMT-ROW lines from which
 * the guest prints one table per kernel at the end of `make bench`.
 *
 * Every figure is a ratio (or a count) measured within one guest run, so
 * that the speed of software emulation and the load of the host cancel out.
 */
#ifndef KMT_BENCH_H
#define KMT_BENCH_H

#include <stdarg.h>
#include "kmt_test.h"

#define MiB (1UL << 20)
#define GiB (1UL << 30)
#define KMT_MAX_ROUNDS 64

/* Line-buffered output even into a pipe: a benchmark that hangs shows how far it got. */
__attribute__((constructor)) static void kmt_bench_line_buffered(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline double kmt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline int kmt_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Order statistics of n samples (n >= 1). */
struct kmt_dist {
	int n;
	double min, q1, med, q3, max;
};

/* Summarise v[0..n) into d; v itself is left as it was. */
static inline void kmt_dist(const double *v, int n, struct kmt_dist *d)
{
	double s[KMT_MAX_ROUNDS * 2];
	int i;

	for (i = 0; i < n; i++)
		s[i] = v[i];
	qsort(s, n, sizeof(double), kmt_cmp_double);
	d->n = n;
	d->min = s[0];
	d->q1 = s[n / 4];
	d->med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	d->q3 = s[(3 * n) / 4 < n ? (3 * n) / 4 : n - 1];
	d->max = s[n - 1];
}

/*
 * One line of the final table: figure, goal, whether it was met, and the
 * measurement with its repetition count and spread. guest-init.sh collects
 * the KMT-ROW lines of every benchmark and prints them after the last one.
 */
static inline void kmt_row(const char *figure, const char *goal, int met, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	printf("KMT-ROW %-34s %-11s %-4s %s\n", figure, goal, met ? "yes" : "NO", text);
	fflush(stdout);
}

/* A figure that could not be measured: in the table, not a silent gap. */
static inline void kmt_row_failed(const char *figure, const char *goal, const char *why)
{
	printf("KMT-ROW %-34s %-11s %-4s not measured: %s\n", figure, goal, "-", why);
	fflush(stdout);
}

/*
 * Load or unload kvmmemtune between rounds. After a load, wait until the
 * module has found @nr_vms VMs of this process again (load-time discovery
 * runs the same work as a new VM: its notifier is registered before its
 * directory appears). Returns 0 or -errno.
 */
static inline int kmt_bench_set_loaded(int loaded, int nr_vms)
{
	int ret, i;

	if (loaded) {
		ret = kmt_load();
		if (ret && ret != -EEXIST)
			return ret;
		if (nr_vms && kmt_wait_vm_count(getpid(), nr_vms) != nr_vms)
			return -ETIMEDOUT;
		return 0;
	}
	for (i = 0; i < 100; i++) {
		ret = kmt_unload();
		if (!ret || ret == -ENOENT)
			return 0;
		if (ret != -EBUSY && ret != -EAGAIN)
			return ret;
		kmt_sleep_ms(20);
	}
	return ret;
}

/*
 * Loaded-vs-unloaded rounds. Each round returns up to two figures (e.g. time
 * per operation). Rounds come in pairs in the order ABBA ABBA...: a pair's
 * two rounds are adjacent in time, so the ratio within a pair cancels slow
 * drift of the host's load, and ABBA needs half the module switches of ABAB.
 * The ratio reported is the median of the per-pair ratios.
 */
struct kmt_ab {
	int pairs;
	double loaded[2][KMT_MAX_ROUNDS];
	double unloaded[2][KMT_MAX_ROUNDS];
	double ratio[2][KMT_MAX_ROUNDS];
};

/* Returns 0 and fills out[0] (and out[1] if used), or -errno. */
struct kmt_round {
	int (*run)(void *arg, int loaded, double *out);
	void *arg;
	int nr_vms;	/* VMs of this process the module must find after a load */
};

static inline int kmt_ab_run(const struct kmt_round *r, int pairs, struct kmt_ab *ab)
{
	int p, k, ret;

	if (pairs > KMT_MAX_ROUNDS)
		pairs = KMT_MAX_ROUNDS;
	memset(ab, 0, sizeof(*ab));
	for (p = 0; p < pairs; p++) {
		int first = p % 2 == 0;	/* loaded first in even pairs */

		for (k = 0; k < 2; k++) {
			int loaded = k == 0 ? first : !first;
			double out[2] = { 0, 0 };
			double (*dst)[KMT_MAX_ROUNDS];

			ret = kmt_bench_set_loaded(loaded, r->nr_vms);
			if (ret) {
				fprintf(stderr, "bench: cannot %s the module: %s\n",
					loaded ? "load" : "unload", strerror(-ret));
				kmt_bench_set_loaded(1, 0);
				return ret;
			}
			ret = r->run(r->arg, loaded, out);
			if (ret) {
				kmt_bench_set_loaded(1, 0);
				return ret;
			}
			dst = loaded ? ab->loaded : ab->unloaded;
			dst[0][p] = out[0];
			dst[1][p] = out[1];
		}
		for (k = 0; k < 2; k++)
			ab->ratio[k][p] = ab->unloaded[k][p] > 0 ?
					  ab->loaded[k][p] / ab->unloaded[k][p] : 0;
		ab->pairs = p + 1;
	}
	/* Leave the module as the next benchmark expects it. */
	return kmt_bench_set_loaded(1, r->nr_vms);
}

/* One detail line of figure @k of an A/B run, in the units of the round. */
static inline void kmt_ab_print(const char *name, const struct kmt_ab *ab, int k, const char *unit)
{
	struct kmt_dist l, u, q;

	kmt_dist(ab->loaded[k], ab->pairs, &l);
	kmt_dist(ab->unloaded[k], ab->pairs, &u);
	kmt_dist(ab->ratio[k], ab->pairs, &q);
	printf("%s: %d+%d rounds (ABBA)  loaded median %.1f %s (min %.1f max %.1f)  "
	       "unloaded median %.1f %s (min %.1f max %.1f)  "
	       "ratio median %.3f (IQR %.3f..%.3f, min %.3f max %.3f)\n",
	       name, ab->pairs, ab->pairs, l.med, unit, l.min, l.max, u.med, unit, u.min, u.max,
	       q.med, q.q1, q.q3, q.min, q.max);
	fflush(stdout);
}

/* Number of entries in /sys/kernel/kvmmemtune/vms (readdir only: no lookups). */
static inline int kmt_vms_entries(void)
{
	DIR *d = opendir(KMT_ROOT "/vms");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

#endif /* KMT_BENCH_H */
