// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune tool tests: every command of /tests/kvmmemtune (KMT_TOOL
 * overrides) against a live VM. The VM lives in a child process that looks
 * like QEMU to the tool: test_tool re-executes itself as
 *
 *   test_tool --vm-child -name guest=web-3,debug-threads=on
 *
 * which creates a VM with a 64 MiB slot (2 MiB-aligned, bound to node 1 when
 * there is one, its first 8 MiB touched with 4 KiB pages and no
 * MADV_HUGEPAGE) and a 2 MiB slot with dirty logging on, prints "ready" and
 * waits for its stdin to close. Figures are checked against what the child
 * touched and against /proc; --json output with a strict JSON parser,
 * export with a checker of the Prometheus text format.
 */
#include "kmt_test.h"

#include <signal.h>
#include <sys/wait.h>

#include "kmt_json.h"
#include "kmt_prom.h"
#include "kselftest_harness.h"

#define MiB (1ULL << 20)
#define PAGE 4096ULL
#define SLOT0 (64 * MiB)
#define SLOT1 (2 * MiB)
#define TOUCHED (8 * MiB)
#define VM_NAME "web-3"
#define KMT_MPOL_BIND 2

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* ---------------------------------------------------------------- the VM child */

static void *aligned_mem(size_t size)
{
	uint8_t *raw = kmt_guest_mem(size + 2 * MiB);

	if (!raw)
		return NULL;
	return (void *)(((uintptr_t)raw + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1));
}

