/*
 * fuzz_render: the CSV, JSON and HTML renderers given any table: column
 * types and names, a title, and cells of any bytes, NULL or not.  Each
 * file is read back here by a strict reader of its own:
 *
 *   CSV   RFC 4180 records (CRLF, quotes doubled); every field is its
 *         cell (invalid UTF-8 as U+FFFD, binary as hex, excel-tr's
 *         decimal comma), NULL an unquoted empty field, "" quoted
 *   JSON  one array of objects, keys distinct and in column order,
 *         values the cells (numbers as their exact text when JSON can
 *         hold them, binary as base64)
 *   HTML  every cell, header and title between its tags, with no raw
 *         '<', '>' or '"', '&' only starting our entities, decoding to
 *         the cell text
 *
 * Input: a flags byte (dialect, number locale, HTML row cap), a column
 * count, each column's type and name, the title, the source name, then
 * rows of cells, each a byte (0x80: NULL, else the length) and bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "render.h"

#define MAX_COLS 6
#define MAX_ROWS 40
#define HTML_HEAD "\n<div class=\"report\">\n<table>\n<thead><tr>"

struct table {
	enum csv_dialect csv;
	int tr;
	long cap;
	size_t ncols, nrows;
	struct col_desc cols[MAX_COLS];
	char *title, *source;
	struct cell cells[MAX_ROWS][MAX_COLS];
};

static char *take_str(struct fuzz_in *in, size_t max)
{
	size_t got;
	const uint8_t *p = fuzz_take(in, fuzz_byte(in) % (max + 1), &got);
	char *s = fuzz_strndup(p, got);

	return s;
}

static void table_read(struct table *t, const uint8_t *data, size_t size)
{
	static const long caps[] = {0, 1, 2, 5};
	struct fuzz_in in = {data, size};
	unsigned flags = fuzz_byte(&in);

	memset(t, 0, sizeof(*t));
	t->csv = flags & 1 ? CSV_EXCEL_TR : CSV_RFC4180;
	t->tr = !!(flags & 2);
	t->cap = caps[flags >> 2 & 3];
	t->ncols = fuzz_byte(&in) % (MAX_COLS + 1);
	for (size_t i = 0; i < t->ncols; i++) {
		t->cols[i].type = (enum col_type)(fuzz_byte(&in) % 9);
		t->cols[i].name = take_str(&in, 24);
		t->cols[i].scale = -1;
	}
	t->title = take_str(&in, 40);
	t->source = take_str(&in, 12);
	while (in.n && t->nrows < MAX_ROWS) {
		for (size_t i = 0; i < t->ncols; i++) {
			struct cell *c = &t->cells[t->nrows][i];
			unsigned h = fuzz_byte(&in);

			c->null = h & 0x80;
			c->p = (const char *)fuzz_take(&in, h & 0x7f, &c->len);
		}
		t->nrows++;
		if (!t->ncols)
			fuzz_byte(&in);
	}
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	free(t->title);
	free(t->source);
}

/* Renders @t in @fmt and returns the file's bytes. */
static char *render_file(const struct table *t, enum render_fmt fmt,
			 size_t *len)
{
	const char *path = fuzz_path(render_fmt_ext(fmt));
	struct render_meta m = {
	    .name = "fuzz",
	    .title = t->title,
	    .source = t->source,
	    .generated = 1733216400,
	    .timezone = "Europe/Istanbul",
	    .ncols = t->ncols,
	    .cols = t->cols,
	    .csv = t->csv,
	    .tr_numbers = t->tr,
	    .html_row_cap = t->cap,
	    .tmpdir = fuzz_dir(),
	};
	char err[256], *buf;
	struct render *r = render_open(fmt, path, &m, err, sizeof(err));

	FUZZ_CHECK(r, "render_open: %s", err);
	for (size_t i = 0; i < t->nrows; i++)
		FUZZ_CHECK(render_row(r, t->cells[i]) == 0, "render_row");
	FUZZ_CHECK(render_close(r, err, sizeof(err)) == 0, "close: %s", err);
	FUZZ_CHECK(file_read_all(path, &buf, len) == 0, "read %s", path);
	FUZZ_CHECK(fuzz_utf8_valid(buf, *len), "%s is not UTF-8",
		   render_fmt_ext(fmt));
	return buf;
}

