// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune installed like on a real host: /init loaded it with
 * `modprobe kvmmemtune` from lib/modules/KVER/updates/dkms (the module dkms
 * built), modprobe brings kvm in first, and the refusals name what is
 * missing: kvm itself, or a KVM function the module hooks.
 */
#include <sys/mount.h>
#include <sys/wait.h>

#include "kmt_test.h"
#include "../include/kvmmemtune.h"
#include "kselftest_harness.h"


/* Run a shell command; its exit status, or -1. */
static int sh(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int rmmod(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

static int module_present(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

/* Whether the kernel log holds @needle. */
static int dmesg_has(const char *needle)
{
	int len = klogctl(10, NULL, 0), n, found;
	char *buf;

	if (len <= 0)
		return 0;
	buf = malloc(len + 1);
	if (!buf)
		return 0;
	n = klogctl(3, buf, len);
	buf[n > 0 ? n : 0] = '\0';
	found = strstr(buf, needle) != NULL;
	free(buf);
	return found;
}

/*
 * Every test here unloads something; whatever happens, the next test finds
 * KVM (with /dev/kvm) and kvmmemtune loaded again.
 */
FIXTURE(installed) {
};

FIXTURE_SETUP(installed)
{
	ASSERT_TRUE(kmt_loaded()) TH_LOG("kvmmemtune not loaded by /init");
}

FIXTURE_TEARDOWN(installed)
{
	sh("modprobe kvm_amd; modprobe kvmmemtune");
	EXPECT_EQ(0, access("/dev/kvm", F_OK));
	EXPECT_TRUE(kmt_loaded());
}

TEST_F(installed, modprobe_loaded_the_dkms_module)
{
	char buf[64];

	ASSERT_LT(0, kmt_read("/sys/module/kvmmemtune/version", buf, sizeof(buf)));
	ASSERT_STREQ(KMT_VERSION "\n", buf);
	/* /init's modprobe found it through modules.dep, where dkms puts it. */
	ASSERT_EQ(0, access(kmt_module_path(), R_OK)) TH_LOG("%s", kmt_module_path());
	ASSERT_NE(NULL, strstr(kmt_module_path(), "/updates/dkms/kvmmemtune.ko"));
}

/* Whether modinfo output @out has a "@key: @value..." line. */
static int modinfo_has(const char *out, const char *key, const char *value)
{
	size_t kl = strlen(key);
	const char *p, *v;

	for (p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) || p[kl] != ':')
			continue;
		for (v = p + kl + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (!strncmp(v, value, strlen(value)))
			return 1;
	}
	return 0;
}

TEST_F(installed, modinfo_shows_metadata_and_parameters)
{
	char out[4096];
	FILE *f = popen("modinfo kvmmemtune 2>&1", "r");
	size_t n;

	ASSERT_NE(NULL, f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	if (pclose(f) != 0)
		SKIP(return, "busybox modinfo failed: %.200s", out);
	ASSERT_TRUE(modinfo_has(out, "version", KMT_VERSION "\n")) TH_LOG("%s", out);
	ASSERT_TRUE(modinfo_has(out, "license", "GPL\n")) TH_LOG("%s", out);
	ASSERT_TRUE(modinfo_has(out, "depends", "kvm\n")) TH_LOG("%s", out);
	ASSERT_TRUE(modinfo_has(out, "description", "Per-VM memory")) TH_LOG("%s", out);
	ASSERT_TRUE(modinfo_has(out, "author", "The kvmmemtune developers")) TH_LOG("%s", out);
	ASSERT_TRUE(modinfo_has(out, "parm", "thp_default:THP policy")) TH_LOG("%s", out);
	ASSERT_TRUE(modinfo_has(out, "parm", "selftest_missing_hook:For the selftests"))
		TH_LOG("%s", out);
}

TEST_F(installed, modprobe_loads_kvm_first)
{
	ASSERT_EQ(0, rmmod("kvmmemtune"));
	ASSERT_EQ(0, rmmod("kvm_amd"));
	ASSERT_EQ(0, rmmod("kvm"));
	ASSERT_FALSE(module_present("kvm"));

	/* Without kvm, the module itself cannot load: the kernel names the symbol. */
	ASSERT_EQ(-ENOENT, kmt_load());
	ASSERT_TRUE(dmesg_has("kvmmemtune: Unknown symbol kvm_"));
	ASSERT_FALSE(kmt_loaded());

	/* modprobe reads depends=kvm from modules.dep and loads kvm first. */
	ASSERT_EQ(0, sh("modprobe kvmmemtune"));
	ASSERT_TRUE(module_present("kvm"));
	ASSERT_TRUE(kmt_loaded());
	ASSERT_FALSE(module_present("kvm_amd"));

	ASSERT_EQ(0, sh("modprobe kvm_amd"));
	ASSERT_EQ(0, access("/dev/kvm", F_OK));
}

TEST_F(installed, missing_kvm_function_refused_and_unwound)
{
	char line[512];
	int probes;

	/* The expected error line would fail later dmesg checks: start clean, end clean. */
	ASSERT_EQ(0, kmt_dmesg_trouble(line, sizeof(line))) TH_LOG("dmesg: %s", line);
	probes = kmt_kvm_probes();
	/* Three kprobes on kvm_arch_* and the kvm_age_gfn kretprobe. */
	ASSERT_EQ(4, probes) TH_LOG("kvmmemtune probes in " KMT_KPROBE_LIST ": %d", probes);
	ASSERT_EQ(0, kmt_unload());
	ASSERT_EQ(0, kmt_kvm_probes());
	ASSERT_EQ(0, klogctl(5, NULL, 0));

	/* The real hooks register, the selftest one does not exist. */
	ASSERT_EQ(-ENOENT, kmt_load_params("selftest_missing_hook=1"));
	ASSERT_TRUE(dmesg_has("kvmmemtune: cannot hook KVM function kvm_arch_kvmmemtune_selftest_missing: "
			      "kvm.ko of this kernel has no such function; not loading"));
	ASSERT_EQ(1, kmt_dmesg_trouble(line, sizeof(line)));
	ASSERT_NE(NULL, strstr(line, "kvmmemtune: cannot hook KVM function kvm_arch_kvmmemtune_selftest"))
		TH_LOG("other trouble in dmesg: %s", line);
	ASSERT_FALSE(kmt_loaded());
	ASSERT_FALSE(module_present("kvmmemtune"));
	ASSERT_EQ(0, kmt_kvm_probes()) TH_LOG("hooks left registered");
	ASSERT_EQ(0, klogctl(5, NULL, 0));

	/* A normal load afterwards hooks as before. */
	ASSERT_EQ(0, kmt_load());
	ASSERT_EQ(probes, kmt_kvm_probes());
}

TEST_HARNESS_MAIN
