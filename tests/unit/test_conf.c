/*
 * test_conf: lib/conf.c against real files in a temporary folder: every
 * section, defaults, ${NAME} from the environment and from env_file, the
 * env_file mode check, and a message for each kind of mistake, on the
 * right line, never holding a secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "log.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test_conf.XXXXXX";

static const char *tpath(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void put(const char *name, const char *text, mode_t mode)
{
	const char *p = tpath(name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror(p);
		exit(99);
	}
	fchmod(fd, mode);
	close(fd);
}

/* True when some message holds @needle. */
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

/* Loads @text as "t.conf"; returns conf_load's result. */
static int load(const char *text, struct conf **c, struct diag *d)
{
	put("t.conf", text, 0644);
	memset(d, 0, sizeof(*d));
	return conf_load(tpath("t.conf"), c, d);
}

/* Expects one error holding "t.conf:LINE: " and @what. */
static void expect_error(const char *text, int line, const char *what)
{
	struct conf *c = NULL;
	struct diag d;
	char want[600];
	int rc = load(text, &c, &d);

	snprintf(want, sizeof(want), "t.conf:%d: %s", line, what);
	CHECK_INT(rc, -1);
	CHECK(c == NULL);
	CHECK(d.errors >= 1);
	if (!has(&d, want)) {
		fprintf(stderr, "want \"%s\" in:\n", want);
		dump(&d);
	}
	CHECK(has(&d, want));
	diag_free(&d);
	conf_free(c);
}

static const char example[] =
    "[global]\n"
    "env_file = secrets.env ; secrets, as NAME=value lines\n"
    "reports_dir = /etc/sapb1fs/reports.d\n"
    "state_dir = /var/lib/sapb1fs        ; history, saved queries\n"
    "timezone = Europe/Istanbul\n"
    "csv_dialect = excel-tr              ; ';', decimal comma, BOM\n"
    "number_locale = C\n"
    "log_level = debug\n"
    "\n"
    "[mount]\n"
    "path = /mnt/sapb1\n"
    "cache_dir = /var/cache/sapb1fs      ; snapshots of rendered files\n"
    "cache_size = 512M\n"
    "default_ttl = 10m                   ; seconds a snapshot stays fresh\n"
    "max_threads = 16\n"
    "max_runs = 4\n"
    "\n"
    "[source hana]\n"
    "driver = odbc\n"
    "connection = DRIVER=HDBODBC;SERVERNODE=hana:30015;"
    "CURRENTSCHEMA=SBODEMOTR\n"
    "user = ${HANADB_USER}\n"
    "password = ${HANADB_PASSWORD}\n"
    "timeout = 90\n"
    "queries = yes                       ; allow query folders\n"
    "queries_group = analysts\n"
    "queries_row_limit = 5000\n"
    "max_connections = 2\n"
    "\n"
    "[source dwh]\n"
    "driver = postgres\n"
    "conninfo = host=db dbname=reports user=reader\n"
    "password = ${DWH_PASSWORD}\n"
    "\n"
    "[source b1sl]\n"
    "driver = servicelayer\n"
    "url = https://b1:50000/b1s/v1\n"
    "company = SBODEMOTR\n"
    "user = manager\n"
    "password = ${B1SL_PASSWORD}\n"
    "page_size = 500\n"
    "ca_file = /etc/ssl/b1.pem\n"
    "verify_tls = off\n"
    "\n"
    "[share gorseller]\n"
    "url = smb://fileserver/gorseller\n"
    "user = ${SMB_USER}\n"
    "password = ${SMB_PASSWORD}\n"
    "workgroup = OFIS\n"
    "dir_cache_ttl = 0\n"
    "\n"
    "[redis]\n"
    "url = redis://127.0.0.1:6379/0\n"
    "timeout = 250\n"
    "max_object = 1G\n"
    "\n"
    "[smtp]\n"
    "url = smtps://smtp.example.com:465\n"
    "user = ${SMTP_USER}\n"
    "password = ${SMTP_PASSWORD}\n"
    "from = Raporlar <raporlar@example.com>\n"
    "admin = it@example.com              ; gets failure notices\n"
    "tls = true\n"
    "\n"
    "[spool]\n"
    "dir = /var/spool/sapb1fs\n"
    "\n"
    "[mailer]\n"
    "retry_first = 30\n"
    "retry_max = 1h\n"
    "max_age = 5d\n"
    "max_size = 10M\n"
    "\n"
    "[scheduler]\n"
    "history_keep = 12\n"
    "catch_up = 0\n"
    "retry = 0\n";

