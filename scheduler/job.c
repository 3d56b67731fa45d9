/*
 * job: see job.h.
 *
 * Notices follow the failure streak kept in the state: the first failed
 * run tells the admin, later ones only once a day while it lasts, and
 * the first good run after a told failure says it works again.  So a
 * report due every minute with its source down sends one mail, not one
 * a minute.
 */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "history.h"
#include "log.h"
#include "mailjob.h"
#include "slotlock.h"
#include "state.h"

/* snprintf for messages: a long path may cut one, never overflow it. */
static void msgf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msgf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* What a finished run changes in the report's state record. */
struct job_outcome {
	const struct job *j;
	int64_t start, end;
	bool ok;
	int prev_failures; /* the streak before this run */
	int64_t prev_notice;
};

static void edit_outcome(struct state_rec *rec, void *ctx)
{
	struct job_outcome *o = ctx;

	o->prev_failures = rec->failures;
	o->prev_notice = rec->notice_at;
	if (o->j->slot && o->j->slot > rec->last_slot)
		rec->last_slot = o->j->slot;
	rec->last_start = o->start;
	rec->last_end = o->end;
	rec->result = o->ok ? STATE_OK : STATE_FAILED;
	rec->failures = o->ok ? 0 : rec->failures + 1;
	if (o->ok)
		rec->notice_at = 0;
	msgf(rec->msg, sizeof(rec->msg), "%s", o->ok ? "" : o->j->err);
}

static void edit_notice(struct state_rec *rec, void *ctx)
{
	rec->notice_at = *(const int64_t *)ctx;
}

static void local_time(const struct tz *z, int64_t t, char *buf, size_t size)
{
	struct tm tm;

	tz_localtime(z, t, &tm);
	msgf(buf, size, "%04d-%02d-%02d %02d:%02d %s", tm.tm_year + 1900,
	     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_zone);
}

static bool notify(const struct job_env *env, const struct report *r,
		   const char *subject, const char *text)
{
	char err[512];

	if (!env->conf->smtp_admin || !*env->conf->smtp_admin) {
		log_msg(LOG_WARNING, "scheduler",
			"no notice about %s sent: [smtp] admin is not set",
			r->name);
		return false;
	}
	if (mailjob_notice(env->conf->spool_dir, env->conf->smtp_admin, subject,
			   text, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "scheduler",
			"cannot notify the admin about %s: %s", r->name, err);
		return false;
	}
	return true;
}

static bool notify_failure(const struct job_env *env, const struct job *j,
			   const struct delivery *d, int attempts)
{
	char subject[256], when[64], text[4096];

	local_time(env->zone, d->when, when, sizeof(when));
	msgf(subject, sizeof(subject), "sapb1fs: report %s failed", j->r->name);
	msgf(text, sizeof(text),
	     "The scheduled run of the report \"%s\" (%s) at %s failed "
	     "after %d attempt%s:\n\n%s\n\n"
	     "The error is kept in %s/%s%s.\n"
	     "Later runs go on as scheduled; you will hear again when it "
	     "works, or in a day if it still fails.\n",
	     j->r->title, j->r->name, when, attempts, attempts == 1 ? "" : "s",
	     j->err, d->dir, d->stamp, HISTORY_ERROR_SUFFIX);
	if (!notify(env, j->r, subject, text))
		return false;
	log_msg(LOG_INFO, "scheduler", "%s: admin notified of the failure",
		j->r->name);
	return true;
}

static void notify_recovery(const struct job_env *env, const struct job *j,
			    const struct delivery *d)
{
	char subject[256], when[64], text[1024];

	local_time(env->zone, d->when, when, sizeof(when));
	msgf(subject, sizeof(subject), "sapb1fs: report %s works again",
	     j->r->name);
	msgf(text, sizeof(text),
	     "The run of the report \"%s\" (%s) at %s went well after "
	     "earlier failures.\n",
	     j->r->title, j->r->name, when);
	notify(env, j->r, subject, text);
}

/* Attempts until one succeeds, the retries are spent or we stop. */
static int attempt_all(const struct job_env *env, struct job *j,
		       struct delivery *d, int *attempts)
{
	int retries = j->manual		 ? 0
		      : j->r->retry >= 0 ? j->r->retry
					 : env->conf->retry;
	int wait = env->retry_delay > 0 ? env->retry_delay : 1;

	for (*attempts = 1;; (*attempts)++) {
		if (delivery_attempt(d) == 0)
			return 0;
		msgf(j->err, sizeof(j->err), "%s", d->err);
		if (*attempts > retries)
			return -1;
		log_msg(
		    LOG_WARNING, "scheduler",
		    "run of %s failed (attempt %d of %d), retrying in %d s: "
		    "%s",
		    j->r->name, *attempts, retries + 1, wait, d->err);
		if (!env->sleep(env->ctx, wait)) {
			j->status = JOB_STOPPED;
			return -1;
		}
		wait = wait * 2 > JOB_RETRY_MAX_WAIT ? JOB_RETRY_MAX_WAIT
						     : wait * 2;
	}
}

