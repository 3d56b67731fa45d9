/*
 * smb: the Samba client behind images/, one struct smb_share per
 * [share NAME].  Owns a small pool of libsmbclient contexts per share,
 * each driven by its own worker thread (libsmbclient is not thread-safe),
 * the listing cache, per-file read-ahead, path safety and the share's
 * health.  Callers wait at most the share's timeout; nothing here logs
 * except the share's state changes, once per change.
 */
#ifndef SAPB1_SMB_H
#define SAPB1_SMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "conf.h"

/* Tunables; smb_opts_default() gives what the daemon uses. */
struct smb_opts {
	int pool_size;	   /* contexts (connections) per share, 1..16 */
	size_t ra_min;	   /* first read at a new position, bytes */
	size_t ra_max;	   /* read-ahead window once reading in order */
	int auth_retry_ms; /* after refused credentials, answer EACCES
			      without asking the server for this long */
	int probe_age_ms;  /* smb_probe() asks again after this long */
};

void smb_opts_default(struct smb_opts *o);
/* Changes what smb_opts_default() gives; for tools and tests. */
void smb_opts_set_default(const struct smb_opts *o);

struct smb_share;
struct smb_file;
struct smb_listing;

/*
 * Checks a share url (smb://host[:port]/share[/path]); 0, or -EINVAL
 * with a reason in @err.  No user info, query or fragment is allowed;
 * percent-escapes are decoded, spaces and UTF-8 may be written as is.
 */
int smb_url_check(const char *url, char *err, size_t errlen);

/*
 * Makes the client of one share.  Nothing connects until first use.
 * 0 and *out, or -errno with a reason in @err (no secret in it).
 */
int smb_share_new(const struct conf_share *cs, const struct smb_opts *o,
		  struct smb_share **out, char *err, size_t errlen);
/* Stops the workers (waiting for calls in flight) and frees it all. */
void smb_share_free(struct smb_share *s);
const char *smb_share_name(const struct smb_share *s);

/*
 * Checks a path below the share ("" is its root, no leading '/'):
 * 0, or -EINVAL for ".", "..", empty components, backslashes, percent-
 * encoded separators or NUL (%2f %5c %00), -ENAMETOOLONG.
 */
int smb_path_check(const char *rel);

/*
 * Attributes of @rel: 0, or -errno.  Answered from the cached listing
 * of its folder (fetched when missing), so a name must match exactly
 * and server-side links (reparse points) are refused with -ENOENT.
 * Regular files get mode 0444, folders 0555; st_ino is left 0.
 */
int smb_stat(struct smb_share *s, const char *rel, struct stat *st);

/* One entry of a listing; @st as smb_stat gives it. */
struct smb_entry {
	const char *name;
	struct stat st;
};

/*
 * Lists folder @rel (one round trip for names and attributes), from the
 * cache while it is younger than dir_cache_ttl.  0 and *out, which the
 * caller releases with smb_listing_put(); or -errno.  Entries are sorted
 * by name and never include ".", "..", links or unsafe names.
 */
int smb_list(struct smb_share *s, const char *rel, struct smb_listing **out);
size_t smb_listing_count(const struct smb_listing *l);
const struct smb_entry *smb_listing_entry(const struct smb_listing *l,
					  size_t i);
void smb_listing_put(struct smb_listing *l);

/* Drops the cached listing of @rel's folder (or of @rel if a folder). */
void smb_forget(struct smb_share *s, const char *rel);

/*
 * Opens a regular file for reading: 0 and *out, or -errno (-EISDIR for
 * a folder).  A handle reads the same file across a reconnect, or fails
 * with -ESTALE if its size or time changed meanwhile.
 */
int smb_open(struct smb_share *s, const char *rel, struct smb_file **out);
/*
 * Reads up to @size bytes at @off: bytes (fewer only at the end of the
 * file), or -errno.  Reads in order are served from read-ahead windows
 * (ra_min growing to ra_max) fetched while the caller consumes the
 * previous one.  Safe from several threads on one handle.
 */
ssize_t smb_read(struct smb_file *f, void *buf, size_t size, off_t off);
/* Attributes as seen when the file was opened. */
void smb_file_stat(const struct smb_file *f, struct stat *st);
void smb_close(struct smb_file *f);

/* What health.json shows for a share. */
struct smb_health {
	int reachable;	       /* 1, 0, or -1 before the first call */
	double latency_ms;     /* last answered metadata call, -1 unknown */
	char last_error[256];  /* "" when none since the last success */
	int64_t last_error_at; /* CLOCK_REALTIME ms, 0 if never */
	int64_t last_ok_at;    /* CLOCK_REALTIME ms, 0 if never */
};

void smb_health(struct smb_share *s, struct smb_health *h);
/* Starts a background check of the share's root when the state is
 * older than probe_age_ms; never blocks. */
void smb_probe(struct smb_share *s);

#endif
