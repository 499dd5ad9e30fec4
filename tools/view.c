// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune tool: the commands that only read: list, show, host, watch,
 * export.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvmmemtune.h"
#include "kmt.h"

bool kmt_human = true;
bool kmt_json_out;

static const char *pct_str(bool known, double pct, char *out, size_t size)
{
	if (!known)
		return "-";
	snprintf(out, size, "%.0f%%", pct);
	return out;
}

static const char *node_str(const struct kmt_row *r, char *out, size_t size)
{
	if (!r->has_node)
		return "-";
	snprintf(out, size, "%d", r->node);
	return out;
}

static int width(const struct kmt_vm *vms, int n, size_t off, int min, int max)
{
	int i, w = min;

	for (i = 0; i < n; i++) {
		int l = strlen((const char *)&vms[i] + off);

		if (l > w)
			w = l;
	}
	return w > max ? max : w;
}

/* ---------------------------------------------------------------- list */

/* The list table; @rate (may be NULL) adds the watch columns. */
struct kmt_rate {
	char id[64];
	long long resident, reclaimed;
	bool has_reclaim;
};

static void print_table(const struct kmt_vm *vms, int n, bool rates, const struct kmt_rate *prev,
			int nprev, double dt)
{
	int wi = width(vms, n, offsetof(struct kmt_vm, id), 2, 24);
	int wn = width(vms, n, offsetof(struct kmt_vm, name), 4, 32);
	int i, j;

	printf("%-*s %8s %-*s %9s %9s %5s %5s %9s %4s %9s", wi, "VM", "PID", wn, "NAME", "GUEST",
	       "RESIDENT", "THP", "2M", "SWAP", "NODE", "RECLAIMED");
	if (rates)
		printf(" %10s %10s", "RES/s", "RECL/s");
	putchar('\n');
	for (i = 0; i < n; i++) {
		char s[7][32];
		struct kmt_row r;

		kmt_row_compute(&vms[i].st, &r);
		printf("%-*s %8d %-*.*s %9s %9s %5s %5s %9s %4s %9s", wi, vms[i].id, vms[i].pid, wn,
		       wn, vms[i].name, kmt_size_str(r.guest, kmt_human, s[0], 32),
		       kmt_size_str(r.resident, kmt_human, s[1], 32),
		       pct_str(r.has_thp, r.thp_pct, s[2], 32),
		       pct_str(r.has_map, r.map_huge_pct, s[3], 32),
		       kmt_size_str(r.swap, kmt_human, s[4], 32), node_str(&r, s[5], 32),
		       kmt_size_str(r.has_reclaim ? r.reclaimed : -1, kmt_human, s[6], 32));
		if (rates) {
			const struct kmt_rate *p = NULL;
			long long d;

			for (j = 0; j < nprev; j++)
				if (!strcmp(prev[j].id, vms[i].id))
					p = &prev[j];
			if (p && dt > 0 && r.resident >= 0 && p->resident >= 0) {
				d = (long long)((r.resident - p->resident) / dt);
				if (d < 0)
					snprintf(s[1], 32, "-%s",
						 kmt_size_str(-d, kmt_human, s[2], 32));
				else
					snprintf(s[1], 32, "+%s",
						 kmt_size_str(d, kmt_human, s[2], 32));
			} else {
				strcpy(s[1], "-");
			}
			if (p && dt > 0 && r.has_reclaim && p->has_reclaim)
				kmt_size_str((long long)((r.reclaimed - p->reclaimed) / dt),
					     kmt_human, s[3], 32);
			else
				strcpy(s[3], "-");
			printf(" %10s %10s", s[1], s[3]);
		}
		putchar('\n');
	}
}

static void json_num_or_null(struct kmt_json *j, const char *key, bool known, long long v)
{
	if (known && v >= 0)
		kj_int(j, key, v);
	else
		kj_null(j, key);
}

