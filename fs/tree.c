/*
 * tree: path resolution and the FUSE operations; see tree.h.
 *
 * Nothing here runs a query except open() of a report file: getattr and
 * readdir answer from what the snapshot layer already knows.  Every
 * attribute is derived from the definition (mode, group) and the last
 * snapshot (size, time), and inode numbers are a hash of the path, so
 * they are the same on every mount and every host.
 */
#include "config.h"
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "inval.h"
#include "log.h"
#include "params.h"
#include "snap.h"
#ifdef HAVE_IMAGES
#include "images.h"
#endif

enum fh_kind {
	FH_SNAP,
	FH_BUF,
	FH_FD,
	FH_IMAGE,
};

struct fh {
	struct fh *prev, *next; /* every open handle, for the unmount */
	enum fh_kind kind;
	struct inst *inst;
	struct snap_handle sh;
	char *buf;
	size_t len;
	int fd;
	uint64_t image_fh;
};

/*
 * The kernel may send a RELEASE after the daemon was told to stop; the
 * handles it never released are let go at unmount (tree_release_all).
 */
static pthread_mutex_t fh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fh fh_list = {.prev = &fh_list, .next = &fh_list};

static void fh_track(struct fh *h)
{
	pthread_mutex_lock(&fh_lock);
	h->next = fh_list.next;
	h->prev = &fh_list;
	fh_list.next->prev = h;
	fh_list.next = h;
	pthread_mutex_unlock(&fh_lock);
}

static void fh_untrack(struct fh *h)
{
	pthread_mutex_lock(&fh_lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&fh_lock);
}

void node_release(struct node *n)
{
	for (size_t i = 0; i < n->nchosen; i++)
		free((char *)n->chosen[i].value);
	n->nchosen = 0;
	if (n->defs)
		fs_defs_put(n->defs);
	n->defs = NULL;
}

char *tree_next_comp(char **p)
{
	char *s = *p, *slash;

	while (*s == '/')
		s++;
	if (!*s)
		return NULL;
	slash = strchr(s, '/');
	if (slash) {
		*slash = '\0';
		*p = slash + 1;
	} else {
		*p = s + strlen(s);
	}
	return s;
}

/* What a run of @r makes: its formats, and a mail body when it mails. */
static unsigned report_formats(const struct report *r)
{
	return r->formats | (r->nmail ? 1u << FMT_MAIL : 0);
}

static int report_file_fmt(const struct report *r, const char *comp)
{
	size_t n = strlen(r->name);
	int fmt;

	if (strncmp(comp, r->name, n) != 0 || comp[n] != '.')
		return -1;
	fmt = render_fmt_parse(comp + n + 1);
	if (fmt < 0 || !(report_formats(r) & (1u << fmt)))
		return -1;
	return fmt;
}

static int resolve_history(struct node *n, char *rest)
{
	char *c = tree_next_comp(&rest);

	n->kind = N_HISTORY_DIR;
	if (!c)
		return 0;
	if (c[0] == '.' || tree_next_comp(&rest))
		return -ENOENT;
	n->kind = N_HISTORY_FILE;
	n->name = c;
	return 0;
}

/* The snapshot key of a report node: its name and chosen values. */
static void report_key(const struct node *n, char *buf, size_t len)
{
	char enc[PARAM_NAME_MAX + 1];
	size_t off;

	off = (size_t)snprintf(buf, len, "reports/%s", n->rep->name);
	for (size_t i = 0; i < n->nchosen && off < len; i++) {
		param_encode(n->chosen[i].value, enc, sizeof(enc));
		off += (size_t)snprintf(buf + off, len - off, "/%s=%s",
					n->chosen[i].name, enc);
	}
}

static int resolve_files(struct node *n, const char *c)
{
	int fmt;

	if (!strcmp(c, "last-error.txt")) {
		char key[PATH_MAX];
		struct inst *in;
		char *e;

		report_key(n, key, sizeof(key));
		in = inst_lookup(key);
		e = in ? inst_error(in) : NULL;
		if (!e)
			return -ENOENT;
		free(e);
		n->kind = N_LAST_ERROR;
		return 0;
	}
	fmt = report_file_fmt(n->rep, c);
	if (fmt < 0)
		return -ENOENT;
	n->kind = N_REPORT_FILE;
	n->fmt = fmt;
	return 0;
}

