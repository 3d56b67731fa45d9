/*
 * shared: see shared.h.
 *
 * Keys, where <key> is the instance key ("reports/<name>[/<p>=<v>...]")
 * and <hash> the definition's hash mixed with the settings that change
 * a file's bytes (csv dialect, number_locale, timezone, row limit):
 *   sapb1fs:snap:<key>:<hash>:<ext>  a format's file, expiring with ttl
 *   sapb1fs:meta:<key>:<hash>        complete, gen, epoch, times, rows,
 *                                    formats and sizes of the snapshot
 *   sapb1fs:lock:<key>               the run lock: a token, with expiry
 *   sapb1fs:tmp:<key>:<hash>:<gen>:<ext>  a run's file while uploading
 *   sapb1fs:events                   channel of "done <key>", "stale <key>"
 *
 * Why a reader never gets a mix of two runs, nor one older than a
 * touch: a run uploads its files under temporary keys, and one Lua
 * script renames them all and writes the meta, only if the meta's epoch
 * is still the one read when the run took its lock.  A touch increments
 * the epoch and clears "complete".  A reader copies the files, then
 * checks that the meta still names the same gen.
 *
 * A host hears its own events on its subscription: each one it
 * publishes is remembered for a few seconds and skipped once when heard.
 */
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "inval.h"
#include "log.h"
#include "redis.h"
#include "report.h"
#include "snap.h"
#include "source.h"

#define SHARED_CHANNEL "sapb1fs:events"
#define SHARED_CHUNK (1 << 20)	     /* bytes per GETRANGE or APPEND */
#define SHARED_POLL_MS 200	     /* re-check while another host runs */
#define SHARED_LOCK_MS 10000	     /* a lock lives unless renewed */
#define SHARED_TMP_SLACK_MS 30000    /* uploads outlive the timeout by */
#define SHARED_TOUCH_KEEP_MS 3600000 /* a touch outlives any run */
#define SHARED_PING_MS 2000	     /* the subscriber's PING interval */
#define SHARED_ECHO_MS 10000	     /* own events are awaited this long */
#define SHARED_ECHO_MAX 64
#define SHARED_KEY_MAX (PATH_MAX + 160)

static const struct conf *conf;
static bool enabled;
static char host_id[24]; /* random, names our gens and lock tokens */
static uint64_t seq;

