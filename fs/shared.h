/*
 * shared: report snapshots shared between hosts through Redis ([redis]),
 * the glue between snap.c and backends/redis.c.  Owns the keys, taking a
 * finished snapshot from Redis instead of running, the lock that makes
 * one host run while the others wait, storing a run's files, and the
 * "stale" and "done" events (publishing them, and hearing them in a
 * thread that marks instances stale and drops the kernel's pages).
 * Without [redis], or in a build without hiredis, every call is a no-op.
 */
#ifndef SAPB1_FS_SHARED_H
#define SAPB1_FS_SHARED_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "render.h"
#include "util.h"

/* One run of an instance, as snap.c describes it to this layer. */
struct shared_run {
	const char *key; /* the instance key; only "reports/..." is shared */
	uint64_t def_hash;
	enum csv_dialect csv;
	long row_limit;
	unsigned formats;
	int ttl;	       /* seconds */
	int timeout;	       /* the source's, seconds: the longest wait */
	char *const *paths;    /* per format, where its file goes */
	int64_t not_before_ms; /* the last local touch (wall clock) */
	/* filled by shared_run_begin when it took the snapshot */
	time_t started, done;
	uint64_t rows;
	bool truncated;
	int64_t ms;
	/* private to shared.c */
	bool locked;
	bool have_epoch;
	char token[48];
	char epoch[24];
	int64_t started_ms;
	uint64_t hash;
};

#ifdef HAVE_REDIS

/* Reads [redis]; connects nobody yet.  0, or -1 with a logged reason. */
int shared_init(const struct conf *c);
/* After the last run ended and shared_detach. */
void shared_shutdown(void);

/*
 * Starts hearing events and dropping the kernel's pages of what they
 * name (after daemonizing: it starts a thread); shared_detach stops it.
 */
void shared_attach(void);
void shared_detach(void);

/*
 * Before a run, outside every lock.  True when a complete, fresh
 * snapshot (started after not_before_ms) was taken from Redis into
 * @sr->paths, with its times and rows in @sr.  False when the caller
 * runs: holding the cross-host lock when another host was not running
 * it, after waiting at most @sr->timeout for a host that was, or at
 * once when Redis is down.  Either way shared_run_end follows.
 */
bool shared_run_begin(struct shared_run *sr);
/*
 * After the snapshot was published locally: when @ok and holding the
 * lock, stores its files (if none is over max_object) and its meta;
 * then says "done" and releases the lock.  @started is the run's.
 */
void shared_run_end(struct shared_run *sr, bool ok, time_t started,
		    uint64_t rows, bool truncated);

/*
 * A touch here of @sr's instance (key and definition filled): its
 * shared snapshot is void, and other hosts hear "stale".
 */
void shared_touch(const struct shared_run *sr);
/* @key's definition changed here: other hosts hear "stale". */
void shared_stale(const char *key);

/* "null", or {"up", "url", "latency_ms", "last_error"}. */
void shared_health_json(struct strbuf *sb);
void shared_metrics(struct strbuf *sb);

#else

static inline int shared_init(const struct conf *c)
{
	if (c->redis_url)
		log_msg(LOG_WARNING, "shared",
			"[redis] is set, but this build has no hiredis: "
			"this host runs alone");
	return 0;
}
static inline void shared_shutdown(void)
{
}
static inline void shared_attach(void)
{
}
static inline void shared_detach(void)
{
}
static inline bool shared_run_begin(struct shared_run *sr)
{
	(void)sr;
	return false;
}
static inline void shared_run_end(struct shared_run *sr, bool ok,
				  time_t started, uint64_t rows, bool truncated)
{
	(void)sr;
	(void)ok;
	(void)started;
	(void)rows;
	(void)truncated;
}
static inline void shared_touch(const struct shared_run *sr)
{
	(void)sr;
}
static inline void shared_stale(const char *key)
{
	(void)key;
}
static inline void shared_health_json(struct strbuf *sb)
{
	strbuf_adds(sb, "null");
}
static inline void shared_metrics(struct strbuf *sb)
{
	(void)sb;
}

#endif

#endif