/* <param>/<value>/ pairs, in declared order, then the files. */
static int resolve_params(struct node *n, char *rest, char *c)
{
	const struct report *r = n->rep;
	struct param_values *pv;
	const char *value;
	char err[256];
	int ttl = r->ttl >= 0 ? r->ttl : fs.conf->default_ttl;

	for (;;) {
		if (n->nchosen == r->nparams || n->nchosen == NODE_MAX_PARAMS)
			return tree_next_comp(&rest) ? -ENOENT
						     : resolve_files(n, c);
		if (strcmp(c, r->params[n->nchosen].name) != 0)
			return -ENOENT;
		n->kind = N_PARAM_DIR;
		n->pidx = n->nchosen;
		c = tree_next_comp(&rest);
		if (!c)
			return 0;
		if (params_values(r, n->nchosen, n->chosen, ttl, &pv, err,
				  sizeof(err)) < 0)
			return -EIO;
		value = param_lookup(pv, c);
		n->chosen[n->nchosen].value = xstrdup(value);
		params_put(pv);
		if (!value)
			return -ENOENT;
		n->chosen[n->nchosen].name = r->params[n->nchosen].name;
		n->nchosen++;
		n->kind = N_VALUE_DIR;
		c = tree_next_comp(&rest);
		if (!c)
			return 0;
	}
}

static int resolve_report(struct node *n, char *rest)
{
	char *c = tree_next_comp(&rest);

	n->kind = N_REPORT_DIR;
	if (!c)
		return 0;
	if (!strcmp(c, "history"))
		return resolve_history(n, rest);
	if (!strcmp(c, "query.sql")) {
		if (tree_next_comp(&rest))
			return -ENOENT;
		n->kind = N_QUERY_SQL;
		return 0;
	}
	if (n->rep->nparams)
		return resolve_params(n, rest, c);
	if (tree_next_comp(&rest))
		return -ENOENT;
	return resolve_files(n, c);
}

/*
 * Whether @path has a "." or ".." component.  The kernel never sends
 * one, but the real paths of history and query folder files are made
 * from components, so none may climb out of its folder.
 */
static bool tree_has_dots(const char *path)
{
	for (const char *p = path; *p; p += strspn(p, "/")) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
			return true;
		p += n;
	}
	return false;
}

int tree_resolve(const char *path, struct node *n)
{
	char *rest, *c;
	int rc;

	memset(n, 0, sizeof(*n));
	if (snprintf(n->buf, sizeof(n->buf), "%s", path) >= (int)sizeof(n->buf))
		return -ENAMETOOLONG;
	if (tree_has_dots(n->buf))
		return -ENOENT;
	rest = n->buf;
	c = tree_next_comp(&rest);
	if (!c) {
		n->kind = N_ROOT;
		return 0;
	}
	if (!strcmp(c, "README.txt") && !tree_next_comp(&rest)) {
		n->kind = N_README;
		return 0;
	}
	if (!strcmp(c, ".status")) {
		c = tree_next_comp(&rest);
		n->kind = !c			       ? N_STATUS_DIR
			  : !strcmp(c, "health.json")  ? N_HEALTH
			  : !strcmp(c, "metrics.prom") ? N_METRICS
						       : (enum node_kind) - 1;
		if ((int)n->kind < 0 || (c && tree_next_comp(&rest)))
			return -ENOENT;
		return 0;
	}
	if (!strcmp(c, "images")) {
		n->kind = N_IMAGES;
		c = tree_next_comp(&rest);
		if (!c)
			return 0;
#ifdef HAVE_IMAGES
		if (!conf_share_find(fs.conf, c))
			return -ENOENT;
		n->kind = N_IMAGE_PATH;
		n->share = c;
		while (*rest == '/')
			rest++;
		n->rel = rest;
		return 0;
#else
		return -ENOENT;
#endif
	}
	if (!strcmp(c, "queries"))
		return queries_resolve(n, rest);
	if (strcmp(c, "reports") != 0)
		return -ENOENT;
	n->kind = N_REPORTS;
	c = tree_next_comp(&rest);
	if (!c)
		return 0;
	n->defs = fs_defs_get();
	n->rep = fs_defs_find(n->defs, c, &n->ridx);
	if (!n->rep) {
		node_release(n);
		return -ENOENT;
	}
	rc = resolve_report(n, rest);
	if (rc < 0) {
		node_release(n);
		return rc;
	}
	return 0;
}