static const char secrets[] = "# secrets for the example\n"
			      "HANADB_USER=SYSTEM\n"
			      "HANADB_PASSWORD=\"Hana ;Pass#1\"\n"
			      "export DWH_PASSWORD='dwh-secret'\n"
			      "\n"
			      "B1SL_PASSWORD = sl-secret\n"
			      "SMB_USER=resim\n"
			      "SMB_PASSWORD=smb$ecret\n"
			      "SMTP_USER=raporlar\n"
			      "SMTP_PASSWORD=smtp-secret\n";

static void test_example(void)
{
	const struct conf_source *s;
	const struct conf_share *sh;
	struct conf *c = NULL;
	struct diag d;
	int rc;

	put("secrets.env", secrets, 0600);
	rc = load(example, &c, &d);
	CHECK_INT(rc, 0);
	if (rc != 0 || !c) {
		dump(&d);
		diag_free(&d);
		return;
	}
	CHECK_INT(d.n, 0);
	CHECK_STR(c->env_file, tpath("secrets.env"));
	CHECK_STR(c->reports_dir, "/etc/sapb1fs/reports.d");
	CHECK_STR(c->state_dir, "/var/lib/sapb1fs");
	CHECK_STR(c->timezone, "Europe/Istanbul");
	CHECK_INT(c->csv_dialect, CSV_EXCEL_TR);
	CHECK_INT(c->tr_numbers, 0);
	CHECK_INT(c->log_level, LOG_DEBUG);
	CHECK_STR(c->mount_path, "/mnt/sapb1");
	CHECK_STR(c->cache_dir, "/var/cache/sapb1fs");
	CHECK_INT(c->cache_size, 512LL << 20);
	CHECK_INT(c->default_ttl, 600);
	CHECK_INT(c->max_threads, 16);
	CHECK_INT(c->max_runs, 4);

	CHECK_INT(c->nsources, 3);
	s = conf_source_find(c, "hana");
	CHECK(s != NULL);
	if (s) {
		CHECK_STR(s->driver, "odbc");
		CHECK_STR(s->connection, "DRIVER=HDBODBC;SERVERNODE=hana:30015;"
					 "CURRENTSCHEMA=SBODEMOTR");
		CHECK_STR(s->user, "SYSTEM");
		CHECK_STR(s->password, "Hana ;Pass#1");
		CHECK_INT(s->timeout, 90);
		CHECK(s->queries);
		CHECK_STR(s->queries_group, "analysts");
		CHECK_INT(s->queries_row_limit, 5000);
		CHECK_INT(s->max_connections, 2);
		CHECK_INT(s->page_size, 1000);
		CHECK(s->verify_tls);
		CHECK_INT(s->line, 18);
	}
	s = conf_source_find(c, "dwh");
	CHECK(s &&
	      strcmp(s->conninfo, "host=db dbname=reports user=reader") == 0);
	CHECK(s && strcmp(s->password, "dwh-secret") == 0);
	CHECK(s && s->timeout == 60 && !s->queries);
	s = conf_source_find(c, "b1sl");
	CHECK(s && strcmp(s->url, "https://b1:50000/b1s/v1") == 0);
	CHECK(s && strcmp(s->company, "SBODEMOTR") == 0);
	CHECK(s && strcmp(s->password, "sl-secret") == 0);
	CHECK(s && s->page_size == 500 && !s->verify_tls);
	CHECK(s && strcmp(s->ca_file, "/etc/ssl/b1.pem") == 0);
	CHECK(conf_source_find(c, "nope") == NULL);

	CHECK_INT(c->nshares, 1);
	sh = conf_share_find(c, "gorseller");
	CHECK(sh != NULL);
	if (sh) {
		CHECK_STR(sh->url, "smb://fileserver/gorseller");
		CHECK_STR(sh->user, "resim");
		CHECK_STR(sh->password, "smb$ecret");
		CHECK_STR(sh->domain, "OFIS");
		CHECK_INT(sh->timeout, 20);
		CHECK_INT(sh->dir_cache_ttl, 0);
	}
	CHECK(conf_share_find(c, "x") == NULL);

	CHECK_STR(c->redis_url, "redis://127.0.0.1:6379/0");
	CHECK_INT(c->redis_timeout, 250);
	CHECK_INT(c->redis_max_object, 1LL << 30);
	CHECK_STR(c->smtp_url, "smtps://smtp.example.com:465");
	CHECK_STR(c->smtp_user, "raporlar");
	CHECK_STR(c->smtp_password, "smtp-secret");
	CHECK_STR(c->smtp_from, "Raporlar <raporlar@example.com>");
	CHECK_STR(c->smtp_admin, "it@example.com");
	CHECK(c->smtp_tls);
	CHECK_STR(c->spool_dir, "/var/spool/sapb1fs");
	CHECK_INT(c->retry_first, 30);
	CHECK_INT(c->retry_max, 3600);
	CHECK_INT(c->max_age, 432000);
	CHECK_INT(c->max_size, 10LL << 20);
	CHECK_INT(c->history_keep, 12);
	CHECK_INT(c->catch_up, 0);
	CHECK_INT(c->retry, 0);
	conf_free(c);
	diag_free(&d);
}

