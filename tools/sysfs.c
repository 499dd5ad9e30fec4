// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune tool: reading /sys/kernel/kvmmemtune and /proc, finding VMs,
 * and turning failures into messages and exit codes.
 *
 * KVMMEMTUNE_SYSFS and KVMMEMTUNE_PROC in the environment replace
 * /sys/kernel/kvmmemtune and /proc, so tests can point the tool at a fake
 * tree.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvmmemtune.h"
#include "kmt.h"

const char *kmt_prog = "kvmmemtune";

const char *kmt_root(void)
{
	const char *r = getenv("KVMMEMTUNE_SYSFS");

	return r && *r ? r : KMT_SYSFS_ROOT;
}

const char *kmt_proc(void)
{
	const char *r = getenv("KVMMEMTUNE_PROC");

	return r && *r ? r : "/proc";
}

/* snprintf into a path buffer; -ENAMETOOLONG if it does not fit. */
int kmt_path(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * kmt_read_all() - a whole file into a new NUL-terminated buffer (free() it);
 * *len (if not NULL) gets its length, NULs inside included. The first read()
 * asks for 64 KiB, so a sysfs file that size or smaller is one snapshot.
 * Returns 0 or -errno.
 */
int kmt_read_all(const char *path, char **buf, size_t *len)
{
	size_t size = 64 << 10, n = 0;
	char *b = malloc(size);
	int fd, err = 0;

	*buf = NULL;
	if (!b)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(b);
		return err;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 == size) {
			char *nb = realloc(b, 2 * size);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			b = nb;
			size *= 2;
		}
		r = read(fd, b + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	if (err) {
		free(b);
		return err;
	}
	b[n] = '\0';
	*buf = b;
	if (len)
		*len = n;
	return 0;
}

/* A small file into @buf, NUL-terminated, truncated to fit; 0 or -errno. */
int kmt_read_small(const char *path, char *buf, size_t size)
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

/* Write @s in one write(); 0 or -errno (the module's own error). */
int kmt_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = n < 0 ? -errno : 0;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/* "kvmmemtune: message" on stderr; returns @code. */
int kmt_err(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", kmt_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* A failed file operation: message and exit code for errno @err. */
int kmt_fail(const char *what, int err)
{
	if (err == EACCES || err == EPERM)
		return kmt_err(KMT_EXIT_PERM,
			       "%s: %s (per-VM files and policy are root-only: run as root)", what,
			       strerror(err));
	if (err == ENOENT && access(kmt_root(), F_OK))
		return kmt_check_module();
	return kmt_err(KMT_EXIT_ERR, "%s: %s", what, strerror(err));
}

int kmt_check_module(void)
{
	if (access(kmt_root(), F_OK))
		return kmt_err(KMT_EXIT_NOMODULE,
			       "%s not found: is the kvmmemtune module loaded? "
			       "(modprobe kvmmemtune)", kmt_root());
	return 0;
}

/* ---------------------------------------------------------------- VMs */

/* Errors that mean the VM went away while we read it. */
static bool gone(int err)
{
	return err == -ENOENT || err == -ENODEV || err == -ESRCH;
}

void kmt_vm_free(struct kmt_vm *vm)
{
	kmt_stat_free(&vm->st);
	free(vm->slots);
	vm->slots = NULL;
	vm->nslots = 0;
}

/* The name: QEMU's -name from /proc/PID/cmdline, else the comm. */
static void vm_name(struct kmt_vm *vm)
{
	char path[256], *cmd;
	size_t len;

	snprintf(vm->name, sizeof(vm->name), "%s", vm->comm);
	if (kmt_path(path, sizeof(path), "%s/%d/cmdline", kmt_proc(), vm->pid) ||
	    kmt_read_all(path, &cmd, &len))
		return;
	kmt_cmdline_name(cmd, len, vm->name, sizeof(vm->name));
	free(cmd);
}

/*
 * kmt_vm_load() - read VM @id: pid, comm, name, stat and, if @slots, memslots
 * and slot_stat. Returns 0, -ENOENT when the VM is gone (or never was), or
 * another -errno.
 */
int kmt_vm_load(struct kmt_vm *vm, const char *id, bool slots)
{
	char path[512], buf[256], *text;
	long long v;
	int err, bad;

	memset(vm, 0, sizeof(*vm));
	if (snprintf(vm->id, sizeof(vm->id), "%s", id) >= (int)sizeof(vm->id))
		return -ENOENT;
	if (sscanf(id, "%*d-%llu", &vm->seq) != 1)
		vm->seq = 0;
	if (kmt_path(path, sizeof(path), "%s/vms/%s/pid", kmt_root(), id))
		return -ENOENT;
	err = kmt_read_small(path, buf, sizeof(buf));
	if (err)
		return gone(err) ? -ENOENT : err;
	buf[strcspn(buf, "\n")] = '\0';
	if (kmt_parse_ll(buf, strlen(buf), &v) || v <= 0 || v > 1 << 30)
		return -EPROTO;
	vm->pid = v;
	kmt_path(path, sizeof(path), "%s/vms/%s/comm", kmt_root(), id);
	err = kmt_read_small(path, vm->comm, sizeof(vm->comm));
	if (err)
		return gone(err) ? -ENOENT : err;
	vm->comm[strcspn(vm->comm, "\n")] = '\0';
	vm_name(vm);

	kmt_path(path, sizeof(path), "%s/vms/%s/stat", kmt_root(), id);
	err = kmt_read_all(path, &text, NULL);
	if (err)
		return gone(err) ? -ENOENT : err;
	err = kmt_stat_parse(&vm->st, text);
	free(text);
	if (err)
		goto fail;
	if (!slots)
		return 0;

	kmt_path(path, sizeof(path), "%s/vms/%s/memslots", kmt_root(), id);
	err = kmt_read_all(path, &text, NULL);
	if (err) {
		err = gone(err) ? -ENOENT : err;
		goto fail;
	}
	err = kmt_memslots_parse(text, &vm->slots, &vm->nslots, &bad);
	free(text);
	if (err)
		goto fail;
	if (bad)
		kmt_err(0, "%s: %d malformed line(s) skipped", path, bad);
	kmt_path(path, sizeof(path), "%s/vms/%s/slot_stat", kmt_root(), id);
	if (!kmt_read_all(path, &text, NULL)) {
		kmt_slot_stat_merge(text, vm->slots, vm->nslots, &bad);
		free(text);
	}
	return 0;
fail:
	kmt_vm_free(vm);
	return err;
}

static int vm_cmp(const void *a, const void *b)
{
	const struct kmt_vm *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->id, y->id);
}

void kmt_vms_free(struct kmt_vm *vms, int n)
{
	int i;

	for (i = 0; i < n; i++)
		kmt_vm_free(&vms[i]);
	free(vms);
}

/*
 * kmt_vms_load() - every VM, in the order the module first saw them. VMs
 * that vanish while being read are left out. Returns 0 or an exit code
 * (the message printed).
 */
int kmt_vms_load(struct kmt_vm **vms, int *n, bool slots)
{
	struct kmt_vm *a = NULL;
	char path[512];
	struct dirent *e;
	int cap = 0, ret;
	DIR *d;

	*vms = NULL;
	*n = 0;
	ret = kmt_check_module();
	if (ret)
		return ret;
	kmt_path(path, sizeof(path), "%s/vms", kmt_root());
	d = opendir(path);
	if (!d)
		return kmt_fail(path, errno);
	while ((e = readdir(d))) {
		int err;

		if (e->d_name[0] == '.')
			continue;
		if (*n == cap) {
			struct kmt_vm *na;

			cap = cap ? 2 * cap : 16;
			na = realloc(a, cap * sizeof(*a));
			if (!na) {
				ret = kmt_err(KMT_EXIT_ERR, "out of memory");
				break;
			}
			a = na;
		}
		err = kmt_vm_load(&a[*n], e->d_name, slots);
		if (err == -ENOENT)
			continue;
		if (err) {
			kmt_path(path, sizeof(path), "%s/vms/%s", kmt_root(), e->d_name);
			ret = kmt_fail(path, -err);
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (ret) {
		kmt_vms_free(a, *n);
		*n = 0;
		return ret;
	}
	qsort(a, *n, sizeof(*a), vm_cmp);
	*vms = a;
	return 0;
}

/*
 * kmt_vm_find() - the one VM @spec names: its id (<pid>-<seq>), its pid, or
 * its name (QEMU -name, else comm). Returns 0 or an exit code (message
 * printed): no such VM and an ambiguous name are both KMT_EXIT_NOVM.
 */
int kmt_vm_find(const char *spec, struct kmt_vm *vm, bool slots)
{
	struct kmt_vm *vms;
	long long pid = -1;
	int n, i, found = -1, matches = 0, ret;

	ret = kmt_vms_load(&vms, &n, false);
	if (ret)
		return ret;
	if (kmt_parse_ll(spec, strlen(spec), &pid))
		pid = -1;
	for (i = 0; i < n; i++) {
		if (!strcmp(vms[i].id, spec)) {
			found = i;
			matches = 1;
			break;
		}
	}
	for (i = 0; found < 0 && i < n; i++)
		if (vms[i].pid == pid)
			matches++;
	for (i = 0; found < 0 && i < n; i++)
		if (vms[i].pid == pid)
			found = i;
	if (!matches) {
		for (i = n - 1; i >= 0; i--) {
			if (!strcmp(vms[i].name, spec) || !strcmp(vms[i].comm, spec)) {
				matches++;
				found = i;
			}
		}
	}
	if (matches > 1) {
		fprintf(stderr, "%s: '%s' names %d VMs:", kmt_prog, spec, matches);
		for (i = 0; i < n; i++)
			if (vms[i].pid == pid || !strcmp(vms[i].name, spec) ||
			    !strcmp(vms[i].comm, spec))
				fprintf(stderr, " %s", vms[i].id);
		fputs("; give an id\n", stderr);
		ret = KMT_EXIT_NOVM;
	} else if (!matches) {
		ret = kmt_err(KMT_EXIT_NOVM, "no VM '%s' (see kvmmemtune list)", spec);
	} else {
		char id[64];

		snprintf(id, sizeof(id), "%s", vms[found].id);
		ret = kmt_vm_load(vm, id, slots);
		if (ret == -ENOENT)
			ret = kmt_err(KMT_EXIT_NOVM, "VM %s went away", id);
		else if (ret)
			ret = kmt_fail(id, -ret);
	}
	kmt_vms_free(vms, n);
	return ret;
}

/* A "Key:   N kB" line of /proc/meminfo, in bytes; -1 if absent. */
long long kmt_meminfo(const char *key)
{
	char path[256], *buf, *p;
	long long v = -1;
	size_t kl = strlen(key);

	if (kmt_path(path, sizeof(path), "%s/meminfo", kmt_proc()) ||
	    kmt_read_all(path, &buf, NULL))
		return -1;
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			v = strtoll(p + kl + 1, NULL, 10) * 1024;
			break;
		}
	}
	free(buf);
	return v;
}
