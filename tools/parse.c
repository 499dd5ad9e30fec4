// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune tool: parsers and formatters. Nothing here does I/O except to a
 * FILE the caller gives, so the unit tests drive every function directly.
 *
 * The module's files are parsed strictly but tolerantly: a malformed line is
 * counted and skipped, never fatal, and a key the tool does not know is
 * kept (show and export pass it on). Keys of later module versions are
 * simply absent on older ones: every consumer treats an absent key as
 * "unknown", never as an error.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmt.h"

/* ---------------------------------------------------------------- numbers */

/*
 * kmt_parse_ll() - a strict decimal integer: optional '-', digits, nothing
 * else. Returns 0, -EINVAL (not a number) or -ERANGE (beyond long long:
 * values above 2^63 - 1 are refused rather than wrapped).
 */
int kmt_parse_ll(const char *s, size_t len, long long *out)
{
	unsigned long long v = 0, lim;
	bool neg = false;
	size_t i = 0;

	if (len && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len)
		return -EINVAL;
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	for (; i < len; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = s[i] - '0';
		if (v > (lim - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	else
		*out = v;
	return 0;
}

static int parse_hex(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (len < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || len > 18)
		return -EINVAL;
	for (i = 2; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v << 4 | (isdigit((unsigned char)s[i]) ? s[i] - '0' :
			      (tolower((unsigned char)s[i]) - 'a' + 10));
	}
	*out = v;
	return 0;
}

/* ---------------------------------------------------------------- stat */

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* One "key value" line of @len bytes (no newline); 0 or -EINVAL. */
static int stat_line(const char *p, size_t len, struct kmt_kv *kv)
{
	size_t k = 0, v, e;

	while (k < len && key_char(p[k]))
		k++;
	if (!k || k >= KMT_KEY_MAX || k == len || (p[k] != ' ' && p[k] != '\t'))
		return -EINVAL;
	for (v = k; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	for (e = len; e > v && isspace((unsigned char)p[e - 1]); e--)
		;
	if (kmt_parse_ll(p + v, e - v, &kv->val))
		return -EINVAL;
	memcpy(kv->key, p, k);
	kv->key[k] = '\0';
	return 0;
}

/*
 * kmt_stat_parse() - parse "key value" lines into @st (zeroed by the caller
 * or reused after kmt_stat_free). Malformed lines and repeated keys are
 * counted in st->bad and skipped. Returns 0 or -ENOMEM.
 */
int kmt_stat_parse(struct kmt_stat *st, const char *buf)
{
	const char *p = buf, *nl;

	memset(st, 0, sizeof(*st));
	for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
		struct kmt_kv kv;
		size_t len;

		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (!len || (len == 1 && p[0] == '\r'))
			continue;
		if (stat_line(p, len, &kv) || kmt_stat_get(st, kv.key)) {
			st->bad++;
			continue;
		}
		if (st->n == st->cap) {
			int cap = st->cap ? 2 * st->cap : 32;
			struct kmt_kv *n = realloc(st->kv, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			st->kv = n;
			st->cap = cap;
		}
		st->kv[st->n++] = kv;
	}
	return 0;
}

const long long *kmt_stat_get(const struct kmt_stat *st, const char *key)
{
	int i;

	for (i = 0; i < st->n; i++)
		if (!strcmp(st->kv[i].key, key))
			return &st->kv[i].val;
	return NULL;
}

long long kmt_stat_val(const struct kmt_stat *st, const char *key, long long dflt)
{
	const long long *v = kmt_stat_get(st, key);

	return v ? *v : dflt;
}

void kmt_stat_free(struct kmt_stat *st)
{
	free(st->kv);
	memset(st, 0, sizeof(*st));
}

/* N of a "nodeN_resident_bytes" key, or -1. */
int kmt_node_key(const char *key)
{
	static const char suffix[] = "_resident_bytes";
	const char *p = key + 4;
	long long n;
	size_t len;

	if (strncmp(key, "node", 4))
		return -1;
	len = strspn(p, "0123456789");
	if (!len || len > 5 || strcmp(p + len, suffix) || kmt_parse_ll(p, len, &n))
		return -1;
	return n;
}

/* ---------------------------------------------------------------- memslots */

/* Split one line into at most @max whitespace-separated fields. */
static int fields(const char *p, size_t len, const char **f, size_t *fl, int max)
{
	size_t i = 0;
	int n = 0;

	while (i < len) {
		size_t s;

		while (i < len && isspace((unsigned char)p[i]))
			i++;
		if (i == len)
			break;
		if (n == max)
			return max + 1;
		s = i;
		while (i < len && !isspace((unsigned char)p[i]))
			i++;
		f[n] = p + s;
		fl[n++] = i - s;
	}
	return n;
}

static int parse_nonneg(const char *s, size_t len, long long *out)
{
	return kmt_parse_ll(s, len, out) || *out < 0 ? -EINVAL : 0;
}

/*
 * kmt_memslots_parse() - "as id base_gfn npages userspace_addr flags" lines
 * into a new array (*slots, *n; free() it). Malformed lines are counted in
 * *bad and skipped. Returns 0 or -ENOMEM.
 */
int kmt_memslots_parse(const char *buf, struct kmt_slot **slots, int *n, int *bad)
{
	const char *p = buf, *nl;
	struct kmt_slot *a = NULL;
	int cap = 0;

	*n = 0;
	*bad = 0;
	for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
		const char *f[6];
		size_t fl[6], len;
		struct kmt_slot s;
		int nf;

		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		nf = fields(p, len, f, fl, 6);
		if (!nf)
			continue;
		if (nf != 6 || parse_nonneg(f[0], fl[0], &s.as) ||
		    parse_nonneg(f[1], fl[1], &s.id) || parse_nonneg(f[2], fl[2], &s.base_gfn) ||
		    parse_nonneg(f[3], fl[3], &s.npages) || parse_hex(f[4], fl[4], &s.addr) ||
		    parse_nonneg(f[5], fl[5], &s.flags)) {
			(*bad)++;
			continue;
		}
		s.resident = -1;
		s.thp = -1;
		if (*n == cap) {
			struct kmt_slot *na;

			cap = cap ? 2 * cap : 16;
			na = realloc(a, cap * sizeof(*a));
			if (!na) {
				free(a);
				*slots = NULL;
				*n = 0;
				return -ENOMEM;
			}
			a = na;
		}
		a[(*n)++] = s;
	}
	*slots = a;
	return 0;
}

/*
 * kmt_slot_stat_merge() - put the "as id base_gfn npages resident_bytes
 * thp_bytes" lines of slot_stat into the matching slots (by as and id).
 * Malformed lines count in *bad; lines of slots gone since are ignored.
 * Returns how many slots got figures.
 */
int kmt_slot_stat_merge(const char *buf, struct kmt_slot *slots, int n, int *bad)
{
	const char *p = buf, *nl;
	int matched = 0;

	*bad = 0;
	for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
		long long v[6];
		const char *f[6];
		size_t fl[6], len;
		int nf, i;

		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		nf = fields(p, len, f, fl, 6);
		if (!nf)
			continue;
		for (i = 0; i < nf && i < 6; i++)
			if (parse_nonneg(f[i], fl[i], &v[i]))
				break;
		if (nf != 6 || i != 6) {
			(*bad)++;
			continue;
		}
		for (i = 0; i < n; i++) {
			if (slots[i].as == v[0] && slots[i].id == v[1]) {
				slots[i].resident = v[4];
				slots[i].thp = v[5];
				matched++;
				break;
			}
		}
	}
	return matched;
}

/* ---------------------------------------------------------------- keyword files */

/*
 * kmt_keywords_parse() - the words of a keyword file such as
 * "[inherit] never\n" into @words, brackets stripped; *cur is the index of
 * the bracketed one (-1 if none). Returns the number of words, or -EINVAL
 * when a word is too long or there are more than @max.
 */
int kmt_keywords_parse(const char *buf, char words[][KMT_WORD_LEN], int max, int *cur)
{
	const char *p = buf;
	int n = 0;

	*cur = -1;
	for (;;) {
		size_t len;
		bool br;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return n;
		len = strcspn(p, " \t\r\n");
		br = len >= 2 && p[0] == '[' && p[len - 1] == ']';
		if (n == max || len - 2 * br >= KMT_WORD_LEN || len - 2 * br == 0)
			return -EINVAL;
		memcpy(words[n], p + br, len - 2 * br);
		words[n][len - 2 * br] = '\0';
		if (br)
			*cur = n;
		n++;
		p += len;
	}
}

/* ---------------------------------------------------------------- VM names */

/* The next option of a QEMU option string into @buf; ",," is a literal comma. */
static void qemu_opt(const char **pp, const char *e, char *buf, size_t size)
{
	const char *p = *pp;
	size_t o = 0;

	while (p < e && !(*p == ',' && !(p + 1 < e && p[1] == ','))) {
		if (o + 1 < size)
			buf[o++] = *p;
		p += *p == ',' ? 2 : 1;
	}
	buf[o] = '\0';
	*pp = p < e ? p + 1 : p;
}

/*
 * kmt_cmdline_name() - the VM name in a process's command line (the bytes of
 * /proc/PID/cmdline: arguments separated by NULs, @len long). QEMU takes
 * "-name NAME" or "-name guest=NAME,debug-threads=on,...": a first option
 * without '=' is the guest name, ",," is a literal comma, and a later -name
 * overrides an earlier one. Control characters become '?'. Returns whether
 * a non-empty name was found.
 */
bool kmt_cmdline_name(const char *cmdline, size_t len, char *out, size_t size)
{
	const char *arg = cmdline, *end = cmdline + len;
	bool found = false, is_value = false;

	if (!size)
		return false;
	while (arg < end) {
		const char *z = memchr(arg, '\0', end - arg);
		size_t alen = z ? (size_t)(z - arg) : (size_t)(end - arg);
		const char *p = arg, *e = arg + alen;
		int opt;

		for (opt = 0; is_value && p < e; opt++) {
			char buf[256];
			const char *name;
			size_t i;

			qemu_opt(&p, e, buf, sizeof(buf));
			if (!strncmp(buf, "guest=", 6))
				name = buf + 6;
			else if (!opt && !strchr(buf, '='))
				name = buf;
			else
				continue;
			snprintf(out, size, "%s", name);
			for (i = 0; out[i]; i++)
				if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
					out[i] = '?';
			found = out[0] != '\0';
		}
		is_value = !is_value && ((alen == 5 && !memcmp(arg, "-name", 5)) ||
					 (alen == 6 && !memcmp(arg, "--name", 6)));
		arg += alen + 1;
	}
	return found;
}

/* ---------------------------------------------------------------- sizes */

/* "-" for a negative (unknown) size; 1024-based units unless !@human. */
const char *kmt_size_str(long long bytes, bool human, char *out, size_t size)
{
	static const char unit[] = "BKMGTPE";
	double v = bytes;
	int u = 0;

	if (bytes < 0)
		return "-";
	if (!human) {
		snprintf(out, size, "%lld", bytes);
		return out;
	}
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f%c" : "%.0f%c", v, unit[u]);
	return out;
}

/* ---------------------------------------------------------------- list figures */

/*
 * kmt_row_compute() - the figures the list shows for one VM:
 * resident from the last scan if there was one, else the process's
 * rss_anon; THP-backed share of the scanned resident memory; the share of
 * KVM's mapped bytes in 2M and 1G mappings; the node holding most of the
 * scanned memory and the share elsewhere; reclaimed bytes once the module
 * reports them.
 */
void kmt_row_compute(const struct kmt_stat *st, struct kmt_row *r)
{
	const long long *ks = kmt_stat_get(st, "reclaim_kswapd_bytes");
	const long long *kd = kmt_stat_get(st, "reclaim_direct_bytes");
	long long m4 = kmt_stat_val(st, "kvm_map_4k", 0), m2 = kmt_stat_val(st, "kvm_map_2m", 0);
	long long m1 = kmt_stat_val(st, "kvm_map_1g", 0), max = -1, sum = 0;
	double huge, all;
	int i;

	memset(r, 0, sizeof(*r));
	r->guest = kmt_stat_val(st, "guest_bytes", -1);
	r->swap = kmt_stat_val(st, "swap_bytes", -1);
	r->resident_scanned = kmt_stat_val(st, "scan_age_ms", -1) >= 0 &&
			      kmt_stat_get(st, "scan_resident_bytes");
	r->resident = r->resident_scanned ? kmt_stat_val(st, "scan_resident_bytes", -1) :
					    kmt_stat_val(st, "rss_anon_bytes", -1);
	if (r->resident_scanned && r->resident > 0 && kmt_stat_get(st, "scan_thp_bytes")) {
		r->has_thp = true;
		r->thp_pct = 100.0 * kmt_stat_val(st, "scan_thp_bytes", 0) / r->resident;
	}
	huge = (double)m2 * (2 << 20) + (double)m1 * (1 << 30);
	all = huge + (double)m4 * 4096;
	if (all > 0 && m4 >= 0 && m2 >= 0 && m1 >= 0) {
		r->has_map = true;
		r->map_huge_pct = 100.0 * huge / all;
	}
	r->node = -1;
	for (i = 0; r->resident_scanned && i < st->n; i++) {
		int node = kmt_node_key(st->kv[i].key);

		if (node < 0 || st->kv[i].val < 0)
			continue;
		sum += st->kv[i].val;
		if (st->kv[i].val > max || (st->kv[i].val == max && node < r->node)) {
			max = st->kv[i].val;
			r->node = node;
		}
	}
	if (max > 0) {
		r->has_node = true;
		r->off_node_pct = 100.0 * (sum - max) / sum;
	} else {
		r->node = -1;
	}
	if (ks || kd) {
		r->has_reclaim = true;
		r->reclaimed = (ks ? *ks : 0) + (kd ? *kd : 0);
	}
}

/* ---------------------------------------------------------------- JSON */

/* Length of the valid UTF-8 sequence at @s (at most @left bytes), or 0. */
static int utf8_len(const unsigned char *s, size_t left)
{
	unsigned int c;
	int n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if ((size_t)n > left)
		return 0;
	c = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

/* @s as a JSON string, quotes included; invalid UTF-8 becomes U+FFFD. */
void kmt_json_escape(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);

	fputc('"', f);
	while (left) {
		int n;

		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20) {
				fprintf(f, "\\u%04x", *p);
				break;
			}
			n = utf8_len(p, left);
			if (!n) {
				fputs("\\ufffd", f);
				break;
			}
			fwrite(p, 1, n, f);
			p += n;
			left -= n;
			continue;
		}
		p++;
		left--;
	}
	fputc('"', f);
}