static void test_defaults(void)
{
	struct conf *c = NULL;
	struct diag d;

	CHECK_INT(load("; nothing but a comment\n", &c, &d), 0);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(c->env_file == NULL);
	CHECK_STR(c->reports_dir, CONF_REPORTS_DIR);
	CHECK_STR(c->state_dir, "/var/lib/sapb1fs");
	CHECK(c->timezone == NULL);
	CHECK_INT(c->csv_dialect, CSV_RFC4180);
	CHECK_INT(c->tr_numbers, 1);
	CHECK_INT(c->log_level, LOG_INFO);
	CHECK_STR(c->mount_path, "/mnt/sapb1");
	CHECK_STR(c->cache_dir, "/var/cache/sapb1fs");
	CHECK_INT(c->cache_size, 2LL << 30);
	CHECK_INT(c->default_ttl, 300);
	CHECK_INT(c->max_threads, 32);
	CHECK_INT(c->max_runs, 8);
	CHECK_INT(c->nsources, 0);
	CHECK_INT(c->nshares, 0);
	CHECK(c->redis_url == NULL);
	CHECK_INT(c->redis_timeout, 500);
	CHECK_INT(c->redis_max_object, 64LL << 20);
	CHECK(c->smtp_url == NULL);
	CHECK(c->smtp_tls);
	CHECK_STR(c->spool_dir, "/var/spool/sapb1fs");
	CHECK_INT(c->retry_first, 60);
	CHECK_INT(c->retry_max, 3600);
	CHECK_INT(c->max_age, 432000);
	CHECK_INT(c->max_size, 25LL << 20);
	CHECK_INT(c->history_keep, 30);
	CHECK_INT(c->catch_up, 86400);
	CHECK_INT(c->retry, 2);
	CHECK_STR(c->path, tpath("t.conf"));
	conf_free(c);
	diag_free(&d);

	CHECK_INT(load("", &c, &d), 0);
	conf_free(c);
	diag_free(&d);

	/* Source defaults. */
	CHECK_INT(load("[source p]\ndriver = postgres\nconninfo = x\n", &c, &d),
		  0);
	if (c) {
		CHECK_INT(c->sources[0].timeout, 60);
		CHECK_INT(c->sources[0].max_connections, 4);
		CHECK_INT(c->sources[0].queries_row_limit, 100000);
		CHECK_INT(c->sources[0].page_size, 1000);
		CHECK(c->sources[0].verify_tls);
		CHECK(!c->sources[0].queries);
		CHECK(c->sources[0].password == NULL);
	}
	conf_free(c);
	diag_free(&d);
}

