/*
 * redis: see redis.h.
 *
 * Up, down and retries are one state for the whole process, not per
 * connection: the first failure marks Redis down and logs it; from then
 * on calls fail at once, except one attempt each time the backoff is
 * due, so while Redis is down or slow no caller waits on it more than
 * once per backoff.  The first success after that logs it is back.
 * An idle pooled connection is checked with a zero-time poll before it
 * is handed out: a server that restarted has closed it, and it is
 * dropped without a round trip or a false "down".
 */
#include "redis.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define RDS_RETRY_FIRST_MS 100
#define RDS_RETRY_MAX_MS 3000

struct rds_conn {
	struct rds_conn *next; /* in the idle list */
	redisContext *ctx;
	bool broken;
	bool pooled;
};

enum rds_state {
	RDS_UNKNOWN, /* never connected yet */
	RDS_UP,
	RDS_DOWN,
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed = PTHREAD_COND_INITIALIZER;
static bool configured;
static char *host, *path, *password, *display;
static int port = 6379, db, timeout_ms = 500;
static struct rds_conn *idle;
static int nconns; /* pooled connections alive, idle or lent */
static enum rds_state state;
static int64_t retry_at, backoff;
static int64_t latency_us = -1;
static uint64_t nerrors;
static char last_error[256];

/* --- the URL ------------------------------------------------------------ */

static int parse_db(const char *s, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 10000) {
		snprintf(err, errlen, "bad database number '%s'", s);
		return -EINVAL;
	}
	db = (int)v;
	return 0;
}

static int parse_unix(const char *rest, char *err, size_t errlen)
{
	const char *q = strchr(rest, '?');

	/* unix:/path and unix:///path are the same socket */
	if (!strncmp(rest, "//", 2))
		rest += 2;
	if (rest[0] != '/') {
		snprintf(err, errlen, "unix: needs an absolute socket path");
		return -EINVAL;
	}
	path = q ? xstrndup(rest, (size_t)(q - rest)) : xstrdup(rest);
	if (!path)
		return -ENOMEM;
	if (q && strncmp(q, "?db=", 4)) {
		snprintf(err, errlen, "unix: takes only ?db=N after the path");
		return -EINVAL;
	}
	return q ? parse_db(q + 4, err, errlen) : 0;
}

/* "[:password@]host[:port][/db]" after "redis://" */
static int parse_tcp(const char *rest, char *err, size_t errlen)
{
	const char *at = strchr(rest, '@'), *slash, *colon, *h;
	size_t hlen;
	char *end;

	if (at) {
		const char *pw = memchr(rest, ':', (size_t)(at - rest));

		if (pw && !password)
			password = xstrndup(pw + 1, (size_t)(at - pw - 1));
		rest = at + 1;
	}
	slash = strchr(rest, '/');
	hlen = slash ? (size_t)(slash - rest) : strlen(rest);
	h = rest;
	if (*h == '[') { /* [v6 address]:port */
		const char *close = memchr(h, ']', hlen);

		if (!close) {
			snprintf(err, errlen, "unclosed '[' in the host");
			return -EINVAL;
		}
		host = xstrndup(h + 1, (size_t)(close - h - 1));
		colon =
		    close + 1 < h + hlen && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(h, ':', hlen);
		host = xstrndup(h, colon ? (size_t)(colon - h) : hlen);
	}
	if (!host || !*host) {
		snprintf(err, errlen, "no host");
		return -EINVAL;
	}
	if (colon) {
		long p = strtol(colon + 1, &end, 10);

		if (end != h + hlen || p <= 0 || p > 65535) {
			snprintf(err, errlen, "bad port");
			return -EINVAL;
		}
		port = (int)p;
	}
	if (slash && slash[1])
		return parse_db(slash + 1, err, errlen);
	return 0;
}

