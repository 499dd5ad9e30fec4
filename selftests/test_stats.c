// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune per-VM statistics tests: each figure in vms/<id>/stat is
 * checked against what the test itself touched, or against /proc.
 */
#include <sys/wait.h>

#include "kmt_test.h"
#include "kselftest_harness.h"

#define MiB (1UL << 20)
#define PAGE 4096UL

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define KMT_MPOL_BIND 2

/* A VM with one slot over @size bytes of fresh anonymous memory. */
struct vmfix {
	int kvm, vm;
	uint8_t *mem;
	size_t size;
	char dir[256];
};

static void vm_setup(struct __test_metadata *_metadata, struct vmfix *f, size_t size,
		     size_t align, int advice)
{
	uint8_t *raw;

	f->kvm = kmt_kvm_fd();
	ASSERT_LE(0, f->kvm);
	f->vm = kmt_vm_create(f->kvm);
	ASSERT_LE(0, f->vm);
	raw = kmt_guest_mem(size + align);
	ASSERT_NE(NULL, raw);
	f->mem = align ? (uint8_t *)(((uintptr_t)raw + align - 1) & ~(align - 1)) : raw;
	f->size = size;
	if (advice >= 0)
		ASSERT_EQ(0, madvise(f->mem, size, advice));
	ASSERT_EQ(0, kmt_set_slot(f->vm, 0, 0, 0, size, f->mem));
	ASSERT_EQ(1, kmt_wait_vm_count(getpid(), 1));
	ASSERT_EQ(0, kmt_vm_newest(getpid(), f->dir, sizeof(f->dir)));
}

static void vm_scan(struct __test_metadata *_metadata, struct vmfix *f)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/scan", f->dir);
	ASSERT_EQ(0, kmt_write(path, "1")) TH_LOG("scan: %s", strerror(errno));
}

static void touch(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += PAGE)
		p[i] = 1;
}

TEST(resident_and_zero_pages)
{
	const size_t touched = 10 * MiB, read_only = 1 * MiB;
	char path[512], buf[4096], want[128];
	volatile uint8_t sink;
	struct vmfix f;
	size_t i;

	vm_setup(_metadata, &f, 32 * MiB, 0, MADV_NOHUGEPAGE);
	snprintf(path, sizeof(path), "%s/scan", f.dir);
	ASSERT_LT(0, kmt_read(path, buf, sizeof(buf)));
	ASSERT_STREQ("-1\n", buf);
	ASSERT_EQ(-1, kmt_stat(f.dir, "scan_age_ms"));

	touch(f.mem, touched);
	for (i = 0; i < read_only; i += PAGE)
		sink = f.mem[16 * MiB + i];
	(void)sink;
	vm_scan(_metadata, &f);
	ASSERT_LE(touched - PAGE, kmt_stat(f.dir, "scan_resident_bytes"));
	ASSERT_GE(touched + PAGE, kmt_stat(f.dir, "scan_resident_bytes"));
	ASSERT_EQ(read_only, kmt_stat(f.dir, "scan_zero_bytes"));
	ASSERT_EQ(0, kmt_stat(f.dir, "scan_thp_bytes"));
	ASSERT_LE(0, kmt_stat(f.dir, "scan_age_ms"));
	ASSERT_LT(0, kmt_stat(f.dir, "scan_duration_us"));
	ASSERT_LE(0, kmt_stat(f.dir, "scan_lock_max_us"));
	/* The process's own counter agrees that the memory is there. */
	ASSERT_LE((long long)touched, kmt_stat(f.dir, "rss_anon_bytes"));

	snprintf(path, sizeof(path), "%s/slot_stat", f.dir);
	ASSERT_LT(0, kmt_read(path, buf, sizeof(buf)));
	snprintf(want, sizeof(want), "0 0 0 %lu %lu 0\n", 32 * MiB / PAGE,
		 (unsigned long)kmt_stat(f.dir, "scan_resident_bytes"));
	ASSERT_STREQ(want, buf);

	/* Only "1" starts a scan. */
	snprintf(path, sizeof(path), "%s/scan", f.dir);
	ASSERT_EQ(-EINVAL, kmt_write(path, "2"));
	ASSERT_EQ(-EINVAL, kmt_write(path, "0"));
	ASSERT_EQ(-EINVAL, kmt_write(path, "yes"));
	ASSERT_EQ(-EINVAL, kmt_write(path, "\n"));
	ASSERT_EQ(-EINVAL, kmt_write(path, "1 1"));
}

