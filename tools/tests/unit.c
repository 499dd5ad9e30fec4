// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of the kvmmemtune tool: its parsers and formatters
 * directly, then the built binary (argv[1]) against fake sysfs trees made
 * in a temporary directory (KVMMEMTUNE_SYSFS, KVMMEMTUNE_PROC). Prints TAP
 * and a last line "N passed, N failed"; exits non-zero on any failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmt.h"
#include "../../selftests/kmt_json.h"
#include "../../selftests/kmt_prom.h"

static int passed, failed, nr;
static const char *tool;
static char tmp[256];

/* One check; on failure, a TAP diagnostic with the line and the detail. */
static bool check(bool ok, const char *name, int line, const char *fmt, ...)
{
	va_list ap;

	nr++;
	if (ok) {
		passed++;
		printf("ok %d %s\n", nr, name);
		return true;
	}
	failed++;
	printf("not ok %d %s\n# line %d: ", nr, name, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return false;
}

#define CHECK(cond, name, ...) check(!!(cond), name, __LINE__, __VA_ARGS__)

/* ---------------------------------------------------------------- numbers, stat */

static void test_numbers(void)
{
	static const char * const bad[] = { "", "-", "+5", " 5", "5 ", "12a", "0x10", "--1",
					    "9223372036854775808", "18446744073709551616",
					    "-9223372036854775809",
					    "99999999999999999999999999999999" };
	long long v = 0;
	bool ok = true;
	size_t i;

	ok &= !kmt_parse_ll("0", 1, &v) && v == 0;
	ok &= !kmt_parse_ll("-1", 2, &v) && v == -1;
	ok &= !kmt_parse_ll("9223372036854775807", 19, &v) && v == LLONG_MAX;
	ok &= !kmt_parse_ll("-9223372036854775808", 20, &v) && v == LLONG_MIN;
	ok &= !kmt_parse_ll("0042", 4, &v) && v == 42;
	CHECK(ok, "parse_ll_valid", "v=%lld", v);
	for (i = 0, ok = true; i < ARRAY_SIZE(bad); i++) {
		v = 7;
		if (!kmt_parse_ll(bad[i], strlen(bad[i]), &v) || v != 7) {
			ok = false;
			break;
		}
	}
	CHECK(ok, "parse_ll_rejects_junk_and_overflow", "accepted '%s'",
	      i < ARRAY_SIZE(bad) ? bad[i] : "");
	CHECK(kmt_parse_ll("9223372036854775808", 19, &v) == -ERANGE, "parse_ll_erange", "");
}

static void test_stat(void)
{
	struct kmt_stat st;
	const char *text =
		"guest_bytes 67108864\n"
		"memslots\t2\n"
		"bad line here\n"
		"novalue\n"
		"=5 5\n"
		"spaced  7  \n"
		"\n"
		"crlf 9\r\n"
		"neg -1\n"
		"huge 9223372036854775807\n"
		"toohuge 18446744073709551615\n"
		"minus -\n"
		"guest_bytes 1\n"
		"x123456789012345678901234567890123456789012345678901234567890123 1\n"
		"last 5";

	CHECK(!kmt_stat_parse(&st, text), "stat_parse_returns_ok", "");
	CHECK(kmt_stat_val(&st, "guest_bytes", -2) == 67108864, "stat_first_of_duplicate_kept",
	      "%lld", kmt_stat_val(&st, "guest_bytes", -2));
	CHECK(kmt_stat_val(&st, "memslots", -2) == 2 && kmt_stat_val(&st, "spaced", -2) == 7 &&
	      kmt_stat_val(&st, "crlf", -2) == 9 && kmt_stat_val(&st, "last", -2) == 5,
	      "stat_tabs_spaces_crlf_no_final_newline", "");
	CHECK(kmt_stat_val(&st, "neg", 0) == -1 && kmt_stat_val(&st, "huge", 0) == LLONG_MAX,
	      "stat_negative_and_huge", "");
	CHECK(!kmt_stat_get(&st, "toohuge") && !kmt_stat_get(&st, "bad") &&
	      !kmt_stat_get(&st, "novalue") && !kmt_stat_get(&st, "minus"),
	      "stat_malformed_lines_skipped", "");
	CHECK(st.bad == 7 && st.n == 7, "stat_malformed_lines_counted", "bad %d n %d", st.bad,
	      st.n);
	kmt_stat_free(&st);
	CHECK(!kmt_stat_parse(&st, "") && st.n == 0 && st.bad == 0, "stat_empty_file", "");
	kmt_stat_free(&st);
	CHECK(kmt_node_key("node0_resident_bytes") == 0 &&
	      kmt_node_key("node12_resident_bytes") == 12 &&
	      kmt_node_key("node_resident_bytes") < 0 && kmt_node_key("node1_resident") < 0 &&
	      kmt_node_key("nodex_resident_bytes") < 0 && kmt_node_key("scan_thp_bytes") < 0,
	      "node_keys", "");
}

static void test_memslots(void)
{
	const char *text = "0 0 0 16384 0x7f0000000000 0\n"
			   "0 1 1048576 4096 0x7F0010000000 1\n"
			   "1 0 0 16384 0x7f0000000000 0\n"
			   "0 2 0 16384 7f0000000000 0\n"	/* no 0x */
			   "0 3 0 16384 0x7f00 0 extra\n"
			   "0 4 -1 16384 0x7f00 0\n"
			   "0 5 0 16384 0x12345678901234567 0\n"
			   "garbage\n"
			   "\n"
			   "0 509 4096 1 0xfee00000 2";
	struct kmt_slot *s;
	int n, bad, m;

	int err = kmt_memslots_parse(text, &s, &n, &bad);

	CHECK(!err && n == 4 && bad == 5, "memslots_parse", "n %d bad %d", n, bad);
	CHECK(n == 4 && s[0].npages == 16384 && s[0].addr == 0x7f0000000000ULL && s[1].flags == 1 &&
	      s[1].base_gfn == 1048576 && s[1].addr == 0x7f0010000000ULL && s[2].as == 1 &&
	      s[3].id == 509 && s[3].flags == 2 && s[0].resident == -1,
	      "memslots_fields", "");
	m = kmt_slot_stat_merge("0 0 0 16384 8388608 4194304\n0 1 1048576 4096 x 0\n"
				"0 77 0 1 4096 0\n1 0 0 16384 4096 0\n", s, n, &bad);
	CHECK(m == 2 && bad == 1 && s[0].resident == 8388608 && s[0].thp == 4194304 &&
	      s[1].resident == -1 && s[2].resident == 4096, "slot_stat_merge", "m %d bad %d", m,
	      bad);
	free(s);
	err = kmt_memslots_parse("", &s, &n, &bad);
	CHECK(!err && n == 0 && bad == 0, "memslots_empty", "");
	free(s);
}

static void test_keywords(void)
{
	char w[KMT_WORDS_MAX][KMT_WORD_LEN];
	int n, cur;

	n = kmt_keywords_parse("[inherit] never\n", w, KMT_WORDS_MAX, &cur);
	CHECK(n == 2 && cur == 0 && !strcmp(w[0], "inherit") && !strcmp(w[1], "never"),
	      "keywords_first_selected", "n %d cur %d", n, cur);
	n = kmt_keywords_parse("inherit [never] advised", w, KMT_WORDS_MAX, &cur);
	CHECK(n == 3 && cur == 1 && !strcmp(w[1], "never") && !strcmp(w[2], "advised"),
	      "keywords_middle_selected", "n %d cur %d", n, cur);
	n = kmt_keywords_parse("42\n", w, KMT_WORDS_MAX, &cur);
	CHECK(n == 1 && cur == -1, "keywords_plain_value", "n %d cur %d", n, cur);
	n = kmt_keywords_parse("[] x", w, KMT_WORDS_MAX, &cur);
	CHECK(n < 0, "keywords_empty_brackets_rejected", "n %d", n);
	n = kmt_keywords_parse("a b c", w, 2, &cur);
	CHECK(n < 0, "keywords_too_many_rejected", "n %d", n);
	n = kmt_keywords_parse("", w, KMT_WORDS_MAX, &cur);
	CHECK(n == 0 && cur == -1, "keywords_empty_file", "n %d", n);
}

/* ---------------------------------------------------------------- names */

static bool name_of(const char *cmd, size_t len, const char *want)
{
	char out[64] = "unchanged";
	bool found = kmt_cmdline_name(cmd, len, out, sizeof(out));

	if (!want)
		return !found;
	if (!found || strcmp(out, want)) {
		printf("# got '%s' (found %d), want '%s'\n", out, found, want);
		return false;
	}
	return true;
}

#define CMD(s) s, sizeof(s) - 1

static void test_names(void)
{
	CHECK(name_of(CMD("/usr/bin/qemu-system-x86_64\0-name\0guest=web-3,debug-threads=on\0"
			  "-m\0" "4096\0"), "web-3"), "name_guest_equals", "");
	CHECK(name_of(CMD("qemu\0-name\0db-1\0"), "db-1"), "name_plain", "");
	CHECK(name_of(CMD("qemu\0-name\0db-1,debug-threads=on\0"), "db-1"), "name_implied_guest",
	      "");
	CHECK(name_of(CMD("qemu\0-name\0debug-threads=on,guest=late\0"), "late"),
	      "name_guest_not_first", "");
	CHECK(name_of(CMD("qemu\0-name\0a,,b,process=x\0"), "a,b"), "name_escaped_comma", "");
	CHECK(name_of(CMD("qemu\0-name\0first\0-smp\0" "2\0-name\0guest=second\0"), "second"),
	      "name_last_wins", "");
	CHECK(name_of(CMD("qemu\0--name\0dashdash\0"), "dashdash"), "name_double_dash", "");
	CHECK(name_of(CMD("qemu\0-name\0guest=no-final-nul"), "no-final-nul"),
	      "name_without_final_nul", "");
	CHECK(name_of(CMD("qemu\0-name\0bad\x01name\0"), "bad?name"), "name_control_chars", "");
	CHECK(name_of(CMD("qemu\0-m\0" "64\0"), NULL), "name_absent", "");
	CHECK(name_of(CMD("qemu\0-name\0"), NULL), "name_missing_value", "");
	CHECK(name_of(CMD("qemu\0-name\0process=p\0"), NULL), "name_options_only", "");
	CHECK(name_of(CMD("qemu\0-name\0\0-name\0"), NULL), "name_empty", "");
	CHECK(name_of(CMD("qemu\0-namex\0foo\0"), NULL), "name_wrong_option", "");
	CHECK(name_of("", 0, NULL), "name_empty_cmdline", "");
}

/* ---------------------------------------------------------------- sizes, rows */

static void test_sizes(void)
{
	char b[32];

	CHECK(!strcmp(kmt_size_str(0, true, b, 32), "0B") &&
	      !strcmp(kmt_size_str(1023, true, b, 32), "1023B") &&
	      !strcmp(kmt_size_str(1024, true, b, 32), "1.0K") &&
	      !strcmp(kmt_size_str(3 << 19, true, b, 32), "1.5M") &&
	      !strcmp(kmt_size_str(LLONG_MAX, true, b, 32), "8.0E") &&
	      !strcmp(kmt_size_str(-1, true, b, 32), "-") &&
	      !strcmp(kmt_size_str(LLONG_MAX, false, b, 32), "9223372036854775807"),
	      "size_strings", "%s", b);
}

static void test_rows(void)
{
	struct kmt_stat st;
	struct kmt_row r;

	kmt_stat_parse(&st, "guest_bytes 100\nrss_anon_bytes 50\nscan_resident_bytes 0\n"
		       "scan_thp_bytes 0\nnode0_resident_bytes 0\nscan_age_ms -1\nswap_bytes 3\n");
	kmt_row_compute(&st, &r);
	CHECK(!r.resident_scanned && r.resident == 50 && !r.has_thp && !r.has_node && !r.has_map &&
	      !r.has_reclaim && r.swap == 3 && r.guest == 100, "row_before_scan", "res %lld",
	      r.resident);
	kmt_stat_free(&st);
	kmt_stat_parse(&st, "guest_bytes 100\nrss_anon_bytes 50\nscan_resident_bytes 8388608\n"
		       "scan_thp_bytes 2097152\nnode0_resident_bytes 2097152\n"
		       "node1_resident_bytes 6291456\nscan_age_ms 5\nkvm_map_4k 512\n"
		       "kvm_map_2m 1\nkvm_map_1g 0\nreclaim_kswapd_bytes 4096\n");
	kmt_row_compute(&st, &r);
	CHECK(r.resident_scanned && r.resident == 8388608 && r.has_thp && r.thp_pct == 25.0 &&
	      r.has_node && r.node == 1 && r.off_node_pct == 25.0 && r.has_map &&
	      r.map_huge_pct == 50.0 && r.has_reclaim && r.reclaimed == 4096,
	      "row_after_scan", "thp %.1f node %d off %.1f map %.1f", r.thp_pct, r.node,
	      r.off_node_pct, r.map_huge_pct);
	kmt_stat_free(&st);
	kmt_stat_parse(&st, "scan_age_ms 1\nscan_resident_bytes 0\nnode0_resident_bytes 0\n"
		       "reclaim_direct_bytes 7\n");
	kmt_row_compute(&st, &r);
	CHECK(r.resident == 0 && !r.has_thp && !r.has_node && r.has_reclaim && r.reclaimed == 7 &&
	      r.guest == -1 && r.swap == -1, "row_empty_scan_and_absent_keys", "");
	kmt_stat_free(&st);
}

/* ---------------------------------------------------------------- JSON, Prometheus */

static char *json_of(const char *s)
{
	char *out;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	kmt_json_escape(f, s);
	fclose(f);
	return out;
}

static void test_json(void)
{
	static const char * const tricky[] = { "plain", "quo\"te", "back\\slash", "new\nline",
					       "tab\tcr\r", "ctl\x01\x1f", "caf\xc3\xa9",
					       "bad\xff\xfe", "trunc\xc3", "surr\xed\xa0\x80",
					       "over\xc0\xaf", "emoji\xf0\x9f\x98\x80", "" };
	char err[128], *s, *out;
	struct kmt_json j;
	struct jv v;
	size_t i, len;
	FILE *f;

	s = json_of("a\"b\\c\nd\x01");
	CHECK(!strcmp(s, "\"a\\\"b\\\\c\\nd\\u0001\""), "json_escape_exact", "%s", s);
	free(s);
	s = json_of("x\xffy");
	CHECK(!strcmp(s, "\"x\\ufffdy\""), "json_escape_invalid_utf8", "%s", s);
	free(s);
	for (i = 0; i < ARRAY_SIZE(tricky); i++) {
		s = json_of(tricky[i]);
		if (jv_parse(s, strlen(s), &v, err, sizeof(err)) || v.type != JV_STR)
			break;
		/* Valid input survives the round trip unchanged. */
		if (i < 7 && strcmp(v.str, tricky[i]))
			break;
		jv_free(&v);
		free(s);
	}
	CHECK(i == ARRAY_SIZE(tricky), "json_escape_round_trip",
	      "string %zu: %s", i, err);

	f = open_memstream(&out, &len);
	kj_init(&j, f);
	kj_obj(&j, NULL);
	kj_str(&j, "name", "we\"b");
	kj_int(&j, "min", LLONG_MIN);
	kj_uint(&j, "max", ~0ULL);
	kj_dbl(&j, "pct", 12.345);
	kj_dbl(&j, "nan", 0.0 / 0.0);
	kj_null(&j, "none");
	kj_bool(&j, "yes", true);
	kj_arr(&j, "empty");
	kj_end(&j, ']');
	kj_obj(&j, "emptyobj");
	kj_end(&j, '}');
	kj_arr(&j, "list");
	kj_int(&j, NULL, 1);
	kj_obj(&j, NULL);
	kj_int(&j, "a", 2);
	kj_end(&j, '}');
	kj_end(&j, ']');
	kj_end(&j, '}');
	fclose(f);
	CHECK(!jv_parse(out, len, &v, err, sizeof(err)), "json_writer_valid", "%s in %s", err, out);
	CHECK(v.type == JV_OBJ && !strcmp(jv_get(&v, "name")->str, "we\"b") &&
	      jv_get(&v, "min")->inum == LLONG_MIN && jv_get(&v, "pct")->num == 12.35 &&
	      jv_get(&v, "nan")->type == JV_NULL && jv_get(&v, "yes")->b &&
	      jv_get(&v, "empty")->n == 0 && jv_get(&v, "list")->n == 2 &&
	      jv_get(&jv_get(&v, "list")->items[1], "a")->inum == 2 && out[len - 1] == '\n',
	      "json_writer_values", "%s", out);
	jv_free(&v);
	free(out);

	/* The validator itself must refuse what RFC 8259 refuses. */
	{
		static const char * const bad[] = { "", "{", "[1,]", "{\"a\":1,}", "01", "1.",
						    ".5", "+1", "\"\x01\"", "\"\\x\"", "tru",
						    "{\"a\":1,\"a\":2}", "[1] 2", "\"\\ud800\"",
						    "\"\xff\"", "{a:1}", "'s'", "NaN", "[1 2]" };
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			if (!jv_parse(bad[i], strlen(bad[i]), &v, err, sizeof(err))) {
				jv_free(&v);
				break;
			}
		}
		CHECK(i == ARRAY_SIZE(bad), "json_validator_strict", "accepted '%s'",
		      i < ARRAY_SIZE(bad) ? bad[i] : "");
	}

	{
		static const char * const bad[] = {
			"m 1\n",
			"# TYPE m gauge\nm 1\n",
			"# HELP m h\n# TYPE m gauge\nm{a=\"x} 1\n",
			"# HELP m h\n# TYPE m gauge\nm{a=\"\\x\"} 1\n",
			"# HELP m h\n# TYPE m gauge\nm{1a=\"x\"} 1\n",
			"# HELP m h\n# TYPE m gauge\nm 1x\n",
			"# HELP m h\n# TYPE m gauge\nm  1\n",
			"# HELP m h\n# TYPE m gauge\nm 1",
			"# HELP m h\n# TYPE m sometimes\nm 1\n",
			"# HELP m h\n# TYPE m gauge\n# HELP n h\n# TYPE n gauge\nm 1\nn 1\nm 2\n",
			"# HELP m h\n# TYPE m gauge\nm 1\n# TYPE m gauge\n",
		};
		const char *good = "# HELP m h\n# TYPE m counter\n"
				   "m{a=\"x\\\"y\\\\\\n\",b=\"\"} 1.5e3\n"
				   "m{a=\"z\"} 2 1700000000000\n"
				   "# HELP n h\n# TYPE n gauge\nn -Inf\n";

		for (i = 0; i < ARRAY_SIZE(bad); i++)
			if (kmt_prom_check(bad[i], err, sizeof(err)) >= 0)
				break;
		CHECK(i == ARRAY_SIZE(bad), "prom_checker_strict", "accepted: %s",
		      i < ARRAY_SIZE(bad) ? bad[i] : "");
		CHECK(kmt_prom_check(good, err, sizeof(err)) == 3, "prom_checker_accepts", "%s",
		      err);
	}

	f = open_memstream(&out, &len);
	kmt_prom_escape(f, "a\\b\"c\nd\xff");
	fclose(f);
	CHECK(!strcmp(out, "a\\\\b\\\"c\\nd?"), "prom_label_escape", "%s", out);
	free(out);
}

