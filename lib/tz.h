/*
 * tz: IANA time zones read from the tz database's own TZif files
 * (/usr/share/zoneinfo, or $TZDIR), so an instant can be shown as a
 * wall-clock time in [global] timezone and a wall-clock time turned back
 * into an instant.  A loaded zone is immutable and shared by threads
 * without locks; nothing here calls tzset(), localtime() or setenv("TZ"),
 * whose state is process-wide.  Leap-second ("right/") zones are refused.
 */
#ifndef SAPB1_TZ_H
#define SAPB1_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct tz;

/*
 * Loads zone @name ("Europe/Istanbul", "UTC"); NULL or "" loads the
 * system's zone from /etc/localtime.  Returns NULL with a reason in @err
 * when the name is malformed, unknown or the file is not valid TZif.
 */
struct tz *tz_load(const char *name, char *err, size_t errlen);
void tz_free(struct tz *z);

/* The name given to tz_load(), or "localtime". */
const char *tz_name(const struct tz *z);

/* Seconds east of UTC in effect at instant @t (seconds since the epoch). */
int32_t tz_offset(const struct tz *z, int64_t t);

/*
 * Breaks @t down into @tm as the wall clock of @z shows it, with
 * tm_gmtoff, tm_isdst and tm_zone (a string owned by @z) set.
 */
void tz_localtime(const struct tz *z, int64_t t, struct tm *tm);

/* How a wall-clock time occurs in a zone. */
enum tz_wall {
	TZ_WALL_UNIQUE,	  /* once */
	TZ_WALL_REPEATED, /* twice: the clock was set back over it */
	TZ_WALL_SKIPPED,  /* never: the clock jumped forward over it */
};

/*
 * The instant of wall-clock time @wall (seconds since the epoch as if
 * the zone were UTC).  A repeated time gives its first occurrence; a
 * skipped one is read with the offset in force before the jump, so it
 * lands as far after the jump as it was after the jump's start (02:30 in
 * a 02:00->03:00 gap gives 03:30), as Python's zoneinfo does with fold=0
 * (PEP 495).  @kind, when not NULL, says which case applied.
 */
int64_t tz_from_wall(const struct tz *z, int64_t wall, enum tz_wall *kind);

/* One change of UTC offset. */
struct tz_change {
	int64_t at;	/* first instant of the new offset */
	int32_t before; /* offsets in seconds east of UTC */
	int32_t after;
};

/*
 * Fills @out with up to @max offset changes in (@from, @to], oldest
 * first, and returns how many there were in all (may exceed @max).
 */
size_t tz_changes(const struct tz *z, int64_t from, int64_t to,
		  struct tz_change *out, size_t max);

/* Calendar helpers (proleptic Gregorian), shared with cron. */
bool tz_is_leap(int64_t year);
int tz_month_days(int64_t year, int month);
/* Days from 1970-01-01 to @year-@month-@day (month 1-12, day 1-31). */
int64_t tz_days_from_civil(int64_t year, int month, int day);
/* The inverse: the date of day @days since 1970-01-01. */
void tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day);
/* 0 for Sunday to 6 for Saturday. */
int tz_weekday(int64_t days);

#endif
