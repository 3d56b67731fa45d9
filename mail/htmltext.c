/*
 * htmltext: see htmltext.h.
 *
 * One pass over the HTML.  Text runs collapse their white space (except
 * inside <pre>); block tags end the line; a paragraph-like tag leaves
 * one blank line; never more than one blank line in a row.
 */
#include "htmltext.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct conv {
	struct strbuf out; /* LF line ends while building */
	bool space;	   /* a space is owed before the next word */
	int newlines;	   /* line ends owed before the next word */
	int pre;	   /* depth of <pre> */
	bool row_start;	   /* no cell yet in this table row */
	int rc;
};

static const char *const skipped_tags[] = {"script", "style", "head", "title"};
static const char *const line_tags[] = {
    "br",      "div",	  "tr",	    "li",     "dt",  "dd",	"caption",
    "section", "article", "header", "footer", "nav", "address", "option"};
static const char *const para_tags[] = {
    "p",  "table", "ul",  "ol", "h1", "h2",	    "h3",  "h4",
    "h5", "h6",	   "pre", "hr", "dl", "blockquote", "form"};

static bool isalnum_ascii(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9');
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return true;
	return false;
}

static void emit(struct conv *c, const char *s, size_t n)
{
	if (c->rc)
		return;
	if (c->newlines && c->out.len) {
		for (int i = 0; i < c->newlines && c->rc == 0; i++)
			c->rc = strbuf_addc(&c->out, '\n');
	} else if (c->space && c->out.len &&
		   c->out.buf[c->out.len - 1] != '\n') {
		c->rc = strbuf_addc(&c->out, ' ');
	}
	c->newlines = 0;
	c->space = false;
	if (c->rc == 0)
		c->rc = strbuf_add(&c->out, s, n);
}

static void owe_newlines(struct conv *c, int n)
{
	if (c->newlines < n)
		c->newlines = n;
	c->space = false;
}

/* Appends code point @cp as UTF-8; invalid ones become U+FFFD. */
static void emit_code_point(struct conv *c, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	emit(c, b, n);
}

/* Decodes the entity at @p ('&'); returns the bytes it used, 0 if none. */
static size_t entity(struct conv *c, const char *p, const char *end)
{
	static const struct {
		const char *name;
		uint32_t cp;
	} named[] = {
	    {"amp", '&'},      {"lt", '<'},	  {"gt", '>'},
	    {"quot", '"'},     {"apos", '\''},	  {"nbsp", 0xa0},
	    {"ndash", 0x2013}, {"mdash", 0x2014}, {"hellip", 0x2026},
	    {"euro", 0x20ac},  {"copy", 0xa9},	  {"laquo", 0xab},
	    {"raquo", 0xbb},
	};
	const char *semi =
	    memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
	char name[12];
	size_t n;

	if (!semi)
		return 0;
	n = (size_t)(semi - p) - 1;
	if (n == 0 || n >= sizeof(name))
		return 0;
	memcpy(name, p + 1, n);
	name[n] = '\0';
	if (name[0] == '#') {
		char *stop;
		unsigned long cp = name[1] == 'x' || name[1] == 'X'
				       ? strtoul(name + 2, &stop, 16)
				       : strtoul(name + 1, &stop, 10);

		if (*stop)
			return 0;
		emit_code_point(c, (uint32_t)(cp > 0x10ffff ? 0 : cp));
		return n + 2;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strcmp(name, named[i].name) == 0) {
			emit_code_point(c, named[i].cp);
			return n + 2;
		}
	}
	return 0;
}

static void text(struct conv *c, const char *p, const char *end)
{
	while (p < end && c->rc == 0) {
		size_t used;

		if (*p == '&' && (used = entity(c, p, end)) > 0) {
			p += used;
		} else if (!c->pre && strchr(" \t\r\n\f", *p)) {
			c->space = true;
			p++;
		} else if (c->pre && *p == '\n') {
			c->newlines++;
			p++;
		} else if (*p == '\r') {
			p++;
		} else {
			emit(c, p, 1);
			p++;
		}
	}
}

/* Skips to after the closing tag of @name; returns where it stopped. */
static const char *skip_element(const char *p, const char *end,
				const char *name)
{
	size_t n = strlen(name);

	for (; p + n + 2 <= end; p++)
		if (p[0] == '<' && p[1] == '/' &&
		    strncasecmp(p + 2, name, n) == 0) {
			const char *gt = memchr(p, '>', (size_t)(end - p));

			return gt ? gt + 1 : end;
		}
	return end;
}

static void on_tag(struct conv *c, const char *name, bool closing)
{
	bool cell = !strcasecmp(name, "td") || !strcasecmp(name, "th");

	if (!strcasecmp(name, "pre"))
		c->pre += closing ? -1 : 1;
	if (c->pre < 0)
		c->pre = 0;
	if (in_list(name, para_tags, ARRAY_SIZE(para_tags)))
		owe_newlines(c, 2);
	else if (in_list(name, line_tags, ARRAY_SIZE(line_tags)))
		owe_newlines(c, 1);
	if (!strcasecmp(name, "tr"))
		c->row_start = true;
	if (cell && !closing) {
		c->space = false;
		if (!c->row_start && !c->newlines)
			emit(c, "\t", 1);
		c->row_start = false;
	}
	if (!strcasecmp(name, "li") && !closing)
		emit(c, "- ", 2);
}

/* Handles the markup at @p ('<'); returns where the text resumes. */
static const char *markup(struct conv *c, const char *p, const char *end)
{
	const char *gt, *q = p + 1;
	char name[16];
	size_t n = 0;
	bool closing;

	if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
		const char *close =
		    memmem(p + 4, (size_t)(end - p - 4), "-->", 3);

		return close ? close + 3 : end;
	}
	gt = memchr(p, '>', (size_t)(end - p));
	if (!gt)
		return end;
	closing = *q == '/';
	if (closing)
		q++;
	while (q < gt && n + 1 < sizeof(name) && isalnum_ascii(*q))
		name[n++] = *q++;
	name[n] = '\0';
	if (n == 0)
		return gt + 1;
	if (!closing && in_list(name, skipped_tags, ARRAY_SIZE(skipped_tags)))
		return skip_element(gt + 1, end, name);
	on_tag(c, name, closing);
	return gt + 1;
}

int htmltext_convert(struct strbuf *out, const char *html, size_t len)
{
	struct conv c = {.out = STRBUF_INIT, .row_start = true};
	const char *p = html, *end = html + len;
	int rc = 0;

	while (p < end && c.rc == 0) {
		const char *lt = memchr(p, '<', (size_t)(end - p));

		text(&c, p, lt ? lt : end);
		p = lt ? markup(&c, lt, end) : end;
	}
	if (c.rc == 0 && c.out.len)
		c.rc = strbuf_addc(&c.out, '\n');
	for (size_t i = 0; i < c.out.len && rc == 0; i++) {
		if (c.out.buf[i] == '\n')
			rc = strbuf_addc(out, '\r');
		if (rc == 0)
			rc = strbuf_addc(out, c.out.buf[i]);
	}
	strbuf_release(&c.out);
	return c.rc ? c.rc : rc;
}
