// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune foundation tests: the module loads, shows its sysfs root with
 * the right modes, unloads without a trace, and leaves KVM working.
 */
#include "kmt_test.h"
#include "../include/kvmmemtune.h"
#include "kselftest_harness.h"

static void expect_dir(struct __test_metadata *_metadata, const char *path)
{
	struct stat st;

	ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_TRUE(S_ISDIR(st.st_mode)) TH_LOG("%s is not a directory", path);
}

TEST(module_is_loaded)
{
	ASSERT_TRUE(kmt_loaded()) TH_LOG("%s missing: module not loaded", KMT_ROOT);
}

TEST(sysfs_root_and_modes)
{
	char buf[64];
	struct stat st;

	expect_dir(_metadata, KMT_ROOT);
	expect_dir(_metadata, KMT_ROOT "/vms");
	expect_dir(_metadata, KMT_ROOT "/host");
	expect_dir(_metadata, KMT_ROOT "/policy");
	ASSERT_EQ(0, stat(KMT_ROOT "/version", &st));
	ASSERT_EQ(0444, st.st_mode & 07777);
	ASSERT_LT(0, kmt_read(KMT_ROOT "/version", buf, sizeof(buf)));
	ASSERT_STREQ(KMT_VERSION "\n", buf);
	/* version is read-only, even for root. */
	ASSERT_NE(0, kmt_write(KMT_ROOT "/version", "9.9.9"));
}

TEST(rmmod_removes_the_tree)
{
	ASSERT_EQ(0, kmt_unload());
	ASSERT_FALSE(kmt_loaded());
	ASSERT_EQ(-ENOENT, kmt_unload());
	ASSERT_EQ(0, kmt_load());
	ASSERT_TRUE(kmt_loaded());
	/* A second load of the same module is refused, the first stays. */
	ASSERT_EQ(-EEXIST, kmt_load());
	ASSERT_TRUE(kmt_loaded());
}

TEST(reload_20_times_leaves_dmesg_clean)
{
	char line[512];
	int i;

	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, kmt_unload()) TH_LOG("cycle %d", i);
		ASSERT_FALSE(kmt_loaded());
		ASSERT_EQ(0, kmt_load()) TH_LOG("cycle %d", i);
		ASSERT_TRUE(kmt_loaded());
	}
	ASSERT_EQ(0, kmt_dmesg_trouble(line, sizeof(line))) TH_LOG("dmesg: %s", line);
}

TEST(vm_runs_with_module_loaded)
{
	/* mov $0x42,%al; out %al,$0x10; hlt */
	static const uint8_t code[] = { 0xb0, 0x42, 0xe6, 0x10, 0xf4 };
	const size_t size = 0x10000;
	struct kmt_vcpu v;
	int kvm, vm;
	uint8_t *mem;

	ASSERT_TRUE(kmt_loaded());
	kvm = kmt_kvm_fd();
	ASSERT_LE(0, kvm) TH_LOG("/dev/kvm: %s", strerror(errno));
	vm = kmt_vm_create(kvm);
	ASSERT_LE(0, vm) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	mem = kmt_guest_mem(size);
	ASSERT_NE(NULL, mem);
	memcpy(mem + 0x1000, code, sizeof(code));
	ASSERT_EQ(0, kmt_set_slot(vm, 0, 0, 0, size, mem));
	ASSERT_EQ(0, kmt_vcpu_create(kvm, vm, 0x1000, &v));
	ASSERT_EQ(KVM_EXIT_IO, kmt_vcpu_run(&v));
	ASSERT_EQ(0x10, v.run->io.port);
	ASSERT_EQ(KVM_EXIT_IO_OUT, v.run->io.direction);
	ASSERT_EQ(0x42, *((uint8_t *)v.run + v.run->io.data_offset));
	ASSERT_EQ(KVM_EXIT_HLT, kmt_vcpu_run(&v));
	close(v.fd);
	close(vm);
	close(kvm);
}

TEST_HARNESS_MAIN
