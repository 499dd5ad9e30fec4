// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune compaction policy tests: manual, automatic and VM-creation
 * compaction triggers, checked against the kernel's own compaction counters,
 * and strict parsing of every setting.
 */
#include "kmt_test.h"
#include "kselftest_harness.h"

#define MiB (1UL << 20)
#define P KMT_ROOT "/policy/"

static long long host_stat(const char *key)
{
	char buf[16384];

	if (kmt_read(KMT_ROOT "/host/stat", buf, sizeof(buf)) < 0)
		return -1;
	return kmt_key(buf, key);
}

/* Pages the kernel's compaction scanned or isolated, from /proc/vmstat. */
static long long vmstat_compaction(void)
{
	static char buf[65536];

	if (kmt_read("/proc/vmstat", buf, sizeof(buf)) < 0)
		return -1;
	return kmt_key(buf, "compact_migrate_scanned") + kmt_key(buf, "compact_free_scanned") +
	       kmt_key(buf, "compact_isolated");
}

static long long read_num(const char *path)
{
	char buf[64];

	if (kmt_read(path, buf, sizeof(buf)) < 0)
		return -1;
	return atoll(buf);
}

static int online_nodes(void)
{
	char path[64];
	int n = 0, i;

	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", i);
		n += !access(path, F_OK);
	}
	return n;
}

TEST(manual_compaction)
{
	long long count0 = read_num(P "compact"), runs0 = host_stat("compaction_runs");
	long long manual0 = host_stat("compact_trigger_manual"), vm0 = vmstat_compaction();
	int nodes = online_nodes();
	char buf[65536];

	ASSERT_LE(0, count0);
	ASSERT_EQ(0, kmt_write(P "compact", "0"));
	ASSERT_EQ(count0 + 1, read_num(P "compact"));
	ASSERT_EQ(0, kmt_write(P "compact", "all\n"));
	ASSERT_EQ(count0 + 1 + nodes, read_num(P "compact"));
	ASSERT_EQ(manual0 + 1 + nodes, host_stat("compact_trigger_manual"));
	/* The kernel's own counters saw it. */
	ASSERT_LT(runs0, host_stat("compaction_runs"));
	ASSERT_LT(vm0, vmstat_compaction());
	ASSERT_LT(0, klogctl(3, buf, sizeof(buf) - 1));
	ASSERT_NE(NULL, strstr(buf, "kvmmemtune: compact node 0 (manual)"));
}

TEST(compact_rejects_bad_input)
{
	static const char * const bad[] = { "\n", " ", " 0", "-1", "0x", "all ", "ALL", "0 1",
					    "1000", "nodes", "99999999999999999999" };
	long long count0 = read_num(P "compact");
	unsigned int i;
	char node[16];
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ret = kmt_write(P "compact", bad[i]);
		if (ret != -EINVAL && ret != -ERANGE)
			break;
	}
	ASSERT_EQ(sizeof(bad) / sizeof(bad[0]), i) TH_LOG("an invalid node was accepted");
	ASSERT_EQ(-ERANGE, kmt_write(P "compact", "99999999999999999999"));
	/* A node that is not online. */
	snprintf(node, sizeof(node), "%d", online_nodes());
	ASSERT_EQ(-EINVAL, kmt_write(P "compact", node));
	ASSERT_EQ(count0, read_num(P "compact"));
}

struct setting {
	const char *file;
	const char *valid;
	const char *bad[12];
};

static const struct setting settings[] = {
	{ "compact_auto", "off",
	  { "\n", " ", "-1", "maybe", "ON", "Off", "on off", "onn", "1", NULL } },
	{ "compact_on_vm_create", "off",
	  { "\n", " ", "-1", "maybe", "ON", "Off", "on off", "onn", "1", NULL } },
	{ "compact_threshold", "500",
	  { "\n", " ", "-1", "1001", "99999999999", "5x", "abc", "Five", " 5", "5 5", NULL } },
	{ "compact_interval_ms", "60000",
	  { "\n", " ", "-1", "999", "86400001", "99999999999", "5s", "abc", "1e3", NULL } },
	{ "thp_default", "inherit",
	  { "\n", " ", "-1", "sometimes", "NEVER", "Inherit", "never never", "nev", NULL } },
};

