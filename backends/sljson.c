/*
 * sljson: see sljson.h.  A small state machine: the state says what may
 * come next (a value, a key, a comma or a closing bracket), the stack
 * says which container we are in.  Strings and numbers are checked
 * against the JSON grammar as they are scanned; escapes only when the
 * caller decodes them.
 */
#include "sljson.h"

#include <string.h>

enum {
	ST_VALUE,	 /* a value must come */
	ST_VALUE_OR_END, /* after '[' */
	ST_KEY_OR_END,	 /* after '{' */
	ST_KEY,		 /* after ',' in an object */
	ST_AFTER,	 /* after a value inside a container */
	ST_DONE,	 /* after the top-level value */
};

static int fail(struct slj *j, const char *why)
{
	j->error = why;
	j->state = -1;
	return SLJ_ERROR;
}

static void skip_ws(struct slj *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' ||
				 *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

void slj_init(struct slj *j, char *buf, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->start = buf;
	j->p = buf;
	j->end = buf + len;
	j->state = ST_VALUE;
}

/* The state after a complete value. */
static void value_done(struct slj *j)
{
	j->state = j->depth ? ST_AFTER : ST_DONE;
}

static int scan_string(struct slj *j)
{
	char *p = j->p + 1;

	j->escaped = false;
	j->tok = p;
	for (;;) {
		if (p >= j->end)
			return fail(j, "unterminated string");
		if (*p == '"')
			break;
		if (*p == '\\') {
			j->escaped = true;
			if (++p >= j->end)
				return fail(j, "unterminated string");
		} else if ((unsigned char)*p < 0x20) {
			return fail(j, "control character in string");
		}
		p++;
	}
	j->len = (size_t)(p - j->tok);
	j->p = p + 1;
	return 0;
}

static bool is_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

static char *digits(char *p, const char *end)
{
	while (is_digit(p, end))
		p++;
	return p;
}

static int scan_number(struct slj *j)
{
	char *p = j->p;

	j->tok = p;
	if (*p == '-')
		p++;
	if (!is_digit(p, j->end))
		return fail(j, "malformed number");
	p = *p == '0' ? p + 1 : digits(p, j->end);
	if (p < j->end && *p == '.') {
		if (!is_digit(++p, j->end))
			return fail(j, "malformed number");
		p = digits(p, j->end);
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, j->end))
			return fail(j, "malformed number");
		p = digits(p, j->end);
	}
	j->len = (size_t)(p - j->tok);
	j->p = p;
	return 0;
}

static int scan_word(struct slj *j, const char *w, int tok)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return fail(j, "unexpected character");
	j->tok = j->p;
	j->len = n;
	j->p += n;
	value_done(j);
	return tok;
}

static int push(struct slj *j, char c, int tok)
{
	if (j->depth >= SLJ_MAX_DEPTH)
		return fail(j, "nested too deeply");
	j->stack[j->depth++] = c;
	j->tok = j->p++;
	j->len = 1;
	j->state = c == '{' ? ST_KEY_OR_END : ST_VALUE_OR_END;
	return tok;
}

static int pop(struct slj *j, int tok)
{
	j->depth--;
	j->tok = j->p++;
	j->len = 1;
	value_done(j);
	return tok;
}

static int read_value(struct slj *j)
{
	switch (*j->p) {
	case '{':
		return push(j, '{', SLJ_OBJECT);
	case '[':
		return push(j, '[', SLJ_ARRAY);
	case '"':
		if (scan_string(j) < 0)
			return SLJ_ERROR;
		value_done(j);
		return SLJ_STRING;
	case 't':
		return scan_word(j, "true", SLJ_TRUE);
	case 'f':
		return scan_word(j, "false", SLJ_FALSE);
	case 'n':
		return scan_word(j, "null", SLJ_NULL);
	default:
		if (*j->p != '-' && !is_digit(j->p, j->end))
			return fail(j, "unexpected character");
		if (scan_number(j) < 0)
			return SLJ_ERROR;
		value_done(j);
		return SLJ_NUMBER;
	}
}

