// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune - read the per-VM memory picture of a KVM host from
 * /sys/kernel/kvmmemtune.
 *
 * Exit codes: 0 ok, 1 usage error, 2 module not loaded, 3 permission
 * denied (per-VM files are root-only), 4 other error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvmmemtune.h"

enum { EXIT_USAGE = 1, EXIT_NOMODULE = 2, EXIT_PERM = 3, EXIT_ERR = 4 };

static int human = 1;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvmmemtune [-b] [COMMAND]\n"
		"\n"
		"Per-VM memory statistics of this KVM host, from " KMT_SYSFS_ROOT ".\n"
		"\n"
		"commands:\n"
		"  list       one line per VM: id, pid, name, guest size, memslots (default)\n"
		"  version    versions of the tool and of the loaded module\n"
		"\n"
		"options:\n"
		"  -b         sizes in bytes\n"
		"  -h, --help this text\n"
		"\n"
		"exit codes: 0 ok, 1 usage, 2 module not loaded, 3 permission denied, 4 other error\n");
}

/* Read a small sysfs file; 0 or -errno. */
static int read_file(const char *path, char *buf, size_t size)
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
	return 0;
}

/* Parse "key value" lines: value of @key, or -1. */
static long long stat_key(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	const char *p;

	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *end;
		long long v;

		if (strncmp(p, key, kl) || p[kl] != ' ')
			continue;
		errno = 0;
		v = strtoll(p + kl + 1, &end, 10);
		if (errno || end == p + kl + 1)
			return -1;
		return v;
	}
	return -1;
}

static const char *size_str(long long bytes, char *out, size_t size)
{
	static const char unit[] = "BKMGTP";
	double v = bytes;
	int u = 0;

	if (bytes < 0)
		return "-";
	if (!human) {
		snprintf(out, size, "%lld", bytes);
		return out;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f%c" : "%.0f%c", v, unit[u]);
	return out;
}

static int fail_errno(const char *what, int err)
{
	fprintf(stderr, "kvmmemtune: %s: %s\n", what, strerror(err));
	if (err == EACCES || err == EPERM) {
		fprintf(stderr, "kvmmemtune: per-VM files are root-only; run as root\n");
		return EXIT_PERM;
	}
	return EXIT_ERR;
}

static int check_module(void)
{
	if (access(KMT_SYSFS_ROOT, F_OK)) {
		fprintf(stderr, "kvmmemtune: %s not found: is the kvmmemtune module loaded? (modprobe kvmmemtune)\n",
			KMT_SYSFS_ROOT);
		return EXIT_NOMODULE;
	}
	return 0;
}

static int cmd_list(void)
{
	char path[512], buf[4096], comm[64], s1[32];
	struct dirent *e;
	DIR *d;
	int ret = check_module();

	if (ret)
		return ret;
	d = opendir(KMT_SYSFS_ROOT "/vms");
	if (!d)
		return fail_errno(KMT_SYSFS_ROOT "/vms", errno);
	printf("%-16s %8s %-16s %10s %8s\n", "VM", "PID", "NAME", "GUEST", "MEMSLOTS");
	while ((e = readdir(d))) {
		int err;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), KMT_SYSFS_ROOT "/vms/%s/comm", e->d_name);
		err = read_file(path, comm, sizeof(comm));
		if (err == -ENOENT)
			continue;	/* the VM went away meanwhile */
		if (err) {
			closedir(d);
			return fail_errno(path, -err);
		}
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(path, sizeof(path), KMT_SYSFS_ROOT "/vms/%s/stat", e->d_name);
		err = read_file(path, buf, sizeof(buf));
		if (err == -ENOENT)
			continue;
		if (err) {
			closedir(d);
			return fail_errno(path, -err);
		}
		printf("%-16s %8d %-16s %10s %8lld\n", e->d_name, atoi(e->d_name), comm,
		       size_str(stat_key(buf, "guest_bytes"), s1, sizeof(s1)),
		       stat_key(buf, "memslots"));
	}
	closedir(d);
	return 0;
}

static int cmd_version(void)
{
	char buf[64];
	int err;

	printf("tool %s\n", KMT_VERSION);
	err = read_file(KMT_SYSFS_ROOT "/version", buf, sizeof(buf));
	if (err)
		return check_module() ?: fail_errno(KMT_SYSFS_ROOT "/version", -err);
	printf("module %s", buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-b")) {
			human = 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "kvmmemtune: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		} else if (!cmd) {
			cmd = argv[i];
		} else {
			fprintf(stderr, "kvmmemtune: unexpected argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!cmd || !strcmp(cmd, "list"))
		return cmd_list();
	if (!strcmp(cmd, "version"))
		return cmd_version();
	fprintf(stderr, "kvmmemtune: unknown command '%s' (see kvmmemtune --help)\n", cmd);
	return EXIT_USAGE;
}
