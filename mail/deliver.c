/*
 * deliver: see deliver.h.
 *
 * Order of writes, so that a stop at any instant loses nothing:
 *  - the Message-ID and the attempt count reach the sidecar before the
 *    message is sent, so a resend after a crash carries the same
 *    Message-ID: at least once, and recognisably the same mail;
 *  - the job moves to sent/ only after the 250 to the end of DATA;
 *  - a failing job first gets its admin notice written (a job of its
 *    own, named after it, so writing it twice is harmless), then its
 *    reason (failed.txt), then moves to failed/; a job found in outbox/
 *    with a reason is finishing a failure and completes it.
 */
#include "deliver.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "config.h"
#include "enqueue.h"
#include "log.h"
#include "mime.h"

#define NOTICE_SUFFIX ".notice"
#define REJECTED_SUFFIX ".rejected"

int deliver_init(struct deliver *d, const struct conf *c,
		 const struct spool *sp, struct smtp *smtp, char *err,
		 size_t errlen)
{
	char why[512] = "";
	int rc;

	memset(d, 0, sizeof(*d));
	d->conf = c;
	d->sp = sp;
	d->smtp = smtp;
	rc = addr_list_parse(&d->from, c->smtp_from ? c->smtp_from : "", why,
			     sizeof(why));
	if (rc == 0 && d->from.n != 1) {
		snprintf(why, sizeof(why), "it must hold exactly one address");
		rc = -EINVAL;
	}
	if (rc == -EINVAL)
		snprintf(err, errlen, "[smtp] from: %s", why);
	return rc;
}

void deliver_fini(struct deliver *d)
{
	addr_list_free(&d->from);
}

static uint32_t random_u32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)now_mono_ms() * 2654435761u;
	return r;
}

int64_t deliver_backoff(const struct conf *c, unsigned attempts)
{
	int64_t first = c->retry_first > 0 ? c->retry_first : 1;
	int64_t max = c->retry_max > first ? c->retry_max : first;
	int64_t delay = first;

	for (unsigned i = 1; i < attempts && delay < max; i++)
		delay *= 2;
	/* up to a quarter more, so jobs deferred together spread out */
	delay += (int64_t)(random_u32() % (uint32_t)(delay / 4 + 1));
	return delay < first ? first : delay > max ? max : delay;
}

int64_t deliver_due(const struct deliver *d, const char *id)
{
	struct spool_state st;
	int64_t due = now_real_ms();

	if (spool_state_load(d->sp, SPOOL_OUTBOX, id, &st) == 0) {
		if (st.next_attempt > 0)
			due = st.next_attempt * 1000;
		spool_state_free(&st);
	}
	return due;
}

static bool is_notice_id(const char *id)
{
	return str_has_suffix(id, NOTICE_SUFFIX) ||
	       str_has_suffix(id, REJECTED_SUFFIX);
}

/* ---- admin notices ---- */

static void describe_list(struct strbuf *sb, const char *label,
			  const struct spool_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		strbuf_addf(sb, "%-13s%s\n", i ? "" : label, v->v[i]);
}

static void describe_job(struct strbuf *sb, const struct spool_job *job,
			 const struct spool_state *st)
{
	char when[64];

	if (job) {
		strbuf_addf(sb, "%-13s%s\n", "Subject:", job->subject);
		describe_list(sb, "To:", &job->to);
		describe_list(sb, "Cc:", &job->cc);
		describe_list(sb, "Bcc:", &job->bcc);
		describe_list(sb, "Attachments:", &job->attach);
	}
	if (st && st->first_seen > 0) {
		time_t t = (time_t)st->first_seen;
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
		strbuf_addf(sb, "%-13s%s\n%-13s%u\n", "Queued:", when,
			    "Attempts:", st->attempts);
	}
}

/*
 * Writes the notice job "<id><suffix>" for the admin, unless it exists
 * already (the failure is being finished after a crash) or there is no
 * admin.  Failures here are logged: the job's own outcome goes on.
 */
