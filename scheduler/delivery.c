/*
 * delivery: see delivery.h.
 *
 * Freshness: the mount gives a report file the start time of the run
 * behind its snapshot as mtime (and no attribute caching), so a file
 * opened after the touch whose mtime is older than the touch is the last
 * good snapshot served in place of a run that failed or timed out.
 */
#include "delivery.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "mailjob.h"
#include "util.h"

/* snprintf for messages: a long path may cut one, never overflow it. */

/*
 * The files a run makes: the listed formats and, for a report that
 * mails, the mount's "<name>.mail.html" body, kept in history with them.
 */
static unsigned delivery_formats(const struct delivery *d)
{
	return d->r->formats | (d->r->nmail ? 1u << FMT_MAIL : 0);
}

static void msgf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msgf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

#define FUSE_MAGIC 0x65735546

int delivery_init(struct delivery *d, const struct conf *conf,
		  const struct tz *zone, const struct report *r, int64_t when)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->conf = conf;
	d->zone = zone;
	d->r = r;
	d->when = when;
	history_stamp(d->stamp, sizeof(d->stamp), zone, when);
	rc = history_dir(d->dir, sizeof(d->dir), conf->state_dir, r->name);
	if (rc < 0)
		msgf(d->err, sizeof(d->err),
		     "cannot create the history folder %s: %s", d->dir,
		     strerror(-rc));
	return rc;
}

static void report_path(const struct delivery *d, const char *file, char *buf,
			size_t size)
{
	msgf(buf, size, "%s/reports/%s/%s", d->conf->mount_path, d->r->name,
	     file);
}

static void format_path(const struct delivery *d, int fmt, char *buf,
			size_t size)
{
	char file[REPORT_NAME_MAX + 8];

	snprintf(file, sizeof(file), "%s.%s", d->r->name, render_fmt_ext(fmt));
	report_path(d, file, buf, size);
}

/* A hint when the mount is not there: the commonest cause. */
static const char *mount_hint(const struct delivery *d)
{
	struct statfs sf;

	if (statfs(d->conf->mount_path, &sf) == 0 && sf.f_type == FUSE_MAGIC)
		return "";
	return " (is sapb1fs mounted there?)";
}

/* The fs's last-error.txt, on one line, or "" when there is none. */
static void last_error(const struct delivery *d, char *buf, size_t size)
{
	char path[PATH_MAX], *text;
	size_t n;

	buf[0] = '\0';
	report_path(d, "last-error.txt", path, sizeof(path));
	if (file_read_all(path, &text, &n) < 0)
		return;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	msgf(buf, size, "%s", text);
	free(text);
}

/*
 * mtimes are whole seconds: a touch in the second the current snapshot
 * started could not tell a new run from it, so it waits for the next.
 */
static time_t touch_time(const struct delivery *d)
{
	time_t newest = 0, now = time(NULL);
	char path[PATH_MAX];
	struct stat st;

	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(delivery_formats(d) & (1u << f)))
			continue;
		format_path(d, f, path, sizeof(path));
		if (stat(path, &st) == 0 && st.st_mtime > newest)
			newest = st.st_mtime;
	}
	while (now <= newest) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000000L - ts.tv_nsec; /* to the next second */
		nanosleep(&ts, NULL);
		now = time(NULL);
	}
	return now;
}

static int touch_all(struct delivery *d, time_t *touched)
{
	char path[PATH_MAX];

	*touched = touch_time(d);
	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(delivery_formats(d) & (1u << f)))
			continue;
		format_path(d, f, path, sizeof(path));
		if (utimensat(AT_FDCWD, path, NULL, 0) < 0) {
			msgf(d->err, sizeof(d->err), "cannot touch %s: %s%s",
			     path, strerror(errno), mount_hint(d));
			return -1;
		}
	}
	return 0;
}