TEST(thp_bytes_match_smaps_rollup)
{
	const size_t size = 16 * MiB;
	long long anon_huge;
	char buf[256];
	struct vmfix f;

	if (kmt_read("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) < 0 ||
	    strstr(buf, "[never]"))
		SKIP(return, "transparent huge pages are off in this kernel");
	vm_setup(_metadata, &f, size, 2 * MiB, MADV_HUGEPAGE);
	touch(f.mem, size);
	vm_scan(_metadata, &f);
	anon_huge = kmt_proc_kb("/proc/self/smaps_rollup", "AnonHugePages:");
	ASSERT_LT(0, anon_huge) TH_LOG("no THP was allocated: cannot compare");
	ASSERT_EQ(anon_huge, kmt_stat(f.dir, "scan_thp_bytes"));
	ASSERT_LE(anon_huge, kmt_stat(f.dir, "scan_resident_bytes"));
}

TEST(vcpu_writes_raise_kvm_mappings)
{
	/* mov $0x2000,%ax; mov %ax,%es; xor %di,%di; mov $0xffff,%cx;
	 * mov $0xaa,%al; rep stosb; hlt: writes 64 KiB at 0x20000
	 */
	static const uint8_t code[] = { 0xb8, 0x00, 0x20, 0x8e, 0xc0, 0x31, 0xff, 0xb9, 0xff,
					0xff, 0xb0, 0xaa, 0xf3, 0xaa, 0xf4 };
	struct kmt_vcpu v = { -1, NULL };
	struct vmfix f;
	long long before, after;

	vm_setup(_metadata, &f, 4 * MiB, 0, -1);
	before = kmt_stat(f.dir, "kvm_map_4k") + kmt_stat(f.dir, "kvm_map_2m") +
		 kmt_stat(f.dir, "kvm_map_1g");
	ASSERT_EQ(0, before);
	memcpy(f.mem + 0x1000, code, sizeof(code));
	ASSERT_EQ(0, kmt_vcpu_create(f.kvm, f.vm, 0x1000, &v));
	ASSERT_EQ(KVM_EXIT_HLT, kmt_vcpu_run(&v));
	ASSERT_EQ(0xaa, f.mem[0x20000 + 0xfffe]);
	after = kmt_stat(f.dir, "kvm_map_4k") + kmt_stat(f.dir, "kvm_map_2m") +
		kmt_stat(f.dir, "kvm_map_1g");
	/* At least the code page and the 16 pages written are mapped. */
	ASSERT_LE(17, after) TH_LOG("kvm_map_* only %lld", after);
	ASSERT_LE(0, kmt_stat(f.dir, "nx_lpage_splits"));
}

/* Bytes of [p, p + len) whose pagemap entry is a swap entry (bit 62). */
static long long swapped_bytes(const uint8_t *p, size_t len)
{
	uint64_t *e = calloc(len / PAGE, sizeof(*e));
	long long bytes = 0;
	size_t i;

	if (!e || kmt_pagemap(p, len, e))
		bytes = -1;
	for (i = 0; bytes >= 0 && i < len / PAGE; i++)
		if (e[i] & (1ULL << 62))
			bytes += PAGE;
	free(e);
	return bytes;
}

TEST(pageout_moves_memory_to_swap)
{
	const size_t size = 8 * MiB;
	long long res_before, res_after, swapped;
	char buf[4096];
	struct vmfix f;

	if (kmt_read("/proc/swaps", buf, sizeof(buf)) < 0 || !strchr(buf, '\n') ||
	    !strchr(strchr(buf, '\n') + 1, '/'))
		SKIP(return, "no swap device in this guest");
	vm_setup(_metadata, &f, size, 0, MADV_NOHUGEPAGE);
	memset(f.mem, 0x5a, size);
	vm_scan(_metadata, &f);
	res_before = kmt_stat(f.dir, "scan_resident_bytes");
	ASSERT_EQ((long long)size, res_before);
	ASSERT_EQ(0, kmt_stat(f.dir, "swap_bytes"));

	ASSERT_EQ(0, madvise(f.mem, size, MADV_PAGEOUT));
	vm_scan(_metadata, &f);
	res_after = kmt_stat(f.dir, "scan_resident_bytes");
	/*
	 * Ground truth: the swap entries in the range, from pagemap (VmSwap
	 * is read from per-CPU counters without summing them on 6.2 to 6.15).
	 */
	swapped = swapped_bytes(f.mem, size);
	ASSERT_LT(0, swapped) TH_LOG("MADV_PAGEOUT swapped nothing out");
	ASSERT_EQ(swapped, kmt_stat(f.dir, "swap_bytes"));
	/* What left memory is what went to swap (nothing else of ours swapped). */
	ASSERT_GE(res_before - swapped + (long long)PAGE, res_after);
}

TEST(memory_bound_to_node1_shows_on_node1)
{
	const size_t size = 8 * MiB;
	unsigned long mask = 1UL << 1;
	int status[64];
	void *pages[64];
	struct vmfix f;
	size_t i;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "this guest has a single NUMA node");
	vm_setup(_metadata, &f, size, 0, MADV_NOHUGEPAGE);
	ASSERT_EQ(0, syscall(SYS_mbind, f.mem, size, KMT_MPOL_BIND, &mask, 8 * sizeof(mask), 0))
		TH_LOG("mbind: %s", strerror(errno));
	touch(f.mem, size);
	/* Ground truth: where the kernel says a sample of the pages is. */
	for (i = 0; i < 64; i++)
		pages[i] = f.mem + i * (size / 64);
	ASSERT_EQ(0, syscall(SYS_move_pages, 0, 64UL, pages, NULL, status, 0));
	for (i = 0; i < 64 && status[i] == 1; i++)
		;
	ASSERT_EQ(64, i) TH_LOG("a page is on node %d, not 1", status[i % 64]);
	vm_scan(_metadata, &f);
	ASSERT_EQ((long long)size, kmt_stat(f.dir, "node1_resident_bytes"));
	ASSERT_EQ(0, kmt_stat(f.dir, "node0_resident_bytes"));
}