void kj_init(struct kmt_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
}

/* Before a value: comma, newline and indent inside a container, then key. */
static void kj_pre(struct kmt_json *j, const char *key)
{
	if (j->depth) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	}
	j->first[j->depth] = false;
	if (key) {
		kmt_json_escape(j->f, key);
		fputs(": ", j->f);
	}
}

static void kj_open(struct kmt_json *j, const char *key, char open)
{
	kj_pre(j, key);
	fputc(open, j->f);
	if (j->depth < KMT_JSON_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

void kj_obj(struct kmt_json *j, const char *key)
{
	kj_open(j, key, '{');
}

void kj_arr(struct kmt_json *j, const char *key)
{
	kj_open(j, key, '[');
}

void kj_end(struct kmt_json *j, char close)
{
	bool empty = j->first[j->depth];

	if (j->depth)
		j->depth--;
	if (!empty)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	fputc(close, j->f);
	if (!j->depth)
		fputc('\n', j->f);
}

void kj_int(struct kmt_json *j, const char *key, long long v)
{
	kj_pre(j, key);
	fprintf(j->f, "%lld", v);
}

void kj_uint(struct kmt_json *j, const char *key, unsigned long long v)
{
	kj_pre(j, key);
	fprintf(j->f, "%llu", v);
}

void kj_dbl(struct kmt_json *j, const char *key, double v)
{
	kj_pre(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.2f", v);
	else
		fputs("null", j->f);
}

void kj_str(struct kmt_json *j, const char *key, const char *s)
{
	kj_pre(j, key);
	kmt_json_escape(j->f, s);
}

void kj_bool(struct kmt_json *j, const char *key, bool v)
{
	kj_pre(j, key);
	fputs(v ? "true" : "false", j->f);
}

void kj_null(struct kmt_json *j, const char *key)
{
	kj_pre(j, key);
	fputs("null", j->f);
}

/* ---------------------------------------------------------------- Prometheus */

/* A label value: \, " and newline escaped, invalid UTF-8 as '?'. */
void kmt_prom_escape(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);

	while (left) {
		int n = *p < 0x80 ? 1 : utf8_len(p, left);

		if (!n) {
			fputc('?', f);
			n = 1;
		} else if (*p == '\\') {
			fputs("\\\\", f);
		} else if (*p == '"') {
			fputs("\\\"", f);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
		left -= n;
	}
}
