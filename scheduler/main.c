/*
 * sapb1fs-scheduler: runs reports on their schedule through the mount,
 * keeps copies in state_dir/history and queues their mail.
 *
 * The daemon (the default) holds state_dir/scheduler.lock so only one
 * runs per state_dir, and detaches unless -f or started by systemd.
 * --list prints the timetable; --run-now runs one report's delivery at
 * once and exits with its status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conf.h"
#include "cron.h"
#include "history.h"
#include "job.h"
#include "log.h"
#include "report.h"
#include "timetable.h"
#include "state.h"
#include "tz.h"

#define EXIT_USAGE 2
#define EXIT_BUSY 75 /* sysexits' EX_TEMPFAIL: a run of it is going */
#define RETRY_DELAY 30

enum mode { MODE_DAEMON, MODE_LIST, MODE_RUN_NOW };

struct options {
	const char *config;
	enum mode mode;
	const char *report;
	bool foreground;
	bool debug;
	int retry_delay;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sapb1fs-scheduler [--config PATH] [-f] [-d] "
		   "[--retry-delay SECONDS]\n"
		   "       sapb1fs-scheduler [--config PATH] --list\n"
		   "       sapb1fs-scheduler [--config PATH] --run-now REPORT\n"
		   "see sapb1fs-scheduler(8)\n");
}

enum { OPT_LIST = 256, OPT_RUN_NOW, OPT_RETRY_DELAY };

static const struct option long_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"foreground", no_argument, NULL, 'f'},
    {"debug", no_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"list", no_argument, NULL, OPT_LIST},
    {"run-now", required_argument, NULL, OPT_RUN_NOW},
    {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
    {NULL, 0, NULL, 0},
};

static int set_mode(struct options *o, enum mode mode)
{
	if (o->mode != MODE_DAEMON && o->mode != mode) {
		fprintf(stderr, "sapb1fs-scheduler: --list and --run-now "
				"exclude each other\n");
		return -1;
	}
	o->mode = mode;
	return 0;
}

static int parse_seconds(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 86400) {
		fprintf(stderr, "sapb1fs-scheduler: --retry-delay wants "
				"seconds from 1 to 86400\n");
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_options(struct options *o, int argc, char **argv)
{
	int opt, rc = 0;

	o->config = CONF_DEFAULT_PATH;
	o->retry_delay = RETRY_DELAY;
	while (rc == 0 && (opt = getopt_long(argc, argv, "c:fdhV", long_options,
					     NULL)) != -1) {
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
			printf("sapb1fs-scheduler %s\n", PACKAGE_VERSION);
			exit(0);
		case OPT_LIST:
			rc = set_mode(o, MODE_LIST);
			break;
		case OPT_RUN_NOW:
			o->report = optarg;
			rc = set_mode(o, MODE_RUN_NOW);
			break;
		case OPT_RETRY_DELAY:
			rc = parse_seconds(optarg, &o->retry_delay);
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (rc == 0 && optind < argc) {
		usage(stderr);
		return -1;
	}
	return rc;
}

/* --- set-up --------------------------------------------------------------- */

static struct conf *load_config(const char *path)
{
	struct diag dg = {0};
	struct conf *c = NULL;
	int rc = conf_load(path, &c, &dg);

	for (size_t i = 0; i < dg.n; i++)
		log_msg(rc < 0 ? LOG_ERR : LOG_WARNING, "conf", "%s",
			dg.msgs[i]);
	diag_free(&dg);
	if (rc < 0)
		log_msg(LOG_ERR, "scheduler", "cannot start, %s has errors",
			path);
	return rc < 0 ? NULL : c;
}

static struct tz *load_zone(const struct conf *c)
{
	char err[512];
	struct tz *z = tz_load(c->timezone, err, sizeof(err));

	if (!z)
		log_msg(LOG_ERR, "scheduler",
			"cannot use [global] timezone: %s", err);
	return z;
}

/* One scheduler per state_dir: two would run every report twice. */
static int lock_instance(const struct conf *c)
{
	char path[4096], pid[32];
	int fd, rc = mkdir_p(c->state_dir, 0755);

	if (rc < 0) {
		log_errno(LOG_ERR, "scheduler", -rc, "cannot create %s",
			  c->state_dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/scheduler.lock", c->state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_errno(LOG_ERR, "scheduler", errno, "cannot open %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_msg(LOG_ERR, "scheduler",
			"cannot lock %s: another sapb1fs-scheduler (pid %s) "
			"runs on this state_dir",
			path, pid[0] ? pid : "unknown");
		close(fd);
		return -1;
	}
	return fd;
}

static void write_pid(int fd)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) < 0)
		log_errno(LOG_WARNING, "scheduler", errno,
			  "cannot write the pid into scheduler.lock");
}

/* --- --list ------------------------------------------------------------- */

static void fmt_time(const struct tz *z, int64_t t, char *buf, size_t size)
{
	struct tm tm;

	if (t <= 0) {
		snprintf(buf, size, "-");
		return;
	}
	tz_localtime(z, t, &tm);
	snprintf(buf, size, "%04d-%02d-%02d %02d:%02d %s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_zone);
}

static void list_result(const struct conf *c, const struct report *r,
			const struct state_rec *rec, char *buf, size_t size)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/history/%s", c->state_dir, r->name);
	if (history_locked(dir))
		snprintf(buf, size, "running");
	else if (!rec || rec->result == STATE_NONE)
		snprintf(buf, size, "never");
	else if (rec->result == STATE_OK)
		snprintf(buf, size, "ok");
	else
		snprintf(buf, size, "failed: %s", rec->msg);
}

