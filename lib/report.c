/*
 * report: see report.h.
 *
 * A header line is a key line when "--" is followed by a word and a colon.
 * Known keys match in any case; an unknown lower-case word is an error,
 * since it is most likely a misspelt key, while "-- Note: ..." or any line
 * starting "---" stays a plain comment.
 *
 * One SQL scanner serves both the definition checks (which placeholders
 * the body uses, and on which line) and sql_bind_rewrite, so the two can
 * never disagree about what a placeholder is.
 */
#include "report.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conf.h"

#define REPORT_ALL_FORMATS FMT_USER_MASK

/* ---- the SQL scanner ---- */

struct sql_scan;

/* Called for each placeholder: ':' at @at, name of @nlen bytes after it. */
typedef int (*sql_found_fn)(struct sql_scan *s, size_t at, size_t nlen);

struct sql_scan {
	const char *sql;
	int style; /* enum sql_marker, or -1: names only */
	sql_found_fn found;
	void *arg;
	const char *why; /* set when the scan fails */
	size_t why_at;	 /* where it failed */
};

static bool sql_ident_byte(unsigned char ch)
{
	return isalnum(ch) || ch == '_' || ch == '$' || ch >= 0x80;
}

static bool sql_name_start(unsigned char ch)
{
	return isalpha(ch) || ch == '_';
}

static bool sql_name_byte(unsigned char ch)
{
	return isalnum(ch) || ch == '_';
}

static size_t sql_fail(struct sql_scan *s, size_t at, const char *why)
{
	s->why = why;
	s->why_at = at;
	return SIZE_MAX;
}

/*
 * A quoted run from @i, closed by @q; a doubled @q stands for itself, and
 * with @backslash (PostgreSQL's E'...') a backslash escapes the next byte.
 */
static size_t sql_skip_quoted(struct sql_scan *s, size_t i, char q,
			      bool backslash)
{
	const char *p = s->sql;

	for (size_t j = i + 1; p[j]; j++) {
		if (backslash && p[j] == '\\' && p[j + 1]) {
			j++;
			continue;
		}
		if (p[j] != q)
			continue;
		if (p[j + 1] != q)
			return j + 1;
		j++;
	}
	return sql_fail(s, i,
			q == '\''  ? "a string literal is not closed"
			: q == '"' ? "a quoted identifier is not closed"
				   : "a [bracketed] identifier is not closed");
}

static size_t sql_skip_string(struct sql_scan *s, size_t i)
{
	const char *p = s->sql;
	bool e = i > 0 && (p[i - 1] == 'E' || p[i - 1] == 'e') &&
		 (i < 2 || !sql_ident_byte((unsigned char)p[i - 2]));

	return sql_skip_quoted(s, i, '\'', e);
}

static size_t sql_skip_line_comment(const char *p, size_t i)
{
	const char *nl = strchr(p + i, '\n');

	return nl ? (size_t)(nl - p) + 1 : i + strlen(p + i);
}

/* Block comments nest, as in PostgreSQL and SQL Server. */
static size_t sql_skip_block_comment(struct sql_scan *s, size_t i)
{
	const char *p = s->sql;
	int depth = 0;

	for (size_t j = i; p[j]; j++) {
		if (p[j] == '/' && p[j + 1] == '*') {
			depth++;
			j++;
		} else if (p[j] == '*' && p[j + 1] == '/') {
			j++;
			if (--depth == 0)
				return j + 1;
		}
	}
	return sql_fail(s, i, "a /* comment is not closed");
}

/* PostgreSQL's $tag$...$tag$ quoting, or a "$1" marker, or a plain '$'. */
static size_t sql_skip_dollar(struct sql_scan *s, size_t i)
{
	const char *p = s->sql, *close;
	size_t j = i + 1;

	if (i > 0 && sql_ident_byte((unsigned char)p[i - 1]))
		return i + 1;
	if (isdigit((unsigned char)p[j])) {
		if (s->style == SQL_DOLLAR)
			return sql_fail(s, i,
					"the SQL already holds a $n "
					"marker; write :name instead");
		return i + 1;
	}
	if (sql_name_start((unsigned char)p[j]))
		while (sql_ident_byte((unsigned char)p[j]) && p[j] != '$')
			j++;
	if (p[j] != '$')
		return i + 1;
	for (close = p + j + 1; (close = strchr(close, '$')) != NULL; close++)
		if (strncmp(close, p + i, j - i + 1) == 0)
			return (size_t)(close - p) + (j - i + 1);
	return sql_fail(s, i, "a $$ quoted string is not closed");
}

