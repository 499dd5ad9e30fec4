// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune VM tracking tests: every VM and memslot change made here
 * through /dev/kvm must show up, exactly, under /sys/kernel/kvmmemtune/vms.
 */
#include <signal.h>
#include <sys/wait.h>

#include "kmt_test.h"
#include "kselftest_harness.h"

#define MiB (1UL << 20)

/* Expected memslots line for a slot. */
static void slot_line(char *buf, size_t size, int as, int id, uint64_t gpa, uint64_t bytes,
		      void *mem, unsigned int flags)
{
	snprintf(buf, size, "%d %d %llu %llu 0x%lx %u\n", as, id,
		 (unsigned long long)(gpa >> 12), (unsigned long long)(bytes >> 12),
		 (unsigned long)mem, flags);
}

static void read_vm_file(struct __test_metadata *_metadata, const char *dir,
			 const char *file, char *buf, size_t size)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	ASSERT_LE(0, kmt_read(path, buf, size)) TH_LOG("%s: %s", path, strerror(errno));
}

/* The newest VM directory of this process, waiting for it to appear. */
static void newest_dir(struct __test_metadata *_metadata, int want, char *dir, size_t size)
{
	ASSERT_EQ(want, kmt_wait_vm_count(getpid(), want));
	ASSERT_EQ(0, kmt_vm_newest(getpid(), dir, size));
}

TEST(memslot_create_flags_move_delete)
{
	char dir[256], buf[4096], want[128];
	const size_t size = 4 * MiB;
	int kvm, vm;
	void *mem;

	kvm = kmt_kvm_fd();
	ASSERT_LE(0, kvm);
	vm = kmt_vm_create(kvm);
	ASSERT_LE(0, vm);
	mem = kmt_guest_mem(size);
	ASSERT_NE(NULL, mem);

	ASSERT_EQ(0, kmt_set_slot(vm, 3, 0, 1 * MiB, size, mem));
	newest_dir(_metadata, 1, dir, sizeof(dir));
	read_vm_file(_metadata, dir, "memslots", buf, sizeof(buf));
	slot_line(want, sizeof(want), 0, 3, 1 * MiB, size, mem, 0);
	ASSERT_STREQ(want, buf);
	ASSERT_EQ(size, kmt_stat(dir, "guest_bytes"));
	ASSERT_EQ(1, kmt_stat(dir, "memslots"));
	ASSERT_EQ(1, kmt_stat(dir, "memslot_create"));
	ASSERT_EQ(0, kmt_stat(dir, "memslot_flags"));

	/* Dirty logging on, then off: two flag-only changes. */
	ASSERT_EQ(0, kmt_set_slot(vm, 3, KVM_MEM_LOG_DIRTY_PAGES, 1 * MiB, size, mem));
	read_vm_file(_metadata, dir, "memslots", buf, sizeof(buf));
	slot_line(want, sizeof(want), 0, 3, 1 * MiB, size, mem, KVM_MEM_LOG_DIRTY_PAGES);
	ASSERT_STREQ(want, buf);
	ASSERT_EQ(1, kmt_stat(dir, "memslot_flags"));
	ASSERT_EQ(0, kmt_set_slot(vm, 3, 0, 1 * MiB, size, mem));
	ASSERT_EQ(2, kmt_stat(dir, "memslot_flags"));

	/* Same slot, same size, another guest address: a move. */
	ASSERT_EQ(0, kmt_set_slot(vm, 3, 0, 64 * MiB, size, mem));
	read_vm_file(_metadata, dir, "memslots", buf, sizeof(buf));
	slot_line(want, sizeof(want), 0, 3, 64 * MiB, size, mem, 0);
	ASSERT_STREQ(want, buf);
	ASSERT_EQ(1, kmt_stat(dir, "memslot_move"));
	ASSERT_EQ(size, kmt_stat(dir, "guest_bytes"));

	/* A second slot, then deletion of the first. */
	ASSERT_EQ(0, kmt_set_slot(vm, 9, 0, 128 * MiB, 1 * MiB, mem));
	ASSERT_EQ(2, kmt_stat(dir, "memslots"));
	ASSERT_EQ(size + 1 * MiB, kmt_stat(dir, "guest_bytes"));
	ASSERT_EQ(0, kmt_set_slot(vm, 3, 0, 64 * MiB, 0, mem));
	read_vm_file(_metadata, dir, "memslots", buf, sizeof(buf));
	slot_line(want, sizeof(want), 0, 9, 128 * MiB, 1 * MiB, mem, 0);
	ASSERT_STREQ(want, buf);
	ASSERT_EQ(1, kmt_stat(dir, "memslot_delete"));
	ASSERT_EQ(2, kmt_stat(dir, "memslot_create"));
	ASSERT_EQ(1 * MiB, kmt_stat(dir, "guest_bytes"));

	close(vm);
	ASSERT_EQ(0, kmt_wait_vm_count(getpid(), 0));
	close(kvm);
}

