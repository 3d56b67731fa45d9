/*
 * fuzz_cron: cron_parse() over any schedule text (the input's first
 * line), then cron_next() from a few instants in a few zones (picked by
 * the bytes after the first line, if any).  Checks: a schedule that
 * parses always has a next time, within the ten years cron.h promises;
 * that time matches the fields on the zone's wall clock (or is a time
 * the clock skipped, run after the jump); asking again from any instant
 * in between gives the same time; and in UTC, no minute in between
 * matches when the gap is short enough to walk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "fuzz.h"
#include "tz.h"

#define DAY 86400
#define YEAR (366 * DAY)

static const char *const fuzz_zones[] = {
    "UTC",
    "Europe/Istanbul",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Apia",
};
static struct tz *zones[ARRAY_SIZE(fuzz_zones)];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
		zones[i] = tz_load(fuzz_zones[i], err, sizeof(err));
		if (!zones[i]) {
			fprintf(stderr, "fuzz_cron: %s\n", err);
			abort();
		}
	}
	return 0;
}

/* Does the wall-clock time @wall (seconds, as if UTC) match @c? */
static bool matches(const struct cron *c, int64_t wall)
{
	time_t t = (time_t)wall;
	struct tm tm;
	bool dm, wm;

	if (!gmtime_r(&t, &tm))
		return false;
	if (!(c->minute & (1ULL << tm.tm_min)) ||
	    !(c->hour & (1u << tm.tm_hour)) ||
	    !(c->month & (1u << (tm.tm_mon + 1))))
		return false;
	dm = c->mday & (1u << tm.tm_mday);
	wm = c->wday & (1u << tm.tm_wday);
	return c->mday_star || c->wday_star ? dm && wm : dm || wm;
}

/* @next is due: its wall time matches, or it is a skipped one moved on. */
static void check_due(const struct cron *c, const struct tz *z, int64_t next)
{
	int64_t wall = next + tz_offset(z, next);
	struct tz_change ch[8];
	size_t n;

	if (matches(c, wall))
		return;
	n = tz_changes(z, next - 2 * DAY, next, ch, ARRAY_SIZE(ch));
	for (size_t i = 0; i < n && i < ARRAY_SIZE(ch); i++) {
		int32_t gap = ch[i].after - ch[i].before;

		if (gap > 0 && matches(c, wall - gap))
			return;
	}
	FUZZ_CHECK(0, "next %lld in %s: wall time %lld does not match",
		   (long long)next, tz_name(z), (long long)wall);
}

/* No minute of (after, next) matches in UTC. */
static void check_gap_utc(const struct cron *c, int64_t after, int64_t next)
{
	for (int64_t t = after - after % 60 + 60; t < next; t += 60)
		FUZZ_CHECK(!matches(c, t), "%lld matches before next %lld",
			   (long long)t, (long long)next);
}

static void check_next(const struct cron *c, const char *text, size_t zi,
		       int64_t after)
{
	const struct tz *z = zones[zi];
	int64_t next = 0, again = 0;
	int rc = cron_next(c, z, after, &next);

	FUZZ_CHECK(rc == 0,
		   "\"%s\" parsed but has no next time after %lld "
		   "in %s",
		   text, (long long)after, tz_name(z));
	FUZZ_CHECK(next > after && next - after <= 11 * YEAR,
		   "next %lld after %lld", (long long)next, (long long)after);
	check_due(c, z, next);
	FUZZ_CHECK(cron_next(c, z, next - 1, &again) == 0 && again == next,
		   "from next-1: %lld, not %lld", (long long)again,
		   (long long)next);
	FUZZ_CHECK(cron_next(c, z, after + (next - after) / 2, &again) == 0 &&
		       again == next,
		   "from the middle: %lld, not %lld", (long long)again,
		   (long long)next);
	if (zi == 0 && next - after <= 2 * DAY)
		check_gap_utc(c, after, next);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;
	struct fuzz_in in = {nl ? nl + 1 : data + size,
			     nl ? size - len - 1 : 0};
	char *text = fuzz_strndup(data, len);
	char err[256];
	struct cron c;
	int64_t base = 1704067200; /* 2024-01-01T00:00:00Z */

	if (strlen(text) > 256 || cron_parse(&c, text, err, sizeof(err))) {
		free(text);
		return 0;
	}
	FUZZ_CHECK(c.minute && c.hour && c.mday && c.month && c.wday,
		   "\"%s\": a field with nothing set", text);
	if (!in.n) {
		check_next(&c, text, 0, base);
		check_next(&c, text, 1, base + 7 * 3600 + 59);
	}
	for (int k = 0; k < 4 && in.n; k++) {
		size_t zi = fuzz_byte(&in) % ARRAY_SIZE(zones);
		uint32_t v = 0;

		for (int i = 0; i < 4; i++)
			v = v << 8 | fuzz_byte(&in);
		/* 1970 to 2106, at any second. */
		check_next(&c, text, zi, (int64_t)v);
	}
	free(text);
	return 0;
}