/* Equal byte strings; either may be NULL when empty. */
static bool same(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && (!an || !memcmp(a, b, an));
}

/* ---- CSV ---- */

/* A CSV text being read: cells may hold NUL, so it has an end. */
struct csv_in {
	const char *p, *end;
	char sep;
};

static int csv_at(const struct csv_in *c, size_t k)
{
	return c->p + k < c->end ? (unsigned char)c->p[k] : -1;
}

/* One field into @f; sets *quoted; stops at the separator or CR. */
static void csv_field(struct csv_in *c, struct strbuf *f, bool *quoted)
{
	strbuf_reset(f);
	*quoted = csv_at(c, 0) == '"';
	if (*quoted) {
		for (c->p++;; c->p++) {
			FUZZ_CHECK(csv_at(c, 0) >= 0, "CSV: quote not closed");
			if (csv_at(c, 0) == '"' && csv_at(c, 1) != '"')
				break;
			if (csv_at(c, 0) == '"')
				c->p++;
			strbuf_addc(f, *c->p);
		}
		c->p++;
	} else {
		while (csv_at(c, 0) >= 0 && csv_at(c, 0) != c->sep &&
		       csv_at(c, 0) != '\r') {
			FUZZ_CHECK(*c->p != '"' && *c->p != '\n',
				   "CSV: raw %#x in an unquoted field", *c->p);
			strbuf_addc(f, *c->p++);
		}
		FUZZ_CHECK(!f->len || (f->buf[0] != ' ' && f->buf[0] != '\t' &&
				       f->buf[f->len - 1] != ' ' &&
				       f->buf[f->len - 1] != '\t'),
			   "CSV: blank at an end of unquoted '%s'", f->buf);
	}
	FUZZ_CHECK(csv_at(c, 0) == c->sep || csv_at(c, 0) == '\r',
		   "CSV: %#x after a field", csv_at(c, 0));
}

/* The text a cell should read back as in CSV. */
static void csv_expect(struct strbuf *e, const struct table *t,
		       enum col_type type, const struct cell *c)
{
	static const char hex[] = "0123456789abcdef";
	struct strbuf raw = STRBUF_INIT;

	for (size_t i = 0; i < c->len; i++) {
		unsigned char ch = (unsigned char)c->p[i];

		if (type == COL_BINARY) {
			strbuf_addc(&raw, hex[ch >> 4]);
			strbuf_addc(&raw, hex[ch & 15]);
		} else if (t->csv == CSV_EXCEL_TR && ch == '.' &&
			   (type == COL_DECIMAL || type == COL_FLOAT)) {
			strbuf_addc(&raw, ',');
		} else {
			strbuf_addc(&raw, (char)ch);
		}
	}
	fuzz_utf8_clean(e, raw.buf ? raw.buf : "", raw.len);
	strbuf_release(&raw);
}

static bool sb_same(const struct strbuf *a, const struct strbuf *b)
{
	return same(a->buf, a->len, b->buf, b->len);
}

/* Reads one record (row 0: the names) and compares it with the table. */
static void csv_record(struct csv_in *c, const struct table *t, size_t row)
{
	struct strbuf e = STRBUF_INIT, f = STRBUF_INIT;
	const struct cell *cell;
	bool quoted;

	for (size_t i = 0; i < t->ncols; i++) {
		if (i) {
			FUZZ_CHECK(csv_at(c, 0) == c->sep,
				   "CSV: row %zu has %zu fields", row, i);
			c->p++;
		}
		csv_field(c, &f, &quoted);
		strbuf_reset(&e);
		cell = row ? &t->cells[row - 1][i] : NULL;
		if (!cell)
			fuzz_utf8_clean(&e, t->cols[i].name,
					strlen(t->cols[i].name));
		else if (cell->null)
			FUZZ_CHECK(!quoted && !f.len, "CSV: NULL as '%s'",
				   f.buf);
		else
			csv_expect(&e, t, t->cols[i].type, cell);
		if (cell && !cell->null)
			FUZZ_CHECK(quoted || f.len, "CSV: \"\" unquoted");
		FUZZ_CHECK(sb_same(&e, &f),
			   "CSV: row %zu col %zu is '%s', "
			   "not '%s'",
			   row, i, f.buf, e.buf);
	}
	FUZZ_CHECK(csv_at(c, 0) == '\r' && csv_at(c, 1) == '\n',
		   "CSV: row %zu not ended", row);
	c->p += 2;
	strbuf_release(&e);
	strbuf_release(&f);
}

