/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A checker of the Prometheus text exposition format (version 0.0.4), line
 * by line, for the tests of `kvmmemtune export`:
 *   # HELP name text        at most once per name, before its samples
 *   # TYPE name type        once per name, before its samples; type is
 *                           counter, gauge, histogram, summary or untyped
 *   name{label="value",...} value [timestamp]    labels optional
 * A family's samples are contiguous, each sample's family has HELP and TYPE
 * before it, label values escape only \\, \" and \n, values are floats.
 * Used by the host-side unit tests and by test_tool in the guest.
 */
#ifndef KMT_PROM_H
#define KMT_PROM_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KMT_PROM_MAX 512

struct kmt_prom_family {
	char name[128];
	bool help, type, sampled;
};

static inline bool kmt_prom_name(const char **p, char *out, size_t size, bool colon)
{
	const char *s = *p;
	size_t n = 0;

	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
	      (colon && *s == ':')))
		return false;
	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
	       *s == '_' || (colon && *s == ':')) {
		if (n + 1 < size)
			out[n++] = *s;
		s++;
	}
	out[n] = '\0';
	*p = s;
	return true;
}

static inline bool kmt_prom_float(const char *s, size_t len)
{
	char buf[64], *end;

	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!strcmp(buf, "+Inf") || !strcmp(buf, "-Inf") || !strcmp(buf, "NaN"))
		return true;
	if (strspn(buf, "+-0123456789.eE") != len)
		return false;
	strtod(buf, &end);
	return *end == '\0';
}

static inline struct kmt_prom_family *kmt_prom_fam(struct kmt_prom_family *f, int *n,
						   const char *name)
{
	int i;

	for (i = 0; i < *n; i++)
		if (!strcmp(f[i].name, name))
			return &f[i];
	if (*n == KMT_PROM_MAX)
		return NULL;
	memset(&f[*n], 0, sizeof(f[0]));
	snprintf(f[*n].name, sizeof(f[0].name), "%s", name);
	return &f[(*n)++];
}

/*
 * kmt_prom_check() - check @text; returns the number of samples, or -1 with
 * the reason and the offending line in @why.
 */
static inline int kmt_prom_check(const char *text, char *why, size_t size)
{
	static struct kmt_prom_family fam[KMT_PROM_MAX];
	struct kmt_prom_family *f, *cur = NULL;
	const char *p = text, *nl;
	int nf = 0, samples = 0;
	char line[2048];

	for (; *p; p = nl + 1) {
		char name[128], lname[128];
		const char *q;

		nl = strchr(p, '\n');
		if (!nl) {
			snprintf(why, size, "last line without newline");
			return -1;
		}
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		q = line;
		if (!strncmp(q, "# HELP ", 7) || !strncmp(q, "# TYPE ", 7)) {
			bool help = q[2] == 'H';

			q += 7;
			if (!kmt_prom_name(&q, name, sizeof(name), true) || *q != ' ' ||
			    !(f = kmt_prom_fam(fam, &nf, name)))
				goto bad;
			q++;
			if (f->sampled || (help && f->help) || (!help && f->type))
				goto bad;
			if (!help && strcmp(q, "counter") && strcmp(q, "gauge") &&
			    strcmp(q, "histogram") && strcmp(q, "summary") && strcmp(q, "untyped"))
				goto bad;
			if (help)
				f->help = true;
			else
				f->type = true;
			continue;
		}
		if (q[0] == '#' || !q[0])
			continue;
		if (!kmt_prom_name(&q, name, sizeof(name), true))
			goto bad;
		f = kmt_prom_fam(fam, &nf, name);
		/* Samples of a family are contiguous and follow its HELP and TYPE. */
		if (!f || !f->help || !f->type || (f->sampled && f != cur))
			goto bad;
		f->sampled = true;
		cur = f;
		if (*q == '{') {
			q++;
			while (*q != '}') {
				if (!kmt_prom_name(&q, lname, sizeof(lname), false) ||
				    *q++ != '=' || *q++ != '"')
					goto bad;
				while (*q && *q != '"') {
					if (*q == '\\' && !strchr("\\\"n", q[1] ? q[1] : 'x'))
						goto bad;
					q += *q == '\\' ? 2 : 1;
				}
				if (*q++ != '"')
					goto bad;
				if (*q == ',')
					q++;
				else if (*q != '}')
					goto bad;
			}
			q++;
		}
		if (*q++ != ' ')
			goto bad;
		{
			const char *sp = strchr(q, ' ');
			size_t vl = sp ? (size_t)(sp - q) : strlen(q);

			if (!kmt_prom_float(q, vl))
				goto bad;
			if (sp && (!sp[1] || strspn(sp + 1, "-0123456789") != strlen(sp + 1)))
				goto bad;
		}
		samples++;
	}
	return samples;
bad:
	snprintf(why, size, "bad line: %.200s", line);
	return -1;
}

#endif /* KMT_PROM_H */
