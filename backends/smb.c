/*
 * smb: libsmbclient behind a pool of worker threads, one per context.
 *
 * Why workers: a libsmbclient context must only ever be used by one
 * thread, and a call on a dead server can block far longer than a FUSE
 * caller may wait.  So each context lives on its own thread forever; a
 * caller queues a request on a slot and waits for it until the share's
 * deadline, then gives up (-ETIMEDOUT) and leaves the request behind,
 * which the worker drops or finishes and frees.  An open file stays on
 * the slot that opened it, since an SMBCFILE belongs to one context.
 *
 * When a call fails on the link, the worker frees its context and bumps
 * the slot's generation; the next request connects afresh, and files
 * opened on the old context are reopened by path (checked against the
 * size and time seen at open) on their next read.  Refused credentials
 * stop all calls for auth_retry_ms, so a wrong password does not lock an
 * account out; the failure is logged once per change of state.
 *
 * Lock order: a file's lock, then its share's lock; the global lock
 * (libsmbclient set-up and tear-down touch process-wide state) nests in
 * neither.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libsmbclient.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "smb.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SMB_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SMB_LSAN 1
#endif
#endif
#ifdef SMB_LSAN
#include <sanitizer/lsan_interface.h>
/* libsmbclient's one-time set-up drops a log file name it never frees. */
#define SMB_LSAN_OFF() __lsan_disable()
#define SMB_LSAN_ON() __lsan_enable()
#else
#define SMB_LSAN_OFF() ((void)0)
#define SMB_LSAN_ON() ((void)0)
#endif

#define SMB_MAX_POOL 16
#define SMB_DCACHE_BUCKETS 1024
#define SMB_DCACHE_MAX 4096
#define SMB_NAME_MAX 255
#define SMB_PATH_MAX 4096
#define SMB_LOG_REPEAT_MS (10 * 60 * 1000)
#define SMB_ATTR_REPARSE 0x400

enum smb_op {
	SMB_OP_STAT,  /* attributes of r->url */
	SMB_OP_LIST,  /* listing of r->url */
	SMB_OP_OPEN,  /* opens r->file on its slot */
	SMB_OP_READ,  /* fills r->win of r->file; no waiter */
	SMB_OP_CLOSE, /* closes r->file; no waiter */
	SMB_OP_PROBE, /* a STAT of the root nobody waits for */
};

enum smb_win_state {
	SMB_WIN_EMPTY,
	SMB_WIN_LOADING,
	SMB_WIN_READY,
	SMB_WIN_ERROR,
};

struct smb_window {
	off_t off;
	size_t want; /* bytes asked for; [off, off + want) is covered */
	size_t len;  /* bytes got; < want only at the end of the file */
	size_t cap;
	char *buf;
	enum smb_win_state state;
	int err;
	uint64_t used; /* file tick of its last use, for replacement */
};

struct smb_listing {
	atomic_int refs;
	size_t n;
	struct smb_entry *e;
};

struct smb_req {
	enum smb_op op;
	struct smb_req *next;
	int refs; /* under the share lock */
	bool done;
	bool abandoned;
	pthread_cond_t cond;

	char *url;
	struct smb_file *file;
	struct smb_window *win;

	int err;
	struct stat st;
	struct smb_listing *list;
};

struct smb_slot {
	struct smb_share *share;
	pthread_t thread;
	bool started;
	pthread_cond_t wake;
	struct smb_req *head, *tail;
	unsigned queued;
	bool busy;
	unsigned nfiles;

	SMBCCTX *ctx; /* made before the worker starts; worker-only after */
};

struct smb_file {
	struct smb_share *share;
	struct smb_slot *slot;
	char *url;
	struct stat st; /* at open */

	/* Worker-only. */
	SMBCFILE *fh;
	bool opened; /* once: later opens check it is the same file */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	uint64_t tick;
	off_t next_off;
	struct smb_window win[2];
};

struct smb_dcache {
	struct smb_dcache *next;
	char *path;
	struct smb_listing *list; /* NULL while the first load runs */
	int64_t fetched;
	bool loading;
};

struct smb_share {
	char *name;
	char *base; /* smb://host[:port]/share[/path], encoded */
	char *user;
	char *password;
	char *domain;
	int timeout_ms;
	int ttl_ms;
	struct smb_opts o;

	pthread_mutex_t lock;
	bool stopping;
	struct smb_slot slots[SMB_MAX_POOL];
	int nslots;

	pthread_cond_t dcond;
	struct smb_dcache *dc[SMB_DCACHE_BUCKETS];
	size_t dcount;
	struct stat root_st;
	int64_t root_fetched;

	/* Health and the log's memory, under the lock. */
	int reachable;
	double latency_ms;
	char last_error[256];
	int64_t last_error_at;
	int64_t last_ok_at;
	int64_t checked_at;
	bool probing;
	int64_t auth_until;
	char logged[256];
	int64_t logged_at;
	unsigned suppressed;
};

static pthread_mutex_t smb_global_lock = PTHREAD_MUTEX_INITIALIZER;
static bool smb_global_ready;
/* When libsmbclient cannot keep per-thread state, calls take turns. */
static bool smb_threads_ok;
static pthread_mutex_t smb_call_lock = PTHREAD_MUTEX_INITIALIZER;

static struct smb_opts smb_defaults = {
    .pool_size = 4,
    .ra_min = 1 << 20,
    .ra_max = 4 << 20,
    .auth_retry_ms = 30000,
    .probe_age_ms = 5000,
};

void smb_opts_default(struct smb_opts *o)
{
	*o = smb_defaults;
}

void smb_opts_set_default(const struct smb_opts *o)
{
	smb_defaults = *o;
}

/* ---- small helpers ---------------------------------------------------- */

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

/* Waits until @deadline (CLOCK_MONOTONIC ms); ETIMEDOUT after it. */
static int cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
			   int64_t deadline)
{
	struct timespec ts = {
	    .tv_sec = deadline / 1000,
	    .tv_nsec = (deadline % 1000) * 1000000,
	};

	return pthread_cond_timedwait(c, m, &ts);
}

static double mono_ms_f(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A lower-case reason for the errors a share can meet. */
static const char *smb_reason(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "connection refused";
	case ETIMEDOUT:
		return "no answer in time";
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ENOTCONN:
		return "connection lost";
	case EHOSTUNREACH:
	case EHOSTDOWN:
		return "host unreachable";
	case ENETUNREACH:
	case ENETDOWN:
		return "network unreachable";
	case ENOENT:
		return "no such share or path";
	case EACCES:
	case EPERM:
		return "access refused";
	case EIO:
		return "input/output error";
	default:
		return strerror(err);
	}
}

/* Errors that mean the link, not the path, failed. */
static bool smb_err_is_link(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETUNREACH:
	case ENETDOWN:
	case EPIPE:
	case ENOTCONN:
	case ENOTSOCK:
	case EIO:
	case EBADF: /* a handle lost to a reconnect inside libsmbclient */
		return true;
	default:
		return false;
	}
}

/* ---- urls and paths --------------------------------------------------- */