/* events heard, and our own awaited */
struct echo {
	char *msg;
	int64_t until;
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static uint64_t ev_done_seq;
static bool subscribed;
static struct echo echoes[SHARED_ECHO_MAX];

/* the subscriber thread */
static pthread_t sub_tid;
static bool sub_started;
static int wake[2] = {-1, -1};
static bool stopping;

/* locks we hold, renewed by the subscriber thread while runs go on */
struct held {
	struct held *next;
	char *lkey;
	char token[48];
};

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static struct held *helds;

static uint64_t n_hit, n_miss, n_stored, n_skipped, n_store_failed;
static uint64_t n_lock_taken, n_lock_waited, n_lock_timeout;
static uint64_t n_ev_stale, n_ev_done;

#define COUNT(c) __atomic_add_fetch(&(c), 1, __ATOMIC_RELAXED)
#define LOAD(c) ((unsigned long long)__atomic_load_n(&(c), __ATOMIC_RELAXED))

/* Commits a run: KEYS meta, then tmp/final pairs; ARGV epoch, ttl ms,
 * one size per pair, then the meta's field/value pairs. */
static const char commit_lua[] =
    "local e = redis.call('HGET', KEYS[1], 'epoch') or ''\n"
    "if e ~= ARGV[1] then return 0 end\n"
    "local n = (#KEYS - 1) / 2\n"
    "for i = 1, n do\n"
    "  local t = KEYS[2 * i]\n"
    "  if redis.call('EXISTS', t) == 0 or\n"
    "     redis.call('STRLEN', t) ~= tonumber(ARGV[2 + i]) then\n"
    "    return -1\n"
    "  end\n"
    "end\n"
    "for i = 1, n do\n"
    "  redis.call('RENAME', KEYS[2 * i], KEYS[2 * i + 1])\n"
    "  redis.call('PEXPIRE', KEYS[2 * i + 1], ARGV[2])\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 3 + n))\n"
    "if e ~= '' then redis.call('HSET', KEYS[1], 'epoch', e) end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "return 1\n";

/* Voids the snapshot: KEYS meta; ARGV how long a new meta lives. */
static const char touch_lua[] = "redis.call('HINCRBY', KEYS[1], 'epoch', 1)\n"
				"redis.call('HDEL', KEYS[1], 'complete')\n"
				"if redis.call('PTTL', KEYS[1]) < 0 then\n"
				"  redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
				"end\n"
				"return 1\n";

/* Extends a lock only if it is still ours: KEYS lock; ARGV token, ms. */
static const char renew_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 0\n";

/* Releases a lock only if it is still ours: KEYS lock; ARGV token. */
static const char unlock_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

/* --- keys ------------------------------------------------------------- */

static bool key_shared(const char *key)
{
	return enabled && !strncmp(key, "reports/", 8);
}

static uint64_t run_hash(const struct shared_run *sr)
{
	struct strbuf sb = STRBUF_INIT;
	uint64_t h = sr->def_hash;

	strbuf_addf(&sb, "%016llx|csv=%d|limit=%ld|tr=%d|tz=%s",
		    (unsigned long long)sr->def_hash, (int)sr->csv,
		    sr->row_limit, conf->tr_numbers ? 1 : 0,
		    conf->timezone ? conf->timezone : "");
	if (sb.buf)
		h = hash64(sb.buf, sb.len);
	strbuf_release(&sb);
	return h;
}

static void key_meta(char *buf, const struct shared_run *sr)
{
	snprintf(buf, SHARED_KEY_MAX, "sapb1fs:meta:%s:%016llx", sr->key,
		 (unsigned long long)sr->hash);
}

static void key_snap(char *buf, const struct shared_run *sr, int fmt)
{
	snprintf(buf, SHARED_KEY_MAX, "sapb1fs:snap:%s:%016llx:%s", sr->key,
		 (unsigned long long)sr->hash, render_fmt_ext(fmt));
}

static void key_tmp(char *buf, const struct shared_run *sr, const char *gen,
		    int fmt)
{
	snprintf(buf, SHARED_KEY_MAX, "sapb1fs:tmp:%s:%016llx:%s:%s", sr->key,
		 (unsigned long long)sr->hash, gen, render_fmt_ext(fmt));
}

static void key_lock(char *buf, const struct shared_run *sr)
{
	snprintf(buf, SHARED_KEY_MAX, "sapb1fs:lock:%s", sr->key);
}

static void new_id(char *buf, size_t len)
{
	snprintf(
	    buf, len, "%s-%llu", host_id,
	    (unsigned long long)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
}

/* --- events ----------------------------------------------------------- */

static void echo_add(const char *msg)
{
	int64_t now = now_mono_ms();
	struct echo *slot = &echoes[0];

	for (size_t i = 0; i < SHARED_ECHO_MAX; i++) {
		if (!echoes[i].msg || echoes[i].until < now) {
			slot = &echoes[i];
			break;
		}
		if (echoes[i].until < slot->until)
			slot = &echoes[i];
	}
	free(slot->msg);
	slot->msg = xstrdup(msg);
	slot->until = now + SHARED_ECHO_MS;
}

/* Forgets one awaited @msg; true when there was one. */
static bool echo_take_locked(const char *msg)
{
	int64_t now = now_mono_ms();

	for (size_t i = 0; i < SHARED_ECHO_MAX; i++) {
		if (echoes[i].msg && echoes[i].until >= now &&
		    !strcmp(echoes[i].msg, msg)) {
			free(echoes[i].msg);
			echoes[i].msg = NULL;
			return true;
		}
	}
	return false;
}

static void echo_clear_locked(void)
{
	for (size_t i = 0; i < SHARED_ECHO_MAX; i++) {
		free(echoes[i].msg);
		echoes[i].msg = NULL;
	}
}

/* Publishes "@what @key"; our own subscriber will skip it. */
static void publish(struct rds_conn *c, const char *what, const char *key)
{
	struct strbuf msg = STRBUF_INIT;
	bool await;
	redisReply *r;

	if (strbuf_addf(&msg, "%s %s", what, key) < 0)
		return;
	pthread_mutex_lock(&ev_lock);
	await = subscribed;
	if (await)
		echo_add(msg.buf);
	pthread_mutex_unlock(&ev_lock);
	r = rds_cmd(c, "PUBLISH %s %b", SHARED_CHANNEL, msg.buf, msg.len);
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		pthread_mutex_lock(&ev_lock);
		if (await)
			echo_take_locked(msg.buf);
		pthread_mutex_unlock(&ev_lock);
	}
	if (r)
		freeReplyObject(r);
	strbuf_release(&msg);
}

static uint64_t ev_seq(void)
{
	uint64_t s;

	pthread_mutex_lock(&ev_lock);
	s = ev_done_seq;
	pthread_mutex_unlock(&ev_lock);
	return s;
}

/* Waits up to @ms for a "done" after @seen. */
static void ev_wait(uint64_t seen, int64_t ms)
{
	struct timespec until = deadline_after_ms(ms);

	pthread_mutex_lock(&ev_lock);
	while (ev_done_seq == seen && !stopping)
		if (pthread_cond_timedwait(&ev_cond, &ev_lock, &until) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&ev_lock);
}

/* --- taking a snapshot ------------------------------------------------ */

struct meta {
	bool complete;
	char gen[64];
	time_t started, done;
	int64_t started_ms, done_ms;
	uint64_t rows;
	bool truncated;
	unsigned formats;
	int64_t size[FMT_COUNT];
};

static void meta_field(struct meta *m, const char *k, const char *v)
{
	int fmt;

	if (!strcmp(k, "complete"))
		m->complete = !strcmp(v, "1");
	else if (!strcmp(k, "gen"))
		snprintf(m->gen, sizeof(m->gen), "%s", v);
	else if (!strcmp(k, "started"))
		m->started = (time_t)strtoll(v, NULL, 10);
	else if (!strcmp(k, "done"))
		m->done = (time_t)strtoll(v, NULL, 10);
	else if (!strcmp(k, "started_ms"))
		m->started_ms = strtoll(v, NULL, 10);
	else if (!strcmp(k, "done_ms"))
		m->done_ms = strtoll(v, NULL, 10);
	else if (!strcmp(k, "rows"))
		m->rows = strtoull(v, NULL, 10);
	else if (!strcmp(k, "truncated"))
		m->truncated = !strcmp(v, "1");
	else if (!strcmp(k, "formats"))
		m->formats = (unsigned)strtoul(v, NULL, 10);
	else if (!strncmp(k, "size_", 5) &&
		 (fmt = render_fmt_parse(k + 5)) >= 0)
		m->size[fmt] = strtoll(v, NULL, 10);
}

static void meta_parse(const redisReply *r, struct meta *m)
{
	memset(m, 0, sizeof(*m));
	for (int f = 0; f < FMT_COUNT; f++)
		m->size[f] = -1;
	if (r->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];

		if (k->type == REDIS_REPLY_STRING &&
		    v->type == REDIS_REPLY_STRING)
			meta_field(m, k->str, v->str);
	}
}

