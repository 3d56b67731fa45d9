/*
 * render_xlsx: a workbook through libxlsxwriter in constant-memory mode,
 * where each row goes to a scratch file in tmpdir as soon as the next
 * one starts.  Rows past Excel's 1,048,576 continue on a new sheet with
 * the same header.  Column widths, the autofilter and the frozen header
 * are kept by the library apart from the rows, so they are set when a
 * sheet is complete, from every row it holds.
 */
#include "render_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "tz.h"
#include "util.h"

#define XLSX_STR_MAX 32767  /* UTF-16 units in one cell */
#define XLSX_NAME_MAX 31    /* in a sheet name */
#define XLSX_MAX_SCALE 15   /* decimals shown; a double holds no more */
#define XLSX_WIDTH_MAX 60.0 /* widest column set, in characters */

struct render_xlsx {
	struct render base;
	lxw_workbook *wb;
	lxw_worksheet *ws;	/* the sheet being written */
	lxw_worksheet **sheets; /* all of them, for their scratch files */
	size_t nsheets;
	lxw_row_t row; /* next row on @ws; 0 is the header */
	lxw_format *bold, *date, *stamp, *time;
	lxw_format **colfmt; /* number format per numeric column */
	unsigned *width;     /* widest cell per column on @ws */
	char *scratch;
	size_t scratch_cap;
};

static int xlsx_scratch(struct render_xlsx *x, size_t need)
{
	char *p;

	if (need <= x->scratch_cap)
		return 0;
	p = realloc(x->scratch, need);
	if (!p)
		return -ENOMEM;
	x->scratch = p;
	x->scratch_cap = need;
	return 0;
}

static bool xlsx_hexdigit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ||
	       (c >= 'a' && c <= 'f');
}

/* Excel reads "_xHHHH_" in a string as an escape; keep it literal. */
static bool xlsx_escape_like(const char *p, size_t n)
{
	return n >= 7 && p[0] == '_' && p[1] == 'x' && xlsx_hexdigit(p[2]) &&
	       xlsx_hexdigit(p[3]) && xlsx_hexdigit(p[4]) &&
	       xlsx_hexdigit(p[5]) && p[6] == '_';
}

/*
 * Copies text into the scratch as one NUL-terminated, valid UTF-8 cell:
 * bad bytes and NUL become U+FFFD, and the text ends at Excel's 32,767
 * characters.  @width gets the longest line in characters.  The scratch
 * gets 7 bytes per byte of input at most (an escaped "_").
 */
static const char *xlsx_text(struct render_xlsx *x, const char *p, size_t n,
			     unsigned *width)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, o = 0, units = 0, len, line = 0;
	size_t cap = n < XLSX_STR_MAX ? n : XLSX_STR_MAX;

	*width = 0;
	if (xlsx_scratch(x, cap * 7 + 8) < 0)
		return NULL;
	while (i < n) {
		const char *src = p + i;
		size_t w = 1;

		len = u[i] ? render_utf8_len(u + i, n - i) : 0;
		if (len == 1 && xlsx_escape_like(p + i, n - i)) {
			src = "_x005F_";
			w = 7;
		} else if (!len) {
			src = RENDER_UTF8_REPLACEMENT;
		} else if (len == 4) {
			w = 2;
		}
		if (units + w > XLSX_STR_MAX)
			break;
		units += w;
		line = u[i] == '\n' ? 0 : line + 1;
		if (line > *width)
			*width = (unsigned)line;
		if (len == 1 && src == p + i)
			x->scratch[o++] = p[i];
		else {
			size_t sl = src == p + i ? len : strlen(src);

			memcpy(x->scratch + o, src, sl);
			o += sl;
		}
		i += len ? len : 1;
	}
	x->scratch[o] = '\0';
	return x->scratch;
}

static int xlsx_lxw_errno(lxw_error e)
{
	if (e == LXW_ERROR_MEMORY_MALLOC_FAILED)
		return -ENOMEM;
	return -EIO;
}

static int xlsx_put_text(struct render_xlsx *x, size_t col, const char *p,
			 size_t n, lxw_format *fmt)
{
	unsigned w;
	const char *s = xlsx_text(x, p, n, &w);
	lxw_error e;

	if (!s)
		return -ENOMEM;
	if (w > x->width[col])
		x->width[col] = w;
	e = worksheet_write_string(x->ws, x->row, (lxw_col_t)col, s, fmt);
	return e ? xlsx_lxw_errno(e) : 0;
}