static int parse_url(const char *url, char *err, size_t errlen)
{
	int rc;

	if (!strncmp(url, "redis://", 8)) {
		rc = parse_tcp(url + 8, err, errlen);
	} else if (!strncmp(url, "unix:", 5)) {
		rc = parse_unix(url + 5, err, errlen);
	} else {
		snprintf(err, errlen,
			 "'%s' is neither redis://host:port/db nor "
			 "unix:/path",
			 url);
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	if (path)
		rc = asprintf(&display, "unix:%s (db %d)", path, db);
	else
		rc = asprintf(&display, "redis://%s:%d/%d", host, port, db);
	return rc < 0 ? -ENOMEM : 0;
}

int rds_init(const struct rds_opts *o, char *err, size_t errlen)
{
	struct sigaction sa;
	int rc;

	if (o->password && *o->password)
		password = xstrdup(o->password);
	timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 500;
	rc = parse_url(o->url, err, errlen);
	if (rc < 0) {
		rds_shutdown();
		return rc;
	}
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	configured = true;
	return 0;
}

void rds_shutdown(void)
{
	pthread_mutex_lock(&lock);
	while (idle) {
		struct rds_conn *c = idle;

		idle = c->next;
		redisFree(c->ctx);
		free(c);
		nconns--;
	}
	configured = false;
	if (nconns > 0) { /* a call still going: keep what it reads */
		pthread_mutex_unlock(&lock);
		return;
	}
	pthread_mutex_unlock(&lock);
	if (password)
		memset(password, 0, strlen(password));
	free(password);
	free(host);
	free(path);
	free(display);
	password = host = path = display = NULL;
}

const char *rds_url(void)
{
	return display ? display : "redis";
}

/* --- state ------------------------------------------------------------ */

static void mark_down_locked(const char *why)
{
	int64_t now = now_mono_ms();

	nerrors++;
	snprintf(last_error, sizeof(last_error), "%s", why);
	if (state != RDS_DOWN) {
		log_msg(LOG_WARNING, "redis",
			"redis down at %s: %s; going on alone until it is "
			"back",
			display, why);
		state = RDS_DOWN;
		backoff = RDS_RETRY_FIRST_MS;
	} else if (backoff < RDS_RETRY_MAX_MS) {
		backoff = backoff * 2 > RDS_RETRY_MAX_MS ? RDS_RETRY_MAX_MS
							 : backoff * 2;
	}
	retry_at = now + backoff;
}

static void mark_up_locked(void)
{
	if (state == RDS_DOWN)
		log_msg(LOG_NOTICE, "redis",
			"redis back at %s: sharing resumes", display);
	else if (state == RDS_UNKNOWN)
		log_msg(LOG_INFO, "redis", "connected to %s", display);
	state = RDS_UP;
}

static void note_up(void)
{
	if (__atomic_load_n(&state, __ATOMIC_RELAXED) == RDS_UP)
		return;
	pthread_mutex_lock(&lock);
	mark_up_locked();
	pthread_mutex_unlock(&lock);
}

void rds_note_ok(int64_t us)
{
	pthread_mutex_lock(&lock);
	latency_us = us;
	mark_up_locked();
	pthread_mutex_unlock(&lock);
}

/* Whether a call may go to Redis now; claims the retry when down. */
static bool may_try_locked(void)
{
	int64_t now;

	if (!configured)
		return false;
	if (state != RDS_DOWN)
		return true;
	now = now_mono_ms();
	if (now < retry_at)
		return false;
	retry_at = now + backoff;
	return true;
}

int64_t rds_retry_in_ms(void)
{
	int64_t left = 0;

	pthread_mutex_lock(&lock);
	if (state == RDS_DOWN)
		left = retry_at - now_mono_ms();
	pthread_mutex_unlock(&lock);
	return left > 0 ? left : 0;
}

void rds_status(struct rds_status *st)
{
	pthread_mutex_lock(&lock);
	st->configured = configured;
	st->up = state == RDS_UP;
	st->latency_us = latency_us;
	st->errors = nerrors;
	snprintf(st->last_error, sizeof(st->last_error), "%s", last_error);
	pthread_mutex_unlock(&lock);
}

/* --- connections ------------------------------------------------------ */

static struct timeval ms_tv(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	return tv;
}

/* hiredis says "Resource temporarily unavailable" for a timeout. */
static void ctx_why(redisContext *ctx, char *buf, size_t len)
{
	if (!ctx) {
		snprintf(buf, len, "out of memory");
	} else if (ctx->err == REDIS_ERR_IO &&
		   !strcmp(ctx->errstr, strerror(EAGAIN))) {
		snprintf(buf, len, "no answer within %d ms", timeout_ms);
	} else if (ctx->err == REDIS_ERR_EOF) {
		snprintf(buf, len, "the server closed the connection");
	} else {
		/* our messages are lower case; strerror's start upper */
		snprintf(buf, len, "%s", ctx->errstr[0] ? ctx->errstr : "?");
		if (buf[0] >= 'A' && buf[0] <= 'Z')
			buf[0] = (char)(buf[0] - 'A' + 'a');
	}
}

/* One command during set-up; 0 when the server said OK. */
static int setup_cmd(redisContext *ctx, const char *what, char *err,
		     size_t errlen, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;
	int rc = -1;

	va_start(ap, fmt);
	r = redisvCommand(ctx, fmt, ap);
	va_end(ap);
	if (!r)
		ctx_why(ctx, err, errlen);
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "%s refused: %s", what, r->str);
	else
		rc = 0;
	if (r)
		freeReplyObject(r);
	return rc;
}