static void send_notice(struct deliver *d, const char *id, const char *suffix,
			const char *what, const struct spool_job *job,
			const struct spool_state *st, const char *reason)
{
	struct enqueue_args a = {.notice = true};
	struct strbuf text = STRBUF_INIT, subject = STRBUF_INIT;
	struct strbuf err = STRBUF_INIT;
	char nid[SPOOL_ID_MAX + 1], out[SPOOL_ID_MAX + 1];
	char *admin = d->conf->smtp_admin;
	int rc;

	if (!admin || !*admin)
		return;
	snprintf(nid, sizeof(nid), "%.*s%s",
		 (int)(SPOOL_ID_MAX - strlen(suffix)), id, suffix);
	if (spool_exists(d->sp, SPOOL_OUTBOX, nid) ||
	    spool_exists(d->sp, SPOOL_SENT, nid) ||
	    spool_exists(d->sp, SPOOL_FAILED, nid))
		return;
	spool_remove(d->sp, SPOOL_TMP, nid); /* left by a crash, if any */
	strbuf_addf(&text, "The mail job %s %s.\n\n%-13s%s\n", id, what,
		    "Reason:", reason);
	describe_job(&text, job, st);
	strbuf_addf(&text, "\nThe job is in %s/%s/.\n", d->sp->dir,
		    strcmp(suffix, NOTICE_SUFFIX) == 0 ? "failed" : "sent");
	strbuf_addf(&subject, "sapb1fs-mailer: %s: %s", what,
		    job && *job->subject ? job->subject : id);
	a.id = nid;
	a.to.v = &admin;
	a.to.n = 1;
	a.subject = subject.buf;
	a.text_data = text.buf;
	rc = enqueue_job(d->sp, &a, out, &err);
	if (rc < 0)
		log_msg(LOG_ERR, "mailer",
			"cannot write the admin notice for job %s: %s", id,
			err.buf ? err.buf : strerror(-rc));
	strbuf_release(&text);
	strbuf_release(&subject);
	strbuf_release(&err);
}

/* ---- outcomes ---- */

static enum deliver_status fail_job(struct deliver *d, const char *id,
				    const struct spool_job *job,
				    const struct spool_state *st,
				    const char *reason, int64_t *when)
{
	char final[SPOOL_ID_MAX + 16];
	bool notice = job ? job->notice : is_notice_id(id);
	int rc;

	if (!notice)
		send_notice(d, id, NOTICE_SUFFIX, "was not delivered", job, st,
			    reason);
	rc = spool_reason_save(d->sp, SPOOL_OUTBOX, id, reason);
	if (rc == 0 || rc == -ENOTDIR) /* a stray file has no folder */
		rc = spool_move(d->sp, id, SPOOL_FAILED, true, final);
	if (rc < 0) {
		log_errno(LOG_ERR, "mailer", -rc,
			  "cannot move job %s to failed/ (%s)", id, reason);
		*when = now_real_ms() + (int64_t)d->conf->retry_first * 1000;
		return DELIVER_LATER;
	}
	d->failed++;
	log_msg(LOG_ERR, "mailer",
		"delivery failed, job %s: %s; moved to failed/%s", final,
		reason,
		notice || !d->conf->smtp_admin ? "" : ", admin notified");
	return DELIVER_DONE;
}

static enum deliver_status defer_job(struct deliver *d, const char *id,
				     const struct spool_job *job,
				     struct spool_state *st, const char *error,
				     bool hold, int64_t *when)
{
	const struct conf *c = d->conf;
	int64_t now = time(NULL), next;
	struct strbuf why = STRBUF_INIT;
	enum deliver_status status;
	int rc;

	if (now - st->first_seen >= c->max_age) {
		strbuf_addf(&why, "gave up after %u attempts in %lld s: %s",
			    st->attempts, (long long)(now - st->first_seen),
			    error);
		status = fail_job(d, id, job, st, why.buf, when);
		strbuf_release(&why);
		return status;
	}
	next = now + deliver_backoff(c, st->attempts);
	if (next > st->first_seen + c->max_age)
		next = st->first_seen + c->max_age;
	free(st->last_error);
	st->last_error = xstrdup(error);
	st->next_attempt = next;
	rc = spool_state_save(d->sp, SPOOL_OUTBOX, id, st);
	if (rc < 0)
		log_errno(LOG_ERR, "mailer", -rc,
			  "cannot write the state of job %s", id);
	*when = next * 1000;
	if (hold)
		d->hold_until = *when;
	d->deferred++;
	log_msg(LOG_WARNING, "mailer",
		"delivery deferred, job %s: %s; next attempt in %lld s", id,
		error, (long long)(next - now));
	return DELIVER_LATER;
}