static int vm_child(void)
{
	unsigned long node1 = 1UL << 1;
	uint8_t *mem, *mem2;
	int kvm, vm;
	size_t i;
	char c;

	kvm = kmt_kvm_fd();
	vm = kvm < 0 ? -1 : kmt_vm_create(kvm);
	mem = aligned_mem(SLOT0);
	mem2 = aligned_mem(SLOT1);
	if (vm < 0 || !mem || !mem2) {
		perror("vm child: setup");
		return 1;
	}
	if (!access("/sys/devices/system/node/node1", F_OK) &&
	    syscall(SYS_mbind, mem, SLOT0, KMT_MPOL_BIND, &node1, 8 * sizeof(node1), 0)) {
		perror("vm child: mbind");
		return 1;
	}
	for (i = 0; i < TOUCHED; i += PAGE)
		mem[i] = 1;
	if (kmt_set_slot(vm, 0, 0, 0, SLOT0, mem) ||
	    kmt_set_slot(vm, 1, KVM_MEM_LOG_DIRTY_PAGES, 1ULL << 32, SLOT1, mem2)) {
		perror("vm child: memslots");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

/* Run as the VM child when re-executed so; before the harness sees argv. */
static void __attribute__((constructor)) maybe_vm_child(void)
{
	char buf[256];
	ssize_t n = kmt_read("/proc/self/cmdline", buf, sizeof(buf));

	if (n > 0 && (size_t)n > strlen(buf) + 1 && !strcmp(buf + strlen(buf) + 1, "--vm-child"))
		_exit(vm_child());
}

/* ---------------------------------------------------------------- running the tool */

struct res {
	int rc;
	char out[256 << 10];
	char err[16 << 10];
};

static const char *tool_path(void)
{
	const char *p = getenv("KMT_TOOL");

	return p ? p : "/tests/kvmmemtune";
}

static void drain(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += n;
	}
	buf[len] = '\0';
}

/*
 * Start the tool with @args; its stdout on *out_fd. @uid other than 0 runs
 * it as that user; @env ("NAME=value") is added to its environment.
 */
static pid_t tool_start(const char *const *args, uid_t uid, const char *env, int *out_fd,
			int *err_fd)
{
	const char *argv[32];
	int out[2], err[2], i;
	pid_t pid;

	argv[0] = "kvmmemtune";
	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pipe(out) || pipe(err))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!pid) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (env)
			putenv((char *)env);
		if (uid && (setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(126);
		execv(tool_path(), (char **)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	*out_fd = out[0];
	*err_fd = err[0];
	return pid;
}

static void tool_wait(struct res *r, pid_t pid, int out, int err)
{
	int st;

	drain(out, r->out, sizeof(r->out));
	drain(err, r->err, sizeof(r->err));
	close(out);
	close(err);
	waitpid(pid, &st, 0);
	r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void tool_as(struct res *r, uid_t uid, const char *env, const char *const *args)
{
	int out, err;
	pid_t pid = tool_start(args, uid, env, &out, &err);

	r->rc = -1;
	r->out[0] = r->err[0] = '\0';
	if (pid > 0)
		tool_wait(r, pid, out, err);
}

#define TOOL(r, ...) tool_as(r, 0, NULL, (const char *const[]){ __VA_ARGS__, NULL })

/* ---------------------------------------------------------------- the fixture */

FIXTURE(vm) {
	pid_t pid;
	int in, out;
	char id[64], dir[256];
	struct res r;
};

FIXTURE_SETUP(vm)
{
	char buf[64] = "", self_exe[256];
	int to[2], from[2];
	ssize_t n;

	ASSERT_EQ(0, access(tool_path(), X_OK)) TH_LOG("no tool at %s", tool_path());
	/* By its path, not /proc/self/exe: the child's comm stays test_tool. */
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	ASSERT_LT(0, n);
	self_exe[n] = '\0';
	ASSERT_EQ(0, pipe(to));
	ASSERT_EQ(0, pipe(from));
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execl(self_exe, "test_tool", "--vm-child", "-name",
		      "guest=" VM_NAME ",debug-threads=on", (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	self->in = to[1];
	self->out = from[0];
	ASSERT_LT(0, read(self->out, buf, sizeof(buf) - 1));
	ASSERT_EQ(0, strncmp(buf, "ready", 5)) TH_LOG("child said '%s'", buf);
	ASSERT_EQ(1, kmt_wait_vm_count(self->pid, 1));
	ASSERT_EQ(0, kmt_vm_newest(self->pid, self->dir, sizeof(self->dir)));
	snprintf(self->id, sizeof(self->id), "%s", strrchr(self->dir, '/') + 1);
}

FIXTURE_TEARDOWN(vm)
{
	close(self->in);
	close(self->out);
	waitpid(self->pid, NULL, 0);
	kmt_wait_vm_count(self->pid, 0);
}

/* The number after @key in a /proc file, or -1. */
static long long proc_num(const char *path, const char *key)
{
	char buf[8192], *p;

	if (kmt_read(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* A "Key:   N kB" value of /proc/PID/FILE in bytes, or -1. */
static long long proc_kb(pid_t pid, const char *file, const char *key)
{
	char path[64];
	long long kb;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	kb = proc_num(path, key);
	return kb < 0 ? -1 : kb * 1024;
}

static long long thp_enabled(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_num(path, "THP_enabled:");
}

/* The line of the list table that starts with @id, or NULL. */
static char *table_line(char *out, const char *id, char *line, size_t size)
{
	char *p;

	for (p = out; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, id, strlen(id)) && p[strlen(id)] == ' ') {
			snprintf(line, size, "%.*s", (int)strcspn(p, "\n"), p);
			return line;
		}
	}
	return NULL;
}

/* Our VM's entry in the list's JSON. */
static const struct jv *json_vm(const struct jv *root, const char *id)
{
	const struct jv *vms = jv_get(root, "vms");
	int i;

	for (i = 0; vms && vms->type == JV_ARR && i < vms->n; i++) {
		const struct jv *idv = jv_get(&vms->items[i], "id");

		if (idv && idv->type == JV_STR && !strcmp(idv->str, id))
			return &vms->items[i];
	}
	return NULL;
}

static long long jint(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	return v && v->type == JV_NUM && v->is_int ? v->inum : -12345;
}

/* ---------------------------------------------------------------- tests */

TEST_F(vm, list_shows_the_vm)
{
	char line[512], want[64];
	long long rss;

	TOOL(&self->r, "list");
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	ASSERT_NE(NULL, table_line(self->r.out, self->id, line, sizeof(line)))
		TH_LOG("%s", self->r.out);
	snprintf(want, sizeof(want), " %d " VM_NAME " ", self->pid);
	ASSERT_NE(NULL, strstr(line, want)) TH_LOG("%s", line);
	ASSERT_NE(NULL, strstr(line, " 66.0M ")) TH_LOG("%s", line);

	/* Before any scan: resident is rss_anon, THP and node unknown. */
	TOOL(&self->r, "-b", "list");
	ASSERT_EQ(0, self->r.rc);
	ASSERT_NE(NULL, table_line(self->r.out, self->id, line, sizeof(line)));
	snprintf(want, sizeof(want), " %llu ", SLOT0 + SLOT1);
	ASSERT_NE(NULL, strstr(line, want)) TH_LOG("%s", line);
	rss = kmt_stat(self->dir, "rss_anon_bytes");
	/* 6.1 caches up to 64 RSS events per thread before the mm sees them. */
	ASSERT_LE((long long)(TOUCHED - 64 * PAGE), rss);
	snprintf(want, sizeof(want), " %lld     -     -", rss);
	ASSERT_NE(NULL, strstr(line, want)) TH_LOG("%s, want '%s'", line, want);
}

TEST_F(vm, list_json_matches_proc_and_what_was_touched)
{
	const struct jv *v;
	char err[128];
	struct jv root;
	long long res;

	TOOL(&self->r, "scan", self->id);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	TOOL(&self->r, "list", "--json");
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, jv_parse(self->r.out, strlen(self->r.out), &root, err, sizeof(err)))
		TH_LOG("%s:\n%s", err, self->r.out);
	v = json_vm(&root, self->id);
	ASSERT_NE(NULL, v) TH_LOG("%s", self->r.out);
	EXPECT_EQ(self->pid, jint(v, "pid"));
	EXPECT_STREQ(VM_NAME, jv_get(v, "name")->str);
	EXPECT_STREQ("test_tool", jv_get(v, "comm")->str);
	EXPECT_EQ((long long)(SLOT0 + SLOT1), jint(v, "guest_bytes"));
	EXPECT_STREQ("scan", jv_get(v, "resident_source")->str);
	res = jint(v, "resident_bytes");
	EXPECT_LE((long long)(TOUCHED - PAGE), res);
	EXPECT_GE((long long)(TOUCHED + PAGE), res);
	EXPECT_EQ(JV_NUM, jv_get(v, "thp_percent")->type);
	EXPECT_EQ(0, jv_get(v, "thp_percent")->num);
	EXPECT_EQ(proc_kb(self->pid, "status", "VmSwap:"), jint(v, "swap_bytes"));
	EXPECT_EQ(JV_NULL, jv_get(v, "mapped_2m_percent")->type);	/* no vCPU ran */
	if (!access("/sys/devices/system/node/node1", F_OK))
		EXPECT_EQ(1, jint(v, "main_node"));
	/* Reclaim attribution comes in a later module: unknown, not an error. */
	if (kmt_stat(self->dir, "reclaim_kswapd_bytes") < 0)
		EXPECT_EQ(JV_NULL, jv_get(v, "reclaimed_bytes")->type);
	jv_free(&root);
}

TEST_F(vm, show_by_id_pid_and_name)
{
	char pid[16], path[512], stat[8192], err[128], *line, *save;
	const char *specs[] = { self->id, pid, VM_NAME };
	const struct jv *st, *slots;
	struct jv root;
	int i, k;

	snprintf(pid, sizeof(pid), "%d", self->pid);
	for (i = 0; i < 3; i++) {
		TOOL(&self->r, "show", specs[i]);
		ASSERT_EQ(0, self->r.rc) TH_LOG("show %s: %s", specs[i], self->r.err);
		ASSERT_NE(NULL, strstr(self->r.out, self->id));
	}
	EXPECT_NE(NULL, strstr(self->r.out, "dirty logging: on (live migration in progress?)"))
		TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "thp policy: [inherit]")) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "off main node: - ")) TH_LOG("%s", self->r.out);

	/* Every stat key shows, with the value the file has. */
	TOOL(&self->r, "--json", "show", VM_NAME);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	snprintf(path, sizeof(path), "%s/stat", self->dir);
	ASSERT_LT(0, kmt_read(path, stat, sizeof(stat)));
	ASSERT_EQ(0, jv_parse(self->r.out, strlen(self->r.out), &root, err, sizeof(err)))
		TH_LOG("%s:\n%s", err, self->r.out);
	st = jv_get(&root, "stat");
	ASSERT_NE(NULL, st);
	k = 0;
	for (line = strtok_r(stat, "\n", &save); line; line = strtok_r(NULL, "\n", &save), k++) {
		char key[64];

		ASSERT_EQ(1, sscanf(line, "%63s", key));
		ASSERT_NE(NULL, jv_get(st, key)) TH_LOG("stat key %s missing", key);
		if (!strcmp(key, "guest_bytes") || !strcmp(key, "memslots") ||
		    !strcmp(key, "memslot_create") || !strcmp(key, "memslot_flags"))
			EXPECT_EQ(strtoll(line + strlen(key), NULL, 10), jint(st, key));
	}
	EXPECT_EQ(k, st->n);
	EXPECT_EQ(1, jv_get(&root, "dirty_logging")->b);
	EXPECT_STREQ("inherit", jv_get(jv_get(&root, "thp"), "mode")->str);
	EXPECT_EQ(JV_NULL, jv_get(&root, "off_node_percent")->type);
	slots = jv_get(&root, "memslots");
	ASSERT_NE(NULL, slots);
	ASSERT_LE(2, slots->n);
	EXPECT_EQ((long long)(SLOT0 / PAGE), jint(&slots->items[0], "npages"));
	EXPECT_EQ(0, jint(&slots->items[0], "flags"));
	EXPECT_EQ(1, jint(&slots->items[1], "flags"));
	EXPECT_EQ(1, jv_get(&slots->items[1], "dirty_logging")->b);
	EXPECT_EQ((1LL << 32) / (long long)PAGE, jint(&slots->items[1], "base_gfn"));
	jv_free(&root);

	/* After a scan: the share off the main node, slot figures. */
	TOOL(&self->r, "scan", VM_NAME);
	ASSERT_EQ(0, self->r.rc);
	TOOL(&self->r, "show", "--json", self->id);
	ASSERT_EQ(0, jv_parse(self->r.out, strlen(self->r.out), &root, err, sizeof(err)));
	EXPECT_EQ(JV_NUM, jv_get(&root, "off_node_percent")->type);
	if (!access("/sys/devices/system/node/node1", F_OK))
		EXPECT_EQ(0, jv_get(&root, "off_node_percent")->num);
	EXPECT_EQ(kmt_stat(self->dir, "scan_resident_bytes"),
		  jint(&jv_get(&root, "memslots")->items[0], "resident_bytes"));
	jv_free(&root);

	TOOL(&self->r, "show", "no-such-vm");
	EXPECT_EQ(5, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "no VM 'no-such-vm'")) TH_LOG("%s", self->r.err);
}

