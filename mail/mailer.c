/*
 * sapb1fs-mailer: watches the spool's outbox/ and delivers its jobs.
 *
 * One thread.  The loop sleeps in poll() on an inotify descriptor for
 * outbox/ (a job renamed in wakes it at once) and a signalfd (SIGTERM,
 * SIGINT: stop after the current step; SIGHUP: rescan), with a timeout
 * that is the earliest of the next due job and the next rescan.  The
 * rescan, every RESCAN_INTERVAL and after an inotify overflow, is the
 * safety net for events missed; start-up begins with one.
 *
 * The other modes are short: --once delivers what is waiting and exits,
 * --queue lists, --requeue puts a failed job back, --enqueue writes one.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conf.h"
#include "deliver.h"
#include "enqueue.h"
#include "log.h"
#include "queue.h"
#include "smtp.h"
#include "spool.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define RESCAN_INTERVAL 60 /* seconds between safety-net rescans */
#define IDLE_QUIT 30	   /* seconds a quiet connection stays open */
#define TMP_MAX_AGE 129600 /* 36 h: what a crashed writer left in tmp/ */
#define EXIT_USAGE 2
#define EXIT_DEFERRED 75 /* sysexits' EX_TEMPFAIL: --once left some */

enum mode { MODE_DAEMON, MODE_ONCE, MODE_QUEUE, MODE_REQUEUE, MODE_ENQUEUE };

struct options {
	const char *config;
	enum mode mode;
	bool foreground;
	bool debug;
	const char *requeue_id;
	struct enqueue_args job;
};

struct mailer {
	struct conf *conf;
	struct spool sp;
	struct smtp *smtp;
	struct deliver d;
	struct queue q;
	int ino_fd;
	int sig_fd;
	int lock_fd;
	bool stop;
	bool rescan;
	int64_t next_rescan; /* realtime ms */
};

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: sapb1fs-mailer [--config PATH] [-f] [-d]\n"
		   "       sapb1fs-mailer [--config PATH] --once | --queue\n"
		   "       sapb1fs-mailer [--config PATH] --requeue ID\n"
		   "       sapb1fs-mailer [--config PATH] --enqueue --to ADDR "
		   "--subject TEXT\n"
		   "                      [--body FILE.html] [--text FILE] "
		   "[--attach FILE...]\n"
		   "                      [--cc ADDR] [--bcc ADDR] "
		   "[--reply-to ADDR] [--id ID]\n"
		   "see sapb1fs-mailer(8)\n");
}

static int push_arg(struct spool_strv *v, char *arg)
{
	char **nv = realloc(v->v, (v->n + 1) * sizeof(*nv));

	if (!nv)
		return -1;
	v->v = nv;
	v->v[v->n++] = arg;
	return 0;
}

enum {
	OPT_ONCE = 256,
	OPT_QUEUE,
	OPT_REQUEUE,
	OPT_ENQUEUE,
	OPT_TO,
	OPT_CC,
	OPT_BCC,
	OPT_REPLY_TO,
	OPT_BODY,
	OPT_TEXT,
	OPT_ID,
};

static const struct option long_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"foreground", no_argument, NULL, 'f'},
    {"debug", no_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"once", no_argument, NULL, OPT_ONCE},
    {"queue", no_argument, NULL, OPT_QUEUE},
    {"requeue", required_argument, NULL, OPT_REQUEUE},
    {"enqueue", no_argument, NULL, OPT_ENQUEUE},
    {"to", required_argument, NULL, OPT_TO},
    {"cc", required_argument, NULL, OPT_CC},
    {"bcc", required_argument, NULL, OPT_BCC},
    {"reply-to", required_argument, NULL, OPT_REPLY_TO},
    {"subject", required_argument, NULL, 's'},
    {"body", required_argument, NULL, OPT_BODY},
    {"text", required_argument, NULL, OPT_TEXT},
    {"attach", required_argument, NULL, 'a'},
    {"id", required_argument, NULL, OPT_ID},
    {NULL, 0, NULL, 0},
};