static size_t sql_colon(struct sql_scan *s, size_t i)
{
	const unsigned char *p = (const unsigned char *)s->sql;
	size_t n = 0;

	if (p[i + 1] == ':')
		return i + 2; /* a PostgreSQL cast: x::numeric */
	if (i > 0 && sql_ident_byte(p[i - 1]))
		return i + 1;
	if (p[i + 1] >= 0x80)
		return sql_fail(s, i,
				"a placeholder name may hold only "
				"A-Z, a-z, 0-9 and '_'");
	if (!sql_name_start(p[i + 1]))
		return i + 1;
	while (sql_name_byte(p[i + 1 + n]))
		n++;
	if (p[i + 1 + n] >= 0x80)
		return sql_fail(s, i,
				"a placeholder name may hold only "
				"A-Z, a-z, 0-9 and '_'");
	if (s->found(s, i, n) < 0)
		return sql_fail(s, i, "out of memory");
	return i + 1 + n;
}

/* Where the token at @i ends, or SIZE_MAX when the SQL is malformed. */
static size_t sql_step(struct sql_scan *s, size_t i)
{
	const char *p = s->sql;

	switch (p[i]) {
	case '\'':
		return sql_skip_string(s, i);
	case '"':
		return sql_skip_quoted(s, i, '"', false);
	case '[':
		return sql_skip_quoted(s, i, ']', false);
	case '-':
		return p[i + 1] == '-' ? sql_skip_line_comment(p, i) : i + 1;
	case '/':
		return p[i + 1] == '*' ? sql_skip_block_comment(s, i) : i + 1;
	case '$':
		return sql_skip_dollar(s, i);
	case '?':
		if (s->style == SQL_QMARK)
			return sql_fail(s, i,
					"the SQL already holds a '?' "
					"marker; write :name instead");
		return i + 1;
	case ':':
		return sql_colon(s, i);
	default:
		return i + 1;
	}
}

static int sql_scan_run(struct sql_scan *s)
{
	size_t i = 0;

	while (s->sql[i]) {
		i = sql_step(s, i);
		if (i == SIZE_MAX)
			return -1;
	}
	return 0;
}

/* ---- sql_bind_rewrite ---- */

struct sql_rewrite {
	struct strbuf out;
	size_t done; /* bytes of the input already copied */
	char **names;
	size_t nnames;
};

static int sql_names_push(struct sql_rewrite *w, const char *name, size_t n)
{
	char **v = realloc(w->names, (w->nnames + 1) * sizeof(*v));

	if (!v)
		return -1;
	w->names = v;
	v[w->nnames] = xstrndup(name, n);
	if (!v[w->nnames])
		return -1;
	w->nnames++;
	return 0;
}

/* The 1-based number of @name among the names so far, or 0. */
static size_t sql_names_find(const struct sql_rewrite *w, const char *name,
			     size_t n)
{
	for (size_t i = 0; i < w->nnames; i++)
		if (strlen(w->names[i]) == n &&
		    memcmp(w->names[i], name, n) == 0)
			return i + 1;
	return 0;
}

static int sql_rewrite_found(struct sql_scan *s, size_t at, size_t nlen)
{
	struct sql_rewrite *w = s->arg;
	const char *name = s->sql + at + 1;
	size_t num;

	if (strbuf_add(&w->out, s->sql + w->done, at - w->done) < 0)
		return -1;
	w->done = at + 1 + nlen;
	if (s->style == SQL_QMARK) {
		if (sql_names_push(w, name, nlen) < 0)
			return -1;
		return strbuf_addc(&w->out, '?');
	}
	num = sql_names_find(w, name, nlen);
	if (!num) {
		if (sql_names_push(w, name, nlen) < 0)
			return -1;
		num = w->nnames;
	}
	return strbuf_addf(&w->out, "$%zu", num);
}

