/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A strict JSON (RFC 8259) parser for the tests: recursive descent into a
 * small tree. Anything RFC 8259 does not allow is an error: trailing commas,
 * leading zeros, bare control characters in strings, invalid UTF-8, lone
 * surrogates, duplicate object keys (the tool promises stable, unique keys),
 * and anything but whitespace after the value. Used by the host-side unit
 * tests of the tool and by test_tool in the guest.
 */
#ifndef KMT_JSON_H
#define KMT_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

struct jv {
	enum jv_type type;
	bool b;
	double num;
	bool is_int;		/* an integer that fits long long: inum exact */
	long long inum;
	char *str;		/* JV_STR, UTF-8, NUL-terminated */
	int n;			/* JV_ARR, JV_OBJ: members */
	char **keys;		/* JV_OBJ */
	struct jv *items;
};

struct jv_parser {
	const char *p, *end;
	const char *err;
	int depth;
};

static inline void jv_free(struct jv *v)
{
	int i;

	for (i = 0; i < v->n; i++) {
		jv_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

static inline void jv_ws(struct jv_parser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' ||
				   *jp->p == '\r'))
		jp->p++;
}

static inline int jv_fail(struct jv_parser *jp, const char *why)
{
	if (!jp->err)
		jp->err = why;
	return -1;
}

static inline int jv_hex4(struct jv_parser *jp, unsigned int *u)
{
	int i;

	*u = 0;
	if (jp->end - jp->p < 4)
		return jv_fail(jp, "short \\u escape");
	for (i = 0; i < 4; i++) {
		char c = *jp->p++;

		*u <<= 4;
		if (c >= '0' && c <= '9')
			*u |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*u |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*u |= c - 'A' + 10;
		else
			return jv_fail(jp, "bad \\u escape");
	}
	return 0;
}

static inline void jv_put_utf8(char *out, size_t *o, unsigned int c)
{
	if (c < 0x80) {
		out[(*o)++] = c;
	} else if (c < 0x800) {
		out[(*o)++] = 0xc0 | c >> 6;
		out[(*o)++] = 0x80 | (c & 0x3f);
	} else if (c < 0x10000) {
		out[(*o)++] = 0xe0 | c >> 12;
		out[(*o)++] = 0x80 | ((c >> 6) & 0x3f);
		out[(*o)++] = 0x80 | (c & 0x3f);
	} else {
		out[(*o)++] = 0xf0 | c >> 18;
		out[(*o)++] = 0x80 | ((c >> 12) & 0x3f);
		out[(*o)++] = 0x80 | ((c >> 6) & 0x3f);
		out[(*o)++] = 0x80 | (c & 0x3f);
	}
}

