/*
 * sltool: runs one report body through a source driver (servicelayer by
 * default) with the source given on the command line, and prints what
 * the driver returned, for the Service Layer tests and benchmark.
 *
 * Output (--dump, the default), one record a line, tab-separated, cells
 * escaped (\\ \t \n \r; \N is NULL):
 *   C name type scale          one per column
 *   R cell cell ...            one per row
 *   E rows                     the run ended well
 *   X status message           the run failed (status < 0)
 *   S                          --step: waiting for a line on stdin
 * --csv FILE renders the rows with lib/render (the mount's CSV writer)
 * instead.  The exit status is minus the last run's drv_status.
 */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "log.h"
#include "render.h"
#include "util.h"

struct sl_opts {
	struct conf_source src;
	const char *driver;
	const char *label;
	const char *body;
	bool odata;
	const char *csv;
	int runs;
	bool step;
	bool reconnect;
	bool stats;
	long sleep_ms;
	long cancel_ms;
	struct drv_param params[32];
	size_t nparams;
};

struct sl_watch {
	const struct drv_ops *ops;
	struct drv_conn *conn;
	long ms;
	pthread_t thread;
};

static void usage(void)
{
	fputs("usage: sltool --url URL --company DB --user USER [options]\n"
	      "  (--odata PATH | --sql SQL) [--label NAME] [--param N=V]...\n"
	      "  [--timeout S] [--page-size N] [--ca-file F] [--no-verify]\n"
	      "  [--runs N] [--step] [--sleep MS] [--reconnect]\n"
	      "  [--cancel-after MS] [--csv FILE] [--stats] [--driver D]\n"
	      "the password is read from $SLTOOL_PASSWORD\n",
	      stderr);
}

static void put_escaped(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		default:
			putchar(p[i]);
		}
	}
}

static void put_cols(const struct col_desc *cols, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputs("C\t", stdout);
		put_escaped(cols[i].name, strlen(cols[i].name));
		printf("\t%s\t%d\n", col_type_name(cols[i].type),
		       cols[i].scale);
	}
}

static void put_row(const struct cell *row, size_t n)
{
	putchar('R');
	for (size_t i = 0; i < n; i++) {
		putchar('\t');
		if (row[i].null)
			fputs("\\N", stdout);
		else
			put_escaped(row[i].p, row[i].len);
	}
	putchar('\n');
}

