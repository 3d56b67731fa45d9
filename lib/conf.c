/*
 * conf: see conf.h.
 *
 * Loading runs in four steps.  inih walks the file through our own line
 * reader, so every handler call knows its line; the reader also records
 * each "[section]" (inih reports nothing for an empty one) and notices the
 * lines inih dropped as malformed.  The sections become sources, shares and
 * singletons.  Then the env_file, which may be named on any line, is read.
 * Last, each recorded value is expanded and checked against a key table.
 *
 * A message quotes a value only as written in the file, never expanded,
 * so a secret from the environment cannot reach a diagnostic.
 */
#include "conf.h"
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "report.h"

enum conf_type {
	CT_STR,
	CT_SECRET,  /* a string never shown; warned about when literal */
	CT_PATH,    /* relative: from the config file's folder */
	CT_ENVFILE, /* read before the others, see conf_env_setup */
	CT_SECS,    /* duration > 0 */
	CT_SECS0,   /* duration >= 0 */
	CT_INT,	    /* count > 0 */
	CT_INT0,    /* count >= 0 */
	CT_LONG,    /* long > 0 */
	CT_MSEC,    /* plain milliseconds > 0 */
	CT_SIZE,    /* bytes > 0 */
	CT_BOOL,
	CT_CSV,
	CT_LOCALE,
	CT_LOGLEVEL,
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off; /* in struct conf, conf_source or conf_share */
};

#define KC(n, t, f)                                                            \
	{                                                                      \
		n, t, offsetof(struct conf, f)                                 \
	}
#define KS(n, t, f)                                                            \
	{                                                                      \
		n, t, offsetof(struct conf_source, f)                          \
	}
#define KH(n, t, f)                                                            \
	{                                                                      \
		n, t, offsetof(struct conf_share, f)                           \
	}

static const struct conf_key conf_global_keys[] = {
    KC("env_file", CT_ENVFILE, env_file),
    KC("reports_dir", CT_PATH, reports_dir),
    KC("state_dir", CT_PATH, state_dir),
    KC("timezone", CT_STR, timezone),
    KC("csv_dialect", CT_CSV, csv_dialect),
    KC("number_locale", CT_LOCALE, tr_numbers),
    KC("log_level", CT_LOGLEVEL, log_level),
};

static const struct conf_key conf_mount_keys[] = {
    KC("path", CT_PATH, mount_path),
    KC("cache_dir", CT_PATH, cache_dir),
    KC("cache_size", CT_SIZE, cache_size),
    KC("default_ttl", CT_SECS0, default_ttl),
    KC("max_threads", CT_INT, max_threads),
    KC("max_runs", CT_INT, max_runs),
};

static const struct conf_key conf_source_keys[] = {
    KS("driver", CT_STR, driver),
    KS("connection", CT_STR, connection),
    KS("conninfo", CT_STR, conninfo),
    KS("url", CT_STR, url),
    KS("company", CT_STR, company),
    KS("user", CT_STR, user),
    KS("password", CT_SECRET, password),
    KS("timeout", CT_SECS, timeout),
    KS("max_connections", CT_INT, max_connections),
    KS("queries", CT_BOOL, queries),
    KS("queries_group", CT_STR, queries_group),
    KS("queries_row_limit", CT_LONG, queries_row_limit),
    KS("page_size", CT_INT, page_size),
    KS("ca_file", CT_PATH, ca_file),
    KS("verify_tls", CT_BOOL, verify_tls),
};

static const struct conf_key conf_share_keys[] = {
    KH("url", CT_STR, url),
    KH("user", CT_STR, user),
    KH("password", CT_SECRET, password),
    KH("domain", CT_STR, domain),
    KH("workgroup", CT_STR, domain),
    KH("timeout", CT_SECS, timeout),
    KH("dir_cache_ttl", CT_SECS0, dir_cache_ttl),
};

static const struct conf_key conf_redis_keys[] = {
    KC("url", CT_STR, redis_url),
    KC("password", CT_SECRET, redis_password),
    KC("timeout", CT_MSEC, redis_timeout),
    KC("max_object", CT_SIZE, redis_max_object),
};

static const struct conf_key conf_smtp_keys[] = {
    KC("url", CT_STR, smtp_url),
    KC("user", CT_STR, smtp_user),
    KC("password", CT_SECRET, smtp_password),
    KC("from", CT_STR, smtp_from),
    KC("admin", CT_STR, smtp_admin),
    KC("ca_file", CT_PATH, smtp_ca_file),
    KC("tls", CT_BOOL, smtp_tls),
};

static const struct conf_key conf_spool_keys[] = {
    KC("dir", CT_PATH, spool_dir),
};

static const struct conf_key conf_mailer_keys[] = {
    KC("retry_first", CT_SECS, retry_first),
    KC("retry_max", CT_SECS, retry_max),
    KC("max_age", CT_SECS, max_age),
    KC("max_size", CT_SIZE, max_size),
};

static const struct conf_key conf_scheduler_keys[] = {
    KC("history_keep", CT_INT, history_keep),
    KC("catch_up", CT_SECS0, catch_up),
    KC("retry", CT_INT0, retry),
};

enum conf_kind {
	SEC_GLOBAL,
	SEC_MOUNT,
	SEC_SOURCE,
	SEC_SHARE,
	SEC_REDIS,
	SEC_SMTP,
	SEC_SPOOL,
	SEC_MAILER,
	SEC_SCHEDULER,
	SEC_COUNT,
};

struct conf_kind_desc {
	const char *word;
	bool named; /* "[source NAME]" */
	const struct conf_key *keys;
	size_t nkeys;
};

#define KIND(w, named, keys)                                                   \
	{                                                                      \
		w, named, keys, ARRAY_SIZE(keys)                               \
	}