TEST_F(vm, host_overcommit_against_meminfo)
{
	long long total = proc_num("/proc/meminfo", "MemTotal:") * 1024, sum = 0;
	char err[128], path[512];
	struct jv root;
	struct dirent *e;
	DIR *dir;

	TOOL(&self->r, "host");
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.out, "overcommit ")) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "memslot_events_lost")) TH_LOG("%s", self->r.out);
	TOOL(&self->r, "--json", "host");
	ASSERT_EQ(0, self->r.rc);
	ASSERT_EQ(0, jv_parse(self->r.out, strlen(self->r.out), &root, err, sizeof(err)))
		TH_LOG("%s:\n%s", err, self->r.out);
	EXPECT_EQ(total, jint(&root, "mem_total_bytes"));
	dir = opendir(KMT_ROOT "/vms");
	ASSERT_NE(NULL, dir);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), KMT_ROOT "/vms/%s", e->d_name);
		sum += kmt_stat(path, "guest_bytes");
	}
	closedir(dir);
	EXPECT_EQ(sum, jint(&root, "guest_bytes"));
	EXPECT_LE((long long)(SLOT0 + SLOT1), sum);
	EXPECT_LT(0, jv_get(&root, "overcommit_ratio")->num);
	EXPECT_EQ(JV_OBJ, jv_get(&root, "stat")->type);
	EXPECT_LE(1, jint(jv_get(&root, "stat"), "vms"));
	if (access(KMT_ROOT "/host/fragmentation", F_OK))
		EXPECT_EQ(JV_NULL, jv_get(&root, "fragmentation")->type);
	jv_free(&root);
}

