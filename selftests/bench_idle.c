// SPDX-License-Identifier: GPL-2.0
/*
 * bench_idle: with nobody reading and automatic compaction off, kvmmemtune
 * runs no timer and no work item. A VM sits idle for 5 s while tracefs
 * records every timer start (timer:timer_start, timer:hrtimer_start) and
 * every work item queued or run (workqueue:workqueue_queue_work,
 * workqueue:workqueue_execute_start); the events whose function is the
 * module's (its symbols are kmt_*, and %ps names module symbols plainly)
 * are counted. Then the same with policy/compact_auto on at a 1 s interval,
 * to show that the count does see the module's work when there is some.
 */
#include "kmt_bench.h"

#define WINDOW_S 5

static const char * const events[] = {
	"timer/timer_start", "timer/hrtimer_start",
	"workqueue/workqueue_queue_work", "workqueue/workqueue_execute_start",
};

static char tracefs[64];

static int trace_write(const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	return kmt_write(path, val);
}

/* The trace buffer is emptied by opening it for writing with O_TRUNC. */
static int trace_clear(void)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/trace", tracefs);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int set_events(const char *val)
{
	char file[128];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(file, sizeof(file), "events/%s/enable", events[i]);
		ret = trace_write(file, val);
		if (ret)
			return ret;
	}
	return 0;
}

/* Trace WINDOW_S seconds; count all events and those of the module. */
static int trace_window(long *all, long *ours, char *example, size_t size)
{
	char path[256], line[1024];
	FILE *f;

	*all = *ours = 0;
	example[0] = '\0';
	if (trace_write("tracing_on", "0") || trace_clear() || set_events("1") ||
	    trace_write("tracing_on", "1"))
		return -1;
	sleep(WINDOW_S);
	trace_write("tracing_on", "0");
	set_events("0");
	snprintf(path, sizeof(path), "%s/trace", tracefs);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		(*all)++;
		if (strstr(line, "kmt_") || strstr(line, "kvmmemtune")) {
			(*ours)++;
			if (!example[0])
				snprintf(example, size, "%s", line);
		}
	}
	fclose(f);
	trace_clear();
	return 0;
}

int main(void)
{
	const char *fig_idle = "7 idle: module timers+work in 5 s";
	const char *fig_auto = "7 compact_auto on: module work";
	char buf[256], example[1024];
	long all, ours, all_auto, ours_auto;
	uint8_t *mem;
	int kvm, vm;

	if (!access("/sys/kernel/tracing/events", F_OK))
		snprintf(tracefs, sizeof(tracefs), "/sys/kernel/tracing");
	else
		snprintf(tracefs, sizeof(tracefs), "/sys/kernel/debug/tracing");
	kvm = kmt_kvm_fd();
	vm = kmt_vm_create(kvm);
	mem = kmt_guest_mem(64 * MiB);
	if (vm < 0 || !mem || kmt_set_slot(vm, 0, 0, 0, 64 * MiB, mem) ||
	    kmt_wait_vm_count(getpid(), 1) != 1) {
		kmt_row_failed(fig_idle, "0", "no VM, or not seen by the module");
		return 1;
	}
	if (kmt_read(KMT_ROOT "/policy/compact_auto", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "[off]")) {
		kmt_row_failed(fig_idle, "0", "policy/compact_auto is not off");
		return 1;
	}
	/* Let the work of earlier benchmarks and of this VM's arrival finish. */
	sleep(1);
	if (trace_window(&all, &ours, example, sizeof(example))) {
		kmt_row_failed(fig_idle, "0", "tracefs not usable");
		return 1;
	}
	printf("idle: %d s, VM idle, no reader: %ld timer/work events in all, %ld of kvmmemtune\n",
	       WINDOW_S, all, ours);
	if (ours)
		printf("idle: first: %s", example);

	/* Automatic compaction checks every second; threshold 1000: checks only. */
	kmt_write(KMT_ROOT "/policy/compact_threshold", "1000");
	kmt_write(KMT_ROOT "/policy/compact_interval_ms", "1000");
	kmt_write(KMT_ROOT "/policy/compact_auto", "on");
	trace_window(&all_auto, &ours_auto, example, sizeof(example));
	kmt_write(KMT_ROOT "/policy/compact_auto", "off");
	kmt_write(KMT_ROOT "/policy/compact_interval_ms", "60000");
	kmt_write(KMT_ROOT "/policy/compact_threshold", "500");
	printf("idle: %d s, compact_auto on (1 s interval): %ld events in all, %ld of kvmmemtune\n",
	       WINDOW_S, all_auto, ours_auto);
	if (ours_auto)
		printf("idle: first: %s", example);

	kmt_row(fig_idle, "0", ours == 0, "%ld of %ld timer/work events in %d s", ours, all,
		WINDOW_S);
	kmt_row(fig_auto, "> 0", ours_auto > 0, "%ld of %ld events in %d s (1 s interval)",
		ours_auto, all_auto, WINDOW_S);
	close(vm);
	close(kvm);
	kmt_wait_vm_count(getpid(), 0);
	return 0;
}
