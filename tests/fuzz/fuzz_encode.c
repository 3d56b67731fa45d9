/*
 * fuzz_encode: the mail header encoders of mail/encode.c over any text.
 * The first input byte picks the start column (0 to 77, where a header
 * name leaves it); the rest, up to a NUL,
 * is the text.  Each result is read back by a decoder written here:
 *
 *   encode_header_text  printable ASCII only, folded with CRLF SP, lines
 *                       within 76 columns (encoded words) or 78 (plain
 *                       text, unless one word cannot be folded); unfolded
 *                       and decoded it is the text with controls made
 *                       spaces; each encoded word holds whole characters
 *   encode_phrase       the same, or an atom run, or a quoted string
 *   encode_param        RFC 2231 pieces that decode to the text, each
 *                       line within 78 columns, then an ASCII fallback
 *   encode_utf8_valid   agrees with a second UTF-8 reader
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "fuzz.h"

#define HARD_LINE_MAX 998 /* RFC 5322 section 2.1.1 */

/* The text with control characters turned into spaces. */
static char *no_controls(const char *s)
{
	char *c = xstrdup(s);

	for (char *p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

static int b64_val(char ch)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch ? strchr(a, ch) : NULL;

	return p ? (int)(p - a) : -1;
}

/* Decodes one "=?UTF-8?B?...?=" word of @n bytes onto @out. */
static void decode_word(struct strbuf *out, const char *w, size_t n)
{
	size_t before = out->len, len;
	const char *b;

	FUZZ_CHECK(n <= ENCODE_WORD_MAX, "word of %zu: %.*s", n, (int)n, w);
	FUZZ_CHECK(n > 12 && !strncmp(w, "=?UTF-8?B?", 10) &&
		       !strncmp(w + n - 2, "?=", 2),
		   "not an encoded word: %.*s", (int)n, w);
	b = w + 10;
	len = n - 12;
	FUZZ_CHECK(len % 4 == 0, "base64 of %zu", len);
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		uint32_t x = 0;

		for (int k = 0; k < 4; k++) {
			v[k] = b64_val(b[i + k]);
			FUZZ_CHECK(v[k] >= 0 || (b[i + k] == '=' && k >= 2 &&
						 i + 4 == len),
				   "bad base64 in %.*s", (int)n, w);
			x = x << 6 | (uint32_t)(v[k] < 0 ? 0 : v[k]);
		}
		strbuf_addc(out, (char)(x >> 16));
		if (v[2] >= 0)
			strbuf_addc(out, (char)(x >> 8 & 0xff));
		if (v[3] >= 0)
			strbuf_addc(out, (char)(x & 0xff));
	}
	FUZZ_CHECK(fuzz_utf8_valid(out->buf + before, out->len - before),
		   "word %.*s splits a character", (int)n, w);
}

/* A line that cannot fold: one word, maybe with blanks around it. */
static bool one_word(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] == ' ')
		i++;
	while (i < n && s[i] != ' ')
		i++;
	while (i < n && s[i] == ' ')
		i++;
	return i == n;
}

/*
 * Checks the folding of @s (first line starting at @col): only printable
 * ASCII and CRLF SP; returns the unfolded text.
 */
static char *unfold(const char *s, size_t col, size_t limit, bool words)
{
	struct strbuf u = STRBUF_INIT;
	size_t linelen = col;
	const char *line = s;

	for (const char *p = s;; p++) {
		if (*p == '\r' || !*p) {
			size_t n = (size_t)(p - line);

			/* Blanks before a fold or the end cannot move. */
			for (; n > 1 && line[n - 1] == ' '; n--)
				linelen--;

			/* (An empty first line is the header name's.) */
			FUZZ_CHECK(!n || linelen <= limit ||
				       (!words && linelen <= HARD_LINE_MAX &&
					one_word(line, n)),
				   "line of %zu columns: %.*s", linelen, (int)n,
				   line);
			if (!*p)
				break;
			FUZZ_CHECK(p[1] == '\n' && p[2] == ' ',
				   "CR not in a fold: %s", s);
			p += 2;
			line = p;
			linelen = 1;
			strbuf_addc(&u, ' ');
			continue;
		}
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7f, "byte %#x in a header",
			   (unsigned char)*p);
		linelen++;
		strbuf_addc(&u, *p);
	}
	return strbuf_detach(&u);
}