static void test_env(void)
{
	struct conf *c = NULL;
	struct diag d;
	char text[512];

	/* From the process environment, which wins over env_file. */
	put("e.env", "H1_ENV_USER=from-file\nH1_ONLY_FILE=file-only\n", 0600);
	setenv("H1_ENV_USER", "from-env", 1);
	snprintf(text, sizeof(text),
		 "[global]\nenv_file = %s\n"
		 "[source p]\ndriver = postgres\n"
		 "conninfo = host=${H1_ENV_USER}x dbname=${H1_ONLY_FILE}\n"
		 "user = $literal and $ and ${H1_ENV_USER}\n",
		 tpath("e.env"));
	CHECK_INT(load(text, &c, &d), 0);
	if (c) {
		CHECK_STR(c->sources[0].conninfo,
			  "host=from-envx dbname=file-only");
		CHECK_STR(c->sources[0].user, "$literal and $ and from-env");
		/* Nothing of the env_file went into the environment. */
		CHECK(getenv("H1_ONLY_FILE") == NULL);
	}
	conf_free(c);
	diag_free(&d);
	unsetenv("H1_ENV_USER");

	/* The env_file may be named after the values that use it. */
	snprintf(text, sizeof(text),
		 "[source p]\ndriver = postgres\nconninfo = ${H1_ONLY_FILE}\n"
		 "[global]\nenv_file = e.env\n");
	CHECK_INT(load(text, &c, &d), 0);
	if (c)
		CHECK_STR(c->sources[0].conninfo, "file-only");
	conf_free(c);
	diag_free(&d);

	/* Syntax of the env_file: export, quotes, comments, blank lines. */
	put("f.env",
	    "# comment\n\n  export A1=\"quoted value\"\nB1='single'\n"
	    "C1 = spaced \nD1=\"unbalanced\n",
	    0400);
	CHECK_INT(load("[global]\nenv_file = f.env\n[smtp]\n"
		       "url = smtp://h\nfrom = ${A1}|${B1}|${C1}|${D1}\n",
		       &c, &d),
		  0);
	if (c)
		CHECK_STR(c->smtp_from, "quoted value|single|spaced|"
					"\"unbalanced");
	conf_free(c);
	diag_free(&d);
}

static void test_env_errors(void)
{
	struct conf *c = NULL;
	struct diag d;
	char want[600];

	/* Mode 0644: refused, naming the file, its mode and the fix. */
	put("open.env", "PW=Open-Secret-1\n", 0644);
	CHECK_INT(load("[global]\nenv_file = open.env\n", &c, &d), -1);
	snprintf(want, sizeof(want), "t.conf:2: env_file %s has mode 0644",
		 tpath("open.env"));
	CHECK(has(&d, want));
	CHECK(has(&d, "chmod 600"));
	CHECK(!has(&d, "Open-Secret-1"));
	diag_free(&d);

	/* Group-readable only (0640) is refused too, as is 0604. */
	put("open.env", "PW=x\n", 0640);
	CHECK_INT(load("[global]\nenv_file = open.env\n", &c, &d), -1);
	CHECK(has(&d, "mode 0640"));
	diag_free(&d);
	put("open.env", "PW=x\n", 0604);
	CHECK_INT(load("[global]\nenv_file = open.env\n", &c, &d), -1);
	CHECK(has(&d, "mode 0604"));
	diag_free(&d);

	/* A refused env_file does not also bury us in undefined names. */
	CHECK_INT(load("[global]\nenv_file = open.env\n[smtp]\nurl = "
		       "smtp://x\nfrom = a\npassword = ${PW}\n",
		       &c, &d),
		  -1);
	CHECK_INT(d.errors, 1);
	diag_free(&d);

	/* Missing env_file. */
	CHECK_INT(load("[global]\nenv_file = /nonexistent/h1.env\n", &c, &d),
		  -1);
	CHECK(has(&d, "t.conf:2: cannot open env_file /nonexistent/h1.env"));
	diag_free(&d);

	/* A malformed env_file line is reported without its text. */
	put("bad.env", "GOOD=1\nthis line holds Hidden-Secret-2\n", 0600);
	CHECK_INT(load("[global]\nenv_file = bad.env\n", &c, &d), -1);
	snprintf(want, sizeof(want), "%s:2: expected NAME=value",
		 tpath("bad.env"));
	CHECK(has(&d, want));
	CHECK(!has(&d, "Hidden-Secret-2"));
	diag_free(&d);

	/* Undefined ${X}: named, on its line, with no value shown. */
	unsetenv("H1_NOT_SET");
	expect_error("[global]\n\n[smtp]\nurl = smtp://h\nfrom = a\n"
		     "password = ${H1_NOT_SET}\n",
		     6, "${H1_NOT_SET} is not set in the environment");
	put("g.env", "OTHER=1\n", 0600);
	expect_error("[global]\nenv_file = g.env\n[smtp]\nurl = smtp://h\n"
		     "from = ${H1_NOT_SET}\n",
		     5,
		     "${H1_NOT_SET} is set neither in the environment nor "
		     "in env_file");
	expect_error("[smtp]\nurl = smtp://h\nfrom = ${H1_NOT\n", 3,
		     "'${' without its closing '}'");
	expect_error("[smtp]\nurl = smtp://h\nfrom = ${1BAD}\n", 3,
		     "bad variable name in '${1BAD}'");
}