static redisContext *ctx_make(char *err, size_t errlen)
{
	struct timeval tv = ms_tv(timeout_ms);
	redisContext *ctx;

	ctx = path ? redisConnectUnixWithTimeout(path, tv)
		   : redisConnectWithTimeout(host, port, tv);
	if (!ctx || ctx->err) {
		ctx_why(ctx, err, errlen);
		goto out_free;
	}
	if (redisSetTimeout(ctx, tv) != REDIS_OK) {
		ctx_why(ctx, err, errlen);
		goto out_free;
	}
	if (!path)
		redisEnableKeepAlive(ctx);
	if (password &&
	    setup_cmd(ctx, "AUTH", err, errlen, "AUTH %s", password) < 0)
		goto out_free;
	if (db && setup_cmd(ctx, "SELECT", err, errlen, "SELECT %d", db) < 0)
		goto out_free;
	return ctx;
out_free:
	if (ctx)
		redisFree(ctx);
	return NULL;
}

static struct rds_conn *conn_new(bool pooled)
{
	struct rds_conn *c = calloc(1, sizeof(*c));
	char why[256];

	if (!c)
		return NULL;
	c->pooled = pooled;
	c->ctx = ctx_make(why, sizeof(why));
	if (!c->ctx) {
		pthread_mutex_lock(&lock);
		mark_down_locked(why);
		pthread_mutex_unlock(&lock);
		free(c);
		return NULL;
	}
	/* Up only once it answers: a stopped server still accepts. */
	return c;
}

/* An idle connection with something to read was closed by the server. */
static bool conn_dead(const struct rds_conn *c)
{
	struct pollfd p = {.fd = c->ctx->fd, .events = POLLIN};

	return poll(&p, 1, 0) != 0;
}

static struct rds_conn *pool_take_locked(void)
{
	while (idle) {
		struct rds_conn *c = idle;

		idle = c->next;
		c->next = NULL;
		if (!conn_dead(c))
			return c;
		redisFree(c->ctx);
		free(c);
		nconns--;
	}
	return NULL;
}

struct rds_conn *rds_get(void)
{
	struct timespec until = deadline_after_ms(timeout_ms);
	struct rds_conn *c;

	pthread_mutex_lock(&lock);
	for (;;) {
		if (!may_try_locked())
			break;
		c = pool_take_locked();
		if (c) {
			pthread_mutex_unlock(&lock);
			return c;
		}
		if (nconns < RDS_POOL_MAX) {
			nconns++;
			pthread_mutex_unlock(&lock);
			c = conn_new(true);
			if (c)
				return c;
			pthread_mutex_lock(&lock);
			nconns--;
			pthread_cond_signal(&freed);
			break;
		}
		if (pthread_cond_timedwait(&freed, &lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

void rds_put(struct rds_conn *c)
{
	if (!c)
		return;
	if (!c->pooled) {
		rds_close(c);
		return;
	}
	pthread_mutex_lock(&lock);
	if (c->broken || !configured) {
		redisFree(c->ctx);
		free(c);
		nconns--;
	} else {
		c->next = idle;
		idle = c;
	}
	pthread_cond_signal(&freed);
	pthread_mutex_unlock(&lock);
}

struct rds_conn *rds_open(void)
{
	bool ok;

	pthread_mutex_lock(&lock);
	ok = may_try_locked();
	pthread_mutex_unlock(&lock);
	return ok ? conn_new(false) : NULL;
}

void rds_close(struct rds_conn *c)
{
	if (!c)
		return;
	redisFree(c->ctx);
	free(c);
}

redisContext *rds_ctx(struct rds_conn *c)
{
	return c->ctx;
}

void rds_fail(struct rds_conn *c, const char *why)
{
	char buf[256];

	if (c->broken)
		return;
	c->broken = true;
	if (!why) {
		ctx_why(c->ctx, buf, sizeof(buf));
		why = buf;
	}
	pthread_mutex_lock(&lock);
	mark_down_locked(why);
	pthread_mutex_unlock(&lock);
}

/* --- commands --------------------------------------------------------- */

static redisReply *reply_check(struct rds_conn *c, redisReply *r)
{
	if (!r) {
		rds_fail(c, NULL);
		return NULL;
	}
	note_up();
	return r;
}

redisReply *rds_cmd(struct rds_conn *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	if (!c || c->broken)
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(c->ctx, fmt, ap);
	va_end(ap);
	return reply_check(c, r);
}

redisReply *rds_cmdv(struct rds_conn *c, int argc, const char **argv,
		     const size_t *lens)
{
	if (!c || c->broken)
		return NULL;
	return reply_check(c, redisCommandArgv(c->ctx, argc, argv, lens));
}
