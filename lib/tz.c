/*
 * tz: see tz.h.
 *
 * A zone is one sorted table of transitions (instant, local time type),
 * read from the 64-bit block of a TZif file (RFC 8536).  Past the table,
 * the file's footer (a POSIX TZ string such as "EST5EDT,M3.2.0,M11.1.0")
 * says how the rules go on; its transitions are worked out once at load
 * up to TZ_LAST_YEAR and appended, so every lookup is a binary search of
 * immutable memory.  After that year the last offset simply stays.
 */
#include "tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_LAST_YEAR 2400
#define TZ_ABBR_MAX 16
#define TZ_NAME_MAX 255
#define TZ_DAY 86400
/* Wider than any UTC offset (at most 26 h), so a wall time is safe. */
#define TZ_SPAN (2 * TZ_DAY)

struct tz_type {
	int32_t utoff; /* seconds east of UTC */
	bool isdst;
	size_t abbr; /* offset into tz->abbrs */
};

struct tz {
	char *name;
	int64_t *at; /* transition instants, ascending */
	uint16_t *type;
	size_t n, cap;
	size_t ntable; /* transitions from the file itself */
	struct tz_type *types;
	size_t ntypes;
	char *abbrs;
	size_t abbrs_len;
};

/* One date of a POSIX rule: "Jn", "n" or "Mm.w.d", and a time. */
struct tz_rule {
	char kind; /* 'J', 'N' or 'M' */
	int num;   /* Jn, n */
	int mon, week, wday;
	int32_t time; /* seconds after local midnight, may be < 0 */
};

struct tz_posix {
	char std[TZ_ABBR_MAX], dst[TZ_ABBR_MAX];
	int32_t std_off, dst_off; /* east of UTC */
	bool has_dst;
	struct tz_rule start, end;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool tz_is_leap(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int tz_month_days(int64_t year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};

	if (month == 2 && tz_is_leap(year))
		return 29;
	return days[month - 1];
}

/* Leap years in [1, year - 1] of the proleptic calendar. */
static int64_t leaps_before(int64_t year)
{
	int64_t y = year - 1;

	return floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
}

int64_t tz_days_from_civil(int64_t year, int month, int day)
{
	static const int before[] = {0,	  31,  59,  90,	 120, 151,
				     181, 212, 243, 273, 304, 334};
	int64_t days;

	days = 365 * (year - 1970) + leaps_before(year) - leaps_before(1970);
	days += before[month - 1] + day - 1;
	if (month > 2 && tz_is_leap(year))
		days++;
	return days;
}

void tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
	/* 146097 days make 400 years: a guess within a year or two. */
	int64_t y = 1970 + floor_div(days * 400, 146097);
	int m = 1;

	while (tz_days_from_civil(y, 1, 1) > days)
		y--;
	while (tz_days_from_civil(y + 1, 1, 1) <= days)
		y++;
	days -= tz_days_from_civil(y, 1, 1);
	while (days >= tz_month_days(y, m)) {
		days -= tz_month_days(y, m);
		m++;
	}
	*year = y;
	*month = m;
	*day = (int)days + 1;
}

int tz_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday. */
	return (int)(((days % 7) + 7 + 4) % 7);
}

/* --- the table ---------------------------------------------------------- */