static int xlsx_put_number(struct render_xlsx *x, size_t col, double v,
			   lxw_format *fmt, unsigned w)
{
	lxw_error e;

	if (w > x->width[col])
		x->width[col] = w;
	e = worksheet_write_number(x->ws, x->row, (lxw_col_t)col, v, fmt);
	return e ? xlsx_lxw_errno(e) : 0;
}

/* Canonical numbers only: [-]digits[.digits][e[+-]digits]. */
static bool xlsx_number_text(const char *p, size_t n)
{
	size_t i = 0, d;

	if (i < n && p[i] == '-')
		i++;
	for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		d++;
	if (i < n && p[i] == '.')
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			d++;
	if (!d)
		return false;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			d++;
		if (!d)
			return false;
	}
	return i == n;
}

/*
 * [-]digits[.digits] with at most 15 digits in all: both the digits as
 * an integer and the power of ten are exact doubles, so one division is
 * correctly rounded, as strtod would be (which is much slower).
 */
static bool xlsx_fast_double(const char *p, size_t n, double *v)
{
	static const double pow10[] = {1e0,  1e1,  1e2,	 1e3, 1e4,  1e5,
				       1e6,  1e7,  1e8,	 1e9, 1e10, 1e11,
				       1e12, 1e13, 1e14, 1e15};
	bool neg = n && p[0] == '-';
	int64_t mant = 0;
	int digits = 0, frac = -1;

	for (size_t i = neg; i < n; i++) {
		if (p[i] == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (p[i] < '0' || p[i] > '9' || ++digits > 15)
			return false;
		mant = mant * 10 + (p[i] - '0');
		frac += frac >= 0;
	}
	*v = (double)mant / pow10[frac > 0 ? frac : 0];
	if (neg)
		*v = -*v;
	return true;
}

static bool xlsx_parse_double(struct render_xlsx *x, const char *p, size_t n,
			      double *v)
{
	if (!xlsx_number_text(p, n))
		return false;
	if (!xlsx_fast_double(p, n, v)) {
		if (xlsx_scratch(x, n + 1) < 0)
			return false;
		memcpy(x->scratch, p, n);
		x->scratch[n] = '\0';
		*v = strtod(x->scratch, NULL);
	}
	if (!isfinite(*v))
		return false;
	/* Excel has no negative zero. */
	if (*v == 0)
		*v = 0;
	return true;
}

/* The display width of a number: sign, digits, grouping, point. */
static unsigned xlsx_number_width(const char *p, size_t n, bool grouped)
{
	size_t nint = 0;

	while (nint < n && p[nint] != '.' && p[nint] != 'e')
		nint++;
	return (unsigned)(n + (grouped && nint > 3 ? (nint - 1) / 3 : 0));
}

static unsigned xlsx_digits(const char *p, int count)
{
	unsigned v = 0;

	for (int i = 0; i < count; i++) {
		if (p[i] < '0' || p[i] > '9')
			return ~0u;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v;
}

/*
 * The Excel serial of "YYYY-MM-DD" at @p, or -1 when it is not a date
 * both Excel and LibreOffice read the same: malformed, after 9999, or
 * before 1900-03-01.  Excel counts a 1900-02-29 that never was, so the
 * two disagree by a day on serials before it; such dates stay text.
 */
static double xlsx_date_serial(const char *p, size_t n)
{
	unsigned y, m, d;
	int64_t days;

	if (n < 10 || p[4] != '-' || p[7] != '-')
		return -1;
	y = xlsx_digits(p, 4);
	m = xlsx_digits(p + 5, 2);
	d = xlsx_digits(p + 8, 2);
	if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 ||
	    d > (unsigned)tz_month_days(y, (int)m))
		return -1;
	days = tz_days_from_civil(y, (int)m, (int)d) -
	       tz_days_from_civil(1899, 12, 30);
	return days < 61 ? -1 : (double)days;
}

/*
 * "HH:MM:SS[.fraction]" at @p as a fraction of a day; -1 when malformed.
 * @rest gets what follows (a zone, which is dropped: see formats.md).
 */
static double xlsx_time_value(const char *p, size_t n, size_t *rest)
{
	unsigned h, m, s;
	double frac = 0, scale = 0.1;
	size_t i = 8;

	if (n < 8 || p[2] != ':' || p[5] != ':')
		return -1;
	h = xlsx_digits(p, 2);
	m = xlsx_digits(p + 3, 2);
	s = xlsx_digits(p + 6, 2);
	if (h > 23 || m > 59 || s > 59)
		return -1;
	if (i < n && p[i] == '.') {
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
			frac += (p[i] - '0') * scale;
			scale /= 10;
		}
	}
	*rest = i;
	return ((h * 60.0 + m) * 60.0 + s + frac) / 86400.0;
}