/* --- attributes ------------------------------------------------------- */

static struct inst *report_inst(const struct node *n)
{
	const struct report *r = n->rep;
	const struct conf *c = fs.conf;
	char key[PATH_MAX];
	struct inst_spec spec = {
	    .label = r->name,
	    .title = r->title,
	    .source = r->source,
	    .sql = r->odata ? r->odata : r->sql,
	    .odata = r->odata != NULL,
	    .formats = report_formats(r),
	    .ttl = r->ttl >= 0 ? r->ttl : c->default_ttl,
	    .csv = r->csv >= 0 ? (enum csv_dialect)r->csv : c->csv_dialect,
	    .row_limit = 0,
	    .params = n->chosen,
	    .nparams = n->nchosen,
	    .def_hash = r->hash,
	};

	report_key(n, key, sizeof(key));
	return inst_ensure(key, &spec);
}

static mode_t dir_mode(mode_t file_mode)
{
	mode_t m = file_mode & 0444;

	return S_IFDIR | m | (m >> 2); /* x wherever r */
}

static void history_path(const struct node *n, char *buf, size_t len)
{
	if (n->kind == N_HISTORY_FILE)
		snprintf(buf, len, "%s/history/%s/%s", fs.conf->state_dir,
			 n->rep->name, n->name);
	else
		snprintf(buf, len, "%s/history/%s", fs.conf->state_dir,
			 n->rep->name);
}

static char *node_text(const struct node *n)
{
	struct inst *in;
	char key[PATH_MAX];

	switch (n->kind) {
	case N_README:
		return status_readme();
	case N_HEALTH:
		return status_health_json();
	case N_METRICS:
		return status_metrics();
	case N_QUERY_SQL:
		return xstrndup(n->rep->text, n->rep->text_len);
	case N_LAST_ERROR:
		report_key(n, key, sizeof(key));
		in = inst_lookup(key);
		return in ? inst_error(in) : NULL;
	case N_QERROR:
		return queries_error_text(n);
	default:
		return NULL;
	}
}

void tree_fill_common(struct stat *st, const char *path)
{
	uint64_t ino = path[1] ? hash64_str(path) : 1;

	st->st_ino = ino > 1 ? ino : ino + 2;
	st->st_uid = fs.uid;
	st->st_gid = fs.gid;
	st->st_nlink = 1;
	st->st_blksize = 128 * 1024;
	st->st_atime = st->st_mtime = st->st_ctime = fs.mounted;
}

