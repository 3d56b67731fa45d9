/*
 * queries: query folders, queries/<source>/<query>/, the one writable
 * part of the mount.  A folder is a real folder under
 * state_dir/queries/<source>/, so saved queries survive a remount and
 * editors work as on any disk: they may create, rename and remove files
 * in it (temporary and backup files included); only query.sql has
 * meaning.  result.<fmt> and error.txt are generated like report files.
 *
 * Who may write is left to the kernel (default_permissions): the source
 * folder is shown group-writable for queries_group, and the real files
 * carry their creator as owner and queries_group as group.
 */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "snap.h"

#define QUERY_NAME_MAX 128

static const char *const result_names[FMT_COUNT] = {
    "result.xlsx",
    "result.csv",
    "result.json",
    "result.html",
};

static gid_t queries_gid(const struct conf_source *s)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (!s->queries_group ||
	    getgrnam_r(s->queries_group, &gr, buf, sizeof(buf), &res) != 0 ||
	    !res)
		return fs.gid;
	return gr.gr_gid;
}

static bool query_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > QUERY_NAME_MAX || name[0] == '.')
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return false;
	return true;
}

static void source_dir(const struct conf_source *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/queries/%s", fs.conf->state_dir, s->name);
}

void queries_real_path(const struct node *n, char *buf, size_t len)
{
	if (n->kind == N_QSOURCE)
		source_dir(n->qsrc, buf, len);
	else if (n->kind == N_QDIR)
		snprintf(buf, len, "%s/queries/%s/%s", fs.conf->state_dir,
			 n->qsrc->name, n->qname);
	else
		snprintf(buf, len, "%s/queries/%s/%s/%s", fs.conf->state_dir,
			 n->qsrc->name, n->qname, n->name);
}

static int result_fmt(const char *name)
{
	for (int f = 0; f < FMT_COUNT; f++)
		if (result_names[f] && !strcmp(name, result_names[f]))
			return f;
	return -1;
}

int queries_resolve(struct node *n, char *rest)
{
	char real[PATH_MAX];
	struct stat st;
	char *c;

	n->kind = N_QUERIES;
	c = tree_next_comp(&rest);
	if (!c)
		return 0;
	n->qsrc = conf_source_find(fs.conf, c);
	if (!n->qsrc || !n->qsrc->queries)
		return -ENOENT;
	n->kind = N_QSOURCE;
	c = tree_next_comp(&rest);
	if (!c)
		return 0;
	if (!query_name_valid(c))
		return -ENOENT;
	n->qname = c;
	n->kind = N_QDIR;
	queries_real_path(n, real, sizeof(real));
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	c = tree_next_comp(&rest);
	if (!c)
		return 0;
	if (tree_next_comp(&rest))
		return -ENOENT;
	n->name = c;
	n->fmt = result_fmt(c);
	if (n->fmt >= 0) {
		n->kind = N_QRESULT;
	} else if (!strcmp(c, "error.txt")) {
		char *e = queries_error_text(n);

		if (!e)
			return -ENOENT;
		free(e);
		n->kind = N_QERROR;
	} else {
		n->kind = N_QFILE;
	}
	return 0;
}

static void query_key(const struct node *n, char *buf, size_t len)
{
	snprintf(buf, len, "queries/%s/%s", n->qsrc->name, n->qname);
}

/* The instance of a query folder, with query.sql as it is now. */
struct inst *queries_inst(const struct node *n, char *err, size_t errlen)
{
	struct node sql = *n;
	char path[PATH_MAX], key[PATH_MAX + 16], label[48];
	struct inst_spec spec = {0};
	struct inst *in;
	char *text = NULL;
	size_t len = 0, i;

	sql.kind = N_QFILE;
	sql.name = "query.sql";
	queries_real_path(&sql, path, sizeof(path));
	if (file_read_all(path, &text, &len) < 0 || !*str_trim(text)) {
		snprintf(err, errlen, "query.sql is missing or empty");
		free(text);
		return NULL;
	}
	/* A file name the cache and drivers accept, for any query name. */
	snprintf(label, sizeof(label), "q_%s", n->qname);
	for (i = 2; label[i]; i++)
		if (!strchr(
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789_-",
			label[i]))
			label[i] = '_';
	spec.label = label;
	spec.title = n->qname;
	spec.source = n->qsrc->name;
	spec.sql = text;
	spec.formats = FMT_USER_MASK;
	spec.ttl = fs.conf->default_ttl;
	spec.csv = fs.conf->csv_dialect;
	spec.row_limit = n->qsrc->queries_row_limit;
	spec.def_hash = hash64(text, strlen(text));
	query_key(n, key, sizeof(key));
	in = inst_ensure(key, &spec);
	free(text);
	return in;
}

char *queries_error_text(const struct node *n)
{
	char key[PATH_MAX + 16];
	struct inst *in;

	query_key(n, key, sizeof(key));
	in = inst_lookup(key);
	return in ? inst_error(in) : NULL;
}

