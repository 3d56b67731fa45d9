/*
 * timetable: see timetable.h.
 *
 * Threads: the main thread owns the timetable; a run gets its own thread
 * with a reference to the definition it started with, so a definition
 * changed or removed meanwhile does not pull it from under the run.  The
 * run thread only sets its done flag (under the lock) and pokes an
 * eventfd; the main thread joins it and plans again.  A report whose
 * run is still going when its next time comes skips that time.
 */
#include "timetable.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "job.h"
#include "log.h"
#include "report.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define SCHED_MAX_SLEEP_MS 60000
#define SCHED_LATE_MIN 300 /* seconds late a due run still starts */

/* A loaded definition, shared with the runs that use it. */
struct tt_def {
	struct report *r;
	unsigned refs; /* main thread only */
};

struct tt_run {
	struct timetable *s;
	struct tt_def *def;
	struct job job;
	pthread_t thread;
	bool done; /* under s->lock */
};

struct tt_entry {
	char name[REPORT_NAME_MAX + 1];
	struct tt_def *def;
	struct cron cron;
	int64_t next; /* when it is due next (unix seconds) */
	int64_t slot; /* the scheduled time that run stands for */
	struct tt_run *run;
	bool seen; /* in the latest read of reports_dir */
};

struct timetable {
	const struct conf *conf;
	const struct tz *zone;
	struct job_env env;
	struct tt_entry **v;
	size_t n;
	struct state state; /* as found at start-up: for catch-up */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop; /* under lock */
	int sig_fd, ino_fd, done_fd;
	int wd;		   /* reports_dir's inotify watch, -1: none */
	int64_t reload_at; /* realtime ms, 0: none pending */
	int64_t rescan_at;
	uint64_t problems; /* hash of the last problems logged */
};

/* --- definitions -------------------------------------------------------- */

static struct tt_def *def_new(struct report *r)
{
	struct tt_def *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->r = r;
	d->refs = 1;
	return d;
}

static void def_put(struct tt_def *d)
{
	if (d && --d->refs == 0) {
		report_free(d->r);
		free(d);
	}
}

static void local_time(const struct tz *z, int64_t t, char *buf, size_t size)
{
	struct tm tm;

	tz_localtime(z, t, &tm);
	snprintf(buf, size, "%04d-%02d-%02d %02d:%02d %s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_zone);
}

/* --- catch-up ----------------------------------------------------------- */

/* The latest scheduled time in (@from, @now], or 0. */
static int64_t latest_slot(const struct cron *c, const struct tz *z,
			   int64_t from, int64_t now)
{
	int64_t t, next, back = 60;

	/* find a recent window holding a slot, so a long catch_up over a
	 * frequent schedule does not walk every slot of it */
	while (now - back > from &&
	       (cron_next(c, z, now - back, &t) < 0 || t > now))
		back *= 4;
	if (now - back < from)
		back = now - from;
	if (cron_next(c, z, now - back, &t) < 0 || t > now)
		return 0;
	while (cron_next(c, z, t, &next) == 0 && next <= now)
		t = next;
	return t;
}

int64_t timetable_missed(const struct cron *c, const struct tz *zone,
			 const struct state_rec *rec, int64_t now,
			 int64_t catch_up)
{
	int64_t base, from;

	if (!rec || catch_up <= 0)
		return 0;
	base = rec->last_slot > rec->since ? rec->last_slot : rec->since;
	if (base <= 0)
		return 0;
	from = now - catch_up > base ? now - catch_up : base;
	return latest_slot(c, zone, from, now);
}

/* --- the timetable ------------------------------------------------------ */

static struct tt_entry *entry_find(struct timetable *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i]->name, name))
			return s->v[i];
	return NULL;
}

static void entry_plan_next(struct timetable *s, struct tt_entry *e,
			    int64_t after)
{
	if (cron_next(&e->cron, s->zone, after, &e->next) < 0)
		e->next = 0;
	e->slot = e->next;
}