static bool xlsx_zone_ok(const char *p, size_t n)
{
	if (n == 0 || (n == 1 && p[0] == 'Z'))
		return true;
	if (p[0] != '+' && p[0] != '-')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(p[i] >= '0' && p[i] <= '9') && p[i] != ':')
			return false;
	return n >= 3;
}

static double xlsx_stamp_value(const char *p, size_t n)
{
	double day = xlsx_date_serial(p, n), t;
	size_t rest;

	if (day < 0 || n < 19 || (p[10] != ' ' && p[10] != 'T'))
		return -1;
	t = xlsx_time_value(p + 11, n - 11, &rest);
	if (t < 0 || !xlsx_zone_ok(p + 11 + rest, n - 11 - rest))
		return -1;
	return day + t;
}

/* Dates, times and stamps as Excel serials, else as their text. */
static int xlsx_put_temporal(struct render_xlsx *x, size_t col, enum col_type t,
			     const struct cell *v)
{
	double val;
	size_t rest = 0;

	if (t == COL_DATE && v->len == 10) {
		val = xlsx_date_serial(v->p, v->len);
		if (val >= 0)
			return xlsx_put_number(x, col, val, x->date, 10);
	} else if (t == COL_TIME) {
		val = xlsx_time_value(v->p, v->len, &rest);
		if (val >= 0 && rest == v->len)
			return xlsx_put_number(x, col, val, x->time, 8);
	} else if (t == COL_TIMESTAMP) {
		val = xlsx_stamp_value(v->p, v->len);
		if (val >= 0)
			return xlsx_put_number(x, col, val, x->stamp, 19);
	}
	return xlsx_put_text(x, col, v->p, v->len, NULL);
}

static int xlsx_put_binary(struct render_xlsx *x, size_t col,
			   const struct cell *v)
{
	size_t n = v->len < XLSX_STR_MAX / 2 ? v->len : XLSX_STR_MAX / 2;
	char *hex = malloc(2 * n + 1);
	int rc;

	if (!hex)
		return -ENOMEM;
	render_hex(hex, (const unsigned char *)v->p, n);
	rc = xlsx_put_text(x, col, hex, 2 * n, NULL);
	free(hex);
	return rc;
}

static bool xlsx_bool_text(const struct cell *v)
{
	return (v->len == 4 && !memcmp(v->p, "true", 4)) ||
	       (v->len == 5 && !memcmp(v->p, "false", 5));
}

static int xlsx_put_cell(struct render_xlsx *x, size_t col,
			 const struct cell *v)
{
	const struct col_desc *c = &x->base.m.cols[col];
	lxw_error e;
	double num;

	if (v->null)
		return 0;
	switch (c->type) {
	case COL_INT:
	case COL_DECIMAL:
	case COL_FLOAT:
		if (!xlsx_parse_double(x, v->p, v->len, &num))
			break;
		return xlsx_put_number(
		    x, col, num, x->colfmt[col],
		    xlsx_number_width(v->p, v->len, c->type == COL_DECIMAL));
	case COL_BOOL:
		if (!xlsx_bool_text(v))
			break;
		x->width[col] = x->width[col] > 5 ? x->width[col] : 5;
		e = worksheet_write_boolean(x->ws, x->row, (lxw_col_t)col,
					    v->len == 4, NULL);
		return e ? xlsx_lxw_errno(e) : 0;
	case COL_DATE:
	case COL_TIME:
	case COL_TIMESTAMP:
		return xlsx_put_temporal(x, col, c->type, v);
	case COL_BINARY:
		return xlsx_put_binary(x, col, v);
	case COL_TEXT:
		break;
	}
	return xlsx_put_text(x, col, v->p, v->len, NULL);
}

/*
 * The sheet name from the title: Excel's 31 characters less @reserve,
 * none of []:*?/\, no apostrophe at either end, whole characters only.
 */
