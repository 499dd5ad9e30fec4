// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune tool: the commands that act: get, set, scan, compact, collapse.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kvmmemtune.h"
#include "kmt.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define KMT_NR_pidfd_open 434
#define KMT_NR_process_madvise 440

#define HUGE_SIZE (2ULL << 20)
#define COLLAPSE_CHUNK (64ULL << 20)

/* Policy files of later module versions: absent means "module too old". */
static const char * const future_knobs[] = {
	"compact", "compact_auto", "compact_threshold", "compact_interval_ms",
	"compact_on_vm_create",
};

static bool knob_name_ok(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

/* The knobs this module has, comma-separated, for a message. */
static void list_knobs(char *out, size_t size)
{
	char path[512];
	struct dirent *e;
	size_t len = 0;
	DIR *d;

	out[0] = '\0';
	kmt_path(path, sizeof(path), "%s/policy", kmt_root());
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || len + strlen(e->d_name) + 3 >= size)
			continue;
		len += snprintf(out + len, size - len, ", %s", e->d_name);
	}
	if (d)
		closedir(d);
}

/*
 * Path of KNOB (policy/KNOB, or vms/<id>/thp when @vm) into @path; 0 or an
 * exit code with the message printed.
 */
static int knob_path(const char *knob, const char *vmspec, char *path, size_t size,
		     struct kmt_vm *vm)
{
	char knobs[512];
	size_t i;
	int ret;

	if (!strcmp(knob, "thp")) {
		if (!vmspec)
			return kmt_usage_err(NULL,
					     "thp is per VM: name the VM (kvmmemtune get thp VM)");
		ret = kmt_vm_find(vmspec, vm, false);
		if (ret)
			return ret;
		kmt_vm_free(vm);
		kmt_path(path, size, "%s/vms/%s/thp", kmt_root(), vm->id);
		if (access(path, F_OK))
			return kmt_err(KMT_EXIT_OLD,
				       "thp: kernel module too old for this feature (no %s)", path);
		return 0;
	}
	if (vmspec)
		return kmt_usage_err(NULL, "%s is host-wide: it takes no VM", knob);
	if (!knob_name_ok(knob))
		return kmt_usage_err(NULL, "bad knob name '%s'", knob);
	ret = kmt_check_module();
	if (ret)
		return ret;
	kmt_path(path, size, "%s/policy/%s", kmt_root(), knob);
	if (!access(path, F_OK))
		return 0;
	for (i = 0; i < ARRAY_SIZE(future_knobs); i++)
		if (!strcmp(knob, future_knobs[i]))
			return kmt_err(KMT_EXIT_OLD,
				       "%s: kernel module too old for this feature (no %s)", knob,
				       path);
	list_knobs(knobs, sizeof(knobs));
	return kmt_usage_err(NULL, "unknown knob '%s' (knobs: thp VM%s)", knob, knobs);
}

int cmd_get(int argc, char **argv)
{
	char path[512], buf[4096];
	struct kmt_vm vm;
	int ret, err;

	if (argc < 2 || argc > 3)
		return kmt_usage_err("get", argc < 2 ? "which knob?" : "too many arguments");
	ret = knob_path(argv[1], argc == 3 ? argv[2] : NULL, path, sizeof(path), &vm);
	if (ret)
		return ret;
	err = kmt_read_small(path, buf, sizeof(buf));
	if (err)
		return err == -ENODEV ? kmt_err(KMT_EXIT_NOVM, "%s: VM going away", argv[1]) :
					kmt_fail(path, -err);
	fputs(buf, stdout);
	if (!*buf || buf[strlen(buf) - 1] != '\n')
		putchar('\n');
	return 0;
}

/* The module refused @value for @knob at @path: say what it accepts. */
static int invalid_value(const char *knob, const char *value, const char *path)
{
	char buf[512], words[KMT_WORDS_MAX][KMT_WORD_LEN], list[KMT_WORDS_MAX * (KMT_WORD_LEN + 2)];
	int n, cur, i;

	list[0] = '\0';
	if (!kmt_read_small(path, buf, sizeof(buf))) {
		n = kmt_keywords_parse(buf, words, KMT_WORDS_MAX, &cur);
		for (i = 0; cur >= 0 && i < n; i++) {
			strcat(list, i ? ", " : "");
			strcat(list, words[i]);
		}
	}
	if (list[0])
		return kmt_err(KMT_EXIT_USAGE, "%s: invalid value '%s' (expected: %s)", knob, value,
			       list);
	return kmt_err(KMT_EXIT_USAGE, "%s: invalid value '%s'", knob, value);
}