static int node_getattr(const char *path, const struct node *n, struct stat *st)
{
	struct inst *in;
	char *text;
	char real[PATH_MAX];
	struct stat rst;
	time_t t;

	memset(st, 0, sizeof(*st));
	tree_fill_common(st, path);
	switch (n->kind) {
	case N_ROOT:
	case N_REPORTS:
	case N_STATUS_DIR:
	case N_IMAGES:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	case N_REPORT_DIR:
	case N_HISTORY_DIR:
	case N_PARAM_DIR:
	case N_VALUE_DIR:
		st->st_mode = dir_mode(n->rep->mode);
		st->st_gid = n->defs->gid[n->ridx];
		st->st_nlink = 2;
		return 0;
	case N_REPORT_FILE:
		in = report_inst(n);
		if (!in)
			return -ENOMEM;
		inst_stat(in, n->fmt, &st->st_size, &t);
		if (t)
			st->st_mtime = st->st_ctime = t;
		break;
	case N_HISTORY_FILE:
		history_path(n, real, sizeof(real));
		if (stat(real, &rst) < 0 || !S_ISREG(rst.st_mode))
			return -ENOENT;
		st->st_size = rst.st_size;
		st->st_mtime = st->st_ctime = rst.st_mtime;
		break;
	case N_QUERIES:
	case N_QSOURCE:
	case N_QDIR:
	case N_QRESULT:
	case N_QFILE:
		return queries_getattr(path, n, st);
	case N_IMAGE_PATH:
#ifdef HAVE_IMAGES
	{
		int rc = images_getattr(n->share, n->rel, st);

		/* The server's times and size; our inode and owner. */
		st->st_ino = path[1] ? hash64_str(path) : 1;
		st->st_uid = fs.uid;
		st->st_gid = fs.gid;
		st->st_blksize = 128 * 1024;
		st->st_mode &= ~(mode_t)0222;
		if (S_ISDIR(st->st_mode))
			st->st_nlink = 2;
		return rc;
	}
#else
		return -ENOENT;
#endif
	default:
		text = node_text(n);
		if (!text)
			return -ENOENT;
		st->st_size = (off_t)strlen(text);
		free(text);
		st->st_mode = S_IFREG | 0444;
		if (n->kind == N_QUERY_SQL || n->kind == N_LAST_ERROR)
			break;
		st->st_mtime = st->st_ctime = time(NULL);
		st->st_blocks = (st->st_size + 511) / 512;
		return 0;
	}
	st->st_mode = S_IFREG | (n->rep->mode & 0444);
	st->st_gid = n->defs->gid[n->ridx];
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

static int op_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct fh *h = fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
	struct node n;
	int rc = tree_resolve(path, &n);

	if (rc < 0)
		return rc;
	rc = node_getattr(path, &n, st);
	/*
	 * An open handle answers for its own snapshot (fstat), unless it
	 * reads direct beside an older page-cache snapshot (see inst_stat).
	 */
	if (rc == 0 && h && h->kind == FH_SNAP && !h->sh.direct_io) {
		st->st_size = h->sh.size;
		st->st_blocks = (st->st_size + 511) / 512;
	} else if (rc == 0 && h && h->kind == FH_BUF) {
		st->st_size = (off_t)h->len;
		st->st_blocks = (st->st_size + 511) / 512;
	}
	node_release(&n);
	return rc;
}

/* --- listings --------------------------------------------------------- */

struct lister {
	void *buf;
	fuse_fill_dir_t filler;
	char path[PATH_MAX];
	size_t plen;
};

/* Adds @name with its full attributes (readdirplus: no getattr storm). */
static void list_add(struct lister *l, const char *name)
{
	struct stat st;
	struct node n;

	snprintf(l->path + l->plen, sizeof(l->path) - l->plen, "%s%s",
		 l->plen > 1 ? "/" : "", name);
	if (tree_resolve(l->path, &n) == 0) {
		if (node_getattr(l->path, &n, &st) == 0)
			l->filler(l->buf, name, &st, 0, FUSE_FILL_DIR_PLUS);
		node_release(&n);
	}
	l->path[l->plen] = '\0';
}

static void list_history(struct lister *l, const struct node *n)
{
	char real[PATH_MAX];
	struct dirent *e;
	DIR *d;

	history_path(n, real, sizeof(real));
	d = opendir(real);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && !strstr(e->d_name, ".tmp"))
			list_add(l, e->d_name);
	closedir(d);
}

static void list_files(struct lister *l, const struct node *n)
{
	const struct report *r = n->rep;
	char name[REPORT_NAME_MAX + 16];

	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(report_formats(r) & (1u << f)))
			continue;
		snprintf(name, sizeof(name), "%s.%s", r->name,
			 render_fmt_ext(f));
		list_add(l, name);
	}
	list_add(l, "last-error.txt");
}

static void list_report(struct lister *l, const struct node *n)
{
	if (n->rep->nparams)
		list_add(l, n->rep->params[0].name);
	else
		list_files(l, n);
	list_add(l, "query.sql");
	list_add(l, "history");
}

