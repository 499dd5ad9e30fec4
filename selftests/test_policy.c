// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune policy tests: per-VM THP control, checked against what the
 * kernel itself reports (prctl, smaps_rollup) for memory the test touches.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kmt_test.h"
#include "kselftest_harness.h"

#define MiB (1UL << 20)

/* AnonHugePages of this process, bytes. */
static long long anon_huge(void)
{
	char buf[8192], *p;

	if (kmt_read("/proc/self/smaps_rollup", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "AnonHugePages:");
	return p ? strtoll(p + 14, NULL, 10) * 1024 : -1;
}

/* Fresh 2 MiB-aligned MADV_HUGEPAGE memory, touched; returns THP bytes gained. */
static long long fresh_thp(size_t size)
{
	long long before = anon_huge();
	uint8_t *raw = kmt_guest_mem(size + 2 * MiB), *p;
	size_t i;

	if (!raw)
		return -1;
	p = (uint8_t *)(((uintptr_t)raw + 2 * MiB - 1) & ~(2 * MiB - 1));
	if (madvise(p, size, MADV_HUGEPAGE))
		return -1;
	for (i = 0; i < size; i += 4096)
		p[i] = 1;
	return anon_huge() - before;
}

static int thp_available(void)
{
	char buf[128];

	return kmt_read("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) > 0 &&
	       !strstr(buf, "[never]");
}

static void vm_dir(struct __test_metadata *_metadata, int *kvm, int *vm, char *dir, size_t size)
{
	*kvm = kmt_kvm_fd();
	*vm = kmt_vm_create(*kvm);
	ASSERT_LE(0, *vm);
	ASSERT_EQ(0, kmt_set_slot(*vm, 0, 0, 0, MiB, kmt_guest_mem(MiB)));
	ASSERT_EQ(1, kmt_wait_vm_count(getpid(), 1));
	ASSERT_EQ(0, kmt_vm_newest(getpid(), dir, size));
}

TEST(thp_never_then_inherit)
{
	char dir[256], path[512], buf[128];
	int kvm, vm;

	if (!thp_available())
		SKIP(return, "transparent huge pages are off in this kernel");
	vm_dir(_metadata, &kvm, &vm, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/thp", dir);
	ASSERT_LT(0, kmt_read(path, buf, sizeof(buf)));
	ASSERT_EQ(0, strncmp(buf, "[inherit] never", 15)) TH_LOG("thp reads '%s'", buf);
	ASSERT_EQ(0, prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));

	ASSERT_EQ(0, kmt_write(path, "never"));
	ASSERT_LT(0, kmt_read(path, buf, sizeof(buf)));
	ASSERT_EQ(0, strncmp(buf, "inherit [never]", 15)) TH_LOG("thp reads '%s'", buf);
	ASSERT_EQ(1, prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	ASSERT_EQ(0, fresh_thp(8 * MiB));

	ASSERT_EQ(0, kmt_write(path, "inherit\n"));
	ASSERT_EQ(0, prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	ASSERT_LT(0, fresh_thp(8 * MiB)) TH_LOG("no THP after inherit");
	close(vm);
	close(kvm);
}

TEST(thp_never_spares_other_processes)
{
	char dir[256], path[512], c;
	int kvm, vm, go[2], res[2], status;
	long long got = -1;
	pid_t pid;

	if (!thp_available())
		SKIP(return, "transparent huge pages are off in this kernel");
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(res));
	pid = fork();
	if (pid == 0) {
		int k = kmt_kvm_fd(), v = kmt_vm_create(k);

		if (v < 0 || kmt_set_slot(v, 0, 0, 0, MiB, kmt_guest_mem(MiB)))
			_exit(1);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		got = fresh_thp(8 * MiB);
		if (write(res[1], &got, sizeof(got)) != sizeof(got))
			_exit(1);
		_exit(0);
	}
	vm_dir(_metadata, &kvm, &vm, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/thp", dir);
	ASSERT_EQ(0, kmt_write(path, "never"));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(sizeof(got), read(res[0], &got, sizeof(got)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_LT(0, got) TH_LOG("the other process got no THP");
	ASSERT_EQ(0, fresh_thp(8 * MiB));
	close(vm);
	close(kvm);
}

TEST(thp_rejects_bad_input)
{
	static const char * const bad[] = { "sometimes", "\n", "never never", "NEVER", "nev",
					    "inherit x", "1", "-1" };
	char dir[256], path[512], buf[128];
	unsigned int i;
	int kvm, vm;

	vm_dir(_metadata, &kvm, &vm, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/thp", dir);
	ASSERT_EQ(0, kmt_write(path, "never"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(-EINVAL, kmt_write(path, bad[i])) TH_LOG("'%s' accepted", bad[i]);
		ASSERT_LT(0, kmt_read(path, buf, sizeof(buf)));
		ASSERT_EQ(0, strncmp(buf, "inherit [never]", 15)) TH_LOG("after '%s': %s", bad[i], buf);
		ASSERT_EQ(-EINVAL, kmt_write(KMT_ROOT "/policy/thp_default", bad[i]));
	}
	ASSERT_EQ(1, prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	close(vm);
	close(kvm);
}

TEST(thp_default_applies_to_new_vms)
{
	char dir[256], path[512], buf[128];
	struct stat st;
	int kvm, vm;

	ASSERT_EQ(0, stat(KMT_ROOT "/policy/thp_default", &st));
	ASSERT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, kmt_write(KMT_ROOT "/policy/thp_default", "never"));
	ASSERT_LT(0, kmt_read(KMT_ROOT "/policy/thp_default", buf, sizeof(buf)));
	ASSERT_EQ(0, strncmp(buf, "inherit [never]", 15));
	vm_dir(_metadata, &kvm, &vm, dir, sizeof(dir));
	ASSERT_EQ(0, kmt_write(KMT_ROOT "/policy/thp_default", "inherit"));
	snprintf(path, sizeof(path), "%s/thp", dir);
	ASSERT_LT(0, kmt_read(path, buf, sizeof(buf)));
	ASSERT_EQ(0, strncmp(buf, "inherit [never]", 15)) TH_LOG("new VM: %s", buf);
	ASSERT_EQ(1, prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	close(vm);
	close(kvm);
}

TEST(thp_default_module_parameter)
{
	char buf[128];

	ASSERT_EQ(0, kmt_unload());
	ASSERT_EQ(-EINVAL, kmt_load_params("thp_default=sometimes"));
	ASSERT_FALSE(kmt_loaded());
	ASSERT_EQ(0, kmt_load_params("thp_default=never"));
	ASSERT_LT(0, kmt_read(KMT_ROOT "/policy/thp_default", buf, sizeof(buf)));
	ASSERT_EQ(0, strncmp(buf, "inherit [never]", 15));
	ASSERT_EQ(0, kmt_unload());
	ASSERT_EQ(0, kmt_load());
	ASSERT_LT(0, kmt_read(KMT_ROOT "/policy/thp_default", buf, sizeof(buf)));
	ASSERT_EQ(0, strncmp(buf, "[inherit] never", 15));
}

TEST_HARNESS_MAIN