/* Unfolded encoded words separated by blanks, decoded. */
static char *decode_words(const char *u)
{
	struct strbuf out = STRBUF_INIT;

	while (*u) {
		size_t n;

		u += strspn(u, " ");
		n = strcspn(u, " ");
		if (n)
			decode_word(&out, u, n);
		u += n;
	}
	strbuf_addc(&out, '\0');
	return strbuf_detach(&out);
}

static void check_header_text(const char *text, size_t col)
{
	struct strbuf out = STRBUF_INIT;
	char *clean = no_controls(text), *u, *back;
	bool words;
	int rc = encode_header_text(&out, text, col);

	FUZZ_CHECK(rc == 0 || rc == -EILSEQ, "rc %d", rc);
	FUZZ_CHECK((rc == 0) == fuzz_utf8_valid(clean, strlen(clean)),
		   "rc %d for %s UTF-8", rc, rc ? "valid" : "invalid");
	if (rc == 0) {
		words = out.buf && strstr(out.buf, "=?");
		u = unfold(out.buf ? out.buf : "", col,
			   words ? ENCODE_LINE_MAX : ENCODE_FOLD_AT, words);
		back = words ? decode_words(u) : xstrdup(u);
		FUZZ_CHECK(!strcmp(back, clean),
			   "header text '%s' reads "
			   "back as '%s'",
			   clean, back);
		free(back);
		free(u);
	}
	strbuf_release(&out);
	free(clean);
}

/* The content of a quoted string, checked to be one. */
static char *unquote(const char *s, size_t n)
{
	struct strbuf out = STRBUF_INIT;

	FUZZ_CHECK(n >= 2 && s[0] == '"' && s[n - 1] == '"',
		   "not a quoted string: %.*s", (int)n, s);
	for (size_t i = 1; i + 1 < n; i++) {
		if (s[i] == '\\') {
			FUZZ_CHECK(i + 2 < n, "lone backslash in %.*s", (int)n,
				   s);
			i++;
		} else {
			FUZZ_CHECK(s[i] != '"', "raw quote in %.*s", (int)n, s);
		}
		FUZZ_CHECK(s[i] >= 0x20 && s[i] < 0x7f, "byte %#x quoted",
			   (unsigned char)s[i]);
		strbuf_addc(&out, s[i]);
	}
	strbuf_addc(&out, '\0');
	return strbuf_detach(&out);
}

static void check_phrase(const char *text, size_t col)
{
	struct strbuf out = STRBUF_INIT;
	char *clean = no_controls(text), *u, *back;
	int rc = encode_phrase(&out, text, col);
	const char *o;

	FUZZ_CHECK(rc == 0 || rc == -EILSEQ, "rc %d", rc);
	if (rc) {
		FUZZ_CHECK(!fuzz_utf8_valid(clean, strlen(clean)),
			   "valid UTF-8 refused");
		goto out_free;
	}
	o = out.buf ? out.buf : "";
	if (o[0] == '"') {
		back = unquote(o, strlen(o));
	} else if (strstr(o, "=?")) {
		u = unfold(o, col, ENCODE_LINE_MAX, true);
		back = decode_words(u);
		free(u);
	} else {
		FUZZ_CHECK(strspn(o, "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				     "!#$%&'*+-/=?^_`{|}~ ") == strlen(o),
			   "not atoms: %s", o);
		back = xstrdup(o);
	}
	FUZZ_CHECK(!strcmp(back, clean), "phrase '%s' reads back as '%s'",
		   clean, back);
	free(back);
out_free:
	strbuf_release(&out);
	free(clean);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes an RFC 2231 value piece onto @out. */
static void pct_decode(struct strbuf *out, const char *s, size_t n)
{
	size_t before = out->len;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			FUZZ_CHECK(i + 2 < n && hexval(s[i + 1]) >= 0 &&
				       hexval(s[i + 2]) >= 0,
				   "bad escape in %.*s", (int)n, s);
			strbuf_addc(out, (char)(hexval(s[i + 1]) * 16 +
						hexval(s[i + 2])));
			i += 2;
			continue;
		}
		FUZZ_CHECK(s[i] > 0x20 && s[i] < 0x7f &&
			       !strchr("*'%()<>@,;:\\\"/[]?=", s[i]),
			   "byte %#x not an attribute-char",
			   (unsigned char)s[i]);
		strbuf_addc(out, s[i]);
	}
	FUZZ_CHECK(fuzz_utf8_valid(out->buf + before, out->len - before),
		   "piece %.*s splits a character", (int)n, s);
}