static bool meta_usable(const struct meta *m, const struct shared_run *sr)
{
	if (!m->complete || !m->gen[0])
		return false;
	if ((m->formats & sr->formats) != sr->formats)
		return false;
	if (now_real_ms() - m->done_ms >= (int64_t)sr->ttl * 1000)
		return false;
	if (m->started_ms < sr->not_before_ms)
		return false;
	for (int f = 0; f < FMT_COUNT; f++)
		if ((sr->formats & (1u << f)) && m->size[f] < 0)
			return false;
	return true;
}

enum { TAKE_REDIS = -1, TAKE_NONE = 0, TAKE_OK = 1 };

/* Copies @key into @path; TAKE_OK, TAKE_NONE (not as the meta said). */
static int fetch_file(struct rds_conn *c, const char *key, const char *path,
		      int64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int64_t off = 0;
	int rc = TAKE_OK;

	if (fd < 0)
		return TAKE_NONE;
	while (off < size && rc == TAKE_OK) {
		int64_t end =
		    off + SHARED_CHUNK < size ? off + SHARED_CHUNK : size;
		redisReply *r = rds_cmd(c, "GETRANGE %s %lld %lld", key,
					(long long)off, (long long)end - 1);

		if (!r)
			rc = TAKE_REDIS;
		else if (r->type != REDIS_REPLY_STRING || r->len == 0 ||
			 fd_write_all(fd, r->str, r->len) < 0)
			rc = TAKE_NONE;
		else
			off += (int64_t)r->len;
		if (r)
			freeReplyObject(r);
	}
	if (close(fd) < 0 && rc == TAKE_OK)
		rc = TAKE_NONE;
	return rc;
}

/* Whether the meta still names @gen as complete, after copying. */
static int meta_still(struct rds_conn *c, const char *mkey, const char *gen)
{
	redisReply *r = rds_cmd(c, "HMGET %s gen complete", mkey);
	int rc = TAKE_NONE;

	if (!r)
		return TAKE_REDIS;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING &&
	    !strcmp(r->element[0]->str, gen) &&
	    !strcmp(r->element[1]->str, "1"))
		rc = TAKE_OK;
	freeReplyObject(r);
	return rc;
}

static void unlink_files(const struct shared_run *sr)
{
	for (int f = 0; f < FMT_COUNT; f++)
		if ((sr->formats & (1u << f)) && sr->paths[f])
			unlink(sr->paths[f]);
}

static int take(struct rds_conn *c, struct shared_run *sr)
{
	char mkey[SHARED_KEY_MAX], skey[SHARED_KEY_MAX];
	int64_t t0 = now_mono_ms();
	struct meta m;
	redisReply *r;
	int rc = TAKE_OK;

	key_meta(mkey, sr);
	r = rds_cmd(c, "HGETALL %s", mkey);
	if (!r)
		return TAKE_REDIS;
	meta_parse(r, &m);
	freeReplyObject(r);
	if (!meta_usable(&m, sr))
		return TAKE_NONE;
	for (int f = 0; f < FMT_COUNT && rc == TAKE_OK; f++) {
		if (!(sr->formats & (1u << f)))
			continue;
		key_snap(skey, sr, f);
		rc = fetch_file(c, skey, sr->paths[f], m.size[f]);
	}
	if (rc == TAKE_OK)
		rc = meta_still(c, mkey, m.gen);
	if (rc != TAKE_OK) {
		unlink_files(sr);
		return rc;
	}
	sr->started = m.started;
	sr->done = m.done;
	sr->rows = m.rows;
	sr->truncated = m.truncated;
	sr->ms = now_mono_ms() - t0;
	return TAKE_OK;
}

/* --- locks ------------------------------------------------------------ */

static void held_add(const char *lkey, const char *token)
{
	struct held *h = calloc(1, sizeof(*h));

	if (!h || !(h->lkey = xstrdup(lkey))) {
		free(h);
		return; /* not renewed: it may expire during a long run */
	}
	snprintf(h->token, sizeof(h->token), "%s", token);
	pthread_mutex_lock(&held_lock);
	h->next = helds;
	helds = h;
	pthread_mutex_unlock(&held_lock);
}

