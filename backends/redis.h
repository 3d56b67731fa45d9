/*
 * redis: the Redis client of the programs that share state between
 * hosts ([redis] in the config), over hiredis.  Owns connecting
 * (redis://[:password@]host[:port][/db], unix:/path[?db=N]), AUTH and
 * SELECT, the [redis] timeout on every call, a small locked pool of
 * connections, reconnecting with backoff, and the one "redis down" and
 * "redis back" log lines.  It knows no keys: callers build commands.
 */
#ifndef SAPB1_REDIS_H
#define SAPB1_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RDS_POOL_MAX 16 /* connections kept by one process */

struct rds_opts {
	const char *url;
	const char *password; /* NULL or empty: no AUTH */
	int timeout_ms;	      /* connect, and each read or write */
};

/* What health reports show. */
struct rds_status {
	bool configured;
	bool up;
	int64_t latency_us; /* of the last PING, -1 before one */
	uint64_t errors;    /* failed calls since start */
	char last_error[256];
};

/*
 * Checks @o's URL and keeps a copy of @o; connects nobody yet (so it
 * is safe before fork).  0, or -EINVAL with the reason in @err.  Sets
 * SIGPIPE to ignored when it is at its default, as writes to a server
 * that went away must fail, not kill the program.
 */
int rds_init(const struct rds_opts *o, char *err, size_t errlen);
/* Closes the pool; no call may be in progress. */
void rds_shutdown(void);

struct rds_conn;

/*
 * A connection from the pool, made when none is idle.  NULL at once
 * while Redis is down and its next retry is not due, or when every
 * connection stays busy for the timeout.  Never blocks longer than the
 * timeout (a connect) plus a wait of the timeout for a busy pool.
 */
struct rds_conn *rds_get(void);
/* Gives @c back; one that failed is closed instead. */
void rds_put(struct rds_conn *c);

/*
 * Runs one command (hiredis format, or argv with lengths) and returns
 * its reply, to be freed with freeReplyObject, or NULL when the link
 * failed: @c is then broken, Redis is marked down (logged once) and
 * every later call on @c fails at once.  An error reply of the server
 * is returned as such; it does not break the link.
 */
redisReply *rds_cmd(struct rds_conn *c, const char *fmt, ...);
redisReply *rds_cmdv(struct rds_conn *c, int argc, const char **argv,
		     const size_t *lens);

/*
 * A connection of its own, outside the pool, for SUBSCRIBE: made only
 * when Redis is up or its retry is due, else NULL.  Close with
 * rds_close.
 */
struct rds_conn *rds_open(void);
void rds_close(struct rds_conn *c);
/* The hiredis context, for a caller that reads replies by itself. */
redisContext *rds_ctx(struct rds_conn *c);
/* Marks @c broken and Redis down because of @why (logged once). */
void rds_fail(struct rds_conn *c, const char *why);
/* Records a successful round trip of @us microseconds (Redis is up). */
void rds_note_ok(int64_t us);

/* Milliseconds until a reconnect is due; 0 when up or due now. */
int64_t rds_retry_in_ms(void);

void rds_status(struct rds_status *st);

/* The server's URL without a password, for messages. */
const char *rds_url(void);

#endif