static bool smb_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* Appends @len bytes of one path component, percent-encoded. */
static int smb_enc_add(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int rc = 0;

	for (i = 0; i < len && !rc; i++) {
		unsigned char c = (unsigned char)s[i];

		if (smb_unreserved(c)) {
			rc = strbuf_addc(sb, (char)c);
			continue;
		}
		rc = strbuf_addc(sb, '%');
		if (!rc)
			rc = strbuf_addc(sb, hex[c >> 4]);
		if (!rc)
			rc = strbuf_addc(sb, hex[c & 15]);
	}
	return rc;
}

static bool smb_has_escape(const char *s, size_t len, const char *esc)
{
	size_t i;

	for (i = 0; i + 3 <= len; i++)
		if (strncasecmp(s + i, esc, 3) == 0)
			return true;
	return false;
}

/*
 * One component: -EINVAL for what could leave or confuse the share,
 * -ENOENT for names no SMB server can hold, -ENAMETOOLONG.
 */
static int smb_comp_check(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return -EINVAL;
	if (len > SMB_NAME_MAX)
		return -ENAMETOOLONG;
	if (smb_has_escape(s, len, "%2f") || smb_has_escape(s, len, "%5c") ||
	    smb_has_escape(s, len, "%00"))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\' || c == '/' || c == '\0')
			return -EINVAL;
		if (c < 0x20 || strchr(":*?\"<>|", c))
			return -ENOENT;
	}
	return 0;
}

int smb_path_check(const char *rel)
{
	const char *p = rel, *slash;
	int rc;

	if (!rel)
		return -EINVAL;
	if (strlen(rel) > SMB_PATH_MAX)
		return -ENAMETOOLONG;
	if (!*rel)
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		rc = smb_comp_check(p, slash ? (size_t)(slash - p) : strlen(p));
		if (rc || !slash)
			return rc;
		p = slash + 1;
	}
}

static int smb_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX escapes of [s, s + len) into @out; -1 when malformed. */
static int smb_url_decode(const char *s, size_t len, struct strbuf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			if (strbuf_addc(out, s[i]))
				return -1;
			continue;
		}
		if (i + 2 >= len)
			return -1;
		hi = smb_hexval(s[i + 1]);
		lo = smb_hexval(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		if (strbuf_addc(out, (char)(hi * 16 + lo)))
			return -1;
		i += 2;
	}
	return 0;
}

static int smb_host_check(const char *h, size_t len, char *err, size_t errlen)
{
	const char *port = NULL;
	size_t i;

	if (len == 0) {
		snprintf(err, errlen, "no host");
		return -EINVAL;
	}
	if (h[0] == '[') {
		const char *close = memchr(h, ']', len);

		if (!close) {
			snprintf(err, errlen, "unclosed '[' in the host");
			return -EINVAL;
		}
		if (close + 1 < h + len) {
			if (close[1] != ':') {
				snprintf(err, errlen, "junk after ']'");
				return -EINVAL;
			}
			port = close + 2;
		}
	} else {
		port = memchr(h, ':', len);
		if (port)
			port++;
		for (i = 0; i < len; i++) {
			if (strchr("@;?#%\\ ", h[i])) {
				snprintf(err, errlen,
					 "user, options or odd characters in "
					 "the host part (put user and password "
					 "in their own keys)");
				return -EINVAL;
			}
		}
	}
	if (port) {
		long v = 0;
		const char *p;

		for (p = port; p < h + len; p++) {
			if (*p < '0' || *p > '9' || v > 65535)
				break;
			v = v * 10 + (*p - '0');
		}
		if (p != h + len || p == port || v < 1 || v > 65535) {
			snprintf(err, errlen, "bad port");
			return -EINVAL;
		}
	}
	return 0;
}

/* Parses @url into the encoded base url; 0 or -EINVAL with @err. */
static int smb_url_parse(const char *url, char **base, char *err, size_t errlen)
{
	struct strbuf sb = STRBUF_INIT, comp = STRBUF_INIT;
	const char *p, *slash;
	int ncomp = 0, rc = -EINVAL;

	if (!url || strncasecmp(url, "smb://", 6) != 0) {
		snprintf(err, errlen, "url must start with smb://");
		return -EINVAL;
	}
	p = url + 6;
	slash = strchr(p, '/');
	if (!slash) {
		snprintf(err, errlen, "url names no share");
		return -EINVAL;
	}
	if (smb_host_check(p, (size_t)(slash - p), err, errlen))
		return -EINVAL;
	if (strpbrk(slash, "?#")) {
		snprintf(err, errlen, "url has a query or fragment");
		return -EINVAL;
	}
	if (strbuf_adds(&sb, "smb://") || strbuf_add(&sb, p, slash - p))
		goto out_nomem;

	for (p = slash + 1; *p; p = slash ? slash + 1 : p + strlen(p)) {
		size_t len;

		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0) {
			if (!slash)
				break;
			continue;
		}
		strbuf_reset(&comp);
		if (smb_url_decode(p, len, &comp) || !comp.buf) {
			snprintf(err, errlen, "bad %%-escape in the url path");
			goto out_free;
		}
		if (smb_comp_check(comp.buf, comp.len)) {
			snprintf(err, errlen,
				 "unsafe component \"%s\" in the "
				 "url path",
				 comp.buf);
			goto out_free;
		}
		if (strbuf_addc(&sb, '/') ||
		    smb_enc_add(&sb, comp.buf, comp.len))
			goto out_nomem;
		ncomp++;
		if (!slash)
			break;
	}
	if (ncomp == 0) {
		snprintf(err, errlen, "url names no share");
		goto out_free;
	}
	*base = strbuf_detach(&sb);
	rc = 0;
	goto out_free;

out_nomem:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
out_free:
	strbuf_release(&comp);
	strbuf_release(&sb);
	return rc;
}

int smb_url_check(const char *url, char *err, size_t errlen)
{
	char *base = NULL;
	int rc = smb_url_parse(url, &base, err, errlen);

	free(base);
	return rc;
}

/* The url of @rel below the share; NULL when out of memory. */
static char *smb_url_of(const struct smb_share *s, const char *rel)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = rel, *slash;

	if (strbuf_adds(&sb, s->base))
		return NULL;
	while (*p) {
		slash = strchr(p, '/');
		if (strbuf_addc(&sb, '/') ||
		    smb_enc_add(&sb, p,
				slash ? (size_t)(slash - p) : strlen(p)))
			goto out_free;
		if (!slash)
			break;
		p = slash + 1;
	}
	return strbuf_detach(&sb);

out_free:
	strbuf_release(&sb);
	return NULL;
}

/* ---- health and the log ---------------------------------------------- */

/* Records a failure of the share; logs it unless it just was. */
static void smb_share_fail(struct smb_share *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void smb_share_fail(struct smb_share *s, const char *fmt, ...)
{
	char msg[256];
	unsigned suppressed = 0;
	bool say = false;
	int64_t now = now_mono_ms();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&s->lock);
	s->reachable = 0;
	snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
	s->last_error_at = now_real_ms();
	s->checked_at = now;
	if (strcmp(msg, s->logged) != 0 ||
	    now - s->logged_at >= SMB_LOG_REPEAT_MS) {
		snprintf(s->logged, sizeof(s->logged), "%s", msg);
		s->logged_at = now;
		suppressed = s->suppressed;
		s->suppressed = 0;
		say = true;
	} else {
		s->suppressed++;
	}
	pthread_mutex_unlock(&s->lock);

	if (say && suppressed)
		log_msg(LOG_ERR, "smb",
			"share %s: %s (%u more since the last "
			"report)",
			s->name, msg, suppressed);
	else if (say)
		log_msg(LOG_ERR, "smb", "share %s: %s", s->name, msg);
}