/* Handles one option; -1 on a usage error. */
static int take_option(struct options *o, int opt, bool *job_opts)
{
	struct enqueue_args *j = &o->job;
	int rc = 0;

	*job_opts = true;
	switch (opt) {
	case OPT_TO:
		rc = push_arg(&j->to, optarg);
		break;
	case OPT_CC:
		rc = push_arg(&j->cc, optarg);
		break;
	case OPT_BCC:
		rc = push_arg(&j->bcc, optarg);
		break;
	case OPT_REPLY_TO:
		rc = push_arg(&j->reply_to, optarg);
		break;
	case 'a':
		rc = push_arg(&j->attach, optarg);
		break;
	case 's':
		j->subject = optarg;
		break;
	case OPT_BODY:
		j->body_path = optarg;
		break;
	case OPT_TEXT:
		j->text_path = optarg;
		break;
	case OPT_ID:
		j->id = optarg;
		break;
	default:
		usage(stderr);
		return -1;
	}
	return rc;
}

static int set_mode(struct options *o, enum mode mode)
{
	if (o->mode != MODE_DAEMON && o->mode != mode) {
		fprintf(stderr, "sapb1fs-mailer: --once, --queue, --requeue "
				"and --enqueue exclude each other\n");
		return -1;
	}
	o->mode = mode;
	return 0;
}

static int parse_options(struct options *o, int argc, char **argv)
{
	bool job_opts = false;
	int opt, rc = 0;

	o->config = CONF_DEFAULT_PATH;
	while (rc == 0 && (opt = getopt_long(argc, argv, "c:fdhVs:a:",
					     long_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("sapb1fs-mailer %s\n", PACKAGE_VERSION);
			exit(0);
		case OPT_ONCE:
			rc = set_mode(o, MODE_ONCE);
			break;
		case OPT_QUEUE:
			rc = set_mode(o, MODE_QUEUE);
			break;
		case OPT_REQUEUE:
			o->requeue_id = optarg;
			rc = set_mode(o, MODE_REQUEUE);
			break;
		case OPT_ENQUEUE:
			rc = set_mode(o, MODE_ENQUEUE);
			break;
		default:
			rc = take_option(o, opt, &job_opts);
		}
	}
	/* "--attach a.xlsx b.csv": the files after the first are operands */
	for (; rc == 0 && optind < argc; optind++)
		rc = push_arg(&o->job.attach, argv[optind]);
	if (rc == 0 && (job_opts || o->job.attach.n) &&
	    o->mode != MODE_ENQUEUE) {
		fprintf(stderr, "sapb1fs-mailer: mail options and file names "
				"need --enqueue\n");
		rc = -1;
	}
	return rc;
}

/* ---- set-up ---- */

static int load_config(struct mailer *m, const char *path)
{
	struct diag dg = {0};
	int rc = conf_load(path, &m->conf, &dg);

	for (size_t i = 0; i < dg.n; i++)
		log_msg(rc < 0 ? LOG_ERR : LOG_WARNING, "conf", "%s",
			dg.msgs[i]);
	diag_free(&dg);
	if (rc < 0) {
		log_msg(LOG_ERR, "mailer", "cannot start, %s has errors", path);
		return -1;
	}
	if (m->conf->timezone && *m->conf->timezone) {
		setenv("TZ", m->conf->timezone, 1);
		tzset();
	}
	return 0;
}

static int open_spool(struct mailer *m, bool create)
{
	int rc = spool_open(&m->sp, m->conf->spool_dir, create);

	if (rc < 0) {
		log_errno(LOG_ERR, "mailer", -rc, "cannot open the spool %s",
			  m->conf->spool_dir);
		return -1;
	}
	return 0;
}

/* One mailer per spool: two would send every job twice. */
static int lock_spool(struct mailer *m)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/.lock", m->sp.dir);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (m->lock_fd < 0) {
		log_errno(LOG_ERR, "mailer", errno, "cannot open %s", path);
		return -1;
	}
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		log_msg(LOG_ERR, "mailer",
			"cannot lock the spool %s: another sapb1fs-mailer "
			"is delivering from it",
			m->sp.dir);
		return -1;
	}
	return 0;
}