static void held_remove(const char *token)
{
	struct held *h = NULL;

	pthread_mutex_lock(&held_lock);
	for (struct held **pp = &helds; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->token, token)) {
			h = *pp;
			*pp = h->next;
			break;
		}
	}
	pthread_mutex_unlock(&held_lock);
	if (h)
		free(h->lkey);
	free(h);
}

/* Extends every lock we hold; from the subscriber thread. */
static void held_renew(void)
{
	struct strbuf keys = STRBUF_INIT;
	struct rds_conn *c;
	size_t off = 0;

	/* key NUL token NUL ..., so no lock is held during the calls */
	pthread_mutex_lock(&held_lock);
	for (struct held *h = helds; h; h = h->next) {
		strbuf_add(&keys, h->lkey, strlen(h->lkey) + 1);
		strbuf_add(&keys, h->token, strlen(h->token) + 1);
	}
	pthread_mutex_unlock(&held_lock);
	if (!keys.len || !(c = rds_get()))
		goto out_release;
	while (off < keys.len) {
		const char *k = keys.buf + off;
		const char *t = k + strlen(k) + 1;
		redisReply *r = rds_cmd(c, "EVAL %s 1 %s %s %d", renew_lua, k,
					t, SHARED_LOCK_MS);

		if (!r)
			break;
		freeReplyObject(r);
		off = (size_t)(t + strlen(t) + 1 - keys.buf);
	}
	rds_put(c);
out_release:
	strbuf_release(&keys);
}

/* 1: the lock is ours; 0: another host holds it; -1: Redis failed. */
static int lock_take(struct rds_conn *c, struct shared_run *sr)
{
	char lkey[SHARED_KEY_MAX], mkey[SHARED_KEY_MAX];
	redisReply *r;
	bool ours;

	key_lock(lkey, sr);
	new_id(sr->token, sizeof(sr->token));
	r = rds_cmd(c, "SET %s %s NX PX %d", lkey, sr->token, SHARED_LOCK_MS);
	if (!r)
		return -1;
	ours = r->type == REDIS_REPLY_STATUS;
	if (r->type == REDIS_REPLY_ERROR) {
		log_msg(LOG_ERR, "shared", "cannot lock %s in redis: %s",
			sr->key, r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	if (!ours)
		return 0;
	sr->locked = true;
	sr->started_ms = now_real_ms();
	held_add(lkey, sr->token);
	/* The epoch now: a touch from here on voids this run's store. */
	key_meta(mkey, sr);
	r = rds_cmd(c, "HGET %s epoch", mkey);
	if (!r)
		return 1;
	snprintf(sr->epoch, sizeof(sr->epoch), "%s",
		 r->type == REDIS_REPLY_STRING ? r->str : "");
	freeReplyObject(r);
	sr->have_epoch = true;
	return 1;
}

static void log_taken(const struct shared_run *sr)
{
	log_msg(LOG_INFO, "run", "%s: %llu rows taken from redis in %lld ms",
		sr->key, (unsigned long long)sr->rows, (long long)sr->ms);
}

bool shared_run_begin(struct shared_run *sr)
{
	bool waited = false, answered = false;
	int64_t deadline, left;

	sr->locked = false;
	sr->have_epoch = false;
	if (!key_shared(sr->key) || sr->ttl <= 0)
		return false;
	sr->hash = run_hash(sr);
	deadline = now_mono_ms() + (int64_t)sr->timeout * 1000;
	for (;;) {
		uint64_t seen = ev_seq();
		struct rds_conn *c = rds_get();
		int got, lk = -1;

		if (!c)
			break;
		got = take(c, sr);
		if (got == TAKE_NONE)
			lk = lock_take(c, sr);
		rds_put(c);
		if (got == TAKE_OK) {
			COUNT(n_hit);
			log_taken(sr);
			return true;
		}
		answered = answered || got == TAKE_NONE;
		if (lk > 0)
			COUNT(n_lock_taken);
		if (lk != 0)
			break;
		if (!waited)
			COUNT(n_lock_waited);
		waited = true;
		left = deadline - now_mono_ms();
		if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
			break; /* unmounting: do not wait for other hosts */
		if (left <= 0) {
			COUNT(n_lock_timeout);
			log_msg(LOG_WARNING, "shared",
				"%s: another host's run did not end within "
				"%d s; running it here too",
				sr->key, sr->timeout);
			break;
		}
		ev_wait(seen, left < SHARED_POLL_MS ? left : SHARED_POLL_MS);
	}
	if (answered)
		COUNT(n_miss);
	return false;
}

/* --- storing a run ---------------------------------------------------- */

/* 0 for a reply of @type; an error reply of the server is logged. */
static int upload_reply(redisReply *r, int type, const char *what)
{
	int rc = r && r->type == type ? 0 : -1;

	if (r && r->type == REDIS_REPLY_ERROR)
		log_msg(LOG_WARNING, "shared", "cannot store %s in redis: %s",
			what, r->str);
	if (r)
		freeReplyObject(r);
	return rc;
}

/* Uploads @fd's @size bytes under @key (a file of @what); 0, or -1. */
static int upload(struct rds_conn *c, const char *what, const char *key, int fd,
		  int64_t size, char *buf, long long px)
{
	redisReply *r = rds_cmd(c, "SET %s %b PX %lld", key, "", (size_t)0, px);
	int rc = upload_reply(r, REDIS_REPLY_STATUS, what);
	int64_t off = 0;

	while (rc == 0 && off < size) {
		ssize_t n = pread(fd, buf, SHARED_CHUNK, off);

		if (n <= 0)
			return -1;
		r = rds_cmd(c, "APPEND %s %b", key, buf, (size_t)n);
		rc = upload_reply(r, REDIS_REPLY_INTEGER, what);
		off += n;
	}
	return rc;
}

/* The argv of the commit script, built up in one place. */
#define ARGV_MAX 64

struct argv {
	const char *v[ARGV_MAX];
	size_t len[ARGV_MAX];
	char num[ARGV_MAX][24];
	int n;
};

static void argv_add(struct argv *a, const char *s)
{
	if (a->n == ARGV_MAX)
		return; /* cannot happen: FMT_COUNT bounds the count */
	a->len[a->n] = strlen(s);
	a->v[a->n++] = s;
}

static void argv_num(struct argv *a, long long v)
{
	if (a->n == ARGV_MAX)
		return;
	snprintf(a->num[a->n], sizeof(a->num[0]), "%lld", v);
	argv_add(a, a->num[a->n]);
}

static void argv_field(struct argv *a, const char *name, long long v)
{
	argv_add(a, name);
	argv_num(a, v);
}

struct stored {
	int fd[FMT_COUNT];
	int64_t size[FMT_COUNT];
	char gen[40];
	char tmp[FMT_COUNT][SHARED_KEY_MAX];
	char dst[FMT_COUNT][SHARED_KEY_MAX];
	char field[FMT_COUNT][16];
};

/* EVAL, the script, its keys, then epoch, ttl and the sizes. */
static void commit_head(struct argv *a, const struct shared_run *sr,
			const struct stored *st, const char *mkey)
{
	int nf = 0;

	for (int f = 0; f < FMT_COUNT; f++)
		nf += (sr->formats >> f) & 1;
	argv_add(a, "EVAL");
	argv_add(a, commit_lua);
	argv_num(a, 1 + 2 * nf);
	argv_add(a, mkey);
	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(sr->formats & (1u << f)))
			continue;
		argv_add(a, st->tmp[f]);
		argv_add(a, st->dst[f]);
	}
	argv_add(a, sr->epoch);
	argv_num(a, (long long)sr->ttl * 1000);
	for (int f = 0; f < FMT_COUNT; f++)
		if (sr->formats & (1u << f))
			argv_num(a, (long long)st->size[f]);
}