TEST(per_vm_files_are_root_only)
{
	static const char * const files[] = { "pid", "comm", "memslots", "stat" };
	char dir[256], path[512], buf[64];
	struct stat st;
	unsigned int i;
	int kvm, vm;
	void *mem = kmt_guest_mem(MiB);

	kvm = kmt_kvm_fd();
	vm = kmt_vm_create(kvm);
	ASSERT_LE(0, vm);
	ASSERT_EQ(0, kmt_set_slot(vm, 0, 0, 0, MiB, mem));
	newest_dir(_metadata, 1, dir, sizeof(dir));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s", path);
		ASSERT_EQ(0400, st.st_mode & 07777) TH_LOG("%s", path);
		ASSERT_NE(0, kmt_write(path, "1")) TH_LOG("%s accepted a write", path);
	}
	read_vm_file(_metadata, dir, "pid", buf, sizeof(buf));
	ASSERT_EQ(getpid(), atoi(buf));
	read_vm_file(_metadata, dir, "comm", buf, sizeof(buf));
	ASSERT_STREQ("test_vms\n", buf);
	close(vm);
	close(kvm);
}

TEST(tracepoints_fire)
{
	static const char * const ev[] = { "vm_add", "vm_remove", "memslot_change" };
	const char *t = "/sys/kernel/tracing";
	char path[256], *buf;
	unsigned int i;
	int kvm, vm;
	void *mem = kmt_guest_mem(MiB);

	if (access("/sys/kernel/tracing/events", F_OK))
		t = "/sys/kernel/debug/tracing";
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/events/kvmmemtune/%s", t, ev[i]);
		ASSERT_EQ(0, access(path, F_OK)) TH_LOG("%s missing", path);
	}
	snprintf(path, sizeof(path), "%s/trace", t);
	ASSERT_EQ(0, kmt_write(path, ""));
	snprintf(path, sizeof(path), "%s/events/kvmmemtune/enable", t);
	ASSERT_EQ(0, kmt_write(path, "1"));

	kvm = kmt_kvm_fd();
	vm = kmt_vm_create(kvm);
	ASSERT_LE(0, vm);
	ASSERT_EQ(0, kmt_set_slot(vm, 5, 0, 16 * MiB, MiB, mem));
	close(vm);
	ASSERT_EQ(0, kmt_wait_vm_count(getpid(), 0));

	ASSERT_EQ(0, kmt_write(path, "0"));
	buf = malloc(1 << 20);
	snprintf(path, sizeof(path), "%s/trace", t);
	ASSERT_LT(0, kmt_read(path, buf, 1 << 20));
	snprintf(path, sizeof(path), "vm_add: vm=%d-", getpid());
	ASSERT_NE(NULL, strstr(buf, path)) TH_LOG("no '%s' in trace", path);
	snprintf(path, sizeof(path), "vm_remove: vm=%d-", getpid());
	ASSERT_NE(NULL, strstr(buf, path)) TH_LOG("no '%s' in trace", path);
	snprintf(path, sizeof(path), "create as=0 id=5 base_gfn=4096 npages=256 uaddr=0x%lx flags=0",
		 (unsigned long)mem);
	ASSERT_NE(NULL, strstr(buf, path)) TH_LOG("no '%s' in trace:\n%s", path, buf);
	free(buf);
	close(kvm);
}

