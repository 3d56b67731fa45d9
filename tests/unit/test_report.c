/*
 * test_report: lib/report.c: the DESIGN example, every header key, errors
 * on the right lines, the param/placeholder cross-checks, odata, a folder
 * of definitions, and sql_bind_rewrite over literals, comments and casts.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test_report.XXXXXX";

static int has(const struct diag *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], needle))
			return 1;
	return 0;
}

static void dump(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  diag: %s\n", d->msgs[i]);
}

static int parse(const char *text, struct report **r, struct diag *d)
{
	memset(d, 0, sizeof(*d));
	return report_parse("/r/t.sql", text, strlen(text), r, d);
}

static struct report *parse_ok(const char *text)
{
	struct report *r = NULL;
	struct diag d;

	if (parse(text, &r, &d) != 0 || d.errors) {
		tap_fail(__FILE__, __LINE__, "definition refused");
		dump(&d);
	}
	diag_free(&d);
	return r;
}

/* Expects the definition refused with "t.sql:LINE: what" (LINE 0: none). */
static void expect_error(const char *text, int line, const char *what)
{
	struct report *r = NULL;
	struct diag d;
	char want[600];

	if (line)
		snprintf(want, sizeof(want), "t.sql:%d: %s", line, what);
	else
		snprintf(want, sizeof(want), "t.sql: %s", what);
	CHECK_INT(parse(text, &r, &d), -1);
	CHECK(r == NULL);
	report_free(r);
	if (!has(&d, want)) {
		fprintf(stderr, "want \"%s\" in:\n", want);
		dump(&d);
	}
	CHECK(has(&d, want));
	diag_free(&d);
}

static const char example[] =
    "-- title: Tedarikçi bakiyeleri\n"
    "-- source: hana\n"
    "-- formats: xlsx csv html json\n"
    "-- ttl: 600\n"
    "-- schedule: 0 7 * * 1-5\n"
    "-- mail: finans@example.com, muhasebe@example.com\n"
    "-- attach: xlsx\n"
    "-- csv: excel-tr\n"
    "-- group: finance\n"
    "-- mode: 0440\n"
    "-- param: supplier = SELECT \"CardCode\" FROM OCRD WHERE "
    "\"CardType\" = 'S'\n"
    "SELECT \"CardCode\", \"CardName\", \"Balance\"\n"
    "FROM OCRD\n"
    "WHERE \"CardType\" = 'S' AND \"CardCode\" = :supplier\n";

static void test_example(void)
{
	struct report *r = parse_ok(example);

	if (!r)
		return;
	CHECK_STR(r->name, "t");
	CHECK_STR(r->path, "/r/t.sql");
	CHECK_STR(r->title, "Tedarikçi bakiyeleri");
	CHECK_STR(r->source, "hana");
	CHECK_INT(r->formats, 0xf);
	CHECK_INT(r->ttl, 600);
	CHECK_STR(r->schedule, "0 7 * * 1-5");
	CHECK_INT(r->schedule_line, 5);
	CHECK_INT(r->nmail, 2);
	CHECK_STR(r->mail[0], "finans@example.com");
	CHECK_STR(r->mail[1], "muhasebe@example.com");
	CHECK_INT(r->attach, 1u << FMT_XLSX);
	CHECK_INT(r->csv, CSV_EXCEL_TR);
	CHECK_STR(r->group, "finance");
	CHECK_INT(r->mode, 0440);
	CHECK_INT(r->retry, -1);
	CHECK_INT(r->nparams, 1);
	CHECK_STR(r->params[0].name, "supplier");
	CHECK_STR(r->params[0].sql,
		  "SELECT \"CardCode\" FROM OCRD WHERE \"CardType\" = 'S'");
	CHECK(r->odata == NULL);
	CHECK_INT(r->body_line, 12);
	CHECK_STR(r->sql, "SELECT \"CardCode\", \"CardName\", \"Balance\"\n"
			  "FROM OCRD\n"
			  "WHERE \"CardType\" = 'S' AND \"CardCode\" = "
			  ":supplier");
	CHECK_INT(r->text_len, strlen(example));
	CHECK(memcmp(r->text, example, r->text_len) == 0);
	CHECK(r->hash == hash64(example, strlen(example)));
	report_free(r);
}

