/*
 * driver: the small interface every source driver implements (odbc,
 * postgres, servicelayer), and the registry that finds one by name.
 *
 * A connection is used by one thread at a time; only drv_ops.cancel may
 * be called from another thread, to stop a statement past its deadline.
 * Drivers connect when asked (the caller connects lazily), return rows as
 * canonical text cells (value.h), and never log: they return a class of
 * error and a message for the caller to log once.
 */
#ifndef SAPB1_DRIVER_H
#define SAPB1_DRIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "value.h"

/* What a failure means for the caller. */
enum drv_status {
	DRV_OK = 0,
	DRV_ERR_QUERY = -1,   /* the statement failed; the link is fine */
	DRV_ERR_CONN = -2,    /* the link is broken: drop it, maybe retry */
	DRV_ERR_TIMEOUT = -3, /* cancelled at the deadline */
	DRV_ERR_AUTH = -4,    /* credentials refused: do not retry soon */
};

struct drv_param {
	const char *name;  /* placeholder name without ':' */
	const char *value; /* bound as text; NULL binds SQL NULL */
};

struct drv_conn;

struct drv_ops {
	const char *name; /* the [source] driver = value */

	/*
	 * Opens a connection for @src within @timeout_ms.  DRV_OK and *out,
	 * or an error class with a reason in @err (no secrets in it).
	 */
	int (*connect)(const struct conf_source *src, int timeout_ms,
		       struct drv_conn **out, char *err, size_t errlen);
	void (*disconnect)(struct drv_conn *c);

	/*
	 * Runs @sql (with ":name" placeholders, rewritten by the driver) or,
	 * for servicelayer, an OData path when @odata is set.  @label names
	 * the report or saved query (servicelayer keeps SQL under it; others
	 * ignore it).  On DRV_OK the columns are known and rows can be
	 * fetched.
	 */
	int (*execute)(struct drv_conn *c, const char *label, const char *sql,
		       int odata, const struct drv_param *params,
		       size_t nparams, char *err, size_t errlen);

	/* Columns of the current result; valid until finish. */
	size_t (*ncols)(struct drv_conn *c);
	const struct col_desc *(*cols)(struct drv_conn *c);

	/*
	 * Next row: 1 and *row (ncols cells, valid until the next call),
	 * 0 at the end, or an error class (< 0) with @err.
	 */
	int (*fetch)(struct drv_conn *c, const struct cell **row, char *err,
		     size_t errlen);

	/* Ends the current result (also after an error); always safe. */
	void (*finish)(struct drv_conn *c);

	/* Asks the running statement to stop; any thread, may be a no-op. */
	void (*cancel)(struct drv_conn *c);
};

/*
 * The part of drv_ops.cancel the SQL drivers share.  Their cancel goes
 * over the network with blocking calls (PQcancel and psqlODBC's
 * SQLCancel open a new connection with no timeout), so it is sent from
 * a short-lived thread: the watchdog that asks never waits on an
 * unreachable server.  One is under way at a time per connection.
 */
struct drv_cancel {
	pthread_mutex_t lock; /* guards busy, running, unjoined */
	pthread_cond_t quiet; /* a cancel thread ended */
	bool busy;	      /* a statement runs: a cancel may act */
	int running;	      /* cancel threads under way */
	bool unjoined;	      /* thread is to be joined */
	pthread_t thread;     /* the last cancel thread */
	atomic_bool fired;    /* asked for since the last reset */
	void (*send)(struct drv_conn *c); /* blocking; in the thread */
	struct drv_conn *conn;
};

void drv_cancel_init(struct drv_cancel *k, struct drv_conn *c,
		     void (*send)(struct drv_conn *c));
/* A new statement: forget an earlier cancel. */
void drv_cancel_reset(struct drv_cancel *k);
/* The statement runs (a cancel may act) or is over. */
void drv_cancel_busy(struct drv_cancel *k, bool busy);
/* drv_ops.cancel: sends one unless idle or one is under way. */
void drv_cancel_fire(struct drv_cancel *k);
/* Whether a cancel was asked for since the last reset. */
bool drv_cancel_fired(const struct drv_cancel *k);
/*
 * Waits for cancels under way; none is sent after it until the next
 * statement, so the handle a cancel uses may go.
 */
void drv_cancel_wait(struct drv_cancel *k);
/* drv_cancel_wait(), then ends @k. */
void drv_cancel_destroy(struct drv_cancel *k);

/* Turns line breaks and tabs into spaces and drops trailing spaces. */
void drv_flatten(char *s);
/* Formats a one-line reason into @err and returns @status. */
int drv_fail(int status, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The driver for @name, or NULL when unknown or not built. */
const struct drv_ops *drv_find(const char *name);

/* Names of the drivers built in, NULL-terminated, for messages. */
const char *const *drv_names(void);

#endif
