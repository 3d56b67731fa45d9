/*
 * render_csv: the two CSV dialects.  A field is quoted when a reader
 * could take it apart (separator, quote, CR, LF, white space at an end)
 * and when it is an empty string, so that NULL (an empty unquoted field)
 * and "" stay apart.  Invalid UTF-8 becomes U+FFFD: the file is UTF-8.
 */
#include "render_int.h"

#include <errno.h>
#include <stdlib.h>

struct render_csv {
	struct render base;
	char sep;
	bool decimal_comma;
	unsigned char cls[256]; /* CSV_QUOTE, CSV_HIGH per byte */
	char *scratch;		/* number and hex conversions */
	size_t scratch_cap;
	struct render_out out;
};

static int csv_scratch(struct render_csv *c, size_t need)
{
	char *p;

	if (need <= c->scratch_cap)
		return 0;
	p = realloc(c->scratch, need);
	if (!p)
		return -ENOMEM;
	c->scratch = p;
	c->scratch_cap = need;
	return 0;
}

/* What a byte asks of the field it is in: quotes, a UTF-8 check. */
enum { CSV_QUOTE = 1, CSV_HIGH = 2 };

static void csv_classes(struct render_csv *c)
{
	for (int ch = 0x80; ch < 0x100; ch++)
		c->cls[ch] = CSV_HIGH;
	c->cls[(unsigned char)c->sep] = CSV_QUOTE;
	c->cls['"'] = CSV_QUOTE;
	c->cls['\r'] = CSV_QUOTE;
	c->cls['\n'] = CSV_QUOTE;
}

/* Whether the field must be quoted, and whether it is all ASCII. */
static bool csv_needs_quotes(const struct render_csv *c, const char *p,
			     size_t n, bool *ascii)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned acc = 0;
	bool quote = n == 0 || p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' ||
		     p[n - 1] == '\t';

	for (size_t i = 0; i < n; i++)
		acc |= c->cls[u[i]];
	*ascii = !(acc & CSV_HIGH);
	return quote || (acc & CSV_QUOTE);
}

/* Copies runs of valid text at once; doubles quotes, replaces bad bytes. */
static void csv_put_escaped(struct render_csv *c, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t run = 0, i = 0;

	while (i < n) {
		size_t len = u[i] < 0x80 ? 1 : render_utf8_len(u + i, n - i);

		if (len && u[i] != '"') {
			i += len;
			continue;
		}
		render_out_write(&c->out, p + run, i - run);
		if (len) {
			render_out_putc(&c->out, '"');
			run = i++;
		} else {
			render_out_puts(&c->out, RENDER_UTF8_REPLACEMENT);
			run = ++i;
		}
	}
	if (n > run) /* an empty field may come with no text at all */
		render_out_write(&c->out, p + run, n - run);
}

static void csv_put_field(struct render_csv *c, const char *p, size_t n)
{
	bool ascii;
	bool quote = csv_needs_quotes(c, p, n, &ascii);

	if (!quote && ascii) {
		render_out_write(&c->out, p, n);
		return;
	}
	if (quote)
		render_out_putc(&c->out, '"');
	csv_put_escaped(c, p, n);
	if (quote)
		render_out_putc(&c->out, '"');
}

/* DECIMAL and FLOAT get a decimal comma in excel-tr; nothing else. */
static int csv_put_number(struct render_csv *c, const struct cell *v)
{
	if (csv_scratch(c, v->len) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < v->len; i++)
		c->scratch[i] = v->p[i] == '.' ? ',' : v->p[i];
	csv_put_field(c, c->scratch, v->len);
	return 0;
}

static int csv_put_binary(struct render_csv *c, const struct cell *v)
{
	if (v->len > SIZE_MAX / 2 || csv_scratch(c, 2 * v->len) < 0)
		return -ENOMEM;
	render_hex(c->scratch, (const unsigned char *)v->p, v->len);
	csv_put_field(c, c->scratch, 2 * v->len);
	return 0;
}

static int csv_put_cell(struct render_csv *c, enum col_type t,
			const struct cell *v)
{
	if (v->null)
		return 0;
	if (t == COL_BINARY)
		return csv_put_binary(c, v);
	if (c->decimal_comma && (t == COL_DECIMAL || t == COL_FLOAT))
		return csv_put_number(c, v);
	csv_put_field(c, v->p, v->len);
	return 0;
}

static int csv_row(struct render *r, const struct cell *cells)
{
	struct render_csv *c = (struct render_csv *)r;
	int rc;

	for (size_t i = 0; i < r->m.ncols; i++) {
		if (i)
			render_out_putc(&c->out, c->sep);
		rc = csv_put_cell(c, r->m.cols[i].type, &cells[i]);
		if (rc < 0)
			return rc;
	}
	render_out_write(&c->out, "\r\n", 2);
	return c->out.err;
}

static int csv_open(struct render *r, char *err, size_t errlen)
{
	struct render_csv *c = (struct render_csv *)r;
	int rc;

	c->sep = r->m.csv == CSV_EXCEL_TR ? ';' : ',';
	c->decimal_comma = r->m.csv == CSV_EXCEL_TR;
	csv_classes(c);
	rc = render_out_open(&c->out, r->path);
	if (rc < 0)
		return render_errf(err, errlen, rc, "creating %s", r->path);
	if (r->m.csv == CSV_EXCEL_TR)
		render_out_write(&c->out, "\xef\xbb\xbf", 3);
	for (size_t i = 0; i < r->m.ncols; i++) {
		const char *name = r->m.cols[i].name;

		if (i)
			render_out_putc(&c->out, c->sep);
		csv_put_field(c, name, strlen(name));
	}
	render_out_write(&c->out, "\r\n", 2);
	return 0;
}

static void csv_abort(struct render *r)
{
	struct render_csv *c = (struct render_csv *)r;

	render_out_discard(&c->out);
	free(c->scratch);
}

static int csv_close(struct render *r, char *err, size_t errlen)
{
	struct render_csv *c = (struct render_csv *)r;
	int rc = render_out_close(&c->out);

	free(c->scratch);
	if (rc < 0)
		return render_errf(err, errlen, rc, "writing %s", r->path);
	return 0;
}

const struct render_ops render_csv_ops = {
    .size = sizeof(struct render_csv),
    .open = csv_open,
    .row = csv_row,
    .close = csv_close,
    .abort = csv_abort,
};
