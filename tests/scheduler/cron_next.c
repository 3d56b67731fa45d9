/*
 * cron-next: the test tool behind test_scheduler_cron.py.  Reads one
 * request a line from standard input and answers each with one line, so
 * Python can cross-check lib/cron and lib/tz against croniter and
 * zoneinfo over thousands of cases without a process each:
 *   N ZONE AFTER COUNT EXPR...  ->  COUNT instants after AFTER, or "E why"
 *   L ZONE T                    ->  "YYYY-MM-DD HH:MM:SS OFFSET ABBR DST"
 *   W ZONE WALL                 ->  "T KIND" (tz_from_wall)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "tz.h"

static void answer_next(const struct tz *z, char *rest)
{
	long long after, count;
	struct cron c;
	char err[256];
	int used = 0;

	if (sscanf(rest, "%lld %lld %n", &after, &count, &used) != 2) {
		puts("E bad request");
		return;
	}
	if (cron_parse(&c, rest + used, err, sizeof(err)) < 0) {
		printf("E %s\n", err);
		return;
	}
	for (long long i = 0; i < count; i++) {
		int64_t next;

		if (cron_next(&c, z, after, &next) < 0) {
			printf("%sE none", i ? " " : "");
			break;
		}
		printf("%s%" PRId64, i ? " " : "", next);
		after = next;
	}
	putchar('\n');
}

static void answer_local(const struct tz *z, const char *rest)
{
	struct tm tm;
	long long t;

	if (sscanf(rest, "%lld", &t) != 1) {
		puts("E bad request");
		return;
	}
	tz_localtime(z, t, &tm);
	printf("%04d-%02d-%02d %02d:%02d:%02d %ld %s %d\n", tm.tm_year + 1900,
	       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	       tm.tm_gmtoff, tm.tm_zone, tm.tm_isdst);
}

static void answer_wall(const struct tz *z, const char *rest)
{
	static const char *const kinds[] = {"unique", "repeated", "skipped"};
	enum tz_wall kind;
	long long wall;
	int64_t t;

	if (sscanf(rest, "%lld", &wall) != 1) {
		puts("E bad request");
		return;
	}
	t = tz_from_wall(z, wall, &kind);
	printf("%" PRId64 " %s\n", t, kinds[kind]);
}

static void answer(char *line)
{
	char op, zone[256], err[256];
	struct tz *z;
	int used = 0;

	line[strcspn(line, "\n")] = '\0';
	if (sscanf(line, "%c %255s %n", &op, zone, &used) != 2) {
		puts("E bad request");
		return;
	}
	z = tz_load(zone, err, sizeof(err));
	if (!z) {
		printf("E %s\n", err);
		return;
	}
	if (op == 'N')
		answer_next(z, line + used);
	else if (op == 'L')
		answer_local(z, line + used);
	else if (op == 'W')
		answer_wall(z, line + used);
	else
		puts("E bad request");
	tz_free(z);
}

int main(void)
{
	char line[4096];

	while (fgets(line, sizeof(line), stdin)) {
		answer(line);
		fflush(stdout);
	}
	return 0;
}
