/*
 * snap: report snapshots.  An instance is one thing that can be run (a
 * report, a report with parameter values, a saved query); a snapshot is
 * one finished run of it: every format's file, complete, in cache_dir.
 *
 * Owns single flight (many openers, one run), freshness (ttl, touch, a
 * changed definition), serving the last good snapshot when a run fails,
 * the cache bound (cache_size, least recently used out first), and
 * adopting the snapshots a previous mount left in cache_dir.
 */
#ifndef SAPB1_FS_SNAP_H
#define SAPB1_FS_SNAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "driver.h"
#include "render.h"
#include "util.h"

/* What to run; copied by inst_ensure, immutable afterwards. */
struct inst_spec {
	const char *label; /* report or query name */
	const char *title;
	const char *source;
	const char *sql; /* or an OData path */
	bool odata;
	unsigned formats;
	int ttl; /* seconds */
	enum csv_dialect csv;
	long row_limit; /* 0: all rows */
	const struct drv_param *params;
	size_t nparams;
	uint64_t def_hash; /* a change makes the snapshot stale */
};

/* An open report file: the snapshot it reads, and how the kernel caches. */
struct snap_handle {
	struct snap *snap;
	int fd;
	int fmt;
	off_t size;
	bool keep_cache; /* the page cache already holds this snapshot */
	bool direct_io;	 /* another snapshot of the file is open */
	bool new_attrs;	 /* a snapshot new to the kernel: drop its attrs */
};

struct inst;

int snap_init(const struct conf *c);
void snap_shutdown(void);

/*
 * The instance for @key, created or updated from @spec.  A changed
 * def_hash marks the current snapshot stale.  Never NULL unless out of
 * memory.  Instances live until snap_shutdown or inst_forget.
 */
struct inst *inst_ensure(const char *key, const struct inst_spec *spec);
/* The instance for @key if it exists. */
struct inst *inst_lookup(const char *key);
/* Drops @key (a deleted query): its files go, open handles keep reading. */
void inst_forget(const char *key);

/* Size and time a listing shows: the last snapshot's, never a run. */
void inst_stat(struct inst *in, int fmt, off_t *size, time_t *mtime);

/*
 * Opens format @fmt: reuses a fresh snapshot or runs (joining a run in
 * progress), waiting at most the source's timeout; on failure serves
 * the last good snapshot.  0, or -EIO when there is none.
 */
int inst_open(struct inst *in, int fmt, struct snap_handle *h);
/*
 * For a handle with new_attrs set: the caller drops the kernel's
 * attributes of the file, then says so here, before answering the open.
 */
void inst_attrs_dropped(struct inst *in, const struct snap_handle *h);
/* @h's snapshot generation; generations grow across all instances. */
uint64_t inst_gen(const struct snap_handle *h);
/*
 * True when what inst_stat() shows changed with this close (the last
 * page-cache reader of an older snapshot went): the kernel's cached
 * attributes of the file are then out of date.
 */
bool inst_close(struct inst *in, struct snap_handle *h);

/*
 * Marks the snapshot stale: the next open runs again (touch).  With
 * [redis], the shared copy is voided and other hosts hear of it.
 */
void inst_touch(struct inst *in);
/*
 * The same for a touch heard from another host: nothing is published.
 * False when @key has no instance here.
 */
bool inst_touch_remote(const char *key);

/* The last run's error text while it failed (caller frees), or NULL. */
char *inst_error(struct inst *in);

/* Appends "name": {...} per report instance, comma-separated. */
void snap_health_json(struct strbuf *sb);
void snap_metrics(struct strbuf *sb);

#endif