static void edit_since(struct state_rec *rec, void *ctx)
{
	if (!rec->since)
		rec->since = *(const int64_t *)ctx;
}

/* A new entry's first plan: a missed run at start-up, else the next. */
static void entry_plan_first(struct timetable *s, struct tt_entry *e,
			     bool startup)
{
	const struct state_rec *rec = state_find(&s->state, e->name);
	int64_t now = time(NULL), missed = 0;
	char when[64];
	int rc;

	if (startup)
		missed = timetable_missed(&e->cron, s->zone, rec, now,
					  s->conf->catch_up);
	entry_plan_next(s, e, now);
	local_time(s->zone, e->next, when, sizeof(when));
	log_msg(LOG_INFO, "scheduler", "%s scheduled \"%s\", next run %s",
		e->name, e->def->r->schedule, when);
	if (missed) {
		local_time(s->zone, missed, when, sizeof(when));
		log_msg(LOG_NOTICE, "scheduler",
			"%s: the run of %s was missed while the scheduler was "
			"stopped, making it up now",
			e->name, when);
		e->next = now;
		e->slot = missed;
	}
	rc = state_update(s->conf->state_dir, e->name, edit_since, &now, NULL);
	if (rc < 0)
		log_errno(LOG_ERR, "scheduler", -rc,
			  "cannot record %s in %s/%s", e->name,
			  s->conf->state_dir, STATE_FILE);
}

static void entry_free(struct tt_entry *e)
{
	def_put(e->def);
	free(e);
}

