/*
 * encode: see encode.h.
 *
 * Encoded words always use B (base64) over UTF-8 and always hold whole
 * characters: a reader that decodes word by word, as many do, never sees
 * half of an "ş".  A word of N raw bytes is 12 + 4 * ceil(N / 3) long,
 * so a full word carries at most 45 bytes.
 */
#include "encode.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORD_OVERHEAD 12 /* "=?UTF-8?B?" and "?=" */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Length of the well-formed character at @p, or 0 when it is not one. */
static size_t utf8_char_len(const unsigned char *p, size_t left)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
		return 0;
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* The code point of the well-formed character at @p of length @n. */
static uint32_t utf8_decode(const unsigned char *p, size_t n)
{
	static const unsigned char lead_mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	uint32_t cp = p[0] & lead_mask[n];

	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (p[i] & 0x3f);
	return cp;
}

bool encode_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_char_len(p + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

bool encode_is_plain_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* A copy of @text with control characters turned into spaces. */
static char *copy_without_controls(const char *text)
{
	char *copy = xstrdup(text);

	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return copy;
}

static int base64_append(struct strbuf *out, const unsigned char *p, size_t len)
{
	char quad[4];
	int rc = 0;

	for (size_t i = 0; i < len && rc == 0; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		quad[0] = b64_alphabet[(v >> 18) & 0x3f];
		quad[1] = b64_alphabet[(v >> 12) & 0x3f];
		quad[2] = i + 1 < len ? b64_alphabet[(v >> 6) & 0x3f] : '=';
		quad[3] = i + 2 < len ? b64_alphabet[v & 0x3f] : '=';
		rc = strbuf_add(out, quad, 4);
	}
	return rc;
}

/* Raw bytes that fit a word of at most @room characters. */
static size_t word_capacity(size_t room)
{
	if (room > ENCODE_WORD_MAX)
		room = ENCODE_WORD_MAX;
	if (room <= WORD_OVERHEAD)
		return 0;
	return (room - WORD_OVERHEAD) / 4 * 3;
}

/* Whole characters from @p that fit in @cap bytes. */
static size_t take_chars(const unsigned char *p, size_t left, size_t cap)
{
	size_t used = 0;

	while (used < left) {
		size_t n = utf8_char_len(p + used, left - used);

		if (used + n > cap)
			break;
		used += n;
	}
	return used;
}

/*
 * Appends valid UTF-8 @s as encoded words, the first starting at @col.
 * When not even one character fits on the current line, the words start
 * on a folded line.
 */
static int encode_words(struct strbuf *out, const char *s, size_t col)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;
	int rc = 0;

	if (len == 0)
		return 0;
	if (col >= ENCODE_LINE_MAX ||
	    word_capacity(ENCODE_LINE_MAX - col) < 4) {
		rc = strbuf_adds(out, "\r\n ");
		col = 1;
	}
	while (i < len && rc == 0) {
		size_t cap = word_capacity(ENCODE_LINE_MAX - col);
		size_t n = take_chars(p + i, len - i, cap);

		if (n == 0) {
			rc = strbuf_adds(out, "\r\n ");
			col = 1;
			continue;
		}
		rc = strbuf_adds(out, "=?UTF-8?B?");
		if (rc == 0)
			rc = base64_append(out, p + i, n);
		if (rc == 0)
			rc = strbuf_adds(out, "?=");
		col += WORD_OVERHEAD + (n + 2) / 3 * 4;
		i += n;
		if (i < len && rc == 0) {
			rc = strbuf_adds(out, "\r\n ");
			col = 1;
		}
	}
	return rc;
}

/*
 * Plain text can stay readable when it is printable ASCII, cannot be
 * mistaken for an encoded word, and has no word too long to fold.
 */
static bool can_stay_plain(const char *s)
{
	size_t run = 0;

	if (!encode_is_plain_ascii(s) || strstr(s, "=?"))
		return false;
	for (; *s; s++) {
		run = *s == ' ' ? 0 : run + 1;
		if (run > ENCODE_FOLD_AT - 2)
			return false;
	}
	return true;
}

/* Appends printable ASCII, folding before a word that would pass 78. */
static int fold_plain(struct strbuf *out, const char *s, size_t col)
{
	int rc = 0;

	while (rc == 0) {
		const char *sp = strchr(s, ' ');
		size_t n = sp ? (size_t)(sp - s) : strlen(s);

		rc = strbuf_add(out, s, n);
		col += n;
		if (!sp || rc < 0)
			break;
		s = sp + 1;
		n = strcspn(s, " ");
		if (n > 0 && col + 1 + n > ENCODE_FOLD_AT) {
			rc = strbuf_adds(out, "\r\n ");
			col = 1;
		} else {
			rc = strbuf_addc(out, ' ');
			col++;
		}
	}
	return rc;
}

int encode_header_text(struct strbuf *out, const char *text, size_t col)
{
	char *clean = copy_without_controls(text);
	int rc;

	if (!clean)
		return -ENOMEM;
	if (!encode_utf8_valid(clean, strlen(clean)))
		rc = -EILSEQ;
	else if (can_stay_plain(clean))
		rc = fold_plain(out, clean, col);
	else
		rc = encode_words(out, clean, col);
	free(clean);
	return rc;
}

/* RFC 5322 atext, plus the space between words of a phrase. */
static bool is_atom_text(const char *s)
{
	static const char extra[] = "!#$%&'*+-/=?^_`{|}~ ";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(extra, c)))
			return false;
	}
	return true;
}