/* Index of the last transition at or before @t, or -1. */
static long tz_find(const struct tz *z, int64_t t)
{
	size_t lo = 0, hi = z->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->at[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/* Before the first transition, type 0 applies (RFC 8536, 3.2). */
static const struct tz_type *tz_seg_type(const struct tz *z, long k)
{
	return &z->types[k < 0 ? 0 : z->type[k]];
}

int32_t tz_offset(const struct tz *z, int64_t t)
{
	return tz_seg_type(z, tz_find(z, t))->utoff;
}

void tz_localtime(const struct tz *z, int64_t t, struct tm *tm)
{
	const struct tz_type *ty = tz_seg_type(z, tz_find(z, t));
	int64_t wall = t + ty->utoff;
	int64_t days = floor_div(wall, TZ_DAY);
	int64_t secs = wall - days * TZ_DAY;
	int64_t year;
	int month, day;

	tz_civil_from_days(days, &year, &month, &day);
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = (int)(year - 1900);
	tm->tm_mon = month - 1;
	tm->tm_mday = day;
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
	tm->tm_wday = tz_weekday(days);
	tm->tm_yday = (int)(days - tz_days_from_civil(year, 1, 1));
	tm->tm_isdst = ty->isdst;
	tm->tm_gmtoff = ty->utoff;
	tm->tm_zone = z->abbrs + ty->abbr;
}

/*
 * Walks the stretches of constant offset in time order; the first whose
 * wall-clock range holds @wall gives its first occurrence.  A stretch
 * whose range starts past @wall means the clock jumped over it.
 */
int64_t tz_from_wall(const struct tz *z, int64_t wall, enum tz_wall *kind)
{
	long k = tz_find(z, wall - TZ_SPAN);
	int32_t prev = tz_seg_type(z, k)->utoff;
	enum tz_wall dummy;

	if (!kind)
		kind = &dummy;
	for (;; k++) {
		int32_t off = tz_seg_type(z, k)->utoff;
		bool last = k + 1 >= (long)z->n;

		if (k >= 0 && wall < z->at[k] + off) {
			*kind = TZ_WALL_SKIPPED;
			return wall - prev;
		}
		if (last || wall < z->at[k + 1] + off) {
			int32_t next =
			    last ? off : tz_seg_type(z, k + 1)->utoff;

			*kind = (!last && wall >= z->at[k + 1] + next)
				    ? TZ_WALL_REPEATED
				    : TZ_WALL_UNIQUE;
			return wall - off;
		}
		prev = off;
	}
}

size_t tz_changes(const struct tz *z, int64_t from, int64_t to,
		  struct tz_change *out, size_t max)
{
	size_t count = 0;

	for (long k = tz_find(z, from) + 1; k < (long)z->n; k++) {
		int32_t before = tz_seg_type(z, k - 1)->utoff;
		int32_t after = tz_seg_type(z, k)->utoff;

		if (z->at[k] > to)
			break;
		if (before == after)
			continue;
		if (count < max) {
			out[count].at = z->at[k];
			out[count].before = before;
			out[count].after = after;
		}
		count++;
	}
	return count;
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

void tz_free(struct tz *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->at);
	free(z->type);
	free(z->types);
	free(z->abbrs);
	free(z);
}

/* --- the POSIX TZ footer ---------------------------------------------- */

static int posix_abbr(const char **p, char *out)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '<') {
		s++;
		while (s[n] && s[n] != '>')
			n++;
		if (s[n] != '>' || n == 0 || n >= TZ_ABBR_MAX)
			return -1;
		memcpy(out, s, n);
		out[n] = '\0';
		*p = s + n + 1;
		return 0;
	}
	while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))
		n++;
	if (n < 3 || n >= TZ_ABBR_MAX)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = s + n;
	return 0;
}

static int posix_num(const char **p, int max, int *out)
{
	const char *s = *p;
	int v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	*p = s;
	return 0;
}