/* Records an answered call; logs a recovery once. */
static void smb_share_ok(struct smb_share *s, double latency_ms)
{
	bool recovered;

	pthread_mutex_lock(&s->lock);
	recovered = s->reachable == 0;
	s->reachable = 1;
	if (latency_ms >= 0)
		s->latency_ms = latency_ms;
	s->last_error[0] = '\0';
	s->last_ok_at = now_real_ms();
	s->checked_at = now_mono_ms();
	s->logged[0] = '\0';
	s->suppressed = 0;
	s->auth_until = 0;
	pthread_mutex_unlock(&s->lock);

	if (recovered)
		log_msg(LOG_NOTICE, "smb", "share %s: reachable again",
			s->name);
}

/* ---- listings --------------------------------------------------------- */

static void smb_listing_free(struct smb_listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free((char *)l->e[i].name);
	free(l->e);
	free(l);
}

void smb_listing_put(struct smb_listing *l)
{
	if (l && atomic_fetch_sub(&l->refs, 1) == 1)
		smb_listing_free(l);
}

static struct smb_listing *smb_listing_get(struct smb_listing *l)
{
	atomic_fetch_add(&l->refs, 1);
	return l;
}

size_t smb_listing_count(const struct smb_listing *l)
{
	return l->n;
}

const struct smb_entry *smb_listing_entry(const struct smb_listing *l, size_t i)
{
	return i < l->n ? &l->e[i] : NULL;
}

