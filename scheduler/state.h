/*
 * state: state_dir/scheduler.state, what the scheduler remembers across
 * restarts: per report, when it first saw it, the last scheduled time
 * handled, the last run and its result, and the failure streak that
 * paces admin notices.  A change is a read-modify-write of one report's
 * line under a flock, written atomically, so the daemon and --run-now
 * can both record runs without losing either's.  Nothing here logs.
 */
#ifndef SAPB1_SCHED_STATE_H
#define SAPB1_SCHED_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

#define STATE_FILE "scheduler.state"
#define STATE_MSG_MAX 512

enum state_result {
	STATE_NONE, /* never ran */
	STATE_OK,
	STATE_FAILED,
};

struct state_rec {
	char name[REPORT_NAME_MAX + 1];
	int64_t since;	   /* first seen with a schedule (unix seconds) */
	int64_t last_slot; /* last scheduled time handled, 0: none */
	int64_t last_start;
	int64_t last_end;
	enum state_result result;
	int failures;		 /* failed runs in a row */
	int64_t notice_at;	 /* when the last failure notice was sent */
	char msg[STATE_MSG_MAX]; /* the last error, on one line */
};

struct state {
	struct state_rec *v;
	size_t n;
};

/*
 * Reads @state_dir's file into @st; a missing file is an empty state.
 * Malformed lines are skipped.  0 or -errno.
 */
int state_load(const char *state_dir, struct state *st);
void state_free(struct state *st);

/* The record of @name, or NULL. */
struct state_rec *state_find(struct state *st, const char *name);

/* Adds an empty record for @name (or returns the one there); NULL
 * when out of memory. */
struct state_rec *state_get(struct state *st, const char *name);

/* Changes one record in place (it is zeroed, name set, when new). */
typedef void (*state_edit_fn)(struct state_rec *rec, void *ctx);

/*
 * Re-reads the file under its lock, applies @edit to @name's record,
 * and writes the file back (other reports' lines as they were on disk).
 * The record as written goes into @out when not NULL.  0 or -errno
 * (ENOSPC...), and then the file is as it was.
 */
int state_update(const char *state_dir, const char *name, state_edit_fn edit,
		 void *ctx, struct state_rec *out);

/* "ok", "failed" or "never". */
const char *state_result_name(enum state_result r);

#endif
