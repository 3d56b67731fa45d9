/*
 * cron: see cron.h.
 *
 * cron_next() walks the matching wall-clock times in order and turns
 * each into an instant with tz_from_wall().  That mapping keeps order
 * except for skipped times, which land after the jump among the times
 * that follow it; so the walk keeps the earliest instant past @after and
 * stops at the first one that is not a skipped time.  It starts early
 * enough to see a skipped time that lands after @after.
 */
#include "cron.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CRON_DAY 86400
#define CRON_YEARS 10
#define CRON_CYCLE_DAYS 146097 /* the Gregorian calendar repeats */
#define CRON_ALL_MDAYS 0xfffffffeu
#define CRON_ALL_WDAYS 0x7f

enum cron_field_id { F_MIN, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

struct cron_field {
	const char *name;
	int min, max;
	const char *const *names; /* three letters each, from @min */
	int nnames;
};

static const char *const cron_months[] = {"jan", "feb", "mar", "apr",
					  "may", "jun", "jul", "aug",
					  "sep", "oct", "nov", "dec"};
static const char *const cron_wdays[] = {"sun", "mon", "tue", "wed",
					 "thu", "fri", "sat"};

static const struct cron_field cron_fields[F_COUNT] = {
    [F_MIN] = {"minute", 0, 59, NULL, 0},
    [F_HOUR] = {"hour", 0, 23, NULL, 0},
    [F_MDAY] = {"day-of-month", 1, 31, NULL, 0},
    [F_MONTH] = {"month", 1, 12, cron_months, 12},
    [F_WDAY] = {"day-of-week", 0, 7, cron_wdays, 7},
};

static const struct {
	const char *name;
	const char *fields;
} cron_macros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Field parsing state: the item's text, for messages. */
struct cron_item {
	const struct cron_field *f;
	const char *text;
	size_t len;
	char *err;
	size_t errlen;
};

static int item_fail(const struct cron_item *it, const char *why)
{
	snprintf(it->err, it->errlen, "%s field \"%.*s\": %s", it->f->name,
		 (int)it->len, it->text, why);
	return -1;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* One to three digits at *p (within @end); -1 when there are none. */
static int parse_num(const char **p, const char *end)
{
	const char *s = *p;
	int v = 0, n = 0;

	while (s < end && *s >= '0' && *s <= '9') {
		if (++n > 3)
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	if (n == 0)
		return -1;
	*p = s;
	return v;
}

/* A number or a name at *p (within @end); -1 when neither. */
static int item_value(const struct cron_item *it, const char **p,
		      const char *end)
{
	const char *s = *p;

	if (s < end && *s >= '0' && *s <= '9')
		return parse_num(p, end);
	if (end - s < 3)
		return -1;
	for (int i = 0; i < it->f->nnames; i++) {
		const char *name = it->f->names[i];

		if (lower(s[0]) == name[0] && lower(s[1]) == name[1] &&
		    lower(s[2]) == name[2]) {
			*p = s + 3;
			return it->f->min + i;
		}
	}
	return -1;
}

/* One list item: '*', N, N-M, each with an optional /STEP. */
static int item_parse(const struct cron_item *it, uint64_t *bits)
{
	const char *p = it->text, *end = it->text + it->len;
	int lo, hi, step = 1;
	bool single = false;

	if (p < end && *p == '*') {
		p++;
		lo = it->f->min;
		hi = it->f->max == 7 ? 6 : it->f->max;
	} else {
		lo = hi = item_value(it, &p, end);
		if (lo < 0)
			return item_fail(it, "not a number or a name");
		single = true;
		if (p < end && *p == '-') {
			p++;
			hi = item_value(it, &p, end);
			if (hi < 0)
				return item_fail(it, "range has no end");
			single = false;
		}
	}
	if (p < end && *p == '/') {
		p++;
		step = parse_num(&p, end);
		if (step <= 0)
			return item_fail(it, "step must be a number from 1");
		if (single)
			hi = it->f->max;
	}
	if (p != end)
		return item_fail(it, "unexpected characters");
	if (lo < it->f->min || hi > it->f->max) {
		char why[64];

		snprintf(why, sizeof(why), "out of range %d-%d", it->f->min,
			 it->f->max);
		return item_fail(it, why);
	}
	if (lo > hi)
		return item_fail(it, "range goes backwards");
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return 0;
}

static int field_parse(const struct cron_field *f, const char *text, size_t len,
		       uint64_t *bits, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;

	*bits = 0;
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		struct cron_item it = {f, p, 0, err, errlen};

		it.len = (size_t)((comma ? comma : end) - p);
		if (it.len == 0) {
			snprintf(err, errlen, "%s field \"%.*s\": empty item",
				 f->name, (int)len, text);
			return -1;
		}
		if (item_parse(&it, bits) < 0)
			return -1;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (f->max == 7 && (*bits & (1ULL << 7))) /* 7 is Sunday too */
		*bits = (*bits & ~(1ULL << 7)) | 1;
	return 0;
}

/* Can a restricted day-of-month ever fall in one of the months? */
static bool cron_days_exist(const struct cron *c)
{
	for (int m = 1; m <= 12; m++) {
		int last = m == 2 ? 29 : tz_month_days(2001, m);

		if (!(c->month & (1u << m)))
			continue;
		for (int d = 1; d <= last; d++)
			if (c->mday & (1u << d))
				return true;
	}
	return false;
}

/*
 * When a day must match both day fields (one of them written with '*',
 * as in "*\/2"), the days may come together only every few decades:
 * Feb 29 on a Sunday is 28 years apart.  cron_next() looks ten years
 * ahead, so over the calendar's 400-year cycle no two matching days may
 * lie further apart than that.  (With both fields plain, any week has
 * one; with one field plain, cron_days_exist() is enough.)
 */
static bool cron_days_often(const struct cron *c)
{
	int64_t first = -1, prev = -1, gap = 0;

	for (int64_t y = 2000; y < 2400; y++) {
		for (int m = 1; m <= 12; m++) {
			if (!(c->month & (1u << m)))
				continue;
			for (int d = 1; d <= tz_month_days(y, m); d++) {
				int64_t day = tz_days_from_civil(y, m, d);

				if (!(c->mday & (1u << d)) ||
				    !cron_day_matches(c, m, d, tz_weekday(day)))
					continue;
				if (first < 0)
					first = day;
				else if (day - prev > gap)
					gap = day - prev;
				prev = day;
			}
		}
	}
	if (first < 0)
		return false;
	if (first + CRON_CYCLE_DAYS - prev > gap)
		gap = first + CRON_CYCLE_DAYS - prev;
	return gap <= CRON_YEARS * 365;
}

static int cron_fields_parse(struct cron *c, const char *text, char *err,
			     size_t errlen)
{
	const char *start[F_COUNT + 1];
	size_t len[F_COUNT + 1];
	uint64_t bits[F_COUNT];
	int n = 0;

	for (const char *p = text; *p;) {
		size_t l;

		while (*p == ' ' || *p == '\t')
			p++;
		l = strcspn(p, " \t");
		if (l == 0)
			break;
		if (n <= F_COUNT) {
			start[n] = p;
			len[n] = l;
		}
		n++;
		p += l;
	}
	if (n != F_COUNT) {
		snprintf(err, errlen,
			 "schedule \"%s\": needs five fields (minute hour "
			 "day-of-month month day-of-week), found %d",
			 text, n);
		return -1;
	}
	for (int i = 0; i < F_COUNT; i++)
		if (field_parse(&cron_fields[i], start[i], len[i], &bits[i],
				err, errlen) < 0)
			return -1;
	c->minute = bits[F_MIN];
	c->hour = (uint32_t)bits[F_HOUR];
	c->mday = (uint32_t)bits[F_MDAY];
	c->month = (uint16_t)bits[F_MONTH];
	c->wday = (uint8_t)bits[F_WDAY];
	c->mday_star = start[F_MDAY][0] == '*';
	c->wday_star = start[F_WDAY][0] == '*';
	return 0;
}

/* The fields an @name stands for, or NULL. */
static const char *cron_macro(const char *s)
{
	size_t l = strcspn(s, " \t");

	if (s[l + strspn(s + l, " \t")] != '\0')
		return NULL;
	for (size_t i = 0; i < sizeof(cron_macros) / sizeof(*cron_macros); i++)
		if (strlen(cron_macros[i].name) == l &&
		    strncmp(s, cron_macros[i].name, l) == 0)
			return cron_macros[i].fields;
	return NULL;
}

int cron_parse(struct cron *c, const char *text, char *err, size_t errlen)
{
	const char *fields = text + strspn(text, " \t");

	memset(c, 0, sizeof(*c));
	if (*fields == '@') {
		fields = cron_macro(fields);
		if (!fields) {
			snprintf(err, errlen,
				 "schedule \"%s\": unknown; use five fields "
				 "or @hourly, @daily, @weekly, @monthly, "
				 "@yearly",
				 text);
			return -1;
		}
	}
	if (cron_fields_parse(c, fields, err, errlen) < 0)
		return -1;
	if (c->wday_star && !cron_days_exist(c)) {
		snprintf(err, errlen,
			 "schedule \"%s\": the day-of-month never falls in "
			 "the listed months",
			 text);
		return -1;
	}
	if ((c->mday_star || c->wday_star) && c->mday != CRON_ALL_MDAYS &&
	    c->wday != CRON_ALL_WDAYS && !cron_days_often(c)) {
		snprintf(err, errlen,
			 "schedule \"%s\": its day-of-month and day-of-week "
			 "meet less than once in ten years",
			 text);
		return -1;
	}
	return 0;
}

bool cron_day_matches(const struct cron *c, int month, int mday, int wday)
{
	bool dm = c->mday & (1u << mday);
	bool wm = c->wday & (1u << wday);

	if (!(c->month & (1u << month)))
		return false;
	if (c->mday_star || c->wday_star)
		return dm && wm;
	return dm || wm;
}

/* --- next time ------------------------------------------------------- */

struct cron_pos {
	int64_t year;
	int month, day, hour, min;
};

/* The lowest set bit of @set in [from, max], or -1. */
static int next_bit(uint64_t set, int from, int max)
{
	for (int b = from; b <= max; b++)
		if (set & (1ULL << b))
			return b;
	return -1;
}

static void pos_next_day(struct cron_pos *p)
{
	p->hour = p->min = 0;
	if (++p->day <= tz_month_days(p->year, p->month))
		return;
	p->day = 1;
	if (++p->month <= 12)
		return;
	p->month = 1;
	p->year++;
}

static void pos_next_month(struct cron_pos *p)
{
	p->day = 1;
	p->hour = p->min = 0;
	if (++p->month <= 12)
		return;
	p->month = 1;
	p->year++;
}

/* Moves @p to the first matching wall time at or after it. */
static bool cron_find(const struct cron *c, struct cron_pos *p,
		      int64_t last_year)
{
	while (p->year <= last_year) {
		int64_t days;
		int h, m;

		if (!(c->month & (1u << p->month))) {
			pos_next_month(p);
			continue;
		}
		days = tz_days_from_civil(p->year, p->month, p->day);
		if (!cron_day_matches(c, p->month, p->day, tz_weekday(days))) {
			pos_next_day(p);
			continue;
		}
		h = next_bit(c->hour, p->hour, 23);
		if (h < 0) {
			pos_next_day(p);
			continue;
		}
		if (h != p->hour) {
			p->hour = h;
			p->min = 0;
		}
		m = next_bit(c->minute, p->min, 59);
		if (m < 0) {
			p->hour++;
			p->min = 0;
			continue;
		}
		p->min = m;
		return true;
	}
	return false;
}

static int64_t pos_wall(const struct cron_pos *p)
{
	return tz_days_from_civil(p->year, p->month, p->day) * CRON_DAY +
	       p->hour * 3600 + p->min * 60;
}

static void pos_from_wall(struct cron_pos *p, int64_t wall)
{
	int64_t days = wall / CRON_DAY - (wall % CRON_DAY < 0);
	int64_t secs = wall - days * CRON_DAY;

	tz_civil_from_days(days, &p->year, &p->month, &p->day);
	p->hour = (int)(secs / 3600);
	p->min = (int)(secs / 60 % 60);
}

/*
 * The first wall time worth trying: the clock's reading at @after, or
 * earlier when @after lies just past a forward jump, since the skipped
 * times land after the jump.
 */
static int64_t cron_start_wall(const struct tz *z, int64_t after)
{
	struct tz_change ch[8];
	int64_t wall = after + tz_offset(z, after);
	size_t n = tz_changes(z, after - 2 * CRON_DAY, after, ch, 8);

	if (n > 8)
		n = 8;
	for (size_t i = 0; i < n; i++) {
		int32_t gap = ch[i].after - ch[i].before;

		if (gap > 0 && after < ch[i].at + gap &&
		    ch[i].at + ch[i].before < wall)
			wall = ch[i].at + ch[i].before;
	}
	return wall;
}

int cron_next(const struct cron *c, const struct tz *z, int64_t after,
	      int64_t *next)
{
	struct cron_pos p;
	int64_t last_year;
	bool found = false;

	pos_from_wall(&p, cron_start_wall(z, after));
	last_year = p.year + CRON_YEARS;
	while (cron_find(c, &p, last_year)) {
		enum tz_wall kind;
		int64_t t = tz_from_wall(z, pos_wall(&p), &kind);

		if (t > after) {
			if (!found || t < *next)
				*next = t;
			found = true;
			if (kind != TZ_WALL_SKIPPED)
				break;
		}
		p.min++;
	}
	return found ? 0 : -ERANGE;
}
