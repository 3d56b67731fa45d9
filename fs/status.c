/*
 * status: the files that describe the mount itself: README.txt at the
 * root, and .status/health.json and metrics.prom, made anew on each open
 * from what the source pools, the snapshot layer and the shares know.
 */
#include "config.h"
#include "tree.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "inval.h"
#include "run.h"
#include "shared.h"
#include "snap.h"
#include "source.h"
#ifdef HAVE_IMAGES
#include "images.h"
#endif

char *status_readme(void)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb,
		    "sapb1fs %s: SAP Business One reports as files\n"
		    "\n"
		    "Each folder under reports/ is one report. Opening one "
		    "of its files (.xlsx,\n"
		    ".csv, .json, .html) runs the report, or reuses a result "
		    "younger than the\n"
		    "report's ttl, and gives you the complete file; every "
		    "format of one run\n"
		    "holds the same rows. query.sql shows how the report is "
		    "made, last-error.txt\n"
		    "appears while the last run failed (you then get the "
		    "last good result), and\n"
		    "history/ keeps the scheduler's copies.\n"
		    "\n"
		    "images/ holds the product pictures of the company's "
		    "file shares, read-only.\n"
		    ".status/health.json tells whether each data source "
		    "answers. Files here\n"
		    "cannot be changed; ask the administrator for a new "
		    "report. Configuration:\n"
		    "%s\n",
		    PACKAGE_VERSION, fs.config_path);
	return strbuf_detach(&sb);
}

char *status_health_json(void)
{
	struct strbuf sb = STRBUF_INIT;
	char when[40];
	struct tm tm;

	gmtime_r(&fs.mounted, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strbuf_addf(&sb, "{\n  \"version\": \"%s\",\n  \"mounted\": \"%s\",\n",
		    PACKAGE_VERSION, when);
	strbuf_adds(&sb, "  \"sources\": {");
	source_health_json(&sb);
	strbuf_adds(&sb, "\n  },\n  \"reports\": {");
	snap_health_json(&sb);
	strbuf_adds(&sb, "\n  },\n  \"shares\": {");
#ifdef HAVE_IMAGES
	images_health_json(&sb);
#endif
	strbuf_adds(&sb, "\n  },\n  \"redis\": ");
	shared_health_json(&sb);
	strbuf_adds(&sb, "\n}\n");
	return strbuf_detach(&sb);
}

char *status_metrics(void)
{
	struct strbuf sb = STRBUF_INIT;

	source_metrics(&sb);
	run_metrics(&sb);
	snap_metrics(&sb);
	inval_metrics(&sb);
	shared_metrics(&sb);
	return strbuf_detach(&sb);
}