/* A parameter folder lists its values: this runs the values query. */
static int list_values(struct lister *l, const struct node *n)
{
	const struct report *r = n->rep;
	int ttl = r->ttl >= 0 ? r->ttl : fs.conf->default_ttl;
	char enc[PARAM_NAME_MAX + 1], err[256];
	struct param_values *pv;
	struct stat st;

	if (params_values(r, n->pidx, n->chosen, ttl, &pv, err, sizeof(err)) <
	    0)
		return -EIO;
	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < pv->n; i++) {
		param_encode(pv->v[i], enc, sizeof(enc));
		snprintf(l->path + l->plen, sizeof(l->path) - l->plen, "/%s",
			 enc);
		tree_fill_common(&st, l->path);
		st.st_mode =
		    (S_IFDIR | (r->mode & 0444) | ((r->mode & 0444) >> 2));
		st.st_gid = n->defs->gid[n->ridx];
		st.st_nlink = 2;
		l->filler(l->buf, enc, &st, 0, FUSE_FILL_DIR_PLUS);
		l->path[l->plen] = '\0';
	}
	params_put(pv);
	return 0;
}

static void list_add_cb(void *ctx, const char *name)
{
	list_add(ctx, name);
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct lister l = {.buf = buf, .filler = filler};
	struct node n;
	int rc = tree_resolve(path, &n);

	(void)off;
	(void)fi;
	(void)flags;
	if (rc < 0)
		return rc;
	l.plen = (size_t)snprintf(l.path, sizeof(l.path), "%s", path);
	if (l.plen > 1 && l.path[l.plen - 1] == '/')
		l.path[--l.plen] = '\0';
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	switch (n.kind) {
	case N_ROOT:
		list_add(&l, "README.txt");
		list_add(&l, "reports");
		list_add(&l, "images");
		list_add(&l, "queries");
		list_add(&l, ".status");
		break;
	case N_STATUS_DIR:
		list_add(&l, "health.json");
		list_add(&l, "metrics.prom");
		break;
	case N_REPORTS: {
		struct fs_defs *d = fs_defs_get();

		for (size_t i = 0; i < d->n; i++)
			list_add(&l, d->v[i]->name);
		fs_defs_put(d);
		break;
	}
	case N_REPORT_DIR:
		list_report(&l, &n);
		break;
	case N_HISTORY_DIR:
		list_history(&l, &n);
		break;
	case N_PARAM_DIR:
		rc = list_values(&l, &n);
		break;
	case N_VALUE_DIR:
		if (n.nchosen < n.rep->nparams)
			list_add(&l, n.rep->params[n.nchosen].name);
		else
			list_files(&l, &n);
		break;
	case N_QUERIES:
	case N_QSOURCE:
	case N_QDIR:
		rc = queries_list(&n, list_add_cb, &l);
		break;
	case N_IMAGES:
		for (size_t i = 0; i < fs.conf->nshares; i++)
			list_add(&l, fs.conf->shares[i].name);
		break;
#ifdef HAVE_IMAGES
	case N_IMAGE_PATH:
		rc = images_readdir(n.share, n.rel, buf, filler);
		break;
#endif
	default:
		rc = -ENOTDIR;
	}
	node_release(&n);
	return rc;
}

/* --- files ------------------------------------------------------------ */

/*
 * The kernel keeps attributes for attr_timeout (op_init); a report's
 * size changes only with its snapshot, and snap.c says when.  They are
 * dropped by inval.c's thread (never a worker's: see inval.h); libfuse
 * drops the pages with them, which are of the older snapshot.  The
 * kernel also ignores any answer of ours still in flight.
 *
 * ATTRS_WAIT_MS: how long an open of a new snapshot waits for the
 * kernel to drop the older size.  The kernel bounds page-cache reads by
 * the size it holds, so a handle opened before that drop reads direct
 * instead; the wait is short because the drop itself waits only for
 * READs in flight.
 */
#define ATTRS_WAIT_MS 100

