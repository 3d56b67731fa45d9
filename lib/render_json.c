/*
 * render_json: an array with one object per row, written as rows come.
 * Numbers keep the source's digits when they are JSON numbers; anything
 * JSON cannot hold as a number (NaN, Infinity, "007") becomes a string.
 * Column names that repeat get "_2", "_3"... so no value is shadowed.
 */
#include "render_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

struct render_json {
	struct render base;
	char **keys; /* '{' or ',' then "name": per column */
	size_t *keylens;
	struct render_out out;
};

/* JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static size_t json_digits(const char *p, size_t n, size_t i)
{
	size_t start = i;

	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	return i - start;
}

static bool json_is_number(const char *p, size_t n)
{
	size_t i = 0, d;

	if (i < n && p[i] == '-')
		i++;
	d = json_digits(p, n, i);
	if (!d || (d > 1 && p[i] == '0'))
		return false;
	i += d;
	if (i < n && p[i] == '.') {
		d = json_digits(p, n, ++i);
		if (!d)
			return false;
		i += d;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		d = json_digits(p, n, i);
		if (!d)
			return false;
		i += d;
	}
	return i == n;
}

static bool json_plain(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
}

/* The escape of an ASCII byte JSON strings cannot hold as it is. */
static size_t json_escape(unsigned char ch, char esc[6])
{
	static const char hex[] = "0123456789abcdef";
	static const char shorts[][2] = {
	    {'"', '"'}, {'\\', '\\'}, {'\n', 'n'}, {'\r', 'r'}, {'\t', 't'},
	};

	esc[0] = '\\';
	for (size_t i = 0; i < ARRAY_SIZE(shorts); i++) {
		if (ch == (unsigned char)shorts[i][0]) {
			esc[1] = shorts[i][1];
			return 2;
		}
	}
	esc[1] = 'u';
	esc[2] = '0';
	esc[3] = '0';
	esc[4] = hex[ch >> 4];
	esc[5] = hex[ch & 15];
	return 6;
}

static void json_put_string(struct render_out *o, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, run;
	char esc[6];

	render_out_putc(o, '"');
	while (i < n) {
		for (run = i; run < n && json_plain(u[run]); run++)
			;
		render_out_write(o, p + i, run - i);
		i = run;
		if (i == n)
			break;
		if (u[i] < 0x80) {
			render_out_write(o, esc, json_escape(u[i++], esc));
			continue;
		}
		run = render_utf8_len(u + i, n - i);
		if (run)
			render_out_write(o, p + i, run);
		else
			render_out_puts(o, RENDER_UTF8_REPLACEMENT);
		i += run ? run : 1;
	}
	render_out_putc(o, '"');
}

static void json_put_base64(struct render_out *o, const unsigned char *p,
			    size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	render_out_putc(o, '"');
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64[v >> 18];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		render_out_write(o, q, 4);
	}
	render_out_putc(o, '"');
}

/*
 * "YYYY-MM-DD HH:MM:SS[.f][+HH[:MM]]" as ISO 8601 with a 'T' and, for
 * JavaScript's sake, an offset with minutes ("+03" becomes "+03:00").
 */
static void json_put_timestamp(struct render_out *o, const char *p, size_t n)
{
	char buf[64];
	size_t k, len;

	if (n < 19 || n > sizeof(buf) - 4) {
		json_put_string(o, p, n);
		return;
	}
	memcpy(buf, p, n);
	len = n;
	if (buf[10] == ' ')
		buf[10] = 'T';
	for (k = 19; k < len && buf[k] != '+' && buf[k] != '-'; k++)
		;
	if (k + 3 == len) {
		memcpy(buf + len, ":00", 3);
		len += 3;
	} else if (k + 5 == len && buf[k + 3] != ':') {
		memmove(buf + k + 4, buf + k + 3, 2);
		buf[k + 3] = ':';
		len++;
	}
	json_put_string(o, buf, len);
}

static void json_put_cell(struct render_out *o, enum col_type t,
			  const struct cell *v)
{
	if (v->null) {
		render_out_write(o, "null", 4);
		return;
	}
	switch (t) {
	case COL_INT:
	case COL_DECIMAL:
	case COL_FLOAT:
		if (json_is_number(v->p, v->len))
			render_out_write(o, v->p, v->len);
		else
			json_put_string(o, v->p, v->len);
		break;
	case COL_BOOL:
		if ((v->len == 4 && !memcmp(v->p, "true", 4)) ||
		    (v->len == 5 && !memcmp(v->p, "false", 5)))
			render_out_write(o, v->p, v->len);
		else
			json_put_string(o, v->p, v->len);
		break;
	case COL_TIMESTAMP:
		json_put_timestamp(o, v->p, v->len);
		break;
	case COL_BINARY:
		json_put_base64(o, (const unsigned char *)v->p, v->len);
		break;
	default:
		json_put_string(o, v->p, v->len);
	}
}

static int json_row(struct render *r, const struct cell *cells)
{
	struct render_json *j = (struct render_json *)r;

	if (r->rows)
		render_out_write(&j->out, ",\n", 2);
	for (size_t i = 0; i < r->m.ncols; i++) {
		render_out_write(&j->out, j->keys[i], j->keylens[i]);
		json_put_cell(&j->out, r->m.cols[i].type, &cells[i]);
	}
	if (r->m.ncols)
		render_out_putc(&j->out, '}');
	else
		render_out_write(&j->out, "{}", 2);
	return j->out.err;
}