/* The meta's fields, as a reader's meta_field() reads them. */
static void commit_meta(struct argv *a, const struct shared_run *sr,
			struct stored *st, time_t started, uint64_t rows,
			bool truncated)
{
	argv_field(a, "complete", 1);
	argv_add(a, "gen");
	argv_add(a, st->gen);
	argv_field(a, "started", (long long)started);
	argv_field(a, "started_ms", (long long)sr->started_ms);
	argv_field(a, "done", (long long)time(NULL));
	argv_field(a, "done_ms", (long long)now_real_ms());
	argv_field(a, "rows", (long long)rows);
	argv_field(a, "truncated", truncated);
	argv_field(a, "formats", sr->formats);
	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(sr->formats & (1u << f)))
			continue;
		snprintf(st->field[f], sizeof(st->field[f]), "size_%s",
			 render_fmt_ext(f));
		argv_field(a, st->field[f], (long long)st->size[f]);
	}
}

/* 1: stored; 0: touched while it ran; -1: failed. */
static int commit(struct rds_conn *c, const struct shared_run *sr,
		  struct stored *st, time_t started, uint64_t rows,
		  bool truncated)
{
	char mkey[SHARED_KEY_MAX];
	struct argv *a = calloc(1, sizeof(*a));
	redisReply *r;
	int rc = -1;

	if (!a)
		return -1;
	key_meta(mkey, sr);
	commit_head(a, sr, st, mkey);
	commit_meta(a, sr, st, started, rows, truncated);
	r = rds_cmdv(c, a->n, a->v, a->len);
	free(a);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		log_msg(LOG_ERR, "shared", "cannot store %s in redis: %s",
			sr->key, r->str);
	else if (r->type == REDIS_REPLY_INTEGER)
		rc = (int)r->integer;
	freeReplyObject(r);
	return rc;
}

/* Opens the run's files; false when one is gone or over max_object. */
static bool store_open(const struct shared_run *sr, struct stored *st)
{
	struct stat s;

	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(sr->formats & (1u << f)))
			continue;
		st->fd[f] = open(sr->paths[f], O_RDONLY | O_CLOEXEC);
		if (st->fd[f] < 0 || fstat(st->fd[f], &s) < 0)
			return false; /* replaced by a newer run already */
		st->size[f] = s.st_size;
		if ((uint64_t)s.st_size > conf->redis_max_object) {
			log_msg(LOG_INFO, "shared",
				"%s: the %s file has %lld bytes, over "
				"max_object; not shared",
				sr->key, render_fmt_ext(f),
				(long long)s.st_size);
			return false;
		}
	}
	return true;
}