static int read_key(struct slj *j)
{
	if (*j->p != '"')
		return fail(j, "expected a member name");
	if (scan_string(j) < 0)
		return SLJ_ERROR;
	skip_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return fail(j, "expected ':'");
	j->p++;
	j->state = ST_VALUE;
	return SLJ_KEY;
}

/* After a value in a container: ',' or the matching close. */
static int read_after(struct slj *j)
{
	char open = j->stack[j->depth - 1];

	if (*j->p == ',') {
		j->p++;
		skip_ws(j);
		if (j->p >= j->end)
			return fail(j, "unexpected end");
		if (open == '{')
			return read_key(j);
		j->state = ST_VALUE;
		return read_value(j);
	}
	if (*j->p == '}' && open == '{')
		return pop(j, SLJ_OBJECT_END);
	if (*j->p == ']' && open == '[')
		return pop(j, SLJ_ARRAY_END);
	return fail(j, "expected ',' or a closing bracket");
}

int slj_next(struct slj *j)
{
	if (j->state < 0)
		return SLJ_ERROR;
	skip_ws(j);
	if (j->state == ST_DONE)
		return j->p == j->end ? SLJ_EOF
				      : fail(j, "text after the JSON value");
	if (j->p >= j->end)
		return fail(j, "unexpected end");

	switch (j->state) {
	case ST_VALUE_OR_END:
		if (*j->p == ']')
			return pop(j, SLJ_ARRAY_END);
		return read_value(j);
	case ST_KEY_OR_END:
		if (*j->p == '}')
			return pop(j, SLJ_OBJECT_END);
		return read_key(j);
	case ST_KEY:
		return read_key(j);
	case ST_AFTER:
		return read_after(j);
	default:
		return read_value(j);
	}
}

int slj_skip(struct slj *j, int tok, char **raw, size_t *rawlen)
{
	char *from = j->tok;
	int depth = j->depth;
	int t;

	if (tok == SLJ_STRING) {
		*raw = j->tok - 1;
		*rawlen = j->len + 2;
		return 0;
	}
	if (tok == SLJ_OBJECT || tok == SLJ_ARRAY) {
		do {
			t = slj_next(j);
			if (t == SLJ_ERROR)
				return SLJ_ERROR;
			if (t == SLJ_EOF)
				return fail(j, "unexpected end");
		} while (j->depth >= depth);
		*raw = from;
		*rawlen = (size_t)(j->p - from);
		return 0;
	}
	if (tok < SLJ_NUMBER)
		return fail(j, "not at a value");
	*raw = j->tok;
	*rawlen = j->len;
	return 0;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * One \u escape at s[i] ('u' already seen at s[i - 1]), with a following
 * low surrogate when it is a high one.  Returns the bytes consumed after
 * the 'u', or -1.
 */
static long unicode_escape(const char *s, size_t i, size_t len, unsigned *cp)
{
	unsigned lo;

	if (i + 4 > len || hex4(s + i, cp) < 0)
		return -1;
	if (*cp >= 0xdc00 && *cp <= 0xdfff) {
		*cp = 0xfffd;
		return 4;
	}
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 4;
	if (i + 10 <= len && s[i + 4] == '\\' && s[i + 5] == 'u' &&
	    hex4(s + i + 6, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
		return 10;
	}
	*cp = 0xfffd;
	return 4;
}

long slj_unescape(char *s, size_t len)
{
	static const char plain[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	size_t i = 0, o = 0;

	while (i < len) {
		const char *m;
		unsigned cp;
		long used;

		if (s[i] != '\\') {
			s[o++] = s[i++];
			continue;
		}
		if (++i >= len)
			return -1;
		if (s[i] == 'u') {
			used = unicode_escape(s, i + 1, len, &cp);
			if (used < 0)
				return -1;
			o += put_utf8(s + o, cp);
			i += 1 + (size_t)used;
			continue;
		}
		m = strchr(plain, s[i]);
		if (!m || s[i] == '\0' || (m - plain) % 2)
			return -1;
		s[o++] = m[1];
		i++;
	}
	return (long)o;
}

bool slj_is(const struct slj *j, const char *s)
{
	size_t n = strlen(s);

	return j->len == n && memcmp(j->tok, s, n) == 0;
}

size_t slj_offset(const struct slj *j)
{
	return (size_t)(j->p - j->start);
}