static const struct conf_kind_desc conf_kinds[SEC_COUNT] = {
    [SEC_GLOBAL] = KIND("global", false, conf_global_keys),
    [SEC_MOUNT] = KIND("mount", false, conf_mount_keys),
    [SEC_SOURCE] = KIND("source", true, conf_source_keys),
    [SEC_SHARE] = KIND("share", true, conf_share_keys),
    [SEC_REDIS] = KIND("redis", false, conf_redis_keys),
    [SEC_SMTP] = KIND("smtp", false, conf_smtp_keys),
    [SEC_SPOOL] = KIND("spool", false, conf_spool_keys),
    [SEC_MAILER] = KIND("mailer", false, conf_mailer_keys),
    [SEC_SCHEDULER] = KIND("scheduler", false, conf_scheduler_keys),
};

static const char *const conf_drivers[] = {"odbc", "postgres", "servicelayer"};

/* One "[...]" line as written. */
struct conf_sec {
	char *head; /* between the brackets, trimmed */
	int line;
	int kind;   /* enum conf_kind, or -1 when rejected */
	size_t idx; /* in c->sources or c->shares */
};

/* One "key = value" line, kept unexpanded until the env_file is read. */
struct conf_ent {
	size_t sec; /* in secs; SIZE_MAX before any section */
	char *key;
	char *raw;
	int line;
};

/* One NAME=value of the env_file. */
struct conf_var {
	char *name;
	char *value;
};

struct conf_parse {
	const char *path;
	struct diag *d;
	struct conf *c;
	char *dir; /* the config file's folder, for relative paths */

	const char *text; /* the file, as inih's reader hands it out */
	size_t len, pos;
	int line;	  /* the line inih works on */
	bool want_call;	  /* that line should reach the handler */
	bool called;	  /* and it did */
	char *long_value; /* value of an over-long line, split by us */

	struct conf_sec *secs;
	size_t nsecs;
	struct conf_ent *ents;
	size_t nents;
	bool seen[SEC_COUNT];

	struct conf_var *vars;
	size_t nvars;
	bool env_loaded;
	bool env_failed; /* named but refused: its names are not missing */
	const char *env_shown; /* env_file for messages: never expanded */
	unsigned errors0;      /* d->errors before this file */
	bool oom;
};

/* Grows an array of @n elements of @size by one; NULL when out of memory. */
static void *conf_push(void *v, size_t n, size_t size)
{
	void *p = realloc(v, (n + 1) * size);

	if (p)
		memset((char *)p + n * size, 0, size);
	return p;
}

/* A trimmed copy of @n bytes at @s, or NULL. */
static char *conf_trim_dup(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return xstrndup(s, n);
}

static void conf_wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* ---- numbers and words ---- */