static void check_csv(const struct table *t)
{
	size_t len;
	char *buf = render_file(t, FMT_CSV, &len);
	struct csv_in c = {buf, buf + len, t->csv == CSV_EXCEL_TR ? ';' : ','};

	if (t->csv == CSV_EXCEL_TR) {
		FUZZ_CHECK(len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3),
			   "CSV: no BOM");
		c.p += 3;
	}
	for (size_t row = 0; row <= t->nrows; row++)
		csv_record(&c, t, row);
	FUZZ_CHECK(c.p == c.end, "CSV: text after the last row");
	free(buf);
}

/* ---- JSON ---- */

enum jtype { J_NULL, J_BOOL, J_NUMBER, J_STRING };

struct jval {
	enum jtype type;
	struct strbuf text;
};

static void ws(const char **s)
{
	while (**s == ' ' || **s == '\n' || **s == '\r' || **s == '\t')
		(*s)++;
}

static void expect_char(const char **s, char c)
{
	ws(s);
	FUZZ_CHECK(**s == c, "JSON: '%c' expected at '%.20s'", c, *s);
	(*s)++;
}

static unsigned json_hex4(const char *s)
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
			FUZZ_CHECK(0, "JSON: bad \\u escape");
	}
	return v;
}

/* A string at *s (at its quote); escapes are only those we write. */
static void json_string(const char **s, struct strbuf *out)
{
	const char *p = *s + 1;

	FUZZ_CHECK(**s == '"', "JSON: string expected at '%.20s'", *s);
	for (; *p != '"'; p++) {
		unsigned cp;

		FUZZ_CHECK(*p && (unsigned char)*p >= 0x20,
			   "JSON: raw %#x in a string", (unsigned char)*p);
		if (*p != '\\') {
			strbuf_addc(out, *p);
			continue;
		}
		p++;
		switch (*p) {
		case '"':
		case '\\':
		case '/':
			strbuf_addc(out, *p);
			break;
		case 'n':
			strbuf_addc(out, '\n');
			break;
		case 'r':
			strbuf_addc(out, '\r');
			break;
		case 't':
			strbuf_addc(out, '\t');
			break;
		case 'u':
			cp = json_hex4(p + 1);
			FUZZ_CHECK(cp < 0x80, "JSON: \\u%04x", cp);
			strbuf_addc(out, (char)cp);
			p += 4;
			break;
		default:
			FUZZ_CHECK(0, "JSON: escape \\%c", *p);
		}
	}
	*s = p + 1;
	strbuf_addc(out, '\0');
	out->len--;
}

static bool json_number_text(const char *p, size_t n)
{
	size_t i = 0, d;

	if (i < n && p[i] == '-')
		i++;
	for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; d++)
		i++;
	if (!d || (d > 1 && p[i - d] == '0'))
		return false;
	if (i < n && p[i] == '.') {
		for (d = 0, i++; i < n && p[i] >= '0' && p[i] <= '9'; d++)
			i++;
		if (!d)
			return false;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; d++)
			i++;
		if (!d)
			return false;
	}
	return i == n;
}

static void json_value(const char **s, struct jval *v)
{
	size_t n;

	ws(s);
	strbuf_reset(&v->text);
	if (**s == '"') {
		v->type = J_STRING;
		json_string(s, &v->text);
		return;
	}
	n = strcspn(*s, ",}] \r\n\t");
	strbuf_add(&v->text, *s, n);
	*s += n;
	if (!strcmp(v->text.buf ? v->text.buf : "", "null"))
		v->type = J_NULL;
	else if (!strcmp(v->text.buf, "true") || !strcmp(v->text.buf, "false"))
		v->type = J_BOOL;
	else if (json_number_text(v->text.buf, v->text.len))
		v->type = J_NUMBER;
	else
		FUZZ_CHECK(0, "JSON: bad value '%s'", v->text.buf);
}

