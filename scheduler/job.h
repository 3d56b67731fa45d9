/*
 * job: one run of a report as the scheduler owes it: under the report's
 * lock (never two runs of it at once), attempts with growing waits
 * between them (-- retry:, else [scheduler] retry), then on failure the
 * error in history/<name>/<stamp>.error.txt and a notice to [smtp]
 * admin; the outcome goes into scheduler.state.  Used by the daemon's
 * run threads and by --run-now.  It logs what it decides.
 */
#ifndef SAPB1_SCHED_JOB_H
#define SAPB1_SCHED_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "report.h"
#include "tz.h"

#define JOB_NOTICE_REPEAT 86400 /* a failure streak is re-told daily */
#define JOB_RETRY_MAX_WAIT 600

struct job_env {
	const struct conf *conf;
	const struct tz *zone;
	int retry_delay; /* seconds before the first retry; doubles */
	/*
	 * Sleeps @seconds unless the program stops meanwhile; returns
	 * false when it stops (the job gives up without recording).
	 */
	bool (*sleep)(void *ctx, int seconds);
	void *ctx;
};

enum job_status {
	JOB_OK,
	JOB_FAILED,
	JOB_BUSY,      /* another run of the report holds its lock */
	JOB_STOPPED,   /* the program stopped between attempts */
	JOB_ELSEWHERE, /* [redis]: another host makes this due run */
};

struct job {
	const struct report *r;
	int64_t slot; /* the scheduled time it stands for; 0: --run-now */
	bool manual;  /* --run-now: one attempt, no notice */
	enum job_status status;
	char err[1536];
};

/* Runs @j (see above); the outcome is in j->status and j->err. */
void job_run(const struct job_env *env, struct job *j);

#endif
