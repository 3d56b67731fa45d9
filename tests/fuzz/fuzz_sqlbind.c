/*
 * fuzz_sqlbind: sql_bind_rewrite() over any SQL text, in both marker
 * styles.  Checks: on success the output is the input with each
 * placeholder ":name" replaced by its marker and nothing else changed
 * (read back by walking both texts), names are well formed, "$n" names
 * are distinct and numbered in order, and both styles see the same
 * placeholders; on failure there is a reason.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "report.h"

struct bind {
	int rc;
	char *out;
	char **names;
	size_t n;
	char err[256];
};

static void bind_run(struct bind *b, const char *sql, enum sql_marker style)
{
	b->err[0] = '\0';
	b->rc = sql_bind_rewrite(sql, style, &b->out, &b->names, &b->n, b->err,
				 sizeof(b->err));
	FUZZ_CHECK(b->rc == 0 || b->rc == -1, "rc %d", b->rc);
	FUZZ_CHECK(b->rc == 0 || (b->err[0] && !b->out && !b->n),
		   "failure without a reason, or with output");
	for (size_t i = 0; i < b->n; i++) {
		const char *s = b->names[i];

		FUZZ_CHECK(isalpha((unsigned char)s[0]) || s[0] == '_',
			   "name '%s'", s);
		for (; *s; s++)
			FUZZ_CHECK(isalnum((unsigned char)*s) || *s == '_',
				   "name '%s'", b->names[i]);
	}
}

static void bind_free(struct bind *b)
{
	free(b->out);
	report_names_free(b->names, b->n);
}

/*
 * Walks input and output together: where they differ, the input must
 * hold ":NAME" and the output the marker of NAME.  Returns how many
 * markers were seen, in *seen the names in order.
 */
static size_t read_back(const char *in, const struct bind *b,
			enum sql_marker style, const char **seen, size_t max)
{
	const char *o = b->out;
	size_t k = 0;

	while (*in || *o) {
		const char *name;
		size_t nlen, num;
		char *end;

		/* A marker never equals the ':' it replaces. */
		if (*in == *o) {
			in++;
			o++;
			continue;
		}
		FUZZ_CHECK(*in == ':', "output differs from the input at '%s'",
			   in);
		if (style == SQL_QMARK) {
			FUZZ_CHECK(*o == '?', "no '?' for '%s'", in);
			FUZZ_CHECK(k < b->n, "more markers than names");
			name = b->names[k];
			o++;
		} else {
			FUZZ_CHECK(*o == '$', "no '$n' for '%s'", in);
			num = strtoul(o + 1, &end, 10);
			FUZZ_CHECK(num >= 1 && num <= b->n, "$%zu of %zu", num,
				   b->n);
			name = b->names[num - 1];
			o = end;
		}
		nlen = strlen(name);
		FUZZ_CHECK(!strncmp(in + 1, name, nlen) &&
			       !isalnum((unsigned char)in[1 + nlen]) &&
			       in[1 + nlen] != '_',
			   "marker for '%s' stands where the input has '%.20s'",
			   name, in);
		if (k < max)
			seen[k] = name;
		k++;
		in += 1 + nlen;
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sql = fuzz_strndup(data, size);
	struct bind q = {0}, d = {0};
	const char *qseen[256], *dseen[256];
	size_t nq = 0, nd = 0;

	bind_run(&q, sql, SQL_QMARK);
	bind_run(&d, sql, SQL_DOLLAR);
	if (q.rc == 0) {
		nq = read_back(sql, &q, SQL_QMARK, qseen, ARRAY_SIZE(qseen));
		FUZZ_CHECK(nq == q.n, "%zu '?' for %zu names", nq, q.n);
	}
	if (d.rc == 0) {
		nd = read_back(sql, &d, SQL_DOLLAR, dseen, ARRAY_SIZE(dseen));
		for (size_t i = 0; i < d.n; i++)
			for (size_t k = 0; k < i; k++)
				FUZZ_CHECK(strcmp(d.names[i], d.names[k]),
					   "name %s twice", d.names[i]);
	}
	if (q.rc == 0 && d.rc == 0) {
		FUZZ_CHECK(nq == nd, "%zu placeholders for '?', %zu for '$'",
			   nq, nd);
		for (size_t i = 0; i < nq && i < ARRAY_SIZE(qseen); i++)
			FUZZ_CHECK(!strcmp(qseen[i], dseen[i]),
				   "placeholder %zu: %s or %s", i, qseen[i],
				   dseen[i]);
	}
	bind_free(&q);
	bind_free(&d);
	free(sql);
	return 0;
}