int queries_getattr(const char *path, const struct node *n, struct stat *st)
{
	(void)path;
	char real[PATH_MAX];
	struct inst *in;
	time_t t = 0;
	char err[128];

	switch (n->kind) {
	case N_QUERIES:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	case N_QSOURCE:
		st->st_mode = S_IFDIR | 0775;
		st->st_gid = queries_gid(n->qsrc);
		st->st_nlink = 2;
		return 0;
	case N_QRESULT:
		in = queries_inst(n, err, sizeof(err));
		st->st_mode = S_IFREG | 0444;
		st->st_gid = queries_gid(n->qsrc);
		if (in)
			inst_stat(in, n->fmt, &st->st_size, &t);
		if (t)
			st->st_mtime = st->st_ctime = t;
		st->st_blocks = (st->st_size + 511) / 512;
		return 0;
	default: {
		struct stat rst;

		/* A real file or folder: its owner, mode and times, our inode.
		 */
		queries_real_path(n, real, sizeof(real));
		if (lstat(real, &rst) < 0)
			return -errno;
		if (!S_ISDIR(rst.st_mode) && !S_ISREG(rst.st_mode))
			return -ENOENT;
		st->st_mode = rst.st_mode;
		st->st_uid = rst.st_uid;
		st->st_gid = rst.st_gid;
		st->st_size = rst.st_size;
		st->st_blocks = rst.st_blocks;
		st->st_nlink = S_ISDIR(rst.st_mode) ? 2 : 1;
		st->st_atim = rst.st_atim;
		st->st_mtim = rst.st_mtim;
		st->st_ctim = rst.st_ctim;
		return 0;
	}
	}
}

int queries_list(const struct node *n, void (*add)(void *, const char *),
		 void *ctx)
{
	char real[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (n->kind == N_QUERIES) {
		for (size_t i = 0; i < fs.conf->nsources; i++)
			if (fs.conf->sources[i].queries)
				add(ctx, fs.conf->sources[i].name);
		return 0;
	}
	queries_real_path(n, real, sizeof(real));
	if (n->kind == N_QSOURCE && mkdir_p(real, 0755) < 0)
		return 0;
	d = opendir(real);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			add(ctx, e->d_name);
	closedir(d);
	if (n->kind == N_QDIR) {
		for (int f = 0; f < FMT_COUNT; f++)
			if (result_names[f])
				add(ctx, result_names[f]);
		add(ctx, "error.txt");
	}
	return 0;
}

/* --- changes ---------------------------------------------------------- */

/* Resolves the folder that would hold @path; *name is the last part. */
static int resolve_parent(const char *path, struct node *n, char *name,
			  size_t len)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int rc;

	if (!slash || !slash[1])
		return -EINVAL;
	if (snprintf(name, len, "%s", slash + 1) >= (int)len)
		return -ENAMETOOLONG;
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	rc = tree_resolve(parent[0] ? parent : "/", n);
	if (rc < 0)
		return rc;
	return 0;
}

static void own(const char *real, const struct conf_source *s)
{
	struct fuse_context *ctx = fuse_get_context();

	if (lchown(real, ctx->uid, queries_gid(s)) < 0)
		log_errno(LOG_WARNING, "queries", errno,
			  "cannot give %s to its creator", real);
}

int queries_mkdir(const char *path, mode_t mode)
{
	char name[NAME_MAX + 1], real[PATH_MAX];
	struct node n;
	int rc = resolve_parent(path, &n, name, sizeof(name));

	(void)mode;
	if (rc < 0)
		return rc;
	if (n.kind != N_QSOURCE) {
		node_release(&n);
		return n.kind == N_QDIR ? -EPERM : -EROFS;
	}
	if (!query_name_valid(name)) {
		node_release(&n);
		return -EINVAL;
	}
	queries_real_path(&n, real, sizeof(real));
	mkdir_p(real, 0755);
	snprintf(real + strlen(real), sizeof(real) - strlen(real), "/%s", name);
	rc = mkdir(real, 02775) < 0 ? -errno : 0;
	if (rc == 0) {
		chmod(real, 02775);
		own(real, n.qsrc);
		log_msg(LOG_INFO, "queries", "query %s/%s created by uid %u",
			n.qsrc->name, name, (unsigned)fuse_get_context()->uid);
	}
	node_release(&n);
	return rc;
}

static int rm_dir_all(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir) < 0 ? -errno : 0;
}

/* rmdir deletes the query with its query.sql, as DESIGN says. */
int queries_rmdir(const struct node *n)
{
	char real[PATH_MAX], key[PATH_MAX + 16];
	int rc;

	if (n->kind != N_QDIR)
		return n->kind == N_QFILE ? -ENOTDIR : -EROFS;
	queries_real_path(n, real, sizeof(real));
	rc = rm_dir_all(real);
	if (rc == 0) {
		query_key(n, key, sizeof(key));
		inst_forget(key);
		log_msg(LOG_INFO, "queries", "query %s/%s deleted",
			n->qsrc->name, n->qname);
	}
	return rc;
}