/* last-error.txt beside a report file, error.txt beside a result. */
static void error_file_gone(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name =
	    strncmp(path, "/queries/", 9) ? "last-error.txt" : "error.txt";
	char buf[PATH_MAX];

	if (slash && snprintf(buf, sizeof(buf), "%.*s/%s", (int)(slash - path),
			      path, name) < (int)sizeof(buf))
		inval_post(buf, 0);
}

/* A report or query result: a snapshot of @in; ENOMEM/EIO without one. */
static int open_snapshot(struct inst *in, int fmt, struct fuse_file_info *fi,
			 struct fh *h, int missing)
{
	int rc;

	h->kind = FH_SNAP;
	h->inst = in;
	if (!in)
		return missing;
	rc = inst_open(in, fmt, &h->sh);
	if (rc < 0)
		return rc;
	fi->keep_cache = h->sh.keep_cache;
	fi->direct_io = h->sh.direct_io;
	return 0;
}

static int open_report(const struct node *n, struct fuse_file_info *fi,
		       struct fh *h)
{
	return open_snapshot(report_inst(n), n->fmt, fi, h, -ENOMEM);
}

static int open_result(const struct node *n, struct fuse_file_info *fi,
		       struct fh *h)
{
	char err[256];

	return open_snapshot(queries_inst(n, err, sizeof(err)), n->fmt, fi, h,
			     -EIO);
}

static int open_node(const struct node *n, struct fuse_file_info *fi,
		     struct fh *h)
{
	char real[PATH_MAX];

	switch (n->kind) {
	case N_REPORT_FILE:
		return open_report(n, fi, h);
	case N_QRESULT:
		return open_result(n, fi, h);
	case N_QFILE:
		h->kind = FH_FD;
		return queries_open_file(n, fi->flags, &h->fd);
	case N_HISTORY_FILE:
		history_path(n, real, sizeof(real));
		h->kind = FH_FD;
		h->fd = open(real, O_RDONLY | O_CLOEXEC);
		return h->fd < 0 ? -errno : 0;
	case N_IMAGE_PATH:
#ifdef HAVE_IMAGES
	{
		struct fuse_file_info inner = *fi;
		int rc = images_open(n->share, n->rel, &inner);

		h->kind = FH_IMAGE;
		h->image_fh = inner.fh;
		fi->keep_cache = inner.keep_cache;
		fi->direct_io = inner.direct_io;
		return rc;
	}
#else
		return -ENOENT;
#endif
	default:
		h->kind = FH_BUF;
		h->buf = node_text(n);
		if (!h->buf)
			return -ENOENT;
		h->len = strlen(h->buf);
		/* Made anew at each open: the page cache must not keep it. */
		fi->direct_io = 1;
		return 0;
	}
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct fh *h;
	struct node n;
	int rc = tree_resolve(path, &n);

	if (rc < 0)
		return rc;
	if (n.kind != N_QFILE &&
	    ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))) {
		node_release(&n);
		return -EROFS;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		node_release(&n);
		return -ENOMEM;
	}
	h->fd = -1;
	rc = open_node(&n, fi, h);
	node_release(&n);
	if (rc < 0) {
		free(h->buf);
		free(h);
		return rc;
	}
	/*
	 * Beside an older snapshot's page-cache readers a handle reads
	 * direct, and the kernel must keep their size: it is dropped when
	 * the last of them closes (op_release), and by the next open.
	 */
	if (h->kind == FH_SNAP && h->sh.new_attrs && !h->sh.direct_io) {
		uint64_t ticket = inval_post(path, inst_gen(&h->sh));

		/* A new snapshot also means the error file went. */
		error_file_gone(path);
		if (inval_wait(ticket, ATTRS_WAIT_MS)) {
			inst_attrs_dropped(h->inst, &h->sh);
		} else {
			fi->direct_io = 1;
			fi->keep_cache = 0;
		}
	}
	fh_track(h);
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static int op_read_buf(const char *path, struct fuse_bufvec **bufp, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;
	struct fuse_bufvec *bv = malloc(sizeof(*bv));
	int fd;

	(void)path;
	if (!bv)
		return -ENOMEM;
	*bv = FUSE_BUFVEC_INIT(0);
	switch (h->kind) {
	case FH_BUF:
		/* libfuse frees memory buffers after the reply: give a copy. */
		if ((size_t)off < h->len) {
			size_t n = h->len - (size_t)off;

			n = n < size ? n : size;
			bv->buf[0].mem = malloc(n);
			if (!bv->buf[0].mem) {
				free(bv);
				return -ENOMEM;
			}
			memcpy(bv->buf[0].mem, h->buf + off, n);
			bv->buf[0].size = n;
		}
		break;
	case FH_IMAGE: {
#ifdef HAVE_IMAGES
		struct fuse_file_info inner = *fi;
		char *mem = malloc(size ? size : 1);
		int n;

		inner.fh = h->image_fh;
		if (!mem) {
			free(bv);
			return -ENOMEM;
		}
		n = images_read(&inner, mem, size, off);
		if (n < 0) {
			free(mem);
			free(bv);
			return n;
		}
		/* libfuse frees @mem after the reply. */
		bv->buf[0].mem = mem;
		bv->buf[0].size = (size_t)n;
#endif
		break;
	}
	case FH_SNAP:
	case FH_FD:
		fd = h->kind == FH_SNAP ? h->sh.fd : h->fd;
		bv->buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv->buf[0].fd = fd;
		bv->buf[0].pos = off;
		bv->buf[0].size = size;
		break;
	}
	*bufp = bv;
	return 0;
}

