/*
 * smbtool: drives backends/smb.c and fs/images.c for the tests, without
 * the daemon.  One share per run, given on the command line; the
 * password comes from $SMBTOOL_PASSWORD so it stays out of ps.
 *
 *   smbtool [options] ls REL          "MODE SIZE MTIME.NSEC NAME" lines
 *   smbtool [options] stat REL        the same for one path
 *   smbtool [options] cat REL [OFF [LEN]]  bytes to stdout
 *   smbtool [options] repeat N CMD ARGS    CMD N times, one process
 *   smbtool [options] health          the share's health.json members
 *   smbtool [options] mount DIR [FUSE OPTIONS]  /<name>/... mirrors it
 *
 * Options: -u URL -U USER -W DOMAIN -n NAME -t TIMEOUT_S -c TTL_S
 * -p POOL -a AUTH_RETRY_MS -r RA_MAX_KIB.  Exit status 0, or 1 with
 * "smbtool: CMD REL: strerror" on stderr.  With $SMBTOOL_DIRECT_IO set,
 * the mount opens files with direct_io (to compare read paths).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "smb.h"
#include "util.h"

struct tool {
	struct conf conf;
	struct conf_share share;
	struct smb_opts opts;
};

static struct tool tool;

static int tool_fail(const char *cmd, const char *rel, int rc)
{
	fprintf(stderr, "smbtool: %s %s: %s\n", cmd, rel, strerror(-rc));
	return 1;
}

static void tool_print(const char *name, const struct stat *st)
{
	printf("%o %lld %lld.%09ld %s\n", (unsigned)st->st_mode,
	       (long long)st->st_size, (long long)st->st_mtim.tv_sec,
	       st->st_mtim.tv_nsec, name);
}

static int tool_ls_fill(void *buf, const char *name, const struct stat *st,
			off_t off, enum fuse_fill_dir_flags flags)
{
	(void)buf;
	(void)off;
	(void)flags;
	tool_print(name, st);
	return 0;
}

static int tool_cat(const char *rel, off_t off, long long len)
{
	struct fuse_file_info fi = {.flags = O_RDONLY};
	static char buf[1 << 20];
	int rc = images_open(tool.share.name, rel, &fi);

	if (rc)
		return rc;
	while (len != 0) {
		size_t want = sizeof(buf);

		if (len > 0 && (long long)want > len)
			want = (size_t)len;
		rc = images_read(&fi, buf, want, off);
		if (rc <= 0)
			break;
		if (fd_write_all(1, buf, (size_t)rc)) {
			rc = -EIO;
			break;
		}
		off += rc;
		if (len > 0)
			len -= rc;
		rc = 0;
	}
	images_release(&fi);
	return rc < 0 ? rc : 0;
}

static int tool_cmd(int argc, char **argv)
{
	const char *cmd = argv[0], *rel = argc > 1 ? argv[1] : "";
	struct stat st;
	int rc;

	if (strcmp(cmd, "ls") == 0) {
		rc = images_readdir(tool.share.name, rel, NULL, tool_ls_fill);
	} else if (strcmp(cmd, "stat") == 0) {
		rc = images_getattr(tool.share.name, rel, &st);
		if (!rc)
			tool_print(rel, &st);
	} else if (strcmp(cmd, "cat") == 0) {
		rc = tool_cat(rel, argc > 2 ? strtoll(argv[2], NULL, 0) : 0,
			      argc > 3 ? strtoll(argv[3], NULL, 0) : -1);
	} else if (strcmp(cmd, "health") == 0) {
		struct strbuf sb = STRBUF_INIT;

		images_health_json(&sb);
		printf("{%s}\n", sb.buf ? sb.buf : "");
		strbuf_release(&sb);
		rc = 0;
	} else {
		fprintf(stderr, "smbtool: unknown command %s\n", cmd);
		return 2;
	}
	fflush(stdout);
	return rc ? tool_fail(cmd, rel, rc) : 0;
}

/* ---- a minimal mount: /<name>/... is the share ------------------------ */

/* Splits "/name/rel" into the share's rel; NULL when outside it. */
static const char *tool_rel(const char *path)
{
	size_t n = strlen(tool.share.name);

	if (path[0] != '/' || strncmp(path + 1, tool.share.name, n) != 0)
		return NULL;
	if (path[n + 1] == '\0')
		return "";
	if (path[n + 1] != '/')
		return NULL;
	return path + n + 2;
}

static int tool_getattr(const char *path, struct stat *st,
			struct fuse_file_info *fi)
{
	const char *rel = tool_rel(path);
	int rc;

	(void)fi;
	if (strcmp(path, "/") == 0) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		st->st_ino = 1;
		return 0;
	}
	if (!rel)
		return -ENOENT;
	rc = images_getattr(tool.share.name, rel, st);
	if (!rc)
		st->st_ino = hash64_str(path) | 2;
	return rc;
}

struct tool_dir {
	void *buf;
	fuse_fill_dir_t filler;
	const char *path;
};

static int tool_fill(void *buf, const char *name, const struct stat *st,
		     off_t off, enum fuse_fill_dir_flags flags)
{
	struct tool_dir *d = buf;
	char path[PATH_MAX];
	struct stat copy = *st;

	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	copy.st_ino = hash64_str(path) | 2;
	return d->filler(d->buf, name, &copy, off, flags);
}

static int tool_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
			off_t off, struct fuse_file_info *fi,
			enum fuse_readdir_flags flags)
{
	struct tool_dir d = {buf, filler, path};
	const char *rel = tool_rel(path);

