/*
 * render_html: one self-contained page (inline CSS, no outside assets),
 * also used as a mail body.  The row count is known only at the end, so
 * the summary is written after the table and moved above it by CSS flex
 * order; a client without flex (Outlook) shows it below.  With a row cap
 * the rows past it are counted, not written, and a closing line says how
 * many the attachment has in addition.
 */
#include "render_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "tz.h"

struct render_html {
	struct render base;
	bool tr; /* Turkish labels and 1.234,56 numbers */
	char group, point;
	char *scratch; /* grouped numbers and hex */
	size_t scratch_cap;
	struct render_out out;
};

static const char html_style[] =
    "body{margin:16px;color:#1f2328;background:#fff;"
    "font:14px/1.4 -apple-system,'Segoe UI',Roboto,Arial,sans-serif}\n"
    "h1{font-size:20px;margin:0 0 8px}\n"
    ".report{display:flex;flex-direction:column;gap:8px}\n"
    ".summary{order:-1;color:#57606a;font-size:13px}\n"
    ".summary span{margin-right:16px}\n"
    "table{border-collapse:collapse;font-size:13px}\n"
    "th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;"
    "vertical-align:top;white-space:pre-wrap}\n"
    "th{background:#f0f3f6;font-weight:600}\n"
    "tbody tr:nth-child(even){background:#f6f8fa}\n"
    ".n{text-align:right;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}\n"
    ".more{font-style:italic;color:#57606a}\n";

static int html_scratch(struct render_html *h, size_t need)
{
	char *p;

	if (need <= h->scratch_cap)
		return 0;
	p = realloc(h->scratch, need);
	if (!p)
		return -ENOMEM;
	h->scratch = p;
	h->scratch_cap = need;
	return 0;
}

/* The entity for an ASCII byte, or NULL when it is written as it is. */
static const char *html_entity(unsigned char ch)
{
	switch (ch) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\r':
		/* A raw CR would be folded into LF by the parser. */
		return "&#13;";
	case '\t':
	case '\n':
		return NULL;
	}
	/* Other control characters have no place in HTML text. */
	return ch < 0x20 || ch == 0x7f ? RENDER_UTF8_REPLACEMENT : NULL;
}

static void html_put_text(struct render_out *o, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, run, len;
	const char *ent;

	while (i < n) {
		for (run = i; run < n && u[run] >= 0x20 && u[run] < 0x7f &&
			      !html_entity(u[run]);
		     run++)
			;
		render_out_write(o, p + i, run - i);
		i = run;
		if (i == n)
			break;
		if (u[i] < 0x80) {
			ent = html_entity(u[i]);
			if (ent)
				render_out_puts(o, ent);
			else
				render_out_putc(o, (char)u[i]);
			i++;
			continue;
		}
		len = render_utf8_len(u + i, n - i);
		if (len)
			render_out_write(o, p + i, len);
		else
			render_out_puts(o, RENDER_UTF8_REPLACEMENT);
		i += len ? len : 1;
	}
}

static void html_put_texts(struct render_out *o, const char *s)
{
	html_put_text(o, s ? s : "", s ? strlen(s) : 0);
}

static int html_put_number(struct render_html *h, const struct cell *v)
{
	size_t len;

	if (v->len > SIZE_MAX / 2 - 1 || html_scratch(h, 2 * v->len + 1) < 0)
		return -ENOMEM;
	len = render_group_number(h->scratch, v->p, v->len, h->group, h->point);
	if (len)
		render_out_write(&h->out, h->scratch, len);
	else
		html_put_text(&h->out, v->p, v->len);
	return 0;
}

static int html_put_binary(struct render_html *h, const struct cell *v)
{
	if (v->len > SIZE_MAX / 2 || html_scratch(h, 2 * v->len) < 0)
		return -ENOMEM;
	render_hex(h->scratch, (const unsigned char *)v->p, v->len);
	render_out_write(&h->out, h->scratch, 2 * v->len);
	return 0;
}

static int html_put_cell(struct render_html *h, enum col_type t,
			 const struct cell *v)
{
	bool num = col_type_numeric(t);
	int rc = 0;

	render_out_puts(&h->out, num ? "<td class=\"n\">" : "<td>");
	if (v->null)
		;
	else if (num)
		rc = html_put_number(h, v);
	else if (t == COL_BINARY)
		rc = html_put_binary(h, v);
	else
		html_put_text(&h->out, v->p, v->len);
	render_out_write(&h->out, "</td>", 5);
	return rc;
}

static int html_row(struct render *r, const struct cell *cells)
{
	struct render_html *h = (struct render_html *)r;
	int rc;

	/* Past the cap the row is only counted (by render_row). */
	if (r->m.html_row_cap > 0 && r->rows >= (uint64_t)r->m.html_row_cap)
		return 0;
	render_out_write(&h->out, "<tr>", 4);
	for (size_t i = 0; i < r->m.ncols; i++) {
		rc = html_put_cell(h, r->m.cols[i].type, &cells[i]);
		if (rc < 0)
			return rc;
	}
	render_out_write(&h->out, "</tr>\n", 6);
	return h->out.err;
}

