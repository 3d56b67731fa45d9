/*
 * timetable: the daemon's timetable.  Owns the scheduled reports (read from
 * reports_dir, and again when inotify says it changed), their next run
 * times in [global] timezone, making up once at start-up a run missed
 * while stopped (within catch_up), and one thread per running report.
 * The loop sleeps in poll() until the earliest due time, a change of
 * reports_dir, a finished run or a signal (SIGTERM and SIGINT stop it,
 * SIGHUP re-reads the definitions).
 */
#ifndef SAPB1_SCHED_TIMETABLE_H
#define SAPB1_SCHED_TIMETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "cron.h"
#include "state.h"
#include "tz.h"

#define TIMETABLE_RESCAN 300 /* seconds between safety-net re-reads */
#define TIMETABLE_SETTLE_MS                                                    \
	250 /* quiet time after a change before re-reading */

/*
 * Runs the timetable until SIGTERM or SIGINT; the caller holds the
 * instance lock.  @retry_delay is the first wait before a retry.
 * Returns the exit status (0 after a clean stop).
 */
int timetable_main(const struct conf *conf, const struct tz *zone,
		   int retry_delay);

/*
 * The run a start-up owes @c when it was stopped: the latest scheduled
 * time at or before @now, if it is later than what @rec says was
 * handled (or first seen) and within @catch_up seconds.  Returns that
 * time, or 0 when there is none.
 */
int64_t timetable_missed(const struct cron *c, const struct tz *zone,
			 const struct state_rec *rec, int64_t now,
			 int64_t catch_up);

#endif