static void test_secret_never_shown(void)
{
	struct conf *c = NULL;
	struct diag d;

	put("s.env", "SECRET=Very-Secret-Value-42\n", 0600);
	setenv("H1_ENV_SECRET", "Env-Secret-Value-43", 1);
	/* Secrets where numbers, booleans and words are expected. */
	CHECK_INT(load("[global]\nenv_file = s.env\n"
		       "log_level = ${SECRET}\n"
		       "[source p]\ndriver = postgres\nconninfo = c\n"
		       "timeout = ${SECRET}\nqueries = ${H1_ENV_SECRET}\n"
		       "password = Literal-Secret-44\n"
		       "[mount]\ncache_size = ${SECRET}\n",
		       &c, &d),
		  -1);
	CHECK(d.errors >= 4);
	CHECK(has(&d, "t.conf:7: bad value '${SECRET}' for 'timeout'"));
	CHECK(has(&d, "t.conf:3: bad value '${SECRET}' for 'log_level'"));
	CHECK(has(&d, "t.conf:9: warning: 'password' in [source p] is "
		      "written in the file"));
	CHECK(!has(&d, "Very-Secret"));
	CHECK(!has(&d, "Env-Secret"));
	CHECK(!has(&d, "Literal-Secret"));
	diag_free(&d);
	unsetenv("H1_ENV_SECRET");
}

static void test_line_numbers(void)
{
	expect_error("[global]\n; comment\n\n[mount]\npath = /x\n\nbogus = 1\n",
		     7, "unknown key 'bogus' in [mount]");
	expect_error("[mount]\npath = /x\nthis line has no equals sign\n", 3,
		     "expected 'key = value' or '[section]'");
	expect_error("[mount\npath = /x\n", 1,
		     "section header lacks its closing ']'");
	expect_error("path = /x\n[mount]\n", 1,
		     "'path' comes before any [section]");
	expect_error("[mounts]\npath = /x\n", 1, "unknown section [mounts]");
	expect_error("[global]\n[mount extra]\n", 2,
		     "section [mount] takes no name");
	expect_error("[source]\ndriver = odbc\n", 1,
		     "section [source] needs a name");
	expect_error("\n[source a.b]\ndriver = odbc\n", 2,
		     "bad name 'a.b' in [source a.b]");
	expect_error("[mount]\npath = /a\ncache_dir = /c\npath = /b\n", 4,
		     "'path' in [mount] is set again: 'path' on line 2");
	expect_error("[share s]\nurl = smb://h/s\ndomain = A\nworkgroup = B\n",
		     4,
		     "'workgroup' in [share s] is set again: 'domain' on "
		     "line 3");
	/* Indented keys are keys, not continuation lines. */
	expect_error("[mount]\n  path = /x\n  nope = 2\n", 3,
		     "unknown key 'nope' in [mount]");
}

static void test_bad_values(void)
{
	expect_error("[mount]\ndefault_ttl = -5\n", 2,
		     "bad value '-5' for 'default_ttl' in [mount]");
	expect_error("[mount]\nmax_threads = 0\n", 2,
		     "bad value '0' for 'max_threads' in [mount]: expected a "
		     "whole number above 0");
	expect_error("[mount]\nmax_runs = 3x\n", 2,
		     "bad value '3x' for 'max_runs'");
	expect_error("[mount]\nmax_runs = 99999999999\n", 2,
		     "bad value '99999999999' for 'max_runs'");
	expect_error("[mount]\ncache_size = 2X\n", 2,
		     "bad value '2X' for 'cache_size'");
	expect_error("[mount]\ncache_size = 0\n", 2,
		     "bad value '0' for 'cache_size'");
	expect_error("[source a]\ndriver = odbc\nconnection = x\n"
		     "queries = maybe\n",
		     4,
		     "bad value 'maybe' for 'queries' in [source a]: "
		     "expected yes or no");
	expect_error("[smtp]\nurl = smtp://h\nfrom = f\ntls = 2\n", 4,
		     "bad value '2' for 'tls'");
	expect_error("[global]\ncsv_dialect = excel\n", 2,
		     "bad value 'excel' for 'csv_dialect' in [global]: "
		     "expected rfc4180 or excel-tr");
	expect_error("[global]\nnumber_locale = de_DE\n", 2,
		     "bad value 'de_DE' for 'number_locale' in [global]: "
		     "expected tr_TR, C or en_US");
	expect_error("[global]\nlog_level = loud\n", 2,
		     "bad value 'loud' for 'log_level'");
	expect_error("[source a]\ndriver = odbc\nconnection = x\n"
		     "timeout = 0\n",
		     4, "bad value '0' for 'timeout'");
	expect_error("[redis]\nurl = redis://x\ntimeout = 1s\n", 3,
		     "bad value '1s' for 'timeout' in [redis]");
	expect_error("[mailer]\nretry_first = 600\nretry_max = 60\n", 3,
		     "retry_max (60) is shorter than retry_first (600)");
	expect_error("[scheduler]\nhistory_keep = 0\n", 2,
		     "bad value '0' for 'history_keep'");
}