static void html_put_head(struct render_html *h)
{
	struct render_out *o = &h->out;
	const struct render_meta *m = &h->base.m;

	render_out_puts(o, "<!DOCTYPE html>\n<html lang=\"");
	render_out_puts(o, h->tr ? "tr" : "en");
	render_out_puts(o, "\">\n<head>\n<meta charset=\"utf-8\">\n"
			   "<meta name=\"viewport\" "
			   "content=\"width=device-width,initial-scale=1\">\n"
			   "<meta name=\"generator\" content=\"sapb1fs\">\n"
			   "<title>");
	html_put_texts(o, render_title(m));
	render_out_puts(o, "</title>\n<style>\n");
	render_out_puts(o, html_style);
	render_out_puts(o, "</style>\n</head>\n<body>\n<h1>");
	html_put_texts(o, render_title(m));
	render_out_puts(o, "</h1>\n<div class=\"report\">\n<table>\n"
			   "<thead><tr>");
	for (size_t i = 0; i < m->ncols; i++) {
		render_out_puts(o, col_type_numeric(m->cols[i].type)
				       ? "<th class=\"n\">"
				       : "<th>");
		html_put_texts(o, m->cols[i].name);
		render_out_puts(o, "</th>");
	}
	render_out_puts(o, "</tr></thead>\n<tbody>\n");
}

/* A count grouped the way the page groups numbers. */
static void html_put_count(struct render_html *h, uint64_t n)
{
	char digits[24], grouped[48];
	int len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
	size_t glen = render_group_number(grouped, digits, (size_t)len,
					  h->group, h->point);

	render_out_write(&h->out, grouped, glen);
}

/*
 * When the run started, in the report's zone when the tz database knows
 * it, else in UTC; shown with its offset so it is never ambiguous.
 */
static void html_put_generated(struct render_html *h)
{
	const struct render_meta *m = &h->base.m;
	struct tz *zone = NULL;
	long off = 0;
	time_t local;
	struct tm tm;
	char iso[48], shown[48], why[128];

	/* An unknown zone is not worth failing a report: UTC is shown. */
	if (m->timezone && *m->timezone)
		zone = tz_load(m->timezone, why, sizeof(why));
	if (zone)
		off = tz_offset(zone, m->generated);
	tz_free(zone);
	local = m->generated + off;
	if (!gmtime_r(&local, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 3600,
		 labs(off) % 3600 / 60);
	if (h->tr)
		snprintf(shown, sizeof(shown), "%02d.%02d.%04d %02d:%02d",
			 tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min);
	else
		snprintf(shown, sizeof(shown), "%.10s %.5s", iso, iso + 11);
	render_out_puts(&h->out, "<time datetime=\"");
	render_out_puts(&h->out, iso);
	render_out_puts(&h->out, "\">");
	render_out_puts(&h->out, shown);
	render_out_puts(&h->out, " (UTC");
	render_out_puts(&h->out, iso + 19);
	render_out_puts(&h->out, ")</time>");
}

static void html_put_more(struct render_html *h, uint64_t left)
{
	render_out_puts(&h->out, "<p class=\"more\">\xe2\x80\xa6 ");
	html_put_count(h, left);
	render_out_puts(&h->out, h->tr ? " sat\xc4\xb1r daha \xe2\x80\x94 "
					 "tam\xc4\xb1 ekte"
				       : " more rows \xe2\x80\x94 all are in "
					 "the attachment");
	render_out_puts(&h->out, "</p>\n");
}

static void html_put_summary(struct render_html *h)
{
	const struct render_meta *m = &h->base.m;
	uint64_t rows = h->base.rows;

	render_out_puts(&h->out, "<p class=\"summary\"><span>");
	render_out_puts(&h->out,
			h->tr ? "Olu\xc5\x9fturulma: " : "Generated: ");
	html_put_generated(h);
	render_out_puts(&h->out, h->tr ? "</span><span>Kaynak: "
				       : "</span><span>Source: ");
	html_put_texts(&h->out, m->source);
	render_out_puts(&h->out, h->tr ? "</span><span>Sat\xc4\xb1r: "
				       : "</span><span>Rows: ");
	html_put_count(h, rows);
	if (m->html_row_cap > 0 && rows > (uint64_t)m->html_row_cap) {
		render_out_puts(&h->out, h->tr ? " (ilk " : " (first ");
		html_put_count(h, (uint64_t)m->html_row_cap);
		render_out_puts(&h->out,
				h->tr ? " g\xc3\xb6steriliyor)" : " shown)");
	}
	render_out_puts(&h->out, "</span></p>\n");
}

static int html_open(struct render *r, char *err, size_t errlen)
{
	struct render_html *h = (struct render_html *)r;
	int rc;

	h->tr = r->m.tr_numbers;
	h->group = h->tr ? '.' : ',';
	h->point = h->tr ? ',' : '.';
	rc = render_out_open(&h->out, r->path);
	if (rc < 0)
		return render_errf(err, errlen, rc, "creating %s", r->path);
	html_put_head(h);
	return 0;
}

static int html_close(struct render *r, char *err, size_t errlen)
{
	struct render_html *h = (struct render_html *)r;
	long cap = r->m.html_row_cap;
	int rc;

	render_out_puts(&h->out, "</tbody>\n</table>\n");
	if (cap > 0 && r->rows > (uint64_t)cap)
		html_put_more(h, r->rows - (uint64_t)cap);
	html_put_summary(h);
	render_out_puts(&h->out, "</div>\n</body>\n</html>\n");
	rc = render_out_close(&h->out);
	free(h->scratch);
	if (rc < 0)
		return render_errf(err, errlen, rc, "writing %s", r->path);
	return 0;
}

static void html_abort(struct render *r)
{
	struct render_html *h = (struct render_html *)r;

	render_out_discard(&h->out);
	free(h->scratch);
}

const struct render_ops render_html_ops = {
    .size = sizeof(struct render_html),
    .open = html_open,
    .row = html_row,
    .close = html_close,
    .abort = html_abort,
};