TEST_F(vm, export_is_prometheus_text_format)
{
	char why[256], want[256];
	int n;

	TOOL(&self->r, "scan", "all");
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	TOOL(&self->r, "export");
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	n = kmt_prom_check(self->r.out, why, sizeof(why));
	ASSERT_LT(20, n) TH_LOG("%s", why);
	snprintf(want, sizeof(want),
		 "\nkvmmemtune_vm_guest_bytes{vm=\"%s\",pid=\"%d\",name=\"" VM_NAME "\"} %llu\n",
		 self->id, self->pid, SLOT0 + SLOT1);
	EXPECT_NE(NULL, strstr(self->r.out, want)) TH_LOG("no '%s'", want);
	EXPECT_NE(NULL, strstr(self->r.out, "# TYPE kvmmemtune_vm_memslot_create_total counter\n"));
	EXPECT_NE(NULL, strstr(self->r.out, "# TYPE kvmmemtune_vm_scan_resident_bytes gauge\n"));
	EXPECT_NE(NULL, strstr(self->r.out, "# TYPE kvmmemtune_host_vms gauge\n"));
	snprintf(want, sizeof(want),
		 "kvmmemtune_vm_node_resident_bytes{vm=\"%s\",pid=\"%d\",name=\"" VM_NAME
		 "\",node=\"0\"} ", self->id, self->pid);
	EXPECT_NE(NULL, strstr(self->r.out, want)) TH_LOG("no '%s'", want);
}