TEST(several_vms_in_one_process)
{
	unsigned long long seq[8];
	char dir[256], host[256];
	int kvm, vm[3], i;

	kvm = kmt_kvm_fd();
	for (i = 0; i < 3; i++) {
		vm[i] = kmt_vm_create(kvm);
		ASSERT_LE(0, vm[i]);
		ASSERT_EQ(0, kmt_set_slot(vm[i], 0, 0, 0, (i + 1) * MiB, kmt_guest_mem((i + 1) * MiB)));
		/* Wait for each, so first sight follows creation order. */
		ASSERT_EQ(i + 1, kmt_wait_vm_count(getpid(), i + 1));
	}
	ASSERT_EQ(3, kmt_vm_seqs(getpid(), seq, 8));
	ASSERT_LT(0, kmt_read(KMT_ROOT "/host/stat", host, sizeof(host)));
	ASSERT_EQ(kmt_vm_count_all(), kmt_key(host, "vms"));
	ASSERT_LE(3, kmt_key(host, "vms"));
	ASSERT_EQ(0, kmt_key(host, "memslot_events_lost"));
	for (i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), KMT_ROOT "/vms/%d-%llu", getpid(), seq[i]);
		ASSERT_EQ((i + 1) * MiB, kmt_stat(dir, "guest_bytes")) TH_LOG("%s", dir);
	}
	close(vm[1]);
	ASSERT_EQ(2, kmt_wait_vm_count(getpid(), 2));
	ASSERT_EQ(2, kmt_vm_seqs(getpid(), seq, 8));
	snprintf(dir, sizeof(dir), KMT_ROOT "/vms/%d-%llu", getpid(), seq[1]);
	ASSERT_EQ(3 * MiB, kmt_stat(dir, "guest_bytes"));
	close(vm[0]);
	close(vm[2]);
	ASSERT_EQ(0, kmt_wait_vm_count(getpid(), 0));
	close(kvm);
}