static void test_defaults(void)
{
	struct report *r = parse_ok("-- source: dwh\nSELECT 1\n\n\n");

	if (!r)
		return;
	CHECK_STR(r->title, "t");
	CHECK_INT(r->formats, 0xf);
	CHECK_INT(r->attach, 1u << FMT_XLSX);
	CHECK_INT(r->ttl, -1);
	CHECK_INT(r->csv, -1);
	CHECK_INT(r->retry, -1);
	CHECK_INT(r->mode, 0444);
	CHECK(r->schedule == NULL);
	CHECK(r->group == NULL);
	CHECK_INT(r->nmail, 0);
	CHECK_INT(r->nparams, 0);
	CHECK_STR(r->sql, "SELECT 1");
	CHECK_INT(r->body_line, 2);
	report_free(r);

	/* With a group the default mode drops "others". */
	r = parse_ok("-- source: dwh\n-- group: finance\nSELECT 1");
	CHECK(r && r->mode == 0440);
	report_free(r);

	/* Without xlsx in formats, attach falls back to a listed format. */
	r = parse_ok("-- source: dwh\n-- formats: json, csv\nSELECT 1");
	CHECK(r && r->formats == ((1u << FMT_JSON) | (1u << FMT_CSV)));
	CHECK(r && r->attach == (1u << FMT_CSV));
	report_free(r);

	/* Changing a byte changes the hash. */
	r = parse_ok("-- source: dwh\nSELECT 2");
	CHECK(r && r->hash != hash64_str("-- source: dwh\nSELECT 1"));
	report_free(r);
}

static void test_header_shape(void)
{
	struct report *r;

	/* Blank lines, plain comments, "---" and any case of known keys. */
	r = parse_ok("\n"
		     "-- Supplier balances for the finance team\n"
		     "-- Note: ask Ayşe before changing\n"
		     "--- author: ali\n"
		     "--\n"
		     "   -- Source: dwh\n"
		     "--TTL:2h\n"
		     "-- see http://wiki/x for details\n"
		     "\n"
		     "-- retry: 3\n"
		     "\r\n"
		     "  SELECT a -- a comment in the body\n"
		     "-- title: not a key: this is the body now\n"
		     "FROM t\n");
	if (r) {
		CHECK_STR(r->source, "dwh");
		CHECK_INT(r->ttl, 7200);
		CHECK_INT(r->retry, 3);
		CHECK_STR(r->title, "t");
		CHECK_INT(r->body_line, 12);
		CHECK_STR(r->sql, "  SELECT a -- a comment in the body\n"
				  "-- title: not a key: this is the body now\n"
				  "FROM t");
	}
	report_free(r);

	/* CRLF and a BOM from a Windows editor. */
	r = parse_ok(
	    "\xef\xbb\xbf-- source: dwh\r\n-- ttl: 10m\r\nSELECT 1\r\n");
	CHECK(r && r->source && strcmp(r->source, "dwh") == 0);
	CHECK(r && r->ttl == 600);
	CHECK(r && r->body_line == 3);
	report_free(r);
}

