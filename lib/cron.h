/*
 * cron: schedules written in cron's five fields (minute hour day-of-month
 * month day-of-week, as crontab(5) reads them, plus @hourly and friends)
 * and the next time one is due, counted in wall-clock time of a zone.
 * A parsed schedule is a few bit sets; cron_next() only reads it and the
 * zone (lib/tz.h, immutable), so any thread may call it.  Nothing logs.
 *
 * Offset changes: each matching wall-clock time runs once.  A repeated
 * time (clock set back) runs at its first occurrence; a skipped one
 * (clock set forward) runs as far after the jump as it was after the
 * jump's start, so 02:30 in a 02:00->03:00 gap runs at 03:30 (as croniter
 * and Python's zoneinfo read it); runs landing on one instant are one.
 */
#ifndef SAPB1_CRON_H
#define SAPB1_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tz.h"

struct cron {
	uint64_t minute; /* bit n: minute n, 0-59 */
	uint32_t hour;	 /* 0-23 */
	uint32_t mday;	 /* 1-31 */
	uint16_t month;	 /* 1-12 */
	uint8_t wday;	 /* 0-6, Sunday 0 */
	/*
	 * crontab(5): when both day fields are restricted (neither starts
	 * with '*'), a day matches if either does; otherwise both must.
	 */
	bool mday_star;
	bool wday_star;
};

/*
 * Parses @text: five fields separated by blanks, each a list of '*',
 * N, N-M, with an optional /STEP ("*\/15", "1-10/2", "5/10" meaning
 * 5-max/10); month names jan-dec and weekday names sun-sat (7 is also
 * Sunday), in any case; or one of @yearly @annually @monthly @weekly
 * @daily @midnight @hourly.  A schedule that can never run ("0 0 30 2
 * *"), or runs less than once in ten years ("0 0 29 2 *\/7": Feb 29
 * on a Sunday), is an error too.  Returns 0, or -1 with a message in
 * @err naming the field (the caller adds FILE:LINE).
 */
int cron_parse(struct cron *c, const char *text, char *err, size_t errlen);

/* True when the date matches the day fields (month 1-12, wday 0-6). */
bool cron_day_matches(const struct cron *c, int month, int mday, int wday);

/*
 * Sets *next to the first instant strictly after @after (seconds since
 * the epoch) at which @c is due in zone @z.  Returns 0, or -ERANGE when
 * none falls within the next ten years (cron_parse rules that out).
 */
int cron_next(const struct cron *c, const struct tz *z, int64_t after,
	      int64_t *next);

#endif
