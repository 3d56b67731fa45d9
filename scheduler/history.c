/*
 * history: see history.h.
 *
 * Temporaries start with '.' and hold ".tmp", both of which the mount
 * hides, so a listing never shows a file still being written.  Pruning
 * runs under the per-report lock, so any temporary it meets is one a
 * crashed run left.
 */
#include "history.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int history_dir(char *buf, size_t size, const char *state_dir, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/history/%s", state_dir, name) >=
	    size)
		return -ENAMETOOLONG;
	return mkdir_p(buf, 0755);
}

void history_stamp(char *buf, size_t size, const struct tz *z, int64_t t)
{
	struct tm tm;

	tz_localtime(z, t, &tm);
	snprintf(buf, size, "%04d-%02d-%02d_%02d%02d", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

static int copy_fd(int in, int out, char *err, size_t errlen, const char *tmp)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot read it: %s",
				 strerror(-rc));
			return rc;
		}
		if (n == 0)
			return 0;
		rc = fd_write_all(out, buf, (size_t)n);
		if (rc < 0) {
			snprintf(err, errlen, "cannot write %s: %s", tmp,
				 strerror(-rc));
			return rc;
		}
	}
}

int history_copy(struct history_file *hf, const char *dir, const char *name,
		 int src_fd, char *err, size_t errlen)
{
	int fd, rc;

	if ((size_t)snprintf(hf->path, sizeof(hf->path), "%s/%s", dir, name) >=
		sizeof(hf->path) ||
	    (size_t)snprintf(hf->tmp, sizeof(hf->tmp), "%s/.%s.tmp.XXXXXX", dir,
			     name) >= sizeof(hf->tmp)) {
		snprintf(err, errlen, "%s/%s: name too long", dir, name);
		return -ENAMETOOLONG;
	}
	fd = mkostemp(hf->tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create a file in %s: %s", dir,
			 strerror(-rc));
		return rc;
	}
	fchmod(fd, 0644);
	rc = copy_fd(src_fd, fd, err, errlen, hf->tmp);
	if (rc == 0 && fsync(fd) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", hf->tmp,
			 strerror(-rc));
	}
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", hf->tmp,
			 strerror(-rc));
	}
	if (rc < 0)
		unlink(hf->tmp);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int history_commit(struct history_file *files, size_t n, const char *dir)
{
	for (size_t i = 0; i < n; i++) {
		if (rename(files[i].tmp, files[i].path) < 0) {
			int rc = -errno;

			history_discard(files + i, n - i);
			return rc;
		}
	}
	return fsync_dir(dir);
}

void history_discard(struct history_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		unlink(files[i].tmp);
}

int history_write_error(const char *dir, const char *stamp, const char *text)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s" HISTORY_ERROR_SUFFIX,
			     dir, stamp) >= sizeof(path))
		return -ENAMETOOLONG;
	return file_write_atomic(path, text, strlen(text), 0644);
}

/* "YYYY-MM-DD_HHMM." at the start of @name. */
static bool has_stamp(const char *name)
{
	static const char shape[] = "dddd-dd-dd_dddd.";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		char c = name[i];

		if (shape[i] == 'd' ? (c < '0' || c > '9') : c != shape[i])
			return false;
	}
	return true;
}

static int cmp_desc(const void *a, const void *b)
{
	return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct stamps of the run files in @d, newest first. */
static int list_stamps(DIR *d, char ***out, size_t *n)
{
	struct dirent *e;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	while ((e = readdir(d))) {
		bool seen = false;

		if (!has_stamp(e->d_name))
			continue;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = !strncmp(v[i], e->d_name, HISTORY_STAMP_LEN);
		if (seen)
			continue;
		if (*n == cap) {
			char **nv =
			    realloc(v, (cap ? cap * 2 : 32) * sizeof(*v));

			if (!nv)
				goto out_nomem;
			v = nv;
			cap = cap ? cap * 2 : 32;
		}
		v[*n] = xstrndup(e->d_name, HISTORY_STAMP_LEN);
		if (!v[*n])
			goto out_nomem;
		(*n)++;
	}
	qsort(v, *n, sizeof(*v), cmp_desc);
	*out = v;
	return 0;
out_nomem:
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	return -ENOMEM;
}

/* Old runs (stamp after the @keep newest) and leftover temporaries. */
static bool prunable(const char *name, char **stamps, size_t n, size_t keep)
{
	if (name[0] == '.' && strstr(name, ".tmp."))
		return true;
	if (!has_stamp(name))
		return false;
	for (size_t i = 0; i < n && i < keep; i++)
		if (!strncmp(stamps[i], name, HISTORY_STAMP_LEN))
			return false;
	return true;
}

int history_prune(const char *dir, int keep)
{
	struct dirent *e;
	char **stamps = NULL;
	size_t n = 0;
	int removed = 0, rc;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	rc = list_stamps(d, &stamps, &n);
	if (rc < 0)
		goto out_close;
	rewinddir(d);
	while ((e = readdir(d)))
		if (prunable(e->d_name, stamps, n,
			     keep > 0 ? (size_t)keep : 1) &&
		    unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	rc = removed;
	for (size_t i = 0; i < n; i++)
		free(stamps[i]);
	free(stamps);
out_close:
	closedir(d);
	return rc;
}

static int lock_open(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/" HISTORY_LOCK, dir) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

int history_lock(const char *dir)
{
	int fd = lock_open(dir);

	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;

		close(fd);
		return rc;
	}
	return fd;
}

bool history_locked(const char *dir)
{
	int fd = lock_open(dir);
	bool busy;

	if (fd < 0)
		return false;
	busy = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}
