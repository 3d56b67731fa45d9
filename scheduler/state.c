/*
 * state: see state.h.
 *
 * The file is text, one report a line, fields separated by tabs:
 *   name since last_slot last_start last_end result failures notice_at msg
 * with times in unix seconds.  Lines starting with '#' are comments.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util.h"

#define STATE_HEADER                                                           \
	"# sapb1fs-scheduler state: name since last_slot last_start "          \
	"last_end result failures notice_at message\n"

const char *state_result_name(enum state_result r)
{
	switch (r) {
	case STATE_OK:
		return "ok";
	case STATE_FAILED:
		return "failed";
	default:
		return "never";
	}
}

static int result_parse(const char *s)
{
	if (!strcmp(s, "ok"))
		return STATE_OK;
	if (!strcmp(s, "failed"))
		return STATE_FAILED;
	if (!strcmp(s, "never"))
		return STATE_NONE;
	return -1;
}

static bool int_field(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

/* Splits @line at tabs into at most @max fields (the last keeps any
 * further tabs); returns the count. */
static size_t split_tabs(char *line, char **f, size_t max)
{
	size_t n = 0;

	f[n++] = line;
	while (n < max) {
		char *tab = strchr(f[n - 1], '\t');

		if (!tab)
			break;
		*tab = '\0';
		f[n++] = tab + 1;
	}
	return n;
}

static int parse_line(char *line, struct state_rec *r)
{
	char *f[9] = {0};
	int64_t v[7];
	int res;

	if (split_tabs(line, f, 9) < 8 || !report_name_valid(f[0]))
		return -1;
	for (int i = 0; i < 4; i++)
		if (!int_field(f[1 + i], &v[i]))
			return -1;
	res = result_parse(f[5]);
	if (res < 0 || !int_field(f[6], &v[4]) || !int_field(f[7], &v[5]))
		return -1;
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", f[0]);
	r->since = v[0];
	r->last_slot = v[1];
	r->last_start = v[2];
	r->last_end = v[3];
	r->result = res;
	r->failures = (int)v[4];
	r->notice_at = v[5];
	snprintf(r->msg, sizeof(r->msg), "%s", f[8] ? f[8] : "");
	return 0;
}

static int state_path(char *buf, size_t size, const char *dir, const char *file)
{
	if ((size_t)snprintf(buf, size, "%s/%s", dir, file) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int state_parse(char *text, struct state *st)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct state_rec r, *slot;

		if (line[0] == '#' || parse_line(line, &r) < 0)
			continue;
		slot = state_get(st, r.name);
		if (!slot)
			return -ENOMEM;
		*slot = r;
	}
	return 0;
}

int state_load(const char *state_dir, struct state *st)
{
	char path[PATH_MAX], *text;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = state_path(path, sizeof(path), state_dir, STATE_FILE);
	if (rc < 0)
		return rc;
	rc = file_read_all(path, &text, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	rc = state_parse(text, st);
	free(text);
	if (rc < 0)
		state_free(st);
	return rc;
}

void state_free(struct state *st)
{
	free(st->v);
	st->v = NULL;
	st->n = 0;
}

struct state_rec *state_find(struct state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->v[i].name, name))
			return &st->v[i];
	return NULL;
}

struct state_rec *state_get(struct state *st, const char *name)
{
	struct state_rec *r = state_find(st, name), *v;

	if (r)
		return r;
	v = realloc(st->v, (st->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	st->v = v;
	r = &v[st->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

/* The message on one line: tabs and line ends become spaces. */
static void add_msg(struct strbuf *sb, const char *msg)
{
	for (const char *p = msg; *p; p++)
		strbuf_addc(sb, (*p == '\t' || *p == '\n' || *p == '\r') ? ' '
									 : *p);
}

static int state_format(const struct state *st, struct strbuf *sb)
{
	strbuf_adds(sb, STATE_HEADER);
	for (size_t i = 0; i < st->n; i++) {
		const struct state_rec *r = &st->v[i];

		strbuf_addf(sb,
			    "%s\t%" PRId64 "\t%" PRId64 "\t%" PRId64
			    "\t%" PRId64 "\t%s\t%d\t%" PRId64 "\t",
			    r->name, r->since, r->last_slot, r->last_start,
			    r->last_end, state_result_name(r->result),
			    r->failures, r->notice_at);
		add_msg(sb, r->msg);
		strbuf_addc(sb, '\n');
	}
	return sb->buf ? 0 : -ENOMEM;
}

/* Serializes writers, threads and processes alike (one open each). */
static int state_lock(const char *state_dir)
{
	char path[PATH_MAX];
	int fd;

	if (state_path(path, sizeof(path), state_dir, STATE_FILE ".lock") < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int rc = -errno;

			close(fd);
			return rc;
		}
	return fd;
}

int state_update(const char *state_dir, const char *name, state_edit_fn edit,
		 void *ctx, struct state_rec *out)
{
	struct strbuf sb = STRBUF_INIT;
	struct state st;
	struct state_rec *rec;
	char path[PATH_MAX];
	int lock, rc;

	lock = state_lock(state_dir);
	if (lock < 0)
		return lock;
	rc = state_load(state_dir, &st);
	if (rc < 0)
		goto out_unlock;
	rec = state_get(&st, name);
	rc = rec ? 0 : -ENOMEM;
	if (rc == 0) {
		edit(rec, ctx);
		if (out)
			*out = *rec;
		rc = state_format(&st, &sb);
	}
	if (rc == 0)
		rc = state_path(path, sizeof(path), state_dir, STATE_FILE);
	if (rc == 0)
		rc = file_write_atomic(path, sb.buf, sb.len, 0644);
	strbuf_release(&sb);
	state_free(&st);
out_unlock:
	close(lock);
	return rc;
}