/* The figures of one list row, as JSON members of the open object. */
static void json_row(struct kmt_json *j, const struct kmt_vm *vm)
{
	struct kmt_row r;

	kmt_row_compute(&vm->st, &r);
	kj_str(j, "id", vm->id);
	kj_int(j, "pid", vm->pid);
	kj_str(j, "name", vm->name);
	kj_str(j, "comm", vm->comm);
	json_num_or_null(j, "guest_bytes", true, r.guest);
	json_num_or_null(j, "resident_bytes", true, r.resident);
	kj_str(j, "resident_source", r.resident_scanned ? "scan" : "rss_anon");
	if (r.has_thp)
		kj_dbl(j, "thp_percent", r.thp_pct);
	else
		kj_null(j, "thp_percent");
	if (r.has_map)
		kj_dbl(j, "mapped_2m_percent", r.map_huge_pct);
	else
		kj_null(j, "mapped_2m_percent");
	json_num_or_null(j, "swap_bytes", true, r.swap);
	json_num_or_null(j, "main_node", r.has_node, r.node);
	json_num_or_null(j, "reclaimed_bytes", r.has_reclaim, r.reclaimed);
}

static int no_args(const char *cmd, int argc, char **argv)
{
	if (argc > 1)
		return kmt_usage_err(cmd, "unexpected argument '%s'", argv[1]);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	struct kmt_vm *vms;
	int n, i, ret = no_args("list", argc, argv);

	if (ret)
		return ret;
	ret = kmt_vms_load(&vms, &n, false);
	if (ret)
		return ret;
	if (kmt_json_out) {
		struct kmt_json j;

		kj_init(&j, stdout);
		kj_obj(&j, NULL);
		kj_arr(&j, "vms");
		for (i = 0; i < n; i++) {
			kj_obj(&j, NULL);
			json_row(&j, &vms[i]);
			kj_end(&j, '}');
		}
		kj_end(&j, ']');
		kj_end(&j, '}');
	} else {
		print_table(vms, n, false, NULL, 0, 0);
	}
	kmt_vms_free(vms, n);
	return 0;
}

/* ---------------------------------------------------------------- show */

/* The VM's thp file: words and current mode; false if unreadable/absent. */
static bool read_thp(const struct kmt_vm *vm, char words[][KMT_WORD_LEN], int *nw, int *cur,
		     char *raw, size_t size)
{
	char path[512];

	if (kmt_path(path, sizeof(path), "%s/vms/%s/thp", kmt_root(), vm->id) ||
	    kmt_read_small(path, raw, size))
		return false;
	raw[strcspn(raw, "\n")] = '\0';
	*nw = kmt_keywords_parse(raw, words, KMT_WORDS_MAX, cur);
	return *nw > 0;
}

static bool dirty_logging(const struct kmt_vm *vm)
{
	int i;

	for (i = 0; i < vm->nslots; i++)
		if (vm->slots[i].flags & KMT_MEM_LOG_DIRTY_PAGES)
			return true;
	return false;
}

static void show_json(const struct kmt_vm *vm, bool thp_ok, char words[][KMT_WORD_LEN], int nw,
		      int cur)
{
	struct kmt_json j;
	struct kmt_row r;
	int i;

	kmt_row_compute(&vm->st, &r);
	kj_init(&j, stdout);
	kj_obj(&j, NULL);
	json_row(&j, vm);
	if (r.has_node)
		kj_dbl(&j, "off_node_percent", r.off_node_pct);
	else
		kj_null(&j, "off_node_percent");
	kj_bool(&j, "dirty_logging", dirty_logging(vm));
	if (thp_ok) {
		kj_obj(&j, "thp");
		if (cur >= 0)
			kj_str(&j, "mode", words[cur]);
		else
			kj_null(&j, "mode");
		kj_arr(&j, "modes");
		for (i = 0; i < nw; i++)
			kj_str(&j, NULL, words[i]);
		kj_end(&j, ']');
		kj_end(&j, '}');
	} else {
		kj_null(&j, "thp");
	}
	kj_obj(&j, "stat");
	for (i = 0; i < vm->st.n; i++)
		kj_int(&j, vm->st.kv[i].key, vm->st.kv[i].val);
	kj_end(&j, '}');
	kj_arr(&j, "memslots");
	for (i = 0; i < vm->nslots; i++) {
		const struct kmt_slot *s = &vm->slots[i];

		kj_obj(&j, NULL);
		kj_int(&j, "as", s->as);
		kj_int(&j, "id", s->id);
		kj_int(&j, "base_gfn", s->base_gfn);
		kj_int(&j, "npages", s->npages);
		kj_uint(&j, "bytes", (unsigned long long)s->npages * 4096);
		kj_uint(&j, "userspace_addr", s->addr);
		kj_int(&j, "flags", s->flags);
		kj_bool(&j, "dirty_logging", s->flags & KMT_MEM_LOG_DIRTY_PAGES);
		json_num_or_null(&j, "resident_bytes", true, s->resident);
		json_num_or_null(&j, "thp_bytes", true, s->thp);
		kj_end(&j, '}');
	}
	kj_end(&j, ']');
	kj_end(&j, '}');
}