/* Removes what a store that did not commit left (they expire anyway). */
static void tmp_drop(struct rds_conn *c, const struct shared_run *sr,
		     const struct stored *st)
{
	for (int f = 0; f < FMT_COUNT; f++) {
		redisReply *r;

		if (!(sr->formats & (1u << f)) || !st->tmp[f][0])
			continue;
		r = rds_cmd(c, "DEL %s", st->tmp[f]);
		if (!r)
			return;
		freeReplyObject(r);
	}
}

static void store(struct rds_conn *c, struct shared_run *sr, time_t started,
		  uint64_t rows, bool truncated)
{
	long long px = (long long)sr->timeout * 1000 + SHARED_TMP_SLACK_MS;
	struct stored *st = calloc(1, sizeof(*st));
	char *buf = malloc(SHARED_CHUNK);
	int rc = -1;

	if (!st || !buf)
		goto out_free;
	for (int f = 0; f < FMT_COUNT; f++)
		st->fd[f] = -1;
	if (!sr->have_epoch || !store_open(sr, st)) {
		COUNT(n_skipped);
		goto out_close;
	}
	new_id(st->gen, sizeof(st->gen));
	rc = 0;
	for (int f = 0; f < FMT_COUNT && rc == 0; f++) {
		if (!(sr->formats & (1u << f)))
			continue;
		key_tmp(st->tmp[f], sr, st->gen, f);
		key_snap(st->dst[f], sr, f);
		rc = upload(c, sr->key, st->tmp[f], st->fd[f], st->size[f], buf,
			    px);
	}
	if (rc == 0)
		rc = commit(c, sr, st, started, rows, truncated);
	if (rc == 1)
		COUNT(n_stored);
	else if (rc == 0)
		COUNT(n_skipped); /* touched while it ran */
	else
		COUNT(n_store_failed);
	if (rc != 1)
		tmp_drop(c, sr, st);
out_close:
	for (int f = 0; f < FMT_COUNT; f++)
		if (st->fd[f] >= 0)
			close(st->fd[f]);
out_free:
	free(buf);
	free(st);
}

static void lock_release(struct rds_conn *c, const struct shared_run *sr)
{
	char lkey[SHARED_KEY_MAX];
	redisReply *r;

	key_lock(lkey, sr);
	r = rds_cmd(c, "EVAL %s 1 %s %s", unlock_lua, lkey, sr->token);
	if (r)
		freeReplyObject(r);
}

void shared_run_end(struct shared_run *sr, bool ok, time_t started,
		    uint64_t rows, bool truncated)
{
	struct rds_conn *c;

	if (!sr->locked)
		return;
	sr->locked = false;
	c = rds_get();
	if (c) {
		if (ok)
			store(c, sr, started, rows, truncated);
		publish(c, "done", sr->key);
		lock_release(c, sr);
		rds_put(c);
	}
	held_remove(sr->token); /* else it expires by itself */
}

/* --- invalidation ----------------------------------------------------- */

void shared_touch(const struct shared_run *sr)
{
	struct shared_run k = *sr;
	char mkey[SHARED_KEY_MAX];
	struct rds_conn *c;
	redisReply *r;

	if (!key_shared(sr->key))
		return;
	c = rds_get();
	if (!c)
		return;
	k.hash = run_hash(&k);
	key_meta(mkey, &k);
	r = rds_cmd(c, "EVAL %s 1 %s %d", touch_lua, mkey,
		    SHARED_TOUCH_KEEP_MS);
	if (r)
		freeReplyObject(r);
	publish(c, "stale", sr->key);
	rds_put(c);
}

void shared_stale(const char *key)
{
	struct rds_conn *c;

	if (!key_shared(key))
		return;
	c = rds_get();
	if (!c)
		return;
	publish(c, "stale", key);
	rds_put(c);
}

/* Drops the kernel's pages and attributes of @key's files. */
static void invalidate(const char *key)
{
	char path[PATH_MAX], name[REPORT_NAME_MAX + 1];
	const char *p = key + 8; /* after "reports/" */
	size_t nlen = strcspn(p, "/");
	int off;

	if (nlen > REPORT_NAME_MAX)
		return;
	snprintf(name, sizeof(name), "%.*s", (int)nlen, p);
	off = snprintf(path, sizeof(path), "/reports/%s", name);
	for (p += nlen; *p == '/';) {
		const char *comp = p + 1, *end = strchr(comp, '/');
		const char *eq;

		if (!end)
			end = comp + strlen(comp);
		eq = memchr(comp, '=', (size_t)(end - comp));
		if (!eq || off >= (int)sizeof(path))
			return;
		off += snprintf(path + off, sizeof(path) - (size_t)off,
				"/%.*s/%.*s", (int)(eq - comp), comp,
				(int)(end - eq - 1), eq + 1);
		p = end;
	}
	for (int f = 0; f < FMT_COUNT && off < (int)sizeof(path); f++) {
		snprintf(path + off, sizeof(path) - (size_t)off, "/%s.%s", name,
			 render_fmt_ext(f));
		inval_post(path, 0);
	}
}