/* Closes @h; true when the file's attributes changed with it. */
static bool fh_free(struct fh *h, const struct fuse_file_info *fi)
{
	bool changed = false;

	(void)fi; /* only images need it */
	switch (h->kind) {
	case FH_SNAP:
		changed = inst_close(h->inst, &h->sh);
		break;
	case FH_FD:
		close(h->fd);
		break;
	case FH_IMAGE:
#ifdef HAVE_IMAGES
	{
		struct fuse_file_info inner = *fi;

		inner.fh = h->image_fh;
		images_release(&inner);
	}
#endif
	break;
	case FH_BUF:
		break;
	}
	free(h->buf);
	free(h);
	return changed;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;

	fh_untrack(h);
	if (fh_free(h, fi) && path)
		inval_post(path, 0);
	return 0;
}

void tree_defs_changed(const struct fs_defs *old)
{
	char path[PATH_MAX];
	static const char *const files[] = {"query.sql", "last-error.txt",
					    "history"};

	for (size_t i = 0; old && i < old->n; i++) {
		const struct report *r = old->v[i];

		snprintf(path, sizeof(path), "/reports/%s", r->name);
		inval_post(path, 0);
		for (int fmt = 0; fmt < FMT_COUNT; fmt++) {
			snprintf(path, sizeof(path), "/reports/%s/%s.%s",
				 r->name, r->name, render_fmt_ext(fmt));
			inval_post(path, 0);
		}
		for (size_t k = 0; k < ARRAY_SIZE(files); k++) {
			snprintf(path, sizeof(path), "/reports/%s/%s", r->name,
				 files[k]);
			inval_post(path, 0);
		}
		for (size_t k = 0; k < r->nparams; k++) {
			snprintf(path, sizeof(path), "/reports/%s/%s", r->name,
				 r->params[k].name);
			inval_post(path, 0);
		}
	}
}

void tree_release_all(void)
{
	struct fuse_file_info fi;

	memset(&fi, 0, sizeof(fi));
	while (fh_list.next != &fh_list) {
		struct fh *h = fh_list.next;

		fh_untrack(h);
		fh_free(h, &fi);
	}
}

/* touch on a report file (or its folder) asks for a fresh run. */
static int op_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	struct node n;
	struct inst *in;
	int rc = tree_resolve(path, &n);

	(void)fi;
	if (rc < 0)
		return rc;
	if (n.kind == N_REPORT_FILE || n.kind == N_REPORT_DIR ||
	    n.kind == N_VALUE_DIR) {
		in = report_inst(&n);
		if (in) {
			inst_touch(in);
			log_msg(LOG_INFO, "fs",
				"%s touched: the next open runs it again",
				n.rep->name);
		}
		rc = in ? 0 : -ENOMEM;
	} else {
		rc = queries_setattr(&n, NULL, NULL, NULL, NULL, tv);
	}
	node_release(&n);
	return rc;
}

