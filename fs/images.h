/*
 * images: the images/<share>/ subtree, a read-only mirror of each
 * [share NAME] through libsmbclient (backends/smb.h).  The tree module
 * (fs/tree.c) calls these for every path under images/; @share is the
 * share's config name and @rel the path below it ("" for its root, no
 * leading '/').  Each returns 0 or -errno, as FUSE wants, and never
 * blocks longer than the share's timeout.
 */
#ifndef SAPB1_FS_IMAGES_H
#define SAPB1_FS_IMAGES_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conf.h"
#include "util.h"

/* Starts the share clients; nothing connects until first use. */
int images_init(const struct conf *c);
void images_shutdown(void);

/* Attributes; st_ino is set by the caller, mode bits are read-only. */
int images_getattr(const char *share, const char *rel, struct stat *st);

/* Lists a folder: calls @filler(buf, name, &st, 0, FUSE_FILL_DIR_PLUS). */
int images_readdir(const char *share, const char *rel, void *buf,
		   fuse_fill_dir_t filler);

/* Opens a file for reading; stores its handle in fi->fh. */
int images_open(const char *share, const char *rel, struct fuse_file_info *fi);
/* Reads at @off; returns bytes (0 at end) or -errno. */
int images_read(struct fuse_file_info *fi, char *buf, size_t size, off_t off);
void images_release(struct fuse_file_info *fi);

/*
 * Appends the shares' state to @sb as JSON object members
 * ("name": {"reachable": ..., "latency_ms": ..., "last_error": ...}),
 * comma-separated, no surrounding braces.
 */
void images_health_json(struct strbuf *sb);

#endif
