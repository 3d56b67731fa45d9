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

/* The driver for @name, or NULL when unknown or not built. */
const struct drv_ops *drv_find(const char *name);

/* Names of the drivers built in, NULL-terminated, for messages. */
const char *const *drv_names(void);

#endif