static void test_keys(void)
{
	struct report *r;

	r = parse_ok("-- source: dwh\n-- formats: csv,json\n"
		     "-- attach: csv json\n-- csv: rfc4180\n-- mode: 444\n"
		     "-- ttl: 0\n-- retry: 0\n-- mail: a.b+c@d-e.example.org\n"
		     "-- group: EXAMPLE\\domain users\nSELECT 1\n");
	if (r) {
		CHECK_INT(r->attach, (1u << FMT_CSV) | (1u << FMT_JSON));
		CHECK_INT(r->csv, CSV_RFC4180);
		CHECK_INT(r->mode, 0444);
		CHECK_INT(r->ttl, 0);
		CHECK_INT(r->retry, 0);
		CHECK_INT(r->nmail, 1);
		CHECK_STR(r->group, "EXAMPLE\\domain users");
	}
	report_free(r);

	r = parse_ok("-- source: dwh\n-- mode: 0400\n-- group: g\nSELECT 1");
	CHECK(r && r->mode == 0400);
	report_free(r);
}

static void test_errors(void)
{
	expect_error("-- source: dwh\n-- formats: xlsx pdf\nSELECT 1", 2,
		     "unknown format 'pdf' in formats");
	expect_error("-- source: dwh\n-- formats: ,\nSELECT 1", 2,
		     "formats lists no format");
	expect_error("-- source: dwh\n-- formats: csv\n-- attach: xlsx\n"
		     "SELECT 1",
		     3, "attach lists a format that formats does not");
	expect_error("-- source: dwh\n\n-- ttl: soon\nSELECT 1", 3,
		     "bad ttl 'soon'");
	expect_error("-- source: dwh\n-- ttl: -1\nSELECT 1", 2, "bad ttl '-1'");
	expect_error("-- source: dwh\n-- mode: 0644\nSELECT 1", 2,
		     "bad mode '0644': only read bits");
	expect_error("-- source: dwh\n-- mode: 0555\nSELECT 1", 2,
		     "bad mode '0555'");
	expect_error("-- source: dwh\n-- mode: 04444\nSELECT 1", 2,
		     "bad mode '04444'");
	expect_error("-- source: dwh\n-- mode: rw\nSELECT 1", 2,
		     "bad mode 'rw': octal");
	expect_error("-- source: dwh\n-- mode: 0448\nSELECT 1", 2,
		     "bad mode '0448'");
	expect_error("-- source: dwh\n-- csv: excel\nSELECT 1", 2,
		     "bad csv 'excel': rfc4180 or excel-tr");
	expect_error("-- source: dwh\n-- mail: a@b.com, finans\nSELECT 1", 2,
		     "bad mail address 'finans'");
	expect_error("-- source: dwh\n-- mail: a@b@c.com\nSELECT 1", 2,
		     "bad mail address 'a@b@c.com'");
	expect_error("-- source: dwh\n-- mail: Ali <a@b.com>\nSELECT 1", 2,
		     "bad mail address");
	expect_error("-- source: dwh\n-- mail: a@localhost\nSELECT 1", 2,
		     "bad mail address 'a@localhost'");
	expect_error("-- source: dwh\n-- mail: a@b.com,,c@d.com\nSELECT 1", 2,
		     "bad mail address ''");
	expect_error("-- source: dwh\n-- retry: many\nSELECT 1", 2,
		     "bad retry 'many'");
	expect_error("-- source: dwh\n-- group: :x\nSELECT 1", 2,
		     "bad group ':x'");
	expect_error("-- source: dwh\n-- source: hana\nSELECT 1", 2,
		     "'source' is given again: first on line 1");
	expect_error("-- source: dwh\n-- title:\nSELECT 1", 2,
		     "'title' needs a value");
	expect_error("-- source: dwh\n-- fromats: csv\nSELECT 1", 2,
		     "unknown key 'fromats'");
	expect_error("-- source: bad name\nSELECT 1", 1, "bad source");
	expect_error("-- title: x\nSELECT 1", 0, "no '-- source:' line");
	expect_error("-- source: dwh\n-- title: x\n\n", 0,
		     "no SQL after the header");
}