/* A child that makes one VM of @mib MiB, says "r", waits for EOF, exits. */
static pid_t spawn_vm_child(int mib, int *ready_fd, int *go_fd)
{
	int ready[2], go[2];
	pid_t pid;

	if (pipe(ready) || pipe(go))
		return -1;
	pid = fork();
	if (pid == 0) {
		int kvm, vm, fd;
		char c;

		/* Other children's pipes too: their EOF must not wait for us. */
		for (fd = 3; fd < 1024; fd++)
			if (fd != ready[1] && fd != go[0])
				close(fd);
		kvm = kmt_kvm_fd();
		vm = kmt_vm_create(kvm);
		if (vm < 0 || kmt_set_slot(vm, 0, 0, 0, mib * MiB, kmt_guest_mem(mib * MiB)))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(go[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	*ready_fd = ready[0];
	*go_fd = go[1];
	return pid;
}

TEST(several_processes)
{
	int ready[3], go[3], i, status;
	pid_t pid[3];
	char dir[256], c;

	for (i = 0; i < 3; i++) {
		pid[i] = spawn_vm_child(i + 2, &ready[i], &go[i]);
		ASSERT_LT(0, pid[i]);
		ASSERT_EQ(1, read(ready[i], &c, 1));
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, kmt_wait_vm_count(pid[i], 1));
		ASSERT_EQ(0, kmt_vm_newest(pid[i], dir, sizeof(dir)));
		ASSERT_EQ((i + 2) * MiB, kmt_stat(dir, "guest_bytes"));
	}
	for (i = 0; i < 3; i++) {
		close(go[i]);
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		ASSERT_EQ(0, kmt_wait_vm_count(pid[i], 0));
	}
}

TEST(sigkill_while_holding_vms)
{
	int ready[2], status, i;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	if (pid == 0) {
		int kvm = kmt_kvm_fd();

		for (i = 0; i < 4; i++) {
			int vm = kmt_vm_create(kvm);

			if (vm < 0 || kmt_set_slot(vm, i, 0, 0, MiB, kmt_guest_mem(MiB)))
				_exit(1);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(4, kmt_wait_vm_count(pid, 4));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(0, kmt_wait_vm_count(pid, 0));
}

TEST(vm_created_before_load_is_discovered)
{
	char dir[256], buf[4096], want[512], line[128];
	int kvm, vm, smm;
	void *a = kmt_guest_mem(2 * MiB), *b = kmt_guest_mem(MiB);

	ASSERT_EQ(0, kmt_unload());
	kvm = kmt_kvm_fd();
	vm = kmt_vm_create(kvm);
	ASSERT_LE(0, vm);
	ASSERT_EQ(0, kmt_set_slot(vm, 0, 0, 0, 2 * MiB, a));
	ASSERT_EQ(0, kmt_set_slot(vm, 7, KVM_MEM_LOG_DIRTY_PAGES, 32 * MiB, MiB, b));
	smm = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE) >= 2;
	if (smm)
		ASSERT_EQ(0, kmt_set_slot(vm, 1 << 16 | 2, 0, 0, MiB, b));
	ASSERT_EQ(0, kmt_load());

	/* Discovery runs inside init_module: the VM is known on return. */
	newest_dir(_metadata, 1, dir, sizeof(dir));
	read_vm_file(_metadata, dir, "memslots", buf, sizeof(buf));
	slot_line(want, sizeof(want), 0, 0, 0, 2 * MiB, a, 0);
	slot_line(line, sizeof(line), 0, 7, 32 * MiB, MiB, b, KVM_MEM_LOG_DIRTY_PAGES);
	strcat(want, line);
	if (smm) {
		slot_line(line, sizeof(line), 1, 2, 0, MiB, b, 0);
		strcat(want, line);
	}
	ASSERT_STREQ(want, buf);
	ASSERT_EQ(3 * MiB, kmt_stat(dir, "guest_bytes"));
	ASSERT_EQ(0, kmt_stat(dir, "memslot_create"));

	/* Followed from now on. */
	ASSERT_EQ(0, kmt_set_slot(vm, 7, 0, 32 * MiB, MiB, b));
	ASSERT_EQ(1, kmt_stat(dir, "memslot_flags"));
	close(vm);
	ASSERT_EQ(0, kmt_wait_vm_count(getpid(), 0));
	close(kvm);
}

TEST(unload_with_live_vm)
{
	int kvm, vm;
	char dir[256];

	kvm = kmt_kvm_fd();
	vm = kmt_vm_create(kvm);
	ASSERT_LE(0, vm);
	ASSERT_EQ(0, kmt_set_slot(vm, 0, 0, 0, MiB, kmt_guest_mem(MiB)));
	newest_dir(_metadata, 1, dir, sizeof(dir));
	ASSERT_EQ(0, kmt_unload());
	/* The VM lives on without the module, and is found again. */
	ASSERT_EQ(0, kmt_set_slot(vm, 1, 0, 16 * MiB, MiB, kmt_guest_mem(MiB)));
	ASSERT_EQ(0, kmt_load());
	newest_dir(_metadata, 1, dir, sizeof(dir));
	ASSERT_EQ(2, kmt_stat(dir, "memslots"));
	close(vm);
	ASSERT_EQ(0, kmt_wait_vm_count(getpid(), 0));
	close(kvm);
}

TEST(smm_address_space_listed)
{
	char dir[256], buf[4096], want[256], line[128];
	int kvm, vm;
	void *mem = kmt_guest_mem(2 * MiB);

	kvm = kmt_kvm_fd();
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE) < 2)
		SKIP(return, "KVM has no second (SMM) address space here");
	vm = kmt_vm_create(kvm);
	ASSERT_LE(0, vm);
	ASSERT_EQ(0, kmt_set_slot(vm, 0, 0, 0, 2 * MiB, mem));
	ASSERT_EQ(0, kmt_set_slot(vm, 1 << 16 | 0, 0, 0, MiB, mem));
	newest_dir(_metadata, 1, dir, sizeof(dir));
	read_vm_file(_metadata, dir, "memslots", buf, sizeof(buf));
	slot_line(want, sizeof(want), 0, 0, 0, 2 * MiB, mem, 0);
	slot_line(line, sizeof(line), 1, 0, 0, MiB, mem, 0);
	strcat(want, line);
	ASSERT_STREQ(want, buf);
	/* guest_bytes counts address space 0 only. */
	ASSERT_EQ(2 * MiB, kmt_stat(dir, "guest_bytes"));
	ASSERT_EQ(2, kmt_stat(dir, "memslots"));
	close(vm);
	close(kvm);
}

/* 200 VM lifetimes: seconds normally, minutes on the debug kernel. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, churn_200_vms_leaves_nothing, 600)
{
	char line[512];
	int kvm, i;
	void *mem = kmt_guest_mem(MiB);

	kvm = kmt_kvm_fd();
	for (i = 0; i < 200; i++) {
		int vm = kmt_vm_create(kvm);

		ASSERT_LE(0, vm) TH_LOG("VM %d: %s", i, strerror(errno));
		ASSERT_EQ(0, kmt_set_slot(vm, 0, 0, 0, MiB, mem));
		ASSERT_EQ(0, kmt_set_slot(vm, 0, 0, 0, 0, mem));
		ASSERT_EQ(0, kmt_set_slot(vm, 1, 0, 0, MiB, mem));
		close(vm);
	}
	ASSERT_EQ(0, kmt_wait_vm_count(getpid(), 0));
	close(kvm);
	ASSERT_EQ(0, kmt_unload());
	ASSERT_EQ(0, kmt_load());
	ASSERT_EQ(0, kmt_dmesg_trouble(line, sizeof(line))) TH_LOG("dmesg: %s", line);
}

TEST_HARNESS_MAIN