static void list_one(const struct conf *c, const struct tz *z,
		     const struct report *r, struct state *st, int wname,
		     int wsched)
{
	char next[64] = "-", last[64], result[STATE_MSG_MAX + 16], err[256];
	const struct state_rec *rec = state_find(st, r->name);
	struct cron cr;
	int64_t t;

	if (cron_parse(&cr, r->schedule, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s:%d: %s\n", r->path, r->schedule_line, err);
		snprintf(next, sizeof(next), "invalid schedule");
	} else if (r->nparams) {
		snprintf(next, sizeof(next), "has parameters");
	} else if (cron_next(&cr, z, time(NULL), &t) == 0) {
		fmt_time(z, t, next, sizeof(next));
	}
	fmt_time(z, rec ? rec->last_start : 0, last, sizeof(last));
	list_result(c, r, rec, result, sizeof(result));
	printf("%-*s  %-*s  %-22s  %-22s  %s\n", wname, r->name, wsched,
	       r->schedule, next, last, result);
}

static int list_reports(const struct conf *c, const struct tz *z)
{
	struct report **defs = NULL;
	struct diag d = {0};
	struct state st;
	int n, wname = 4, wsched = 8;

	n = report_load_dir(c->reports_dir, &defs, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	diag_free(&d);
	if (n < 0) {
		log_errno(LOG_ERR, "scheduler", -n, "cannot read %s",
			  c->reports_dir);
		return 1;
	}
	if (state_load(c->state_dir, &st) < 0)
		memset(&st, 0, sizeof(st));
	for (int i = 0; i < n; i++) {
		if (!defs[i]->schedule)
			continue;
		if ((int)strlen(defs[i]->name) > wname)
			wname = (int)strlen(defs[i]->name);
		if ((int)strlen(defs[i]->schedule) > wsched)
			wsched = (int)strlen(defs[i]->schedule);
	}
	printf("%-*s  %-*s  %-22s  %-22s  %s\n", wname, "NAME", wsched,
	       "SCHEDULE", "NEXT RUN", "LAST RUN", "RESULT");
	for (int i = 0; i < n; i++)
		if (defs[i]->schedule)
			list_one(c, z, defs[i], &st, wname, wsched);
	state_free(&st);
	report_free_all(defs, (size_t)n);
	return 0;
}

/* --- --run-now ---------------------------------------------------------- */

static bool no_sleep(void *ctx, int seconds)
{
	(void)ctx;
	(void)seconds;
	return false;
}

static struct report *find_report(const struct conf *c, const char *name)
{
	char path[4096];
	struct report *r = NULL;
	struct diag d = {0};

	if (!report_name_valid(name)) {
		log_msg(LOG_ERR, "scheduler", "\"%s\" is not a report name",
			name);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s.sql", c->reports_dir, name);
	if (access(path, F_OK) < 0) {
		log_errno(LOG_ERR, "scheduler", errno,
			  "no report %s: cannot find %s", name, path);
		return NULL;
	}
	if (report_load(path, &r, &d) < 0)
		r = NULL;
	for (size_t i = 0; i < d.n; i++)
		log_msg(r ? LOG_WARNING : LOG_ERR, "scheduler", "%s",
			d.msgs[i]);
	diag_free(&d);
	return r;
}

static int run_now(const struct conf *c, const struct tz *z, const char *name)
{
	struct job_env env = {c, z, 1, no_sleep, NULL};
	struct job j = {.manual = true};
	int rc;

	j.r = find_report(c, name);
	if (!j.r)
		return 1;
	rc = mkdir_p(c->state_dir, 0755);
	if (rc < 0) {
		log_errno(LOG_ERR, "scheduler", -rc, "cannot create %s",
			  c->state_dir);
		report_free((struct report *)j.r);
		return 1;
	}
	job_run(&env, &j);
	if (j.status == JOB_BUSY)
		log_msg(LOG_ERR, "scheduler", "cannot run %s now: %s", name,
			j.err);
	report_free((struct report *)j.r);
	return j.status == JOB_OK ? 0 : j.status == JOB_BUSY ? EXIT_BUSY : 1;
}

/* --- main --------------------------------------------------------------- */

/* Detached unless asked not to, or started by systemd (which tracks
 * the process itself and reads its standard error). */
static bool stay_in_foreground(const struct options *o)
{
	return o->foreground || getenv("INVOCATION_ID") ||
	       getenv("NOTIFY_SOCKET");
}

static int run_daemon(const struct options *o, const struct conf *c,
		      const struct tz *z)
{
	int lock = lock_instance(c), status;

	if (lock < 0)
		return 1;
	if (!stay_in_foreground(o)) {
		if (daemon(0, 0) < 0) {
			log_errno(LOG_ERR, "scheduler", errno, "cannot detach");
			close(lock);
			return 1;
		}
		log_init("sapb1fs-scheduler", false);
	}
	write_pid(lock);
	status = timetable_main(c, z, o->retry_delay);
	close(lock);
	return status;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct conf *c;
	struct tz *z = NULL;
	int status = 1;

	process_protect();

	log_init("sapb1fs-scheduler", true);
	if (parse_options(&o, argc, argv) < 0)
		return EXIT_USAGE;
	c = load_config(o.config);
	if (!c)
		return 1;
	log_set_level(o.debug ? LOG_DEBUG : c->log_level);
	z = load_zone(c);
	if (!z)
		goto out;
	switch (o.mode) {
	case MODE_LIST:
		status = list_reports(c, z);
		break;
	case MODE_RUN_NOW:
		status = run_now(c, z, o.report);
		break;
	default:
		status = run_daemon(&o, c, z);
	}
out:
	tz_free(z);
	conf_free(c);
	return status;
}