int cmd_set(int argc, char **argv)
{
	char path[512], buf[4096];
	struct kmt_vm vm;
	int ret, err;

	if (argc < 3 || argc > 4)
		return kmt_usage_err("set", argc < 3 ? "knob and value?" : "too many arguments");
	ret = knob_path(argv[1], argc == 4 ? argv[3] : NULL, path, sizeof(path), &vm);
	if (ret)
		return ret;
	err = kmt_write_str(path, argv[2]);
	if (err == -EINVAL)
		return invalid_value(argv[1], argv[2], path);
	if (err == -ENODEV)
		return kmt_err(KMT_EXIT_NOVM, "%s: VM going away", argv[1]);
	if (err)
		return kmt_fail(path, -err);
	if (!kmt_read_small(path, buf, sizeof(buf)))
		printf("%s: %s", argv[1], buf);
	return 0;
}

/* ---------------------------------------------------------------- scan */

/* Scan VM @id now; 0, -ENOENT when it went away, or an exit code. */
static int scan_one(const char *id, bool quiet)
{
	char path[512], s[2][32];
	struct kmt_vm vm;
	struct kmt_row r;
	int err;

	kmt_path(path, sizeof(path), "%s/vms/%s/scan", kmt_root(), id);
	err = kmt_write_str(path, "1");
	if (err == -ENOENT || err == -ENODEV)
		return -ENOENT;
	if (err == -EINTR)
		return kmt_err(KMT_EXIT_ERR, "%s: scan interrupted", id);
	if (err)
		return kmt_fail(path, -err);
	if (quiet)
		return 0;
	err = kmt_vm_load(&vm, id, false);
	if (err)
		return err == -ENOENT ? -ENOENT : kmt_fail(id, -err);
	kmt_row_compute(&vm.st, &r);
	printf("%s %s: scan_age_ms %lld scan_duration_us %lld resident %s thp %s\n", vm.id,
	       vm.name, kmt_stat_val(&vm.st, "scan_age_ms", -1),
	       kmt_stat_val(&vm.st, "scan_duration_us", -1),
	       kmt_size_str(r.resident, kmt_human, s[0], 32),
	       kmt_size_str(kmt_stat_val(&vm.st, "scan_thp_bytes", -1), kmt_human, s[1], 32));
	kmt_vm_free(&vm);
	return 0;
}

int cmd_scan(int argc, char **argv)
{
	struct kmt_vm *vms, vm;
	int n, i, ret;

	if (argc != 2)
		return kmt_usage_err("scan", argc < 2 ? "which VM (or all)?" :
				     "too many arguments");
	if (!strcmp(argv[1], "all")) {
		ret = kmt_vms_load(&vms, &n, false);
		for (i = 0; !ret && i < n; i++) {
			ret = scan_one(vms[i].id, false);
			if (ret == -ENOENT)
				ret = 0;
		}
		kmt_vms_free(vms, n);
		return ret;
	}
	ret = kmt_vm_find(argv[1], &vm, false);
	if (ret)
		return ret;
	kmt_vm_free(&vm);
	ret = scan_one(vm.id, false);
	return ret == -ENOENT ? kmt_err(KMT_EXIT_NOVM, "VM %s went away", vm.id) : ret;
}

/* ---------------------------------------------------------------- compact */

