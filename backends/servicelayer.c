/*
 * servicelayer: the SAP Business One Service Layer source (driver.h).
 *
 * A connection is one session (slhttp.c).  A result is read a page at a
 * time: the page lands in one reused buffer and is parsed in place by
 * sljson, so memory follows page_size, not the result, and numbers keep
 * the exact text the server sent.  Column types are decided on the first
 * page, which execute() reads twice: once to learn the columns and their
 * values' kinds without changing the buffer, once more through fetch().
 * Later pages follow odata.nextLink (v1) or @odata.nextLink (v2).
 *
 * An OData report's path is sent as written, with :name placeholders
 * bound as OData literals.  SQL is kept on the server as the stored query
 * SQLQueries('sapb1fs_<label>') and run through its List function; the
 * Service Layer rewrites the SqlText it stores, so whether the stored
 * query is current is told by a fingerprint of our text in its SqlName.
 */
#include "config.h"
#include "driver.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "slhttp.h"
#include "sljson.h"
#include "util.h"

#define SL_SCRATCH 16	/* bytes per column for a rewritten value */
#define SL_KEY_MAX 512	/* longest member name we compare */
#define SL_CODE_MAX 100 /* SqlCode length kept */

/* Kinds of JSON value seen in one column of the first page. */
enum {
	SEEN_INT = 1,
	SEEN_DEC = 2,
	SEEN_EXP = 4,
	SEEN_BOOL = 8,
	SEEN_STR = 16,
	SEEN_RAW = 32,
};

struct sl_seen {
	unsigned kinds;
	unsigned strings, dates, midnights, compacts, stamps, times;
	int frac_min, frac_max;
};

struct drv_conn {
	struct sl_http *http;

