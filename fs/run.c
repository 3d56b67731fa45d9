/*
 * run: see run.h.
 *
 * The watchdog is one thread for all runs: each run registers its
 * connection and deadline, and the thread calls the driver's cancel on
 * the ones past it.  Drivers also set a statement timeout of their own;
 * the watchdog is what makes "no call blocks past the timeout" hold for
 * drivers and servers that ignore theirs.
 */
#include "run.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

struct watch {
	struct watch *next;
	struct drv_conn *conn;
	const struct drv_ops *ops;
	int64_t deadline;
	bool fired;
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond = PTHREAD_COND_INITIALIZER;
static struct watch *watches;
static bool watch_started;

static uint64_t stat_rows, stat_runs_ok, stat_runs_failed;

static void *watch_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&watch_lock);
	for (;;) {
		struct timespec ts;
		int64_t now = now_mono_ms();

		for (struct watch *w = watches; w; w = w->next) {
			if (!w->fired && now >= w->deadline) {
				w->fired = true;
				w->ops->cancel(w->conn);
			}
		}
		ts = deadline_after_ms(100);
		pthread_cond_timedwait(&watch_cond, &watch_lock, &ts);
	}
	return NULL;
}

static void watch_add(struct watch *w)
{
	pthread_t tid;

	pthread_mutex_lock(&watch_lock);
	if (!watch_started &&
	    pthread_create(&tid, NULL, watch_main, NULL) == 0) {
		pthread_detach(tid);
		watch_started = true;
	}
	w->next = watches;
	watches = w;
	pthread_mutex_unlock(&watch_lock);
}

/* Returns whether the watchdog cancelled the statement. */
static bool watch_remove(struct watch *w)
{
	bool fired;

	pthread_mutex_lock(&watch_lock);
	for (struct watch **pp = &watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	fired = w->fired;
	pthread_mutex_unlock(&watch_lock);
	return fired;
}

static void run_fail(struct run_result *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void run_fail(struct run_result *res, int status, const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->err, sizeof(res->err), fmt, ap);
	va_end(ap);
}

static int open_renderers(const struct run_spec *rs, struct drv_conn *c,
			  struct render **out, struct run_result *res)
{
	const struct drv_ops *ops = source_ops(rs->src);
	struct render_meta meta = {
	    .name = rs->label,
	    .title = rs->title,
	    .source = source_conf(rs->src)->name,
	    .generated = rs->started,
	    .timezone = rs->timezone,
	    .ncols = ops->ncols(c),
	    .cols = ops->cols(c),
	    .csv = rs->csv,
	    .tr_numbers = rs->tr_numbers,
	    .html_row_cap = 0,
	    .tmpdir = rs->tmpdir,
	};
	char err[256];

	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(rs->formats & (1u << f)))
			continue;
		if (!rs->paths[f]) {
			run_fail(res, RUN_ERR_LOCAL, "out of memory");
			return -1;
		}
		meta.html_row_cap = f == FMT_MAIL ? MAIL_BODY_ROWS : 0;
		out[f] = render_open(f, rs->paths[f], &meta, err, sizeof(err));
		if (!out[f]) {
			run_fail(res, RUN_ERR_LOCAL,
				 "cannot write the %s snapshot: %s",
				 render_fmt_ext(f), err);
			return -1;
		}
	}
	return 0;
}

static int stream_rows(const struct run_spec *rs, struct drv_conn *c,
		       struct render **r, struct run_result *res)
{
	const struct drv_ops *ops = source_ops(rs->src);
	const struct cell *row;
	char err[1024] = "";
	int rc;

	for (;;) {
		rc = ops->fetch(c, &row, err, sizeof(err));
		if (rc == 0)
			return 0;
		if (rc < 0) {
			run_fail(res, rc, "%s", err);
			return rc;
		}
		if (rs->row_limit && res->rows >= (uint64_t)rs->row_limit) {
			res->truncated = true;
			return 0;
		}
		for (int f = 0; f < FMT_COUNT; f++) {
			if (!r[f])
				continue;
			rc = render_row(r[f], row);
			if (rc < 0) {
				run_fail(res, RUN_ERR_LOCAL,
					 "writing the %s snapshot failed: %s",
					 render_fmt_ext(f), strerror(-rc));
				return rc;
			}
		}
		res->rows++;
	}
}

static int close_renderers(const struct run_spec *rs, struct render **r,
			   struct run_result *res, bool ok)
{
	char err[256];
	int status = 0;

	for (int f = 0; f < FMT_COUNT; f++) {
		if (!r[f])
			continue;
		if (!ok) {
			render_abort(r[f]);
		} else if (render_close(r[f], err, sizeof(err)) < 0 &&
			   !status) {
			run_fail(res, RUN_ERR_LOCAL,
				 "finishing the %s snapshot: %s",
				 render_fmt_ext(f), err);
			status = -1;
		}
		r[f] = NULL;
	}
	if (!ok || status)
		for (int f = 0; f < FMT_COUNT; f++)
			if (rs->paths[f])
				unlink(rs->paths[f]);
	return status;
}