int cmd_compact(int argc, char **argv)
{
	char path[512], buf[256];
	long long node;
	int ret, err;

	if (argc != 2)
		return kmt_usage_err("compact", argc < 2 ? "which node (or all)?" :
				     "too many arguments");
	if (strcmp(argv[1], "all") &&
	    (kmt_parse_ll(argv[1], strlen(argv[1]), &node) || node < 0 || node > 65535))
		return kmt_usage_err("compact", "bad node '%s' (a node number or all)", argv[1]);
	ret = kmt_check_module();
	if (ret)
		return ret;
	kmt_path(path, sizeof(path), "%s/policy/compact", kmt_root());
	if (access(path, F_OK))
		return kmt_err(KMT_EXIT_OLD,
			       "compact: kernel module too old for this feature (no %s)", path);
	err = kmt_write_str(path, argv[1]);
	if (err == -EINVAL)
		return kmt_err(KMT_EXIT_USAGE, "compact: invalid node '%s' (not online?)", argv[1]);
	if (err)
		return kmt_fail(path, -err);
	if (!kmt_read_small(path, buf, sizeof(buf)))
		printf("compact %s: done; policy/compact: %s", argv[1], buf);
	return 0;
}

/* ---------------------------------------------------------------- collapse */

/* Scan and read scan_thp_bytes and scan_resident_bytes; 0 or an exit code. */
static int collapse_scan(const struct kmt_vm *vm, long long *thp, long long *res)
{
	struct kmt_vm now;
	int ret = scan_one(vm->id, true);

	if (ret == -ENOENT)
		return kmt_err(KMT_EXIT_NOVM, "VM %s went away", vm->id);
	if (ret)
		return ret;
	ret = kmt_vm_load(&now, vm->id, false);
	if (ret)
		return ret == -ENOENT ? kmt_err(KMT_EXIT_NOVM, "VM %s went away", vm->id) :
					kmt_fail(vm->id, -ret);
	*thp = kmt_stat_val(&now.st, "scan_thp_bytes", -1);
	*res = kmt_stat_val(&now.st, "scan_resident_bytes", -1);
	kmt_vm_free(&now);
	return 0;
}

/*
 * Every chunk got EINVAL and nothing was collapsed: say why, as far as we can
 * tell. MADV_COLLAPSE fails with EINVAL at once when THP is disabled for the
 * process (prctl PR_SET_THP_DISABLE, which the thp file sets) or the range
 * (MADV_NOHUGEPAGE), but also, after doing what it can, when part of a range
 * was never touched (no page table to collapse).
 */
static int collapse_einval(const struct kmt_vm *vm)
{
	static const char refused[] = "collapse: the kernel refused (EINVAL)";
	char path[512], buf[4096], words[KMT_WORDS_MAX][KMT_WORD_LEN], *p;
	int n, cur = -1;

	kmt_path(path, sizeof(path), "%s/vms/%s/thp", kmt_root(), vm->id);
	if (!kmt_read_small(path, buf, sizeof(buf))) {
		n = kmt_keywords_parse(buf, words, KMT_WORDS_MAX, &cur);
		if (n > 0 && cur >= 0 && !strcmp(words[cur], "never"))
			return kmt_err(KMT_EXIT_ERR,
				       "%s: THP is disabled for process %d (thp: never; %s %s)",
				       refused, vm->pid, "kvmmemtune set thp inherit", vm->id);
	}
	kmt_path(path, sizeof(path), "%s/%d/status", kmt_proc(), vm->pid);
	if (!kmt_read_small(path, buf, sizeof(buf))) {
		p = strstr(buf, "THP_enabled:");
		if (p && strtol(p + 12, NULL, 10) == 0)
			return kmt_err(KMT_EXIT_ERR,
				       "%s: THP is disabled for process %d (%s)", refused, vm->pid,
				       "prctl PR_SET_THP_DISABLE");
	}
	return kmt_err(KMT_EXIT_ERR, "%s everywhere: THP disabled for this memory "
		       "(MADV_NOHUGEPAGE, THP 'never'), or none of it touched yet", refused);
}

/* A chunk failed with @err: 0 to go on (counted), or an exit code. */
static int collapse_errno(const struct kmt_vm *vm, int err, int *einval, int *failed,
			  int *last_err)
{
	switch (err) {
	case EINVAL:
		(*einval)++;
		return 0;
	case ENOSYS:
		return kmt_err(KMT_EXIT_OLD, "collapse: kernel too old (no process_madvise)");
	case EPERM:
	case EACCES:
		return kmt_fail("process_madvise", err);
	case ESRCH:
		return kmt_err(KMT_EXIT_NOVM, "VM %s: process %d is gone", vm->id, vm->pid);
	default:
		/* EAGAIN, ENOMEM, EBUSY: this chunk only; go on. */
		(*failed)++;
		*last_err = err;
		return 0;
	}
}