/* Whether @name is among the first @upto keys. */
static bool json_key_used(char **keys, size_t upto, const char *name)
{
	for (size_t i = 0; i < upto; i++)
		if (strcmp(keys[i], name) == 0)
			return true;
	return false;
}

/* Whether @name is the own name of a column after @i. */
static bool json_name_later(char *const *names, size_t n, size_t i,
			    const char *name)
{
	for (size_t k = i + 1; k < n; k++)
		if (strcmp(names[k], name) == 0)
			return true;
	return false;
}

/*
 * The key of column @i of @n, from the names as written (@names, UTF-8
 * made valid): its name, or when an earlier column has it, the name
 * with the first "_N" (N >= 2) that no column uses.
 */
static char *json_unique_name(char *const *names, size_t n, size_t i,
			      char **keys)
{
	const char *name = names[i];
	struct strbuf sb = STRBUF_INIT;

	if (!json_key_used(keys, i, name))
		return xstrdup(name);
	for (unsigned k = 2;; k++) {
		strbuf_reset(&sb);
		if (strbuf_addf(&sb, "%s_%u", name, k) < 0)
			return NULL;
		if (!json_key_used(keys, i, sb.buf) &&
		    !json_name_later(names, n, i, sb.buf))
			return strbuf_detach(&sb);
	}
}

/*
 * @name with each byte that starts no UTF-8 character as U+FFFD, as it
 * is written: two names that differ only there must not share a key.
 */
static char *json_valid_name(const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	const unsigned char *u = (const unsigned char *)name;
	size_t n = strlen(name), len;
	int rc = strbuf_grow(&sb, n);

	for (size_t k = 0; k < n && !rc; k += len ? len : 1) {
		len = render_utf8_len(u + k, n - k);
		rc = len ? strbuf_add(&sb, name + k, len)
			 : strbuf_adds(&sb, RENDER_UTF8_REPLACEMENT);
	}
	if (rc) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

/* '{"name":' for the first column, ',"name":' for the others. */
static char *json_make_key(size_t i, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	const unsigned char *u = (const unsigned char *)name;
	size_t n = strlen(name), len;
	char esc[6];
	int rc;

	rc = strbuf_adds(&sb, i ? ",\"" : "{\"");
	for (size_t k = 0; k < n && !rc; k += len ? len : 1) {
		len = render_utf8_len(u + k, n - k);
		if (len == 1 && !json_plain(u[k]))
			rc = strbuf_add(&sb, esc, json_escape(u[k], esc));
		else if (len)
			rc = strbuf_add(&sb, name + k, len);
		else
			rc = strbuf_adds(&sb, RENDER_UTF8_REPLACEMENT);
	}
	if (rc || strbuf_adds(&sb, "\":") < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

static void json_free_keys(struct render_json *j)
{
	for (size_t i = 0; j->keys && i < j->base.m.ncols; i++)
		free(j->keys[i]);
	free(j->keys);
	free(j->keylens);
}

static void json_free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

static int json_make_keys(struct render_json *j)
{
	size_t n = j->base.m.ncols;
	char **valid = calloc(n ? n : 1, sizeof(*valid));
	char **names = calloc(n ? n : 1, sizeof(*names));
	int rc = -ENOMEM;

	j->keys = calloc(n ? n : 1, sizeof(*j->keys));
	j->keylens = calloc(n ? n : 1, sizeof(*j->keylens));
	if (!valid || !names || !j->keys || !j->keylens)
		goto out_free_names;
	for (size_t i = 0; i < n; i++)
		if (!(valid[i] = json_valid_name(j->base.m.cols[i].name)))
			goto out_free_names;
	for (size_t i = 0; i < n; i++) {
		names[i] = json_unique_name(valid, n, i, names);
		j->keys[i] = names[i] ? json_make_key(i, names[i]) : NULL;
		if (!j->keys[i])
			goto out_free_names;
		j->keylens[i] = strlen(j->keys[i]);
	}
	rc = 0;
out_free_names:
	json_free_names(valid, n);
	json_free_names(names, n);
	return rc;
}

static int json_open(struct render *r, char *err, size_t errlen)
{
	struct render_json *j = (struct render_json *)r;
	int rc;

	rc = render_out_open(&j->out, r->path);
	if (rc < 0)
		return render_errf(err, errlen, rc, "creating %s", r->path);
	rc = json_make_keys(j);
	if (rc < 0) {
		render_out_discard(&j->out);
		json_free_keys(j);
		return render_errf(err, errlen, rc, "rendering %s", r->path);
	}
	render_out_write(&j->out, "[\n", 2);
	return 0;
}

static int json_close(struct render *r, char *err, size_t errlen)
{
	struct render_json *j = (struct render_json *)r;
	int rc;

	render_out_write(&j->out, r->rows ? "\n]\n" : "]\n", r->rows ? 3 : 2);
	rc = render_out_close(&j->out);
	json_free_keys(j);
	if (rc < 0)
		return render_errf(err, errlen, rc, "writing %s", r->path);
	return 0;
}

static void json_abort(struct render *r)
{
	struct render_json *j = (struct render_json *)r;

	render_out_discard(&j->out);
	json_free_keys(j);
}

const struct render_ops render_json_ops = {
    .size = sizeof(struct render_json),
    .open = json_open,
    .row = json_row,
    .close = json_close,
    .abort = json_abort,
};