int sql_bind_rewrite(const char *sql, enum sql_marker style, char **out_sql,
		     char ***names, size_t *nnames, char *err, size_t errlen)
{
	struct sql_rewrite w = {.out = STRBUF_INIT};
	struct sql_scan s = {.sql = sql,
			     .style = (int)style,
			     .found = sql_rewrite_found,
			     .arg = &w};

	*out_sql = NULL;
	*names = NULL;
	*nnames = 0;
	if (sql_scan_run(&s) < 0) {
		snprintf(err, errlen, "%s (at byte %zu)", s.why, s.why_at);
		goto out_free;
	}
	if (strbuf_adds(&w.out, sql + w.done) < 0)
		goto out_oom;
	*out_sql = strbuf_detach(&w.out);
	if (!*out_sql)
		goto out_oom;
	*names = w.names;
	*nnames = w.nnames;
	return 0;
out_oom:
	snprintf(err, errlen, "out of memory");
out_free:
	strbuf_release(&w.out);
	report_names_free(w.names, w.nnames);
	return -1;
}

void report_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- names and small values ---- */

bool report_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > REPORT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-')
			return false;
	return true;
}

/* A parameter is a folder name and a placeholder: [A-Za-z_][A-Za-z0-9_]*. */
static bool report_param_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > REPORT_NAME_MAX || !sql_name_start(name[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!sql_name_byte((unsigned char)name[i]))
			return false;
	return true;
}

static bool report_mail_part_ok(const char *s, size_t n, bool domain)
{
	static const char bad[] = " \t<>()[],;:\"\\@";

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || strchr(bad, ch))
			return false;
		if (domain && ch == '.' && (i == 0 || s[i - 1] == '.'))
			return false;
	}
	if (domain && (s[n - 1] == '.' || !memchr(s, '.', n)))
		return false;
	return true;
}

/* A plausible local@domain; the mail server has the last word. */
static bool report_mail_valid(const char *addr)
{
	const char *at = strchr(addr, '@');

	if (!at || strchr(at + 1, '@'))
		return false;
	return report_mail_part_ok(addr, (size_t)(at - addr), false) &&
	       report_mail_part_ok(at + 1, strlen(at + 1), true);
}

/* Group names may come from winbind ("DOMAIN\finance", with spaces). */
static bool report_group_valid(const char *g)
{
	if (!*g || *g == '-' || strlen(g) > 256)
		return false;
	for (; *g; g++)
		if ((unsigned char)*g < 0x20 || *g == ':' || *g == ',')
			return false;
	return true;
}

/* ---- the header ---- */

struct report_ctx {
	const char *path;
	struct diag *d;
	struct report *r;
	int lines[16]; /* where each key was seen; see report_keys */
	int attach_line;
	int *param_lines;
};

typedef void (*report_set_fn)(struct report_ctx *x, char *v, int line);

struct report_key {
	const char *name;
	report_set_fn set;
	bool repeats;
};

static void report_bad(struct report_ctx *x, int line, const char *key,
		       const char *v, const char *want)
{
	diag_error(x->d, x->path, line, "bad %s '%s': %s", key, v, want);
}

static int report_dupstr(struct report_ctx *x, char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
	if (*field)
		return 0;
	diag_error(x->d, x->path, 0, "out of memory");
	return -1;
}

static void report_set_title(struct report_ctx *x, char *v, int line)
{
	(void)line;
	report_dupstr(x, &x->r->title, v);
}

static void report_set_source(struct report_ctx *x, char *v, int line)
{
	if (!report_name_valid(v))
		report_bad(x, line, "source", v,
			   "a [source NAME] of letters, digits, '-' and '_'");
	else
		report_dupstr(x, &x->r->source, v);
}

/* "xlsx csv" or "xlsx, csv" into format bits; 0 after a diagnostic. */
static unsigned report_fmt_list(struct report_ctx *x, char *v, int line,
				const char *key)
{
	unsigned mask = 0;
	char *save = NULL;

	for (char *t = strtok_r(v, " ,\t", &save); t;
	     t = strtok_r(NULL, " ,\t", &save)) {
		int f = render_fmt_parse(t);

		if (f < 0 || f == FMT_MAIL) {
			diag_error(x->d, x->path, line,
				   "unknown format '%s' in %s: use xlsx, csv, "
				   "json or html",
				   t, key);
			return 0;
		}
		mask |= 1u << f;
	}
	if (!mask)
		diag_error(x->d, x->path, line, "%s lists no format", key);
	return mask;
}