TEST(settings_reject_bad_input)
{
	char path[256], before[64], after[64];
	unsigned int s, i;
	struct stat st;
	int ret;

	for (s = 0; s < sizeof(settings) / sizeof(settings[0]); s++) {
		snprintf(path, sizeof(path), P "%s", settings[s].file);
		ASSERT_EQ(0, stat(path, &st));
		ASSERT_EQ(0600, st.st_mode & 07777);
		ASSERT_LT(0, kmt_read(path, before, sizeof(before)));
		for (i = 0; settings[s].bad[i]; i++) {
			ret = kmt_write(path, settings[s].bad[i]);
			if (ret != -EINVAL && ret != -ERANGE)
				break;
			ASSERT_LT(0, kmt_read(path, after, sizeof(after)));
			if (strcmp(before, after))
				break;
		}
		ASSERT_EQ(NULL, settings[s].bad[i])
			TH_LOG("%s accepted or changed on bad input %u", settings[s].file, i);
	}
	ASSERT_EQ(-ERANGE, kmt_write(P "compact_threshold", "99999999999"));
	ASSERT_EQ(0, kmt_write(P "compact_threshold", "1000"));
	ASSERT_EQ(1000, read_num(P "compact_threshold"));
	ASSERT_EQ(0, kmt_write(P "compact_threshold", "0"));
	ASSERT_EQ(0, read_num(P "compact_threshold"));
	ASSERT_EQ(0, kmt_write(P "compact_threshold", "500\n"));
	ASSERT_EQ(0, kmt_write(P "compact_interval_ms", "1000"));
	ASSERT_EQ(0, kmt_write(P "compact_interval_ms", "86400000"));
	ASSERT_EQ(0, kmt_write(P "compact_interval_ms", "60000"));
	ASSERT_LT(0, kmt_read(P "compact_auto", before, sizeof(before)));
	ASSERT_STREQ("[off] on\n", before);
}

/* Automatic compaction is slow to show under emulation: bounded waits. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, auto_compaction_triggers_and_stops, 120)
{
	long long a0, a1, a2;
	int nodes = online_nodes(), i;
	char buf[64];

	a0 = host_stat("compact_trigger_auto");
	ASSERT_EQ(0, kmt_write(P "compact_threshold", "0"));
	ASSERT_EQ(0, kmt_write(P "compact_interval_ms", "3000"));
	ASSERT_EQ(0, kmt_write(P "compact_auto", "on"));
	ASSERT_LT(0, kmt_read(P "compact_auto", buf, sizeof(buf)));
	ASSERT_STREQ("off [on]\n", buf);
	/* Threshold 0: every node qualifies at the first look. */
	for (i = 0; i < 1000 && host_stat("compact_trigger_auto") < a0 + nodes; i++)
		kmt_sleep_ms(10);
	a1 = host_stat("compact_trigger_auto");
	ASSERT_LE(a0 + nodes, a1);
	/* Rate limit: at most one more per node in the next interval and a bit. */
	kmt_sleep_ms(4000);
	a2 = host_stat("compact_trigger_auto");
	ASSERT_GE(a1 + nodes, a2) TH_LOG("%lld triggers in 4 s with a 3 s interval", a2 - a1);
	/* Off: nothing after the write returns. */
	ASSERT_EQ(0, kmt_write(P "compact_auto", "off"));
	a1 = host_stat("compact_trigger_auto");
	kmt_sleep_ms(4000);
	ASSERT_EQ(a1, host_stat("compact_trigger_auto"));
	ASSERT_EQ(0, kmt_write(P "compact_threshold", "500"));
	ASSERT_EQ(0, kmt_write(P "compact_interval_ms", "60000"));
}