static int op_statfs(const char *path, struct statvfs *sv)
{
	struct statvfs cache;
	uint64_t blocks = fs.conf->cache_size / 4096;

	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = 4096;
	sv->f_blocks = blocks ? blocks : 1;
	/* Free space is the cache disk's, capped by cache_size. */
	if (statvfs(fs.conf->cache_dir, &cache) == 0) {
		uint64_t avail =
		    (uint64_t)cache.f_bavail * cache.f_frsize / 4096;

		sv->f_bfree = sv->f_bavail =
		    avail < sv->f_blocks ? avail : sv->f_blocks;
	}
	sv->f_files = 1000000;
	sv->f_ffree = 1000000;
	sv->f_namemax = 255;
	return 0;
}

static int op_mkdir(const char *path, mode_t mode)
{
	return queries_mkdir(path, mode);
}

static int op_rmdir(const char *path)
{
	struct node n;
	int rc = tree_resolve(path, &n);

	if (rc < 0)
		return rc;
	rc = queries_rmdir(&n);
	node_release(&n);
	return rc;
}

static int op_unlink(const char *path)
{
	struct node n;
	int rc = tree_resolve(path, &n);

	if (rc < 0)
		return rc;
	rc = queries_unlink(&n);
	node_release(&n);
	return rc;
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	return queries_rename(from, to, flags);
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fh *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return -ENOMEM;
	h->kind = FH_FD;
	rc = queries_create(path, mode, fi->flags, &h->fd);
	if (rc < 0) {
		free(h);
		return rc;
	}
	fh_track(h);
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;
	ssize_t n;

	(void)path;
	if (h->kind != FH_FD)
		return -EBADF;
	n = pwrite(h->fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;

	(void)path;
	if (h->kind != FH_FD)
		return 0;
	if ((datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0)
		return -errno;
	return 0;
}

static int setattr(const char *path, const mode_t *mode, const uid_t *uid,
		   const gid_t *gid, const off_t *size,
		   const struct timespec *tv)
{
	struct node n;
	int rc = tree_resolve(path, &n);

	if (rc < 0)
		return rc;
	rc = queries_setattr(&n, mode, uid, gid, size, tv);
	node_release(&n);
	return rc;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return setattr(path, &mode, NULL, NULL, NULL, NULL);
}

static int op_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	(void)fi;
	return setattr(path, NULL, uid == (uid_t)-1 ? NULL : &uid,
		       gid == (gid_t)-1 ? NULL : &gid, NULL, NULL);
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct fh *h = fi ? (struct fh *)(uintptr_t)fi->fh : NULL;

	if (h && h->kind == FH_FD)
		return ftruncate(h->fd, size) < 0 ? -errno : 0;
	return setattr(path, NULL, NULL, NULL, &size, NULL);
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	cfg->readdir_ino = 1;
	cfg->nullpath_ok = 0;
	/*
	 * The kernel keeps attributes a second, as it keeps names: an
	 * `ls -l` of a big images/ folder then costs one listing, not a
	 * call per file.  A report's size changes with its snapshot, and
	 * those attributes are dropped when that happens (inval.c).
	 * Text files made at each open read direct and need no size.
	 */
	cfg->attr_timeout = 1;
	cfg->entry_timeout = 1;
	/* last-error.txt and new reports appear at any time. */
	cfg->negative_timeout = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	/* We decide when pages go (snap.c), not an mtime heuristic. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* Large requests: max_pages follows max_write in libfuse. */
	conn->max_write = 1024 * 1024;
	conn->max_read = 0;
	return NULL;
}

const struct fuse_operations fs_ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read_buf = op_read_buf,
    .release = op_release,
    .utimens = op_utimens,
    .statfs = op_statfs,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .write = op_write,
    .fsync = op_fsync,
    .unlink = op_unlink,
    .rename = op_rename,
    .create = op_create,
    .chmod = op_chmod,
    .chown = op_chown,
    .truncate = op_truncate,
};