static void report_set_formats(struct report_ctx *x, char *v, int line)
{
	unsigned mask = report_fmt_list(x, v, line, "formats");

	if (mask)
		x->r->formats = mask;
}

static void report_set_attach(struct report_ctx *x, char *v, int line)
{
	x->r->attach = report_fmt_list(x, v, line, "attach");
	x->attach_line = line;
}

static void report_set_ttl(struct report_ctx *x, char *v, int line)
{
	int64_t t = conf_parse_duration(v);

	if (t < 0 || t > INT32_MAX)
		report_bad(x, line, "ttl", v,
			   "seconds, or a number with s, m, h or d");
	else
		x->r->ttl = (int)t;
}

static void report_set_schedule(struct report_ctx *x, char *v, int line)
{
	/* The scheduler checks the cron fields, with this line. */
	if (report_dupstr(x, &x->r->schedule, v) == 0)
		x->r->schedule_line = line;
}

static int report_mail_add(struct report_ctx *x, const char *addr)
{
	struct report *r = x->r;
	char **v = realloc(r->mail, (r->nmail + 1) * sizeof(*v));

	if (!v)
		return -1;
	r->mail = v;
	v[r->nmail] = xstrdup(addr);
	if (!v[r->nmail])
		return -1;
	r->nmail++;
	return 0;
}

static void report_set_mail(struct report_ctx *x, char *v, int line)
{
	/* Split by hand: strtok_r would pass over an empty item silently. */
	for (char *t = v, *comma; t; t = comma ? comma + 1 : NULL) {
		comma = strchr(t, ',');
		if (comma)
			*comma = '\0';
		t = str_trim(t);
		if (!report_mail_valid(t)) {
			report_bad(x, line, "mail address", t,
				   "expected local@domain, comma-separated");
			continue;
		}
		if (report_mail_add(x, t) < 0) {
			diag_error(x->d, x->path, 0, "out of memory");
			return;
		}
	}
}

static void report_set_csv(struct report_ctx *x, char *v, int line)
{
	if (strcasecmp(v, "rfc4180") == 0)
		x->r->csv = CSV_RFC4180;
	else if (strcasecmp(v, "excel-tr") == 0)
		x->r->csv = CSV_EXCEL_TR;
	else
		report_bad(x, line, "csv", v, "rfc4180 or excel-tr");
}

static void report_set_group(struct report_ctx *x, char *v, int line)
{
	if (!report_group_valid(v))
		report_bad(x, line, "group", v, "a group name");
	else
		report_dupstr(x, &x->r->group, v);
}

static void report_set_mode(struct report_ctx *x, char *v, int line)
{
	size_t n = strlen(v);
	char *end;
	long m;

	if (n == 0 || n > 4 || strspn(v, "01234567") != n) {
		report_bad(x, line, "mode", v, "octal, as 0440 or 0444");
		return;
	}
	m = strtol(v, &end, 8);
	if (m & ~0444L) {
		report_bad(x, line, "mode", v,
			   "only read bits may be set (as 0440 or 0444): "
			   "nothing here is writable or executable");
		return;
	}
	x->r->mode = (mode_t)m;
}

static int report_param_add(struct report_ctx *x, const char *name,
			    const char *sql, int line)
{
	struct report *r = x->r;
	struct report_param *v;
	int *lines;

	v = realloc(r->params, (r->nparams + 1) * sizeof(*v));
	if (!v)
		return -1;
	r->params = v;
	lines = realloc(x->param_lines, (r->nparams + 1) * sizeof(*lines));
	if (!lines)
		return -1;
	x->param_lines = lines;
	v += r->nparams;
	v->name = xstrdup(name);
	v->sql = xstrdup(sql);
	lines[r->nparams++] = line;
	return v->name && v->sql ? 0 : -1;
}

static const struct report_param *report_param_find(const struct report *r,
						    const char *name, size_t n)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strlen(r->params[i].name) == n &&
		    memcmp(r->params[i].name, name, n) == 0)
			return &r->params[i];
	return NULL;
}