TEST_F(vm, scan_prints_new_age_and_duration)
{
	char want[128];

	ASSERT_EQ(-1, kmt_stat(self->dir, "scan_age_ms"));
	TOOL(&self->r, "scan", VM_NAME);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	snprintf(want, sizeof(want), "%s " VM_NAME ": scan_age_ms ", self->id);
	EXPECT_EQ(0, strncmp(self->r.out, want, strlen(want))) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, " scan_duration_us ")) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, " resident 8.0M thp 0B\n")) TH_LOG("%s", self->r.out);
	EXPECT_LE(0, kmt_stat(self->dir, "scan_age_ms"));
	TOOL(&self->r, "scan", "all");
	EXPECT_EQ(0, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.out, self->id));
	TOOL(&self->r, "scan");
	EXPECT_EQ(1, self->r.rc);
}

TEST_F(vm, collapse_raises_thp_to_what_was_touched)
{
	long long before, after, huge;
	char want[128];

	TOOL(&self->r, "scan", self->id);
	ASSERT_EQ(0, self->r.rc);
	before = kmt_stat(self->dir, "scan_thp_bytes");
	ASSERT_EQ(0, before) TH_LOG("THP before collapse: %lld", before);
	TOOL(&self->r, "collapse", VM_NAME);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s%s", self->r.out, self->r.err);
	after = kmt_stat(self->dir, "scan_thp_bytes");
	huge = proc_kb(self->pid, "smaps_rollup", "AnonHugePages:");
	/* The touched 8 MiB are four aligned 2 MiB ranges: all collapse. */
	EXPECT_LE((long long)TOUCHED, after);
	EXPECT_EQ(huge, after);
	snprintf(want, sizeof(want), "THP-backed 0B of 8.0M resident before, ");
	EXPECT_NE(NULL, strstr(self->r.out, want)) TH_LOG("%s", self->r.out);
}

TEST_F(vm, collapse_refused_when_thp_disabled)
{
	TOOL(&self->r, "set", "thp", "never", VM_NAME);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	TOOL(&self->r, "collapse", self->id);
	EXPECT_EQ(4, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "refused (EINVAL): THP is disabled for process"))
		TH_LOG("%s", self->r.err);
	EXPECT_EQ(0, kmt_stat(self->dir, "scan_thp_bytes"));
}