	bool active;	 /* a result is open */
	bool done;	 /* its last page is read */
	bool single;	 /* the page is one entity, not a collection */
	bool fixed_cols; /* columns come from $select */
	struct col_desc *cols;
	struct sl_seen *seen;
	size_t ncols, cap;
	struct cell *cells;
	char *scratch;
	size_t hint; /* the column the next member probably is */
	long scanned;
	struct slj js;
	struct slj rows_start;
	char *url;	  /* the page being read */
	char *next;	  /* the page after it, or NULL */
	char *stored_sql; /* SQL: the SqlText the server keeps for us */
	bool sql_moved;	  /* a page ran some other SqlText */
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int nomem(char *err, size_t errlen)
{
	return fail(err, errlen, DRV_ERR_QUERY, "out of memory");
}

/* ---- placeholders and literals ----------------------------------------- */

static bool ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* A number the Service Layer should get bare: no sign games, no 007. */
static bool plain_number(const char *s)
{
	if (*s == '-')
		s++;
	if (!isdigit((unsigned char)*s) ||
	    (s[0] == '0' && isdigit((unsigned char)s[1])))
		return false;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

/* 'text' with quotes doubled, a bare number, or NULL. */
static int add_literal(struct strbuf *sb, const char *v, const char *null)
{
	int rc;

	if (!v)
		return strbuf_adds(sb, null);
	if (plain_number(v))
		return strbuf_adds(sb, v);
	rc = strbuf_addc(sb, '\'');
	for (; *v && !rc; v++)
		rc = *v == '\'' ? strbuf_adds(sb, "''") : strbuf_addc(sb, *v);
	return rc ? rc : strbuf_addc(sb, '\'');
}

static const struct drv_param *find_param(const struct drv_param *p, size_t n,
					  const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(p[i].name) == len &&
		    strncmp(p[i].name, name, len) == 0)
			return &p[i];
	return NULL;
}

/* Length of the quoted run at @s (opening quote @q), or of the rest. */
static size_t quoted_len(const char *s, char q)
{
	const char *p = s + 1;

	for (;;) {
		p = strchr(p, q);
		if (!p)
			return strlen(s);
		if (q != '\'' || p[1] != '\'')
			return (size_t)(p + 1 - s);
		p += 2;
	}
}

/* Length of a comment at @s, or 0. */
static size_t comment_len(const char *s)
{
	const char *e;

	if (s[0] == '-' && s[1] == '-') {
		e = strchr(s, '\n');
		return e ? (size_t)(e - s) : strlen(s);
	}
	if (s[0] == '/' && s[1] == '*') {
		e = strstr(s + 2, "*/");
		return e ? (size_t)(e + 2 - s) : strlen(s);
	}
	return 0;
}

/*
 * Walks the ":name" placeholders of @text outside literals (and, for
 * SQL, outside quoted names and comments), calling @fn for each and for
 * the text between them.
 */
struct ph_walk {
	int (*text)(void *arg, const char *s, size_t len);
	int (*name)(void *arg, const char *s, size_t len);
	void *arg;
	bool sql;
};

static size_t skip_run(const struct ph_walk *w, const char *s)
{
	if (*s == '\'')
		return quoted_len(s, '\'');
	if (!w->sql)
		return 0;
	if (*s == '"')
		return quoted_len(s, '"');
	if (*s == '[')
		return quoted_len(s, ']');
	return comment_len(s);
}

static int ph_walk(const struct ph_walk *w, const char *s)
{
	const char *from = s;
	int rc = 0;

	while (*s && !rc) {
		size_t n = skip_run(w, s);
		const char *e;

		if (n) {
			s += n;
			continue;
		}
		if (s[0] != ':' || s[1] == ':' || !ident_start(s[1]) ||
		    (s > from && (s[-1] == ':' || ident_char(s[-1])))) {
			s += s[0] == ':' && s[1] == ':' ? 2 : 1;
			continue;
		}
		for (e = s + 1; ident_char(*e); e++)
			;
		rc = w->text(w->arg, from, (size_t)(s - from));
		rc = rc ? rc : w->name(w->arg, s + 1, (size_t)(e - s - 1));
		s = from = e;
	}
	return rc ? rc : w->text(w->arg, from, strlen(from));
}

struct bind_ctx {
	struct strbuf *text; /* OData: the path with literals bound */
	struct strbuf *list; /* SQL: the ParamList */
	const struct drv_param *params;
	size_t nparams;
	char *missing; /* the first name without a value */
};

static int bind_text(void *arg, const char *s, size_t len)
{
	struct bind_ctx *b = arg;

	return b->text ? strbuf_add(b->text, s, len) : 0;
}

static const struct drv_param *bind_find(struct bind_ctx *b, const char *s,
					 size_t len)
{
	const struct drv_param *p = find_param(b->params, b->nparams, s, len);

	if (!p && !b->missing)
		b->missing = xstrndup(s, len);
	return p;
}

/* OData: the value as a literal in place of the placeholder. */
static int bind_odata(void *arg, const char *s, size_t len)
{
	struct bind_ctx *b = arg;
	const struct drv_param *p = bind_find(b, s, len);

	return p ? add_literal(b->text, p->value, "null") : -1;
}

/* True when the ParamList already has "name=". */
static bool list_has(const struct strbuf *l, const char *s, size_t len)
{
	const char *q = l->buf;

	while (q && *q) {
		if (strncmp(q, s, len) == 0 && q[len] == '=')
			return true;
		q = strchr(q, '&');
		q = q ? q + 1 : NULL;
	}
	return false;
}

/* SQL: "name=literal" joined by '&', each name once. */
static int bind_sql(void *arg, const char *s, size_t len)
{
	struct bind_ctx *b = arg;
	const struct drv_param *p = bind_find(b, s, len);
	struct strbuf *o = b->list;
	int rc;

	if (!p)
		return -1;
	if (list_has(o, s, len))
		return 0;
	rc = o->len ? strbuf_addc(o, '&') : 0;
	rc = rc ? rc : strbuf_add(o, s, len);
	rc = rc ? rc : strbuf_addc(o, '=');
	return rc ? rc : add_literal(o, p->value, "NULL");
}

/*
 * Binds @params to the placeholders of @text: for OData into @out as the
 * path to send, for SQL into @out as the ParamList.
 */
static int bind(const char *text, bool sql, const struct drv_param *params,
		size_t nparams, struct strbuf *out, char *err, size_t errlen)
{
	struct bind_ctx b = {sql ? NULL : out, sql ? out : NULL, params,
			     nparams, NULL};
	struct ph_walk w = {bind_text, sql ? bind_sql : bind_odata, &b, sql};
	int rc = ph_walk(&w, text);

	if (rc && b.missing)
		rc = fail(err, errlen, DRV_ERR_QUERY,
			  "no value for parameter :%s", b.missing);
	else if (rc)
		rc = nomem(err, errlen);
	free(b.missing);
	return rc;
}

/* ---- columns ----------------------------------------------------------- */

static void cols_free(struct drv_conn *c)
{
	for (size_t i = 0; i < c->ncols; i++)
		free(c->cols[i].name);
	free(c->cols);
	free(c->seen);
	free(c->cells);
	free(c->scratch);
	c->cols = NULL;
	c->seen = NULL;
	c->cells = NULL;
	c->scratch = NULL;
	c->ncols = c->cap = 0;
}

static int col_add(struct drv_conn *c, const char *name, size_t len)
{
	struct sl_seen *seen;
	struct col_desc *cols;

	if (c->ncols == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;

		cols = realloc(c->cols, cap * sizeof(*cols));
		if (!cols)
			return -1;
		c->cols = cols;
		seen = realloc(c->seen, cap * sizeof(*seen));
		if (!seen)
			return -1;
		c->seen = seen;
		c->cap = cap;
	}
	memset(&c->cols[c->ncols], 0, sizeof(c->cols[0]));
	memset(&c->seen[c->ncols], 0, sizeof(c->seen[0]));
	c->cols[c->ncols].name = xstrndup(name, len);
	if (!c->cols[c->ncols].name)
		return -1;
	c->seen[c->ncols].frac_min = -1;
	c->ncols++;
	return 0;
}

static int hexval(char c)
{
	return isdigit((unsigned char)c)
		   ? c - '0'
		   : (tolower((unsigned char)c) - 'a' + 10);
}

/* Adds one $select name, percent-decoded and trimmed. */
static int select_add(struct drv_conn *c, const char *s, size_t len)
{
	char name[SL_KEY_MAX];
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < sizeof(name); i++) {
		if (s[i] == '%' && i + 2 < len &&
		    isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			name[n++] =
			    (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else if (s[i] != ' ' && s[i] != '+') {
			name[n++] = s[i];
		}
	}
	return n ? col_add(c, name, n) : 0;
}

/* The columns of an OData path's $select, when it names them. */
static int select_cols(struct drv_conn *c, const char *path)
{
	const char *q = strchr(path, '?'), *v = NULL, *e;

	while (q && *q) {
		q++;
		if (strncmp(q, "$select=", 8) == 0)
			v = q + 8;
		else if (strncasecmp(q, "%24select=", 10) == 0)
			v = q + 10;
		q = strchr(q, '&');
	}
	if (!v)
		return 0;
	e = v + strcspn(v, "&");
	if (e - v == 1 && *v == '*')
		return 0;
	while (v < e) {
		const char *comma = memchr(v, ',', (size_t)(e - v));
		const char *end = comma ? comma : e;

		if (select_add(c, v, (size_t)(end - v)))
			return -1;
		v = end + 1;
	}
	c->fixed_cols = c->ncols > 0;
	return 0;
}

/* "odata.metadata", "@odata.etag", "X@odata.navigationLink"... */
static bool meta_key(const char *k, size_t len)
{
	return (len > 6 && strncmp(k, "odata.", 6) == 0) ||
	       memchr(k, '@', len) != NULL;
}

/*
 * The column of member @k, or -1 to skip it.  Members usually come in
 * column order, so the guess is the column after the last one.
 */
static long col_find(struct drv_conn *c, const char *k, size_t len,
		     bool may_add)
{
	for (size_t n = 0; n < c->ncols; n++) {
		size_t i = (c->hint + n) % c->ncols;
		const char *name = c->cols[i].name;

		if (strncmp(name, k, len) == 0 && name[len] == '\0') {
			c->hint = i + 1;
			return (long)i;
		}
	}
	if (!may_add || meta_key(k, len))
		return -1;
	if (col_add(c, k, len))
		return -2;
	c->hint = c->ncols;
	return (long)c->ncols - 1;
}

/* ---- types from values ------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_date(const char *s, size_t n)
{
	return n >= 10 && all_digits(s, 4) && s[4] == '-' &&
	       all_digits(s + 5, 2) && s[7] == '-' && all_digits(s + 8, 2);
}

static bool is_time(const char *s, size_t n)
{
	return n >= 8 && all_digits(s, 2) && s[2] == ':' &&
	       all_digits(s + 3, 2) && s[5] == ':' && all_digits(s + 6, 2) &&
	       (n == 8 || (s[8] == '.' && n > 9 && all_digits(s + 9, n - 9)));
}

/* YYYY-MM-DDTHH:MM:SS[.f][Z|+HH:MM] */
static bool is_stamp(const char *s, size_t n)
{
	size_t t = 19;

	if (n < 19 || !is_date(s, 10) || (s[10] != 'T' && s[10] != ' ') ||
	    !is_time(s + 11, 8))
		return false;
	if (t < n && s[t] == '.')
		for (t++; t < n && isdigit((unsigned char)s[t]); t++)
			;
	if (t < n && s[t] == 'Z')
		t++;
	else if (t + 6 == n && (s[t] == '+' || s[t] == '-'))
		t = n;
	return t == n;
}

static bool is_midnight(const char *s, size_t n)
{
	size_t t = 19;

	if (!is_stamp(s, n) || memcmp(s + 11, "00:00:00", 8) != 0)
		return false;
	if (t < n && s[t] == '.')
		for (t++; t < n && s[t] == '0'; t++)
			;
	return t == n || (t + 1 == n && s[t] == 'Z');
}

/* YYYYMMDD, as SQL Server dates come out of SQLQueries List. */
static bool is_compact_date(const char *s, size_t n)
{
	int m, d;

	if (n != 8 || !all_digits(s, 8) || s[0] == '0')
		return false;
	m = (s[4] - '0') * 10 + (s[5] - '0');
	d = (s[6] - '0') * 10 + (s[7] - '0');
	return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static void seen_number(struct sl_seen *s, const char *t, size_t n)
{
	const char *dot = memchr(t, '.', n);
	int frac = 0;

	if (memchr(t, 'e', n) || memchr(t, 'E', n)) {
		s->kinds |= SEEN_EXP;
		return;
	}
	if (dot) {
		s->kinds |= SEEN_DEC;
		frac = (int)(n - (size_t)(dot - t) - 1);
	} else {
		s->kinds |= SEEN_INT;
	}
	if (s->frac_min < 0 || frac < s->frac_min)
		s->frac_min = frac;
	if (frac > s->frac_max)
		s->frac_max = frac;
}

static void seen_string(struct sl_seen *s, const char *t, size_t n)
{
	s->kinds |= SEEN_STR;
	s->strings++;
	if (n == 10 && is_date(t, n))
		s->dates++;
	else if (is_compact_date(t, n))
		s->compacts++;
	else if (is_time(t, n))
		s->times++;
	if (is_stamp(t, n)) {
		s->stamps++;
		s->midnights += is_midnight(t, n);
	}
}

static bool name_has(const char *name, const char *word)
{
	return strcasestr(name, word) != NULL;
}

static void text_type(struct col_desc *d, const struct sl_seen *s)
{
	bool dated = name_has(d->name, "date") || name_has(d->name, "time");

	if (!dated)
		return;
	if (s->dates + s->midnights + s->compacts == s->strings)
		d->type = COL_DATE;
	else if (s->stamps == s->strings)
		d->type = COL_TIMESTAMP;
	else if (s->times == s->strings && name_has(d->name, "time"))
		d->type = COL_TIME;
}

static void decide_type(struct col_desc *d, const struct sl_seen *s)
{
	const unsigned num = SEEN_INT | SEEN_DEC | SEEN_EXP;

	d->type = COL_TEXT;
	d->precision = 0;
	d->scale = -1;
	if (s->kinds == SEEN_BOOL) {
		d->type = COL_BOOL;
	} else if (s->kinds && !(s->kinds & ~num)) {
		if (s->kinds & SEEN_EXP) {
			d->type = COL_FLOAT;
		} else if (s->kinds & SEEN_DEC) {
			d->type = COL_DECIMAL;
			if (s->frac_min == s->frac_max)
				d->scale = s->frac_max;
		} else {
			d->type = COL_INT;
			d->scale = 0;
		}
	} else if (s->kinds == SEEN_STR) {
		text_type(d, s);
	}
}

/* ---- reading a page ---------------------------------------------------- */

static int bad_page(struct drv_conn *c, const char *why, char *err,
		    size_t errlen)
{
	const char *detail = c->js.error ? c->js.error : why;

	return fail(err, errlen, DRV_ERR_QUERY,
		    "malformed answer from %s: %s at byte %zu",
		    sl_http_origin(c->http), detail, slj_offset(&c->js));
}

static bool next_link_key(const struct slj *j)
{
	return slj_is(j, "odata.nextLink") || slj_is(j, "@odata.nextLink");
}

/* Keeps the nextLink string token as the full URL of the next page. */
static int take_link(struct drv_conn *c, int tok, char *err, size_t errlen)
{
	char *raw;
	long n;

	if (tok == SLJ_NULL)
		return 0;
	if (tok != SLJ_STRING)
		return bad_page(c, "nextLink is not a string", err, errlen);
	raw = xstrndup(c->js.tok, c->js.len);
	if (!raw)
		return nomem(err, errlen);
	n = c->js.escaped ? slj_unescape(raw, c->js.len) : (long)c->js.len;
	if (n < 0) {
		free(raw);
		return bad_page(c, "bad escape in nextLink", err, errlen);
	}
	raw[n] = '\0';
	free(c->next);
	c->next = n ? sl_url_resolve(c->http, raw) : NULL;
	free(raw);
	return n && !c->next ? nomem(err, errlen) : 0;
}

/* A member we do not use: skip its value, or keep it when a nextLink. */
/*
 * A List page names the SqlText it ran.  When that is not what we stored
 * a moment ago, someone changed the stored query in between (another
 * host, or another definition under the same name): the rows would be
 * another query's.
 */
static void check_sql_text(struct drv_conn *c, int tok)
{
	char *text;
	long n;

	if (tok != SLJ_STRING)
		return;
	text = xstrndup(c->js.tok, c->js.len);
	if (!text)
		return;
	n = c->js.escaped ? slj_unescape(text, c->js.len) : (long)c->js.len;
	if (n >= 0) {
		text[n] = '\0';
		c->sql_moved = c->sql_moved || strcmp(text, c->stored_sql) != 0;
	}
	free(text);
}

static int other_member(struct drv_conn *c, char *err, size_t errlen)
{
	bool link = next_link_key(&c->js);
	bool sqltext = c->stored_sql && slj_is(&c->js, "SqlText");
	int t = slj_next(&c->js);
	char *raw;
	size_t len;

	if (link)
		return take_link(c, t, err, errlen);
	if (sqltext)
		check_sql_text(c, t);
	if (t == SLJ_ERROR || slj_skip(&c->js, t, &raw, &len))
		return bad_page(c, "bad value", err, errlen);
	return 0;
}

static int page_end(struct drv_conn *c, char *err, size_t errlen);

/*
 * Reads past the rows to the members after them for the nextLink, and
 * asks for that page at once: the server makes it while this one is
 * read.  The reader goes back to the first row.
 */
static int look_ahead(struct drv_conn *c, char *err, size_t errlen)
{
	struct slj rows = c->js;
	char *raw;
	size_t len;
	int rc;

	if (slj_skip(&c->js, SLJ_ARRAY, &raw, &len))
		rc = bad_page(c, "bad rows", err, errlen);
	else
		rc = page_end(c, err, errlen);
	c->js = rows;
	if (rc == 0 && c->next)
		sl_http_ahead(c->http, c->next);
	return rc;
}

/* Positions the reader at the page's first entity. */
static int page_begin(struct drv_conn *c, char *err, size_t errlen)
{
	struct slj *j = &c->js;
	size_t len;
	char *buf = sl_http_body(c->http, &len);
	int t, rc;

	free(c->next);
	c->next = NULL;
	c->single = false;
	if (!buf)
		return nomem(err, errlen);
	slj_init(j, buf, len);
	if (slj_next(j) != SLJ_OBJECT)
		return bad_page(c, "expected a JSON object", err, errlen);
	for (;;) {
		t = slj_next(j);
		if (t == SLJ_OBJECT_END) {
			/* one entity: GET Items('A1') */
			slj_init(j, buf, len);
			c->single = true;
			return 0;
		}
		if (t != SLJ_KEY)
			return bad_page(c, "expected a member", err, errlen);
		if (slj_is(j, "value"))
			break;
		rc = other_member(c, err, errlen);
		if (rc)
			return rc;
	}
	if (slj_next(j) != SLJ_ARRAY)
		return bad_page(c, "\"value\" is not an array", err, errlen);
	return look_ahead(c, err, errlen);
}

/* After the last entity: the members that follow, then the end. */
static int page_end(struct drv_conn *c, char *err, size_t errlen)
{
	int t, rc;

	if (c->single)
		return 0;
	while ((t = slj_next(&c->js)) == SLJ_KEY) {
		rc = other_member(c, err, errlen);
		if (rc)
			return rc;
	}
	if (t != SLJ_OBJECT_END || slj_next(&c->js) != SLJ_EOF)
		return bad_page(c, "unexpected text after the rows", err,
				errlen);
	return 0;
}

/* The member name under the reader, decoded when it has escapes. */
static int member_name(struct drv_conn *c, char *buf, const char **k,
		       size_t *len)
{
	long n;

	*k = c->js.tok;
	*len = c->js.len;
	if (!c->js.escaped)
		return 0;
	if (c->js.len >= SL_KEY_MAX)
		return -1;
	memcpy(buf, c->js.tok, c->js.len);
	n = slj_unescape(buf, c->js.len);
	if (n < 0)
		return -1;
	*k = buf;
	*len = (size_t)n;
	return 0;
}

/* First page, first pass: what kinds of value each column holds. */
static int note_value(struct drv_conn *c, long i, int t)
{
	struct sl_seen *s = &c->seen[i];
	char *raw;
	size_t len;

	switch (t) {
	case SLJ_NUMBER:
		seen_number(s, c->js.tok, c->js.len);
		return 0;
	case SLJ_STRING:
		if (c->js.escaped) {
			s->kinds |= SEEN_STR;
			s->strings++;
		} else {
			seen_string(s, c->js.tok, c->js.len);
		}
		return 0;
	case SLJ_TRUE:
	case SLJ_FALSE:
		s->kinds |= SEEN_BOOL;
		return 0;
	case SLJ_NULL:
		return 0;
	default:
		s->kinds |= SEEN_RAW;
		return slj_skip(&c->js, t, &raw, &len);
	}
}

/* A string cell, decoded, and dates put in canonical form. */
static int string_cell(struct drv_conn *c, long i, struct cell *cl)
{
	enum col_type type = c->cols[i].type;
	char *s = c->js.tok, *o;
	long n = (long)c->js.len;

	if (c->js.escaped && (n = slj_unescape(s, c->js.len)) < 0)
		return -1;
	cl->p = s;
	cl->len = (size_t)n;
	if (type == COL_DATE && is_compact_date(s, (size_t)n)) {
		o = c->scratch + (size_t)i * SL_SCRATCH;
		snprintf(o, SL_SCRATCH, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
		cl->p = o;
		cl->len = 10;
	} else if (type == COL_DATE && is_midnight(s, (size_t)n)) {
		cl->len = 10;
	} else if (type == COL_TIMESTAMP && n > 10 && s[10] == 'T') {
		s[10] = ' ';
	}
	return 0;
}

/* Second pass: the value as a cell of row @i's column. */
static int set_cell(struct drv_conn *c, long i, int t)
{
	struct cell *cl = &c->cells[i];
	char *raw, *e;
	size_t len;

	cl->null = false;
	cl->p = c->js.tok;
	cl->len = c->js.len;
	switch (t) {
	case SLJ_NUMBER:
		if (c->cols[i].type == COL_FLOAT) {
			e = memchr(cl->p, 'E', cl->len);
			if (e)
				*e = 'e';
		}
		return 0;
	case SLJ_STRING:
		return string_cell(c, i, cl);
	case SLJ_TRUE:
	case SLJ_FALSE:
		return 0;
	case SLJ_NULL:
		cl->null = true;
		cl->len = 0;
		return 0;
	default:
		if (slj_skip(&c->js, t, &raw, &len))
			return -1;
		cl->p = raw;
		cl->len = len;
		return 0;
	}
}

static void cells_clear(struct drv_conn *c)
{
	for (size_t i = 0; i < c->ncols; i++) {
		c->cells[i].p = "";
		c->cells[i].len = 0;
		c->cells[i].null = true;
	}
}

/* One member of an entity: find its column, note or keep the value. */
static int member(struct drv_conn *c, bool scan, char *err, size_t errlen)
{
	bool define = scan && !c->fixed_cols && c->scanned == 0;
	char keybuf[SL_KEY_MAX], *raw;
	const char *k;
	size_t len;
	long i;
	int t;

	if (member_name(c, keybuf, &k, &len))
		return bad_page(c, "bad member name", err, errlen);
	i = col_find(c, k, len, define);
	if (i == -2)
		return nomem(err, errlen);
	t = slj_next(&c->js);
	if (t == SLJ_ERROR || t == SLJ_EOF || t == SLJ_KEY ||
	    t == SLJ_OBJECT_END || t == SLJ_ARRAY_END)
		return bad_page(c, "expected a value", err, errlen);
	if (i < 0) {
		if (slj_skip(&c->js, t, &raw, &len))
			return bad_page(c, "bad value", err, errlen);
		return 0;
	}
	if (scan ? note_value(c, i, t) : set_cell(c, i, t))
		return bad_page(c, "bad value", err, errlen);
	return 0;
}

/*
 * The next entity of the page: 1, 0 after the last one, or an error.
 * @scan: first pass, only notes kinds and may define the columns.
 */
static int next_entity(struct drv_conn *c, bool scan, char *err, size_t errlen)
{
	int t = slj_next(&c->js), rc;

	if (t == SLJ_ARRAY_END || (c->single && t == SLJ_EOF))
		return 0;
	if (t != SLJ_OBJECT)
		return bad_page(c, "expected an entity", err, errlen);
	if (!scan)
		cells_clear(c);
	c->hint = 0;
	while ((t = slj_next(&c->js)) == SLJ_KEY) {
		rc = member(c, scan, err, errlen);
		if (rc)
			return rc;
	}
	if (t != SLJ_OBJECT_END)
		return bad_page(c, "expected a member", err, errlen);
	if (scan)
		c->scanned++;
	return 1;
}

/* Reads the first page once for the columns and their types, rewinds. */
static int scan_first_page(struct drv_conn *c, char *err, size_t errlen)
{
	int rc;

	c->rows_start = c->js;
	c->scanned = 0;
	while ((rc = next_entity(c, true, err, errlen)) == 1)
		;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c->ncols; i++)
		decide_type(&c->cols[i], &c->seen[i]);
	c->cells = calloc(c->ncols ? c->ncols : 1, sizeof(*c->cells));
	c->scratch = calloc(c->ncols ? c->ncols : 1, SL_SCRATCH);
	if (!c->cells || !c->scratch)
		return nomem(err, errlen);
	c->js = c->rows_start;
	return 0;
}

/* ---- stored queries ---------------------------------------------------- */

/* @s without leading and trailing white space. */
static char *trim_dup(const char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static void trim_front(struct strbuf *sb)
{
	size_t i = 0;

	while (i < sb->len && isspace((unsigned char)sb->buf[i]))
		i++;
	memmove(sb->buf, sb->buf + i, sb->len - i + 1);
	sb->len -= i;
}

/*
 * SQL as stored: comments dropped (the Service Layer parses and rewrites
 * the text, and a "--" comment would swallow what its rewrite puts on
 * the same line), trimmed, without a final ';'.
 */
static char *clean_sql(const char *sql)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = 0;

	while (*sql && !rc) {
		size_t n = *sql == '\'' || *sql == '"' || *sql == '['
			       ? quoted_len(sql, *sql == '[' ? ']' : *sql)
			       : 0;
		size_t skip = n ? 0 : comment_len(sql);

		if (n)
			rc = strbuf_add(&sb, sql, n);
		else if (skip)
			rc = strbuf_addc(&sb, sql[0] == '/' ? ' ' : '\n');
		else
			rc = strbuf_addc(&sb, *sql);
		sql += n ? n : skip ? skip : 1;
	}
	if (rc || strbuf_grow(&sb, 0)) {
		strbuf_release(&sb);
		return NULL;
	}
	while (sb.len && (isspace((unsigned char)sb.buf[sb.len - 1]) ||
			  sb.buf[sb.len - 1] == ';'))
		sb.buf[--sb.len] = '\0';
	trim_front(&sb);
	return strbuf_detach(&sb);
}

/* "sapb1fs_<label>", with odd characters replaced and a hash to tell. */
static void query_code(const char *label, char *out, size_t outlen)
{
	size_t n = 0, max = SL_CODE_MAX - 26;
	bool plain = true;

	n = (size_t)snprintf(out, outlen, "sapb1fs_");
	for (const char *p = label; *p && n + 1 < outlen; p++) {
		bool ok = ident_char(*p) || *p == '-';

		plain = plain && ok;
		if ((size_t)(p - label) < max)
			out[n++] = ok ? *p : '_';
	}
	out[n] = '\0';
	if (!plain || strlen(label) >= max)
		snprintf(out + n, outlen - n, "_%08x",
			 (unsigned)(hash64_str(label) & 0xffffffffu));
}

static int query_body(struct strbuf *sb, const char *code, const char *name,
		      const char *sql)
{
	int rc = strbuf_addc(sb, '{');

	if (code) {
		rc = rc ? rc : strbuf_adds(sb, "\"SqlCode\":");
		rc = rc ? rc : sl_json_add_str(sb, code);
		rc = rc ? rc : strbuf_addc(sb, ',');
	}
	rc = rc ? rc : strbuf_adds(sb, "\"SqlName\":");
	rc = rc ? rc : sl_json_add_str(sb, name);
	rc = rc ? rc : strbuf_adds(sb, ",\"SqlText\":");
	rc = rc ? rc : sl_json_add_str(sb, sql);
	return rc ? rc : strbuf_addc(sb, '}');
}

/*
 * From a stored query in the last answer: 1 when its SqlName is @name,
 * keeping its SqlText as the server wrote it; 0 when not.
 */
static int stored_name_is(struct drv_conn *c, const char *name)
{
	size_t len;
	char *body = sl_http_body(c->http, &len);
	cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
	cJSON *sn = cJSON_GetObjectItemCaseSensitive(root, "SqlName");
	cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "SqlText");
	int same = cJSON_IsString(sn) && strcmp(sn->valuestring, name) == 0;

	free(c->stored_sql);
	c->stored_sql = NULL;
	if (same && cJSON_IsString(st))
		c->stored_sql = xstrdup(st->valuestring);
	cJSON_Delete(root);
	return same;
}

/* Creates SQLQueries('@code'); 1 when it exists already (a race). */
static int create_query(struct drv_conn *c, const char *code, const char *name,
			const char *sql, const char *what, char *err,
			size_t errlen)
{
	struct strbuf url = STRBUF_INIT, body = STRBUF_INIT;
	int rc;

	if (strbuf_addf(&url, "%s/SQLQueries", sl_http_root(c->http)) ||
	    query_body(&body, code, name, sql))
		rc = nomem(err, errlen);
	else
		rc = sl_http_call(c->http, SL_POST, url.buf, body.buf, what,
				  err, errlen);
	strbuf_release(&url);
	strbuf_release(&body);
	if (rc == DRV_ERR_QUERY && sl_http_status(c->http) == 400)
		return 1;
	return rc;
}

static int patch_query(struct drv_conn *c, const char *url, const char *name,
		       const char *sql, const char *what, char *err,
		       size_t errlen)
{
	struct strbuf body = STRBUF_INIT;
	int rc;

	if (query_body(&body, NULL, name, sql))
		rc = nomem(err, errlen);
	else
		rc = sl_http_call(c->http, SL_PATCH, url, body.buf, what, err,
				  errlen);
	strbuf_release(&body);
	return rc;
}

/*
 * Makes SQLQueries('@code') hold @sql: read it, then create it when
 * missing or patch it when its fingerprint differs.  A create refused
 * because another host made it meanwhile is followed by one more look.
 */
static int ensure_query(struct drv_conn *c, const char *code, const char *label,
			const char *sql, char *err, size_t errlen)
{
	struct strbuf url = STRBUF_INIT;
	char name[160], what[200];
	int rc = DRV_OK;

	snprintf(name, sizeof(name), "sapb1fs %016llx %.100s",
		 (unsigned long long)hash64_str(sql), label);
	snprintf(what, sizeof(what), "stored query %s", code);
	if (strbuf_addf(&url, "%s/SQLQueries('%s')", sl_http_root(c->http),
			code))
		return nomem(err, errlen);
	for (int attempt = 0; attempt < 3; attempt++) {
		rc = sl_http_call(c->http, SL_GET, url.buf, NULL, what, err,
				  errlen);
		if (rc == DRV_OK && stored_name_is(c, name))
			break;
		if (rc == DRV_OK)
			rc = patch_query(c, url.buf, name, sql, what, err,
					 errlen);
		else if (sl_http_status(c->http) == 404)
			rc =
			    create_query(c, code, name, sql, what, err, errlen);
		if (rc == DRV_OK)
			continue; /* read back what the server keeps */
		if (rc != 1)
			break;
	}
	strbuf_release(&url);
	return rc == 1 ? DRV_ERR_QUERY : rc;
}

/* ---- the driver -------------------------------------------------------- */

static void result_reset(struct drv_conn *c)
{
	sl_http_abort_ahead(c->http);
	cols_free(c);
	free(c->url);
	free(c->next);
	free(c->stored_sql);
	c->url = c->next = c->stored_sql = NULL;
	c->sql_moved = false;
	c->active = c->done = c->single = c->fixed_cols = false;
	c->hint = 0;
	c->scanned = 0;
}

static int sl_connect(const struct conf_source *src, int timeout_ms,
		      struct drv_conn **out, char *err, size_t errlen)
{
	struct drv_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return nomem(err, errlen);
	rc = sl_http_new(src, &c->http, err, errlen);
	if (rc == DRV_OK) {
		sl_http_deadline(c->http, timeout_ms);
		rc = sl_http_login(c->http, err, errlen);
	}
	if (rc) {
		sl_http_free(c->http);
		free(c);
		return rc;
	}
	*out = c;
	return DRV_OK;
}

static void sl_disconnect(struct drv_conn *c)
{
	if (!c)
		return;
	result_reset(c);
	sl_http_free(c->http);
	free(c);
}

/* OData: bind the placeholders, learn $select, resolve the URL. */
static int odata_url(struct drv_conn *c, const char *path,
		     const struct drv_param *params, size_t nparams, char *err,
		     size_t errlen)
{
	struct strbuf bound = STRBUF_INIT;
	char *p = trim_dup(path), *q;
	int rc;

	if (!p)
		return nomem(err, errlen);
	for (q = p; *q == '/' && q[1] != '/'; q++)
		;
	rc = bind(q, false, params, nparams, &bound, err, errlen);
	if (rc == DRV_OK && !bound.len)
		rc = fail(err, errlen, DRV_ERR_QUERY, "empty OData path");
	if (rc == DRV_OK && select_cols(c, bound.buf))
		rc = nomem(err, errlen);
	if (rc == DRV_OK) {
		c->url = sl_url_resolve(c->http, bound.buf);
		if (!c->url)
			rc = nomem(err, errlen);
	}
	free(p);
	strbuf_release(&bound);
	return rc;
}

/* SQL: the stored query made current, its List URL and ParamList. */
static int sql_url(struct drv_conn *c, const char *label, const char *sql,
		   const struct drv_param *params, size_t nparams,
		   struct strbuf *body, char *err, size_t errlen)
{
	struct strbuf list = STRBUF_INIT, url = STRBUF_INIT;
	char code[SL_CODE_MAX + 32], *text = clean_sql(sql);
	int rc;

	if (!text)
		return nomem(err, errlen);
	if (!label || !*label || !*text) {
		free(text);
		return fail(err, errlen, DRV_ERR_QUERY,
			    "SQL for the Service Layer needs a report name "
			    "and a statement");
	}
	query_code(label, code, sizeof(code));
	rc = bind(text, true, params, nparams, &list, err, errlen);
	rc = rc ? rc : ensure_query(c, code, label, text, err, errlen);
	if (rc == DRV_OK && list.len &&
	    (strbuf_adds(body, "{\"ParamList\":") ||
	     sl_json_add_str(body, list.buf) || strbuf_addc(body, '}')))
		rc = nomem(err, errlen);
	if (rc == DRV_OK && strbuf_addf(&url, "%s/SQLQueries('%s')/List",
					sl_http_root(c->http), code))
		rc = nomem(err, errlen);
	if (rc == DRV_OK)
		c->url = strbuf_detach(&url);
	strbuf_release(&url);
	strbuf_release(&list);
	free(text);
	return rc;
}

/* Asks for the first page of @sql (or the OData path) and reads it. */
static int first_page(struct drv_conn *c, const char *label, const char *sql,
		      int odata, const struct drv_param *params, size_t nparams,
		      char *err, size_t errlen)
{
	struct strbuf body = STRBUF_INIT;
	int rc;

	result_reset(c);
	if (odata)
		rc = odata_url(c, sql, params, nparams, err, errlen);
	else
		rc =
		    sql_url(c, label, sql, params, nparams, &body, err, errlen);
	if (rc == DRV_OK)
		rc = sl_http_call(c->http, body.len ? SL_POST : SL_GET, c->url,
				  body.buf, "query failed", err, errlen);
	if (rc == DRV_OK)
		rc = page_begin(c, err, errlen);
	strbuf_release(&body);
	return rc;
}

static int moved_error(char *err, size_t errlen)
{
	return fail(err, errlen, DRV_ERR_QUERY,
		    "the stored query of this report was changed on the "
		    "Service Layer while it ran (another host, or another "
		    "definition of the same name?)");
}

static int sl_execute(struct drv_conn *c, const char *label, const char *sql,
		      int odata, const struct drv_param *params, size_t nparams,
		      char *err, size_t errlen)
{
	int rc;

	sl_http_uncancel(c->http);
	sl_http_deadline(c->http, 0);
	if (!sql)
		return fail(err, errlen, DRV_ERR_QUERY, "nothing to run");
	/* A stored query changed under us is made ours again, once. */
	rc = first_page(c, label, sql, odata, params, nparams, err, errlen);
	if (rc == DRV_OK && c->sql_moved)
		rc = first_page(c, label, sql, odata, params, nparams, err,
				errlen);
	if (rc == DRV_OK && c->sql_moved)
		rc = moved_error(err, errlen);
	if (rc == DRV_OK)
		rc = scan_first_page(c, err, errlen);
	if (rc) {
		result_reset(c);
		return rc;
	}
	c->active = true;
	return DRV_OK;
}

static size_t sl_ncols(struct drv_conn *c)
{
	return c->ncols;
}

static const struct col_desc *sl_cols(struct drv_conn *c)
{
	return c->cols;
}

static int next_page(struct drv_conn *c, char *err, size_t errlen)
{
	int rc;

	if (strcmp(c->next, c->url) == 0)
		return fail(err, errlen, DRV_ERR_QUERY,
			    "the Service Layer sent the same page link "
			    "twice: %s",
			    c->url);
	free(c->url);
	c->url = c->next;
	c->next = NULL;
	sl_http_deadline(c->http, 0);
	rc = sl_http_get(c->http, c->url, "reading a page", err, errlen);
	rc = rc ? rc : page_begin(c, err, errlen);
	return rc == DRV_OK && c->sql_moved ? moved_error(err, errlen) : rc;
}

static int sl_fetch(struct drv_conn *c, const struct cell **row, char *err,
		    size_t errlen)
{
	int rc;

	if (!c->active)
		return fail(err, errlen, DRV_ERR_QUERY, "no result to read");
	while (!c->done) {
		rc = next_entity(c, false, err, errlen);
		if (rc) {
			*row = c->cells;
			return rc;
		}
		rc = page_end(c, err, errlen);
		if (rc == DRV_OK && !c->next)
			c->done = true;
		else if (rc == DRV_OK)
			rc = next_page(c, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static void sl_finish(struct drv_conn *c)
{
	result_reset(c);
	sl_http_drop_body(c->http);
}

static void sl_cancel(struct drv_conn *c)
{
	sl_http_cancel(c->http);
}

const struct drv_ops drv_servicelayer = {
    .name = "servicelayer",
    .connect = sl_connect,
    .disconnect = sl_disconnect,
    .execute = sl_execute,
    .ncols = sl_ncols,
    .cols = sl_cols,
    .fetch = sl_fetch,
    .finish = sl_finish,
    .cancel = sl_cancel,
};
