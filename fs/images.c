/*
 * images: images/<share>/ over backends/smb.  This file only maps FUSE's
 * calls to the share clients; caching, read-ahead, timeouts and path
 * safety live in smb.c.  Everything here is read-only: an open for
 * writing answers EROFS.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "images.h"
#include "log.h"
#include "smb.h"

static struct smb_share **images_shares;
static size_t images_nshares;

static struct smb_share *images_find(const char *name)
{
	size_t i;

	for (i = 0; i < images_nshares; i++)
		if (strcmp(smb_share_name(images_shares[i]), name) == 0)
			return images_shares[i];
	return NULL;
}

/* libsmbclient writes to sockets a server may have closed. */
static void images_ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

int images_init(const struct conf *c)
{
	struct smb_opts o;
	char err[256];
	size_t i;
	int rc;

	images_ignore_sigpipe();
	smb_opts_default(&o);
	images_shares =
	    calloc(c->nshares ? c->nshares : 1, sizeof(*images_shares));
	if (!images_shares)
		return -ENOMEM;
	for (i = 0; i < c->nshares; i++) {
		const struct conf_share *cs = &c->shares[i];

		rc = smb_share_new(cs, &o, &images_shares[i], err, sizeof(err));
		if (rc) {
			log_msg(LOG_ERR, "images",
				"cannot set up share %s "
				"(%s:%d): %s",
				cs->name, c->path ? c->path : "", cs->line,
				err);
			images_shutdown();
			return rc;
		}
		images_nshares++;
	}
	return 0;
}

void images_shutdown(void)
{
	size_t i;

	for (i = 0; i < images_nshares; i++)
		smb_share_free(images_shares[i]);
	free(images_shares);
	images_shares = NULL;
	images_nshares = 0;
}

int images_getattr(const char *share, const char *rel, struct stat *st)
{
	struct smb_share *s = images_find(share);

	if (!s)
		return -ENOENT;
	return smb_stat(s, rel, st);
}

/*
 * The tree's inode number of images/<share>/<rel>/<name>: a hash of the
 * mount path, as fs/tree.c gives every node.  glibc hides entries whose
 * d_ino is 0, and readdirplus hands our attributes to the kernel as is.
 */
static ino_t images_ino(const char *share, const char *rel, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	uint64_t ino;

	if (strbuf_addf(&sb, "/images/%s/%s%s%s", share, rel, *rel ? "/" : "",
			name))
		return 2;
	ino = hash64_str(sb.buf);
	strbuf_release(&sb);
	return (ino_t)(ino > 1 ? ino : ino + 2);
}

int images_readdir(const char *share, const char *rel, void *buf,
		   fuse_fill_dir_t filler)
{
	struct smb_share *s = images_find(share);
	struct smb_listing *l;
	size_t i, n;
	int rc;

	if (!s)
		return -ENOENT;
	rc = smb_list(s, rel, &l);
	if (rc)
		return rc;
	n = smb_listing_count(l);
	for (i = 0; i < n; i++) {
		const struct smb_entry *e = smb_listing_entry(l, i);
		struct stat st = e->st;

		st.st_ino = images_ino(share, rel, e->name);
		if (filler(buf, e->name, &st, 0, FUSE_FILL_DIR_PLUS))
			break;
	}
	smb_listing_put(l);
	return 0;
}

int images_open(const char *share, const char *rel, struct fuse_file_info *fi)
{
	struct smb_share *s = images_find(share);
	struct smb_file *f;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & (O_TRUNC | O_CREAT | O_APPEND)))
		return -EROFS;
	if (!s)
		return -ENOENT;
	rc = smb_open(s, rel, &f);
	if (rc)
		return rc;
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

int images_read(struct fuse_file_info *fi, char *buf, size_t size, off_t off)
{
	struct smb_file *f = (struct smb_file *)(uintptr_t)fi->fh;

	if (!f)
		return -EBADF;
	return (int)smb_read(f, buf, size, off);
}

void images_release(struct fuse_file_info *fi)
{
	struct smb_file *f = (struct smb_file *)(uintptr_t)fi->fh;

	if (f)
		smb_close(f);
	fi->fh = 0;
}

/* Appends @s as a JSON string. */
static void images_json_str(struct strbuf *sb, const char *s)
{
	const unsigned char *p;

	strbuf_addc(sb, '"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addf(sb, "\\%c", *p);
		else if (*p < 0x20)
			strbuf_addf(sb, "\\u%04x", *p);
		else
			strbuf_addc(sb, (char)*p);
	}
	strbuf_addc(sb, '"');
}

static void images_json_time(struct strbuf *sb, int64_t ms)
{
	char out[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !gmtime_r(&t, &tm)) {
		strbuf_adds(sb, "null");
		return;
	}
	strftime(out, sizeof(out), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	strbuf_adds(sb, out);
}

void images_health_json(struct strbuf *sb)
{
	size_t i;

	for (i = 0; i < images_nshares; i++) {
		struct smb_share *s = images_shares[i];
		struct smb_health h;

		smb_probe(s);
		smb_health(s, &h);
		if (i)
			strbuf_addc(sb, ',');
		images_json_str(sb, smb_share_name(s));
		strbuf_adds(sb, ": {\"kind\": \"share\", \"reachable\": ");
		strbuf_adds(sb, h.reachable < 0 ? "null"
				: h.reachable	? "true"
						: "false");
		if (h.latency_ms < 0)
			strbuf_adds(sb, ", \"latency_ms\": null");
		else
			strbuf_addf(sb, ", \"latency_ms\": %.1f", h.latency_ms);
		strbuf_adds(sb, ", \"last_error\": ");
		if (h.last_error[0])
			images_json_str(sb, h.last_error);
		else
			strbuf_adds(sb, "null");
		strbuf_adds(sb, ", \"last_error_at\": ");
		images_json_time(sb, h.last_error_at);
		strbuf_adds(sb, ", \"last_ok_at\": ");
		images_json_time(sb, h.last_ok_at);
		strbuf_addc(sb, '}');
	}
}