static char *xlsx_sheet_base(const char *title, size_t reserve)
{
	struct strbuf sb = STRBUF_INIT;
	const unsigned char *u = (const unsigned char *)title;
	size_t n = strlen(title), units = 0, len;

	for (size_t i = 0; i < n; i += len ? len : 1) {
		char c = title[i];

		len = render_utf8_len(u + i, n - i);
		if (!len || (unsigned char)c < 0x20 || c == 0x7f)
			continue;
		if (units + (len == 4 ? 2 : 1) > XLSX_NAME_MAX - reserve)
			break;
		units += len == 4 ? 2 : 1;
		if (len == 1 && strchr("[]:*?/\\", c))
			c = strchr("[]", c) ? (c == '[' ? '(' : ')') : '-';
		if (strbuf_add(&sb, len == 1 ? &c : title + i, len) < 0)
			goto out_nomem;
	}
	while (sb.len &&
	       (sb.buf[sb.len - 1] == '\'' || sb.buf[sb.len - 1] == ' '))
		sb.buf[--sb.len] = '\0';
	while (sb.len && (sb.buf[0] == '\'' || sb.buf[0] == ' '))
		memmove(sb.buf, sb.buf + 1, sb.len--);
	if (!sb.len || strcasecmp(sb.buf, "History") == 0)
		strbuf_adds(&sb, sb.len ? "_" : "Sheet");
	return sb.buf ? strbuf_detach(&sb) : NULL;
out_nomem:
	strbuf_release(&sb);
	return NULL;
}

static int xlsx_header(struct render_xlsx *x)
{
	const struct render_meta *m = &x->base.m;
	int rc;

	for (size_t i = 0; i < m->ncols; i++) {
		const char *name = m->cols[i].name;

		rc = xlsx_put_text(x, i, name, strlen(name), x->bold);
		if (rc < 0)
			return rc;
		/* Bold text and the filter button need more room. */
		x->width[i] = x->width[i] + x->width[i] / 8 + 3;
	}
	x->row = 1;
	worksheet_freeze_panes(x->ws, 1, 0);
	return 0;
}

static int xlsx_add_sheet(struct render_xlsx *x)
{
	const struct render_meta *m = &x->base.m;
	char *name = NULL, suffix[24];
	lxw_worksheet **sheets;

	snprintf(suffix, sizeof(suffix), " (%zu)", x->nsheets + 1);
	if (!x->nsheets)
		name = xlsx_sheet_base(render_title(m), 0);
	else {
		char *base = xlsx_sheet_base(render_title(m), strlen(suffix));
		struct strbuf sb = STRBUF_INIT;

		if (base && strbuf_adds(&sb, base) == 0 &&
		    strbuf_adds(&sb, suffix) == 0)
			name = strbuf_detach(&sb);
		strbuf_release(&sb);
		free(base);
	}
	sheets = realloc(x->sheets, (x->nsheets + 1) * sizeof(*sheets));
	if (!name || !sheets) {
		free(name);
		if (sheets)
			x->sheets = sheets;
		return -ENOMEM;
	}
	x->sheets = sheets;
	x->ws = workbook_add_worksheet(x->wb, name);
	free(name);
	if (!x->ws)
		return -EIO;
	x->sheets[x->nsheets++] = x->ws;
	x->row = 0;
	memset(x->width, 0, m->ncols * sizeof(*x->width));
	return xlsx_header(x);
}

/* Widths and the autofilter, once the sheet's last row is known. */
static int xlsx_finish_sheet(struct render_xlsx *x)
{
	size_t ncols = x->base.m.ncols;
	lxw_row_t last = x->row ? x->row - 1 : 0;

	for (size_t i = 0; i < ncols; i++) {
		double w = x->width[i] + 1.0;

		if (w > XLSX_WIDTH_MAX)
			w = XLSX_WIDTH_MAX;
		if (w < 6)
			w = 6;
		if (worksheet_set_column(x->ws, (lxw_col_t)i, (lxw_col_t)i, w,
					 NULL))
			return -EIO;
	}
	if (ncols &&
	    worksheet_autofilter(x->ws, 0, 0, last, (lxw_col_t)(ncols - 1)))
		return -EIO;
	return 0;
}

/* A write to the scratch file failed inside the library: say why. */
static int xlsx_scratch_error(void)
{
	int e = errno;

	if (e == ENOSPC || e == EDQUOT || e == EFBIG || e == EIO)
		return -e;
	return -EIO;
}

