/*
 * slotlock: with [redis], each due time of each report runs on one host.
 * The first scheduler to claim sapb1fs:sched:<report>:<slot> makes the
 * run (history and mail come from it); the others skip that time.
 * Without [redis], or while Redis is down, every scheduler runs what it
 * owes: an outage may double a run, never lose one.  Used by job.c.
 */
#ifndef SAPB1_SCHED_SLOTLOCK_H
#define SAPB1_SCHED_SLOTLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

enum slotlock_result {
	SLOT_OURS,  /* claimed here (now, or before a restart) */
	SLOT_OTHER, /* another host claimed it: skip it */
	SLOT_ALONE, /* no [redis], or Redis down: run it here */
};

/*
 * Claims the run of @report due at @slot (unix seconds) for this host,
 * named by its host name and state_dir.  On SLOT_OTHER, @who gets the
 * claimant's name.  Waits on Redis at most its timeout.
 */
enum slotlock_result slotlock_take(const struct conf *c, const char *report,
				   int64_t slot, char *who, size_t wholen);

#endif
