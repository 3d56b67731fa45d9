/*
 * tree: the mount tree of DESIGN.md, path by path.  Resolves a path to a
 * node (a fixed folder, a report's folder or file, a parameter folder, a
 * query folder, a status file, a history file, a path under images/),
 * and gives each node its attributes, listing and content.  The FUSE
 * operations are thin: resolve, check, delegate.  Query folders, the
 * only writable part, live in queries.c.
 */
#ifndef SAPB1_FS_TREE_H
#define SAPB1_FS_TREE_H

#include <limits.h>

#include "driver.h"
#include "fs.h"

#define NODE_MAX_PARAMS 8

enum node_kind {
	N_ROOT,
	N_README,
	N_REPORTS,
	N_REPORT_DIR,
	N_REPORT_FILE, /* <name>.<fmt>, at the top or under values */
	N_QUERY_SQL,   /* reports/<name>/query.sql */
	N_LAST_ERROR,  /* last-error.txt */
	N_HISTORY_DIR,
	N_HISTORY_FILE,
	N_PARAM_DIR, /* reports/<name>/<param>/ */
	N_VALUE_DIR, /* reports/<name>/<param>/<value>/ */
	N_STATUS_DIR,
	N_HEALTH,
	N_METRICS,
	N_IMAGES,
	N_IMAGE_PATH, /* under images/<share>/ */
	N_QUERIES,    /* queries/ */
	N_QSOURCE,    /* queries/<source>/ */
	N_QDIR,	      /* queries/<source>/<query>/ */
	N_QRESULT,    /* result.<fmt> */
	N_QERROR,     /* error.txt */
	N_QFILE,      /* any other file in a query folder (real) */
};

struct node {
	enum node_kind kind;
	struct fs_defs *defs; /* held for report nodes */
	const struct report *rep;
	size_t ridx;
	int fmt;
	const char *name; /* last component */
	const char *share;
	const char *rel;
	size_t pidx;	/* N_PARAM_DIR: which parameter */
	size_t nchosen; /* parameter values chosen on the path */
	struct drv_param chosen[NODE_MAX_PARAMS]; /* values are ours */
	const struct conf_source *qsrc;
	const char *qname;
	char buf[PATH_MAX];
};

/*
 * After a reload: drops the kernel's attributes of @old's report folders
 * and the files at their top, whose modes, groups and existence may
 * have changed.  Deeper (parameter value) folders wait out the second.
 */
void tree_defs_changed(const struct fs_defs *old);

/* Lets go of the handles the kernel never released (at unmount). */
void tree_release_all(void);

/* Resolves @path; 0, or -ENOENT and friends.  node_release() after. */
int tree_resolve(const char *path, struct node *n);
void node_release(struct node *n);

/* Splits the next component off *p; returns it or NULL at the end. */
char *tree_next_comp(char **p);

/* Inode number and the fields every node shares. */
void tree_fill_common(struct stat *st, const char *path);

/* queries.c: query folders. */
int queries_resolve(struct node *n, char *rest);
int queries_getattr(const char *path, const struct node *n, struct stat *st);
/* Lists @n's entries through @add(ctx, name). */
int queries_list(const struct node *n, void (*add)(void *, const char *),
		 void *ctx);
/* The result instance of a query folder; NULL when it has no SQL. */
struct inst *queries_inst(const struct node *n, char *err, size_t errlen);
char *queries_error_text(const struct node *n);
void queries_real_path(const struct node *n, char *buf, size_t len);
/* Changes in query folders; each 0 or -errno, FUSE style. */
int queries_mkdir(const char *path, mode_t mode);
int queries_rmdir(const struct node *n);
int queries_unlink(const struct node *n);
int queries_create(const char *path, mode_t mode, int flags, int *fd);
int queries_open_file(const struct node *n, int flags, int *fd);
int queries_rename(const char *from, const char *to, unsigned int flags);
/* Any of the pointers may be NULL: that attribute stays. */
int queries_setattr(const struct node *n, const mode_t *mode, const uid_t *uid,
		    const gid_t *gid, const off_t *size,
		    const struct timespec *tv);

/* The README.txt text (fs/status.c). */
char *status_readme(void);
/* .status/health.json and metrics.prom (fs/status.c). */
char *status_health_json(void);
char *status_metrics(void);

#endif
