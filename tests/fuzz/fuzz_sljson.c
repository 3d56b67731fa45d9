/*
 * fuzz_sljson: the Service Layer's JSON pull reader (backends/sljson.c)
 * over any bytes.  A small recursive validator written here says whether
 * the text is one JSON value (with sljson's own leniency: escapes are
 * checked only when a string is decoded, and 64 levels at most), and
 * the reader must agree, walking token by token and again skipping
 * values with slj_skip() as the driver does.  Every token lies inside
 * the buffer; a skipped value is itself one JSON value; slj_unescape()
 * agrees with a second decoder (surrogate pairs joined, a lone one
 * U+FFFD, a bad escape refused).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sljson.h"

/* ---- a second opinion ---- */

struct val {
	const char *p, *end;
};

static bool val_value(struct val *v, int depth);

static void val_ws(struct val *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\n' ||
				 *v->p == '\r' || *v->p == '\t'))
		v->p++;
}

static bool val_lit(struct val *v, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(v->end - v->p) < n || memcmp(v->p, w, n))
		return false;
	v->p += n;
	return true;
}

static bool val_string(struct val *v)
{
	for (v->p++; v->p < v->end; v->p++) {
		if (*v->p == '"') {
			v->p++;
			return true;
		}
		if ((unsigned char)*v->p < 0x20)
			return false;
		if (*v->p == '\\')
			v->p++;
	}
	return false;
}

static size_t val_digits(struct val *v)
{
	const char *s = v->p;

	while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
		v->p++;
	return (size_t)(v->p - s);
}

static bool val_number(struct val *v)
{
	const char *s;
	size_t d;

	if (*v->p == '-')
		v->p++;
	s = v->p;
	d = val_digits(v);
	if (!d || (d > 1 && *s == '0'))
		return false;
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (!val_digits(v))
			return false;
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (!val_digits(v))
			return false;
	}
	return true;
}

/* Members or elements up to @close, each a value (after a key). */
static bool val_container(struct val *v, int depth, char close)
{
	bool first = true;

	if (depth >= SLJ_MAX_DEPTH)
		return false;
	for (v->p++;; first = false) {
		val_ws(v);
		if (v->p >= v->end)
			return false;
		if (*v->p == close && first) {
			v->p++;
			return true;
		}
		if (close == '}') {
			if (*v->p != '"' || !val_string(v))
				return false;
			val_ws(v);
			if (v->p >= v->end || *v->p++ != ':')
				return false;
		}
		if (!val_value(v, depth + 1))
			return false;
		val_ws(v);
		if (v->p >= v->end)
			return false;
		if (*v->p == close) {
			v->p++;
			return true;
		}
		if (*v->p++ != ',')
			return false;
	}
}

static bool val_value(struct val *v, int depth)
{
	val_ws(v);
	if (v->p >= v->end)
		return false;
	switch (*v->p) {
	case '{':
		return val_container(v, depth, '}');
	case '[':
		return val_container(v, depth, ']');
	case '"':
		return val_string(v);
	case 't':
		return val_lit(v, "true");
	case 'f':
		return val_lit(v, "false");
	case 'n':
		return val_lit(v, "null");
	default:
		return (*v->p == '-' || (*v->p >= '0' && *v->p <= '9')) &&
		       val_number(v);
	}
}

static bool json_valid(const char *p, size_t n)
{
	struct val v = {p, p + n};

	if (!val_value(&v, 0))
		return false;
	val_ws(&v);
	return v.p == v.end;
}

/* ---- a second decoder ---- */

static int hex4(const char *s, size_t left, unsigned *cp)
{
	*cp = 0;
	if (left < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			return -1;
		*cp = *cp << 4 | (unsigned)d;
	}
	return 0;
}

