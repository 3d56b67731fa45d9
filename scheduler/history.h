/*
 * history: state_dir/history/<name>/, the copies the scheduler keeps of
 * each run, which the mount shows under reports/<name>/history/.  Owns
 * the names (<YYYY-MM-DD_HHMM>.<fmt>, <stamp>.error.txt), writing files
 * so no reader sees half of one (a hidden temporary, fsync, rename) and
 * keeping the newest history_keep runs.  Nothing here logs.
 */
#ifndef SAPB1_SCHED_HISTORY_H
#define SAPB1_SCHED_HISTORY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tz.h"

#define HISTORY_STAMP_LEN 15 /* "2026-12-03_0700" */
#define HISTORY_ERROR_SUFFIX ".error.txt"
#define HISTORY_LOCK ".lock"

/* One copy being written: a hidden temporary until history_commit(). */
struct history_file {
	char tmp[PATH_MAX];
	char path[PATH_MAX];
};

/* "<state_dir>/history/<name>", created when missing.  0 or -errno. */
int history_dir(char *buf, size_t size, const char *state_dir,
		const char *name);

/* The stamp of instant @t in zone @z: "YYYY-MM-DD_HHMM". */
void history_stamp(char *buf, size_t size, const struct tz *z, int64_t t);

/*
 * Copies everything readable from @src_fd into a hidden temporary in
 * @dir, fsynced, to become @name on commit.  On failure nothing is
 * left and @err says what failed (-errno returned).
 */
int history_copy(struct history_file *hf, const char *dir, const char *name,
		 int src_fd, char *err, size_t errlen);

/*
 * Renames @n copies into place, then fsyncs @dir.  On failure the ones
 * not yet renamed are removed.  0 or -errno.
 */
int history_commit(struct history_file *files, size_t n, const char *dir);

/* Removes the temporaries of @n copies (a run that failed). */
void history_discard(struct history_file *files, size_t n);

/* Writes "<stamp>.error.txt" atomically.  0 or -errno. */
int history_write_error(const char *dir, const char *stamp, const char *text);

/*
 * Keeps the newest @keep runs (files sharing a stamp are one run, an
 * error file too) and removes older ones, with temporaries a crash left.
 * Returns how many files went, or -errno when @dir cannot be read.
 */
int history_prune(const char *dir, int keep);

/*
 * Takes the per-report lock (@dir/.lock) so a run never overlaps its
 * own previous run, in this process or another (--run-now).  Returns
 * the descriptor to close when done, -EWOULDBLOCK when a run holds it,
 * or -errno.
 */
int history_lock(const char *dir);

/* True when a run holds the lock of @dir now. */
bool history_locked(const char *dir);

#endif