static int quote_string(struct strbuf *out, const char *s)
{
	int rc = strbuf_addc(out, '"');

	for (; *s && rc == 0; s++) {
		if (*s == '"' || *s == '\\')
			rc = strbuf_addc(out, '\\');
		if (rc == 0)
			rc = strbuf_addc(out, *s);
	}
	if (rc == 0)
		rc = strbuf_addc(out, '"');
	return rc;
}

int encode_phrase(struct strbuf *out, const char *name, size_t col)
{
	char *clean = copy_without_controls(name);
	int rc;

	if (!clean)
		return -ENOMEM;
	if (!encode_utf8_valid(clean, strlen(clean)))
		rc = -EILSEQ;
	else if (!encode_is_plain_ascii(clean))
		rc = encode_words(out, clean, col);
	else if (is_atom_text(clean) && !strstr(clean, "=?"))
		rc = strbuf_adds(out, clean);
	else
		rc = quote_string(out, clean);
	free(clean);
	return rc;
}

/* ASCII stand-ins for the letters of Turkish and a few look-alikes. */
static char ascii_for(uint32_t cp)
{
	static const struct {
		uint32_t cp;
		char ascii;
	} map[] = {
	    {0xc7, 'C'},    {0xe7, 'c'},    {0x11e, 'G'},  {0x11f, 'g'},
	    {0x130, 'I'},   {0x131, 'i'},   {0xd6, 'O'},   {0xf6, 'o'},
	    {0x15e, 'S'},   {0x15f, 's'},   {0xdc, 'U'},   {0xfc, 'u'},
	    {0xc2, 'A'},    {0xe2, 'a'},    {0xce, 'I'},   {0xee, 'i'},
	    {0xdb, 'U'},    {0xfb, 'u'},    {0x2013, '-'}, {0x2014, '-'},
	    {0x2018, '\''}, {0x2019, '\''}, {0xa0, ' '},
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (map[i].cp == cp)
			return map[i].ascii;
	return '_';
}

int encode_ascii_fallback(struct strbuf *out, const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	size_t len = strlen(value), i = 0;
	int rc = 0;

	while (i < len && rc == 0) {
		size_t n = utf8_char_len(p + i, len - i);

		if (n == 0)
			return -EILSEQ;
		if (n == 1)
			rc = strbuf_addc(out, p[i] < 0x20 || p[i] == 0x7f
						  ? '_'
						  : (char)p[i]);
		else
			rc = strbuf_addc(out, ascii_for(utf8_decode(p + i, n)));
		i += n;
	}
	return rc;
}

/* RFC 2231 attribute-char: what may stand unescaped in a value. */
static bool is_attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$&+-.^_`|~", c));
}

/* Percent-encoded length of one character of @n bytes at @p. */
static size_t pct_len(const unsigned char *p, size_t n)
{
	return n == 1 && is_attr_char(p[0]) ? 1 : 3 * n;
}

static int pct_append(struct strbuf *out, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (is_attr_char(p[i])) {
			rc = strbuf_addc(out, (char)p[i]);
			continue;
		}
		rc = strbuf_addf(out, "%%%c%c", hex[p[i] >> 4],
				 hex[p[i] & 0x0f]);
	}
	return rc;
}

static size_t pct_total(const unsigned char *p, size_t len)
{
	size_t total = 0;

	for (size_t i = 0; i < len; i++)
		total += pct_len(p + i, 1);
	return total;
}

/* NAME*N*=[UTF-8'']... continuations, each line within ENCODE_FOLD_AT. */
static int param_continued(struct strbuf *out, const char *name,
			   const unsigned char *p, size_t len)
{
	size_t i = 0;
	int rc = 0;

	for (unsigned seg = 0; i < len && rc == 0; seg++) {
		size_t before = out->len, col, n;
		bool empty = true;

		rc = strbuf_addf(out, ";\r\n %s*%u*=%s", name, seg,
				 seg == 0 ? "UTF-8''" : "");
		col = out->len - before - 3; /* the line starts after CRLF */
		while (i < len && rc == 0) {
			n = utf8_char_len(p + i, len - i);
			/* one column stays free for the ';' that follows */
			if (!empty &&
			    col + pct_len(p + i, n) + 1 > ENCODE_FOLD_AT)
				break;
			rc = pct_append(out, p + i, n);
			col += pct_len(p + i, n);
			i += n;
			empty = false;
		}
	}
	return rc;
}

int encode_param(struct strbuf *out, const char *name, const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	size_t len = strlen(value);
	struct strbuf fallback = STRBUF_INIT;
	int rc;

	if (encode_is_plain_ascii(value)) {
		rc = strbuf_addf(out, ";\r\n %s=", name);
		return rc ? rc : quote_string(out, value);
	}
	if (!encode_utf8_valid(value, len))
		return -EILSEQ;
	/*
	 * The RFC 2231 form goes first: Python's email package, among
	 * others, takes the first of two spellings of one parameter.
	 */
	if (1 + strlen(name) + 9 + pct_total(p, len) + 1 <= ENCODE_FOLD_AT) {
		rc = strbuf_addf(out, ";\r\n %s*=UTF-8''", name);
		if (rc == 0)
			rc = pct_append(out, p, len);
	} else {
		rc = param_continued(out, name, p, len);
	}
	if (rc == 0)
		rc = encode_ascii_fallback(&fallback, value);
	if (rc == 0)
		rc = strbuf_addf(out, ";\r\n %s=", name);
	if (rc == 0)
		rc = quote_string(out, fallback.buf);
	strbuf_release(&fallback);
	return rc;
}
