/*
 * run: one execution of a report or query: take a connection, run the
 * statement under a watchdog that cancels it at the source's timeout,
 * and stream the rows into every requested format at once.  The caller
 * (snap.c) decides where the files go and what a result replaces.
 */
#ifndef SAPB1_FS_RUN_H
#define SAPB1_FS_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "driver.h"
#include "render.h"
#include "source.h"

struct run_spec {
	const char *label; /* report or query name, for logs and drivers */
	const char *title;
	const char *sql; /* SQL, or an OData path when @odata */
	bool odata;
	const struct drv_param *params;
	size_t nparams;
	struct source *src;
	unsigned formats;	/* 1 << FMT_* */
	char *paths[FMT_COUNT]; /* output file per requested format */
	enum csv_dialect csv;
	long row_limit;	      /* rows kept at most; 0 for all */
	bool tr_numbers;      /* HTML: Turkish digit grouping */
	const char *timezone; /* for "generated at" */
	const char *tmpdir;
	time_t started;
};

/* A failure of our own (the cache disk), not of the source. */
#define RUN_ERR_LOCAL (-100)

struct run_result {
	int status; /* DRV_OK, a drv_status, or RUN_ERR_LOCAL */
	uint64_t rows;
	bool truncated; /* stopped at row_limit */
	int64_t ms;	/* wall time */
	char err[1024]; /* why it failed, for last-error.txt */
};

/* Runs @rs; returns res->status.  Unlinks partial files on failure. */
int run_execute(const struct run_spec *rs, struct run_result *res);

/* Rows fetched and runs finished since start, for metrics. */
void run_metrics(struct strbuf *sb);

/*
 * Runs @sql on @src under the same timeout and collects the first column
 * of each row as text (NULLs left out), at most @max values.  0 and a
 * NULL-terminated *out (free with run_values_free), or a drv_status with
 * a reason in @err.
 */
int run_values(struct source *src, const char *label, const char *sql,
	       const struct drv_param *params, size_t nparams, size_t max,
	       char ***out, size_t *n, char *err, size_t errlen);
void run_values_free(char **v);

#endif