static void *watch_main(void *arg)
{
	struct sl_watch *w = arg;
	struct timespec ts = {w->ms / 1000, (w->ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
	w->ops->cancel(w->conn);
	return NULL;
}

static struct render *open_csv(const struct sl_opts *o,
			       const struct drv_ops *ops, struct drv_conn *c,
			       char *err, size_t errlen)
{
	struct render_meta m = {
	    .name = o->label ? o->label : "sltool",
	    .title = o->label ? o->label : "sltool",
	    .source = o->src.name,
	    .generated = time(NULL),
	    .ncols = ops->ncols(c),
	    .cols = ops->cols(c),
	    .csv = CSV_RFC4180,
	    .tmpdir = "/tmp",
	};

	return render_open(FMT_CSV, o->csv, &m, err, errlen);
}

/* Streams the rows to stdout or the CSV file; 0 or a drv_status. */
static int read_rows(const struct sl_opts *o, const struct drv_ops *ops,
		     struct drv_conn *c, long *rows, char *err, size_t errlen)
{
	size_t n = ops->ncols(c);
	struct render *r = NULL;
	const struct cell *row;
	int rc;

	if (o->csv && !(r = open_csv(o, ops, c, err, errlen)))
		return DRV_ERR_QUERY;
	if (!o->csv)
		put_cols(ops->cols(c), n);
	while ((rc = ops->fetch(c, &row, err, errlen)) == 1) {
		(*rows)++;
		if (r && render_row(r, row) < 0) {
			snprintf(err, errlen, "writing %s failed", o->csv);
			rc = DRV_ERR_QUERY;
			break;
		}
		if (!r)
			put_row(row, n);
	}
	if (r && rc == 0)
		return render_close(r, err, errlen) < 0 ? DRV_ERR_QUERY : 0;
	if (r)
		render_abort(r);
	return rc;
}

static int run_once(const struct sl_opts *o, const struct drv_ops *ops,
		    struct drv_conn *c)
{
	struct sl_watch w = {ops, c, o->cancel_ms, 0};
	char err[2048] = "";
	long rows = 0;
	int rc;

	if (o->cancel_ms > 0)
		pthread_create(&w.thread, NULL, watch_main, &w);
	rc = ops->execute(c, o->label, o->body, o->odata, o->params, o->nparams,
			  err, sizeof(err));
	if (rc == DRV_OK)
		rc = read_rows(o, ops, c, &rows, err, sizeof(err));
	ops->finish(c);
	if (o->cancel_ms > 0)
		pthread_join(w.thread, NULL);
	if (rc < 0)
		printf("X\t%d\t%s\n", rc, err);
	else
		printf("E\t%ld\n", rows);
	fflush(stdout);
	return rc;
}

static int connect_src(const struct sl_opts *o, const struct drv_ops *ops,
		       struct drv_conn **c)
{
	char err[2048] = "";
	int rc =
	    ops->connect(&o->src, o->src.timeout * 1000, c, err, sizeof(err));

	if (rc != DRV_OK) {
		printf("X\t%d\t%s\n", rc, err);
		fflush(stdout);
	}
	return rc;
}

static void pause_between(const struct sl_opts *o)
{
	char line[64];

	if (o->step) {
		puts("S");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return;
	} else if (o->sleep_ms > 0) {
		struct timespec ts = {o->sleep_ms / 1000,
				      (o->sleep_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
}

static int run_all(const struct sl_opts *o, const struct drv_ops *ops)
{
	struct drv_conn *c = NULL;
	int rc = 0;

	for (int i = 0; i < o->runs; i++) {
		if (i)
			pause_between(o);
		if (c && o->reconnect) {
			ops->disconnect(c);
			c = NULL;
		}
		if (!c && (rc = connect_src(o, ops, &c)) != DRV_OK) {
			c = NULL;
			continue;
		}
		rc = run_once(o, ops, c);
		if (rc == DRV_ERR_CONN || rc == DRV_ERR_TIMEOUT) {
			ops->disconnect(c);
			c = NULL;
		}
	}
	if (c)
		ops->disconnect(c);
	return rc;
}

static int add_param(struct sl_opts *o, char *arg)
{
	char *eq = strchr(arg, '=');

	if (o->nparams == ARRAY_SIZE(o->params))
		return -1;
	if (eq)
		*eq = '\0';
	o->params[o->nparams].name = arg;
	o->params[o->nparams].value = eq ? eq + 1 : NULL;
	o->nparams++;
	return 0;
}

static int parse_opt(struct sl_opts *o, int ch, char *arg)
{
	switch (ch) {
	case 'u':
		o->src.url = arg;
		break;
	case 'c':
		o->src.company = arg;
		break;
	case 'U':
		o->src.user = arg;
		break;
	case 't':
		o->src.timeout = atoi(arg);
		break;
	case 'p':
		o->src.page_size = atoi(arg);
		break;
	case 'a':
		o->src.ca_file = arg;
		break;
	case 'k':
		o->src.verify_tls = false;
		break;
	case 'o':
		o->body = arg;
		o->odata = true;
		break;
	case 's':
		o->body = arg;
		o->odata = false;
		break;
	case 'l':
		o->label = arg;
		break;
	case 'P':
		return add_param(o, arg);
	case 'r':
		o->runs = atoi(arg);
		break;
	case 'S':
		o->step = true;
		break;
	case 'z':
		o->sleep_ms = atol(arg);
		break;
	case 'R':
		o->reconnect = true;
		break;
	case 'x':
		o->cancel_ms = atol(arg);
		break;
	case 'v':
		o->csv = arg;
		break;
	case 'i':
		o->stats = true;
		break;
	case 'd':
		o->driver = arg;
		break;
	case 'n':
		o->src.name = arg;
		break;
	default:
		return -1;
	}
	return 0;
}

static int parse_args(struct sl_opts *o, int argc, char **argv)
{
	static const struct option longs[] = {
	    {"url", 1, 0, 'u'},
	    {"company", 1, 0, 'c'},
	    {"user", 1, 0, 'U'},
	    {"timeout", 1, 0, 't'},
	    {"page-size", 1, 0, 'p'},
	    {"ca-file", 1, 0, 'a'},
	    {"no-verify", 0, 0, 'k'},
	    {"odata", 1, 0, 'o'},
	    {"sql", 1, 0, 's'},
	    {"label", 1, 0, 'l'},
	    {"param", 1, 0, 'P'},
	    {"runs", 1, 0, 'r'},
	    {"step", 0, 0, 'S'},
	    {"sleep", 1, 0, 'z'},
	    {"reconnect", 0, 0, 'R'},
	    {"cancel-after", 1, 0, 'x'},
	    {"csv", 1, 0, 'v'},
	    {"stats", 0, 0, 'i'},
	    {"driver", 1, 0, 'd'},
	    {"source", 1, 0, 'n'},
	    {0, 0, 0, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1)
		if (parse_opt(o, ch, optarg))
			return -1;
	o->src.password = getenv("SLTOOL_PASSWORD");
	return o->body && optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sl_opts o = {
	    .src = {.name = "sltool",
		    .timeout = 60,
		    .page_size = 1000,
		    .verify_tls = true,
		    .max_connections = 1},
	    .driver = "servicelayer",
	    .runs = 1,
	};
	const struct drv_ops *ops;
	struct rusage ru;
	int rc;

	log_init("sltool", true);
	if (parse_args(&o, argc, argv)) {
		usage();
		return 64;
	}
	o.src.driver = (char *)o.driver;
	ops = drv_find(o.driver);
	if (!ops) {
		fprintf(stderr, "sltool: driver %s is not built\n", o.driver);
		return 64;
	}
	rc = run_all(&o, ops);
	if (o.stats && getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(stderr, "sltool: maxrss_kb=%ld\n", ru.ru_maxrss);
	return -rc;
}
