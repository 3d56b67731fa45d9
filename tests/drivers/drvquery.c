/*
 * drvquery: runs one statement through a source driver and prints what
 * the driver returned, for the driver tests (test_drivers_*.py).
 *
 * Output, one record a line, fields split by tabs, cells escaped
 * (\\ \t \n \r \xHH; \N is NULL):
 *   C name type precision scale     one per column
 *   R cell cell ...                 one per row
 *   E rows                          the run ended well
 *   X status message                the run failed (status < 0)
 *   S                               -s: waiting for a line on stdin
 *   M kib                           -m: peak RSS since exec (VmHWM)
 * The exit status is minus the last run's drv_status (0 on success),
 * 64 on a usage error.  "drvquery -l" lists the drivers built in.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "util.h"

struct dq_opts {
	int timeout; /* seconds */
	long cancel_ms;
	int runs;
	bool step;
	bool quiet;
	bool list;
	bool peak;
	const char *user;
	const char *driver;
	const char *conn;
	const char *sql;
	struct drv_param *params;
	size_t nparams;
};

/* A second thread that cancels the statement after a delay. */
struct dq_watch {
	const struct drv_ops *ops;
	struct drv_conn *conn;
	long ms;
	bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
};

static void dq_usage(void)
{
	fputs("usage: drvquery [-t SECONDS] [-c CANCEL_MS] [-u USER] "
	      "[-r RUNS] [-s] [-q] [-m]\n"
	      "                DRIVER CONNECTION SQL [NAME=VALUE | NAME]...\n"
	      "       drvquery -l\n"
	      "the password is read from $DRVQUERY_PASSWORD; a bare NAME "
	      "binds NULL\n",
	      stderr);
}

static void dq_escape(FILE *f, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\\')
			fputs("\\\\", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			putc(ch, f);
	}
}

static void dq_print_cols(const struct drv_ops *ops, struct drv_conn *c)
{
	const struct col_desc *cols = ops->cols(c);
	size_t n = ops->ncols(c);

	for (size_t i = 0; i < n; i++) {
		fputs("C\t", stdout);
		dq_escape(stdout, cols[i].name, strlen(cols[i].name));
		printf("\t%s\t%d\t%d\n", col_type_name(cols[i].type),
		       cols[i].precision, cols[i].scale);
	}
}

static void dq_print_row(const struct cell *row, size_t n)
{
	putchar('R');
	for (size_t i = 0; i < n; i++) {
		putchar('\t');
		if (row[i].null)
			fputs("\\N", stdout);
		else
			dq_escape(stdout, row[i].p, row[i].len);
	}
	putchar('\n');
}

static void *dq_watch_main(void *arg)
{
	struct dq_watch *w = arg;
	struct timespec at;
	bool fire = true;

	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_sec += w->ms / 1000;
	at.tv_nsec += (w->ms % 1000) * 1000000L;
	if (at.tv_nsec >= 1000000000L) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->stop)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &at) ==
		    ETIMEDOUT)
			break;
	fire = !w->stop;
	pthread_mutex_unlock(&w->lock);
	if (fire)
		w->ops->cancel(w->conn);
	return NULL;
}

static int dq_watch_start(struct dq_watch *w)
{
	w->stop = false;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	return pthread_create(&w->thread, NULL, dq_watch_main, w);
}