static void test_booleans(void)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "YES"};
	static const char *const no[] = {"no", "false", "off", "0", "Off"};
	struct conf *c = NULL;
	struct diag d;
	char text[200];

	for (size_t i = 0; i < 5; i++) {
		snprintf(text, sizeof(text),
			 "[source a]\ndriver=odbc\nconnection=x\nqueries=%s\n"
			 "verify_tls = %s\n",
			 yes[i], no[i]);
		CHECK_INT(load(text, &c, &d), 0);
		CHECK(c && c->sources[0].queries);
		CHECK(c && !c->sources[0].verify_tls);
		conf_free(c);
		diag_free(&d);
	}
}

static void test_sources(void)
{
	expect_error("[source a]\ndriver = odbc\nconnection = x\n\n"
		     "[source a]\ndriver = odbc\nconnection = y\n",
		     5, "duplicate [source a]: first on line 1");
	expect_error("[share a]\nurl = smb://h/a\n[share a]\nurl = smb://h/b\n",
		     3, "duplicate [share a]: first on line 1");
	expect_error("[source a]\n\ndriver = mysql\n", 3,
		     "unknown driver 'mysql' in [source a]: known are odbc, "
		     "postgres and servicelayer");
	expect_error("[source a]\nuser = u\n", 1, "[source a] needs 'driver'");
	expect_error("[source a]\ndriver = odbc\n", 1,
		     "[source a] needs 'connection' for driver odbc");
	expect_error("[source a]\ndriver = postgres\nconnection = x\n", 1,
		     "[source a] needs 'conninfo' for driver postgres");
	expect_error("[source a]\ndriver = servicelayer\nurl = https://x\n", 1,
		     "[source a] needs 'company' for driver servicelayer");
	expect_error("[source a]\ndriver = servicelayer\ncompany = C\n", 1,
		     "[source a] needs 'url' for driver servicelayer");
	expect_error("[share a]\nuser = u\n", 1, "[share a] needs 'url'");
	expect_error("[share a]\nurl = //h/a\n", 2,
		     "url of [share a] must start with smb://");
	expect_error("[redis]\ntimeout = 100\n", 1, "[redis] needs 'url'");
	expect_error("[smtp]\nfrom = a\n", 1, "[smtp] needs 'url'");
	expect_error("[smtp]\nurl = smtp://h\n", 1, "[smtp] needs 'from'");
	expect_error("[smtp]\nfrom = a\nurl = http://h\n", 3,
		     "url in [smtp] must start with smtp:// or smtps://");
}