static void show_text(const struct kmt_vm *vm, bool thp_ok, const char *thp_raw)
{
	char s[4][32];
	struct kmt_row r;
	long long age;
	int i;

	kmt_row_compute(&vm->st, &r);
	age = kmt_stat_val(&vm->st, "scan_age_ms", -1);
	printf("VM %s: pid %d, name %s, comm %s\n", vm->id, vm->pid, vm->name, vm->comm);
	printf("guest %s, resident %s (%s), swap %s\n", kmt_size_str(r.guest, kmt_human, s[0], 32),
	       kmt_size_str(r.resident, kmt_human, s[1], 32),
	       r.resident_scanned ? "last scan" : "rss_anon: no scan yet",
	       kmt_size_str(r.swap, kmt_human, s[2], 32));
	if (age >= 0)
		printf("last scan: %lld ms ago\n", age);
	else
		printf("last scan: never (kvmmemtune scan %s)\n", vm->id);
	printf("THP-backed: %s, 2M-mapped: %s\n", pct_str(r.has_thp, r.thp_pct, s[0], 32),
	       pct_str(r.has_map, r.map_huge_pct, s[1], 32));
	if (r.has_node)
		printf("off main node: %.1f%% (main node %d)\n", r.off_node_pct, r.node);
	else
		printf("off main node: - (needs a scan)\n");
	printf("thp policy: %s\n", thp_ok ? thp_raw : "- (not in this module)");
	if (dirty_logging(vm)) {
		printf("dirty logging: on (live migration in progress?) in slot");
		for (i = 0; i < vm->nslots; i++)
			if (vm->slots[i].flags & KMT_MEM_LOG_DIRTY_PAGES)
				printf(" %lld:%lld", vm->slots[i].as, vm->slots[i].id);
		putchar('\n');
	} else {
		printf("dirty logging: off\n");
	}

	printf("\nstat:\n");
	for (i = 0; i < vm->st.n; i++) {
		const struct kmt_kv *kv = &vm->st.kv[i];
		size_t l = strlen(kv->key);

		printf("  %-26s %lld", kv->key, kv->val);
		if (kmt_human && l > 6 && !strcmp(kv->key + l - 6, "_bytes") && kv->val >= 1024)
			printf(" (%s)", kmt_size_str(kv->val, true, s[0], 32));
		putchar('\n');
	}
	if (vm->st.bad)
		printf("  (%d malformed line(s) skipped)\n", vm->st.bad);

	printf("\nmemslots:\n  %2s %5s %12s %10s %9s %18s %5s %9s %9s\n", "AS", "ID", "BASE_GFN",
	       "NPAGES", "SIZE", "USERSPACE_ADDR", "FLAGS", "RESIDENT", "THP");
	for (i = 0; i < vm->nslots; i++) {
		const struct kmt_slot *sl = &vm->slots[i];

		printf("  %2lld %5lld %12lld %10lld %9s %#18llx %5lld %9s %9s\n", sl->as, sl->id,
		       sl->base_gfn, sl->npages,
		       kmt_size_str(sl->npages * 4096, kmt_human, s[0], 32),
		       sl->addr, sl->flags, kmt_size_str(sl->resident, kmt_human, s[1], 32),
		       kmt_size_str(sl->thp, kmt_human, s[2], 32));
	}
}

int cmd_show(int argc, char **argv)
{
	char words[KMT_WORDS_MAX][KMT_WORD_LEN], raw[256];
	struct kmt_vm vm;
	int nw = 0, cur = -1, ret;
	bool thp_ok;

	if (argc != 2)
		return kmt_usage_err("show", argc < 2 ? "which VM?" : "unexpected argument '%s'",
				     argv[argc < 2 ? 0 : 2]);
	ret = kmt_vm_find(argv[1], &vm, true);
	if (ret)
		return ret;
	thp_ok = read_thp(&vm, words, &nw, &cur, raw, sizeof(raw));
	if (kmt_json_out)
		show_json(&vm, thp_ok, words, nw, cur);
	else
		show_text(&vm, thp_ok, raw);
	kmt_vm_free(&vm);
	return 0;
}