/* One ";\r\n NAME..." piece: its text up to the next one. */
static size_t piece_len(const char *s)
{
	const char *next = strstr(s, ";\r\n ");

	return next ? (size_t)(next - s) : strlen(s);
}

static void check_param(const char *name, const char *value)
{
	struct strbuf out = STRBUF_INIT, back = STRBUF_INIT;
	struct strbuf fb = STRBUF_INIT;
	size_t nlen = strlen(name);
	int rc = encode_param(&out, name, value);
	const char *s = out.buf;
	char *q;
	unsigned seg = 0;

	FUZZ_CHECK(rc == 0 || rc == -EILSEQ, "rc %d", rc);
	FUZZ_CHECK((rc == 0) == fuzz_utf8_valid(value, strlen(value)),
		   "encode_param rc %d", rc);
	if (rc)
		goto out_free;
	while (s && *s) {
		size_t n, hl;
		const char *v;
		char head[64];

		FUZZ_CHECK(!strncmp(s, ";\r\n ", 4), "piece: %s", s);
		s += 4;
		n = piece_len(s);
		if (!strncmp(s, name, nlen) && s[nlen] == '=') {
			q = unquote(s + nlen + 1, n - nlen - 1);
			FUZZ_CHECK(!s[n], "fallback is not last");
			if (!seg)
				FUZZ_CHECK(!strcmp(q, value),
					   "plain '%s' for '%s'", q, value);
			else if (encode_ascii_fallback(&fb, value) == 0)
				FUZZ_CHECK(!strcmp(q, fb.buf ? fb.buf : ""),
					   "fallback '%s' for '%s'", q, value);
			free(q);
			s += n;
			continue;
		}
		if (seg == 0 && s[nlen] == '*' && s[nlen + 1] == '=')
			snprintf(head, sizeof(head), "%s*=UTF-8''", name);
		else
			snprintf(head, sizeof(head), "%s*%u*=%s", name, seg,
				 seg ? "" : "UTF-8''");
		hl = strlen(head);
		FUZZ_CHECK(!strncmp(s, head, hl), "piece %u: %.*s", seg, (int)n,
			   s);
		/* The line: SP, the piece, and the ';' of the next. */
		FUZZ_CHECK(1 + n + 1 <= ENCODE_FOLD_AT, "piece of %zu: %.*s", n,
			   (int)n, s);
		v = s + hl;
		pct_decode(&back, v, n - hl);
		seg++;
		s += n;
	}
	if (seg) {
		strbuf_addc(&back, '\0');
		FUZZ_CHECK(!strcmp(back.buf, value), "'%s' reads back as '%s'",
			   value, back.buf);
	}
out_free:
	strbuf_release(&out);
	strbuf_release(&back);
	strbuf_release(&fb);
}

static void check_fallback(const char *value)
{
	struct strbuf out = STRBUF_INIT;
	int rc = encode_ascii_fallback(&out, value);
	size_t chars = 0;

	FUZZ_CHECK((rc == 0) == fuzz_utf8_valid(value, strlen(value)),
		   "fallback rc %d", rc);
	if (rc == 0) {
		for (const char *p = value; *p; p++)
			chars += ((unsigned char)*p & 0xc0) != 0x80;
		FUZZ_CHECK(out.len == chars, "%zu ASCII for %zu characters",
			   out.len, chars);
		for (size_t i = 0; i < out.len; i++)
			FUZZ_CHECK(out.buf[i] >= 0x20 && out.buf[i] < 0x7f,
				   "byte %#x in the fallback",
				   (unsigned char)out.buf[i]);
	}
	strbuf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t col = size ? data[0] % 78 : 9; /* after "Header-Name: " */
	char *text = fuzz_strndup(size ? data + 1 : data, size ? size - 1 : 0);
	size_t len = strlen(text);

	FUZZ_CHECK(encode_utf8_valid(text, len) == fuzz_utf8_valid(text, len),
		   "encode_utf8_valid disagrees");
	check_header_text(text, col);
	check_phrase(text, col);
	check_param("filename", text);
	check_fallback(text);
	free(text);
	return 0;
}