static void on_message(const char *msg)
{
	bool own;

	pthread_mutex_lock(&ev_lock);
	own = echo_take_locked(msg);
	if (!own && !strncmp(msg, "done ", 5)) {
		ev_done_seq++;
		pthread_cond_broadcast(&ev_cond);
	}
	pthread_mutex_unlock(&ev_lock);
	if (own)
		return;
	if (!strncmp(msg, "done ", 5)) {
		COUNT(n_ev_done);
	} else if (!strncmp(msg, "stale ", 6) && key_shared(msg + 6)) {
		COUNT(n_ev_stale);
		/* No lock of ours is held here: see the notes on FUSE. */
		if (inst_touch_remote(msg + 6))
			invalidate(msg + 6);
	}
}

/* --- the subscriber thread -------------------------------------------- */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool sub_stopping(void)
{
	return __atomic_load_n(&stopping, __ATOMIC_ACQUIRE);
}

/* Sleeps @ms, or less when we stop. */
static void sub_sleep(int64_t ms)
{
	struct pollfd p = {.fd = wake[0], .events = POLLIN};

	poll(&p, 1, (int)ms);
}

static void sub_subscribed(bool on)
{
	pthread_mutex_lock(&ev_lock);
	subscribed = on;
	echo_clear_locked();
	pthread_mutex_unlock(&ev_lock);
}

/* ["message", channel, payload] or ["pong", ""]; others are ignored. */
static void sub_reply(const redisReply *r, int64_t *ping_sent)
{
	const redisReply *kind;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		return;
	kind = r->element[0];
	if (kind->type != REDIS_REPLY_STRING)
		return;
	if (!strcmp(kind->str, "pong") && *ping_sent) {
		rds_note_ok(now_us() - *ping_sent);
		*ping_sent = 0;
	} else if (!strcmp(kind->str, "message") && r->elements == 3 &&
		   r->element[2]->type == REDIS_REPLY_STRING) {
		on_message(r->element[2]->str);
	}
}

static int sub_ping(struct rds_conn *c)
{
	redisContext *ctx = rds_ctx(c);
	int done = 0;

	if (redisAppendCommand(ctx, "PING") != REDIS_OK)
		return -1;
	while (!done)
		if (redisBufferWrite(ctx, &done) != REDIS_OK)
			return -1;
	return 0;
}

/* Reads what arrived; -1 when the link failed. */
static int sub_read(struct rds_conn *c, int64_t *ping_sent)
{
	redisContext *ctx = rds_ctx(c);
	void *reply;

	if (redisBufferRead(ctx) != REDIS_OK)
		return -1;
	for (;;) {
		if (redisGetReplyFromReader(ctx, &reply) != REDIS_OK)
			return -1;
		if (!reply)
			return 0;
		sub_reply(reply, ping_sent);
		freeReplyObject(reply);
	}
}

/* Serves one subscription until its link fails or we stop. */
static void sub_serve(struct rds_conn *c)
{
	int64_t ping_sent = 0, next_ping = now_mono_ms();
	int64_t limit = 3 * (int64_t)conf->redis_timeout;
	redisReply *r = rds_cmd(c, "SUBSCRIBE %s", SHARED_CHANNEL);
	char why[96];

	if (!r)
		return;
	freeReplyObject(r);
	sub_subscribed(true);
	if (limit < 1000)
		limit = 1000;
	while (!sub_stopping()) {
		struct pollfd p[2] = {{rds_ctx(c)->fd, POLLIN, 0},
				      {wake[0], POLLIN, 0}};

		if (ping_sent && now_us() - ping_sent > limit * 1000) {
			snprintf(why, sizeof(why),
				 "no answer to PING within %lld ms",
				 (long long)limit);
			rds_fail(c, why);
			break;
		}
		if (!ping_sent && now_mono_ms() >= next_ping) {
			ping_sent = now_us();
			if (sub_ping(c) < 0) {
				rds_fail(c, NULL);
				break;
			}
			next_ping = now_mono_ms() + SHARED_PING_MS;
			held_renew();
		}
		if (poll(p, 2, 250) > 0 && (p[0].revents & ~POLLOUT) &&
		    sub_read(c, &ping_sent) < 0 && !sub_stopping()) {
			rds_fail(c, NULL);
			break;
		}
	}
	sub_subscribed(false);
}

static void *sub_main(void *arg)
{
	(void)arg;
	while (!sub_stopping()) {
		struct rds_conn *c = rds_open();
		int64_t wait;

		if (c) {
			sub_serve(c);
			rds_close(c);
			continue;
		}
		wait = rds_retry_in_ms();
		sub_sleep(wait < 50 ? 50 : wait);
	}
	return NULL;
}

/* --- set-up and status ------------------------------------------------ */

int shared_init(const struct conf *c)
{
	struct rds_opts o = {c->redis_url, c->redis_password, c->redis_timeout};
	uint64_t r = 0;
	char err[256];

	conf = c;
	if (!c->redis_url)
		return 0;
	if (rds_init(&o, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "redis", "cannot use [redis] url: %s", err);
		return -1;
	}
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)now_real_ms() ^ ((uint64_t)getpid() << 32);
	snprintf(host_id, sizeof(host_id), "%016llx", (unsigned long long)r);
	enabled = true;
	return 0;
}

