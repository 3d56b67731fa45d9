/*
 * delivery: one attempt at a report's run, made through the mount like
 * any user would: touch each format file (the fs marks the snapshot
 * stale), read every format back into the history folder, keep the
 * newest history_keep runs, and queue the report's mail.  A file read
 * back must come from a run started after the touch, so a stale
 * snapshot served while the source is down counts as a failure.
 * Nothing here logs; retries, notices and state are job.c's.
 */
#ifndef SAPB1_SCHED_DELIVERY_H
#define SAPB1_SCHED_DELIVERY_H

#include <limits.h>
#include <stdint.h>

#include "conf.h"
#include "history.h"
#include "report.h"
#include "tz.h"

struct delivery {
	const struct conf *conf;
	const struct tz *zone;
	const struct report *r;
	int64_t when; /* the run's time: names its files, dates its mail */
	char dir[PATH_MAX];		   /* the history folder */
	char stamp[HISTORY_STAMP_LEN + 1]; /* from @when */
	char err[1536];			   /* why it failed */
	char warn[512];			   /* a problem that did not fail it */
	unsigned copied;		   /* formats copied */
	bool mailed;
};

/*
 * Fills @d's folder and stamp for a run of @r at @when (creating the
 * folder).  0, or -errno with @d->err set.
 */
int delivery_init(struct delivery *d, const struct conf *conf,
		  const struct tz *zone, const struct report *r, int64_t when);

/* One attempt.  0, or -1 with the reason in @d->err. */
int delivery_attempt(struct delivery *d);

#endif