/* ---------------------------------------------------------------- host */

/* A host file parsed as stat; *text keeps the raw lines. 0, -ENOENT, -errno. */
static int read_host(const char *file, struct kmt_stat *st, char **text)
{
	char path[512];
	int err;

	kmt_path(path, sizeof(path), "%s/host/%s", kmt_root(), file);
	err = kmt_read_all(path, text, NULL);
	if (err)
		return err;
	if (st && kmt_stat_parse(st, *text)) {
		free(*text);
		return -ENOMEM;
	}
	return 0;
}

int cmd_host(int argc, char **argv)
{
	char *stat_text = NULL, *frag = NULL, s[3][32], path[512];
	long long total = kmt_meminfo("MemTotal"), guest = 0;
	struct kmt_stat st = { 0 };
	struct kmt_vm *vms;
	int n, i, ret = no_args("host", argc, argv), err;

	if (ret)
		return ret;
	ret = kmt_vms_load(&vms, &n, false);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		guest += kmt_stat_val(&vms[i].st, "guest_bytes", 0);
	err = read_host("stat", &st, &stat_text);
	if (err) {
		kmt_path(path, sizeof(path), "%s/host/stat", kmt_root());
		ret = kmt_fail(path, -err);
		goto out;
	}
	err = read_host("fragmentation", NULL, &frag);
	if (err)
		frag = NULL;	/* later module versions; silently absent */

	if (kmt_json_out) {
		struct kmt_json j;
		char *p, *nl;

		kj_init(&j, stdout);
		kj_obj(&j, NULL);
		json_num_or_null(&j, "mem_total_bytes", true, total);
		kj_int(&j, "guest_bytes", guest);
		kj_int(&j, "vms", n);
		if (total > 0)
			kj_dbl(&j, "overcommit_ratio", (double)guest / total);
		else
			kj_null(&j, "overcommit_ratio");
		kj_obj(&j, "stat");
		for (i = 0; i < st.n; i++)
			kj_int(&j, st.kv[i].key, st.kv[i].val);
		kj_end(&j, '}');
		if (frag) {
			kj_arr(&j, "fragmentation");
			for (p = frag; *p; p = nl ? nl + 1 : p + strlen(p)) {
				nl = strchr(p, '\n');
				if (nl)
					*nl = '\0';
				if (*p)
					kj_str(&j, NULL, p);
			}
			kj_end(&j, ']');
		} else {
			kj_null(&j, "fragmentation");
		}
		kj_end(&j, '}');
	} else {
		printf("memory: %s total, %s of guest memory in %d VM%s: overcommit ",
		       kmt_size_str(total, kmt_human, s[0], 32),
		       kmt_size_str(guest, kmt_human, s[1], 32), n, n == 1 ? "" : "s");
		if (total > 0)
			printf("%.2f (%.0f%%)\n", (double)guest / total, 100.0 * guest / total);
		else
			printf("- (no MemTotal in /proc/meminfo)\n");
		printf("\nhost/stat:\n");
		for (i = 0; i < st.n; i++)
			printf("  %-26s %lld\n", st.kv[i].key, st.kv[i].val);
		if (frag)
			printf("\nhost/fragmentation:\n%s", frag);
	}
out:
	free(stat_text);
	free(frag);
	kmt_stat_free(&st);
	kmt_vms_free(vms, n);
	return ret;
}

