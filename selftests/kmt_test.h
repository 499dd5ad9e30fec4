/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kvmmemtune selftests: loading the module, making
 * VMs through /dev/kvm, and reading /sys/kernel/kvmmemtune.
 */
#ifndef KMT_TEST_H
#define KMT_TEST_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define KMT_ROOT "/sys/kernel/kvmmemtune"
#define KMT_MAX_DIRS 512

static inline const char *kmt_module_path(void)
{
	const char *p = getenv("KMT_MODULE");

	return p ? p : "/lib/kvmmemtune.ko";
}

/* insmod; returns 0 or -errno. */
static inline int kmt_load(void)
{
	int fd = open(kmt_module_path(), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* insmod with module parameters; returns 0 or -errno. */
static inline int kmt_load_params(const char *params)
{
	int fd = open(kmt_module_path(), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* rmmod; returns 0 or -errno. */
static inline int kmt_unload(void)
{
	return syscall(SYS_delete_module, "kvmmemtune", O_NONBLOCK) ? -errno : 0;
}

static inline int kmt_loaded(void)
{
	return access(KMT_ROOT, F_OK) == 0;
}

/* Read a whole file into buf (NUL-terminated). Returns length or -errno. */
static inline ssize_t kmt_read(const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	if (n < 0)
		return -errno;
	buf[len] = '\0';
	return len;
}

static inline int kmt_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* A "Key:   N kB" value of a /proc file, in bytes; -1 if absent. */
static inline long long kmt_proc_kb(const char *path, const char *key)
{
	char buf[8192], *p;

	if (kmt_read(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) * 1024 : -1;
}

static inline long long kmt_meminfo(const char *key)
{
	return kmt_proc_kb("/proc/meminfo", key);
}

/*
 * The /proc/self/pagemap entry of each 4 KiB page of [p, p + len) into
 * @out (bit 63 present, 62 swapped, 0-54 the PFN). Returns 0 or -errno.
 */
static inline int kmt_pagemap(const void *p, size_t len, uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t i, n = len / 4096;
	int ret = 0;

	if (fd < 0)
		return -errno;
	for (i = 0; i < n; i++)
		if (pread(fd, &out[i], 8, ((uintptr_t)p / 4096 + i) * 8) != 8) {
			ret = -EIO;
			break;
		}
	close(fd);
	return ret;
}

/* Value of "key value" in a stat-like buffer; -1 when the key is absent. */
static inline long long kmt_key(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	const char *p = buf;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoll(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static inline long long kmt_stat(const char *vmdir, const char *key)
{
	char path[512], buf[8192];

	snprintf(path, sizeof(path), "%s/stat", vmdir);
	if (kmt_read(path, buf, sizeof(buf)) < 0)
		return -1;
	return kmt_key(buf, key);
}

/* Sequence numbers of pid's VM directories, ascending. Returns count. */
static inline int kmt_vm_seqs(pid_t pid, unsigned long long *seq, int max)
{
	DIR *d = opendir(KMT_ROOT "/vms");
	struct dirent *e;
	int n = 0, i, j;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		int p;
		unsigned long long s;

		char path[512];

		if (sscanf(e->d_name, "%d-%llu", &p, &s) != 2 || p != pid || n >= max)
			continue;
		/* sysfs shows a directory before its files: count complete ones. */
		snprintf(path, sizeof(path), KMT_ROOT "/vms/%s/slot_stat", e->d_name);
		if (!access(path, F_OK))
			seq[n++] = s;
	}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && seq[j - 1] > seq[j]; j--) {
			unsigned long long t = seq[j];

			seq[j] = seq[j - 1];
			seq[j - 1] = t;
		}
	return n;
}

static inline int kmt_vm_count(pid_t pid)
{
	unsigned long long seq[KMT_MAX_DIRS];

	return kmt_vm_seqs(pid, seq, KMT_MAX_DIRS);
}

/* Every VM directory, whoever owns it. */
static inline int kmt_vm_count_all(void)
{
	DIR *d = opendir(KMT_ROOT "/vms");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Directory of pid's newest VM into dir; 0 or -ENOENT. */
static inline int kmt_vm_newest(pid_t pid, char *dir, size_t size)
{
	unsigned long long seq[KMT_MAX_DIRS];
	int n = kmt_vm_seqs(pid, seq, KMT_MAX_DIRS);

	if (!n)
		return -ENOENT;
	snprintf(dir, size, KMT_ROOT "/vms/%d-%llu", pid, seq[n - 1]);
	return 0;
}

static inline void kmt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Wait until pid has @want VM directories. Directory removal is deferred to
 * a work item; this bounds the wait (liveness, not timing: 10 s under
 * emulation is generous). Returns the final count.
 */
static inline int kmt_wait_vm_count(pid_t pid, int want)
{
	int i, n = 0;

	for (i = 0; i < 1000; i++) {
		n = kmt_vm_count(pid);
		if (n == want)
			break;
		kmt_sleep_ms(10);
	}
	return n;
}

static inline int kmt_kvm_fd(void)
{
	return open("/dev/kvm", O_RDWR | O_CLOEXEC);
}

static inline int kmt_vm_create(int kvm)
{
	int fd;

	do
		fd = ioctl(kvm, KVM_CREATE_VM, 0);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/* Anonymous memory for a slot, or NULL. */
static inline void *kmt_guest_mem(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline int kmt_set_slot(int vm, uint32_t as_slot, uint32_t flags, uint64_t gpa,
			       uint64_t size, void *mem)
{
	struct kvm_userspace_memory_region r = {
		.slot = as_slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)mem,
	};

	return ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

/* A vCPU of @vm in real mode at @rip, with its kvm_run mapped. */
struct kmt_vcpu {
	int fd;
	struct kvm_run *run;
};

static inline int kmt_vcpu_create(int kvm, int vm, uint64_t rip, struct kmt_vcpu *v)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int size;

	v->fd = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (v->fd < 0)
		return -errno;
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0)
		return -errno;
	v->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED)
		return -errno;
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs))
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rflags = 2;
	if (ioctl(v->fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

/* Run until the next exit; returns the exit reason or -errno. */
static inline int kmt_vcpu_run(struct kmt_vcpu *v)
{
	int ret;

	do
		ret = ioctl(v->fd, KVM_RUN, 0);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : (int)v->run->exit_reason;
}

#define KMT_KPROBE_LIST "/sys/kernel/debug/kprobes/list"

/*
 * Registered probes on the KVM functions kvmmemtune hooks (kvm_arch_*
 * kprobes and the kvm_age_gfn kretprobe); -1 when the list is unreadable.
 */
static inline int kmt_kvm_probes(void)
{
	static const char * const hooked[] = { " kvm_arch_", " kvm_age_gfn+" };
	static char buf[65536];
	unsigned int i;
	int n = 0;
	char *p;

	if (access(KMT_KPROBE_LIST, R_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (kmt_read(KMT_KPROBE_LIST, buf, sizeof(buf)) < 0)
		return -1;
	for (i = 0; i < sizeof(hooked) / sizeof(hooked[0]); i++)
		for (p = buf; (p = strstr(p, hooked[i])); p++)
			n++;
	return n;
}

/*
 * Whether the kernel log holds a line a clean run must not print; the first
 * such line goes to @line. Returns 1 if so, 0 if not, -errno on failure.
 */
static inline int kmt_dmesg_trouble(char *line, size_t size)
{
	static const char * const bad[] = { "WARNING:", "BUG:", "Oops", "possible recursive locking",
					    "possible circular locking", "general protection",
					    "kvmmemtune: cannot", "INFO: task" };
	int len = klogctl(10, NULL, 0), n;
	char *buf, *p, *nl;
	size_t i;

	if (len <= 0)
		return -errno;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	n = klogctl(3, buf, len);
	if (n < 0) {
		free(buf);
		return -errno;
	}
	buf[n] = '\0';
	for (p = buf; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(p, bad[i])) {
				snprintf(line, size, "%s", p);
				free(buf);
				return 1;
			}
		}
	}
	free(buf);
	return 0;
}

#endif /* KMT_TEST_H */