/* Digits only, at most @max; -1 when malformed or too big. */
static int64_t conf_parse_digits(const char *s, const char **end, int64_t max)
{
	int64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		int digit = *s - '0';

		if (v > (max - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	*end = s;
	return v;
}

static int64_t conf_scale(int64_t v, int64_t unit)
{
	if (v < 0 || v > INT64_MAX / unit)
		return -1;
	return v * unit;
}

int64_t conf_parse_size(const char *s)
{
	static const char units[] = "kmgt";
	const char *end, *u;
	int64_t v, unit = 1;

	if (!s)
		return -1;
	v = conf_parse_digits(s, &end, INT64_MAX);
	if (v < 0)
		return -1;
	if (*end == '\0')
		return v;
	u = strchr(units, tolower((unsigned char)*end));
	if (!u || end[1] != '\0')
		return -1;
	for (const char *p = units; p <= u; p++)
		unit *= 1024;
	return conf_scale(v, unit);
}

int64_t conf_parse_duration(const char *s)
{
	const char *end;
	int64_t v;

	if (!s)
		return -1;
	v = conf_parse_digits(s, &end, INT64_MAX);
	if (v < 0)
		return -1;
	if (*end && end[1] != '\0')
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		return v;
	case 'm':
		return conf_scale(v, 60);
	case 'h':
		return conf_scale(v, 3600);
	case 'd':
		return conf_scale(v, 86400);
	default:
		return -1;
	}
}

static int conf_parse_bool(const char *s)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static int conf_parse_csv(const char *s)
{
	if (strcasecmp(s, "rfc4180") == 0)
		return CSV_RFC4180;
	if (strcasecmp(s, "excel-tr") == 0)
		return CSV_EXCEL_TR;
	return -1;
}

/* 1 for Turkish number grouping, 0 for plain, -1 when unknown. */
static int conf_parse_locale(const char *s)
{
	if (strcasecmp(s, "tr_TR") == 0)
		return 1;
	if (strcasecmp(s, "C") == 0 || strcasecmp(s, "en_US") == 0 ||
	    strcasecmp(s, "POSIX") == 0)
		return 0;
	return -1;
}

static bool conf_var_name_valid(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* ---- the line reader inih pulls from ---- */

static bool conf_is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Reports the previous line when inih dropped it as malformed. */
static void conf_line_done(struct conf_parse *p)
{
	if (p->want_call && !p->called)
		diag_error(p->d, p->path, p->line,
			   "expected 'key = value' or '[section]'");
	p->want_call = false;
	p->called = false;
	free(p->long_value);
	p->long_value = NULL;
}

static void conf_section_add(struct conf_parse *p, const char *s, size_t n)
{
	struct conf_sec *v;
	char *head;

	v = conf_push(p->secs, p->nsecs, sizeof(*v));
	if (!v) {
		p->oom = true;
		return;
	}
	p->secs = v;
	head = conf_trim_dup(s, n);
	if (!head) {
		p->oom = true;
		return;
	}
	v[p->nsecs].head = head;
	v[p->nsecs].line = p->line;
	v[p->nsecs].kind = -1;
	p->nsecs++;
}

/* Notes what inih should do with a line: skip it, or call the handler. */
static void conf_line_classify(struct conf_parse *p, const char *s, size_t n)
{
	const char *close;

	if (n == 0 || *s == ';' || *s == '#')
		return;
	if (*s != '[') {
		p->want_call = true;
		return;
	}
	close = memchr(s, ']', n);
	if (close)
		conf_section_add(p, s + 1, (size_t)(close - s - 1));
	else
		diag_error(p->d, p->path, p->line,
			   "section header lacks its closing ']'");
}

/* The start of an inline comment: ';' after white space, as inih has it. */
static size_t conf_value_end(const char *s, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (s[i] == ';' && (s[i - 1] == ' ' || s[i - 1] == '\t'))
			return i;
	return n;
}

/*
 * inih cuts a line at its buffer size (200 bytes in Debian's build) and
 * reads the rest as a line of its own.  ODBC connection strings can be
 * longer, so for a long "key = value" line inih gets "key=" only and the
 * value is split here the way inih would.  Returns the bytes put in @str.
 */
static size_t conf_line_long(struct conf_parse *p, const char *s, size_t n,
			     char *str, size_t num)
{
	const char *sep;
	size_t klen, vlen;
	char *v;

	if (*s == ';' || *s == '#' || *s == '[')
		return 0; /* a section was recorded by conf_line_classify */
	sep = strpbrk(s, "=:");
	if (!sep || sep >= s + n) {
		diag_error(p->d, p->path, p->line, "line longer than %zu bytes",
			   num - 3);
		p->want_call = false;
		return 0;
	}
	klen = (size_t)(sep - s);
	while (klen && conf_is_blank(s[klen - 1]))
		klen--;
	if (klen + 3 > num)
		klen = num - 3; /* the key is then unknown, and said so */
	vlen = conf_value_end(sep, (size_t)(s + n - sep)) - 1;
	v = conf_trim_dup(sep + 1, vlen);
	if (!v) {
		p->oom = true;
		return 0;
	}
	p->long_value = v;
	memcpy(str, s, klen);
	str[klen] = '=';
	return klen + 1;
}

static char *conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	const char *s, *eol;
	size_t n;

	conf_line_done(p);
	if (p->pos >= p->len || num < 8)
		return NULL;
	s = p->text + p->pos;
	eol = memchr(s, '\n', p->len - p->pos);
	n = eol ? (size_t)(eol - s) : p->len - p->pos;
	p->pos += n + (eol ? 1 : 0);
	p->line++;
	if (p->line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		n -= 3;
	}
	/* Without leading blanks inih takes no line as a continuation. */
	while (n && conf_is_blank(*s)) {
		s++;
		n--;
	}
	while (n && conf_is_blank(s[n - 1]))
		n--;
	conf_line_classify(p, s, n);
	if (n + 2 > (size_t)num)
		n = conf_line_long(p, s, n, str, (size_t)num);
	else
		memcpy(str, s, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
}

static int conf_handler(void *user, const char *section, const char *name,
			const char *value)
{
	struct conf_parse *p = user;
	struct conf_ent *v;

	(void)section; /* the reader recorded it, with its line */
	p->called = true;
	if (p->long_value)
		value = p->long_value;
	v = conf_push(p->ents, p->nents, sizeof(*v));
	if (!v) {
		p->oom = true;
		return 1;
	}
	p->ents = v;
	v += p->nents++;
	v->sec = p->nsecs ? p->nsecs - 1 : SIZE_MAX;
	v->key = xstrdup(name);
	v->raw = xstrdup(value);
	v->line = p->line;
	if (!v->key || !v->raw)
		p->oom = true;
	return 1;
}

/* ---- sections ---- */

static int conf_kind_find(const char *word, size_t n)
{
	for (int k = 0; k < SEC_COUNT; k++)
		if (strlen(conf_kinds[k].word) == n &&
		    strncasecmp(conf_kinds[k].word, word, n) == 0)
			return k;
	return -1;
}

static void conf_source_init(struct conf_source *s)
{
	s->timeout = 60;
	s->max_connections = 4;
	s->queries_row_limit = 100000;
	s->page_size = 1000;
	s->verify_tls = true;
}

static void conf_share_init(struct conf_share *s)
{
	s->timeout = 20;
	s->dir_cache_ttl = 10;
}

/* An earlier section of the same kind and name, or NULL. */
static const struct conf_sec *conf_named_dup(struct conf_parse *p,
					     const struct conf_sec *sec,
					     const char *name)
{
	struct conf *c = p->c;

	for (const struct conf_sec *o = p->secs; o < sec; o++) {
		const char *oname;

		if (o->kind != sec->kind)
			continue;
		oname = o->kind == SEC_SOURCE ? c->sources[o->idx].name
					      : c->shares[o->idx].name;
		if (strcmp(oname, name) == 0)
			return o;
	}
	return NULL;
}

/* Makes the source or share a named section stands for. */
static int conf_named_add(struct conf_parse *p, struct conf_sec *sec,
			  const char *name)
{
	struct conf *c = p->c;
	char *copy = xstrdup(name);

	if (!copy)
		return -1;
	if (sec->kind == SEC_SOURCE) {
		struct conf_source *v;

		v = conf_push(c->sources, c->nsources, sizeof(*v));
		if (!v)
			goto out_free;
		c->sources = v;
		sec->idx = c->nsources++;
		conf_source_init(&v[sec->idx]);
		v[sec->idx].name = copy;
		v[sec->idx].line = sec->line;
	} else {
		struct conf_share *v;

		v = conf_push(c->shares, c->nshares, sizeof(*v));
		if (!v)
			goto out_free;
		c->shares = v;
		sec->idx = c->nshares++;
		conf_share_init(&v[sec->idx]);
		v[sec->idx].name = copy;
		v[sec->idx].line = sec->line;
	}
	return 0;
out_free:
	free(copy);
	return -1;
}

static void conf_named_setup(struct conf_parse *p, struct conf_sec *sec,
			     int kind, const char *name)
{
	const struct conf_sec *dup;
	const char *word = conf_kinds[kind].word;

	if (!*name) {
		diag_error(p->d, p->path, sec->line,
			   "section [%s] needs a name, as in [%s NAME]",
			   sec->head, word);
		return;
	}
	if (!report_name_valid(name)) {
		diag_error(p->d, p->path, sec->line,
			   "bad name '%s' in [%s]: use letters, digits, "
			   "'-' and '_'",
			   name, sec->head);
		return;
	}
	sec->kind = kind;
	dup = conf_named_dup(p, sec, name);
	if (dup) {
		diag_error(p->d, p->path, sec->line,
			   "duplicate [%s %s]: first on line %d", word, name,
			   dup->line);
		sec->kind = -1;
		return;
	}
	if (conf_named_add(p, sec, name) < 0) {
		p->oom = true;
		sec->kind = -1;
	}
}

static void conf_section_setup(struct conf_parse *p, struct conf_sec *sec)
{
	const char *head = sec->head;
	size_t n = strcspn(head, " \t");
	const char *name = head + n + strspn(head + n, " \t");
	int kind = conf_kind_find(head, n);

	if (kind < 0) {
		diag_error(p->d, p->path, sec->line, "unknown section [%s]",
			   head);
		return;
	}
	p->seen[kind] = true;
	if (conf_kinds[kind].named) {
		conf_named_setup(p, sec, kind, name);
		return;
	}
	if (*name) {
		diag_error(p->d, p->path, sec->line,
			   "section [%s] takes no name", conf_kinds[kind].word);
		return;
	}
	sec->kind = kind;
}

/* ---- ${NAME} and the env_file ---- */

static const char *conf_lookup(struct conf_parse *p, const char *name)
{
	const char *v = getenv(name);

	if (v)
		return v;
	for (size_t i = p->nvars; i-- > 0;)
		if (strcmp(p->vars[i].name, name) == 0)
			return p->vars[i].value;
	return NULL;
}

static void conf_undefined(struct conf_parse *p, int line, const char *name)
{
	if (p->env_failed)
		return; /* the env_file's own error says why */
	if (p->env_loaded)
		diag_error(p->d, p->path, line,
			   "${%s} is set neither in the environment nor in "
			   "env_file %s",
			   name, p->env_shown);
	else
		diag_error(p->d, p->path, line,
			   "${%s} is not set in the environment, and no "
			   "env_file defines it",
			   name);
}

/* Appends the value of "${NAME}" at @s; returns the byte after it. */
static const char *conf_expand_one(struct conf_parse *p, const char *s,
				   int line, struct strbuf *sb)
{
	const char *close = strchr(s + 2, '}');
	char name[128];
	size_t n;
	const char *v;

	if (!close) {
		diag_error(p->d, p->path, line, "'${' without its closing '}'");
		return NULL;
	}
	n = (size_t)(close - s - 2);
	if (!conf_var_name_valid(s + 2, n) || n >= sizeof(name)) {
		diag_error(p->d, p->path, line,
			   "bad variable name in '%.*s': use letters, digits "
			   "and '_'",
			   (int)(n + 3), s);
		return NULL;
	}
	memcpy(name, s + 2, n);
	name[n] = '\0';
	v = conf_lookup(p, name);
	if (!v) {
		conf_undefined(p, line, name);
		return NULL;
	}
	if (strbuf_adds(sb, v) < 0) {
		p->oom = true;
		return NULL;
	}
	return close + 1;
}

/* Expands every ${NAME} of @raw into *out; -1 with a diagnostic. */
static int conf_expand(struct conf_parse *p, const char *raw, int line,
		       char **out)
{
	struct strbuf sb = STRBUF_INIT;
	const char *s = raw, *dollar;

	while ((dollar = strstr(s, "${")) != NULL) {
		if (strbuf_add(&sb, s, (size_t)(dollar - s)) < 0)
			goto out_oom;
		s = conf_expand_one(p, dollar, line, &sb);
		if (!s)
			goto out_wipe;
	}
	if (strbuf_adds(&sb, s) < 0)
		goto out_oom;
	*out = strbuf_detach(&sb);
	if (*out)
		return 0;
out_oom:
	p->oom = true;
out_wipe:
	if (sb.buf)
		explicit_bzero(sb.buf, sb.len);
	strbuf_release(&sb);
	return -1;
}

static int conf_var_add(struct conf_parse *p, const char *name, size_t nlen,
			const char *value, size_t vlen)
{
	struct conf_var *v = conf_push(p->vars, p->nvars, sizeof(*v));

	if (!v)
		return -1;
	p->vars = v;
	v += p->nvars++;
	v->name = xstrndup(name, nlen);
	v->value = xstrndup(value, vlen);
	return v->name && v->value ? 0 : -1;
}

/* One line of the env_file; NAME=value, "export NAME=value" or a comment. */
static void conf_env_line(struct conf_parse *p, char *s, int line)
{
	char *eq, *name, *value;
	size_t vlen;

	s = str_trim(s);
	if (!*s || *s == '#' || *s == ';')
		return;
	if (strncmp(s, "export", 6) == 0 && conf_is_blank(s[6]))
		s += 7;
	eq = strchr(s, '=');
	if (!eq)
		goto out_bad;
	*eq = '\0';
	name = str_trim(s);
	value = str_trim(eq + 1);
	if (!conf_var_name_valid(name, strlen(name)))
		goto out_bad;
	vlen = strlen(value);
	if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') &&
	    value[vlen - 1] == value[0]) {
		value++;
		vlen -= 2;
	}
	if (conf_var_add(p, name, strlen(name), value, vlen) < 0)
		p->oom = true;
	return;
out_bad:
	/* The line may hold a secret: it is never quoted. */
	diag_error(p->d, p->env_shown, line, "expected NAME=value");
}

static void conf_env_parse(struct conf_parse *p, char *text)
{
	int line = 0;
	char *s = text;

	/* strtok_r would skip empty lines and so lose the line count. */
	while (s) {
		char *nl = strchr(s, '\n');

		if (nl)
			*nl = '\0';
		conf_env_line(p, s, ++line);
		s = nl ? nl + 1 : NULL;
	}
}

static int conf_fd_read(int fd, struct strbuf *sb)
{
	char chunk[4096];
	ssize_t n;
	int rc = 0;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (strbuf_add(sb, chunk, (size_t)n) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	if (n < 0)
		rc = -errno;
	explicit_bzero(chunk, sizeof(chunk));
	return rc;
}

/* Checks the env_file as ssh checks a key, then reads its variables. */
static void conf_env_load(struct conf_parse *p, const char *envpath, int line)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	int fd, rc;

	fd = open(envpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		diag_error(p->d, p->path, line, "cannot open env_file %s: %s",
			   p->env_shown, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		diag_error(p->d, p->path, line,
			   "env_file %s is not a regular file", p->env_shown);
		goto out_close;
	}
	if (st.st_mode & 077) {
		diag_error(p->d, p->path, line,
			   "env_file %s has mode %04o: group or others can "
			   "read its secrets; run chmod 600 %s",
			   p->env_shown, (unsigned)(st.st_mode & 07777),
			   p->env_shown);
		goto out_close;
	}
	rc = conf_fd_read(fd, &sb);
	if (rc < 0) {
		diag_error(p->d, p->path, line, "cannot read env_file %s: %s",
			   p->env_shown, strerror(-rc));
		goto out_wipe;
	}
	if (sb.buf)
		conf_env_parse(p, sb.buf);
	p->env_loaded = true;
out_wipe:
	if (sb.buf)
		explicit_bzero(sb.buf, sb.len);
	strbuf_release(&sb);
out_close:
	close(fd);
}

/* @path as given when absolute, else from the config file's folder. */
static char *conf_resolve(struct conf_parse *p, const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	if (path[0] == '/' || !*path)
		return xstrdup(path);
	if (strbuf_addf(&sb, "%s/%s", p->dir, path) < 0)
		return NULL;
	return strbuf_detach(&sb);
}

static struct conf_ent *conf_env_entry(struct conf_parse *p)
{
	for (size_t i = 0; i < p->nents; i++) {
		struct conf_ent *e = &p->ents[i];

		if (e->sec != SIZE_MAX && p->secs[e->sec].kind == SEC_GLOBAL &&
		    strcasecmp(e->key, "env_file") == 0)
			return e;
	}
	return NULL;
}

/* The env_file is read first: any value may need its variables. */
static void conf_env_setup(struct conf_parse *p)
{
	struct conf_ent *e = conf_env_entry(p);
	char *val;

	if (!e || conf_expand(p, e->raw, e->line, &val) < 0)
		return;
	if (!*val) {
		diag_error(p->d, p->path, e->line, "env_file is empty");
		free(val);
		return;
	}
	p->c->env_file = conf_resolve(p, val);
	free(val);
	if (!p->c->env_file) {
		p->oom = true;
		return;
	}
	p->env_shown = strstr(e->raw, "${") ? e->raw : p->c->env_file;
	conf_env_load(p, p->c->env_file, e->line);
	p->env_failed = !p->env_loaded;
}

/* ---- values ---- */

static void conf_bad(struct conf_parse *p, const struct conf_ent *e,
		     const char *want)
{
	diag_error(p->d, p->path, e->line,
		   "bad value '%s' for '%s' in [%s]: expected %s", e->raw,
		   e->key, p->secs[e->sec].head, want);
}

/* A whole number from @lo to @hi, or -1 after a diagnostic. */
static int64_t conf_number(struct conf_parse *p, const struct conf_ent *e,
			   const char *val, int64_t lo, int64_t hi)
{
	const char *end;
	int64_t v = conf_parse_digits(val, &end, INT64_MAX);

	if (v < 0 || *end || v < lo || v > hi) {
		conf_bad(p, e,
			 lo > 0 ? "a whole number above 0"
				: "a whole number, 0 or more");
		return -1;
	}
	return v;
}

static int64_t conf_seconds(struct conf_parse *p, const struct conf_ent *e,
			    const char *val, int64_t lo)
{
	int64_t v = conf_parse_duration(val);

	if (v < lo || v > INT_MAX) {
		conf_bad(p, e,
			 lo > 0 ? "seconds above 0, or a number with s, m, h "
				  "or d"
				: "seconds, or a number with s, m, h or d");
		return -1;
	}
	return v;
}

static void conf_set_string(struct conf_parse *p, const struct conf_ent *e,
			    const struct conf_key *k, char **field, char *val)
{
	if (k->type == CT_SECRET && *e->raw && !strstr(e->raw, "${"))
		diag_warn(p->d, p->path, e->line,
			  "'%s' in [%s] is written in the file: keep it in "
			  "env_file and write ${NAME}",
			  e->key, p->secs[e->sec].head);
	if (k->type == CT_PATH && !*val) {
		/* "" would put state and cache files under "/". */
		diag_error(p->d, p->path, e->line,
			   "'%s' in [%s] is empty: give a path", e->key,
			   p->secs[e->sec].head);
		conf_wipe_free(val);
		return;
	}
	if (k->type == CT_PATH) {
		char *full = conf_resolve(p, val);

		conf_wipe_free(val);
		val = full;
		if (!val)
			p->oom = true;
	}
	conf_wipe_free(*field);
	*field = val;
}

/* Sets a typed (not string) field; -1 after a diagnostic. */
static int conf_set_typed(struct conf_parse *p, const struct conf_ent *e,
			  const struct conf_key *k, void *field,
			  const char *val)
{
	int64_t v;

	switch (k->type) {
	case CT_SECS:
	case CT_SECS0:
		v = conf_seconds(p, e, val, k->type == CT_SECS);
		break;
	case CT_INT:
	case CT_INT0:
	case CT_MSEC:
		v = conf_number(p, e, val, k->type != CT_INT0, INT_MAX);
		break;
	case CT_LONG:
		v = conf_number(p, e, val, 1, LONG_MAX);
		if (v >= 0)
			*(long *)field = (long)v;
		return v < 0 ? -1 : 0;
	case CT_SIZE:
		v = conf_parse_size(val);
		if (v <= 0) {
			conf_bad(p, e,
				 "a size above 0 (as 12345, 100k, "
				 "512M or 2G)");
			return -1;
		}
		*(uint64_t *)field = (uint64_t)v;
		return 0;
	default:
		return -1;
	}
	if (v >= 0)
		*(int *)field = (int)v;
	return v < 0 ? -1 : 0;
}

/* Sets a field that takes one of a few words. */
static void conf_set_word(struct conf_parse *p, const struct conf_ent *e,
			  const struct conf_key *k, void *field,
			  const char *val)
{
	int v;

	switch (k->type) {
	case CT_BOOL:
		v = conf_parse_bool(val);
		if (v < 0)
			conf_bad(p, e, "yes or no");
		else
			*(bool *)field = v;
		return;
	case CT_LOCALE:
		v = conf_parse_locale(val);
		if (v < 0)
			conf_bad(p, e, "tr_TR, C or en_US");
		else
			*(bool *)field = v;
		return;
	case CT_CSV:
		v = conf_parse_csv(val);
		if (v < 0)
			conf_bad(p, e, "rfc4180 or excel-tr");
		else
			*(enum csv_dialect *)field = (enum csv_dialect)v;
		return;
	default:
		v = log_level_parse(val);
		if (v < 0)
			conf_bad(p, e, "error, warning, notice, info or debug");
		else
			*(int *)field = v;
		return;
	}
}

static void conf_set(struct conf_parse *p, const struct conf_ent *e,
		     const struct conf_key *k, void *obj, char *val)
{
	void *field = (char *)obj + k->off;

	switch (k->type) {
	case CT_STR:
	case CT_SECRET:
	case CT_PATH:
		conf_set_string(p, e, k, field, val);
		return;
	case CT_ENVFILE:
		break; /* done by conf_env_setup */
	case CT_BOOL:
	case CT_CSV:
	case CT_LOCALE:
	case CT_LOGLEVEL:
		conf_set_word(p, e, k, field, val);
		break;
	default:
		conf_set_typed(p, e, k, field, val);
		break;
	}
	conf_wipe_free(val);
}

static void *conf_section_obj(struct conf_parse *p, const struct conf_sec *s)
{
	if (s->kind == SEC_SOURCE)
		return &p->c->sources[s->idx];
	if (s->kind == SEC_SHARE)
		return &p->c->shares[s->idx];
	return p->c;
}

static const struct conf_key *conf_key_find(const struct conf_sec *sec,
					    const char *key)
{
	const struct conf_kind_desc *kd = &conf_kinds[sec->kind];

	for (size_t i = 0; i < kd->nkeys; i++)
		if (strcasecmp(kd->keys[i].name, key) == 0)
			return &kd->keys[i];
	return NULL;
}

/* True when the same field of the same section was set by an earlier line. */
static bool conf_is_dup(struct conf_parse *p, size_t i,
			const struct conf_key *k)
{
	const struct conf_ent *e = &p->ents[i];
	const struct conf_sec *sec = &p->secs[e->sec];

	for (size_t j = 0; j < i; j++) {
		const struct conf_ent *o = &p->ents[j];
		const struct conf_sec *osec;
		const struct conf_key *ok;

		if (o->sec == SIZE_MAX)
			continue;
		osec = &p->secs[o->sec];
		if (osec->kind != sec->kind || osec->idx != sec->idx)
			continue;
		ok = conf_key_find(osec, o->key);
		if (!ok || ok->off != k->off)
			continue;
		diag_error(p->d, p->path, e->line,
			   "'%s' in [%s] is set again: '%s' on line %d", e->key,
			   sec->head, o->key, o->line);
		return true;
	}
	return false;
}

static void conf_entry_apply(struct conf_parse *p, size_t i)
{
	const struct conf_ent *e = &p->ents[i];
	const struct conf_sec *sec;
	const struct conf_key *k;
	char *val;

	if (e->sec == SIZE_MAX) {
		diag_error(p->d, p->path, e->line,
			   "'%s' comes before any [section]", e->key);
		return;
	}
	sec = &p->secs[e->sec];
	if (sec->kind < 0)
		return; /* the section was reported */
	k = conf_key_find(sec, e->key);
	if (!k) {
		diag_error(p->d, p->path, e->line, "unknown key '%s' in [%s]",
			   e->key, sec->head);
		return;
	}
	if (conf_is_dup(p, i, k))
		return;
	if (k->type == CT_ENVFILE)
		return;
	if (conf_expand(p, e->raw, e->line, &val) < 0)
		return;
	conf_set(p, e, k, conf_section_obj(p, sec), val);
}

/* ---- whole-file checks ---- */

/* The line setting @key in the section of @kind and @idx, or NULL. */
static const struct conf_ent *conf_key_ent(struct conf_parse *p, int kind,
					   size_t idx, const char *key)
{
	for (size_t i = 0; i < p->nents; i++) {
		const struct conf_ent *e = &p->ents[i];
		const struct conf_sec *s;

		if (e->sec == SIZE_MAX)
			continue;
		s = &p->secs[e->sec];
		if (s->kind == kind && s->idx == idx &&
		    strcasecmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

/* The line of @key in the section of @kind and @idx, or its header's. */
static int conf_key_line(struct conf_parse *p, int kind, size_t idx,
			 const char *key, int fallback)
{
	const struct conf_ent *e = conf_key_ent(p, kind, idx, key);

	return e ? e->line : fallback;
}

/* @key's value as written in the file (never expanded), for messages. */
static const char *conf_key_raw(struct conf_parse *p, int kind, size_t idx,
				const char *key)
{
	const struct conf_ent *e = conf_key_ent(p, kind, idx, key);

	return e ? e->raw : "";
}

static bool conf_empty(const char *s)
{
	return !s || !*s;
}

static void conf_need(struct conf_parse *p, int line, const char *what,
		      const char *value, const char *key, const char *why)
{
	if (conf_empty(value))
		diag_error(p->d, p->path, line, "[%s] needs '%s'%s", what, key,
			   why);
}

static void conf_check_source(struct conf_parse *p, size_t i)
{
	const struct conf_source *s = &p->c->sources[i];
	char what[128];
	int line;

	snprintf(what, sizeof(what), "source %s", s->name);
	if (conf_empty(s->driver)) {
		conf_need(p, s->line, what, NULL, "driver",
			  " (odbc, postgres or servicelayer)");
		return;
	}
	if (strcmp(s->driver, "odbc") == 0) {
		conf_need(p, s->line, what, s->connection, "connection",
			  " for driver odbc");
	} else if (strcmp(s->driver, "postgres") == 0) {
		conf_need(p, s->line, what, s->conninfo, "conninfo",
			  " for driver postgres");
	} else if (strcmp(s->driver, "servicelayer") == 0) {
		conf_need(p, s->line, what, s->url, "url",
			  " for driver servicelayer");
		conf_need(p, s->line, what, s->company, "company",
			  " for driver servicelayer");
	} else {
		line = conf_key_line(p, SEC_SOURCE, i, "driver", s->line);
		diag_error(p->d, p->path, line,
			   "unknown driver '%s' in [%s]: known are %s, %s "
			   "and %s",
			   conf_key_raw(p, SEC_SOURCE, i, "driver"), what,
			   conf_drivers[0], conf_drivers[1], conf_drivers[2]);
	}
}

static void conf_check_share(struct conf_parse *p, size_t i)
{
	const struct conf_share *s = &p->c->shares[i];
	int line;

	if (conf_empty(s->url)) {
		diag_error(p->d, p->path, s->line,
			   "[share %s] needs 'url' (smb://host/share)",
			   s->name);
		return;
	}
	if (strncasecmp(s->url, "smb://", 6) != 0) {
		line = conf_key_line(p, SEC_SHARE, i, "url", s->line);
		diag_error(p->d, p->path, line,
			   "url of [share %s] must start with smb://", s->name);
	}
}

static int conf_section_line(struct conf_parse *p, int kind)
{
	for (size_t i = 0; i < p->nsecs; i++)
		if (p->secs[i].kind == kind)
			return p->secs[i].line;
	return 0;
}

static void conf_check_services(struct conf_parse *p)
{
	struct conf *c = p->c;
	int line;

	if (p->seen[SEC_REDIS])
		conf_need(p, conf_section_line(p, SEC_REDIS), "redis",
			  c->redis_url, "url", " (redis://host:port/db)");
	if (!p->seen[SEC_SMTP])
		return;
	line = conf_section_line(p, SEC_SMTP);
	conf_need(p, line, "smtp", c->smtp_url, "url",
		  " (smtp://host:587 or smtps://host:465)");
	conf_need(p, line, "smtp", c->smtp_from, "from", "");
	if (!conf_empty(c->smtp_url) &&
	    strncasecmp(c->smtp_url, "smtp://", 7) != 0 &&
	    strncasecmp(c->smtp_url, "smtps://", 8) != 0)
		diag_error(p->d, p->path,
			   conf_key_line(p, SEC_SMTP, 0, "url", line),
			   "url in [smtp] must start with smtp:// or smtps://");
}

static void conf_check_global(struct conf_parse *p)
{
	struct conf *c = p->c;
	char zone[PATH_MAX];
	int line;

	if (c->retry_max < c->retry_first) {
		line = conf_key_line(p, SEC_MAILER, 0, "retry_max",
				     conf_section_line(p, SEC_MAILER));
		diag_error(p->d, p->path, line,
			   "retry_max (%d) is shorter than retry_first (%d)",
			   c->retry_max, c->retry_first);
	}
	if (conf_empty(c->timezone))
		return;
	line = conf_key_line(p, SEC_GLOBAL, 0, "timezone", 0);
	snprintf(zone, sizeof(zone), "/usr/share/zoneinfo/%s", c->timezone);
	if (c->timezone[0] == '/' || strstr(c->timezone, "..") ||
	    access(zone, R_OK) < 0)
		diag_warn(p->d, p->path, line,
			  "timezone '%s' is not in /usr/share/zoneinfo",
			  conf_key_raw(p, SEC_GLOBAL, 0, "timezone"));
}

static void conf_check(struct conf_parse *p)
{
	for (size_t i = 0; i < p->c->nsources; i++)
		conf_check_source(p, i);
	for (size_t i = 0; i < p->c->nshares; i++)
		conf_check_share(p, i);
	conf_check_services(p);
	conf_check_global(p);
}

/* ---- loading ---- */

static int conf_defaults(struct conf *c)
{
	c->reports_dir = xstrdup(CONF_REPORTS_DIR);
	c->state_dir = xstrdup("/var/lib/sapb1fs");
	c->csv_dialect = CSV_RFC4180;
	c->tr_numbers = true;
	c->log_level = LOG_INFO;
	c->mount_path = xstrdup("/mnt/sapb1");
	c->cache_dir = xstrdup("/var/cache/sapb1fs");
	c->cache_size = 2ULL << 30;
	c->default_ttl = 300;
	c->max_threads = 32;
	c->max_runs = 8;
	c->redis_timeout = 500;
	c->redis_max_object = 64ULL << 20;
	c->smtp_tls = true;
	c->spool_dir = xstrdup("/var/spool/sapb1fs");
	c->retry_first = 60;
	c->retry_max = 3600;
	c->max_age = 432000;
	c->max_size = 25ULL << 20;
	c->history_keep = 30;
	c->catch_up = 86400;
	c->retry = 2;
	if (!c->reports_dir || !c->state_dir || !c->mount_path ||
	    !c->cache_dir || !c->spool_dir)
		return -1;
	return 0;
}

/*
 * The config file's folder, absolute: relative paths in the file are taken
 * from it, and must stay right after a daemon changes to "/".
 */
static char *conf_dirname(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *slash = strrchr(path, '/');
	char cwd[PATH_MAX];

	if (slash == path)
		return xstrdup("/");
	if (path[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)) || strbuf_adds(&sb, cwd) < 0)
			goto out_fail;
		if (slash && sb.buf[sb.len - 1] != '/' &&
		    strbuf_addc(&sb, '/') < 0)
			goto out_fail;
	}
	if (slash && strbuf_add(&sb, path, (size_t)(slash - path)) < 0)
		goto out_fail;
	return strbuf_detach(&sb);
out_fail:
	strbuf_release(&sb);
	return NULL;
}

static void conf_parse_release(struct conf_parse *p)
{
	free(p->long_value);
	for (size_t i = 0; i < p->nsecs; i++)
		free(p->secs[i].head);
	free(p->secs);
	for (size_t i = 0; i < p->nents; i++) {
		free(p->ents[i].key);
		conf_wipe_free(p->ents[i].raw);
	}
	free(p->ents);
	for (size_t i = 0; i < p->nvars; i++) {
		free(p->vars[i].name);
		conf_wipe_free(p->vars[i].value);
	}
	free(p->vars);
	free(p->dir);
}

/* Runs inih over the text; sections and entries land in @p. */
static void conf_scan(struct conf_parse *p)
{
	int rc = ini_parse_stream(conf_reader, p, conf_handler, p);

	conf_line_done(p);
	if (memchr(p->text, '\0', p->len))
		diag_error(p->d, p->path, 0, "the file holds a NUL byte");
	if (rc > 0 && p->d->errors == p->errors0)
		diag_error(p->d, p->path, rc, "syntax error");
	else if (rc < 0)
		p->oom = true;
}

static void conf_build(struct conf_parse *p)
{
	conf_scan(p);
	for (size_t i = 0; i < p->nsecs && !p->oom; i++)
		conf_section_setup(p, &p->secs[i]);
	conf_env_setup(p);
	for (size_t i = 0; i < p->nents && !p->oom; i++)
		conf_entry_apply(p, i);
	if (!p->oom)
		conf_check(p);
	if (p->oom)
		diag_error(p->d, p->path, 0, "out of memory");
}

int conf_load(const char *path, struct conf **out, struct diag *d)
{
	struct conf_parse p = {.path = path, .d = d, .errors0 = d->errors};
	unsigned errors = d->errors;
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = file_read_all(path, &text, &len);
	if (rc < 0) {
		diag_error(d, path, 0, "cannot read the configuration: %s",
			   strerror(-rc));
		return -1;
	}
	p.text = text;
	p.len = len;
	p.c = calloc(1, sizeof(*p.c));
	p.dir = conf_dirname(path);
	if (!p.c || !p.dir || conf_defaults(p.c) < 0 ||
	    !(p.c->path = xstrdup(path)))
		p.oom = true;
	else
		conf_build(&p);
	if (p.oom && d->errors == errors)
		diag_error(d, path, 0, "out of memory");
	conf_parse_release(&p);
	free(text);
	if (d->errors != errors) {
		conf_free(p.c);
		return -1;
	}
	*out = p.c;
	return 0;
}

static void conf_source_release(struct conf_source *s)
{
	free(s->name);
	free(s->driver);
	conf_wipe_free(s->connection);
	conf_wipe_free(s->conninfo);
	free(s->url);
	free(s->company);
	free(s->user);
	conf_wipe_free(s->password);
	free(s->queries_group);
	free(s->ca_file);
}

static void conf_share_release(struct conf_share *s)
{
	free(s->name);
	free(s->url);
	free(s->user);
	conf_wipe_free(s->password);
	free(s->domain);
}

static void conf_strings_release(struct conf *c)
{
	char **strs[] = {
	    &c->path,	      &c->env_file,   &c->reports_dir, &c->state_dir,
	    &c->timezone,     &c->mount_path, &c->cache_dir,   &c->redis_url,
	    &c->smtp_url,     &c->smtp_user,  &c->smtp_from,   &c->smtp_admin,
	    &c->smtp_ca_file, &c->spool_dir,
	};

	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	conf_wipe_free(c->redis_password);
	conf_wipe_free(c->smtp_password);
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	conf_strings_release(c);
	for (size_t i = 0; i < c->nsources; i++)
		conf_source_release(&c->sources[i]);
	free(c->sources);
	for (size_t i = 0; i < c->nshares; i++)
		conf_share_release(&c->shares[i]);
	free(c->shares);
	free(c);
}

const struct conf_source *conf_source_find(const struct conf *c,
					   const char *name)
{
	for (size_t i = 0; i < c->nsources; i++)
		if (strcmp(c->sources[i].name, name) == 0)
			return &c->sources[i];
	return NULL;
}

const struct conf_share *conf_share_find(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nshares; i++)
		if (strcmp(c->shares[i].name, name) == 0)
			return &c->shares[i];
	return NULL;
}