static int open_signals(struct mailer *m)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	m->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return m->sig_fd < 0 ? -1 : 0;
}

static int open_inotify(struct mailer *m)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/outbox", m->sp.dir);
	m->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->ino_fd < 0 ||
	    inotify_add_watch(m->ino_fd, path, IN_MOVED_TO | IN_CREATE) < 0) {
		log_errno(LOG_ERR, "mailer", errno, "cannot watch %s", path);
		return -1;
	}
	return 0;
}

static int setup_delivery(struct mailer *m)
{
	char err[512];
	int rc;

	rc = smtp_open(&m->smtp, m->conf, err, sizeof(err));
	if (rc == 0)
		rc = deliver_init(&m->d, m->conf, &m->sp, m->smtp, err,
				  sizeof(err));
	if (rc < 0) {
		log_msg(LOG_ERR, "mailer", "cannot deliver: %s",
			rc == -ENOMEM ? "out of memory" : err);
		return -1;
	}
	if (!m->conf->smtp_tls &&
	    strncasecmp(m->conf->smtp_url, "smtp://", 7) == 0)
		log_msg(LOG_NOTICE, "mailer",
			"tls = no: mail goes to %s without encryption",
			m->conf->smtp_url);
	return 0;
}

/* ---- events ---- */

/* Reads pending signals; true when a stop was asked for. */
static bool read_signals(struct mailer *m)
{
	struct signalfd_siginfo si;

	while (read(m->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			m->rescan = true;
			continue;
		}
		if (!m->stop)
			log_msg(LOG_NOTICE, "mailer", "stopping on %s",
				strsignal((int)si.ssi_signo));
		m->stop = true;
	}
	return m->stop;
}

static bool stop_requested(void *arg)
{
	return read_signals(arg);
}

static void on_event(struct mailer *m, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		m->rescan = true;
		return;
	}
	if (!ev->len || ev->name[0] == '.')
		return;
	/* a folder made inside outbox/ is being written in place */
	if (queue_add(&m->q, ev->name, now_real_ms(),
		      (ev->mask & IN_CREATE) != 0) < 0)
		m->rescan = true;
}