/* ---------------------------------------------------------------- watch */

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int cmd_watch(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	struct kmt_rate *prev = NULL;
	double interval = 2, t0 = 0;
	long long count = -1, k;
	int i, nprev = 0, ret = 0;

	for (i = 1; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "-i") && i + 1 < argc) {
			interval = strtod(argv[++i], &end);
			if (*end || !(interval >= 0.1 && interval <= 86400))
				return kmt_usage_err("watch", "bad interval '%s' (0.1 to 86400 s)",
						     argv[i]);
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			if (kmt_parse_ll(argv[i + 1], strlen(argv[i + 1]), &count) || count < 1)
				return kmt_usage_err("watch", "bad count '%s'", argv[i + 1]);
			i++;
		} else {
			return kmt_usage_err("watch", "unexpected argument '%s'", argv[i]);
		}
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (k = 0; !stop && (count < 0 || k < count); k++) {
		struct kmt_vm *vms;
		struct kmt_rate *cur;
		double t = now_s();
		struct timespec ts;
		time_t wall = time(NULL);
		char tbuf[32];
		int n;

		ret = kmt_vms_load(&vms, &n, false);
		if (ret)
			break;
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&wall));
		printf("\033[H\033[2J");
		printf("kvmmemtune watch: every %gs, %s, %d VM%s %s\n\n", interval, tbuf, n,
		       n == 1 ? "" : "s", "(Ctrl-C stops; rates need two samples)");
		print_table(vms, n, true, prev, nprev, t - t0);
		fflush(stdout);
		cur = calloc(n ? n : 1, sizeof(*cur));
		if (!cur) {
			kmt_vms_free(vms, n);
			ret = kmt_err(KMT_EXIT_ERR, "out of memory");
			break;
		}
		for (i = 0; i < n; i++) {
			struct kmt_row r;

			kmt_row_compute(&vms[i].st, &r);
			snprintf(cur[i].id, sizeof(cur[i].id), "%s", vms[i].id);
			cur[i].resident = r.resident;
			cur[i].reclaimed = r.reclaimed;
			cur[i].has_reclaim = r.has_reclaim;
		}
		free(prev);
		prev = cur;
		nprev = n;
		t0 = t;
		kmt_vms_free(vms, n);
		if (count >= 0 && k + 1 >= count)
			break;
		ts.tv_sec = (time_t)interval;
		ts.tv_nsec = (long)((interval - ts.tv_sec) * 1e9);
		while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	free(prev);
	return ret;
}

/* ---------------------------------------------------------------- export */

enum { GAUGE, COUNTER, UNTYPED };

/* What export knows of a stat key; keys not listed are exported untyped. */
struct metric {
	const char *key, *name;	/* name NULL: kvmmemtune_vm_<key> */
	int type;
	double scale;		/* 0: none */
	const char *help;
};

