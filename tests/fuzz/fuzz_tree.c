/*
 * fuzz_tree: tree_resolve(), the path lookup of the mount, over any path
 * the kernel could hand the daemon, with the daemon's real fs/ code but
 * main.c and params.c: this file stands in for the loaded config and
 * definitions (main.c) and for the value queries of parameter folders
 * (params.c), answering each with a fixed list of awkward values.  A
 * scratch state_dir holds query folders and history files.
 *
 * Checks, for every path that resolves: no "." or ".." component got
 * there (except under images/, where smb_path_check() must refuse it);
 * a history file or query folder file maps to a real path inside its
 * folder; a report node is one of the definitions with formats it
 * lists and values from its value lists; a query source allows query
 * folders and a query name is one query_name_valid() would take.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "params.h"
#include "tree.h"
#ifdef HAVE_SMB
#include "smb.h"
#endif

struct fs_ctx fs;
static struct fs_defs defs;
static char state_dir[512];

/* ---- what main.c does in the daemon ---- */

struct fs_defs *fs_defs_get(void)
{
	__atomic_add_fetch(&fs.defs->refs, 1, __ATOMIC_ACQ_REL);
	return fs.defs;
}

void fs_defs_put(struct fs_defs *d)
{
	__atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL);
}

const struct report *fs_defs_find(const struct fs_defs *d, const char *name,
				  size_t *idx)
{
	for (size_t i = 0; i < d->n; i++) {
		if (!strcmp(d->v[i]->name, name)) {
			if (idx)
				*idx = i;
			return d->v[i];
		}
	}
	return NULL;
}

int fs_defs_reload(void)
{
	return 0;
}

/* ---- what params.c does: every value list is this one ---- */

static char long_value[400];
static char *fuzz_values[] = {
    "C001",	 "",
    ".",	 "..",
    "a/b",	 "%",
    "%2F",	 "/",
    "-x",	 "\xc5\x9eirket \xc4\xb0\xc3\xa7",
    "tab\there", "line\nbreak",
    "\x7f",	 "%~",
    long_value,	 "x.y",
    "..a",
};
static struct param_values fuzz_pv = {
    .refs = 1, .v = fuzz_values, .n = ARRAY_SIZE(fuzz_values)};

int params_values(const struct report *r, size_t idx,
		  const struct drv_param *chosen, int ttl,
		  struct param_values **out, char *err, size_t errlen)
{
	(void)r;
	(void)idx;
	(void)chosen;
	(void)ttl;
	(void)err;
	(void)errlen;
	*out = &fuzz_pv;
	return 0;
}

void params_put(struct param_values *pv)
{
	(void)pv;
}

/* ---- the scene ---- */

static const char *const fuzz_reports[][2] = {
    {"monthly.sql", "-- source: hana\n-- formats: csv json\n"
		    "SELECT 1\n"},
    {"bakiye.sql", "-- source: hana\n-- param: supplier = SELECT code FROM s\n"
		   "-- param: year = SELECT y FROM t\n"
		   "SELECT * FROM x WHERE a = :supplier AND b = :year\n"},
    {"tek-format_2.sql", "-- source: pg\n-- formats: xlsx\nSELECT 2\n"},
};

static void scene_mkdir(const char *rel)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", state_dir, rel);
	if (mkdir_p(path, 0755) < 0)
		abort();
}

static void scene_conf(void)
{
	struct strbuf text = STRBUF_INIT;
	struct diag d = {0};

	strbuf_addf(&text,
		    "[global]\nstate_dir = %s\nreports_dir = %s\n"
		    "[source hana]\ndriver = odbc\nconnection = DSN=x\n"
		    "queries = yes\n"
		    "[source pg]\ndriver = postgres\nconninfo = dbname=x\n"
		    "[share pics]\nurl = smb://127.0.0.1/pics\n",
		    state_dir, fuzz_dir());
	fuzz_write("tree.conf", text.buf, text.len, 0644);
	if (conf_load(fuzz_path("tree.conf"), &fs.conf, &d) < 0) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "fuzz_tree: %s\n", d.msgs[i]);
		abort();
	}
	diag_free(&d);
	strbuf_release(&text);
}

static void scene_defs(void)
{
	struct diag d = {0};

	defs.n = ARRAY_SIZE(fuzz_reports);
	defs.v = calloc(defs.n, sizeof(*defs.v));
	defs.gid = calloc(defs.n, sizeof(*defs.gid));
	defs.refs = 1;
	for (size_t i = 0; i < defs.n; i++) {
		const char *text = fuzz_reports[i][1];

		if (report_parse(fuzz_reports[i][0], text, strlen(text),
				 &defs.v[i], &d) < 0) {
			fprintf(stderr, "fuzz_tree: %s\n", d.msgs[0]);
			abort();
		}
	}
	fs.defs = &defs;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memset(long_value, 'L', sizeof(long_value) - 1);
	snprintf(state_dir, sizeof(state_dir), "%s/state", fuzz_dir());
	scene_mkdir("history/monthly");
	scene_mkdir("queries/hana/q1");
	scene_mkdir("queries/hana/sorgu \xc3\xa7");
	scene_mkdir("queries/pg/q1");
	fuzz_write("state/history/monthly/2024-01-01_0700.csv", "a\r\n", 3,
		   0644);
	scene_conf();
	scene_defs();
	fs.uid = getuid();
	fs.gid = getgid();
	return 0;
}

/* ---- checks ---- */