static void test_names(void)
{
	struct report *r = NULL;
	struct diag d = {0};
	const char *ok = "-- source: dwh\nSELECT 1";
	static const char nul[] = "-- source: d\nSELECT '\0'";

	CHECK(report_name_valid("abc-DEF_123"));
	CHECK(!report_name_valid(""));
	CHECK(!report_name_valid(NULL));
	CHECK(!report_name_valid("a.b"));
	CHECK(!report_name_valid("a b"));
	CHECK(!report_name_valid("tedarikçi"));
	CHECK(!report_name_valid("../x"));
	CHECK(report_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				"aaaaaaaaaaaaaaaaaaa"));
	CHECK(!report_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaaaaaaaaaaaa"));

	CHECK_INT(report_parse("/x/bakiye-2024_v2.sql", ok, strlen(ok), &r, &d),
		  0);
	CHECK(r && strcmp(r->name, "bakiye-2024_v2") == 0);
	report_free(r);
	CHECK_INT(report_parse("/x/bad name.sql", ok, strlen(ok), &r, &d), -1);
	CHECK(has(&d, "/x/bad name.sql: report name 'bad name' must be"));
	diag_free(&d);
	CHECK_INT(report_parse("/x/t.sql", nul, sizeof(nul) - 1, &r, &d), -1);
	CHECK(has(&d, "t.sql: the file holds a NUL byte"));
	diag_free(&d);
}

static void test_params(void)
{
	struct report *r;

	r = parse_ok("-- source: dwh\n"
		     "-- param: year = SELECT DISTINCT y FROM t\n"
		     "-- param: _cc2 = SELECT c FROM t\n"
		     "SELECT x::numeric, ':no' AS \":nope\"\n"
		     "FROM t -- :comment\n"
		     "WHERE y = :year AND c = :_cc2 /* :x */ OR y = :year\n");
	if (r) {
		CHECK_INT(r->nparams, 2);
		CHECK_STR(r->params[1].name, "_cc2");
	}
	report_free(r);

	expect_error("-- source: dwh\n\nSELECT *\nFROM t\nWHERE a = :missing\n",
		     5,
		     "placeholder ':missing' has no '-- param: missing = "
		     "SELECT ...' line");
	expect_error("-- source: dwh\n-- param: unused = SELECT 1\n"
		     "SELECT 1 -- :unused\n",
		     2, "param 'unused' is not used as :unused in the SQL");
	expect_error("-- source: dwh\n-- param: a-b = SELECT 1\nSELECT :a", 2,
		     "bad param name 'a-b'");
	expect_error("-- source: dwh\n-- param: 1a = SELECT 1\nSELECT 1", 2,
		     "bad param name '1a'");
	expect_error("-- source: dwh\n-- param: tedarikçi = SELECT 1\n"
		     "SELECT :tedarikçi",
		     2, "bad param name 'tedarikçi'");
	expect_error("-- source: dwh\n-- param: a = SELECT 1\n"
		     "-- param: a = SELECT 2\nSELECT :a",
		     3, "param 'a' is declared twice");
	expect_error("-- source: dwh\n-- param: a\nSELECT :a", 2,
		     "param needs 'NAME = SELECT ...'");
	expect_error("-- source: dwh\n-- param: a =\nSELECT :a", 2,
		     "param 'a' needs the SQL that lists its values");
	expect_error("-- source: dwh\nSELECT 1\nWHERE a = :çarşı\n", 3,
		     "a placeholder name may hold only A-Z, a-z, 0-9 and '_'");
	expect_error("-- source: dwh\nSELECT 1\n\nWHERE a = 'x\n", 4,
		     "a string literal is not closed");
}

static void test_odata(void)
{
	struct report *r;

	r = parse_ok("-- title: Muhataplar\n-- source: b1sl\n"
		     "-- odata: BusinessPartners?$select=CardCode,CardName\n"
		     "\n-- trailing comment\n\n");
	if (r) {
		CHECK(r->sql == NULL);
		CHECK_STR(r->odata,
			  "BusinessPartners?$select=CardCode,CardName");
		CHECK_INT(r->body_line, 0);
	}
	report_free(r);

	expect_error("-- source: b1sl\n-- odata: Items\nSELECT 1\n", 3,
		     "a definition with '-- odata:' (line 2) has no SQL body");
	expect_error(
	    "-- source: b1sl\n-- odata: Items\n-- param: a = SELECT 1\n", 3,
	    "param needs an SQL body");
}