static void b64_decode(struct strbuf *out, const char *s, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789+/";

	FUZZ_CHECK(n % 4 == 0, "JSON: base64 of %zu", n);
	for (size_t i = 0; i < n; i += 4) {
		uint32_t x = 0;
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			const char *c = s[i + k] ? strchr(a, s[i + k]) : NULL;

			if (s[i + k] == '=' && k >= 2 && i + 4 == n) {
				pad++;
				x <<= 6;
				continue;
			}
			FUZZ_CHECK(c && !pad, "JSON: bad base64");
			x = x << 6 | (uint32_t)(c - a);
		}
		strbuf_addc(out, (char)(x >> 16));
		if (pad < 2)
			strbuf_addc(out, (char)(x >> 8 & 0xff));
		if (pad < 1)
			strbuf_addc(out, (char)(x & 0xff));
	}
}

/* What json_put_timestamp promises: a 'T', and an offset with minutes. */
static void ts_expect(struct strbuf *e, const struct cell *c)
{
	char buf[80];
	size_t n = c->len, k;

	if (n < 19 || n > 60) {
		fuzz_utf8_clean(e, c->p, c->len);
		return;
	}
	memcpy(buf, c->p, n);
	if (buf[10] == ' ')
		buf[10] = 'T';
	for (k = 19; k < n && buf[k] != '+' && buf[k] != '-'; k++)
		;
	if (k + 3 == n) {
		memcpy(buf + n, ":00", 3);
		n += 3;
	} else if (k + 5 == n && buf[k + 3] != ':') {
		memmove(buf + k + 4, buf + k + 3, 2);
		buf[k + 3] = ':';
		n++;
	}
	fuzz_utf8_clean(e, buf, n);
}

static void json_cell(const struct table *t, size_t col, const struct cell *c,
		      const struct jval *v)
{
	enum col_type type = t->cols[col].type;
	struct strbuf e = STRBUF_INIT;
	bool literal = false;

	if (c->null) {
		FUZZ_CHECK(v->type == J_NULL, "JSON: NULL as '%s'",
			   v->text.buf);
		return;
	}
	if (col_type_numeric(type))
		literal = json_number_text(c->p, c->len);
	else if (type == COL_BOOL)
		literal = (c->len == 4 && !memcmp(c->p, "true", 4)) ||
			  (c->len == 5 && !memcmp(c->p, "false", 5));
	if (literal) {
		FUZZ_CHECK(v->type != J_STRING &&
			       same(v->text.buf, v->text.len, c->p, c->len),
			   "JSON: '%.*s' as '%s'", (int)c->len, c->p,
			   v->text.buf);
		return;
	}
	FUZZ_CHECK(v->type == J_STRING, "JSON: '%s' is not a string",
		   v->text.buf);
	if (type == COL_BINARY)
		b64_decode(&e, v->text.buf, v->text.len);
	else if (type == COL_TIMESTAMP)
		ts_expect(&e, c);
	else
		fuzz_utf8_clean(&e, c->p, c->len);
	if (type == COL_BINARY)
		FUZZ_CHECK(same(e.buf, e.len, c->p, c->len),
			   "JSON: binary reads back wrong");
	else
		FUZZ_CHECK(same(e.buf, e.len, v->text.buf, v->text.len),
			   "JSON: '%s' for '%.*s'", v->text.buf, (int)e.len,
			   e.buf);
	strbuf_release(&e);
}

/* Key @i is the column's name, or the name and "_N"; keys differ. */
static void json_key(const struct table *t, size_t i, char **keys)
{
	struct strbuf e = STRBUF_INIT;
	const char *k = keys[i];

	fuzz_utf8_clean(&e, t->cols[i].name, strlen(t->cols[i].name));
	strbuf_addc(&e, '\0');
	FUZZ_CHECK(
	    !strncmp(k, e.buf, e.len - 1) &&
		(!k[e.len - 1] || (k[e.len - 1] == '_' && k[e.len] >= '2')),
	    "JSON: key '%s' for column '%s'", k, e.buf);
	for (size_t j = 0; j < i; j++)
		FUZZ_CHECK(strcmp(keys[j], k), "JSON: key '%s' twice", k);
	strbuf_release(&e);
}

