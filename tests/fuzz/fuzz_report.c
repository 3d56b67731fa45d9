/*
 * fuzz_report: report_parse() over any definition text, as the file
 * "fuzz_report.sql".  Checks: a definition or a list of problems, never
 * both, every problem naming the file; a parsed definition keeps its
 * promises (a valid source name, formats and attach among the four,
 * read-only mode bits, well-formed parameters each used by the SQL),
 * and its SQL and parameter queries go through sql_bind_rewrite() in
 * both marker styles naming only declared parameters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "fuzz.h"
#include "report.h"

#define FUZZ_REPORT_PATH "/fuzz/reports.d/fuzz_report.sql"

static bool declared(const struct report *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (!strcmp(r->params[i].name, name))
			return true;
	return false;
}

/* The body's placeholders: only declared ones, each declared one used. */
static void check_binds(const struct report *r)
{
	static const enum sql_marker styles[] = {SQL_QMARK, SQL_DOLLAR};
	char err[256], *out;
	char **names;
	size_t n;

	for (size_t s = 0; s < ARRAY_SIZE(styles); s++) {
		if (sql_bind_rewrite(r->sql, styles[s], &out, &names, &n, err,
				     sizeof(err)) < 0)
			continue; /* "?" or "$1" in the body: the driver's */
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(declared(r, names[i]),
				   "placeholder :%s is not declared", names[i]);
		for (size_t i = 0; i < r->nparams; i++) {
			bool used = false;

			for (size_t k = 0; k < n; k++)
				used |= !strcmp(names[k], r->params[i].name);
			FUZZ_CHECK(used, "param %s unused", r->params[i].name);
		}
		free(out);
		report_names_free(names, n);
	}
}

static void check_report(const struct report *r, const uint8_t *data,
			 size_t size)
{
	struct cron cr;
	char err[256];

	FUZZ_CHECK(!strcmp(r->name, "fuzz_report"), "name %s", r->name);
	FUZZ_CHECK(r->text_len == size && !memcmp(r->text, data, size),
		   "text is not the file");
	FUZZ_CHECK(r->source && report_name_valid(r->source), "source");
	FUZZ_CHECK(r->title, "no title");
	FUZZ_CHECK(r->formats && !(r->formats & ~((1u << FMT_COUNT) - 1)),
		   "formats %#x", r->formats);
	FUZZ_CHECK(r->attach && !(r->attach & ~r->formats),
		   "attach %#x of formats %#x", r->attach, r->formats);
	FUZZ_CHECK(!(r->mode & ~0444u), "mode %o", (unsigned)r->mode);
	FUZZ_CHECK(!r->sql != !r->odata, "sql and odata both or neither");
	FUZZ_CHECK(r->csv >= -1 && r->csv <= CSV_EXCEL_TR, "csv %d", r->csv);
	for (size_t i = 0; i < r->nmail; i++)
		FUZZ_CHECK(strchr(r->mail[i], '@') &&
			       !strpbrk(r->mail[i], " \t\r\n,<>"),
			   "mail '%s'", r->mail[i]);
	for (size_t i = 0; i < r->nparams; i++) {
		const struct report_param *p = &r->params[i];

		FUZZ_CHECK(report_name_valid(p->name) && p->name[0] != '-' &&
			       !(p->name[0] >= '0' && p->name[0] <= '9'),
			   "param name '%s'", p->name);
		FUZZ_CHECK(*p->sql, "param %s without SQL", p->name);
	}
	if (r->sql)
		check_binds(r);
	if (r->schedule)
		cron_parse(&cr, r->schedule, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report *r = NULL;
	struct diag d = {0};
	int rc;

	rc = report_parse(FUZZ_REPORT_PATH, (const char *)data, size, &r, &d);
	FUZZ_CHECK((rc == 0) == (r != NULL), "rc %d with report %p", rc,
		   (void *)r);
	FUZZ_CHECK(rc == 0 || d.errors > 0, "failed with no error");
	for (size_t i = 0; i < d.n; i++)
		FUZZ_CHECK(!strncmp(d.msgs[i], FUZZ_REPORT_PATH,
				    strlen(FUZZ_REPORT_PATH)),
			   "message names no file: %s", d.msgs[i]);
	if (r)
		check_report(r, data, size);
	report_free(r);
	diag_free(&d);
	return 0;
}