/* Opens format @f and checks it comes from a run after @touched. */
static int open_fresh(struct delivery *d, int f, time_t touched)
{
	char path[PATH_MAX], why[1024];
	struct stat st;
	int fd;

	format_path(d, f, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		last_error(d, why, sizeof(why));
		msgf(d->err, sizeof(d->err), "cannot read %s: %s%s%s", path,
		     strerror(err), why[0] ? ": " : mount_hint(d), why);
		return -1;
	}
	if (fstat(fd, &st) == 0 && st.st_mtime >= touched)
		return fd;
	close(fd);
	last_error(d, why, sizeof(why));
	if (why[0])
		msgf(d->err, sizeof(d->err),
		     "the run of %s failed (the mount still serves its last "
		     "good snapshot): %s",
		     d->r->name, why);
	else
		msgf(d->err, sizeof(d->err),
		     "the run of %s did not finish within the source's timeout "
		     "(the mount still serves its last good snapshot)",
		     d->r->name);
	return -1;
}

static int copy_all(struct delivery *d, time_t touched,
		    struct history_file *files, size_t *n)
{
	char name[HISTORY_STAMP_LEN + 16], why[1024];

	*n = 0;
	for (int f = 0; f < FMT_COUNT; f++) {
		int fd, rc;

		if (!(delivery_formats(d) & (1u << f)))
			continue;
		fd = open_fresh(d, f, touched);
		if (fd < 0)
			return -1;
		snprintf(name, sizeof(name), "%s.%s", d->stamp,
			 render_fmt_ext(f));
		rc = history_copy(&files[*n], d->dir, name, fd, why,
				  sizeof(why));
		close(fd);
		if (rc < 0) {
			msgf(d->err, sizeof(d->err), "%s.%s: %s", d->r->name,
			     render_fmt_ext(f), why);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

static void history_file_of(const struct delivery *d, int f, char *buf,
			    size_t size)
{
	msgf(buf, size, "%s/%s.%s", d->dir, d->stamp, render_fmt_ext(f));
}

static int queue_mail(struct delivery *d)
{
	char paths[FMT_COUNT][PATH_MAX], date[16];
	const char *files[FMT_COUNT] = {0};
	const char *body = NULL;
	struct tm tm;

	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(delivery_formats(d) & (1u << f)))
			continue;
		history_file_of(d, f, paths[f], sizeof(paths[f]));
		files[f] = paths[f];
	}
	/* The mount renders a mail body, cut at MAIL_BODY_ROWS rows. */
	if (files[FMT_MAIL])
		body = files[FMT_MAIL];
	else if (d->r->formats & (1u << FMT_HTML))
		body = files[FMT_HTML];
	tz_localtime(d->zone, d->when, &tm);
	msgf(date, sizeof(date), "%02d.%02d.%04d", tm.tm_mday, tm.tm_mon + 1,
	     tm.tm_year + 1900);
	if (mailjob_report(d->conf->spool_dir, d->r, date, body, files, d->err,
			   sizeof(d->err)) < 0)
		return -1;
	d->mailed = true;
	return 0;
}

int delivery_attempt(struct delivery *d)
{
	struct history_file files[FMT_COUNT];
	time_t touched;
	size_t n = 0;
	int rc;

	d->err[0] = d->warn[0] = '\0';
	d->copied = 0;
	d->mailed = false;
	if (touch_all(d, &touched) < 0)
		return -1;
	if (copy_all(d, touched, files, &n) < 0) {
		history_discard(files, n);
		return -1;
	}
	rc = history_commit(files, n, d->dir);
	if (rc < 0) {
		msgf(d->err, sizeof(d->err), "cannot save the copies in %s: %s",
		     d->dir, strerror(-rc));
		return -1;
	}
	d->copied = (unsigned)n;
	rc = history_prune(d->dir, d->conf->history_keep);
	if (rc < 0)
		msgf(d->warn, sizeof(d->warn),
		     "cannot prune the history folder %s: %s", d->dir,
		     strerror(-rc));
	if (d->r->nmail && queue_mail(d) < 0)
		return -1;
	return 0;
}
