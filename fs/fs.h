/*
 * fs: what the parts of the sapb1fs daemon share: the loaded config and
 * definitions, and the handle kinds the FUSE operations pass around.
 *
 * The definitions are swapped whole on reload (SIGHUP, a change in
 * reports_dir); readers take a reference with fs_defs_get() and drop it
 * with fs_defs_put(), so a reload never frees what an operation uses.
 */
#ifndef SAPB1_FS_H
#define SAPB1_FS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"
#include "report.h"

/* One loaded set of report definitions. */
struct fs_defs {
	int refs;
	struct report **v;
	size_t n;
	gid_t *gid; /* per report: its group, or the daemon's gid */
};

struct fs_ctx {
	struct conf *conf;
	struct fs_defs *defs; /* guarded by the defs lock in main.c */
	uid_t uid;	      /* owner shown for every node */
	gid_t gid;
	time_t mounted; /* times of the fixed folders */
	const char *config_path;
};

extern struct fs_ctx fs;

struct fs_defs *fs_defs_get(void);
void fs_defs_put(struct fs_defs *d);

/* The report named @name in @d, or NULL; *idx gets its index. */
const struct report *fs_defs_find(const struct fs_defs *d, const char *name,
				  size_t *idx);

/* Re-reads reports_dir; logs what changed.  0 or -errno. */
int fs_defs_reload(void);

/* The FUSE operations (fs/tree.c). */
extern const struct fuse_operations fs_ops;

#endif