static void put_cp(struct strbuf *o, unsigned cp)
{
	if (cp < 0x80) {
		strbuf_addc(o, (char)cp);
	} else if (cp < 0x800) {
		strbuf_addc(o, (char)(0xc0 | cp >> 6));
		strbuf_addc(o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		strbuf_addc(o, (char)(0xe0 | cp >> 12));
		strbuf_addc(o, (char)(0x80 | (cp >> 6 & 0x3f)));
		strbuf_addc(o, (char)(0x80 | (cp & 0x3f)));
	} else {
		strbuf_addc(o, (char)(0xf0 | cp >> 18));
		strbuf_addc(o, (char)(0x80 | (cp >> 12 & 0x3f)));
		strbuf_addc(o, (char)(0x80 | (cp >> 6 & 0x3f)));
		strbuf_addc(o, (char)(0x80 | (cp & 0x3f)));
	}
}

/* Decodes @n bytes of a raw string; false for a bad escape. */
static bool unescape2(const char *s, size_t n, struct strbuf *o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

	for (size_t i = 0; i < n; i++) {
		const char *m;
		unsigned cp, lo;

		if (s[i] != '\\') {
			strbuf_addc(o, s[i]);
			continue;
		}
		if (++i >= n)
			return false;
		if (s[i] != 'u') {
			m = s[i] ? strchr(from, s[i]) : NULL;
			if (!m)
				return false;
			strbuf_addc(o, to[m - from]);
			continue;
		}
		if (hex4(s + i + 1, n - i - 1, &cp) < 0)
			return false;
		i += 4;
		if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n &&
		    s[i + 1] == '\\' && s[i + 2] == 'u' &&
		    hex4(s + i + 3, n - i - 3, &lo) == 0 && lo >= 0xdc00 &&
		    lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		} else if (cp >= 0xd800 && cp < 0xe000) {
			cp = 0xfffd;
		}
		put_cp(o, cp);
	}
	return true;
}

/* ---- the reader ---- */

static void check_token(const struct slj *j, int t, const char *buf,
			size_t size)
{
	struct strbuf want = STRBUF_INIT;
	char *copy;
	long n;
	bool ok;

	FUZZ_CHECK(j->tok >= buf && j->tok + j->len <= buf + size,
		   "token outside the buffer");
	FUZZ_CHECK(j->p >= buf && j->p <= buf + size, "reader outside");
	if (t != SLJ_KEY && t != SLJ_STRING)
		return;
	FUZZ_CHECK(j->tok > buf && j->tok[-1] == '"' && j->tok[j->len] == '"',
		   "string not between quotes");
	FUZZ_CHECK(j->escaped == (memchr(j->tok, '\\', j->len) != NULL),
		   "escaped flag");
	copy = fuzz_strndup((const uint8_t *)j->tok, j->len);
	n = slj_unescape(copy, j->len);
	ok = unescape2(j->tok, j->len, &want);
	FUZZ_CHECK((n >= 0) == ok, "slj_unescape %ld, second decoder %d", n,
		   ok);
	if (ok)
		FUZZ_CHECK((size_t)n == want.len &&
			       (!n || !memcmp(copy, want.buf, want.len)),
			   "slj_unescape gives other bytes for '%.*s'",
			   (int)j->len, j->tok);
	strbuf_release(&want);
	free(copy);
}

/* Reads all tokens; true when the text ended well. */
static bool walk(char *buf, size_t size)
{
	struct slj j;
	int t;

	slj_init(&j, buf, size);
	while ((t = slj_next(&j)) > 0) {
		check_token(&j, t, buf, size);
		FUZZ_CHECK(j.depth >= 0 && j.depth <= SLJ_MAX_DEPTH, "depth");
	}
	FUZZ_CHECK(t == SLJ_EOF || (t == SLJ_ERROR && j.error),
		   "end %d without a reason", t);
	FUZZ_CHECK(slj_next(&j) == t, "the end is not sticky");
	return t == SLJ_EOF;
}

/* Reads again, skipping every other value as the driver does. */
static bool walk_skipping(char *buf, size_t size)
{
	struct slj j;
	int t;
	unsigned k = 0;

	slj_init(&j, buf, size);
	while ((t = slj_next(&j)) > 0) {
		char *raw;
		size_t rawlen;

		if (t == SLJ_KEY || t == SLJ_OBJECT_END || t == SLJ_ARRAY_END ||
		    ++k % 2)
			continue;
		if (slj_skip(&j, t, &raw, &rawlen) != 0)
			return false;
		FUZZ_CHECK(raw >= buf && raw + rawlen <= buf + size,
			   "skipped value outside the buffer");
		FUZZ_CHECK(json_valid(raw, rawlen),
			   "skipped '%.*s' is not one value", (int)rawlen, raw);
	}
	return t == SLJ_EOF;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_strndup(data, size);
	bool valid = json_valid(buf, size), read;

	read = walk(buf, size);
	FUZZ_CHECK(read == valid, "sljson %s, validator %s",
		   read ? "accepts" : "refuses", valid ? "accepts" : "refuses");
	FUZZ_CHECK(walk_skipping(buf, size) == valid, "skipping changes it");
	free(buf);
	return 0;
}