static int xlsx_row(struct render *r, const struct cell *cells)
{
	struct render_xlsx *x = (struct render_xlsx *)r;
	int rc;

	if (x->row == LXW_ROW_MAX) {
		rc = xlsx_finish_sheet(x);
		if (rc == 0)
			rc = xlsx_add_sheet(x);
		if (rc < 0)
			return rc;
	}
	errno = 0;
	for (size_t i = 0; i < r->m.ncols; i++) {
		rc = xlsx_put_cell(x, i, &cells[i]);
		if (rc < 0)
			return rc;
	}
	x->row++;
	if (ferror(x->ws->optimize_tmpfile))
		return xlsx_scratch_error();
	return 0;
}

static lxw_format *xlsx_num_format(struct render_xlsx *x, const char *fmt)
{
	lxw_format *f = workbook_add_format(x->wb);

	if (f)
		format_set_num_format(f, fmt);
	return f;
}

/* "0" for integers, "#,##0.00" (scale digits) for known decimals. */
static int xlsx_col_formats(struct render_xlsx *x)
{
	const struct render_meta *m = &x->base.m;
	lxw_format *dec[XLSX_MAX_SCALE + 1] = {NULL};
	lxw_format *intf = NULL;
	char fmt[32];

	for (size_t i = 0; i < m->ncols; i++) {
		int scale = m->cols[i].scale;

		if (m->cols[i].type == COL_INT) {
			intf = intf ? intf : xlsx_num_format(x, "0");
			x->colfmt[i] = intf;
		}
		if (m->cols[i].type != COL_DECIMAL || scale < 0)
			continue;
		scale = scale > XLSX_MAX_SCALE ? XLSX_MAX_SCALE : scale;
		if (!dec[scale]) {
			snprintf(fmt, sizeof(fmt), "#,##0%s%.*s",
				 scale ? "." : "", scale, "000000000000000");
			dec[scale] = xlsx_num_format(x, fmt);
		}
		x->colfmt[i] = dec[scale];
	}
	return 0;
}

static int xlsx_formats(struct render_xlsx *x)
{
	x->bold = workbook_add_format(x->wb);
	x->date = xlsx_num_format(x, "yyyy-mm-dd");
	x->stamp = xlsx_num_format(x, "yyyy-mm-dd hh:mm:ss");
	x->time = xlsx_num_format(x, "hh:mm:ss");
	if (!x->bold || !x->date || !x->stamp || !x->time)
		return -ENOMEM;
	format_set_bold(x->bold);
	return xlsx_col_formats(x);
}

static void xlsx_free(struct render_xlsx *x)
{
	free(x->sheets);
	free(x->colfmt);
	free(x->width);
	free(x->scratch);
	x->sheets = NULL;
	x->colfmt = NULL;
	x->width = NULL;
	x->scratch = NULL;
}

/* Creates the file now, so a bad path fails at open, not at the end. */
static int xlsx_touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

	if (fd < 0)
		return -errno;
	return close(fd) < 0 ? -errno : 0;
}

