/*
 * render: see render.h.  This file owns the dispatch to the formats,
 * the copy of the caller's meta, the buffered writer and the small text
 * helpers the formats share (render_int.h).
 */
#include "render_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

static const char *const render_exts[FMT_COUNT] = {
    [FMT_XLSX] = "xlsx", [FMT_CSV] = "csv",	   [FMT_JSON] = "json",
    [FMT_HTML] = "html", [FMT_MAIL] = "mail.html",
};

static const struct render_ops *const render_table[FMT_COUNT] = {
    [FMT_XLSX] = &render_xlsx_ops, [FMT_CSV] = &render_csv_ops,
    [FMT_JSON] = &render_json_ops, [FMT_HTML] = &render_html_ops,
    [FMT_MAIL] = &render_html_ops,
};

const char *render_fmt_ext(enum render_fmt f)
{
	if ((unsigned)f >= FMT_COUNT)
		return NULL;
	return render_exts[f];
}

int render_fmt_parse(const char *ext)
{
	if (!ext)
		return -1;
	for (int f = 0; f < FMT_COUNT; f++)
		if (strcasecmp(ext, render_exts[f]) == 0)
			return f;
	return -1;
}

const char *render_title(const struct render_meta *m)
{
	if (m->title && *m->title)
		return m->title;
	return m->name ? m->name : "";
}

int render_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return rc;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (rc < 0 && n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, ": %s", strerror(-rc));
	return rc;
}

/* The meta strings and columns, copied so that @r owns them. */
static void render_meta_free(struct render_meta *m)
{
	struct col_desc *cols = (struct col_desc *)m->cols;

	free((char *)m->name);
	free((char *)m->title);
	free((char *)m->source);
	free((char *)m->timezone);
	free((char *)m->tmpdir);
	for (size_t i = 0; cols && i < m->ncols; i++)
		free(cols[i].name);
	free(cols);
}

static int render_dup(const char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = xstrdup(src);
	return *dst ? 0 : -ENOMEM;
}

static int render_meta_copy(struct render_meta *dst,
			    const struct render_meta *src)
{
	struct col_desc *cols;

	*dst = *src;
	dst->cols = NULL;
	dst->name = dst->title = dst->source = NULL;
	dst->timezone = dst->tmpdir = NULL;
	if (render_dup(&dst->name, src->name) ||
	    render_dup(&dst->title, src->title) ||
	    render_dup(&dst->source, src->source) ||
	    render_dup(&dst->timezone, src->timezone) ||
	    render_dup(&dst->tmpdir, src->tmpdir))
		return -ENOMEM;

	cols = calloc(src->ncols ? src->ncols : 1, sizeof(*cols));
	if (!cols)
		return -ENOMEM;
	dst->cols = cols;
	for (size_t i = 0; i < src->ncols; i++) {
		cols[i] = src->cols[i];
		cols[i].name =
		    xstrdup(src->cols[i].name ? src->cols[i].name : "");
		if (!cols[i].name)
			return -ENOMEM;
	}
	return 0;
}

static void render_free(struct render *r)
{
	render_meta_free(&r->m);
	free(r->path);
	free(r);
}

static struct render *render_new(enum render_fmt f, const char *path,
				 const struct render_meta *m)
{
	const struct render_ops *ops = render_table[f];
	struct render *r;

	r = calloc(1, ops->size);
	if (!r)
		return NULL;
	r->ops = ops;
	r->path = xstrdup(path);
	if (!r->path || render_meta_copy(&r->m, m) < 0) {
		render_free(r);
		return NULL;
	}
	return r;
}

struct render *render_open(enum render_fmt f, const char *path,
			   const struct render_meta *m, char *err,
			   size_t errlen)
{
	struct render *r;

	if ((unsigned)f >= FMT_COUNT || !path || !m || (m->ncols && !m->cols)) {
		render_errf(err, errlen, -EINVAL, "render: bad arguments");
		return NULL;
	}
	r = render_new(f, path, m);
	if (!r) {
		render_errf(err, errlen, -ENOMEM, "render: %s", path);
		return NULL;
	}
	if (r->ops->open(r, err, errlen) < 0) {
		render_free(r);
		return NULL;
	}
	return r;
}

int render_row(struct render *r, const struct cell *cells)
{
	int rc;

	if (r->err)
		return r->err;
	rc = r->ops->row(r, cells);
	if (rc < 0)
		r->err = rc;
	else
		r->rows++;
	return rc;
}

int render_close(struct render *r, char *err, size_t errlen)
{
	int rc;

	if (r->err) {
		rc = render_errf(err, errlen, r->err, "writing %s", r->path);
		r->ops->abort(r);
	} else {
		rc = r->ops->close(r, err, errlen);
	}
	render_free(r);
	return rc;
}

void render_abort(struct render *r)
{
	if (!r)
		return;
	r->ops->abort(r);
	render_free(r);
}

int render_out_open(struct render_out *o, const char *path)
{
	o->len = 0;
	o->err = 0;
	o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	return o->fd < 0 ? -errno : 0;
}

int render_out_flush(struct render_out *o)
{
	int rc;

	if (o->len && !o->err) {
		rc = fd_write_all(o->fd, o->buf, o->len);
		if (rc < 0)
			o->err = rc;
	}
	/* After an error the bytes are dropped; the file is lost anyway. */
	o->len = 0;
	return o->err;
}

void render_out_write_slow(struct render_out *o, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		size_t room = RENDER_OUT_BUFSZ - o->len;
		size_t part = n < room ? n : room;

		memcpy(o->buf + o->len, s, part);
		o->len += part;
		s += part;
		n -= part;
		if (o->len == RENDER_OUT_BUFSZ)
			render_out_flush(o);
	}
}

void render_out_puts(struct render_out *o, const char *s)
{
	render_out_write(o, s, strlen(s));
}

int render_out_close(struct render_out *o)
{
	render_out_flush(o);
	if (close(o->fd) < 0 && !o->err)
		o->err = -errno;
	o->fd = -1;
	return o->err;
}

void render_out_discard(struct render_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	o->len = 0;
}

size_t render_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = c & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void render_hex(char *dst, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[p[i] >> 4];
		dst[2 * i + 1] = digits[p[i] & 15];
	}
}

static size_t render_digits(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	return i;
}

/* Whether all @n bytes at @p are an exponent, e[+-]digits. */
static bool render_exponent(const char *p, size_t n)
{
	size_t i = 1;

	if (p[0] != 'e' && p[0] != 'E')
		return false;
	if (i < n && (p[i] == '+' || p[i] == '-'))
		i++;
	return i < n && i + render_digits(p + i, n - i) == n;
}

size_t render_group_number(char *dst, const char *p, size_t n, char group,
			   char point)
{
	size_t i = 0, o = 0, nint, rest;

	if (n && p[0] == '-')
		dst[o++] = p[i++];
	nint = render_digits(p + i, n - i);
	if (!nint)
		return 0;
	for (size_t k = 0; k < nint; k++) {
		if (k && (nint - k) % 3 == 0)
			dst[o++] = group;
		dst[o++] = p[i++];
	}
	if (i < n && p[i] == '.') {
		dst[o++] = point;
		i++;
		rest = render_digits(p + i, n - i);
		memcpy(dst + o, p + i, rest);
		o += rest;
		i += rest;
	}
	/* The exponent, if any, is copied as it is. */
	if (i < n && !render_exponent(p + i, n - i))
		return 0;
	memcpy(dst + o, p + i, n - i);
	return o + n - i;
}