static void test_inline_and_long(void)
{
	struct conf *c = NULL;
	struct diag d;
	char text[2048], conn[700];
	size_t n;

	/* ';' after blanks starts a comment; inside a value it stays. */
	CHECK_INT(load("[source a] ; the HANA box\n"
		       "driver = odbc ; comment\n"
		       "connection = DRIVER=X;SERVER=y; PORT=1 ;comment\n"
		       "user = a#b\n"
		       "# a comment line\n"
		       "; another\n",
		       &c, &d),
		  0);
	if (c) {
		CHECK_STR(c->sources[0].driver, "odbc");
		CHECK_STR(c->sources[0].connection,
			  "DRIVER=X;SERVER=y; PORT=1");
		CHECK_STR(c->sources[0].user, "a#b");
	}
	conf_free(c);
	diag_free(&d);

	/* A connection string longer than inih's 200-byte line buffer. */
	n = (size_t)snprintf(conn, sizeof(conn),
			     "DRIVER={ODBC Driver 17 for "
			     "SQL Server};SERVER=logo");
	while (n < 600)
		n += (size_t)snprintf(conn + n, sizeof(conn) - n,
				      ";OPT%zu=value", n);
	snprintf(text, sizeof(text),
		 "[source logo]\ndriver = odbc\nconnection = %s ; long\n"
		 "timeout = 5\n; %s\n",
		 conn, conn);
	CHECK_INT(load(text, &c, &d), 0);
	if (c) {
		CHECK_STR(c->sources[0].connection, conn);
		CHECK_INT(c->sources[0].timeout, 5);
	}
	conf_free(c);
	diag_free(&d);
	/* A long line with no '=' is no key line: said, not cut. */
	memset(conn, 'x', 300);
	conn[300] = '\0';
	snprintf(text, sizeof(text),
		 "[source logo]\ndriver = odbc\nconnection = c\n%s\n", conn);
	expect_error(text, 4, "line longer than 197 bytes");

	/* CRLF line ends and a UTF-8 BOM, as Windows editors write. */
	CHECK_INT(load("\xef\xbb\xbf[mount]\r\npath = /m\r\nmax_runs = 3\r\n",
		       &c, &d),
		  0);
	if (c) {
		CHECK_STR(c->mount_path, "/m");
		CHECK_INT(c->max_runs, 3);
	}
	conf_free(c);
	diag_free(&d);
}

static void test_paths(void)
{
	struct conf *c = NULL;
	struct diag d;
	char want[600];

	CHECK_INT(load("[global]\nreports_dir = reports.d\n[spool]\n"
		       "dir = /abs/spool\n",
		       &c, &d),
		  0);
	if (c) {
		snprintf(want, sizeof(want), "%s/reports.d", tmpdir);
		CHECK_STR(c->reports_dir, want);
		CHECK_STR(c->spool_dir, "/abs/spool");
	}
	conf_free(c);
	diag_free(&d);

	/* An unknown timezone is a warning, not an error. */
	CHECK_INT(load("[global]\ntimezone = Mars/Olympus\n", &c, &d), 0);
	CHECK(has(&d, "t.conf:2: warning: timezone 'Mars/Olympus'"));
	conf_free(c);
	diag_free(&d);

	memset(&d, 0, sizeof(d));
	CHECK_INT(conf_load("/nonexistent/h1.conf", &c, &d), -1);
	CHECK(c == NULL);
	CHECK(has(&d, "/nonexistent/h1.conf: cannot read the configuration"));
	diag_free(&d);
}

static void test_parsers(void)
{
	CHECK_INT(conf_parse_size("12345"), 12345);
	CHECK_INT(conf_parse_size("100k"), 102400);
	CHECK_INT(conf_parse_size("100K"), 102400);
	CHECK_INT(conf_parse_size("512M"), 512LL << 20);
	CHECK_INT(conf_parse_size("2G"), 2LL << 30);
	CHECK_INT(conf_parse_size("1t"), 1LL << 40);
	CHECK_INT(conf_parse_size("0"), 0);
	CHECK_INT(conf_parse_size(""), -1);
	CHECK_INT(conf_parse_size("G"), -1);
	CHECK_INT(conf_parse_size("-1"), -1);
	CHECK_INT(conf_parse_size("2 G"), -1);
	CHECK_INT(conf_parse_size("2GB"), -1);
	CHECK_INT(conf_parse_size("1.5G"), -1);
	CHECK_INT(conf_parse_size("99999999999999999999"), -1);
	CHECK_INT(conf_parse_size("99999999999T"), -1);
	CHECK_INT(conf_parse_size(NULL), -1);

	CHECK_INT(conf_parse_duration("90"), 90);
	CHECK_INT(conf_parse_duration("90s"), 90);
	CHECK_INT(conf_parse_duration("10m"), 600);
	CHECK_INT(conf_parse_duration("2h"), 7200);
	CHECK_INT(conf_parse_duration("1d"), 86400);
	CHECK_INT(conf_parse_duration("0"), 0);
	CHECK_INT(conf_parse_duration("1w"), -1);
	CHECK_INT(conf_parse_duration("m"), -1);
	CHECK_INT(conf_parse_duration("10mm"), -1);
	CHECK_INT(conf_parse_duration(" 10"), -1);
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
	test_env();
	test_env_errors();
	test_secret_never_shown();
	test_line_numbers();
	test_bad_values();
	test_booleans();
	test_sources();
	test_inline_and_long();
	test_paths();
	test_parsers();
	nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return tap_done("conf");
}