static void report_set_param(struct report_ctx *x, char *v, int line)
{
	char *eq = strchr(v, '=');
	const struct report_param *dup;
	char *name, *sql;

	if (!eq) {
		diag_error(x->d, x->path, line,
			   "param needs 'NAME = SELECT ...'");
		return;
	}
	*eq = '\0';
	name = str_trim(v);
	sql = str_trim(eq + 1);
	if (!report_param_name_valid(name)) {
		report_bad(x, line, "param name", name,
			   "start with a letter or '_', then letters, digits "
			   "or '_' (A-Z, a-z, 0-9)");
		return;
	}
	if (!*sql) {
		diag_error(x->d, x->path, line,
			   "param '%s' needs the SQL that lists its values",
			   name);
		return;
	}
	dup = report_param_find(x->r, name, strlen(name));
	if (dup) {
		diag_error(x->d, x->path, line, "param '%s' is declared twice",
			   name);
		return;
	}
	if (report_param_add(x, name, sql, line) < 0)
		diag_error(x->d, x->path, 0, "out of memory");
}

static void report_set_odata(struct report_ctx *x, char *v, int line)
{
	(void)line;
	report_dupstr(x, &x->r->odata, v);
}

static void report_set_retry(struct report_ctx *x, char *v, int line)
{
	size_t n = strlen(v);
	long t;

	if (n == 0 || n > 4 || strspn(v, "0123456789") != n) {
		report_bad(x, line, "retry", v, "a whole number, 0 or more");
		return;
	}
	t = strtol(v, NULL, 10);
	x->r->retry = (int)t;
}

static const struct report_key report_keys[] = {
    {"title", report_set_title, false},
    {"source", report_set_source, false},
    {"formats", report_set_formats, false},
    {"ttl", report_set_ttl, false},
    {"schedule", report_set_schedule, false},
    {"mail", report_set_mail, false},
    {"attach", report_set_attach, false},
    {"csv", report_set_csv, false},
    {"group", report_set_group, false},
    {"mode", report_set_mode, false},
    {"param", report_set_param, true},
    {"odata", report_set_odata, false},
    {"retry", report_set_retry, false},
};

_Static_assert(ARRAY_SIZE(report_keys) <= 16, "report_ctx.lines is short");

static int report_key_find(const char *word, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(report_keys); i++)
		if (strlen(report_keys[i].name) == n &&
		    strncasecmp(report_keys[i].name, word, n) == 0)
			return (int)i;
	return -1;
}

static bool report_word_lower(const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)w[i]))
			return false;
	return true;
}

static void report_key_apply(struct report_ctx *x, int k, char *v, int line)
{
	const struct report_key *key = &report_keys[k];

	if (x->lines[k] && !key->repeats) {
		diag_error(x->d, x->path, line,
			   "'%s' is given again: first on line %d", key->name,
			   x->lines[k]);
		return;
	}
	x->lines[k] = line;
	if (!*v) {
		diag_error(x->d, x->path, line, "'%s' needs a value",
			   key->name);
		return;
	}
	key->set(x, v, line);
}

/* One header comment, "--" stripped; a key line or a plain comment. */
static void report_header_line(struct report_ctx *x, char *s, int line)
{
	size_t n;
	int k;

	if (*s == '-')
		return; /* "---": always a plain comment */
	s += strspn(s, " \t");
	n = 0;
	while (isalpha((unsigned char)s[n]) || s[n] == '_')
		n++;
	if (n == 0 || s[n] != ':' || s[n + 1] == ':' || s[n + 1] == '/')
		return;
	k = report_key_find(s, n);
	if (k >= 0) {
		report_key_apply(x, k, str_trim(s + n + 1), line);
		return;
	}
	if (report_word_lower(s, n))
		diag_error(x->d, x->path, line,
			   "unknown key '%.*s' (write other comments as "
			   "'--- text')",
			   (int)n, s);
}

/* ---- the definition ---- */

static char *report_name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (str_has_suffix(base, ".sql"))
		n -= 4;
	return xstrndup(base, n);
}

static bool report_blank(const char *s)
{
	return s[strspn(s, " \t\r")] == '\0';
}

/* Sets the body from @s (the rest of the text), trimmed at its end. */
static int report_set_body(struct report *r, const char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return 0;
	r->sql = xstrndup(s, n);
	return r->sql ? 0 : -1;
}