static int smb_entry_cmp(const void *a, const void *b)
{
	const struct smb_entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static const struct smb_entry *smb_listing_find(const struct smb_listing *l,
						const char *name)
{
	struct smb_entry key = {.name = name};

	if (!l->n)
		return NULL;
	return bsearch(&key, l->e, l->n, sizeof(*l->e), smb_entry_cmp);
}

/* What every stat we hand out looks like: read-only, owned by us. */
static void smb_stat_fix(struct stat *st)
{
	bool dir = S_ISDIR(st->st_mode);

	st->st_mode = dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
	st->st_nlink = dir ? 2 : 1;
	st->st_uid = geteuid();
	st->st_gid = getegid();
	st->st_ino = 0;
	st->st_dev = 0;
	st->st_rdev = 0;
	st->st_blksize = 1 << 20;
	st->st_blocks = (st->st_size + 511) / 512;
}

static int smb_listing_add(struct smb_listing *l, size_t *cap, const char *name,
			   const struct stat *st)
{
	struct smb_entry *e;

	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;

		e = realloc(l->e, ncap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->e = e;
		*cap = ncap;
	}
	e = &l->e[l->n];
	e->name = xstrdup(name);
	if (!e->name)
		return -ENOMEM;
	e->st = *st;
	smb_stat_fix(&e->st);
	l->n++;
	return 0;
}

/* ---- the worker's side ------------------------------------------------ */

static void smb_auth(SMBCCTX *c, const char *srv, const char *shr, char *wg,
		     int wglen, char *un, int unlen, char *pw, int pwlen)
{
	struct smb_slot *sl = smbc_getOptionUserData(c);
	const struct smb_share *s = sl->share;

	(void)srv;
	(void)shr;
	if (s->domain && *s->domain)
		snprintf(wg, wglen, "%s", s->domain);
	snprintf(un, unlen, "%s", s->user ? s->user : "");
	snprintf(pw, pwlen, "%s", s->password ? s->password : "");
}

static void smb_debug_cb(void *priv, int level, const char *msg)
{
	size_t len = strlen(msg);

	(void)priv;
	(void)level;
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	if (len)
		log_msg(LOG_DEBUG, "smb", "libsmbclient: %.*s", (int)len, msg);
}

/*
 * libsmbclient keeps a stack of temporary allocations per call; it is
 * one process-wide stack unless thread hooks are given, and two threads
 * in libsmbclient at once then abort.  smbc_thread_posix() would give
 * them, but Debian's library does not export it, so the same hooks
 * (mutexes and thread-local slots, the table of Samba's
 * lib/util/smb_threads.h, stable since 3.2) are handed to
 * smb_thread_set_functions() of libsamba-util when it is there.
 * Without it, calls on all contexts are serialized.
 */
struct smb_thread_hooks {
	int (*create_mutex)(const char *name, void **lock, const char *loc);
	void (*destroy_mutex)(void *lock, const char *loc);
	int (*lock_mutex)(void *lock, int type, const char *loc);
	int (*create_tls)(const char *name, void **key, const char *loc);
	void (*destroy_tls)(void **key, const char *loc);
	int (*set_tls)(void *key, const void *val, const char *loc);
	void *(*get_tls)(void *key, const char *loc);
};

#define SMB_HOOK_LOCK 1
#define SMB_HOOK_UNLOCK 2

static int smb_hook_create_mutex(const char *name, void **lock, const char *loc)
{
	pthread_mutex_t *m = malloc(sizeof(*m));

	(void)name;
	(void)loc;
	if (!m)
		return ENOMEM;
	pthread_mutex_init(m, NULL);
	*lock = m;
	return 0;
}

static void smb_hook_destroy_mutex(void *lock, const char *loc)
{
	(void)loc;
	pthread_mutex_destroy(lock);
	free(lock);
}

static int smb_hook_lock_mutex(void *lock, int type, const char *loc)
{
	(void)loc;
	if (type == SMB_HOOK_LOCK)
		return pthread_mutex_lock(lock);
	if (type == SMB_HOOK_UNLOCK)
		return pthread_mutex_unlock(lock);
	return EINVAL;
}

/*
 * The one thread-local value libsmbclient keeps is its stack of
 * temporary allocations (Samba's struct talloc_stackframe: two ints and
 * a talloc array whose children are the frames).  A worker's stack is
 * empty between calls; this frees it when the thread ends, as Samba
 * itself never does.
 */
struct smb_stackframe {
	int size;
	int arraysize;
	void *stack;
};

static int (*smb_talloc_free)(void *ptr, const char *location);

static void smb_hook_tls_end(void *val)
{
	struct smb_stackframe *ts = val;

	if (!ts)
		return;
	if (ts->stack && smb_talloc_free)
		smb_talloc_free(ts->stack, __func__);
	free(ts);
}

static int smb_hook_create_tls(const char *name, void **key, const char *loc)
{
	pthread_key_t *k;
	int rc;

	(void)name;
	(void)loc;
	if (*key)
		return 0;
	k = malloc(sizeof(*k));
	if (!k)
		return ENOMEM;
	rc = pthread_key_create(k, smb_hook_tls_end);
	if (rc) {
		free(k);
		return rc;
	}
	*key = k;
	return 0;
}

static void smb_hook_destroy_tls(void **key, const char *loc)
{
	(void)loc;
	if (!*key)
		return;
	pthread_key_delete(*(pthread_key_t *)*key);
	free(*key);
	*key = NULL;
}

static int smb_hook_set_tls(void *key, const void *val, const char *loc)
{
	(void)loc;
	if (!key)
		return EINVAL;
	return pthread_setspecific(*(pthread_key_t *)key, val);
}

static void *smb_hook_get_tls(void *key, const char *loc)
{
	(void)loc;
	/* Asked before its slot is made, on a thread's first call. */
	if (!key)
		return NULL;
	return pthread_getspecific(*(pthread_key_t *)key);
}

static const struct smb_thread_hooks smb_hooks = {
    smb_hook_create_mutex, smb_hook_destroy_mutex, smb_hook_lock_mutex,
    smb_hook_create_tls,   smb_hook_destroy_tls,   smb_hook_set_tls,
    smb_hook_get_tls,
};

/* Once, before the first context: global lock held. */
static void smb_threads_setup(void)
{
	int (*set)(const struct smb_thread_hooks *);

	*(void **)&set = dlsym(RTLD_DEFAULT, "smb_thread_set_functions");
	*(void **)&smb_talloc_free = dlsym(RTLD_DEFAULT, "_talloc_free");
	smb_threads_ok = set && set(&smb_hooks) == 0;
	if (!smb_threads_ok)
		log_msg(LOG_NOTICE, "smb",
			"libsmbclient has no thread hooks "
			"here: calls to shares take turns");
}

/*
 * Makes a slot's context.  smbc_init_context reloads process-wide
 * settings that calls on other contexts read, so contexts are only made
 * while no worker runs a call: when a share starts.  A context is kept
 * for the share's life; libsmbclient reconnects it when its link died.
 */
static int smb_ctx_open(struct smb_slot *sl)
{
	const struct smb_share *s = sl->share;
	bool guest = !s->user || !*s->user;
	SMBCCTX *ctx;
	int err = 0;

	pthread_mutex_lock(&smb_global_lock);
	if (!smb_global_ready)
		smb_threads_setup();
	SMB_LSAN_OFF();
	ctx = smbc_new_context();
	SMB_LSAN_ON();
	if (!ctx) {
		err = errno ? errno : ENOMEM;
		goto out_unlock;
	}
	smbc_setDebug(ctx, 0);
	smbc_setOptionDebugToStderr(ctx, 1);
	if (!smb_global_ready) {
		smbc_setLogCallback(ctx, NULL, smb_debug_cb);
		smb_global_ready = true;
	}
	smbc_setTimeout(ctx, s->timeout_ms);
	smbc_setOptionUseKerberos(ctx, 0);
	smbc_setOptionFallbackAfterKerberos(ctx, 1);
	smbc_setOptionUseCCache(ctx, 0);
	smbc_setOptionNoAutoAnonymousLogin(ctx, !guest);
	smbc_setOptionUserData(ctx, sl);
	smbc_setFunctionAuthDataWithContext(ctx, smb_auth);
	if (!smbc_init_context(ctx)) {
		err = errno ? errno : EIO;
		smbc_free_context(ctx, 1);
		goto out_unlock;
	}
	sl->ctx = ctx;
out_unlock:
	pthread_mutex_unlock(&smb_global_lock);
	return -err;
}

static void smb_ctx_free(struct smb_slot *sl)
{
	if (!sl->ctx)
		return;
	pthread_mutex_lock(&smb_global_lock);
	smbc_free_context(sl->ctx, 1);
	pthread_mutex_unlock(&smb_global_lock);
	sl->ctx = NULL;
}

static int smb_w_stat(struct smb_slot *sl, const char *url, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (smbc_getFunctionStat(sl->ctx)(sl->ctx, url, st) < 0)
		return -(errno ? errno : EIO);
	return 0;
}

static int smb_w_list(struct smb_slot *sl, const char *url,
		      struct smb_listing **out)
{
	SMBCCTX *c = sl->ctx;
	const struct libsmb_file_info *fi;
	struct smb_listing *l;
	struct stat st;
	size_t cap = 0;
	SMBCFILE *d;
	int rc = 0;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	atomic_init(&l->refs, 1);
	d = smbc_getFunctionOpendir(c)(c, url);
	if (!d) {
		rc = -(errno ? errno : EIO);
		goto out_free;
	}
	/* opendir fetched the whole listing; readdir only walks it. */
	while ((fi = smbc_getFunctionReaddirPlus2(c)(c, d, &st))) {
		if (!fi->name || (fi->attrs & SMB_ATTR_REPARSE) ||
		    smb_comp_check(fi->name, strlen(fi->name)))
			continue;
		rc = smb_listing_add(l, &cap, fi->name, &st);
		if (rc)
			break;
	}
	smbc_getFunctionClosedir(c)(c, d);
	if (rc)
		goto out_free;
	if (l->n > 1)
		qsort(l->e, l->n, sizeof(*l->e), smb_entry_cmp);
	*out = l;
	return 0;

out_free:
	smb_listing_free(l);
	return rc;
}

static int smb_w_fopen(struct smb_slot *sl, struct smb_file *f, bool check)
{
	SMBCCTX *c = sl->ctx;
	struct stat st;
	SMBCFILE *fh;

	fh = smbc_getFunctionOpen(c)(c, f->url, O_RDONLY, 0);
	if (!fh)
		return -(errno ? errno : EIO);
	memset(&st, 0, sizeof(st));
	if (smbc_getFunctionFstat(c)(c, fh, &st) < 0) {
		int err = errno ? errno : EIO;

		smbc_getFunctionClose(c)(c, fh);
		return -err;
	}
	if (S_ISDIR(st.st_mode)) {
		smbc_getFunctionClose(c)(c, fh);
		return -EISDIR;
	}
	smb_stat_fix(&st);
	if (check && (st.st_size != f->st.st_size ||
		      st.st_mtim.tv_sec != f->st.st_mtim.tv_sec)) {
		smbc_getFunctionClose(c)(c, fh);
		return -ESTALE;
	}
	if (!check)
		f->st = st;
	f->fh = fh;
	f->opened = true;
	return 0;
}

static int smb_w_read(struct smb_slot *sl, struct smb_file *f,
		      struct smb_window *w, size_t *got)
{
	SMBCCTX *c = sl->ctx;
	int rc;

	if (!f->fh) {
		rc = smb_w_fopen(sl, f, f->opened);
		if (rc)
			return rc;
	}
	if (smbc_getFunctionLseek(c)(c, f->fh, w->off, SEEK_SET) < 0)
		return -(errno ? errno : EIO);
	*got = 0;
	while (*got < w->want) {
		ssize_t n = smbc_getFunctionRead(c)(c, f->fh, w->buf + *got,
						    w->want - *got);

		if (n < 0)
			return -(errno ? errno : EIO);
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

static void smb_w_close(struct smb_slot *sl, struct smb_file *f)
{
	if (f->fh)
		smbc_getFunctionClose(sl->ctx)(sl->ctx, f->fh);
	f->fh = NULL;
}

/* Runs one request once on the slot's context. */
static int smb_w_run_once(struct smb_slot *sl, struct smb_req *r, size_t *got)
{
	errno = 0;
	switch (r->op) {
	case SMB_OP_STAT:
	case SMB_OP_PROBE:
		return smb_w_stat(sl, r->url, &r->st);
	case SMB_OP_LIST:
		return smb_w_list(sl, r->url, &r->list);
	case SMB_OP_OPEN:
		return smb_w_fopen(sl, r->file, false);
	case SMB_OP_READ:
		return smb_w_read(sl, r->file, r->win, got);
	case SMB_OP_CLOSE:
		break;
	}
	return 0;
}

/*
 * A refusal on a path may be one file's permissions or the share's: ask
 * for the root on the same context to tell them apart.
 */
static bool smb_w_auth_failed(struct smb_slot *sl, struct smb_req *r)
{
	struct stat st;
	int rc;

	if (r->op == SMB_OP_STAT || r->op == SMB_OP_PROBE)
		if (strcmp(r->url, sl->share->base) == 0)
			return true;
	rc = smb_w_stat(sl, sl->share->base, &st);
	return rc == -EACCES || rc == -EPERM;
}

static void smb_w_note_auth(struct smb_slot *sl)
{
	struct smb_share *s = sl->share;
	bool guest = !s->user || !*s->user;

	pthread_mutex_lock(&s->lock);
	s->auth_until = now_mono_ms() + s->o.auth_retry_ms;
	pthread_mutex_unlock(&s->lock);
	if (guest)
		smb_share_fail(s, "guest access to %s refused", s->base);
	else
		smb_share_fail(s,
			       "logon to %s as %s refused (wrong "
			       "password, or no right to the share)",
			       s->base, s->user);
}

/*
 * Runs @r, once more after a link failure: libsmbclient then sees the
 * dead connection and makes a new one.  A file's handle died with it.
 */
static int smb_w_run(struct smb_slot *sl, struct smb_req *r, size_t *got)
{
	double t0 = mono_ms_f();
	int rc = 0, attempt;

	if (r->op == SMB_OP_CLOSE) {
		smb_w_close(sl, r->file);
		return 0;
	}
	/* A stale connection fails once; a silent server is not retried. */
	for (attempt = 0; attempt < 2; attempt++) {
		rc = smb_w_run_once(sl, r, got);
		if (!rc || !smb_err_is_link(-rc))
			break;
		if (r->op == SMB_OP_READ)
			smb_w_close(sl, r->file);
		if (rc == -ETIMEDOUT)
			break;
	}
	if (rc == -EPERM)
		rc = -EACCES;
	if (rc == -EACCES && smb_w_auth_failed(sl, r)) {
		smb_w_note_auth(sl);
	} else if (rc && smb_err_is_link(-rc)) {
		smb_share_fail(sl->share, "cannot reach %s: %s",
			       sl->share->base, smb_reason(-rc));
		rc = rc == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
	} else if (r->op != SMB_OP_READ) {
		smb_share_ok(sl->share, mono_ms_f() - t0);
	} else if (!rc) {
		smb_share_ok(sl->share, -1);
	}
	return rc;
}

static void smb_file_put(struct smb_file *f);

/* Hands a read's result to the file's waiters. */
static void smb_w_read_done(struct smb_req *r, int rc, size_t got)
{
	struct smb_file *f = r->file;
	struct smb_window *w = r->win;

	pthread_mutex_lock(&f->lock);
	if (rc) {
		w->state = SMB_WIN_ERROR;
		w->err = rc;
	} else {
		w->state = SMB_WIN_READY;
		w->len = got;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void smb_req_put_locked(struct smb_req *r)
{
	if (--r->refs > 0)
		return;
	pthread_cond_destroy(&r->cond);
	free(r->url);
	if (r->list)
		smb_listing_put(r->list);
	free(r);
}

static struct smb_req *smb_w_next(struct smb_slot *sl)
{
	struct smb_share *s = sl->share;
	struct smb_req *r;

	while (!sl->head && !s->stopping)
		pthread_cond_wait(&sl->wake, &s->lock);
	r = sl->head;
	if (!r)
		return NULL;
	sl->head = r->next;
	if (!sl->head)
		sl->tail = NULL;
	sl->queued--;
	return r;
}

static void smb_w_finish(struct smb_slot *sl, struct smb_req *r, int rc,
			 size_t got)
{
	struct smb_share *s = sl->share;
	SMBCFILE *orphan = NULL;

	if (r->op == SMB_OP_READ)
		smb_w_read_done(r, rc, got);
	pthread_mutex_lock(&s->lock);
	sl->busy = false;
	r->err = rc;
	r->done = true;
	if (r->op == SMB_OP_OPEN && !rc && r->abandoned) {
		orphan = r->file->fh;
		r->file->fh = NULL;
	}
	if (r->op == SMB_OP_PROBE)
		s->probing = false;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&s->lock);

	if (orphan)
		smbc_getFunctionClose(sl->ctx)(sl->ctx, orphan);
	if (r->file && (r->op == SMB_OP_READ || r->op == SMB_OP_CLOSE ||
			r->op == SMB_OP_OPEN))
		smb_file_put(r->file);
	pthread_mutex_lock(&s->lock);
	smb_req_put_locked(r);
	pthread_mutex_unlock(&s->lock);
}

static void *smb_worker(void *arg)
{
	struct smb_slot *sl = arg;
	struct smb_share *s = sl->share;
	struct smb_req *r;

	pthread_mutex_lock(&s->lock);
	while ((r = smb_w_next(sl))) {
		bool skip = r->abandoned && r->op != SMB_OP_CLOSE &&
			    r->op != SMB_OP_READ;
		size_t got = 0;
		int rc = -ETIMEDOUT;

		sl->busy = true;
		pthread_mutex_unlock(&s->lock);
		if (!skip && !smb_threads_ok)
			pthread_mutex_lock(&smb_call_lock);
		if (!skip)
			rc = smb_w_run(sl, r, &got);
		if (!skip && !smb_threads_ok)
			pthread_mutex_unlock(&smb_call_lock);
		smb_w_finish(sl, r, rc, got);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- the caller's side ------------------------------------------------ */

static struct smb_req *smb_req_new(enum smb_op op, const char *url)
{
	struct smb_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->op = op;
	r->refs = 1;
	cond_init_mono(&r->cond);
	if (url) {
		r->url = xstrdup(url);
		if (!r->url) {
			pthread_cond_destroy(&r->cond);
			free(r);
			return NULL;
		}
	}
	return r;
}

/* The least loaded slot; share lock held. */
static struct smb_slot *smb_slot_pick(struct smb_share *s, bool for_file)
{
	struct smb_slot *best = NULL;
	unsigned best_load = ~0u;
	int i;

	for (i = 0; i < s->nslots; i++) {
		struct smb_slot *sl = &s->slots[i];
		unsigned load = (sl->queued + sl->busy) * 4;

		if (for_file)
			load += sl->nfiles;
		if (load < best_load) {
			best = sl;
			best_load = load;
		}
	}
	return best;
}

static void smb_enqueue_locked(struct smb_slot *sl, struct smb_req *r)
{
	r->next = NULL;
	if (sl->tail)
		sl->tail->next = r;
	else
		sl->head = r;
	sl->tail = r;
	sl->queued++;
	pthread_cond_signal(&sl->wake);
}

/* -EACCES while refused credentials rest; share lock held. */
static int smb_gate_locked(struct smb_share *s)
{
	if (s->stopping)
		return -ESHUTDOWN;
	if (s->auth_until && now_mono_ms() < s->auth_until)
		return -EACCES;
	return 0;
}

/*
 * Queues @r on @sl (any slot when NULL) and waits until @deadline.
 * Returns the request's result or -ETIMEDOUT; @r stays the caller's to
 * release with smb_req_put().
 */
static int smb_call(struct smb_share *s, struct smb_slot *sl, struct smb_req *r,
		    int64_t deadline)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = smb_gate_locked(s);
	if (rc) {
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	if (!sl)
		sl = smb_slot_pick(s, false);
	r->refs++; /* the worker's */
	smb_enqueue_locked(sl, r);
	while (!r->done) {
		if (cond_wait_until(&r->cond, &s->lock, deadline) ==
			ETIMEDOUT &&
		    !r->done) {
			r->abandoned = true;
			break;
		}
	}
	rc = r->done ? r->err : -ETIMEDOUT;
	pthread_mutex_unlock(&s->lock);
	if (rc == -ETIMEDOUT && !r->done)
		smb_share_fail(s, "%s gave no answer within %d s", s->base,
			       s->timeout_ms / 1000);
	return rc;
}

static void smb_req_put(struct smb_share *s, struct smb_req *r)
{
	pthread_mutex_lock(&s->lock);
	smb_req_put_locked(r);
	pthread_mutex_unlock(&s->lock);
}

/* ---- the listing cache ----------------------------------------------- */

static struct smb_dcache **smb_dc_slot(struct smb_share *s, const char *path)
{
	struct smb_dcache **pp = &s->dc[hash64_str(path) % SMB_DCACHE_BUCKETS];

	while (*pp && strcmp((*pp)->path, path) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void smb_dc_unlink(struct smb_share *s, struct smb_dcache **pp)
{
	struct smb_dcache *e = *pp;

	*pp = e->next;
	if (e->list)
		smb_listing_put(e->list);
	free(e->path);
	free(e);
	s->dcount--;
}

/* Keeps the cache bounded: expired entries first, then any idle one. */
static void smb_dc_trim(struct smb_share *s)
{
	int64_t now = now_mono_ms();
	size_t i, limit = SMB_DCACHE_MAX * 3 / 4;
	int pass;

	for (pass = 0; pass < 2 && s->dcount >= limit; pass++) {
		for (i = 0; i < SMB_DCACHE_BUCKETS; i++) {
			struct smb_dcache **pp = &s->dc[i];

			while (*pp) {
				bool old = now - (*pp)->fetched >= s->ttl_ms;

				if (!(*pp)->loading && (pass || old))
					smb_dc_unlink(s, pp);
				else
					pp = &(*pp)->next;
			}
		}
	}
}

/* The listing of folder @rel, from the cache or the server. */
static int smb_dc_get(struct smb_share *s, const char *rel, int64_t deadline,
		      struct smb_listing **out)
{
	struct smb_dcache **pp, *e;
	struct smb_req *r;
	char *url;
	int rc;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		pp = smb_dc_slot(s, rel);
		e = *pp;
		if (e && e->list && !e->loading &&
		    now_mono_ms() - e->fetched < s->ttl_ms) {
			*out = smb_listing_get(e->list);
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		if (!e || !e->loading)
			break;
		if (cond_wait_until(&s->dcond, &s->lock, deadline) ==
		    ETIMEDOUT) {
			pthread_mutex_unlock(&s->lock);
			return -ETIMEDOUT;
		}
	}
	if (!e) {
		if (s->dcount >= SMB_DCACHE_MAX)
			smb_dc_trim(s);
		e = calloc(1, sizeof(*e));
		if (e)
			e->path = xstrdup(rel);
		if (!e || !e->path) {
			free(e);
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		pp = smb_dc_slot(s, rel);
		e->next = *pp;
		*pp = e;
		s->dcount++;
	}
	e->loading = true;
	pthread_mutex_unlock(&s->lock);

	rc = -ENOMEM;
	url = smb_url_of(s, rel);
	r = url ? smb_req_new(SMB_OP_LIST, url) : NULL;
	free(url);
	if (r)
		rc = smb_call(s, NULL, r, deadline);

	pthread_mutex_lock(&s->lock);
	e->loading = false;
	if (!rc) {
		if (e->list)
			smb_listing_put(e->list);
		e->list = r->list;
		r->list = NULL;
		e->fetched = now_mono_ms();
		*out = smb_listing_get(e->list);
	} else {
		smb_dc_unlink(s, smb_dc_slot(s, rel));
	}
	pthread_cond_broadcast(&s->dcond);
	pthread_mutex_unlock(&s->lock);
	if (r)
		smb_req_put(s, r);
	return rc;
}

void smb_forget(struct smb_share *s, const char *rel)
{
	char *parent = xstrdup(rel);
	char *slash;
	struct smb_dcache **pp;

	if (!parent)
		return;
	slash = strrchr(parent, '/');
	pthread_mutex_lock(&s->lock);
	pp = smb_dc_slot(s, rel);
	if (*pp && !(*pp)->loading)
		smb_dc_unlink(s, pp);
	if (slash)
		*slash = '\0';
	else
		parent[0] = '\0';
	pp = smb_dc_slot(s, parent);
	if (*pp && !(*pp)->loading)
		smb_dc_unlink(s, pp);
	s->root_fetched = 0;
	pthread_mutex_unlock(&s->lock);
	free(parent);
}

/* ---- attributes and listings ------------------------------------------ */

static int smb_root_stat(struct smb_share *s, int64_t deadline, struct stat *st)
{
	struct smb_req *r;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->root_fetched && now_mono_ms() - s->root_fetched < s->ttl_ms) {
		*st = s->root_st;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);

	r = smb_req_new(SMB_OP_STAT, s->base);
	if (!r)
		return -ENOMEM;
	rc = smb_call(s, NULL, r, deadline);
	if (!rc && !S_ISDIR(r->st.st_mode))
		rc = -ENOTDIR;
	if (!rc) {
		smb_stat_fix(&r->st);
		*st = r->st;
		pthread_mutex_lock(&s->lock);
		s->root_st = r->st;
		s->root_fetched = now_mono_ms();
		pthread_mutex_unlock(&s->lock);
	}
	smb_req_put(s, r);
	return rc;
}

/*
 * Walks @rel from the root through cached listings, so every component
 * is a real, exact-case entry and none is a link.
 */
static int smb_walk(struct smb_share *s, const char *rel, int64_t deadline,
		    struct stat *st)
{
	char path[SMB_PATH_MAX + 1];
	size_t plen = 0;
	const char *p = rel;
	int rc;

	if (!*rel)
		return smb_root_stat(s, deadline, st);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		const struct smb_entry *e;
		struct smb_listing *l;
		char name[SMB_NAME_MAX + 1];

		path[plen] = '\0';
		rc = smb_dc_get(s, path, deadline, &l);
		if (rc)
			return rc;
		memcpy(name, p, len);
		name[len] = '\0';
		e = smb_listing_find(l, name);
		if (e)
			*st = e->st;
		smb_listing_put(l);
		if (!e)
			return -ENOENT;
		if (!slash)
			return 0;
		if (!S_ISDIR(st->st_mode))
			return -ENOTDIR;
		if (plen)
			path[plen++] = '/';
		memcpy(path + plen, p, len);
		plen += len;
		p = slash + 1;
	}
}

static int64_t smb_deadline(const struct smb_share *s)
{
	return now_mono_ms() + s->timeout_ms;
}

int smb_stat(struct smb_share *s, const char *rel, struct stat *st)
{
	int rc = smb_path_check(rel);

	if (rc)
		return rc;
	return smb_walk(s, rel, smb_deadline(s), st);
}

int smb_list(struct smb_share *s, const char *rel, struct smb_listing **out)
{
	int64_t deadline = smb_deadline(s);
	struct stat st;
	int rc = smb_path_check(rel);

	if (!rc && *rel)
		rc = smb_walk(s, rel, deadline, &st);
	if (!rc && *rel && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	if (!rc)
		rc = smb_dc_get(s, rel, deadline, out);
	return rc;
}

/* ---- files ------------------------------------------------------------ */

static void smb_file_put(struct smb_file *f)
{
	int i, left;

	pthread_mutex_lock(&f->lock);
	left = --f->refs;
	pthread_mutex_unlock(&f->lock);
	if (left)
		return;
	for (i = 0; i < 2; i++)
		free(f->win[i].buf);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f->url);
	free(f);
}

static void smb_file_ref(struct smb_file *f)
{
	pthread_mutex_lock(&f->lock);
	f->refs++;
	pthread_mutex_unlock(&f->lock);
}

int smb_open(struct smb_share *s, const char *rel, struct smb_file **out)
{
	int64_t deadline = smb_deadline(s);
	struct smb_file *f;
	struct smb_req *r;
	struct stat st;
	int rc = smb_path_check(rel);

	if (!rc)
		rc = smb_walk(s, rel, deadline, &st);
	if (!rc && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (rc)
		return rc;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->share = s;
	f->refs = 1;
	pthread_mutex_init(&f->lock, NULL);
	cond_init_mono(&f->cond);
	f->url = smb_url_of(s, rel);
	r = f->url ? smb_req_new(SMB_OP_OPEN, NULL) : NULL;
	if (!r) {
		smb_file_put(f);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	f->slot = smb_slot_pick(s, true);
	f->slot->nfiles++;
	pthread_mutex_unlock(&s->lock);

	smb_file_ref(f);
	r->file = f;
	rc = smb_call(s, f->slot, r, deadline);
	if (rc == -ENOENT)
		smb_forget(s, rel);
	smb_req_put(s, r);
	if (rc) {
		pthread_mutex_lock(&s->lock);
		f->slot->nfiles--;
		pthread_mutex_unlock(&s->lock);
		smb_file_put(f);
		return rc;
	}
	*out = f;
	return 0;
}

void smb_file_stat(const struct smb_file *f, struct stat *st)
{
	*st = f->st;
}

void smb_close(struct smb_file *f)
{
	struct smb_share *s = f->share;
	struct smb_req *r = smb_req_new(SMB_OP_CLOSE, NULL);

	if (r) {
		smb_file_ref(f); /* the request's */
		r->file = f;
	}
	pthread_mutex_lock(&s->lock);
	f->slot->nfiles--;
	if (r && !s->stopping) {
		smb_enqueue_locked(f->slot, r);
		r = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (r) {
		pthread_cond_destroy(&r->cond);
		free(r);
		smb_file_put(f);
	}
	smb_file_put(f);
}

/* The window covering @off, loaded or on its way; file lock held. */
static struct smb_window *smb_win_find(struct smb_file *f, off_t off)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct smb_window *w = &f->win[i];

		if (w->state != SMB_WIN_EMPTY && off >= w->off &&
		    off < w->off + (off_t)w->want)
			return w;
	}
	return NULL;
}

/* A window free for a new load, least recently used first. */
static struct smb_window *smb_win_pick(struct smb_file *f,
				       const struct smb_window *keep)
{
	struct smb_window *best = NULL;
	int i;

	for (i = 0; i < 2; i++) {
		struct smb_window *w = &f->win[i];

		if (w == keep || w->state == SMB_WIN_LOADING)
			continue;
		if (!best || w->used < best->used)
			best = w;
	}
	return best;
}

/* Starts loading [off, off + want) into @w; file lock held. */
static int smb_win_load(struct smb_file *f, struct smb_window *w, off_t off,
			size_t want)
{
	struct smb_share *s = f->share;
	struct smb_req *r;
	int rc;

	if (want > (size_t)(f->st.st_size - off))
		want = (size_t)(f->st.st_size - off);
	if (w->cap < want) {
		char *nb = realloc(w->buf, want);

		if (!nb)
			return -ENOMEM;
		w->buf = nb;
		w->cap = want;
	}
	r = smb_req_new(SMB_OP_READ, NULL);
	if (!r)
		return -ENOMEM;
	w->off = off;
	w->want = want;
	w->len = 0;
	w->state = SMB_WIN_LOADING;
	w->used = ++f->tick;
	r->file = f;
	r->win = w;
	f->refs++;

	pthread_mutex_lock(&s->lock);
	rc = smb_gate_locked(s);
	if (!rc)
		smb_enqueue_locked(f->slot, r);
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		f->refs--;
		w->state = SMB_WIN_EMPTY;
		pthread_cond_destroy(&r->cond);
		free(r);
	}
	return rc;
}

/* After an in-order read, loads the next window while this one drains. */
static void smb_prefetch(struct smb_file *f, off_t end)
{
	struct smb_window *cur = smb_win_find(f, end > 0 ? end - 1 : 0);
	struct smb_window *w;
	off_t next;

	if (!cur)
		return;
	next = cur->off + (off_t)cur->want;
	if (next >= f->st.st_size || smb_win_find(f, next))
		return;
	w = smb_win_pick(f, cur);
	if (w)
		smb_win_load(f, w, next, f->share->o.ra_max);
}

/* Copies what windows hold of [off, off + size); file lock held. */
static ssize_t smb_read_locked(struct smb_file *f, char *buf, size_t size,
			       off_t off, int64_t deadline)
{
	const struct smb_opts *o = &f->share->o;
	off_t gap = off - f->next_off;
	/* The kernel's read-ahead may send neighbouring reads out of order. */
	bool seq = gap >= -(off_t)o->ra_max && gap <= (off_t)o->ra_max;
	struct smb_window *mine = NULL;
	size_t done = 0;
	int rc = 0;

	while (done < size && !rc) {
		off_t cur = off + (off_t)done;
		struct smb_window *w = smb_win_find(f, cur);
		size_t avail, n;

		if (!w) {
			size_t want = seq && cur > 0 ? o->ra_max : o->ra_min;

			if (want < size - done)
				want = size - done;
			w = smb_win_pick(f, NULL);
			mine = w;
			if (w)
				rc = smb_win_load(f, w, cur, want);
			else if (cond_wait_until(&f->cond, &f->lock,
						 deadline) == ETIMEDOUT)
				rc = -ETIMEDOUT;
			continue;
		}
		if (w->state == SMB_WIN_LOADING) {
			if (cond_wait_until(&f->cond, &f->lock, deadline) ==
			    ETIMEDOUT)
				rc = -ETIMEDOUT;
			continue;
		}
		if (w->state == SMB_WIN_ERROR) {
			/* A failed read-ahead gets one fresh try of ours. */
			if (w == mine)
				rc = w->err;
			w->state = SMB_WIN_EMPTY;
			continue;
		}
		if (cur >= w->off + (off_t)w->len)
			break; /* the file ended early on the server */
		avail = (size_t)(w->off + (off_t)w->len - cur);
		n = avail < size - done ? avail : size - done;
		memcpy(buf + done, w->buf + (cur - w->off), n);
		done += n;
		w->used = ++f->tick;
	}
	if (rc)
		return rc;
	f->next_off = off + (off_t)done;
	if (seq && done)
		smb_prefetch(f, f->next_off);
	return (ssize_t)done;
}

ssize_t smb_read(struct smb_file *f, void *buf, size_t size, off_t off)
{
	ssize_t n;

	if (off < 0)
		return -EINVAL;
	if (off >= f->st.st_size || size == 0)
		return 0;
	if (size > (size_t)(f->st.st_size - off))
		size = (size_t)(f->st.st_size - off);
	pthread_mutex_lock(&f->lock);
	n = smb_read_locked(f, buf, size, off, smb_deadline(f->share));
	pthread_mutex_unlock(&f->lock);
	if (n == -ETIMEDOUT)
		smb_share_fail(f->share, "%s gave no answer within %d s",
			       f->share->base, f->share->timeout_ms / 1000);
	return n;
}

/* ---- health ----------------------------------------------------------- */

void smb_health(struct smb_share *s, struct smb_health *h)
{
	pthread_mutex_lock(&s->lock);
	h->reachable = s->reachable;
	h->latency_ms = s->latency_ms;
	snprintf(h->last_error, sizeof(h->last_error), "%s", s->last_error);
	h->last_error_at = s->last_error_at;
	h->last_ok_at = s->last_ok_at;
	pthread_mutex_unlock(&s->lock);
}

void smb_probe(struct smb_share *s)
{
	struct smb_req *r;

	pthread_mutex_lock(&s->lock);
	if (s->probing || smb_gate_locked(s) ||
	    (s->checked_at &&
	     now_mono_ms() - s->checked_at < s->o.probe_age_ms)) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	r = smb_req_new(SMB_OP_PROBE, s->base);
	if (r) {
		s->probing = true;
		smb_enqueue_locked(smb_slot_pick(s, false), r);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- set-up ----------------------------------------------------------- */

const char *smb_share_name(const struct smb_share *s)
{
	return s->name;
}

static int smb_share_start(struct smb_share *s, char *err, size_t errlen)
{
	int i, rc;

	for (i = 0; i < s->nslots; i++) {
		struct smb_slot *sl = &s->slots[i];

		sl->share = s;
		pthread_cond_init(&sl->wake, NULL);
		rc = smb_ctx_open(sl);
		if (rc) {
			snprintf(err, errlen,
				 "cannot make a libsmbclient "
				 "context: %s",
				 strerror(-rc));
			return rc;
		}
	}
	for (i = 0; i < s->nslots; i++) {
		struct smb_slot *sl = &s->slots[i];

		rc = pthread_create(&sl->thread, NULL, smb_worker, sl);
		if (rc) {
			snprintf(err, errlen, "cannot start a worker: %s",
				 strerror(rc));
			return -rc;
		}
		sl->started = true;
	}
	return 0;
}

int smb_share_new(const struct conf_share *cs, const struct smb_opts *o,
		  struct smb_share **out, char *err, size_t errlen)
{
	struct smb_share *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	cond_init_mono(&s->dcond);
	s->reachable = -1;
	s->latency_ms = -1;
	if (o)
		s->o = *o;
	else
		smb_opts_default(&s->o);
	if (s->o.pool_size < 1)
		s->o.pool_size = 1;
	if (s->o.pool_size > SMB_MAX_POOL)
		s->o.pool_size = SMB_MAX_POOL;
	if (s->o.ra_min < 4096)
		s->o.ra_min = 4096;
	if (s->o.ra_max < s->o.ra_min)
		s->o.ra_max = s->o.ra_min;
	s->nslots = s->o.pool_size;
	s->timeout_ms = (cs->timeout > 0 ? cs->timeout : 20) * 1000;
	/* A listing lives at least a second: lookups walk through it. */
	s->ttl_ms = (cs->dir_cache_ttl > 1 ? cs->dir_cache_ttl : 1) * 1000;

	rc = smb_url_parse(cs->url, &s->base, err, errlen);
	if (rc)
		goto out_free;
	s->name = xstrdup(cs->name ? cs->name : "");
	s->user = xstrdup(cs->user ? cs->user : "");
	s->password = xstrdup(cs->password ? cs->password : "");
	s->domain = xstrdup(cs->domain ? cs->domain : "");
	if (!s->name || !s->user || !s->password || !s->domain) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out_free;
	}
	rc = smb_share_start(s, err, errlen);
	if (rc)
		goto out_free;
	*out = s;
	return 0;

out_free:
	smb_share_free(s);
	return rc;
}

/* Joins a worker, or lets it go when it is stuck past @ms. */
static bool smb_join(pthread_t t, int ms)
{
	struct timespec ts = deadline_after_ms(ms);

	if (pthread_timedjoin_np(t, NULL, &ts) == 0)
		return true;
	pthread_detach(t);
	return false;
}

void smb_share_free(struct smb_share *s)
{
	struct smb_req *r;
	bool stuck = false;
	size_t i;
	int k;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for (k = 0; k < s->nslots; k++)
		if (s->slots[k].started)
			pthread_cond_signal(&s->slots[k].wake);
	pthread_mutex_unlock(&s->lock);
	for (k = 0; k < s->nslots; k++) {
		if (!s->slots[k].started)
			continue;
		if (!smb_join(s->slots[k].thread, 500))
			stuck = true;
	}
	/* XXX: a worker still inside libsmbclient keeps the share. */
	if (stuck)
		return;
	for (k = 0; k < s->nslots; k++) {
		smb_ctx_free(&s->slots[k]);
		pthread_cond_destroy(&s->slots[k].wake);
		while ((r = s->slots[k].head)) {
			s->slots[k].head = r->next;
			smb_req_put_locked(r);
		}
	}
	for (i = 0; i < SMB_DCACHE_BUCKETS; i++)
		while (s->dc[i])
			smb_dc_unlink(s, &s->dc[i]);
	pthread_cond_destroy(&s->dcond);
	pthread_mutex_destroy(&s->lock);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->user);
	free(s->domain);
	free(s->name);
	free(s->base);
	free(s);
}