static void dq_watch_stop(struct dq_watch *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

static int dq_fail(int status, const char *err)
{
	printf("X\t%d\t", status);
	dq_escape(stdout, err, strlen(err));
	putchar('\n');
	fprintf(stderr, "drvquery: %s\n", err);
	return status;
}

/* Streams the rows of the executed statement. */
static int dq_rows(const struct drv_ops *ops, struct drv_conn *c, bool quiet)
{
	const struct cell *row;
	char err[1024];
	long rows = 0;
	int rc;

	while ((rc = ops->fetch(c, &row, err, sizeof(err))) == 1) {
		if (!quiet)
			dq_print_row(row, ops->ncols(c));
		rows++;
	}
	if (rc < 0)
		return dq_fail(rc, err);
	printf("E\t%ld\n", rows);
	return DRV_OK;
}

static int dq_run(const struct dq_opts *o, const struct drv_ops *ops,
		  struct drv_conn *c)
{
	struct dq_watch w = {.ops = ops, .conn = c, .ms = o->cancel_ms};
	char err[1024];
	int rc;

	if (o->cancel_ms >= 0 && dq_watch_start(&w) != 0)
		return dq_fail(DRV_ERR_QUERY, "cannot start the cancel thread");
	rc = ops->execute(c, "drvquery", o->sql, 0, o->params, o->nparams, err,
			  sizeof(err));
	if (rc == DRV_OK) {
		dq_print_cols(ops, c);
		rc = dq_rows(ops, c, o->quiet);
	} else {
		dq_fail(rc, err);
	}
	if (o->cancel_ms >= 0)
		dq_watch_stop(&w);
	ops->finish(c);
	return rc;
}

static void dq_step(void)
{
	char line[64];

	puts("S");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		exit(64);
}

/* Runs o->runs times; a broken link is dropped and opened again. */
static int dq_main(const struct dq_opts *o, const struct drv_ops *ops)
{
	struct conf_source src = {0};
	struct drv_conn *c = NULL;
	char err[1024];
	int rc = DRV_OK;

	src.name = "drvquery";
	src.driver = (char *)o->driver;
	src.connection = src.conninfo = (char *)o->conn;
	src.user = (char *)o->user;
	src.password = getenv("DRVQUERY_PASSWORD");
	src.timeout = o->timeout;
	for (int i = 0; i < o->runs; i++) {
		if (i > 0 && o->step)
			dq_step();
		if (!c) {
			rc = ops->connect(&src, o->timeout * 1000, &c, err,
					  sizeof(err));
			if (rc) {
				dq_fail(rc, err);
				continue;
			}
		}
		rc = dq_run(o, ops, c);
		if (rc == DRV_ERR_CONN) {
			ops->disconnect(c);
			c = NULL;
		}
		fflush(stdout);
	}
	if (c)
		ops->disconnect(c);
	return rc;
}

/*
 * VmHWM, not getrusage: ru_maxrss counts the parent's pages a forked
 * child held before exec, VmHWM belongs to this program's own memory.
 */
static void dq_print_peak(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			printf("M\t%ld\n", strtol(line + 6, NULL, 10));
	fclose(f);
}

static int dq_params(struct dq_opts *o, char **argv, int argc)
{
	o->params = calloc((size_t)argc + 1, sizeof(*o->params));
	if (!o->params)
		return -1;
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		o->params[i].name = argv[i];
		o->params[i].value = eq ? eq + 1 : NULL;
		if (eq)
			*eq = '\0';
	}
	o->nparams = (size_t)argc;
	return 0;
}

static int dq_parse(struct dq_opts *o, int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "t:c:u:r:sqlm")) != -1) {
		switch (opt) {
		case 't':
			o->timeout = atoi(optarg);
			break;
		case 'c':
			o->cancel_ms = atol(optarg);
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'r':
			o->runs = atoi(optarg);
			break;
		case 's':
			o->step = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'm':
			o->peak = true;
			break;
		case 'l':
			o->list = true;
			return 0;
		default:
			return -1;
		}
	}
	if (argc - optind < 3 || o->runs < 1)
		return -1;
	o->driver = argv[optind];
	o->conn = argv[optind + 1];
	o->sql = argv[optind + 2];
	return dq_params(o, argv + optind + 3, argc - optind - 3);
}

int main(int argc, char **argv)
{
	struct dq_opts o = {.timeout = 30, .cancel_ms = -1, .runs = 1};
	const struct drv_ops *ops;
	int rc;

	if (dq_parse(&o, argc, argv) != 0) {
		dq_usage();
		return 64;
	}
	if (o.list) {
		for (const char *const *n = drv_names(); *n; n++)
			puts(*n);
		return 0;
	}
	ops = drv_find(o.driver);
	if (!ops) {
		fprintf(stderr, "drvquery: no driver %s in this build\n",
			o.driver);
		return 64;
	}
	rc = dq_main(&o, ops);
	free(o.params);
	if (o.peak)
		dq_print_peak();
	fflush(stdout);
	return -rc;
}