static void json_row(const char **s, const struct table *t, size_t row,
		     char **keys)
{
	struct jval v = {0};
	struct strbuf key = STRBUF_INIT;

	expect_char(s, '{');
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			expect_char(s, ',');
		ws(s);
		strbuf_reset(&key);
		json_string(s, &key);
		if (row == 0) {
			keys[i] = xstrdup(key.buf ? key.buf : "");
			json_key(t, i, keys);
		} else {
			FUZZ_CHECK(!strcmp(keys[i], key.buf ? key.buf : ""),
				   "JSON: key '%s' in row %zu, '%s' in row 0",
				   key.buf, row, keys[i]);
		}
		expect_char(s, ':');
		json_value(s, &v);
		json_cell(t, i, &t->cells[row][i], &v);
	}
	expect_char(s, '}');
	strbuf_release(&v.text);
	strbuf_release(&key);
}

static void check_json(const struct table *t)
{
	size_t len;
	char *buf = render_file(t, FMT_JSON, &len);
	char *keys[MAX_COLS] = {0};
	const char *s = buf;

	FUZZ_CHECK(strlen(buf) == len, "JSON holds a NUL");
	expect_char(&s, '[');
	for (size_t row = 0; row < t->nrows; row++) {
		if (row)
			expect_char(&s, ',');
		json_row(&s, t, row, keys);
	}
	expect_char(&s, ']');
	ws(&s);
	FUZZ_CHECK(!*s, "JSON: text after the array");
	for (size_t i = 0; i < MAX_COLS; i++)
		free(keys[i]);
	free(buf);
}

/* ---- HTML ---- */

/* Decodes text between two tags, checking it is safe there. */
static void html_decode(struct strbuf *out, const char *s, size_t n)
{
	static const struct {
		const char *ent;
		char ch;
	} ents[] = {{"&amp;", '&'},
		    {"&lt;", '<'},
		    {"&gt;", '>'},
		    {"&quot;", '"'},
		    {"&#13;", '\r'}};

	for (size_t i = 0; i < n; i++) {
		bool found = false;

		FUZZ_CHECK(s[i] != '<' && s[i] != '>' && s[i] != '"' &&
			       s[i] != '\r',
			   "HTML: raw %#x in '%.*s'", s[i], (int)n, s);
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 || s[i] == '\t' ||
			       s[i] == '\n',
			   "HTML: control %#x", s[i]);
		if (s[i] != '&') {
			strbuf_addc(out, s[i]);
			continue;
		}
		for (size_t k = 0; k < ARRAY_SIZE(ents) && !found; k++) {
			size_t el = strlen(ents[k].ent);

			if (i + el <= n && !strncmp(s + i, ents[k].ent, el)) {
				strbuf_addc(out, ents[k].ch);
				i += el - 1;
				found = true;
			}
		}
		FUZZ_CHECK(found, "HTML: '&' starts no entity in '%.*s'",
			   (int)n, s);
	}
	strbuf_addc(out, '\0');
	out->len--;
}

/* What a text reads back as: UTF-8 cleaned, controls but TAB LF CR
 * shown as U+FFFD. */
static void html_expect(struct strbuf *e, const char *p, size_t n)
{
	struct strbuf c = STRBUF_INIT;

	fuzz_utf8_clean(&c, p, n);
	for (size_t i = 0; i < c.len; i++) {
		unsigned char ch = (unsigned char)c.buf[i];

		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') ||
		    ch == 0x7f)
			strbuf_adds(e, "\xef\xbf\xbd");
		else
			strbuf_addc(e, (char)ch);
	}
	strbuf_addc(e, '\0');
	e->len--;
	strbuf_release(&c);
}

/* The content between @open (at *s) and @close; moves *s past it. */
static void html_between(const char **s, const char *open, const char *close,
			 struct strbuf *text)
{
	const char *a = strstr(*s, open), *b;

	FUZZ_CHECK(a, "HTML: no %s", open);
	a += strlen(open);
	b = strstr(a, close);
	FUZZ_CHECK(b, "HTML: %s not closed", open);
	strbuf_reset(text);
	html_decode(text, a, (size_t)(b - a));
	*s = b + strlen(close);
}

static void html_same(const struct strbuf *got, const char *p, size_t n,
		      const char *what)
{
	struct strbuf e = STRBUF_INIT;

	html_expect(&e, p, n);
	FUZZ_CHECK(same(got->buf, got->len, e.buf, e.len),
		   "HTML: %s '%s', not '%s'", what, got->buf, e.buf);
	strbuf_release(&e);
}