static const struct metric vm_metrics[] = {
	{ "guest_bytes", NULL, GAUGE, 0, "Size of the address-space-0 memslots." },
	{ "memslots", NULL, GAUGE, 0, "Memslots, all address spaces." },
	{ "memslot_create", "memslot_create_total", COUNTER, 0, "Memslots created." },
	{ "memslot_delete", "memslot_delete_total", COUNTER, 0, "Memslots deleted." },
	{ "memslot_move", "memslot_move_total", COUNTER, 0, "Memslots moved." },
	{ "memslot_flags", "memslot_flags_total", COUNTER, 0,
	  "Memslot flag changes (dirty logging on/off)." },
	{ "rss_anon_bytes", NULL, GAUGE, 0, "Anonymous memory resident (VM process)." },
	{ "rss_file_bytes", NULL, GAUGE, 0, "File-backed memory resident (VM process)." },
	{ "rss_shmem_bytes", NULL, GAUGE, 0, "Shmem resident (VM process)." },
	{ "swap_bytes", NULL, GAUGE, 0, "Memory in swap (VM process)." },
	{ "ksm_merging_pages", NULL, GAUGE, 0, "Pages merged by KSM (VM process)." },
	{ "kvm_map_4k", "kvm_mappings_4k", GAUGE, 0, "KVM NPT/EPT mappings of 4 KiB." },
	{ "kvm_map_2m", "kvm_mappings_2m", GAUGE, 0, "KVM NPT/EPT mappings of 2 MiB." },
	{ "kvm_map_1g", "kvm_mappings_1g", GAUGE, 0, "KVM NPT/EPT mappings of 1 GiB." },
	{ "nx_lpage_splits", "nx_lpage_splits", GAUGE, 0,
	  "Huge mappings currently split by the NX huge page mitigation." },
	{ "scan_resident_bytes", NULL, GAUGE, 0, "Resident guest memory at the last scan." },
	{ "scan_thp_bytes", NULL, GAUGE, 0, "Of it, in PMD-mapped THPs." },
	{ "scan_hugetlb_bytes", NULL, GAUGE, 0, "Of it, in hugetlbfs pages." },
	{ "scan_zero_bytes", NULL, GAUGE, 0, "Guest memory mapped to the shared zero page." },
	{ "scan_age_ms", "scan_age_seconds", GAUGE, 1e-3, "Age of the last scan." },
	{ "scan_duration_us", "scan_duration_seconds", GAUGE, 1e-6, "Duration of the last scan." },
	{ "scan_lock_max_us", "scan_lock_max_seconds", GAUGE, 1e-6,
	  "Longest mmap lock hold of the last scan." },
	{ "reclaim_kswapd_bytes", "reclaim_kswapd_bytes_total", COUNTER, 0,
	  "Guest memory reclaimed by kswapd." },
	{ "reclaim_direct_bytes", "reclaim_direct_bytes_total", COUNTER, 0,
	  "Guest memory reclaimed by direct reclaim." },
	{ "migrate_compaction_bytes", "migrate_compaction_bytes_total", COUNTER, 0,
	  "Guest memory migrated by compaction." },
	{ "collapse_khugepaged_bytes", "collapse_khugepaged_bytes_total", COUNTER, 0,
	  "Guest memory collapsed by khugepaged." },
	{ "ksm_bytes", "ksm_bytes_total", COUNTER, 0, "Guest memory unmapped by KSM." },
	{ "numa_hint_bytes", "numa_hint_bytes_total", COUNTER, 0,
	  "Guest memory unmapped for NUMA hinting." },
	{ "unmap_bytes", "unmap_bytes_total", COUNTER, 0, "Guest memory unmapped otherwise." },
	{ "invalidate_other_bytes", "invalidate_other_bytes_total", COUNTER, 0,
	  "Guest memory invalidated for other reasons." },
	{ "aging_checks", "aging_checks_total", COUNTER, 0, "Page aging checks." },
	{ "aging_young", "aging_young_total", COUNTER, 0, "Page aging checks found young." },
};

static const struct metric host_metrics[] = {
	{ "vms", NULL, GAUGE, 0, "VMs tracked now." },
	{ "memslot_events_lost", "memslot_events_lost_total", COUNTER, 0,
	  "Memslot changes not accounted for lack of memory." },
};

static const char * const type_name[] = { "gauge", "counter", "untyped" };

static bool scan_key(const char *key)
{
	return !strncmp(key, "scan_", 5) || kmt_node_key(key) >= 0;
}

static void prom_labels(const struct kmt_vm *vm)
{
	printf("{vm=\"");
	kmt_prom_escape(stdout, vm->id);
	printf("\",pid=\"%d\",name=\"", vm->pid);
	kmt_prom_escape(stdout, vm->name);
	printf("\"");
}

static void prom_value(long long v, double scale)
{
	if (scale)
		printf(" %.6f\n", v * scale);
	else
		printf(" %lld\n", v);
}

/* One family: HELP, TYPE, a sample per VM with @key (scan keys: scanned VMs only). */
static void export_vm_key(const struct kmt_vm *vms, int n, const char *key)
{
	const struct metric *m = NULL;
	char name[128];
	size_t i;
	int v;

	for (i = 0; i < ARRAY_SIZE(vm_metrics); i++)
		if (!strcmp(vm_metrics[i].key, key))
			m = &vm_metrics[i];
	snprintf(name, sizeof(name), "kvmmemtune_vm_%s", m && m->name ? m->name : key);
	printf("# HELP %s %s\n", name, m ? m->help : "kvmmemtune per-VM stat key.");
	printf("# TYPE %s %s\n", name, type_name[m ? m->type : UNTYPED]);
	for (v = 0; v < n; v++) {
		const long long *val = kmt_stat_get(&vms[v].st, key);

		if (!val || (scan_key(key) && kmt_stat_val(&vms[v].st, "scan_age_ms", -1) < 0))
			continue;
		printf("%s", name);
		prom_labels(&vms[v]);
		printf("}");
		prom_value(*val, m ? m->scale : 0);
	}
}