/* Reads the header from @text (a copy it may cut); sets the body. */
static int report_header(struct report_ctx *x, char *text)
{
	char *s = text;
	int line = 0;

	if (strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* a BOM from a Windows editor */
	while (s && *s) {
		char *nl = strchr(s, '\n');
		char *t = s + strspn(s, " \t");

		line++;
		if (nl)
			*nl = '\0';
		if (!report_blank(t) && strncmp(t, "--", 2) != 0) {
			if (nl)
				*nl = '\n';
			x->r->body_line = line;
			return report_set_body(x->r, s);
		}
		if (!report_blank(t))
			report_header_line(x, t + 2, line);
		s = nl ? nl + 1 : NULL;
	}
	return 0;
}

static int report_body_line(const struct report *r, size_t off)
{
	int line = r->body_line;

	for (size_t i = 0; i < off; i++)
		if (r->sql[i] == '\n')
			line++;
	return line;
}

struct report_uses {
	struct report_ctx *x;
	bool *used; /* per param */
};

static int report_placeholder(struct sql_scan *s, size_t at, size_t nlen)
{
	struct report_uses *u = s->arg;
	const struct report *r = u->x->r;
	const char *name = s->sql + at + 1;
	const struct report_param *p = report_param_find(r, name, nlen);

	if (p) {
		u->used[p - r->params] = true;
		return 0;
	}
	diag_error(u->x->d, u->x->path, report_body_line(r, at),
		   "placeholder ':%.*s' has no '-- param: %.*s = SELECT ...' "
		   "line",
		   (int)nlen, name, (int)nlen, name);
	return 0;
}

/* Every :name of the SQL is a param, and every param is used. */
static void report_check_params(struct report_ctx *x)
{
	struct report *r = x->r;
	struct report_uses u = {.x = x};
	struct sql_scan s = {
	    .sql = r->sql, .style = -1, .found = report_placeholder, .arg = &u};

	u.used = calloc(r->nparams + 1, sizeof(*u.used));
	if (!u.used) {
		diag_error(x->d, x->path, 0, "out of memory");
		return;
	}
	if (sql_scan_run(&s) < 0)
		diag_error(x->d, x->path, report_body_line(r, s.why_at), "%s",
			   s.why);
	else
		for (size_t i = 0; i < r->nparams; i++)
			if (!u.used[i])
				diag_error(x->d, x->path, x->param_lines[i],
					   "param '%s' is not used as :%s in "
					   "the SQL",
					   r->params[i].name,
					   r->params[i].name);
	free(u.used);
}

static void report_check_body(struct report_ctx *x)
{
	struct report *r = x->r;
	int odata_line = x->lines[report_key_find("odata", 5)];

	if (r->odata && r->sql) {
		diag_error(x->d, x->path, r->body_line,
			   "a definition with '-- odata:' (line %d) has no "
			   "SQL body",
			   odata_line);
		return;
	}
	if (!r->odata && !r->sql) {
		diag_error(x->d, x->path, 0,
			   "no SQL after the header (or '-- odata:' path)");
		return;
	}
	if (r->odata && r->nparams) {
		diag_error(x->d, x->path, x->param_lines[0],
			   "param needs an SQL body: an odata path takes no "
			   "parameters");
		return;
	}
	if (r->sql)
		report_check_params(x);
}

/* The lowest format bit of @mask, preferring xlsx. */
static unsigned report_default_attach(unsigned formats)
{
	if (formats & (1u << FMT_XLSX))
		return 1u << FMT_XLSX;
	return formats & -formats;
}

static void report_finish(struct report_ctx *x)
{
	struct report *r = x->r;

	if (!r->source)
		diag_error(x->d, x->path, 0, "no '-- source:' line");
	report_check_body(x);
	if (!x->attach_line)
		r->attach = report_default_attach(r->formats);
	else if (r->attach & ~r->formats)
		diag_error(x->d, x->path, x->attach_line,
			   "attach lists a format that formats does not");
	if (r->mode == (mode_t)-1)
		r->mode = r->group ? 0440 : 0444;
	if (!r->title)
		report_dupstr(x, &r->title, r->name);
}

static struct report *report_new(const char *path, const char *text, size_t len)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->formats = REPORT_ALL_FORMATS;
	r->ttl = -1;
	r->csv = -1;
	r->retry = -1;
	r->mode = (mode_t)-1;
	r->name = report_name_from_path(path);
	r->path = xstrdup(path);
	r->text = xstrndup(text, len);
	r->text_len = len;
	r->hash = hash64(text, len);
	if (!r->name || !r->path || !r->text) {
		report_free(r);
		return NULL;
	}
	return r;
}