/* One attempt on one connection; returns the status. */
static int run_on(const struct run_spec *rs, struct drv_conn *c,
		  int64_t deadline, struct run_result *res)
{
	const struct drv_ops *ops = source_ops(rs->src);
	struct render *r[FMT_COUNT] = {0};
	struct watch w = {.conn = c, .ops = ops, .deadline = deadline};
	char err[1024] = "";
	int rc;

	watch_add(&w);
	rc = ops->execute(c, rs->label, rs->sql, rs->odata, rs->params,
			  rs->nparams, err, sizeof(err));
	if (rc != DRV_OK) {
		run_fail(res, rc, "%s", err);
		goto out_finish;
	}
	if (open_renderers(rs, c, r, res) < 0)
		goto out_close;
	stream_rows(rs, c, r, res);
out_close:
	ops->finish(c);
	if (watch_remove(&w) && res->status != DRV_OK)
		run_fail(res, DRV_ERR_TIMEOUT,
			 "no complete answer within the timeout of %d s",
			 source_conf(rs->src)->timeout);
	close_renderers(rs, r, res, res->status == DRV_OK);
	return res->status;
out_finish:
	ops->finish(c);
	if (watch_remove(&w))
		run_fail(res, DRV_ERR_TIMEOUT,
			 "no answer within the timeout of %d s",
			 source_conf(rs->src)->timeout);
	return res->status;
}

int run_execute(const struct run_spec *rs, struct run_result *res)
{
	const struct conf_source *cs = source_conf(rs->src);
	int64_t start = now_mono_ms();
	int64_t deadline = start + (int64_t)cs->timeout * 1000;
	struct drv_conn *c;
	int attempt, rc = DRV_OK;

	memset(res, 0, sizeof(*res));
	/*
	 * A pooled link may have died while idle (the server restarted):
	 * a link error gets one more try on a fresh connection.
	 */
	for (attempt = 0; attempt < 2; attempt++) {
		memset(res, 0, sizeof(*res));
		rc = source_acquire(rs->src, deadline, &c, res->err,
				    sizeof(res->err));
		if (rc != DRV_OK) {
			res->status = rc;
			break;
		}
		rc = run_on(rs, c, deadline, res);
		source_release(rs->src, c,
			       rc == DRV_ERR_CONN || rc == DRV_ERR_TIMEOUT);
		if (rc != DRV_ERR_CONN || now_mono_ms() >= deadline ||
		    attempt == 1)
			break;
		log_msg(LOG_WARNING, "run",
			"%s: link to source %s lost (%s); trying once more on "
			"a new connection",
			rs->label, cs->name, res->err);
	}
	res->ms = now_mono_ms() - start;
	if (rc == DRV_OK) {
		source_note_ok(rs->src, res->ms);
		__atomic_add_fetch(&stat_runs_ok, 1, __ATOMIC_RELAXED);
	} else {
		/* A wrong statement says nothing about the source's health. */
		if (rc == DRV_ERR_CONN || rc == DRV_ERR_TIMEOUT ||
		    rc == DRV_ERR_AUTH)
			source_note_error(rs->src, res->err);
		__atomic_add_fetch(&stat_runs_failed, 1, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&stat_rows, res->rows, __ATOMIC_RELAXED);
	return rc;
}

void run_metrics(struct strbuf *sb)
{
	strbuf_addf(
	    sb,
	    "# HELP sapb1fs_runs_total Report and query runs.\n"
	    "# TYPE sapb1fs_runs_total counter\n"
	    "sapb1fs_runs_total{result=\"ok\"} %llu\n"
	    "sapb1fs_runs_total{result=\"failed\"} %llu\n"
	    "# HELP sapb1fs_rows_total Rows fetched from sources.\n"
	    "# TYPE sapb1fs_rows_total counter\n"
	    "sapb1fs_rows_total %llu\n",
	    (unsigned long long)__atomic_load_n(&stat_runs_ok,
						__ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&stat_runs_failed,
						__ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&stat_rows, __ATOMIC_RELAXED));
}

void run_values_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int collect_values(const struct drv_ops *ops, struct drv_conn *c,
			  size_t max, char ***out, size_t *n, char *err,
			  size_t errlen)
{
	const struct cell *row;
	size_t cap = 16;
	char **v = calloc(cap + 1, sizeof(*v));
	int rc;

	*n = 0;
	if (!v)
		return RUN_ERR_LOCAL;
	while ((rc = ops->fetch(c, &row, err, errlen)) > 0 && *n < max) {
		if (row[0].null)
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap * 2 + 1) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap *= 2;
		}
		v[*n] = xstrndup(row[0].p, row[0].len);
		if (!v[*n])
			break;
		v[++*n] = NULL;
	}
	if (rc < 0) {
		run_values_free(v);
		return rc;
	}
	*out = v;
	return DRV_OK;
}

int run_values(struct source *src, const char *label, const char *sql,
	       const struct drv_param *params, size_t nparams, size_t max,
	       char ***out, size_t *n, char *err, size_t errlen)
{
	const struct drv_ops *ops = source_ops(src);
	int64_t deadline =
	    now_mono_ms() + (int64_t)source_conf(src)->timeout * 1000;
	struct drv_conn *c;
	struct watch w;
	int rc;

	rc = source_acquire(src, deadline, &c, err, errlen);
	if (rc != DRV_OK)
		return rc;
	memset(&w, 0, sizeof(w));
	w.conn = c;
	w.ops = ops;
	w.deadline = deadline;
	watch_add(&w);
	rc = ops->execute(c, label, sql, 0, params, nparams, err, errlen);
	if (rc == DRV_OK)
		rc = collect_values(ops, c, max, out, n, err, errlen);
	ops->finish(c);
	if (watch_remove(&w) && rc != DRV_OK) {
		rc = DRV_ERR_TIMEOUT;
		snprintf(err, errlen, "no answer within the timeout of %d s",
			 source_conf(src)->timeout);
	}
	source_release(src, c, rc == DRV_ERR_CONN || rc == DRV_ERR_TIMEOUT);
	return rc;
}