static bool is_dots(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') ||
	       (n == 2 && s[0] == '.' && s[1] == '.');
}

/* Does @path hold a "." or ".." component? */
static bool has_dots(const char *path)
{
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");

		if (is_dots(p, n))
			return true;
		p += n + strspn(p + n, "/");
		if (!n && *p == '\0')
			break;
	}
	return false;
}

/* @real lies strictly inside @base and holds no "." or "..". */
static void check_inside(const char *real, const char *base)
{
	size_t n = strlen(base);

	FUZZ_CHECK(!strncmp(real, base, n) && real[n] == '/' && real[n + 1],
		   "%s is not inside %s", real, base);
	FUZZ_CHECK(!has_dots(real + n), "%s leaves %s", real, base);
}

static void check_value(const char *v)
{
	for (size_t i = 0; i < fuzz_pv.n; i++)
		if (v && !strcmp(v, fuzz_values[i]))
			return;
	FUZZ_CHECK(0, "value '%s' is not in the list", v ? v : "(null)");
}

static void check_report_node(const struct node *n)
{
	bool known = false;

	for (size_t i = 0; i < defs.n; i++)
		known |= n->rep == defs.v[i] && n->ridx == i;
	FUZZ_CHECK(known, "report node of an unknown report");
	FUZZ_CHECK(n->nchosen <= n->rep->nparams, "%zu values chosen",
		   n->nchosen);
	for (size_t i = 0; i < n->nchosen; i++) {
		FUZZ_CHECK(!strcmp(n->chosen[i].name, n->rep->params[i].name),
			   "value %zu for '%s'", i, n->chosen[i].name);
		check_value(n->chosen[i].value);
	}
	if (n->kind == N_REPORT_FILE)
		FUZZ_CHECK(n->fmt >= 0 && n->fmt < FMT_COUNT &&
			       (n->rep->formats & (1u << n->fmt)),
			   "format %d not listed", n->fmt);
	if (n->kind == N_REPORT_FILE || n->kind == N_LAST_ERROR)
		FUZZ_CHECK(n->nchosen == n->rep->nparams,
			   "a file before every parameter has a value");
}

static void check_query_node(const struct node *n)
{
	char real[PATH_MAX], base[PATH_MAX];

	FUZZ_CHECK(n->qsrc && n->qsrc->queries, "query folder of %s",
		   n->qsrc ? n->qsrc->name : "(none)");
	if (n->kind == N_QSOURCE)
		return;
	FUZZ_CHECK(n->qname && *n->qname && n->qname[0] != '.' &&
		       !strchr(n->qname, '/') && !strchr(n->qname, '\\'),
		   "query name '%s'", n->qname ? n->qname : "(null)");
	snprintf(base, sizeof(base), "%s/queries/%s", state_dir, n->qsrc->name);
	queries_real_path(n, real, sizeof(real));
	check_inside(real, base);
	if (n->kind != N_QDIR) {
		snprintf(base, sizeof(base), "%s/queries/%s/%s", state_dir,
			 n->qsrc->name, n->qname);
		check_inside(real, base);
	}
}

static void check_image_node(const struct node *n, bool dots)
{
	FUZZ_CHECK(conf_share_find(fs.conf, n->share), "share '%s'", n->share);
#ifdef HAVE_SMB
	if (dots || strchr(n->rel, '\\') || strstr(n->rel, "//"))
		FUZZ_CHECK(smb_path_check(n->rel) != 0,
			   "smb_path_check takes '%s'", n->rel);
#else
	(void)dots;
#endif
}

static void check_node(const char *path, const struct node *n)
{
	char real[PATH_MAX];
	bool dots = has_dots(path);

	switch (n->kind) {
	case N_IMAGE_PATH:
		check_image_node(n, dots);
		return;
	case N_QUERIES:
	case N_QSOURCE:
	case N_QDIR:
	case N_QRESULT:
	case N_QERROR:
	case N_QFILE:
		if (n->kind != N_QUERIES)
			check_query_node(n);
		break;
	case N_HISTORY_FILE:
		snprintf(real, sizeof(real), "%s/history/%s/%s", state_dir,
			 n->rep->name, n->name);
		check_inside(real, state_dir);
		FUZZ_CHECK(!strchr(n->name, '/') && n->name[0] != '.',
			   "history file '%s'", n->name);
		check_report_node(n);
		break;
	case N_REPORT_DIR:
	case N_REPORT_FILE:
	case N_QUERY_SQL:
	case N_LAST_ERROR:
	case N_HISTORY_DIR:
	case N_PARAM_DIR:
	case N_VALUE_DIR:
		check_report_node(n);
		break;
	default:
		break;
	}
	FUZZ_CHECK(!dots, "'%s' has a dot component and resolves (kind %d)",
		   path, (int)n->kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t len = nul ? (size_t)(nul - data) : size;
	char *path = malloc(len + 2);
	struct node *n = malloc(sizeof(*n));
	int rc;

	if (!path || !n)
		abort();
	path[0] = '/';
	memcpy(path + 1, data, len);
	path[len + 1] = '\0';
	rc = tree_resolve(len && data[0] == '/' ? path + 1 : path, n);
	FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -ENAMETOOLONG ||
		       rc == -EIO,
		   "tree_resolve: %d", rc);
	if (rc == 0) {
		check_node(len && data[0] == '/' ? path + 1 : path, n);
		node_release(n);
	}
	FUZZ_CHECK(defs.refs == 1, "definitions held %d times", defs.refs);
	free(n);
	free(path);
	return 0;
}