static enum deliver_status sent_job(struct deliver *d, const char *id,
				    const struct spool_job *job,
				    const struct spool_state *st,
				    const struct smtp_result *res,
				    unsigned nrcpt, int64_t *when)
{
	char final[SPOOL_ID_MAX + 16];
	int rc;

	/* no fsync: losing this rename in a power cut means one resend */
	rc = spool_move(d->sp, id, SPOOL_SENT, false, final);
	if (rc < 0) {
		log_errno(LOG_ERR, "mailer", -rc,
			  "job %s was sent but cannot be moved to sent/", id);
		*when = now_real_ms() + (int64_t)d->conf->retry_max * 1000;
		return DELIVER_LATER;
	}
	d->sent++;
	log_msg(LOG_INFO, "mailer", "sent job %s to %u recipient%s as %s: %s",
		final, nrcpt, nrcpt == 1 ? "" : "s", st->message_id, res->text);
	if (res->rejected[0]) {
		log_msg(LOG_WARNING, "mailer",
			"job %s: some recipients were refused: %s", final,
			res->rejected);
		if (!job->notice)
			send_notice(d, final, REJECTED_SUFFIX,
				    "reached only some recipients", job, st,
				    res->rejected);
	}
	return DELIVER_DONE;
}

/* Stopped halfway by SIGTERM: due again at once, at the next start. */
static enum deliver_status stopped_job(struct deliver *d, const char *id,
				       struct spool_state *st, int64_t *when)
{
	st->next_attempt = time(NULL);
	spool_state_save(d->sp, SPOOL_OUTBOX, id, st);
	*when = st->next_attempt * 1000;
	log_msg(LOG_NOTICE, "mailer",
		"job %s: sending stopped, kept in outbox/", id);
	return DELIVER_LATER;
}

/* ---- one attempt ---- */

/* A folder with no job.ini: still being written, or abandoned. */
static enum deliver_status incomplete_job(struct deliver *d, const char *id,
					  int64_t *when)
{
	int64_t age = spool_age(d->sp, SPOOL_OUTBOX, id);
	char reason[128];

	if (age < 0)
		return DELIVER_DONE; /* gone meanwhile */
	if (age < DELIVER_INCOMPLETE_GRACE) {
		*when = now_real_ms() + (DELIVER_INCOMPLETE_GRACE - age) * 1000;
		return DELIVER_LATER;
	}
	snprintf(reason, sizeof(reason),
		 "no %s after %d s: an incomplete job folder", SPOOL_JOB_FILE,
		 DELIVER_INCOMPLETE_GRACE);
	return fail_job(d, id, NULL, NULL, reason, when);
}

/* Loads and checks the job; anything but 0 has been dealt with. */
static int load_job(struct deliver *d, const char *id, struct spool_job *job,
		    struct spool_state *st, enum deliver_status *status,
		    int64_t *when)
{
	struct strbuf err = STRBUF_INIT;
	uint64_t total = 0;
	int rc;

	rc = spool_job_load(d->sp, SPOOL_OUTBOX, id, job, &err);
	if (rc == 0)
		rc = spool_job_files(d->sp, SPOOL_OUTBOX, job, mime_wire_size,
				     &total, &err);
	if (rc == 0 && d->conf->max_size && total > d->conf->max_size) {
		strbuf_addf(&err,
			    "the message would take %llu bytes, over max_size "
			    "(%llu)",
			    (unsigned long long)total,
			    (unsigned long long)d->conf->max_size);
		rc = -EINVAL;
	}
	if (rc == -ENOENT)
		*status = incomplete_job(d, id, when);
	else if (rc == -EINVAL)
		*status =
		    fail_job(d, id, job->id ? job : NULL, st, err.buf, when);
	else if (rc < 0)
		*status =
		    defer_job(d, id, NULL, st, strerror(-rc), false, when);
	strbuf_release(&err);
	return rc;
}