static void check_rewrite(const char *sql, enum sql_marker style,
			  const char *want, const char *want_names)
{
	char **names = NULL, *out = NULL, err[200] = "";
	struct strbuf got = STRBUF_INIT;
	size_t n = 0;
	int rc =
	    sql_bind_rewrite(sql, style, &out, &names, &n, err, sizeof(err));

	CHECK_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  for %s: %s\n", sql, err);
		return;
	}
	strbuf_adds(&got, "");
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&got, "%s%s", i ? " " : "", names[i]);
	CHECK_STR(out, want);
	CHECK_STR(got.buf, want_names);
	strbuf_release(&got);
	free(out);
	report_names_free(names, n);
}

static void check_rewrite_fails(const char *sql, enum sql_marker style,
				const char *why)
{
	char **names = (char **)1, *out = (char *)1, err[200] = "";
	size_t n = 7;

	CHECK_INT(
	    sql_bind_rewrite(sql, style, &out, &names, &n, err, sizeof(err)),
	    -1);
	CHECK(out == NULL && names == NULL && n == 0);
	if (!strstr(err, why))
		fprintf(stderr, "  want \"%s\", got \"%s\"\n", why, err);
	CHECK(strstr(err, why) != NULL);
}

static void test_rewrite(void)
{
	/* Both styles; repeats are one $n but one ? each. */
	check_rewrite(
	    "SELECT * FROM t WHERE a = :a AND b = :b OR a = :a", SQL_QMARK,
	    "SELECT * FROM t WHERE a = ? AND b = ? OR a = ?", "a b a");
	check_rewrite(
	    "SELECT * FROM t WHERE a = :a AND b = :b OR a = :a", SQL_DOLLAR,
	    "SELECT * FROM t WHERE a = $1 AND b = $2 OR a = $1", "a b");
	/* Literals with '' escapes, quoted identifiers, brackets. */
	check_rewrite("SELECT ':x', 'it''s :y', \":z\"\"q\", [a:b]]c] FROM t "
		      "WHERE c=:c",
		      SQL_QMARK,
		      "SELECT ':x', 'it''s :y', \":z\"\"q\", [a:b]]c] FROM t "
		      "WHERE c=?",
		      "c");
	/* Comments, nested block comments. */
	check_rewrite("SELECT 1 -- :a\n/* :b /* :c */ :d */ , :e\n-- end",
		      SQL_DOLLAR,
		      "SELECT 1 -- :a\n/* :b /* :c */ :d */ , $1\n"
		      "-- end",
		      "e");
	/* Casts, identifiers before ':' and digits after. */
	check_rewrite("SELECT x::numeric(19,6), :p::date, a:b, :1, ::q",
		      SQL_DOLLAR,
		      "SELECT x::numeric(19,6), $1::date, a:b, :1, ::q", "p");
	/* PostgreSQL E'' escapes and $$ quoting. */
	check_rewrite("SELECT E'\\' :a', $$ :b $$, $t$ :c $x$ $t$, :d",
		      SQL_DOLLAR,
		      "SELECT E'\\' :a', $$ :b $$, $t$ :c $x$ $t$, $1", "d");
	/* A backslash is plain in a standard string. */
	check_rewrite("SELECT 'a\\', :v", SQL_QMARK, "SELECT 'a\\', ?", "v");
	/* Turkish text in literals and identifiers is left alone. */
	check_rewrite("SELECT 'Şişli :x' AS \"Tutarı\", Kodu:x FROM t "
		      "WHERE k = :k",
		      SQL_QMARK,
		      "SELECT 'Şişli :x' AS \"Tutarı\", Kodu:x FROM t "
		      "WHERE k = ?",
		      "k");
	/* No placeholders at all; an empty text. */
	check_rewrite("SELECT 1", SQL_DOLLAR, "SELECT 1", "");
	check_rewrite("", SQL_QMARK, "", "");
	/* Names up to the first non-name byte. */
	check_rewrite("WHERE a=:a1_b2+:_x", SQL_QMARK, "WHERE a=?+?",
		      "a1_b2 _x");
	/* A '?' is fine for libpq (a jsonb operator), "$1" for ODBC. */
	check_rewrite("SELECT j ? 'k', :a", SQL_DOLLAR, "SELECT j ? 'k', $1",
		      "a");
	check_rewrite("SELECT $1, :a", SQL_QMARK, "SELECT $1, ?", "a");

	check_rewrite_fails("WHERE a = :tedarikçi", SQL_QMARK,
			    "a placeholder name may hold only");
	check_rewrite_fails("WHERE a = :çarşı", SQL_DOLLAR,
			    "a placeholder name may hold only");
	check_rewrite_fails("WHERE a = 'open", SQL_QMARK,
			    "a string literal is not closed");
	check_rewrite_fails("WHERE \"a = 1", SQL_QMARK,
			    "a quoted identifier is not closed");
	check_rewrite_fails("WHERE [a = 1", SQL_QMARK,
			    "a [bracketed] identifier is not closed");
	check_rewrite_fails("/* open", SQL_DOLLAR,
			    "a /* comment is not closed");
	check_rewrite_fails("SELECT $$ x", SQL_DOLLAR,
			    "a $$ quoted string is not closed");
	check_rewrite_fails("WHERE a = ? AND b = :b", SQL_QMARK,
			    "already holds a '?' marker");
	check_rewrite_fails("WHERE a = $1 AND b = :b", SQL_DOLLAR,
			    "already holds a $n marker");
}

