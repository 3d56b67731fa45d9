/*
 * tree: the mount tree of DESIGN.md, path by path.  Resolves a path to a
 * node (a fixed folder, a report's folder or file, a status file, a
 * history file, a path under images/), and gives each node its
 * attributes, listing and content.  The FUSE operations in tree.c are
 * thin: resolve, check, delegate.
 */
#ifndef SAPB1_FS_TREE_H
#define SAPB1_FS_TREE_H

#include "fs.h"

enum node_kind {
	N_ROOT,
	N_README,
	N_REPORTS,
	N_REPORT_DIR,
	N_REPORT_FILE, /* <name>.<fmt> */
	N_QUERY_SQL,   /* query.sql */
	N_LAST_ERROR,  /* last-error.txt */
	N_HISTORY_DIR,
	N_HISTORY_FILE,
	N_STATUS_DIR,
	N_HEALTH,
	N_METRICS,
	N_IMAGES,
	N_IMAGE_PATH, /* under images/<share>/ */
};

/* The README.txt text (fs/status.c). */
char *status_readme(void);
/* .status/health.json and metrics.prom (fs/status.c). */
char *status_health_json(void);
char *status_metrics(void);

#endif