void shared_attach(void)
{
	if (!enabled || sub_started)
		return;
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_errno(LOG_ERR, "shared", errno,
			  "cannot start hearing other hosts");
		return;
	}
	stopping = false;
	if (pthread_create(&sub_tid, NULL, sub_main, NULL) != 0) {
		log_msg(LOG_ERR, "shared", "cannot start hearing other hosts");
		return;
	}
	sub_started = true;
}

void shared_detach(void)
{
	if (!sub_started)
		return;
	__atomic_store_n(&stopping, true, __ATOMIC_RELEASE);
	if (write(wake[1], "x", 1) < 0)
		log_errno(LOG_WARNING, "shared", errno,
			  "cannot wake the subscriber");
	pthread_mutex_lock(&ev_lock);
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
	pthread_join(sub_tid, NULL);
	sub_started = false;
	close(wake[0]);
	close(wake[1]);
	wake[0] = wake[1] = -1;
}

void shared_shutdown(void)
{
	shared_detach();
	if (!enabled)
		return;
	enabled = false;
	rds_shutdown();
	pthread_mutex_lock(&ev_lock);
	echo_clear_locked();
	pthread_mutex_unlock(&ev_lock);
}

void shared_health_json(struct strbuf *sb)
{
	struct rds_status st;

	if (!enabled) {
		strbuf_adds(sb, "null");
		return;
	}
	rds_status(&st);
	strbuf_addf(sb, "{\"up\": %s, \"url\": ", st.up ? "true" : "false");
	json_str(sb, rds_url());
	if (st.latency_us < 0)
		strbuf_adds(sb, ", \"latency_ms\": null");
	else
		strbuf_addf(sb, ", \"latency_ms\": %.3f",
			    (double)st.latency_us / 1000.0);
	strbuf_addf(sb, ", \"errors\": %llu, \"last_error\": ",
		    (unsigned long long)st.errors);
	if (st.last_error[0])
		json_str(sb, st.last_error);
	else
		strbuf_adds(sb, "null");
	strbuf_addc(sb, '}');
}

void shared_metrics(struct strbuf *sb)
{
	struct rds_status st;

	if (!enabled)
		return;
	rds_status(&st);
	strbuf_addf(
	    sb,
	    "# HELP sapb1fs_redis_up Whether Redis answers.\n"
	    "# TYPE sapb1fs_redis_up gauge\n"
	    "sapb1fs_redis_up %d\n"
	    "# HELP sapb1fs_redis_latency_seconds Round trip of the last "
	    "PING.\n"
	    "# TYPE sapb1fs_redis_latency_seconds gauge\n"
	    "sapb1fs_redis_latency_seconds %.6f\n"
	    "# HELP sapb1fs_redis_errors_total Calls to Redis that failed.\n"
	    "# TYPE sapb1fs_redis_errors_total counter\n"
	    "sapb1fs_redis_errors_total %llu\n",
	    st.up ? 1 : 0,
	    st.latency_us < 0 ? 0.0 : (double)st.latency_us / 1e6,
	    (unsigned long long)st.errors);
	strbuf_addf(
	    sb,
	    "# HELP sapb1fs_redis_snapshots_total Snapshots looked for in "
	    "Redis before a run.\n"
	    "# TYPE sapb1fs_redis_snapshots_total counter\n"
	    "sapb1fs_redis_snapshots_total{result=\"hit\"} %llu\n"
	    "sapb1fs_redis_snapshots_total{result=\"miss\"} %llu\n"
	    "# HELP sapb1fs_redis_stores_total Runs offered to Redis.\n"
	    "# TYPE sapb1fs_redis_stores_total counter\n"
	    "sapb1fs_redis_stores_total{result=\"stored\"} %llu\n"
	    "sapb1fs_redis_stores_total{result=\"skipped\"} %llu\n"
	    "sapb1fs_redis_stores_total{result=\"failed\"} %llu\n",
	    LOAD(n_hit), LOAD(n_miss), LOAD(n_stored), LOAD(n_skipped),
	    LOAD(n_store_failed));
	strbuf_addf(sb,
		    "# HELP sapb1fs_redis_locks_total Cross-host run locks.\n"
		    "# TYPE sapb1fs_redis_locks_total counter\n"
		    "sapb1fs_redis_locks_total{result=\"taken\"} %llu\n"
		    "sapb1fs_redis_locks_total{result=\"waited\"} %llu\n"
		    "sapb1fs_redis_locks_total{result=\"timeout\"} %llu\n"
		    "# HELP sapb1fs_redis_events_total Events heard from other "
		    "hosts.\n"
		    "# TYPE sapb1fs_redis_events_total counter\n"
		    "sapb1fs_redis_events_total{event=\"stale\"} %llu\n"
		    "sapb1fs_redis_events_total{event=\"done\"} %llu\n",
		    LOAD(n_lock_taken), LOAD(n_lock_waited),
		    LOAD(n_lock_timeout), LOAD(n_ev_stale), LOAD(n_ev_done));
}