TEST_F(vm, get_and_set_knobs)
{
	char path[512], raw[256], words[8][32], want[512];
	int n, i, cur = -1;
	char *p;

	TOOL(&self->r, "get", "thp_default");
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	ASSERT_LT(0, kmt_read(KMT_ROOT "/policy/thp_default", raw, sizeof(raw)));
	EXPECT_STREQ(raw, self->r.out);

	/* The expected words come from the file itself. */
	for (n = 0, p = strtok(raw, " \n"); p && n < 8; p = strtok(NULL, " \n"), n++) {
		if (*p == '[') {
			cur = n;
			p++;
			p[strlen(p) - 1] = '\0';
		}
		snprintf(words[n], sizeof(words[n]), "%s", p);
	}
	ASSERT_EQ(0, cur);
	snprintf(want, sizeof(want),
		 "kvmmemtune: thp_default: invalid value 'sometimes' (expected: %s", words[0]);
	for (i = 1; i < n; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), ", %s", words[i]);
	strcat(want, ")\n");
	TOOL(&self->r, "set", "thp_default", "sometimes");
	EXPECT_EQ(1, self->r.rc);
	EXPECT_STREQ(want, self->r.err);
	TOOL(&self->r, "set", "thp", "sometimes", self->id);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err,
			       "thp: invalid value 'sometimes' (expected: inherit, never"))
		TH_LOG("%s", self->r.err);

	TOOL(&self->r, "set", "thp_default", "never");
	EXPECT_EQ(0, self->r.rc);
	ASSERT_LT(0, kmt_read(KMT_ROOT "/policy/thp_default", raw, sizeof(raw)));
	EXPECT_EQ(0, strncmp(raw, "inherit [never]", 15));
	TOOL(&self->r, "set", "thp_default", "inherit");
	EXPECT_EQ(0, self->r.rc);

	/* Per VM: the process's THP state, as /proc shows it. */
	EXPECT_EQ(1, thp_enabled(self->pid));
	TOOL(&self->r, "set", "thp", "never", VM_NAME);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_EQ(0, thp_enabled(self->pid));
	TOOL(&self->r, "get", "thp", self->id);
	EXPECT_EQ(0, strncmp(self->r.out, "inherit [never]", 15)) TH_LOG("%s", self->r.out);
	TOOL(&self->r, "set", "thp", "inherit", VM_NAME);
	EXPECT_EQ(0, self->r.rc);
	EXPECT_EQ(1, thp_enabled(self->pid));

	TOOL(&self->r, "get", "thp");
	EXPECT_EQ(1, self->r.rc);
	TOOL(&self->r, "get", "nonsense_knob");
	EXPECT_EQ(1, self->r.rc);
	snprintf(path, sizeof(path), "%s", KMT_ROOT "/policy/compact");
	TOOL(&self->r, "compact", "all");
	if (access(path, F_OK)) {
		EXPECT_EQ(6, self->r.rc);
		EXPECT_NE(NULL, strstr(self->r.err, "kernel module too old for this feature"))
			TH_LOG("%s", self->r.err);
	} else {
		EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	}
}

TEST_F(vm, watch_redraws_until_sigint)
{
	const char *const args[] = { "watch", "-i", "0.2", NULL };
	int out, err, frames = 0;
	char *p;
	pid_t pid;

	pid = tool_start(args, 0, NULL, &out, &err);
	ASSERT_LT(0, pid);
	kmt_sleep_ms(1500);
	ASSERT_EQ(0, kill(pid, SIGINT));
	tool_wait(&self->r, pid, out, err);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	for (p = self->r.out; (p = strstr(p, "\033[H\033[2J")); p++)
		frames++;
	EXPECT_LE(2, frames) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, self->id));
	EXPECT_NE(NULL, strstr(self->r.out, "RES/s"));
	/* From the second frame on, the rate column is known. */
	EXPECT_NE(NULL, strstr(self->r.out, " +0B ")) TH_LOG("%s", self->r.out);
}

TEST_F(vm, errors_and_exit_codes)
{
	TOOL(&self->r, "list", "--no-such-option");
	EXPECT_EQ(1, self->r.rc);
	TOOL(&self->r, "--no-such-option");
	EXPECT_EQ(1, self->r.rc);
	TOOL(&self->r, "frob");
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "unknown command 'frob'"));
	TOOL(&self->r, "collapse");
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "usage: kvmmemtune collapse VM"));
	TOOL(&self->r, "--help");
	EXPECT_EQ(0, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.out, "exit codes"));
	TOOL(&self->r, "help", "collapse");
	EXPECT_EQ(0, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.out, "MADV_COLLAPSE"));
	TOOL(&self->r, "version");
	EXPECT_EQ(0, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.out, "module "));

	/* Per-VM files are root-only: a clear message and exit code 3. */
	tool_as(&self->r, 65534, NULL, (const char *const[]){ "list", NULL });
	EXPECT_EQ(3, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "run as root")) TH_LOG("%s", self->r.err);
	tool_as(&self->r, 65534, NULL, (const char *const[]){ "show", self->id, NULL });
	EXPECT_EQ(3, self->r.rc) TH_LOG("%s", self->r.err);

	/* No module: exit code 2. */
	tool_as(&self->r, 0, "KVMMEMTUNE_SYSFS=/nonexistent",
		(const char *const[]){ "list", NULL });
	EXPECT_EQ(2, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "is the kvmmemtune module loaded?"));
}

TEST_HARNESS_MAIN
