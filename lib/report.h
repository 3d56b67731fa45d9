/*
 * report: report definitions, one "<name>.sql" file each in reports_dir:
 * a header of "-- key: value" lines, then the SQL (or an OData path).
 *
 * Owns parsing and checking a definition, loading a folder of them, and
 * turning ":name" placeholders into a driver's own markers so values are
 * always bound, never pasted into SQL text.  Nothing here logs.
 */
#ifndef SAPB1_REPORT_H
#define SAPB1_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "render.h"
#include "util.h"

#define REPORT_NAME_MAX 64

struct report_param {
	char *name; /* placeholder name, also the folder name */
	char *sql;  /* lists the values, one per row, first column */
};

struct report {
	char *name;	  /* folder name: [A-Za-z0-9_-]+ */
	char *path;	  /* the definition file */
	char *title;	  /* -- title:, defaults to @name */
	char *source;	  /* -- source: (required) */
	char *sql;	  /* body after the header, NULL for odata */
	char *odata;	  /* -- odata: path for servicelayer sources */
	unsigned formats; /* bit (1 << FMT_*) per listed format */
	int ttl;	  /* seconds; -1: the mount's default_ttl */
	char *schedule;	  /* cron text or NULL */
	int schedule_line;
	char **mail; /* recipients */
	size_t nmail;
	unsigned attach; /* formats attached to mails, default xlsx */
	int csv;	 /* enum csv_dialect, or -1 for [global] */
	char *group;	 /* owning group name or NULL */
	mode_t mode;	 /* file mode, default 0444 (0440 with group) */
	int retry;	 /* scheduler retries, -1: [scheduler] retry */
	struct report_param *params;
	size_t nparams;
	char *text; /* the whole file, shown as query.sql */
	size_t text_len;
	int body_line; /* first line of the SQL body */
	uint64_t hash; /* of @text: a changed definition changes it */
};

/*
 * Parses one definition.  @path names the file (for messages and the
 * name); @text is its content.  Returns 0 and *out, or -1 with the
 * problems in @d (each with the file and line).
 */
int report_parse(const char *path, const char *text, size_t len,
		 struct report **out, struct diag *d);

/* Reads and parses @path. */
int report_load(const char *path, struct report **out, struct diag *d);

/*
 * Loads every "*.sql" file in @dir, sorted by name; files that fail are
 * reported in @d and left out.  Returns the number loaded or -errno when
 * the folder cannot be read.  Editor temporaries (".#x.sql", "x.sql~",
 * ".x.sql.swp") are ignored.
 */
int report_load_dir(const char *dir, struct report ***out, struct diag *d);

void report_free(struct report *r);
void report_free_all(struct report **v, size_t n);

/* True when @name is a valid report or parameter name. */
bool report_name_valid(const char *name);

/* Where a driver wants its bound values. */
enum sql_marker {
	SQL_QMARK,  /* ODBC: "?" per occurrence */
	SQL_DOLLAR, /* libpq: "$n" per distinct name */
};

/*
 * Rewrites ":name" placeholders of @sql into @style markers, skipping
 * string literals, quoted identifiers, comments and "::" casts.  On
 * success *out_sql is the new text and *names the placeholder names in
 * marker order (one per "?" for SQL_QMARK, one per distinct name for
 * SQL_DOLLAR), both for the caller to free (report_names_free).
 * Returns 0 or -1 with a reason in @err.
 */
int sql_bind_rewrite(const char *sql, enum sql_marker style, char **out_sql,
		     char ***names, size_t *nnames, char *err, size_t errlen);
void report_names_free(char **names, size_t n);

#endif