	(void)off;
	(void)fi;
	(void)flags;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	if (strcmp(path, "/") == 0) {
		filler(buf, tool.share.name, NULL, 0, 0);
		return 0;
	}
	if (!rel)
		return -ENOENT;
	return images_readdir(tool.share.name, rel, &d, tool_fill);
}

static int tool_open(const char *path, struct fuse_file_info *fi)
{
	const char *rel = tool_rel(path);

	if (!rel)
		return -ENOENT;
	if (getenv("SMBTOOL_DIRECT_IO"))
		fi->direct_io = 1;
	return images_open(tool.share.name, rel, fi);
}

static int tool_read(const char *path, char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)path;
	return images_read(fi, buf, size, off);
}

static int tool_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	images_release(fi);
	return 0;
}

static int tool_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = 255;
	return 0;
}

static int tool_erofs_create(const char *path, mode_t mode,
			     struct fuse_file_info *fi)
{
	(void)path;
	(void)mode;
	(void)fi;
	return -EROFS;
}

static int tool_erofs_mkdir(const char *path, mode_t mode)
{
	(void)path;
	(void)mode;
	return -EROFS;
}

static int tool_erofs_unlink(const char *path)
{
	(void)path;
	return -EROFS;
}

static int tool_erofs_rename(const char *from, const char *to,
			     unsigned int flags)
{
	(void)from;
	(void)to;
	(void)flags;
	return -EROFS;
}

static int tool_erofs_truncate(const char *path, off_t size,
			       struct fuse_file_info *fi)
{
	(void)path;
	(void)size;
	(void)fi;
	return -EROFS;
}

static void *tool_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->entry_timeout = 1;
	cfg->attr_timeout = 1;
	cfg->negative_timeout = 1;
	return NULL;
}

static const struct fuse_operations tool_ops = {
    .init = tool_init,
    .getattr = tool_getattr,
    .readdir = tool_readdir,
    .open = tool_open,
    .read = tool_read,
    .release = tool_release,
    .statfs = tool_statfs,
    .create = tool_erofs_create,
    .mknod = NULL,
    .mkdir = tool_erofs_mkdir,
    .unlink = tool_erofs_unlink,
    .rmdir = tool_erofs_unlink,
    .rename = tool_erofs_rename,
    .truncate = tool_erofs_truncate,
};

static int tool_mount(int argc, char **argv)
{
	char *fargv[64];
	int fargc = 0, i;

	fargv[fargc++] = "smbtool";
	for (i = 1; i < argc && fargc < 60; i++)
		fargv[fargc++] = argv[i];
	fargv[fargc++] = "-o";
	fargv[fargc++] = "ro,default_permissions,fsname=smbtool";
	fargv[fargc] = NULL;
	return fuse_main(fargc, fargv, &tool_ops, NULL);
}

/* ---- options ----------------------------------------------------------- */

static void tool_usage(void)
{
	fprintf(stderr,
		"usage: smbtool [-u URL] [-U USER] [-W DOMAIN] [-n NAME] "
		"[-t TIMEOUT] [-c TTL]\n"
		"               [-p POOL] [-a AUTH_RETRY_MS] [-r RA_KIB] "
		"CMD [ARGS]\n"
		"commands: ls REL, stat REL, cat REL [OFF [LEN]], "
		"repeat N CMD ARGS, health, mount DIR [FUSE OPTS]\n");
}

static int tool_options(int argc, char **argv)
{
	int c;

	smb_opts_default(&tool.opts);
	tool.share.name = "pics";
	tool.share.timeout = 20;
	tool.share.dir_cache_ttl = 10;
	tool.share.password = getenv("SMBTOOL_PASSWORD");
	while ((c = getopt(argc, argv, "+u:U:W:n:t:c:p:a:r:")) != -1) {
		switch (c) {
		case 'u':
			tool.share.url = optarg;
			break;
		case 'U':
			tool.share.user = optarg;
			break;
		case 'W':
			tool.share.domain = optarg;
			break;
		case 'n':
			tool.share.name = optarg;
			break;
		case 't':
			tool.share.timeout = atoi(optarg);
			break;
		case 'c':
			tool.share.dir_cache_ttl = atoi(optarg);
			break;
		case 'p':
			tool.opts.pool_size = atoi(optarg);
			break;
		case 'a':
			tool.opts.auth_retry_ms = atoi(optarg);
			break;
		case 'r':
			tool.opts.ra_max = (size_t)atol(optarg) << 10;
			break;
		default:
			return -1;
		}
	}
	if (!tool.share.url || optind >= argc)
		return -1;
	return optind;
}

int main(int argc, char **argv)
{
	int first, rc, n = 1, i;

	log_init("smbtool", true);
	first = tool_options(argc, argv);
	if (first < 0) {
		tool_usage();
		return 2;
	}
	argv += first;
	argc -= first;
	if (strcmp(argv[0], "repeat") == 0 && argc > 2) {
		n = atoi(argv[1]);
		argv += 2;
		argc -= 2;
	}
	smb_opts_set_default(&tool.opts);
	tool.conf.path = "smbtool";
	tool.conf.shares = &tool.share;
	tool.conf.nshares = 1;
	if (images_init(&tool.conf))
		return 1;

	if (strcmp(argv[0], "mount") == 0) {
		rc = tool_mount(argc, argv);
	} else {
		for (i = 0, rc = 0; i < n; i++)
			rc |= tool_cmd(argc, argv);
	}
	images_shutdown();
	return rc;
}