/* Whether every node has at least one free block of the THP order (9). */
static int every_node_has_huge_block(void)
{
	char buf[8192], *line, *save;
	int has[64] = { 0 }, nodes = online_nodes(), n, i;

	if (kmt_read("/proc/buddyinfo", buf, sizeof(buf)) < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char zone[32];
		long long v;
		int off, o = 0;

		if (sscanf(line, "Node %d, zone %31s%n", &n, zone, &off) != 2 || n >= 64)
			continue;
		line += off;
		while (sscanf(line, "%lld%n", &v, &off) == 1) {
			if (o >= 9 && v > 0)
				has[n] = 1;
			line += off;
			o++;
		}
	}
	for (i = 0; i < nodes; i++)
		if (!has[i])
			return 0;
	return 1;
}

TEST(compact_on_vm_create_big_not_small)
{
	long long c0, c1;
	int kvm, vm, small;
	void *big;

	ASSERT_EQ(0, kmt_write(P "compact_on_vm_create", "on"));
	kvm = kmt_kvm_fd();
	/* A small VM needs one huge block: a node with one needs no compaction. */
	if (every_node_has_huge_block()) {
		c0 = host_stat("compact_trigger_vm_create");
		small = kmt_vm_create(kvm);
		ASSERT_EQ(0, kmt_set_slot(small, 0, 0, 0, 2 * MiB, kmt_guest_mem(2 * MiB)));
		ASSERT_EQ(1, kmt_wait_vm_count(getpid(), 1));
		ASSERT_EQ(c0, host_stat("compact_trigger_vm_create"));
		close(small);
		ASSERT_EQ(0, kmt_wait_vm_count(getpid(), 0));
	} else {
		TH_LOG("a node has no free huge block: small-VM half not checked");
	}
	/* 4 GiB of guest: more huge blocks than this 2 GiB host has free. */
	big = mmap(NULL, 4096 * MiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, big);
	c0 = host_stat("compact_trigger_vm_create");
	vm = kmt_vm_create(kvm);
	ASSERT_EQ(0, kmt_set_slot(vm, 0, 0, 0, 4096 * MiB, big));
	ASSERT_EQ(1, kmt_wait_vm_count(getpid(), 1));
	c1 = host_stat("compact_trigger_vm_create");
	ASSERT_LE(c0 + 1, c1) TH_LOG("no compaction for a 4 GiB VM");
	ASSERT_GE(c0 + online_nodes(), c1);
	ASSERT_EQ(0, kmt_write(P "compact_on_vm_create", "off"));
	close(vm);
	close(kvm);
}

TEST(policy_module_parameters)
{
	char buf[64];

	ASSERT_EQ(0, kmt_unload());
	ASSERT_EQ(-EINVAL, kmt_load_params("compact_threshold=1001"));
	ASSERT_EQ(-EINVAL, kmt_load_params("compact_auto=maybe"));
	ASSERT_EQ(-EINVAL, kmt_load_params("compact_interval_ms=10"));
	ASSERT_EQ(-EINVAL, kmt_load_params("compact_on_vm_create=ON"));
	ASSERT_FALSE(kmt_loaded());
	ASSERT_EQ(0, kmt_load_params("compact_threshold=100 compact_interval_ms=5000 "
				     "compact_on_vm_create=on compact_auto=off"));
	ASSERT_EQ(100, read_num(P "compact_threshold"));
	ASSERT_EQ(5000, read_num(P "compact_interval_ms"));
	ASSERT_LT(0, kmt_read(P "compact_on_vm_create", buf, sizeof(buf)));
	ASSERT_STREQ("off [on]\n", buf);
	ASSERT_EQ(0, kmt_unload());
	ASSERT_EQ(0, kmt_load());
	ASSERT_EQ(500, read_num(P "compact_threshold"));
}

TEST_HARNESS_MAIN
