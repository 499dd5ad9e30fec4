// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune reclaim attribution tests: host reclaim and compaction that
 * the test itself causes must be charged to the VM whose memory they took,
 * to the right cause, and show in host/stat; host/fragmentation must agree
 * with /proc/buddyinfo.
 */
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "kmt_test.h"
#include "kselftest_harness.h"

#define MiB (1UL << 20)
#define PAGE 4096UL

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

struct vmfix {
	int kvm, vm;
	uint8_t *mem;
	size_t size;
	char dir[256];
};

static void vm_setup(struct __test_metadata *_metadata, struct vmfix *f, size_t size)
{
	f->kvm = kmt_kvm_fd();
	ASSERT_LE(0, f->kvm);
	f->vm = kmt_vm_create(f->kvm);
	ASSERT_LE(0, f->vm);
	f->mem = kmt_guest_mem(size);
	ASSERT_NE(NULL, f->mem);
	f->size = size;
	ASSERT_EQ(0, madvise(f->mem, size, MADV_NOHUGEPAGE));
	ASSERT_EQ(0, kmt_set_slot(f->vm, 0, 0, 0, size, f->mem));
	ASSERT_EQ(1, kmt_wait_vm_count(getpid(), 1));
	ASSERT_EQ(0, kmt_vm_newest(getpid(), f->dir, sizeof(f->dir)));
}