int queries_unlink(const struct node *n)
{
	char real[PATH_MAX];

	/*
	 * Generated files cannot go, but "rm -r" of a query folder must
	 * work: removing one just drops its snapshot.
	 */
	if (n->kind == N_QRESULT || n->kind == N_QERROR) {
		char key[PATH_MAX + 16];
		struct inst *in;

		query_key(n, key, sizeof(key));
		in = inst_lookup(key);
		if (in)
			inst_touch(in);
		return 0;
	}
	if (n->kind != N_QFILE)
		return n->kind == N_QDIR ? -EISDIR : -EROFS;
	queries_real_path(n, real, sizeof(real));
	return unlink(real) < 0 ? -errno : 0;
}

/* A file to create or write: in a query folder, not a generated name. */
static int writable_target(const char *path, struct node *n, char *real,
			   size_t len)
{
	char name[NAME_MAX + 1];
	int rc = resolve_parent(path, n, name, sizeof(name));

	if (rc < 0)
		return rc;
	if (n->kind != N_QDIR) {
		node_release(n);
		return -EROFS;
	}
	if (result_fmt(name) >= 0 || !strcmp(name, "error.txt")) {
		node_release(n);
		return -EPERM;
	}
	queries_real_path(n, real, len);
	snprintf(real + strlen(real), len - strlen(real), "/%s", name);
	return 0;
}

int queries_create(const char *path, mode_t mode, int flags, int *fd)
{
	char real[PATH_MAX];
	struct node n;
	int rc = writable_target(path, &n, real, sizeof(real));

	if (rc < 0)
		return rc;
	*fd = open(real, (flags & ~O_EXCL) | O_CREAT | O_CLOEXEC,
		   (mode & 0666) | 0660);
	rc = *fd < 0 ? -errno : 0;
	if (rc == 0)
		own(real, n.qsrc);
	node_release(&n);
	return rc;
}

int queries_open_file(const struct node *n, int flags, int *fd)
{
	char real[PATH_MAX];

	if (n->kind != N_QFILE)
		return -EROFS;
	queries_real_path(n, real, sizeof(real));
	*fd = open(real, (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

int queries_rename(const char *from, const char *to, unsigned int flags)
{
	char rfrom[PATH_MAX], rto[PATH_MAX], name[NAME_MAX + 1];
	char key[PATH_MAX + 16];
	struct node a, b;
	int rc = tree_resolve(from, &a);

	if (rc < 0)
		return rc;
	rc = resolve_parent(to, &b, name, sizeof(name));
	if (rc < 0) {
		node_release(&a);
		return rc;
	}
	if (a.kind == N_QDIR && b.kind == N_QSOURCE && b.qsrc == a.qsrc &&
	    query_name_valid(name)) {
		queries_real_path(&a, rfrom, sizeof(rfrom));
		queries_real_path(&b, rto, sizeof(rto));
		query_key(&a, key, sizeof(key));
	} else if (a.kind == N_QFILE && b.kind == N_QDIR && b.qsrc == a.qsrc &&
		   result_fmt(name) < 0 && strcmp(name, "error.txt")) {
		queries_real_path(&a, rfrom, sizeof(rfrom));
		queries_real_path(&b, rto, sizeof(rto));
		key[0] = '\0';
	} else {
		node_release(&a);
		node_release(&b);
		return a.kind == N_QRESULT ? -EPERM : -EROFS;
	}
	snprintf(rto + strlen(rto), sizeof(rto) - strlen(rto), "/%s", name);
	rc = renameat2(AT_FDCWD, rfrom, AT_FDCWD, rto, flags) < 0 ? -errno : 0;
	if (rc == 0 && key[0])
		inst_forget(key);
	node_release(&a);
	node_release(&b);
	return rc;
}

int queries_setattr(const struct node *n, const mode_t *mode, const uid_t *uid,
		    const gid_t *gid, const off_t *size,
		    const struct timespec *tv)
{
	char real[PATH_MAX];
	int rc = 0;

	if (n->kind != N_QFILE && n->kind != N_QDIR)
		return -EROFS;
	queries_real_path(n, real, sizeof(real));
	/* The kernel checked ownership; as root we just carry it out. */
	if (mode && chmod(real, *mode & 07777) < 0)
		rc = -errno;
	if (!rc && (uid || gid) &&
	    lchown(real, uid ? *uid : (uid_t)-1, gid ? *gid : (gid_t)-1) < 0)
		rc = -errno;
	if (!rc && size && truncate(real, *size) < 0)
		rc = -errno;
	if (!rc && tv && utimensat(AT_FDCWD, real, tv, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	return rc;
}