static void read_inotify(struct mailer *m)
{
	char buf[65536]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(m->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			on_event(m, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* Adds every job of outbox/ not queued yet, due as its sidecar says. */
static void scan_outbox(struct mailer *m, bool due_now)
{
	struct spool_strv ids;
	int rc;

	m->rescan = false;
	m->next_rescan = now_real_ms() + RESCAN_INTERVAL * 1000;
	rc = spool_list(&m->sp, SPOOL_OUTBOX, &ids);
	if (rc < 0) {
		log_errno(LOG_ERR, "mailer", -rc, "cannot list %s/outbox",
			  m->sp.dir);
		return;
	}
	for (size_t i = 0; i < ids.n; i++) {
		if (queue_find(&m->q, ids.v[i]))
			continue;
		queue_add(&m->q, ids.v[i],
			  due_now ? 0 : deliver_due(&m->d, ids.v[i]), false);
	}
	spool_strv_free(&ids);
	spool_tmp_clean(&m->sp, TMP_MAX_AGE);
}

/* ---- the loop ---- */

static void run_entry(struct mailer *m, struct queue_entry *e)
{
	char *id = xstrdup(e->id);
	int64_t when = 0;

	if (!id)
		return;
	if (deliver_job(&m->d, id, e->in_place, &when) == DELIVER_DONE) {
		queue_remove(&m->q, id);
	} else {
		e = queue_find(&m->q, id);
		if (e) {
			e->due = when;
			e->in_place = false;
		}
	}
	free(id);
}

static int poll_timeout(struct mailer *m, const struct queue_entry *next)
{
	int64_t now = now_real_ms(), until = m->next_rescan;

	if (next && next->due < until)
		until = next->due;
	if (until <= now)
		return 0;
	if (until - now > IDLE_QUIT * 1000)
		until = now + IDLE_QUIT * 1000;
	return (int)(until - now);
}

static void wait_events(struct mailer *m, int timeout)
{
	struct pollfd fds[2] = {
	    {.fd = m->ino_fd, .events = POLLIN},
	    {.fd = m->sig_fd, .events = POLLIN},
	};

	if (poll(fds, 2, timeout) < 0 && errno != EINTR)
		log_errno(LOG_ERR, "mailer", errno, "poll failed");
	read_signals(m);
	read_inotify(m);
	if (timeout > 0)
		smtp_idle(m->smtp, IDLE_QUIT);
}

static int run_daemon(struct mailer *m)
{
	scan_outbox(m, false);
	log_msg(LOG_INFO, "mailer", "watching %s/outbox, %zu jobs waiting",
		m->sp.dir, m->q.n);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
	while (!read_signals(m)) {
		struct queue_entry *next;

		read_inotify(m);
		if (m->rescan || now_real_ms() >= m->next_rescan)
			scan_outbox(m, false);
		next = queue_next(&m->q);
		if (next && next->due <= now_real_ms()) {
			run_entry(m, next);
			continue;
		}
		wait_events(m, poll_timeout(m, next));
	}
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	return 0;
}

/*
 * Every waiting job once, deferred ones included (a queue flush), then
 * whatever appeared meanwhile, such as the admin notices of failures.
 */
static int run_once(struct mailer *m)
{
	struct queue_entry *next;
	size_t before;

	do {
		int64_t start = now_real_ms();

		while (!read_signals(m) && (next = queue_next(&m->q)) &&
		       next->due <= start)
			run_entry(m, next);
		before = m->q.n;
		scan_outbox(m, true);
	} while (!m->stop && m->q.n > before);
	log_msg(LOG_INFO, "mailer", "%u sent, %u failed, %zu still waiting",
		m->d.sent, m->d.failed, m->q.n);
	return m->q.n ? EXIT_DEFERRED : 0;
}

/* ---- --queue, --requeue, --enqueue ---- */

static void print_time(const char *label, int64_t t)
{
	char buf[64] = "-";
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > 0) {
		localtime_r(&tt, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	}
	printf("  %s %s", label, buf);
}

static void print_job(struct mailer *m, enum spool_box box, const char *id)
{
	struct strbuf err = STRBUF_INIT;
	struct spool_state st;
	struct spool_job job;
	char *reason = NULL;

	printf("%-8s %s\n", box == SPOOL_OUTBOX ? "waiting" : "failed", id);
	if (spool_job_load(&m->sp, box, id, &job, &err) == 0) {
		printf("  to %s%s\n  subject %s\n",
		       job.to.n	  ? job.to.v[0]
		       : job.cc.n ? job.cc.v[0]
				  : "-",
		       job.to.n + job.cc.n + job.bcc.n > 1 ? ", ..." : "",
		       job.subject);
		spool_job_free(&job);
	}
	if (spool_state_load(&m->sp, box, id, &st) == 0) {
		printf("  attempts %u", st.attempts);
		print_time("first", st.first_seen);
		if (box == SPOOL_OUTBOX)
			print_time("next", st.next_attempt);
		printf("\n");
		if (st.last_error && box == SPOOL_OUTBOX)
			printf("  last error: %s\n", st.last_error);
		spool_state_free(&st);
	}
	if (box == SPOOL_FAILED &&
	    spool_reason_load(&m->sp, box, id, &reason) == 0)
		printf("  reason: %s\n", reason);
	free(reason);
	strbuf_release(&err);
}

static int list_queue(struct mailer *m)
{
	static const enum spool_box boxes[] = {SPOOL_OUTBOX, SPOOL_FAILED};
	size_t count[2] = {0, 0};

	for (size_t b = 0; b < 2; b++) {
		struct spool_strv ids;
		int rc = spool_list(&m->sp, boxes[b], &ids);

		if (rc < 0) {
			log_errno(LOG_ERR, "mailer", -rc, "cannot list %s/%s",
				  m->sp.dir, spool_box_name(boxes[b]));
			return 1;
		}
		for (size_t i = 0; i < ids.n; i++)
			print_job(m, boxes[b], ids.v[i]);
		count[b] = ids.n;
		spool_strv_free(&ids);
	}
	printf("%zu waiting, %zu failed\n", count[0], count[1]);
	return 0;
}

static int requeue(struct mailer *m, const char *id)
{
	int rc = spool_requeue(&m->sp, id);

	if (rc < 0) {
		log_errno(LOG_ERR, "mailer", -rc, "cannot requeue failed/%s",
			  id);
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

static int enqueue(struct mailer *m, struct enqueue_args *a)
{
	struct strbuf err = STRBUF_INIT;
	char id[SPOOL_ID_MAX + 1];
	int rc;

	a->max_size = m->conf->max_size;
	if (!a->body_path && !a->text_path && isatty(0)) {
		log_msg(LOG_ERR, "mailer",
			"no body: give --body or --text, "
			"or the text on standard input");
		return EXIT_USAGE;
	}
	if (!a->body_path && !a->text_path)
		a->text_path = "-";
	rc = enqueue_job(&m->sp, a, id, &err);
	if (rc < 0) {
		log_msg(LOG_ERR, "mailer", "cannot enqueue: %s",
			err.len ? err.buf : strerror(-rc));
		strbuf_release(&err);
		return rc == -EINVAL ? EXIT_USAGE : 1;
	}
	printf("%s\n", id);
	strbuf_release(&err);
	return 0;
}

/* ---- main ---- */

static int run_mode(struct mailer *m, struct options *o)
{
	switch (o->mode) {
	case MODE_QUEUE:
		return list_queue(m);
	case MODE_REQUEUE:
		return requeue(m, o->requeue_id);
	case MODE_ENQUEUE:
		return enqueue(m, &o->job);
	default:
		break;
	}
	if (open_signals(m) < 0 || setup_delivery(m) < 0)
		return 1;
	smtp_set_stop(m->smtp, stop_requested, m);
	if (o->mode == MODE_ONCE)
		return run_once(m);
	if (open_inotify(m) < 0)
		return 1;
	return run_daemon(m);
}

static void cleanup(struct mailer *m, struct options *o)
{
	deliver_fini(&m->d);
	smtp_close(m->smtp);
	queue_free(&m->q);
	if (m->ino_fd >= 0)
		close(m->ino_fd);
	if (m->sig_fd >= 0)
		close(m->sig_fd);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	spool_close(&m->sp);
	conf_free(m->conf);
	free(o->job.to.v);
	free(o->job.cc.v);
	free(o->job.bcc.v);
	free(o->job.reply_to.v);
	free(o->job.attach.v);
}

/* Detached unless asked not to, or started by systemd (which tracks
 * the process itself and reads its standard error). */
static bool stay_in_foreground(const struct options *o)
{
	return o->foreground || o->mode != MODE_DAEMON ||
	       getenv("INVOCATION_ID") || getenv("NOTIFY_SOCKET");
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct mailer m = {.ino_fd = -1, .sig_fd = -1, .lock_fd = -1};
	int status = 1;

	process_protect();

	log_init("sapb1fs-mailer", true);
	if (parse_options(&o, argc, argv) < 0)
		return EXIT_USAGE;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (load_config(&m, o.config) < 0)
		goto out;
	log_set_level(o.debug ? LOG_DEBUG : m.conf->log_level);
	if (open_spool(&m, o.mode != MODE_QUEUE) < 0)
		goto out;
	if ((o.mode == MODE_DAEMON || o.mode == MODE_ONCE) &&
	    lock_spool(&m) < 0)
		goto out;
	if (!stay_in_foreground(&o)) {
		if (daemon(0, 0) < 0) {
			log_errno(LOG_ERR, "mailer", errno, "cannot detach");
			goto out;
		}
		log_init("sapb1fs-mailer", false);
	}
	status = run_mode(&m, &o);
out:
	cleanup(&m, &o);
	curl_global_cleanup();
	return status;
}