/* A valid UTF-8 sequence starting at p: its length, or 0. */
static inline int jv_utf8(const unsigned char *s, long left)
{
	unsigned int c;
	int n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
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

static inline int jv_string(struct jv_parser *jp, char **out)
{
	static const char esc[] = "\"\\/bfnrt", unesc[] = "\"\\/\b\f\n\r\t";
	size_t o = 0;
	char *s;

	if (jp->p >= jp->end || *jp->p != '"')
		return jv_fail(jp, "expected string");
	jp->p++;
	s = malloc(4 * (jp->end - jp->p) + 1);
	if (!s)
		return jv_fail(jp, "out of memory");
	while (jp->p < jp->end && *jp->p != '"') {
		unsigned char c = *jp->p;

		if (c < 0x20) {
			free(s);
			return jv_fail(jp, "control character in string");
		}
		if (c == '\\') {
			unsigned int u, lo;

			if (++jp->p >= jp->end)
				break;
			c = *jp->p++;
			if (c && strchr(esc, c)) {
				s[o++] = unesc[strchr(esc, c) - esc];
				continue;
			}
			if (c != 'u') {
				free(s);
				return jv_fail(jp, "bad escape");
			}
			if (jv_hex4(jp, &u)) {
				free(s);
				return -1;
			}
			if (u >= 0xdc00 && u <= 0xdfff) {
				free(s);
				return jv_fail(jp, "lone low surrogate");
			}
			if (u >= 0xd800 && u <= 0xdbff) {
				if (jp->end - jp->p < 2 || jp->p[0] != '\\' || jp->p[1] != 'u') {
					free(s);
					return jv_fail(jp, "lone high surrogate");
				}
				jp->p += 2;
				if (jv_hex4(jp, &lo) || lo < 0xdc00 || lo > 0xdfff) {
					free(s);
					return jv_fail(jp, "bad surrogate pair");
				}
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			}
			jv_put_utf8(s, &o, u);
			continue;
		}
		if (c >= 0x80) {
			int n = jv_utf8((const unsigned char *)jp->p, jp->end - jp->p);

			if (!n) {
				free(s);
				return jv_fail(jp, "invalid UTF-8");
			}
			memcpy(s + o, jp->p, n);
			o += n;
			jp->p += n;
			continue;
		}
		s[o++] = c;
		jp->p++;
	}
	if (jp->p >= jp->end) {
		free(s);
		return jv_fail(jp, "unterminated string");
	}
	jp->p++;
	s[o] = '\0';
	*out = s;
	return 0;
}

static inline int jv_number(struct jv_parser *jp, struct jv *v)
{
	const char *s = jp->p;
	char buf[64];

	if (jp->p < jp->end && *jp->p == '-')
		jp->p++;
	if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
		return jv_fail(jp, "bad number");
	if (*jp->p == '0') {
		jp->p++;
		if (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			return jv_fail(jp, "leading zero");
	} else {
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	v->is_int = true;
	if (jp->p < jp->end && *jp->p == '.') {
		v->is_int = false;
		jp->p++;
		if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
			return jv_fail(jp, "bad fraction");
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		v->is_int = false;
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
			return jv_fail(jp, "bad exponent");
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	if (jp->p - s >= (long)sizeof(buf))
		return jv_fail(jp, "number too long");
	memcpy(buf, s, jp->p - s);
	buf[jp->p - s] = '\0';
	v->type = JV_NUM;
	v->num = strtod(buf, NULL);
	if (v->is_int) {
		char *e;

		v->inum = strtoll(buf, &e, 10);
		v->is_int = v->num > -9.2e18 && v->num < 9.2e18;
	}
	return 0;
}

static inline int jv_value(struct jv_parser *jp, struct jv *v);

static inline int jv_add(struct jv *v, int *cap)
{
	if (v->n == *cap) {
		int nc = *cap ? 2 * *cap : 8;
		struct jv *ni = realloc(v->items, nc * sizeof(*ni));
		char **nk;

		if (!ni)
			return -1;
		v->items = ni;
		if (v->type == JV_OBJ) {
			nk = realloc(v->keys, nc * sizeof(*nk));
			if (!nk)
				return -1;
			v->keys = nk;
		}
		*cap = nc;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	return 0;
}

static inline int jv_container(struct jv_parser *jp, struct jv *v, char close)
{
	int cap = 0, i;

	v->type = close == '}' ? JV_OBJ : JV_ARR;
	jp->p++;
	if (++jp->depth > 64)
		return jv_fail(jp, "nested too deep");
	jv_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		jp->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;

		if (jv_add(v, &cap))
			return jv_fail(jp, "out of memory");
		if (v->type == JV_OBJ) {
			jv_ws(jp);
			if (jv_string(jp, &key))
				return -1;
			for (i = 0; i < v->n; i++) {
				if (!strcmp(v->keys[i], key)) {
					free(key);
					return jv_fail(jp, "duplicate key");
				}
			}
			jv_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':') {
				free(key);
				return jv_fail(jp, "expected ':'");
			}
			jp->p++;
			v->keys[v->n] = key;
		}
		v->n++;
		if (jv_value(jp, &v->items[v->n - 1]))
			return -1;
		jv_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			jp->depth--;
			return 0;
		}
		return jv_fail(jp, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static inline int jv_lit(struct jv_parser *jp, const char *lit)
{
	size_t l = strlen(lit);

	if ((size_t)(jp->end - jp->p) < l || memcmp(jp->p, lit, l))
		return jv_fail(jp, "bad literal");
	jp->p += l;
	return 0;
}

static inline int jv_value(struct jv_parser *jp, struct jv *v)
{
	jv_ws(jp);
	if (jp->p >= jp->end)
		return jv_fail(jp, "unexpected end");
	switch (*jp->p) {
	case '{':
		return jv_container(jp, v, '}');
	case '[':
		return jv_container(jp, v, ']');
	case '"':
		v->type = JV_STR;
		return jv_string(jp, &v->str);
	case 't':
		v->type = JV_BOOL;
		v->b = true;
		return jv_lit(jp, "true");
	case 'f':
		v->type = JV_BOOL;
		return jv_lit(jp, "false");
	case 'n':
		v->type = JV_NULL;
		return jv_lit(jp, "null");
	default:
		return jv_number(jp, v);
	}
}

/*
 * jv_parse() - parse all of @text (@len bytes) into @v. Returns 0, or -1
 * with a reason and the byte offset in @err.
 */
static inline int jv_parse(const char *text, size_t len, struct jv *v, char *err, size_t esize)
{
	struct jv_parser jp = { text, text + len, NULL, 0 };

	memset(v, 0, sizeof(*v));
	if (!jv_value(&jp, v)) {
		jv_ws(&jp);
		if (jp.p == jp.end)
			return 0;
		jv_fail(&jp, "trailing data");
	}
	snprintf(err, esize, "%s at byte %ld", jp.err, (long)(jp.p - text));
	jv_free(v);
	return -1;
}

/* Member @key of object @v, or NULL. */
static inline const struct jv *jv_get(const struct jv *v, const char *key)
{
	int i;

	if (!v || v->type != JV_OBJ)
		return NULL;
	for (i = 0; i < v->n; i++)
		if (!strcmp(v->keys[i], key))
			return &v->items[i];
	return NULL;
}

#endif /* KMT_JSON_H */