TEST(ksm_merged_pages_counted)
{
	const size_t size = 2 * MiB;
	long long merged = 0;
	char buf[64];
	struct vmfix f;
	int i;

	if (access("/sys/kernel/mm/ksm/run", F_OK))
		SKIP(return, "this kernel has no KSM");
	vm_setup(_metadata, &f, size, 0, MADV_NOHUGEPAGE);
	memset(f.mem, 0x33, size);
	ASSERT_EQ(0, madvise(f.mem, size, MADV_MERGEABLE));
	ASSERT_EQ(0, kmt_write("/sys/kernel/mm/ksm/pages_to_scan", "5000"));
	ASSERT_EQ(0, kmt_write("/sys/kernel/mm/ksm/sleep_millisecs", "10"));
	ASSERT_EQ(0, kmt_write("/sys/kernel/mm/ksm/run", "1"));
	/* ksmd needs two passes; bounded wait, not a timing assertion. */
	for (i = 0; i < 3000 && merged < (long long)(size / PAGE) / 2; i++) {
		kmt_sleep_ms(10);
		if (kmt_read("/proc/self/ksm_merging_pages", buf, sizeof(buf)) > 0)
			merged = atoll(buf);
	}
	ASSERT_LT(0, merged) TH_LOG("ksmd merged nothing");
	/* Stop ksmd (the write waits for its batch), then compare. */
	ASSERT_EQ(0, kmt_write("/sys/kernel/mm/ksm/run", "0"));
	ASSERT_LT(0, kmt_read("/proc/self/ksm_merging_pages", buf, sizeof(buf)));
	merged = atoll(buf);
	ASSERT_EQ(merged, kmt_stat(f.dir, "ksm_merging_pages"));
	ASSERT_EQ(0, kmt_write("/sys/kernel/mm/ksm/run", "2"));
}

TEST_HARNESS_MAIN
