/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmmemtune tool: declarations shared by its files.
 *
 * parse.c   pure parsers and formatters (no I/O): stat, memslots, keyword
 *           files, QEMU command lines, sizes, JSON and Prometheus escaping,
 *           the figures of one list row
 * sysfs.c   reading the sysfs tree and /proc: VMs, lookup, errors
 * view.c    list, show, host, watch, export
 * ctl.c     get, set, scan, compact, collapse
 * kvmmemtune.c  options, help, dispatch
 */
#ifndef KMT_TOOL_H
#define KMT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes; README.md and kvmmemtune.8 list them too. */
enum {
	KMT_EXIT_OK = 0,
	KMT_EXIT_USAGE = 1,	/* bad command line, or a value the module refused */
	KMT_EXIT_NOMODULE = 2,	/* /sys/kernel/kvmmemtune absent */
	KMT_EXIT_PERM = 3,	/* permission denied: per-VM files are root-only */
	KMT_EXIT_ERR = 4,	/* any other failure */
	KMT_EXIT_NOVM = 5,	/* no such VM, or the name is ambiguous */
	KMT_EXIT_OLD = 6,	/* the module (or kernel) lacks the feature */
};

/* ---------------------------------------------------------------- parse.c */

#define KMT_KEY_MAX 64

/* One "key value" line. */
struct kmt_kv {
	char key[KMT_KEY_MAX];
	long long val;
};

/* A parsed stat file: keys in file order, malformed lines counted. */
struct kmt_stat {
	struct kmt_kv *kv;
	int n, cap;
	int bad;
};

int kmt_parse_ll(const char *s, size_t len, long long *out);
int kmt_stat_parse(struct kmt_stat *st, const char *buf);
const long long *kmt_stat_get(const struct kmt_stat *st, const char *key);
long long kmt_stat_val(const struct kmt_stat *st, const char *key, long long dflt);
void kmt_stat_free(struct kmt_stat *st);
int kmt_node_key(const char *key);

/* One memslot, from memslots, with its slot_stat figures when scanned. */
struct kmt_slot {
	long long as, id, base_gfn, npages, flags;
	unsigned long long addr;
	long long resident, thp;	/* -1: not in slot_stat */
};

#define KMT_MEM_LOG_DIRTY_PAGES 1

int kmt_memslots_parse(const char *buf, struct kmt_slot **slots, int *n, int *bad);
int kmt_slot_stat_merge(const char *buf, struct kmt_slot *slots, int n, int *bad);

#define KMT_WORDS_MAX 16
#define KMT_WORD_LEN 32

int kmt_keywords_parse(const char *buf, char words[][KMT_WORD_LEN], int max, int *cur);
bool kmt_cmdline_name(const char *cmdline, size_t len, char *out, size_t size);
const char *kmt_size_str(long long bytes, bool human, char *out, size_t size);

/* Figures of one VM as the list shows them; has_* false means unknown. */
struct kmt_row {
	long long guest, resident, swap, reclaimed;
	bool resident_scanned;
	bool has_thp, has_map, has_node, has_reclaim;
	double thp_pct, map_huge_pct, off_node_pct;
	int node;
};

void kmt_row_compute(const struct kmt_stat *st, struct kmt_row *r);

/* A small JSON writer: pretty-printed, commas and nesting tracked. */
#define KMT_JSON_DEPTH 16

struct kmt_json {
	FILE *f;
	int depth;
	bool first[KMT_JSON_DEPTH];
};

void kmt_json_escape(FILE *f, const char *s);
void kj_init(struct kmt_json *j, FILE *f);
void kj_obj(struct kmt_json *j, const char *key);
void kj_arr(struct kmt_json *j, const char *key);
void kj_end(struct kmt_json *j, char close);
void kj_int(struct kmt_json *j, const char *key, long long v);
void kj_uint(struct kmt_json *j, const char *key, unsigned long long v);
void kj_dbl(struct kmt_json *j, const char *key, double v);
void kj_str(struct kmt_json *j, const char *key, const char *s);
void kj_bool(struct kmt_json *j, const char *key, bool v);
void kj_null(struct kmt_json *j, const char *key);

void kmt_prom_escape(FILE *f, const char *s);

/* ---------------------------------------------------------------- sysfs.c */

struct kmt_vm {
	char id[64];
	int pid;
	unsigned long long seq;
	char comm[64];
	char name[256];
	struct kmt_stat st;
	struct kmt_slot *slots;
	int nslots;
};

extern const char *kmt_prog;

const char *kmt_root(void);
const char *kmt_proc(void);
int kmt_path(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int kmt_read_all(const char *path, char **buf, size_t *len);
int kmt_read_small(const char *path, char *buf, size_t size);
int kmt_write_str(const char *path, const char *s);
int kmt_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kmt_fail(const char *what, int err);
int kmt_check_module(void);
int kmt_vm_load(struct kmt_vm *vm, const char *id, bool slots);
void kmt_vm_free(struct kmt_vm *vm);
int kmt_vms_load(struct kmt_vm **vms, int *n, bool slots);
void kmt_vms_free(struct kmt_vm *vms, int n);
int kmt_vm_find(const char *spec, struct kmt_vm *vm, bool slots);
long long kmt_meminfo(const char *key);

/* ---------------------------------------------------------------- view.c, ctl.c */

extern bool kmt_human;
extern bool kmt_json_out;

int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_collapse(int argc, char **argv);
int kmt_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* KMT_TOOL_H */