int report_parse(const char *path, const char *text, size_t len,
		 struct report **out, struct diag *d)
{
	struct report_ctx x = {.path = path, .d = d};
	unsigned errors = d->errors;
	char *copy = NULL;

	*out = NULL;
	x.r = report_new(path, text, len);
	if (x.r)
		copy = xstrndup(text, len);
	if (!x.r || !copy) {
		diag_error(d, path, 0, "out of memory");
		goto out_free;
	}
	if (!report_name_valid(x.r->name))
		diag_error(d, path, 0,
			   "report name '%s' must be 1 to %d letters, digits, "
			   "'-' or '_'",
			   x.r->name, REPORT_NAME_MAX);
	if (memchr(text, '\0', len))
		diag_error(d, path, 0, "the file holds a NUL byte");
	else if (report_header(&x, copy) < 0)
		diag_error(d, path, 0, "out of memory");
	else
		report_finish(&x);
out_free:
	free(copy);
	free(x.param_lines);
	if (d->errors != errors) {
		report_free(x.r);
		return -1;
	}
	*out = x.r;
	return 0;
}

int report_load(const char *path, struct report **out, struct diag *d)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	rc = file_read_all(path, &text, &len);
	if (rc < 0) {
		diag_error(d, path, 0, "cannot read the definition: %s",
			   strerror(-rc));
		return -1;
	}
	rc = report_parse(path, text, len, out, d);
	free(text);
	return rc;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->path);
	free(r->title);
	free(r->source);
	free(r->sql);
	free(r->odata);
	free(r->schedule);
	for (size_t i = 0; i < r->nmail; i++)
		free(r->mail[i]);
	free(r->mail);
	free(r->group);
	for (size_t i = 0; i < r->nparams; i++) {
		free(r->params[i].name);
		free(r->params[i].sql);
	}
	free(r->params);
	free(r->text);
	free(r);
}

void report_free_all(struct report **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		report_free(v[i]);
	free(v);
}

/* ---- a folder of definitions ---- */

/* "x.sql", not hidden: skips ".#x.sql", "x.sql~", ".x.sql.swp", "#x#". */
static bool report_file_wanted(const char *name)
{
	return name[0] != '.' && str_has_suffix(name, ".sql");
}

static int report_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The wanted names in @dir, sorted; the count or -errno. */
static int report_dir_names(const char *dir, char ***out)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char **v = NULL, **nv;
	size_t n = 0;
	int rc = -ENOMEM;

	if (!dp)
		return -errno;
	while ((de = readdir(dp)) != NULL) {
		if (!report_file_wanted(de->d_name))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			goto out_free;
		v = nv;
		v[n] = xstrdup(de->d_name);
		if (!v[n])
			goto out_free;
		n++;
	}
	closedir(dp);
	if (n)
		qsort(v, n, sizeof(*v), report_cmp);
	*out = v;
	return (int)n;
out_free:
	closedir(dp);
	report_names_free(v, n);
	return rc;
}

static int report_load_one(const char *dir, const char *name,
			   struct report **out, struct diag *d)
{
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	int rc = -1;

	*out = NULL;
	if (strbuf_addf(&path, "%s/%s", dir, name) < 0) {
		diag_error(d, dir, 0, "out of memory");
		return -1;
	}
	if (stat(path.buf, &st) < 0)
		diag_error(d, path.buf, 0, "cannot read the definition: %s",
			   strerror(errno));
	else if (!S_ISREG(st.st_mode))
		diag_warn(d, path.buf, 0, "not a regular file, left out");
	else
		rc = report_load(path.buf, out, d);
	strbuf_release(&path);
	return rc;
}

int report_load_dir(const char *dir, struct report ***out, struct diag *d)
{
	struct report **v;
	char **names = NULL;
	size_t n = 0;
	int count;

	*out = NULL;
	count = report_dir_names(dir, &names);
	if (count < 0)
		return count;
	v = calloc((size_t)count + 1, sizeof(*v));
	if (!v) {
		report_names_free(names, (size_t)count);
		return -ENOMEM;
	}
	for (int i = 0; i < count; i++)
		if (report_load_one(dir, names[i], &v[n], d) == 0 && v[n])
			n++;
	report_names_free(names, (size_t)count);
	*out = v;
	return (int)n;
}