/* nodeN_resident_bytes of every scanned VM as one family with a node label. */
static void export_nodes(const struct kmt_vm *vms, int n)
{
	int v, k;

	printf("# HELP kvmmemtune_vm_node_resident_bytes %s\n",
	       "Resident guest memory per NUMA node at the last scan.");
	printf("# TYPE kvmmemtune_vm_node_resident_bytes gauge\n");
	for (v = 0; v < n; v++) {
		if (kmt_stat_val(&vms[v].st, "scan_age_ms", -1) < 0)
			continue;
		for (k = 0; k < vms[v].st.n; k++) {
			int node = kmt_node_key(vms[v].st.kv[k].key);

			if (node < 0)
				continue;
			printf("kvmmemtune_vm_node_resident_bytes");
			prom_labels(&vms[v]);
			printf(",node=\"%d\"} %lld\n", node, vms[v].st.kv[k].val);
		}
	}
}

static bool seen_before(const struct kmt_vm *vms, int v, int k)
{
	const char *key = vms[v].st.kv[k].key;
	int i;

	for (i = 0; i < k; i++)
		if (!strcmp(vms[v].st.kv[i].key, key))
			return true;
	for (i = 0; i < v; i++)
		if (kmt_stat_get(&vms[i].st, key))
			return true;
	return false;
}

int cmd_export(int argc, char **argv)
{
	long long total = kmt_meminfo("MemTotal"), guest = 0;
	struct kmt_stat st = { 0 };
	bool node_done = false;
	struct kmt_vm *vms;
	char *text = NULL;
	int n, v, k, ret = no_args("export", argc, argv), err;
	size_t i;

	if (ret)
		return ret;
	ret = kmt_vms_load(&vms, &n, false);
	if (ret)
		return ret;
	err = read_host("stat", &st, &text);
	if (err) {
		char path[512];

		kmt_path(path, sizeof(path), "%s/host/stat", kmt_root());
		kmt_vms_free(vms, n);
		return kmt_fail(path, -err);
	}

	printf("# HELP kvmmemtune_vm_info A VM kvmmemtune follows; its labels name it.\n");
	printf("# TYPE kvmmemtune_vm_info gauge\n");
	for (v = 0; v < n; v++) {
		printf("kvmmemtune_vm_info");
		prom_labels(&vms[v]);
		printf(",comm=\"");
		kmt_prom_escape(stdout, vms[v].comm);
		printf("\"} 1\n");
		guest += kmt_stat_val(&vms[v].st, "guest_bytes", 0);
	}
	/* Every key any VM has, in first-seen order; node keys as one family. */
	for (v = 0; v < n; v++) {
		for (k = 0; k < vms[v].st.n; k++) {
			const char *key = vms[v].st.kv[k].key;

			if (kmt_node_key(key) >= 0) {
				if (!node_done)
					export_nodes(vms, n);
				node_done = true;
				continue;
			}
			if (!seen_before(vms, v, k))
				export_vm_key(vms, n, key);
		}
	}

	printf("# HELP kvmmemtune_host_mem_total_bytes MemTotal of the host.\n");
	printf("# TYPE kvmmemtune_host_mem_total_bytes gauge\n");
	if (total >= 0)
		printf("kvmmemtune_host_mem_total_bytes %lld\n", total);
	printf("# HELP kvmmemtune_host_guest_bytes Sum of guest_bytes over all VMs.\n");
	printf("# TYPE kvmmemtune_host_guest_bytes gauge\n");
	printf("kvmmemtune_host_guest_bytes %lld\n", guest);
	for (k = 0; k < st.n; k++) {
		const struct metric *m = NULL;
		char name[128];

		for (i = 0; i < ARRAY_SIZE(host_metrics); i++)
			if (!strcmp(host_metrics[i].key, st.kv[k].key))
				m = &host_metrics[i];
		snprintf(name, sizeof(name), "kvmmemtune_host_%s",
			 m && m->name ? m->name : st.kv[k].key);
		printf("# HELP %s %s\n", name, m ? m->help : "kvmmemtune host/stat key.");
		printf("# TYPE %s %s\n", name, type_name[m ? m->type : UNTYPED]);
		printf("%s %lld\n", name, st.kv[k].val);
	}
	free(text);
	kmt_stat_free(&st);
	kmt_vms_free(vms, n);
	return 0;
}