/* A number cell: its text, or the number grouped the page's way. */
static void html_number(const struct table *t, const struct strbuf *got,
			const struct cell *c)
{
	char group = t->tr ? '.' : ',', point = t->tr ? ',' : '.';
	struct strbuf e = STRBUF_INIT, plain = STRBUF_INIT;

	html_expect(&e, c->p, c->len);
	if (same(got->buf, got->len, e.buf, e.len))
		goto out_free;
	for (size_t i = 0; i < got->len; i++)
		if (got->buf[i] != group)
			strbuf_addc(&plain,
				    got->buf[i] == point ? '.' : got->buf[i]);
	FUZZ_CHECK(same(plain.buf, plain.len, c->p, c->len),
		   "HTML: number '%.*s' shown as '%s'", (int)c->len, c->p,
		   got->buf);
out_free:
	strbuf_release(&e);
	strbuf_release(&plain);
}

static void html_cell(const struct table *t, size_t i, const struct cell *c,
		      const struct strbuf *got)
{
	static const char hex[] = "0123456789abcdef";
	enum col_type type = t->cols[i].type;

	if (c->null) {
		FUZZ_CHECK(!got->len, "HTML: NULL as '%s'", got->buf);
	} else if (col_type_numeric(type)) {
		html_number(t, got, c);
	} else if (type == COL_BINARY) {
		FUZZ_CHECK(got->len == 2 * c->len, "HTML: hex length");
		for (size_t k = 0; k < c->len; k++)
			FUZZ_CHECK(got->buf[2 * k] ==
					   hex[(c->p[k] >> 4) & 15] &&
				       got->buf[2 * k + 1] == hex[c->p[k] & 15],
				   "HTML: hex");
	} else {
		html_same(got, c->p, c->len, "cell");
	}
}

static void check_html(const struct table *t)
{
	struct strbuf text = STRBUF_INIT;
	size_t len, shown = t->nrows;
	char *buf = render_file(t, FMT_HTML, &len);
	const char *s = buf, *title = *t->title ? t->title : "fuzz";

	if (t->cap > 0 && shown > (size_t)t->cap)
		shown = (size_t)t->cap;
	html_between(&s, "<title>", "</title>", &text);
	html_same(&text, title, strlen(title), "title");
	html_between(&s, "<h1>", "</h1>", &text);
	html_same(&text, title, strlen(title), "h1");
	FUZZ_CHECK(!strncmp(s, HTML_HEAD, strlen(HTML_HEAD)),
		   "HTML: no table head after the title");
	s += strlen(HTML_HEAD);
	for (size_t i = 0; i < t->ncols; i++) {
		html_between(&s,
			     col_type_numeric(t->cols[i].type) ? "<th "
								 "class="
								 "\"n\">"
							       : "<th>",
			     "</th>", &text);
		html_same(&text, t->cols[i].name, strlen(t->cols[i].name),
			  "column name");
	}
	FUZZ_CHECK(!strncmp(s, "</tr></thead>\n<tbody>\n", 22),
		   "HTML: header row has more cells");
	s += 22;
	for (size_t row = 0; row < shown; row++) {
		FUZZ_CHECK(!strncmp(s, "<tr>", 4), "HTML: row %zu", row);
		s += 4;
		for (size_t i = 0; i < t->ncols; i++) {
			bool num = col_type_numeric(t->cols[i].type);
			const char *open = num ? "<td class=\"n\">" : "<td>";

			FUZZ_CHECK(!strncmp(s, open, strlen(open)),
				   "HTML: cell %zu of row %zu", i, row);
			html_between(&s, open, "</td>", &text);
			html_cell(t, i, &t->cells[row][i], &text);
		}
		FUZZ_CHECK(!strncmp(s, "</tr>\n", 6), "HTML: row %zu end", row);
		s += 6;
	}
	FUZZ_CHECK(!strncmp(s, "</tbody>", 8), "HTML: more rows than %zu",
		   shown);
	html_between(&s, t->tr ? "Kaynak: " : "Source: ", "</span>", &text);
	html_same(&text, t->source, strlen(t->source), "source");
	strbuf_release(&text);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table *t = malloc(sizeof(*t));

	if (!t)
		abort();
	table_read(t, data, size);
	check_csv(t);
	check_json(t);
	check_html(t);
	table_free(t);
	free(t);
	return 0;
}