static void progress(unsigned long long done, unsigned long long total, bool tty)
{
	if (tty)
		fprintf(stderr, "\rcollapse: %llu / %llu MiB", done >> 20, total >> 20);
}

int cmd_collapse(int argc, char **argv)
{
	unsigned long long total = 0, done = 0;
	long long thp0, res0, thp1, res1;
	int pidfd, ret, i, chunks = 0, failed = 0, einval = 0, last_err = 0;
	bool tty = isatty(2);
	char s[4][32];
	struct kmt_vm vm;

	if (argc != 2)
		return kmt_usage_err("collapse", argc < 2 ? "which VM?" : "too many arguments");
	ret = kmt_vm_find(argv[1], &vm, true);
	if (ret)
		return ret;
	ret = collapse_scan(&vm, &thp0, &res0);
	if (ret)
		goto out;
	pidfd = syscall(KMT_NR_pidfd_open, vm.pid, 0);
	if (pidfd < 0) {
		if (errno == ESRCH)
			ret = kmt_err(KMT_EXIT_NOVM, "VM %s: process %d is gone", vm.id, vm.pid);
		else if (errno == ENOSYS)
			ret = kmt_err(KMT_EXIT_OLD, "collapse: kernel too old (no pidfd_open)");
		else
			ret = kmt_fail("pidfd_open", errno);
		goto out;
	}
	for (i = 0; i < vm.nslots; i++) {
		const struct kmt_slot *sl = &vm.slots[i];
		unsigned long long b = (sl->addr + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
		unsigned long long e = (sl->addr + sl->npages * 4096ULL) & ~(HUGE_SIZE - 1);

		if (sl->as == 0 && e > b)
			total += e - b;
	}
	for (i = 0; i < vm.nslots && !ret; i++) {
		const struct kmt_slot *sl = &vm.slots[i];
		unsigned long long b = (sl->addr + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
		unsigned long long e = (sl->addr + sl->npages * 4096ULL) & ~(HUGE_SIZE - 1);

		for (; sl->as == 0 && b < e && !ret; b += COLLAPSE_CHUNK) {
			struct iovec iov = {
				.iov_base = (void *)(uintptr_t)b,
				.iov_len = e - b < COLLAPSE_CHUNK ? e - b : COLLAPSE_CHUNK,
			};
			long r;

			chunks++;
			r = syscall(KMT_NR_process_madvise, pidfd, &iov, 1UL, MADV_COLLAPSE, 0U);
			if (r < 0)
				ret = collapse_errno(&vm, errno, &einval, &failed, &last_err);
			done += iov.iov_len;
			progress(done, total, tty);
		}
	}
	close(pidfd);
	if (tty && done)
		fputc('\n', stderr);
	if (ret)
		goto out;
	ret = collapse_scan(&vm, &thp1, &res1);
	if (ret)
		goto out;
	if (chunks && einval == chunks && thp1 <= thp0) {
		ret = collapse_einval(&vm);
		goto out;
	}
	printf("%s %s: THP-backed %s of %s resident before, %s of %s after "
	       "(%d chunk%s of up to %llu MiB", vm.id, vm.name,
	       kmt_size_str(thp0, kmt_human, s[0], 32),
	       kmt_size_str(res0, kmt_human, s[1], 32), kmt_size_str(thp1, kmt_human, s[2], 32),
	       kmt_size_str(res1, kmt_human, s[3], 32), chunks, chunks == 1 ? "" : "s",
	       COLLAPSE_CHUNK >> 20);
	if (einval + failed)
		printf("; %d not fully collapsed%s%s%s", einval + failed,
		       einval ? ", untouched or unsuitable memory" : "",
		       failed ? ", busy or short of huge pages: " : "",
		       failed ? strerror(last_err) : "");
	printf(")\n");
out:
	kmt_vm_free(&vm);
	return ret;
}