/* [+-]hh[:mm[:ss]] in seconds; @max_h bounds the hours. */
static int posix_hms(const char **p, int max_h, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (**p == '+' || **p == '-')
		sign = *(*p)++ == '-' ? -1 : 1;
	if (posix_num(p, max_h, &h) < 0)
		return -1;
	if (**p == ':') {
		(*p)++;
		if (posix_num(p, 59, &m) < 0)
			return -1;
		if (**p == ':') {
			(*p)++;
			if (posix_num(p, 59, &s) < 0)
				return -1;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return 0;
}

static int posix_rule(const char **p, struct tz_rule *r)
{
	r->time = 7200;
	if (**p == 'J') {
		(*p)++;
		r->kind = 'J';
		if (posix_num(p, 365, &r->num) < 0 || r->num < 1)
			return -1;
	} else if (**p == 'M') {
		(*p)++;
		r->kind = 'M';
		if (posix_num(p, 12, &r->mon) < 0 || r->mon < 1 ||
		    *(*p)++ != '.' || posix_num(p, 5, &r->week) < 0 ||
		    r->week < 1 || *(*p)++ != '.' ||
		    posix_num(p, 6, &r->wday) < 0)
			return -1;
	} else {
		r->kind = 'N';
		if (posix_num(p, 365, &r->num) < 0)
			return -1;
	}
	if (**p == '/') {
		(*p)++;
		if (posix_hms(p, 167, &r->time) < 0)
			return -1;
	}
	return 0;
}

/* Without a rule, POSIX leaves the dates open; glibc uses the US ones. */
static void posix_default_rules(struct tz_posix *px)
{
	px->start = (struct tz_rule){'M', 0, 3, 2, 0, 7200};
	px->end = (struct tz_rule){'M', 0, 11, 1, 0, 7200};
}

static int posix_parse(const char *s, struct tz_posix *px)
{
	int32_t off;

	memset(px, 0, sizeof(*px));
	if (posix_abbr(&s, px->std) < 0 || posix_hms(&s, 24, &off) < 0)
		return -1;
	px->std_off = -off; /* POSIX counts west of UTC */
	if (*s == '\0')
		return 0;
	if (posix_abbr(&s, px->dst) < 0)
		return -1;
	px->has_dst = true;
	px->dst_off = px->std_off + 3600;
	if (*s && *s != ',') {
		if (posix_hms(&s, 24, &off) < 0)
			return -1;
		px->dst_off = -off;
	}
	if (*s == '\0') {
		posix_default_rules(px);
		return 0;
	}
	if (*s++ != ',' || posix_rule(&s, &px->start) < 0 || *s++ != ',' ||
	    posix_rule(&s, &px->end) < 0)
		return -1;
	return *s == '\0' ? 0 : -1;
}

/* The day (since the epoch) a rule falls on in @year. */
static int64_t rule_day(const struct tz_rule *r, int64_t year)
{
	int64_t first;
	int day;

	switch (r->kind) {
	case 'J':
		first = tz_days_from_civil(year, 1, 1) + r->num - 1;
		return first + (tz_is_leap(year) && r->num >= 60);
	case 'N':
		return tz_days_from_civil(year, 1, 1) + r->num;
	default:
		first = tz_days_from_civil(year, r->mon, 1);
		day = (r->wday - tz_weekday(first) + 7) % 7 + 1;
		day += (r->week - 1) * 7;
		while (day > tz_month_days(year, r->mon))
			day -= 7;
		return first + day - 1;
	}
}

/* --- loading ---------------------------------------------------------- */

static int tz_add_abbr(struct tz *z, const char *s, size_t *out)
{
	size_t n = strlen(s) + 1;
	char *p;

	for (size_t i = 0; i + n <= z->abbrs_len; i++) {
		if (memcmp(z->abbrs + i, s, n) == 0) {
			*out = i;
			return 0;
		}
	}
	p = realloc(z->abbrs, z->abbrs_len + n);
	if (!p)
		return -ENOMEM;
	memcpy(p + z->abbrs_len, s, n);
	z->abbrs = p;
	*out = z->abbrs_len;
	z->abbrs_len += n;
	return 0;
}

/* Finds or adds the type (@utoff, @isdst, @abbr); its index or -errno. */
static int tz_add_type(struct tz *z, int32_t utoff, bool isdst,
		       const char *abbr)
{
	struct tz_type *types;
	size_t at;

	if (tz_add_abbr(z, abbr, &at) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < z->ntypes; i++) {
		const struct tz_type *t = &z->types[i];

		if (t->utoff == utoff && t->isdst == isdst && t->abbr == at)
			return (int)i;
	}
	if (z->ntypes >= UINT16_MAX)
		return -EINVAL;
	types = realloc(z->types, (z->ntypes + 1) * sizeof(*types));
	if (!types)
		return -ENOMEM;
	z->types = types;
	z->types[z->ntypes] = (struct tz_type){utoff, isdst, at};
	return (int)z->ntypes++;
}

static int tz_reserve(struct tz *z, size_t n)
{
	int64_t *at;
	uint16_t *type;

	if (n <= z->cap)
		return 0;
	at = realloc(z->at, n * sizeof(*at));
	if (!at)
		return -ENOMEM;
	z->at = at;
	type = realloc(z->type, n * sizeof(*type));
	if (!type)
		return -ENOMEM;
	z->type = type;
	z->cap = n;
	return 0;
}

/*
 * Appends a rule transition after the table.  One at the same instant
 * as the previous rule transition replaces it (a rule that ends one year
 * where the next begins: all-year daylight time).  Space is reserved.
 */
static void tz_append(struct tz *z, int64_t at, int type)
{
	if (z->n > 0 && at <= z->at[z->n - 1]) {
		if (z->n == z->ntable || at < z->at[z->n - 1])
			return;
		z->n--;
	}
	if (tz_seg_type(z, (long)z->n - 1) == &z->types[type])
		return;
	z->at[z->n] = at;
	z->type[z->n] = (uint16_t)type;
	z->n++;
}

static int tz_extend(struct tz *z, const struct tz_posix *px)
{
	int std, dst;
	int64_t first = 1970;

	if (!px->has_dst)
		return 0;
	std = tz_add_type(z, px->std_off, false, px->std);
	dst = tz_add_type(z, px->dst_off, true, px->dst);
	if (std < 0 || dst < 0)
		return -ENOMEM;
	if (z->n > 0) {
		int month, day;

		tz_civil_from_days(floor_div(z->at[z->n - 1], TZ_DAY), &first,
				   &month, &day);
	}
	if (first > TZ_LAST_YEAR)
		return 0;
	if (tz_reserve(z, z->n + 2 * (size_t)(TZ_LAST_YEAR - first + 1)) < 0)
		return -ENOMEM;
	for (int64_t y = first; y <= TZ_LAST_YEAR; y++) {
		int64_t s = rule_day(&px->start, y) * TZ_DAY + px->start.time -
			    px->std_off;
		int64_t e =
		    rule_day(&px->end, y) * TZ_DAY + px->end.time - px->dst_off;

		if (s < e) {
			tz_append(z, s, dst);
			tz_append(z, e, std);
		} else {
			tz_append(z, e, std);
			tz_append(z, s, dst);
		}
	}
	return 0;
}

struct tzif {
	const unsigned char *p, *end;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Reads a 44-byte header; -1 when it is not one. */
static int tzif_header(struct tzif *f)
{
	if (f->end - f->p < 44 || memcmp(f->p, "TZif", 4) != 0)
		return -1;
	f->isutcnt = be32(f->p + 20);
	f->isstdcnt = be32(f->p + 24);
	f->leapcnt = be32(f->p + 28);
	f->timecnt = be32(f->p + 32);
	f->typecnt = be32(f->p + 36);
	f->charcnt = be32(f->p + 40);
	f->p += 44;
	if (f->typecnt == 0 || f->typecnt > 256 || f->charcnt == 0 ||
	    f->timecnt > 100000 || f->charcnt > 65536 || f->leapcnt > 100000)
		return -1;
	return 0;
}

static size_t tzif_block_size(const struct tzif *f, size_t tsize)
{
	return (size_t)f->timecnt * (tsize + 1) + (size_t)f->typecnt * 6 +
	       f->charcnt + (size_t)f->leapcnt * (tsize + 4) + f->isstdcnt +
	       f->isutcnt;
}

static int tzif_block(struct tz *z, struct tzif *f, size_t tsize)
{
	const unsigned char *p = f->p, *idx, *ty;

	if ((size_t)(f->end - p) < tzif_block_size(f, tsize))
		return -1;
	if (f->leapcnt)
		return -2;
	if (tz_reserve(z, f->timecnt ? f->timecnt : 1) < 0)
		return -ENOMEM;
	idx = p + (size_t)f->timecnt * tsize;
	ty = idx + f->timecnt;
	z->abbrs = malloc(f->charcnt + 1);
	z->types = calloc(f->typecnt, sizeof(*z->types));
	if (!z->abbrs || !z->types)
		return -ENOMEM;
	memcpy(z->abbrs, ty + (size_t)f->typecnt * 6, f->charcnt);
	z->abbrs[f->charcnt] = '\0';
	z->abbrs_len = f->charcnt + 1;
	for (uint32_t i = 0; i < f->typecnt; i++) {
		const unsigned char *t = ty + (size_t)i * 6;

		if (t[5] >= f->charcnt)
			return -1;
		z->types[i].utoff = (int32_t)be32(t);
		z->types[i].isdst = t[4] != 0;
		z->types[i].abbr = t[5];
	}
	z->ntypes = f->typecnt;
	for (uint32_t i = 0; i < f->timecnt; i++) {
		z->at[i] = tsize == 8 ? be64(p + (size_t)i * 8)
				      : (int32_t)be32(p + (size_t)i * 4);
		z->type[i] = idx[i];
		if (idx[i] >= f->typecnt || (i && z->at[i] <= z->at[i - 1]))
			return -1;
	}
	z->n = z->ntable = f->timecnt;
	f->p += tzif_block_size(f, tsize);
	return 0;
}

/* The footer of a version 2+ file: "\n" TZ-string "\n". */
static int tzif_footer(struct tz *z, const struct tzif *f)
{
	const unsigned char *nl;
	struct tz_posix px;
	char buf[128];
	size_t len;

	if (f->p >= f->end || *f->p != '\n')
		return -1;
	nl = memchr(f->p + 1, '\n', (size_t)(f->end - f->p - 1));
	if (!nl)
		return -1;
	len = (size_t)(nl - f->p - 1);
	if (len == 0)
		return 0; /* no rule: the table says all */
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, f->p + 1, len);
	buf[len] = '\0';
	if (posix_parse(buf, &px) < 0)
		return -1;
	return tz_extend(z, &px);
}

static int tz_parse(struct tz *z, const unsigned char *data, size_t len)
{
	struct tzif f = {data, data + len, 0, 0, 0, 0, 0, 0};
	int version, rc;

	if (tzif_header(&f) < 0)
		return -1;
	version = data[4];
	if (version == 0)
		return tzif_block(z, &f, 4);
	if ((size_t)(f.end - f.p) < tzif_block_size(&f, 4))
		return -1;
	f.p += tzif_block_size(&f, 4);
	if (tzif_header(&f) < 0)
		return -1;
	rc = tzif_block(z, &f, 8);
	if (rc < 0)
		return rc;
	return tzif_footer(z, &f);
}

static bool tz_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len > TZ_NAME_MAX || name[0] == '/' || name[0] == '.')
		return false;
	if (strstr(name, "/.") || strstr(name, "//"))
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '/' || c == '_' ||
		      c == '-' || c == '+' || c == '.'))
			return false;
	}
	return true;
}