static void put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(99);
	}
	fputs(text, f);
	fclose(f);
}

static void test_load_dir(void)
{
	struct report **v = NULL, *r = NULL;
	struct diag d = {0};
	char sub[512], want[600];
	int n;

	put("b.sql", "-- source: dwh\nSELECT 2\n");
	put("a.sql", "-- source: dwh\nSELECT 1\n");
	put("c-broken.sql", "-- source: dwh\n-- ttl: never\nSELECT 3\n");
	put(".#a.sql", "lock");
	put("a.sql~", "backup");
	put(".a.sql.swp", "swap");
	put("#a.sql#", "autosave");
	put(".hidden.sql", "-- source: dwh\nSELECT 4\n");
	put("notes.txt", "text");
	put("README", "text");
	snprintf(sub, sizeof(sub), "%s/dir.sql", tmpdir);
	mkdir(sub, 0755);

	n = report_load_dir(tmpdir, &v, &d);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0]->name, "a");
		CHECK_STR(v[1]->name, "b");
		CHECK_STR(v[1]->sql, "SELECT 2");
	}
	snprintf(want, sizeof(want), "%s/c-broken.sql:2: bad ttl 'never'",
		 tmpdir);
	CHECK(has(&d, want));
	CHECK(has(&d, "dir.sql: warning: not a regular file"));
	CHECK_INT(d.errors, 1);
	report_free_all(v, n > 0 ? (size_t)n : 0);
	diag_free(&d);

	CHECK(report_load_dir("/nonexistent/h1", &v, &d) < 0);
	CHECK(v == NULL);
	diag_free(&d);

	CHECK_INT(report_load("/nonexistent/h1/x.sql", &r, &d), -1);
	CHECK(has(&d, "/nonexistent/h1/x.sql: cannot read the definition"));
	diag_free(&d);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	test_example();
	test_defaults();
	test_header_shape();
	test_keys();
	test_errors();
	test_names();
	test_params();
	test_odata();
	test_rewrite();
	test_load_dir();
	nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return tap_done("report");
}