/* Gives the job its Message-ID and counts the attempt, durably. */
static int begin_attempt(struct deliver *d, const char *id,
			 struct spool_state *st)
{
	if (!st->message_id) {
		struct strbuf sb = STRBUF_INIT;

		if (mime_make_message_id(&sb, id, d->from.v[0].email) < 0)
			return -ENOMEM;
		st->message_id = strbuf_detach(&sb);
		if (!st->message_id)
			return -ENOMEM;
	}
	st->attempts++;
	st->next_attempt = 0;
	return spool_state_save(d->sp, SPOOL_OUTBOX, id, st);
}

static enum deliver_status send_job(struct deliver *d, const char *id,
				    struct spool_job *job,
				    struct spool_state *st, int64_t *when)
{
	struct mime_input in = {
	    .sp = d->sp,
	    .job = job,
	    .from = &d->from.v[0],
	    .message_id = st->message_id,
	    .date = st->first_seen,
	    .mailer = "sapb1fs-mailer " PACKAGE_VERSION,
	};
	struct strbuf err = STRBUF_INIT;
	struct smtp_result res;
	struct mime_msg m;
	enum deliver_status status;
	int rc;

	rc = mime_build(&m, smtp_handle(d->smtp), &in, &err);
	if (rc == -EINVAL)
		status = fail_job(d, id, job, st, err.buf, when);
	else if (rc < 0)
		status =
		    defer_job(d, id, job, st, "out of memory", false, when);
	else if (smtp_send(d->smtp, &m, &res) == SMTP_SENT)
		status = sent_job(d, id, job, st, &res, m.nrcpt, when);
	else if (res.outcome == SMTP_FAIL)
		status = fail_job(d, id, job, st, res.text, when);
	else if (res.aborted)
		status = stopped_job(d, id, st, when);
	else
		status =
		    defer_job(d, id, job, st, res.text, res.link_problem, when);
	mime_free(&m);
	strbuf_release(&err);
	return status;
}

enum deliver_status deliver_job(struct deliver *d, const char *id,
				bool in_place, int64_t *when)
{
	struct spool_state st;
	struct spool_job job = {0};
	enum deliver_status status = DELIVER_DONE;
	char *reason = NULL;
	int rc;

	if (!spool_exists(d->sp, SPOOL_OUTBOX, id))
		return DELIVER_DONE;
	if (spool_state_load(d->sp, SPOOL_OUTBOX, id, &st) < 0 ||
	    st.first_seen == 0)
		st.first_seen = time(NULL);
	if (spool_reason_load(d->sp, SPOOL_OUTBOX, id, &reason) == 0) {
		status = fail_job(d, id, NULL, &st, reason, when);
		goto out_free_state;
	}
	if (in_place) {
		status = fail_job(d, id, NULL, &st,
				  "written in place in outbox/ instead of "
				  "renamed into it from tmp/",
				  when);
		goto out_free_state;
	}
	if (load_job(d, id, &job, &st, &status, when) < 0)
		goto out_free_job;
	if (d->hold_until > now_real_ms()) {
		*when = d->hold_until;
		status = DELIVER_LATER;
		goto out_free_job;
	}
	rc = begin_attempt(d, id, &st);
	if (rc < 0) {
		log_errno(LOG_ERR, "mailer", -rc,
			  "cannot write the state of job %s; not sending it",
			  id);
		*when = now_real_ms() + (int64_t)d->conf->retry_first * 1000;
		status = DELIVER_LATER;
		goto out_free_job;
	}
	status = send_job(d, id, &job, &st, when);
out_free_job:
	spool_job_free(&job);
out_free_state:
	free(reason);
	spool_state_free(&st);
	return status;
}