/* ---------------------------------------------------------------- the binary on fake trees */

struct run {
	int rc;
	char out[65536], err[8192];
};

static void drain(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
}

/* Run the tool with @args (NULL-terminated) on the fake tree. */
static void run(struct run *r, const char *const *args)
{
	int out[2], err[2], st;
	const char *argv[32];
	pid_t pid;
	int i;

	argv[0] = tool;
	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pipe(out) || pipe(err))
		exit(2);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		execv(tool, (char **)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	/* Outputs are small: stderr fits its pipe while stdout drains. */
	drain(out[0], r->out, sizeof(r->out));
	drain(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	waitpid(pid, &st, 0);
	r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define RUN(r, ...) run(r, (const char *const[]){ __VA_ARGS__, NULL })

static void put(const char *rel, const char *content, size_t len)
{
	char path[512], *slash;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	for (slash = strchr(path + strlen(tmp) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, content, len) != (ssize_t)len)
		exit(2);
	close(fd);
}

#define PUT(rel, s) put(rel, s, strlen(s))

static void fake_tree(void)
{
	PUT("sys/version", "0.1.0\n");
	PUT("sys/host/stat", "vms 3\nmemslot_events_lost 0\n");
	PUT("sys/policy/thp_default", "[inherit] never\n");
	/* A QEMU VM, scanned. */
	PUT("sys/vms/4242-1/pid", "4242\n");
	PUT("sys/vms/4242-1/comm", "qemu-system-x86\n");
	PUT("sys/vms/4242-1/stat", "guest_bytes 67108864\nmemslots 2\nmemslot_create 2\n"
	    "rss_anon_bytes 8388608\nswap_bytes 0\nkvm_map_4k 0\nkvm_map_2m 4\nkvm_map_1g 0\n"
	    "scan_resident_bytes 8388608\nscan_thp_bytes 4194304\nnode0_resident_bytes 2097152\n"
	    "node1_resident_bytes 6291456\nscan_age_ms 12\nscan_duration_us 300\n"
	    "this is not a stat line\n");
	PUT("sys/vms/4242-1/memslots", "0 0 0 16384 0x7f0000000000 0\n"
	    "0 1 1048576 4096 0x7f0010000000 1\n");
	PUT("sys/vms/4242-1/slot_stat", "0 0 0 16384 8388608 4194304\n");
	PUT("sys/vms/4242-1/thp", "[inherit] never\n");
	put("proc/4242/cmdline",
	    CMD("qemu-system-x86_64\0-name\0guest=web \"3\",debug-threads=on\0"));
	/* A bare VM of a tool, never scanned, with reclaim keys of a later module; no thp file. */
	PUT("sys/vms/77-2/pid", "77\n");
	PUT("sys/vms/77-2/comm", "fc_vcpu\n");
	PUT("sys/vms/77-2/stat", "guest_bytes 1048576\nrss_anon_bytes 4096\nscan_age_ms -1\n"
	    "reclaim_kswapd_bytes 8192\nreclaim_direct_bytes 4096\nfuture_key 18\n");
	PUT("sys/vms/77-2/memslots", "");
	/* A directory whose VM went away while listed: no files. */
	mkdir("sys/vms/99-3", 0755);
	PUT("proc/meminfo", "MemTotal:        1048576 kB\nMemFree:  1 kB\n");
}

static void test_binary(void)
{
	static struct run r;
	char path[512], why[256], err[128];
	struct jv v;

	snprintf(tmp, sizeof(tmp), "/tmp/kmt-unit-XXXXXX");
	if (!mkdtemp(tmp) || chdir(tmp))
		exit(2);
	snprintf(path, sizeof(path), "%s/nonexistent", tmp);
	setenv("KVMMEMTUNE_SYSFS", path, 1);
	RUN(&r, "list");
	CHECK(r.rc == KMT_EXIT_NOMODULE && strstr(r.err, "module loaded"), "tool_no_module_exit_2",
	      "rc %d: %s", r.rc, r.err);

	fake_tree();
	snprintf(path, sizeof(path), "%s/sys", tmp);
	setenv("KVMMEMTUNE_SYSFS", path, 1);
	snprintf(path, sizeof(path), "%s/proc", tmp);
	setenv("KVMMEMTUNE_PROC", path, 1);

	RUN(&r, "list");
	CHECK(r.rc == 0 && strstr(r.out, "4242-1") && strstr(r.out, "web \"3\"") &&
	      strstr(r.out, "fc_vcpu") && !strstr(r.out, "99-3"), "tool_list_fake_tree",
	      "rc %d out %s err %s", r.rc, r.out, r.err);
	CHECK(strstr(r.out, "  50% ") && strstr(r.out, " 100% ") && strstr(r.out, "12.0K"),
	      "tool_list_figures", "%s", r.out);
	RUN(&r, "-b");
	CHECK(r.rc == 0 && strstr(r.out, "67108864") && strstr(r.out, "12288"),
	      "tool_list_default_bytes", "%s", r.out);

	RUN(&r, "list", "--json");
	CHECK(r.rc == 0 && !jv_parse(r.out, strlen(r.out), &v, err, sizeof(err)),
	      "tool_list_json_valid", "%s: %s", err, r.out);
	if (v.type == JV_OBJ && jv_get(&v, "vms") && jv_get(&v, "vms")->n == 2) {
		const struct jv *a = &jv_get(&v, "vms")->items[0];
		const struct jv *b = &jv_get(&v, "vms")->items[1];

		CHECK(!strcmp(jv_get(a, "name")->str, "web \"3\"") &&
		      jv_get(a, "guest_bytes")->inum == 67108864 &&
		      jv_get(a, "thp_percent")->num == 50 && jv_get(a, "main_node")->inum == 1 &&
		      jv_get(a, "reclaimed_bytes")->type == JV_NULL &&
		      jv_get(b, "thp_percent")->type == JV_NULL &&
		      jv_get(b, "reclaimed_bytes")->inum == 12288 &&
		      jv_get(b, "resident_bytes")->inum == 4096 &&
		      !strcmp(jv_get(b, "name")->str, "fc_vcpu"), "tool_list_json_values", "%s",
		      r.out);
	} else {
		CHECK(0, "tool_list_json_values", "%s", r.out);
	}
	jv_free(&v);

	RUN(&r, "--json", "show", "web \"3\"");
	CHECK(r.rc == 0 && !jv_parse(r.out, strlen(r.out), &v, err, sizeof(err)),
	      "tool_show_json_valid", "%s: %s %s", err, r.out, r.err);
	CHECK(jv_get(&v, "dirty_logging") && jv_get(&v, "dirty_logging")->b &&
	      jv_get(jv_get(&v, "stat"), "scan_thp_bytes")->inum == 4194304 &&
	      !strcmp(jv_get(jv_get(&v, "thp"), "mode")->str, "inherit") &&
	      jv_get(&v, "memslots")->n == 2 &&
	      jv_get(&jv_get(&v, "memslots")->items[0], "thp_bytes")->inum == 4194304 &&
	      jv_get(&v, "off_node_percent")->num == 25, "tool_show_json_values", "%s", r.out);
	jv_free(&v);
	RUN(&r, "show", "77");
	CHECK(r.rc == 0 && strstr(r.out, "future_key") && strstr(r.out, "dirty logging: off") &&
	      strstr(r.out, "thp policy: -"), "tool_show_old_and_new_module_files", "%s %s",
	      r.out, r.err);
	RUN(&r, "show", "4242-1");
	CHECK(r.rc == 0 && strstr(r.out, "dirty logging: on (live migration in progress?)") &&
	      strstr(r.out, "[inherit] never") && strstr(r.out, "off main node: 25.0%"),
	      "tool_show_text", "%s", r.out);
	RUN(&r, "show", "nosuchvm");
	CHECK(r.rc == KMT_EXIT_NOVM && strstr(r.err, "no VM"), "tool_unknown_vm_exit_5", "rc %d",
	      r.rc);

	RUN(&r, "host");
	CHECK(r.rc == 0 && strstr(r.out, "overcommit 0.06 (6%)") &&
	      strstr(r.out, "memslot_events_lost") &&
	      !strstr(r.out, "fragmentation"), "tool_host_no_fragmentation", "%s %s", r.out,
	      r.err);
	PUT("sys/host/fragmentation", "node 0 order 9 free 3 index 750\n");
	RUN(&r, "host", "--json");
	CHECK(r.rc == 0 && !jv_parse(r.out, strlen(r.out), &v, err, sizeof(err)) &&
	      jv_get(&v, "guest_bytes")->inum == 68157440 &&
	      jv_get(&v, "mem_total_bytes")->inum == 1073741824 &&
	      jv_get(&v, "fragmentation")->n == 1, "tool_host_json", "%s %s", err, r.out);
	jv_free(&v);

	RUN(&r, "export");
	CHECK(r.rc == 0 && kmt_prom_check(r.out, why, sizeof(why)) > 20, "tool_export_format", "%s",
	      why);
	CHECK(strstr(r.out, "kvmmemtune_vm_guest_bytes{vm=\"4242-1\",pid=\"4242\","
			    "name=\"web \\\"3\\\"\"} 67108864\n") &&
	      strstr(r.out, "# TYPE kvmmemtune_vm_reclaim_kswapd_bytes_total counter\n") &&
	      strstr(r.out, "# TYPE kvmmemtune_vm_future_key untyped\n") &&
	      strstr(r.out, "node=\"1\"} 6291456\n") &&
	      !strstr(r.out, "kvmmemtune_vm_scan_age_seconds{vm=\"77-2\""),
	      "tool_export_samples", "%s", r.out);

	RUN(&r, "get", "thp_default");
	CHECK(r.rc == 0 && !strcmp(r.out, "[inherit] never\n"), "tool_get_knob", "%s", r.out);
	RUN(&r, "get", "thp", "web \"3\"");
	CHECK(r.rc == 0 && !strcmp(r.out, "[inherit] never\n"), "tool_get_vm_thp", "%s", r.out);
	RUN(&r, "get", "thp", "77-2");
	CHECK(r.rc == KMT_EXIT_OLD, "tool_get_thp_absent_exit_6", "rc %d %s", r.rc, r.err);
	RUN(&r, "get", "compact_auto");
	CHECK(r.rc == KMT_EXIT_OLD && strstr(r.err, "too old"), "tool_future_knob_exit_6",
	      "rc %d %s", r.rc, r.err);
	RUN(&r, "get", "bogus");
	CHECK(r.rc == KMT_EXIT_USAGE && strstr(r.err, "thp_default"), "tool_unknown_knob_exit_1",
	      "rc %d %s", r.rc, r.err);
	RUN(&r, "get", "../version");
	CHECK(r.rc == KMT_EXIT_USAGE, "tool_knob_path_refused", "rc %d", r.rc);
	RUN(&r, "compact", "all");
	CHECK(r.rc == KMT_EXIT_OLD && strstr(r.err, "kernel module too old for this feature"),
	      "tool_compact_absent_exit_6", "rc %d %s", r.rc, r.err);
	RUN(&r, "compact", "x1");
	CHECK(r.rc == KMT_EXIT_USAGE, "tool_compact_bad_node", "rc %d", r.rc);

	RUN(&r, "frobnicate");
	CHECK(r.rc == KMT_EXIT_USAGE && strstr(r.err, "unknown command"), "tool_unknown_command",
	      "rc %d", r.rc);
	RUN(&r, "show");
	CHECK(r.rc == KMT_EXIT_USAGE && strstr(r.err, "usage: kvmmemtune show VM"),
	      "tool_missing_argument", "rc %d %s", r.rc, r.err);
	RUN(&r, "scan", "--json", "all");
	CHECK(r.rc == KMT_EXIT_USAGE, "tool_json_only_where_offered", "rc %d", r.rc);
	RUN(&r, "--help");
	CHECK(r.rc == 0 && strstr(r.out, "collapse VM") && strstr(r.out, "exit codes"),
	      "tool_help", "%s", r.out);
	RUN(&r, "help", "watch");
	CHECK(r.rc == 0 && strstr(r.out, "usage: kvmmemtune watch"), "tool_help_command", "%s",
	      r.out);
	RUN(&r, "export", "--help");
	CHECK(r.rc == 0 && strstr(r.out, "textfile"), "tool_command_dash_help", "%s", r.out);
	RUN(&r, "watch", "-n", "2", "-i", "0.1");
	CHECK(r.rc == 0 && strstr(r.out, "\033[H\033[2J") && strstr(r.out, "RES/s") &&
	      strstr(r.out, "+0B"), "tool_watch_count", "rc %d %s", r.rc, r.out);
	RUN(&r, "watch", "-i", "0");
	CHECK(r.rc == KMT_EXIT_USAGE, "tool_watch_bad_interval", "rc %d", r.rc);

	/* Ambiguous: two VMs of one process. */
	PUT("sys/vms/4242-5/pid", "4242\n");
	PUT("sys/vms/4242-5/comm", "qemu-system-x86\n");
	PUT("sys/vms/4242-5/stat", "guest_bytes 4096\n");
	PUT("sys/vms/4242-5/memslots", "");
	RUN(&r, "show", "4242");
	CHECK(r.rc == KMT_EXIT_NOVM && strstr(r.err, "4242-1 4242-5"), "tool_ambiguous_vm",
	      "rc %d %s", r.rc, r.err);
	RUN(&r, "show", "web \"3\"");
	CHECK(r.rc == KMT_EXIT_NOVM && strstr(r.err, "4242-1 4242-5"), "tool_ambiguous_name",
	      "rc %d %s", r.rc, r.err);
	RUN(&r, "show", "4242-5");
	CHECK(r.rc == 0, "tool_id_beats_ambiguity", "rc %d %s", r.rc, r.err);
}

int main(int argc, char **argv)
{
	char cmd[600];

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-kvmmemtune\n", argv[0]);
		return 2;
	}
	tool = realpath(argv[1], NULL);
	if (!tool) {
		perror(argv[1]);
		return 2;
	}
	test_numbers();
	test_stat();
	test_memslots();
	test_keywords();
	test_names();
	test_sizes();
	test_rows();
	test_json();
	test_binary();
	if (chdir("/") == 0 && tmp[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", tmp);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