static void entry_remove(struct timetable *s, size_t i)
{
	entry_free(s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

static int entry_add(struct timetable *s, struct tt_def *def,
		     const struct cron *c, bool startup)
{
	struct tt_entry *e = calloc(1, sizeof(*e)), **v;

	v = e ? realloc(s->v, (s->n + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(e);
		return -ENOMEM;
	}
	s->v = v;
	snprintf(e->name, sizeof(e->name), "%s", def->r->name);
	e->def = def;
	e->cron = *c;
	e->seen = true;
	s->v[s->n++] = e;
	entry_plan_first(s, e, startup);
	return 0;
}

/* A definition read again: a new schedule replans, anything else only
 * replaces what the next run uses. */
static void entry_update(struct timetable *s, struct tt_entry *e,
			 struct tt_def *def, const struct cron *c)
{
	bool replan =
	    !e->next || strcmp(e->def->r->schedule, def->r->schedule) != 0;
	char when[64];

	def_put(e->def);
	e->def = def;
	e->seen = true;
	if (!replan)
		return;
	e->cron = *c;
	entry_plan_next(s, e, time(NULL));
	local_time(s->zone, e->next, when, sizeof(when));
	log_msg(LOG_INFO, "scheduler", "%s now scheduled \"%s\", next run %s",
		e->name, def->r->schedule, when);
}

/* Checks a scheduled definition; a problem goes into @msgs. */
static bool def_schedulable(struct report *r, struct cron *c,
			    struct strbuf *msgs)
{
	char err[256];

	if (cron_parse(c, r->schedule, err, sizeof(err)) < 0) {
		strbuf_addf(msgs, "%s:%d: %s; %s is not scheduled\n", r->path,
			    r->schedule_line, err, r->name);
		return false;
	}
	if (r->nparams) {
		strbuf_addf(msgs,
			    "%s:%d: a report with parameters cannot be "
			    "scheduled; %s is not\n",
			    r->path, r->schedule_line, r->name);
		return false;
	}
	return true;
}

/* Takes one definition read from reports_dir (or frees it). */
static void tt_take(struct timetable *s, struct report *r, bool startup,
		    struct strbuf *msgs)
{
	struct tt_entry *e = entry_find(s, r->name);
	struct tt_def *def;
	struct cron c;

	if (!r->schedule || (e && e->def->r->hash == r->hash)) {
		if (e)
			e->seen = true;
		report_free(r);
		return;
	}
	if (!def_schedulable(r, &c, msgs)) {
		report_free(r);
		return;
	}
	def = def_new(r);
	if (!def) {
		report_free(r);
		return;
	}
	if (e)
		entry_update(s, e, def, &c);
	else if (entry_add(s, def, &c, startup) < 0)
		def_put(def);
}

/* Logs the definitions' problems, once per distinct set of them. */
static void log_problems(struct timetable *s, const struct diag *d,
			 struct strbuf *msgs)
{
	char *save = NULL;
	uint64_t h;

	for (size_t i = 0; i < d->n; i++)
		strbuf_addf(msgs, "%s\n", d->msgs[i]);
	h = msgs->buf ? hash64(msgs->buf, msgs->len) : 0;
	if (h == s->problems)
		return;
	s->problems = h;
	if (!msgs->buf)
		return;
	for (char *line = strtok_r(msgs->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		log_msg(strstr(line, ": warning: ") ? LOG_WARNING : LOG_ERR,
			"scheduler", "%s", line);
}

/* Drops entries whose definition went; a running one waits its end. */
static void tt_drop_unseen(struct timetable *s)
{
	for (size_t i = s->n; i-- > 0;) {
		struct tt_entry *e = s->v[i];

		if (e->seen)
			continue;
		if (e->next)
			log_msg(LOG_INFO, "scheduler",
				"%s is no longer scheduled", e->name);
		e->next = 0;
		if (!e->run)
			entry_remove(s, i);
	}
}

static void tt_reload(struct timetable *s, bool startup)
{
	struct strbuf msgs = STRBUF_INIT;
	struct diag d = {0};
	struct report **defs = NULL;
	int n;

	n = report_load_dir(s->conf->reports_dir, &defs, &d);
	if (n < 0) {
		log_errno(LOG_ERR, "scheduler", -n,
			  "cannot read the definitions in %s, keeping the "
			  "timetable",
			  s->conf->reports_dir);
		diag_free(&d);
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		s->v[i]->seen = false;
	for (int i = 0; i < n; i++)
		tt_take(s, defs[i], startup, &msgs);
	free(defs);
	tt_drop_unseen(s);
	log_problems(s, &d, &msgs);
	strbuf_release(&msgs);
	diag_free(&d);
}

/* --- runs --------------------------------------------------------------- */

static bool tt_sleep(void *ctx, int seconds)
{
	struct timetable *s = ctx;
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&s->lock);
	while (!s->stop &&
	       pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
		;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return !stop;
}

static void *run_main(void *arg)
{
	struct tt_run *run = arg;
	struct timetable *s = run->s;
	uint64_t one = 1;

	job_run(&s->env, &run->job);
	pthread_mutex_lock(&s->lock);
	run->done = true;
	pthread_mutex_unlock(&s->lock);
	if (write(s->done_fd, &one, sizeof(one)) < 0)
		log_errno(LOG_ERR, "scheduler", errno, "cannot wake the loop");
	return NULL;
}

static void run_start(struct timetable *s, struct tt_entry *e)
{
	struct tt_run *run = calloc(1, sizeof(*run));
	int rc;

	if (!run) {
		log_msg(LOG_ERR, "scheduler", "cannot start %s: out of memory",
			e->name);
		return;
	}
	run->s = s;
	run->def = e->def;
	run->def->refs++;
	run->job.r = run->def->r;
	run->job.slot = e->slot;
	rc = pthread_create(&run->thread, NULL, run_main, run);
	if (rc != 0) {
		log_errno(LOG_ERR, "scheduler", rc, "cannot start %s", e->name);
		def_put(run->def);
		free(run);
		return;
	}
	e->run = run;
	log_msg(LOG_INFO, "scheduler", "%s: run started", e->name);
}

static void run_reap(struct tt_entry *e)
{
	struct tt_run *run = e->run;

	pthread_join(run->thread, NULL);
	if (run->job.status == JOB_BUSY)
		log_msg(LOG_WARNING, "scheduler",
			"%s: this run is skipped: %s (sapb1fs-scheduler "
			"--run-now?)",
			e->name, run->job.err);
	def_put(run->def);
	free(run);
	e->run = NULL;
}

static void tt_reap(struct timetable *s)
{
	uint64_t count;

	if (read(s->done_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_errno(LOG_ERR, "scheduler", errno, "cannot read eventfd");
	for (size_t i = s->n; i-- > 0;) {
		struct tt_entry *e = s->v[i];
		bool done;

		if (!e->run)
			continue;
		pthread_mutex_lock(&s->lock);
		done = e->run->done;
		pthread_mutex_unlock(&s->lock);
		if (!done)
			continue;
		run_reap(e);
		if (!e->seen)
			entry_remove(s, i);
	}
}

/* Starts what is due; a time whose previous run still goes is skipped. */
static void tt_due(struct timetable *s)
{
	int64_t now = time(NULL);
	int64_t late_max = s->conf->catch_up > SCHED_LATE_MIN
			       ? s->conf->catch_up
			       : SCHED_LATE_MIN;
	char when[64];

	for (size_t i = 0; i < s->n; i++) {
		struct tt_entry *e = s->v[i];

		if (!e->next || e->next > now)
			continue;
		local_time(s->zone, e->slot, when, sizeof(when));
		if (e->run)
			log_msg(LOG_WARNING, "scheduler",
				"%s: the run of %s is skipped: the previous "
				"run is still going",
				e->name, when);
		else if (now - e->next > late_max)
			log_msg(LOG_WARNING, "scheduler",
				"%s: the run of %s is skipped: %lld s late "
				"(was the machine asleep?)",
				e->name, when, (long long)(now - e->next));
		else
			run_start(s, e);
		entry_plan_next(s, e, now);
	}
}

/* --- the loop ----------------------------------------------------------- */

static int tt_watch(struct timetable *s)
{
	uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
			IN_DELETE | IN_CREATE | IN_ATTRIB | IN_DELETE_SELF |
			IN_MOVE_SELF | IN_ONLYDIR;

	s->wd = inotify_add_watch(s->ino_fd, s->conf->reports_dir, mask);
	if (s->wd < 0) {
		log_errno(LOG_WARNING, "scheduler", errno,
			  "cannot watch %s, re-reading it every %d s",
			  s->conf->reports_dir, TIMETABLE_RESCAN);
		return -1;
	}
	return 0;
}

/*
 * The folder itself went (deleted, or moved aside as when a deploy swaps
 * in a new one): the watch follows the old inode, so it is dropped and
 * the path watched again soon.
 */
static void tt_unwatch(struct timetable *s)
{
	if (s->wd >= 0)
		inotify_rm_watch(s->ino_fd, s->wd);
	s->wd = -1;
	s->rescan_at = now_real_ms() + 1000;
}

/* True for a name whose change can change a definition. */
static bool relevant(const struct inotify_event *ev)
{
	if (ev->mask &
	    (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
		return true;
	return ev->len && ev->name[0] != '.' &&
	       str_has_suffix(ev->name, ".sql");
}

static void tt_inotify(struct timetable *s)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(s->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (relevant(ev) && !s->reload_at)
				s->reload_at =
				    now_real_ms() + TIMETABLE_SETTLE_MS;
			if ((ev->mask &
			     (IN_IGNORED | IN_MOVE_SELF | IN_DELETE_SELF)) &&
			    ev->wd == s->wd)
				tt_unwatch(s);
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void tt_signal(struct timetable *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_msg(LOG_INFO, "scheduler",
				"SIGHUP: reading the definitions again");
			s->reload_at = now_real_ms();
			continue;
		}
		log_msg(LOG_INFO, "scheduler", "stopping on signal %u",
			si.ssi_signo);
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
}

static int tt_timeout(const struct timetable *s)
{
	int64_t now = now_real_ms(), wake = now + SCHED_MAX_SLEEP_MS;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i]->next && s->v[i]->next * 1000 < wake)
			wake = s->v[i]->next * 1000;
	if (s->reload_at && s->reload_at < wake)
		wake = s->reload_at;
	if (s->rescan_at < wake)
		wake = s->rescan_at;
	return wake > now ? (int)(wake - now) : 0;
}

static bool tt_stopping(struct timetable *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void tt_loop(struct timetable *s)
{
	struct pollfd fds[3] = {
	    {s->sig_fd, POLLIN, 0},
	    {s->ino_fd, POLLIN, 0},
	    {s->done_fd, POLLIN, 0},
	};

	while (!tt_stopping(s)) {
		if (poll(fds, 3, tt_timeout(s)) < 0 && errno != EINTR) {
			log_errno(LOG_ERR, "scheduler", errno, "poll failed");
			break;
		}
		if (fds[0].revents)
			tt_signal(s);
		if (fds[1].revents)
			tt_inotify(s);
		if (fds[2].revents)
			tt_reap(s);
		if (tt_stopping(s))
			break;
		if (now_real_ms() >= s->rescan_at) {
			if (s->wd < 0)
				tt_watch(s);
			s->rescan_at =
			    now_real_ms() +
			    (s->wd < 0 ? 10 : TIMETABLE_RESCAN) * 1000;
			s->reload_at = now_real_ms();
		}
		if (s->reload_at && now_real_ms() >= s->reload_at) {
			s->reload_at = 0;
			tt_reload(s, false);
		}
		tt_due(s);
	}
}

/* Waits for the runs still going (each bounded by its source timeout). */
static void tt_drain(struct timetable *s)
{
	size_t running = 0;

	for (size_t i = 0; i < s->n; i++)
		running += s->v[i]->run != NULL;
	if (running)
		log_msg(LOG_INFO, "scheduler",
			"waiting for %zu run%s to finish", running,
			running == 1 ? "" : "s");
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i]->run)
			run_reap(s->v[i]);
}

static int tt_open(struct timetable *s)
{
	pthread_condattr_t ca;
	sigset_t set;

	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* blocked before any thread starts, so all inherit it */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	s->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->sig_fd < 0 || s->ino_fd < 0 || s->done_fd < 0) {
		log_errno(LOG_ERR, "scheduler", errno,
			  "cannot set up signals, inotify and eventfd");
		return -1;
	}
	return 0;
}

static void tt_close(struct timetable *s)
{
	for (size_t i = 0; i < s->n; i++)
		entry_free(s->v[i]);
	free(s->v);
	state_free(&s->state);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	if (s->ino_fd >= 0)
		close(s->ino_fd);
	if (s->done_fd >= 0)
		close(s->done_fd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
}

int timetable_main(const struct conf *conf, const struct tz *zone,
		   int retry_delay)
{
	struct timetable s = {.conf = conf,
			      .zone = zone,
			      .sig_fd = -1,
			      .ino_fd = -1,
			      .done_fd = -1,
			      .wd = -1};
	int rc;

	s.env = (struct job_env){conf, zone, retry_delay, tt_sleep, &s};
	if (tt_open(&s) < 0) {
		tt_close(&s);
		return 1;
	}
	rc = state_load(conf->state_dir, &s.state);
	if (rc < 0)
		log_errno(LOG_WARNING, "scheduler", -rc,
			  "cannot read %s/%s, no missed run is made up",
			  conf->state_dir, STATE_FILE);
	tt_watch(&s);
	tt_reload(&s, true);
	s.rescan_at = now_real_ms() + TIMETABLE_RESCAN * 1000;
	log_msg(LOG_INFO, "scheduler",
		"running: %zu scheduled report%s, "
		"times in %s",
		s.n, s.n == 1 ? "" : "s", tz_name(zone));
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
	tt_loop(&s);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	tt_drain(&s);
	tt_close(&s);
	log_msg(LOG_INFO, "scheduler", "stopped");
	return 0;
}