/* Fill with data that does not compress to nothing in zram. */
static void fill(uint8_t *p, size_t len)
{
	uint64_t x = 88172645463325252ULL;
	size_t i;

	for (i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

static long long host_stat(const char *key)
{
	char buf[16384];

	if (kmt_read(KMT_ROOT "/host/stat", buf, sizeof(buf)) < 0)
		return -1;
	return kmt_key(buf, key);
}

static int have_swap(void)
{
	return kmt_meminfo("SwapTotal:") > 0;
}

/* A child that allocates and touches @bytes, then exits. */
static pid_t spawn_hog(size_t bytes)
{
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t i;

		if (p == MAP_FAILED)
			_exit(1);
		for (i = 0; i < bytes; i += PAGE)
			p[i] = 0x77;
		_exit(0);
	}
	return pid;
}

static const char * const causes[] = {
	"reclaim_kswapd_bytes", "reclaim_direct_bytes", "migrate_compaction_bytes",
	"collapse_khugepaged_bytes", "ksm_bytes", "numa_hint_bytes", "unmap_bytes",
	"invalidate_other_bytes",
};

TEST(stat_has_every_cause)
{
	struct vmfix f;
	unsigned int i;

	vm_setup(_metadata, &f, 2 * MiB);
	for (i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		if (kmt_stat(f.dir, causes[i]) != 0)
			break;
	ASSERT_EQ(sizeof(causes) / sizeof(causes[0]), i) TH_LOG("a cause key is missing or not 0");
	ASSERT_LE(0, kmt_stat(f.dir, "aging_checks"));
}

TEST(munmap_is_charged_to_unmap)
{
	struct vmfix f;

	vm_setup(_metadata, &f, 8 * MiB);
	fill(f.mem, 8 * MiB);
	/* Guest RAM unmapped under a live slot: exactly what was unmapped. */
	ASSERT_EQ(0, munmap(f.mem + 2 * MiB, 2 * MiB));
	ASSERT_EQ(2 * MiB, kmt_stat(f.dir, "unmap_bytes"));
	ASSERT_EQ(0, kmt_stat(f.dir, "reclaim_kswapd_bytes"));
}

TEST(pageout_is_not_reclaim)
{
	struct vmfix f;

	if (!have_swap())
		SKIP(return, "no swap device in this guest");
	vm_setup(_metadata, &f, 8 * MiB);
	fill(f.mem, 8 * MiB);
	ASSERT_EQ(0, madvise(f.mem, 8 * MiB, MADV_PAGEOUT));
	ASSERT_LT(0, kmt_stat(f.dir, "swap_bytes")) TH_LOG("MADV_PAGEOUT swapped nothing");
	/* The caller's own request, with PF_MEMALLOC set: not host reclaim. */
	ASSERT_LE(kmt_stat(f.dir, "swap_bytes"), kmt_stat(f.dir, "invalidate_other_bytes"));
	ASSERT_EQ(0, kmt_stat(f.dir, "reclaim_kswapd_bytes"));
	ASSERT_EQ(0, kmt_stat(f.dir, "reclaim_direct_bytes"));
}

/* Swapping a guest's worth of memory under emulation takes a while. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

/*
 * Up to four hog rounds into zram: under KASAN and lockdep (the debug
 * kernel) they once needed more than 300 s.
 */
TEST_F_TIMEOUT(slow, memory_hog_reclaim_hits_the_busy_vm_only, 900)
{
	long long kswapd0, stall0, reclaimed, idle_total = 0;
	int ready[2], status;
	char idle_dir[256], c;
	struct vmfix f;
	pid_t idle, hog;
	unsigned int i;

	if (!have_swap())
		SKIP(return, "no swap device in this guest");
	/* An idle VM in another process: its memory is never touched. */
	ASSERT_EQ(0, pipe(ready));
	idle = fork();
	if (idle == 0) {
		int k = kmt_kvm_fd(), v = kmt_vm_create(k);

		if (v < 0 || kmt_set_slot(v, 0, 0, 0, 64 * MiB, kmt_guest_mem(64 * MiB)))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(1, kmt_wait_vm_count(idle, 1));
	ASSERT_EQ(0, kmt_vm_newest(idle, idle_dir, sizeof(idle_dir)));

	vm_setup(_metadata, &f, 64 * MiB);
	fill(f.mem, 64 * MiB);
	kswapd0 = host_stat("kswapd_wake");
	stall0 = host_stat("direct_reclaim_stall");

	/*
	 * kswapd alone may keep up with one hog on an idle host: run more
	 * rounds, at most four, until an allocation stalled in direct reclaim.
	 */
	for (i = 0; i < 4 && host_stat("direct_reclaim_stall") == stall0; i++) {
		hog = spawn_hog(kmt_meminfo("MemAvailable:") + 256 * MiB);
		waitpid(hog, &status, 0);
	}

	reclaimed = kmt_stat(f.dir, "reclaim_kswapd_bytes") +
		    kmt_stat(f.dir, "reclaim_direct_bytes");
	for (i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		idle_total += kmt_stat(idle_dir, causes[i]);
	/* The idle VM's process goes before any assertion can end the test. */
	kill(idle, SIGKILL);
	waitpid(idle, &status, 0);

	ASSERT_LT(kswapd0, host_stat("kswapd_wake"));
	ASSERT_LT(stall0, host_stat("direct_reclaim_stall"));
	ASSERT_LT(0, host_stat("direct_reclaimed_pages"));
	ASSERT_LT(0, host_stat("lru_scanned_pages"));
	ASSERT_LT(0, reclaimed) TH_LOG("the busy VM lost nothing to reclaim");
	/* What was charged never exceeds what the slot holds. */
	ASSERT_GE((long long)(64 * MiB), kmt_stat(f.dir, "reclaim_kswapd_bytes"));
	ASSERT_EQ(0, idle_total) TH_LOG("the idle VM was charged %lld bytes", idle_total);
}

/* cgroup v2 with the memory controller, for memory.reclaim. */
#define CGROUP "/sys/fs/cgroup"
#define AGING_CG CGROUP "/kmt-aging"

/* Move this process into a fresh memory cgroup; 0, or why it cannot. */
static const char *aging_cgroup_enter(void)
{
	char buf[512];

	if (access(CGROUP "/cgroup.controllers", R_OK) &&
	    mount("cgroup2", CGROUP, "cgroup2", 0, NULL))
		return "cannot mount cgroup2";
	if (kmt_read(CGROUP "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory"))
		return "no memory controller";
	if (kmt_write(CGROUP "/cgroup.subtree_control", "+memory"))
		return "cannot enable the memory controller";
	if (mkdir(AGING_CG, 0755) && errno != EEXIST)
		return "cannot create a cgroup";
	snprintf(buf, sizeof(buf), "%d", getpid());
	if (kmt_write(AGING_CG "/cgroup.procs", buf))
		return "cannot join the cgroup";
	return NULL;
}

static void aging_cgroup_leave(void)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	kmt_write(CGROUP "/cgroup.procs", pid);
	rmdir(AGING_CG);
}

/*
 * Real-mode guest code at 0x1000 that writes one byte to each page from
 * 0x10000 to 0xff000 (240 pages) and halts:
 *   mov $0x1000,%ax; 1: mov %ax,%es; movb $0xaa,%es:0; add $0x100,%ax;
 *   jnz 1b; hlt
 */
static const uint8_t touch_code[] = { 0xb8, 0x00, 0x10, 0x8e, 0xc0, 0x26, 0xc6, 0x06, 0x00,
				      0x00, 0xaa, 0x05, 0x00, 0x01, 0x75, 0xf3, 0xf4 };
/* The pages written and the code page. */
#define TOUCHED_PAGES 241

TEST_F_TIMEOUT(slow, aging_young_counts_what_the_guest_touched, 300)
{
	long long young, checks, young_before = 0, idle_checks;
	struct kmt_vcpu v = { -1, NULL };
	struct vmfix busy, idle;
	const char *why;
	int pass, rc;

	if (!have_swap())
		SKIP(return, "no swap device in this guest: anonymous memory is not reclaimed");
	why = aging_cgroup_enter();
	if (why)
		SKIP(return, "%s", why);
	/*
	 * Two VMs of this process, all their memory written by the host (so
	 * its own page tables find it young); only the busy one runs a vCPU.
	 */
	vm_setup(_metadata, &busy, 2 * MiB);
	fill(busy.mem, 2 * MiB);
	idle.kvm = busy.kvm;
	idle.vm = kmt_vm_create(idle.kvm);
	ASSERT_LE(0, idle.vm);
	idle.mem = kmt_guest_mem(2 * MiB);
	ASSERT_NE(NULL, idle.mem);
	ASSERT_EQ(0, madvise(idle.mem, 2 * MiB, MADV_NOHUGEPAGE));
	fill(idle.mem, 2 * MiB);
	ASSERT_EQ(0, kmt_set_slot(idle.vm, 0, 0, 0, 2 * MiB, idle.mem));
	ASSERT_EQ(2, kmt_wait_vm_count(getpid(), 2));
	ASSERT_EQ(0, kmt_vm_newest(getpid(), idle.dir, sizeof(idle.dir)));

	memcpy(busy.mem + 0x1000, touch_code, sizeof(touch_code));
	ASSERT_EQ(0, kmt_vcpu_create(busy.kvm, busy.vm, 0x1000, &v));
	for (pass = 1; pass <= 2; pass++) {
		struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };

		ASSERT_EQ(0, ioctl(v.fd, KVM_SET_REGS, &regs));
		ASSERT_EQ(KVM_EXIT_HLT, kmt_vcpu_run(&v));
		ASSERT_EQ(0xaa, busy.mem[0xff000]);
		/*
		 * Onto the inactive list (or MGLRU's oldest generation), where
		 * reclaim looks at every page: the classic LRU need not scan
		 * the active list at all. MADV_COLD clears only this process's
		 * accessed bits, not KVM's.
		 */
		ASSERT_EQ(0, madvise(busy.mem, 2 * MiB, MADV_COLD));
		/* Ask for more than the cgroup holds: every page is looked at. */
		rc = kmt_write(AGING_CG "/memory.reclaim", "64M");
		young = kmt_stat(busy.dir, "aging_young");
		/* Reclaim looked at every page: most touched ones, once each. */
		ASSERT_LE(young_before + TOUCHED_PAGES / 2, young)
			TH_LOG("pass %d: %lld of %d touched pages found young in %lld checks (memory.reclaim: %s)",
			       pass, young - young_before, TOUCHED_PAGES,
			       kmt_stat(busy.dir, "aging_checks"), strerror(-rc));
		ASSERT_GE(young_before + TOUCHED_PAGES, young);
		young_before = young;
	}
	checks = kmt_stat(busy.dir, "aging_checks");
	idle_checks = kmt_stat(idle.dir, "aging_checks");
	aging_cgroup_leave();

	/* Each touch can be found young once: by the first check after it. */
	printf("# busy VM: %lld of %lld aging checks found young (guest touched %d pages twice); "
	       "idle VM: %lld checks, %lld young\n", young, checks, TOUCHED_PAGES, idle_checks,
	       kmt_stat(idle.dir, "aging_young"));
	ASSERT_GE(2LL * TOUCHED_PAGES, young) TH_LOG("%lld young, %d pages touched twice",
						      young, TOUCHED_PAGES);
	ASSERT_LE(young, checks);
	/* The idle VM was checked, but its guest never touched a page. */
	ASSERT_LT(0, idle_checks) TH_LOG("reclaim never looked at the idle VM's memory");
	ASSERT_EQ(0, kmt_stat(idle.dir, "aging_young"));
}

/* PFN of each page of [p, p + len) from /proc/self/pagemap (0: absent). */
static void pfns(uint8_t *p, size_t len, uint64_t *out)
{
	size_t i;

	if (kmt_pagemap(p, len, out))
		memset(out, 0, len / PAGE * sizeof(*out));
	for (i = 0; i < len / PAGE; i++)
		out[i] = out[i] >> 63 ? out[i] & ((1ULL << 55) - 1) : 0;
}

TEST(compaction_is_charged_to_compaction)
{
	const size_t vmsize = 32 * MiB, junk = 256 * MiB;
	long long runs0, moved_bytes = 0;
	uint64_t *before, *after;
	struct vmfix f;
	uint8_t *j;
	size_t i;

	vm_setup(_metadata, &f, vmsize);
	/* Interleave VM pages with junk pages, then free the junk: holes everywhere. */
	j = kmt_guest_mem(junk);
	ASSERT_NE(NULL, j);
	for (i = 0; i < vmsize / PAGE; i++) {
		f.mem[i * PAGE] = 1;
		j[i * PAGE] = 1;
		j[(vmsize + i) * PAGE % junk] = 1;
	}
	ASSERT_EQ(0, munmap(j, junk));
	before = calloc(vmsize / PAGE, 8);
	after = calloc(vmsize / PAGE, 8);
	pfns(f.mem, vmsize, before);
	runs0 = host_stat("compaction_runs");

	ASSERT_EQ(0, kmt_write("/proc/sys/vm/compact_memory", "1"));

	pfns(f.mem, vmsize, after);
	for (i = 0; i < vmsize / PAGE; i++)
		if (before[i] && after[i] && before[i] != after[i])
			moved_bytes += PAGE;
	ASSERT_LT(runs0, host_stat("compaction_runs"));
	TH_LOG("compaction moved %lld bytes of the VM", moved_bytes);
	ASSERT_LE(moved_bytes, kmt_stat(f.dir, "migrate_compaction_bytes"));
	ASSERT_EQ(0, kmt_stat(f.dir, "reclaim_kswapd_bytes") + kmt_stat(f.dir, "reclaim_direct_bytes"));
	free(before);
	free(after);
}

/* Sum /proc/buddyinfo per order for node @nid. */
static int buddyinfo(int nid, long long *sum, int max)
{
	char buf[8192], *line, *save;
	int orders = 0;

	memset(sum, 0, max * sizeof(*sum));
	if (kmt_read("/proc/buddyinfo", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char zone[32];
		int n, off, o = 0;
		long long v;

		if (sscanf(line, "Node %d, zone %31s%n", &n, zone, &off) != 2 || n != nid)
			continue;
		line += off;
		while (o < max && sscanf(line, "%lld%n", &v, &off) == 1) {
			sum[o++] += v;
			line += off;
		}
		orders = o;
	}
	return orders;
}

TEST(fragmentation_matches_buddyinfo)
{
	char buf[8192], key[32], *p;
	long long before[16], after[16], ours[16];
	int nid, o, orders, n;

	ASSERT_LT(0, kmt_read(KMT_ROOT "/host/fragmentation", buf, sizeof(buf)));
	for (nid = 0; nid < 64; nid++) {
		snprintf(key, sizeof(key), "/sys/devices/system/node/node%d", nid);
		if (access(key, F_OK))
			continue;
		orders = buddyinfo(nid, before, 16);
		ASSERT_LT(0, kmt_read(KMT_ROOT "/host/fragmentation", buf, sizeof(buf)));
		ASSERT_EQ(orders, buddyinfo(nid, after, 16));
		snprintf(key, sizeof(key), "node%d free", nid);
		p = strstr(buf, key);
		ASSERT_NE(NULL, p) TH_LOG("no '%s' line", key);
		p += strlen(key);
		for (o = 0; o < orders; o++) {
			long long lo, hi, slack;

			ASSERT_EQ(1, sscanf(p, "%lld%n", &ours[o], &n));
			p += n;
			lo = before[o] < after[o] ? before[o] : after[o];
			hi = before[o] < after[o] ? after[o] : before[o];
			/* Within 1% of a read just before or after (at least 2 blocks). */
			slack = hi / 100 > 2 ? hi / 100 : 2;
			ASSERT_LE(lo - slack, ours[o]) TH_LOG("node %d order %d", nid, o);
			ASSERT_GE(hi + slack, ours[o]) TH_LOG("node %d order %d", nid, o);
		}
		ASSERT_EQ('\n', *p);
		snprintf(key, sizeof(key), "node%d unusable", nid);
		p = strstr(buf, key);
		ASSERT_NE(NULL, p);
		p += strlen(key);
		for (o = 0; o < orders; o++) {
			int idx;

			ASSERT_EQ(1, sscanf(p, "%d%n", &idx, &n));
			p += n;
			ASSERT_LE(0, idx);
			ASSERT_GE(1000, idx);
		}
		/* Order 0 is never unusable while anything is free. */
		ASSERT_EQ(0, strncmp(buf + (strstr(buf, key) - buf) + strlen(key), " 0 ", 3));
	}
}

TEST(host_stat_keys)
{
	static const char * const keys[] = {
		"vms", "guest_bytes_total", "kswapd_wake", "direct_reclaim_stall",
		"direct_reclaim_us", "direct_reclaimed_pages", "lru_scanned_pages",
		"lru_reclaimed_pages", "shrink_slab_calls", "shrinker_pressure", "compaction_runs",
		"compaction_success", "kcompactd_wake", "thp_fault_alloc", "thp_fault_fallback",
		"thp_split_pmd", "node0_kswapd_wake", "node0_shrinker_pressure",
	};
	char buf[16384];
	struct vmfix f;
	unsigned int i;

	vm_setup(_metadata, &f, 3 * MiB);
	ASSERT_LT(0, kmt_read(KMT_ROOT "/host/stat", buf, sizeof(buf)));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (kmt_key(buf, keys[i]) < 0)
			break;
	ASSERT_EQ(sizeof(keys) / sizeof(keys[0]), i) TH_LOG("a key is missing:\n%s", buf);
	ASSERT_EQ(NULL, strstr(buf, "missing_tracepoint")) TH_LOG("%s", buf);
	ASSERT_LE(3 * MiB, kmt_key(buf, "guest_bytes_total"));
}

TEST_F_TIMEOUT(slow, unload_during_reclaim, 300)
{
	int status, i;
	pid_t hog;

	if (!have_swap())
		SKIP(return, "no swap device in this guest");
	hog = spawn_hog(kmt_meminfo("MemAvailable:") + 128 * MiB);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, kmt_unload());
		ASSERT_EQ(0, kmt_load());
	}
	ASSERT_EQ(hog, waitpid(hog, &status, 0));
	ASSERT_TRUE(kmt_loaded());
}

TEST_HARNESS_MAIN