static void record_failure(const struct job_env *env, struct job *j,
			   const struct delivery *d, int attempts)
{
	char when[64], text[2048];
	int rc;

	local_time(env->zone, d->when, when, sizeof(when));
	log_msg(LOG_ERR, "scheduler", "run of %s failed after %d attempt%s: %s",
		j->r->name, attempts, attempts == 1 ? "" : "s", j->err);
	msgf(text, sizeof(text),
	     "The run of %s at %s failed after %d "
	     "attempt%s:\n%s\n",
	     j->r->name, when, attempts, attempts == 1 ? "" : "s", j->err);
	rc = history_write_error(d->dir, d->stamp, text);
	if (rc < 0)
		log_errno(LOG_ERR, "scheduler", -rc, "cannot write %s/%s%s",
			  d->dir, d->stamp, HISTORY_ERROR_SUFFIX);
}

static void record_outcome(const struct job_env *env, struct job *j,
			   const struct delivery *d, int attempts)
{
	struct job_outcome o = {j, d->when, time(NULL), j->status == JOB_OK,
				0, 0};
	struct state_rec after;
	int64_t now = o.end;
	int rc;

	rc = state_update(env->conf->state_dir, j->r->name, edit_outcome, &o,
			  &after);
	if (rc < 0) {
		log_errno(LOG_ERR, "scheduler", -rc,
			  "cannot record the run of %s in %s/%s", j->r->name,
			  env->conf->state_dir, STATE_FILE);
		return;
	}
	if (j->manual)
		return;
	if (o.ok && o.prev_failures > 0 && o.prev_notice > 0) {
		notify_recovery(env, j, d);
	} else if (!o.ok && (after.failures == 1 || o.prev_notice == 0 ||
			     now - o.prev_notice >= JOB_NOTICE_REPEAT)) {
		if (notify_failure(env, j, d, attempts))
			state_update(env->conf->state_dir, j->r->name,
				     edit_notice, &now, NULL);
	}
}

/* --- [redis]: one host per due run (slotlock.h) ------------------------ */

static void edit_slot(struct state_rec *rec, void *ctx)
{
	int64_t slot = *(const int64_t *)ctx;

	if (slot > rec->last_slot)
		rec->last_slot = slot;
}

/* Whether this host makes the run due at j->slot; else it is recorded. */
static bool slot_ours(const struct job_env *env, struct job *j)
{
	char who[512] = "", when[64];
	int64_t slot = j->slot;

	if (slotlock_take(env->conf, j->r->name, slot, who, sizeof(who)) !=
	    SLOT_OTHER)
		return true;
	j->status = JOB_ELSEWHERE;
	msgf(j->err, sizeof(j->err), "another host makes it: %s", who);
	local_time(env->zone, slot, when, sizeof(when));
	log_msg(LOG_INFO, "scheduler",
		"%s: the run of %s is made by another host (%s)", j->r->name,
		when, who);
	/* handled, so a restart here does not make it up */
	state_update(env->conf->state_dir, j->r->name, edit_slot, &slot, NULL);
	return false;
}

void job_run(const struct job_env *env, struct job *j)
{
	struct delivery d;
	int lock, attempts = 0;

	j->status = JOB_FAILED;
	j->err[0] = '\0';
	if (delivery_init(&d, env->conf, env->zone, j->r, time(NULL)) < 0) {
		msgf(j->err, sizeof(j->err), "%s", d.err);
		log_msg(LOG_ERR, "scheduler", "run of %s failed: %s",
			j->r->name, j->err);
		return;
	}
	lock = history_lock(d.dir);
	if (lock < 0) {
		j->status = JOB_BUSY;
		msgf(j->err, sizeof(j->err),
		     lock == -EWOULDBLOCK ? "a run of it is still going"
					  : "cannot take its lock in %s: %s",
		     d.dir, strerror(-lock));
		return;
	}
	if (j->slot && !slot_ours(env, j))
		goto out_unlock;
	if (attempt_all(env, j, &d, &attempts) == 0)
		j->status = JOB_OK;
	if (j->status == JOB_STOPPED)
		goto out_unlock;
	if (j->status == JOB_FAILED)
		record_failure(env, j, &d, attempts);
	else
		log_msg(LOG_INFO, "scheduler",
			"%s: %u file%s saved as history/%s.*%s", j->r->name,
			d.copied, d.copied == 1 ? "" : "s", d.stamp,
			d.mailed ? ", mail queued" : "");
	if (d.warn[0])
		log_msg(LOG_WARNING, "scheduler", "%s", d.warn);
	record_outcome(env, j, &d, attempts);
out_unlock:
	close(lock);
}
