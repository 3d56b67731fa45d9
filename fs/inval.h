/*
 * inval: telling the kernel that what it keeps of a tree path (its
 * attributes, and with libfuse's high-level call its pages too) is out
 * of date.  Owns the one thread that makes those calls, its queue, and
 * waiting, bounded, for one to be done.
 *
 * The calls never come from a FUSE worker: the kernel waits for every
 * locked page of the inode, and a page is locked while a reader's READ
 * is queued for a worker.  Workers blocked there while readers wait on
 * them hung the mount under many readers.  This thread may block; the
 * workers go on answering READs and so free it.
 */
#ifndef SAPB1_FS_INVAL_H
#define SAPB1_FS_INVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct fuse;

/* Starts the thread for the mounted @f; 0 or -errno. */
int inval_start(struct fuse *f);

/*
 * Before the session's device is closed: drops what is queued and
 * waits (a few seconds at most) until no call is under way.
 */
void inval_stop(void);

/* After the device is closed: ends the thread. */
void inval_join(void);

/*
 * Queues @path (a tree path, "/reports/x/x.csv").  Returns a ticket for
 * inval_wait, 0 when no mount is running (nothing to tell).  A path
 * already queued and not yet begun is not queued twice.  @since, when
 * not 0, is the snapshot generation the caller needs the kernel to
 * forget what came before: a drop of @path already under way, posted
 * for that generation or a later one, serves as well.
 */
uint64_t inval_post(const char *path, uint64_t since);

/*
 * Waits up to @ms for @ticket's call to be made; true once it was,
 * false for ticket 0 (the kernel was not told).
 */
bool inval_wait(uint64_t ticket, int ms);

/* Counters for .status/metrics.prom: drops made, waits given up. */
void inval_metrics(struct strbuf *sb);

#endif