/* UTC needs no file, so a system without tzdata still has it. */
static int tz_set_utc(struct tz *z)
{
	z->abbrs = xstrdup("UTC");
	z->types = calloc(1, sizeof(*z->types));
	if (!z->abbrs || !z->types)
		return -ENOMEM;
	z->abbrs_len = 4;
	z->ntypes = 1;
	return 0;
}

static int tz_read(struct tz *z, const char *name, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR");
	char path[4096];
	char *data;
	size_t len;
	int rc;

	if (!dir || !*dir)
		dir = TZ_DEFAULT_DIR;
	if (strcmp(name, "localtime") == 0)
		snprintf(path, sizeof(path), "/etc/localtime");
	else
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = file_read_all(path, &data, &len);
	if (rc == -ENOENT &&
	    (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0))
		return tz_set_utc(z);
	if (rc < 0) {
		snprintf(err, errlen, "time zone \"%s\": %s", name,
			 rc == -ENOENT || rc == -EISDIR ? "unknown zone"
							: strerror(-rc));
		return rc;
	}
	rc = tz_parse(z, (const unsigned char *)data, len);
	free(data);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "time zone \"%s\": out of memory", name);
	else if (rc == -2)
		snprintf(err, errlen,
			 "time zone \"%s\": leap-second zones are not "
			 "supported",
			 name);
	else if (rc < 0)
		snprintf(err, errlen,
			 "time zone \"%s\": %s is not a valid "
			 "TZif file",
			 name, path);
	return rc < 0 ? -EINVAL : 0;
}

struct tz *tz_load(const char *name, char *err, size_t errlen)
{
	struct tz *z;

	if (!name || !*name)
		name = "localtime";
	if (!tz_name_valid(name)) {
		snprintf(err, errlen,
			 "time zone \"%s\": not a zone name such as "
			 "Europe/Istanbul",
			 name);
		return NULL;
	}
	z = calloc(1, sizeof(*z));
	if (!z || !(z->name = xstrdup(name))) {
		snprintf(err, errlen, "time zone \"%s\": out of memory", name);
		tz_free(z);
		return NULL;
	}
	if (tz_read(z, name, err, errlen) < 0) {
		tz_free(z);
		return NULL;
	}
	return z;
}