/* The title for the document properties: valid UTF-8, no controls. */
static char *xlsx_clean_title(const char *title)
{
	struct strbuf sb = STRBUF_INIT;
	const unsigned char *u = (const unsigned char *)(title ? title : "");
	size_t n = strlen((const char *)u), len;

	for (size_t i = 0; i < n; i += len ? len : 1) {
		len = render_utf8_len(u + i, n - i);
		if (len && u[i] >= 0x20 && u[i] != 0x7f &&
		    strbuf_add(&sb, u + i, len) < 0)
			break;
	}
	if (strbuf_adds(&sb, "") < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

static int xlsx_start(struct render_xlsx *x)
{
	struct render_meta *m = &x->base.m;
	lxw_workbook_options opt = {
	    .constant_memory = LXW_TRUE,
	    .tmpdir = (char *)m->tmpdir,
	};
	lxw_doc_properties props = {.comments = "sapb1fs"};

	x->width = calloc(m->ncols + 1, sizeof(*x->width));
	x->colfmt = calloc(m->ncols + 1, sizeof(*x->colfmt));
	if (!x->width || !x->colfmt)
		return -ENOMEM;
	x->wb = workbook_new_opt(x->base.path, &opt);
	if (!x->wb)
		return -ENOMEM;
	props.title = xlsx_clean_title(render_title(m));
	if (!props.title || workbook_set_properties(x->wb, &props) ||
	    xlsx_formats(x) < 0) {
		free(props.title);
		return -ENOMEM;
	}
	free(props.title);
	return xlsx_add_sheet(x);
}

static void xlsx_drop_workbook(struct render_xlsx *x)
{
	/* The library leaves the sheets' scratch files open: close them. */
	for (size_t i = 0; i < x->nsheets; i++) {
		if (x->sheets[i]->optimize_tmpfile)
			fclose(x->sheets[i]->optimize_tmpfile);
		x->sheets[i]->optimize_tmpfile = NULL;
		x->sheets[i]->file = NULL;
	}
	if (x->wb)
		lxw_workbook_free(x->wb);
	x->wb = NULL;
}

static int xlsx_open(struct render *r, char *err, size_t errlen)
{
	struct render_xlsx *x = (struct render_xlsx *)r;
	int rc;

	if (r->m.ncols > LXW_COL_MAX)
		return render_errf(err, errlen, -E2BIG,
				   "rendering %s: %zu columns, a sheet holds "
				   "%d",
				   r->path, r->m.ncols, LXW_COL_MAX);
	rc = xlsx_touch(r->path);
	if (rc < 0)
		return render_errf(err, errlen, rc, "creating %s", r->path);
	rc = xlsx_start(x);
	if (rc < 0) {
		xlsx_drop_workbook(x);
		xlsx_free(x);
		return render_errf(err, errlen, rc, "starting workbook %s",
				   r->path);
	}
	return 0;
}

/*
 * libxlsxwriter copies each sheet's rows into a second scratch file and
 * then into the zip without checking those writes, so a full disk there
 * would give a cut file and no error.  Refuse up front when tmpdir lacks
 * room for the largest sheet again plus the zip (about a quarter).
 */
static int xlsx_check_room(struct render_xlsx *x, char *err, size_t errlen)
{
	const char *dir = x->base.m.tmpdir;
	uint64_t total = 0, largest = 0, need, have;
	struct statvfs sv;

	for (size_t i = 0; i < x->nsheets; i++) {
		FILE *f = x->sheets[i]->optimize_tmpfile;
		off_t pos;
		uint64_t size;

		if (!f || fflush(f) != 0)
			return render_errf(err, errlen, xlsx_scratch_error(),
					   "writing %s", x->base.path);
		pos = ftello(f);
		size = pos > 0 ? (uint64_t)pos : 0;
		total += size;
		largest = size > largest ? size : largest;
	}
	if (!dir)
		dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	if (statvfs(dir, &sv) < 0)
		return 0;
	need = largest + total / 4 + (1u << 20);
	have = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (have >= need)
		return 0;
	return render_errf(err, errlen, -ENOSPC,
			   "writing %s: %llu MiB free in %s, about %llu MiB "
			   "needed to assemble it",
			   x->base.path, (unsigned long long)(have >> 20), dir,
			   (unsigned long long)(need >> 20));
}

static int xlsx_close(struct render *r, char *err, size_t errlen)
{
	struct render_xlsx *x = (struct render_xlsx *)r;
	lxw_error e;
	int rc;

	rc = xlsx_finish_sheet(x);
	if (rc < 0) {
		xlsx_drop_workbook(x);
		xlsx_free(x);
		return render_errf(err, errlen, rc, "writing %s", r->path);
	}
	rc = xlsx_check_room(x, err, errlen);
	if (rc < 0) {
		xlsx_drop_workbook(x);
		xlsx_free(x);
		return rc;
	}
	/*
	 * XXX: when workbook_close fails halfway, libxlsxwriter keeps the
	 * scratch files of the sheets it had not reached open; it frees
	 * the workbook, so nothing here can tell which ones remain.
	 */
	errno = 0;
	e = workbook_close(x->wb);
	x->wb = NULL;
	xlsx_free(x);
	if (!e)
		return 0;
	rc = errno ? -errno : -EIO;
	render_errf(err, errlen, rc, "writing %s (%s)", r->path,
		    lxw_strerror(e));
	return rc;
}

static void xlsx_abort(struct render *r)
{
	struct render_xlsx *x = (struct render_xlsx *)r;

	xlsx_drop_workbook(x);
	xlsx_free(x);
}

const struct render_ops render_xlsx_ops = {
    .size = sizeof(struct render_xlsx),
    .open = xlsx_open,
    .row = xlsx_row,
    .close = xlsx_close,
    .abort = xlsx_abort,
};
