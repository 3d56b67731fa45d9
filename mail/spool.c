/*
 * spool: see spool.h.
 *
 * How a job survives a crash: it becomes visible in outbox/ by one
 * rename of a complete, fsynced folder; its sidecar is replaced by
 * rename, never edited in place; it leaves outbox/ by one rename into
 * sent/ or failed/.  So after a stop at any instant a job is whole in
 * exactly one of outbox/, sent/ or failed/ (or still in tmp/, where the
 * mailer never looks).
 *
 * The sidecar is replaced by rename but not fsynced: it survives any
 * crash of the process (the page cache does), and only a power cut can
 * take back its last write, which costs at worst an attempt count or
 * a Message-ID made again.  An fsync per message would cost more than
 * sending it.
 *
 * job.ini and state.ini are read by the small reader below, not by
 * libinih: a subject may hold " ; " and a recipient line may be long,
 * and inih as built by distributions cuts lines at 200 bytes and strips
 * " ;..." as a comment.  The reader keeps inih's syntax (sections,
 * "key = value", ';' and '#' comment lines, " ;" inline comments) and
 * adds double-quoted values, which the writer uses when needed.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const box_names[] = {"tmp", "outbox", "sent", "failed"};

/* ---- the reader of job.ini and state.ini ---- */

typedef int (*ini_cb)(void *ctx, const char *section, const char *key,
		      const char *value, int line, struct strbuf *err);

/* Unquotes the value at @v in place; NULL when the quotes do not close
 * or something else than a comment follows them. */
static char *value_unquote(char *v)
{
	char *w = v, *r = v + 1;

	for (; *r && *r != '"'; r++) {
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
		*w++ = *r;
	}
	if (*r != '"')
		return NULL;
	r++;
	r += strspn(r, " \t");
	if (*r && *r != ';' && *r != '#')
		return NULL;
	*w = '\0';
	return v;
}

/* Cuts an inline comment (" ;" or "\t;") and trims. */
static char *value_plain(char *v)
{
	for (char *p = v; *p; p++)
		if (*p == ';' && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	return str_trim(v);
}

static int ini_line(char *line, char **section, int lineno, ini_cb cb,
		    void *ctx, struct strbuf *err)
{
	char *s = str_trim(line), *eq, *key, *value;

	if (!*s || *s == ';' || *s == '#')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');

		if (!close || close[1]) {
			strbuf_addf(err, "%d: bad section line", lineno);
			return -EINVAL;
		}
		*close = '\0';
		free(*section);
		*section = xstrdup(str_trim(s + 1));
		return *section ? 0 : -ENOMEM;
	}
	eq = strchr(s, '=');
	if (!eq) {
		strbuf_addf(err, "%d: no '=' in \"%s\"", lineno, s);
		return -EINVAL;
	}
	*eq = '\0';
	key = str_trim(s);
	value = str_trim(eq + 1);
	value = *value == '"' ? value_unquote(value) : value_plain(value);
	if (!value) {
		strbuf_addf(err, "%d: unterminated quoted value", lineno);
		return -EINVAL;
	}
	return cb(ctx, *section ? *section : "", key, value, lineno, err);
}

/* Parses @buf (modified) line by line; errors say "LINE: why". */
static int ini_parse_buf(char *buf, ini_cb cb, void *ctx, struct strbuf *err)
{
	char *section = NULL, *line = buf, *next;
	int lineno = 0, rc = 0;

	if (strncmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	for (; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		rc = ini_line(line, &section, ++lineno, cb, ctx, err);
	}
	free(section);
	return rc;
}

/* Appends "key = value\n", quoting the value when the reader needs it. */
static int ini_put(struct strbuf *sb, const char *key, const char *value)
{
	size_t len = strlen(value);
	bool quote = len && (strpbrk(value, ";#\"\\") || value[0] == ' ' ||
			     value[0] == '\t' || value[len - 1] == ' ' ||
			     value[len - 1] == '\t');
	int rc = strbuf_addf(sb, "%s = %s", key, quote ? "\"" : "");

	for (const char *p = value; *p && rc == 0; p++) {
		char c = *p == '\n' || *p == '\r' ? ' ' : *p;

		if (quote && (c == '"' || c == '\\'))
			rc = strbuf_addc(sb, '\\');
		if (rc == 0)
			rc = strbuf_addc(sb, c);
	}
	if (rc == 0)
		rc = strbuf_adds(sb, quote ? "\"\n" : "\n");
	return rc;
}

/* ---- the spool and its folders ---- */

const char *spool_box_name(enum spool_box box)
{
	return box_names[box];
}

int spool_open(struct spool *sp, const char *dir, bool create)
{
	char path[PATH_MAX];
	int rc = 0;

	memset(sp, 0, sizeof(*sp));
	for (size_t i = 0; i < ARRAY_SIZE(sp->box_fd); i++)
		sp->box_fd[i] = -1;
	sp->dir = xstrdup(dir);
	if (!sp->dir)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(box_names) && rc == 0; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, box_names[i]) >=
		    (int)sizeof(path))
			rc = -ENAMETOOLONG;
		else if (create)
			rc = mkdir_p(path, 0770);
		if (rc == 0) {
			sp->box_fd[i] =
			    open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sp->box_fd[i] < 0)
				rc = -errno;
		}
	}
	if (rc < 0)
		spool_close(sp);
	return rc;
}

void spool_close(struct spool *sp)
{
	for (size_t i = 0; i < ARRAY_SIZE(sp->box_fd); i++) {
		if (sp->box_fd[i] >= 0)
			close(sp->box_fd[i]);
		sp->box_fd[i] = -1;
	}
	free(sp->dir);
	sp->dir = NULL;
}

bool spool_id_valid(const char *id)
{
	size_t len = strlen(id);

	return len > 0 && len <= SPOOL_ID_MAX && id[0] != '.' &&
	       !strchr(id, '/');
}

bool spool_file_name_valid(const char *name)
{
	return spool_id_valid(name) && strcmp(name, SPOOL_JOB_FILE) != 0 &&
	       strcmp(name, SPOOL_STATE_FILE) != 0 &&
	       strcmp(name, SPOOL_REASON_FILE) != 0;
}

void spool_make_id(char *buf, size_t size)
{
	static unsigned counter;
	uint32_t rnd = 0;
	struct tm tm;
	time_t now = time(NULL);
	char stamp[32];

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)now ^ (uint32_t)getpid() << 16;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(buf, size, "%s-%ld-%08x", stamp, (long)getpid(),
		 rnd ^ counter++);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int strv_push(struct spool_strv *v, const char *s)
{
	char **nv = realloc(v->v, (v->n + 2) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	v->v = nv;
	v->v[v->n] = xstrdup(s);
	if (!v->v[v->n])
		return -ENOMEM;
	v->v[++v->n] = NULL;
	return 0;
}

void spool_strv_free(struct spool_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

int spool_list(const struct spool *sp, enum spool_box box,
	       struct spool_strv *ids)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	memset(ids, 0, sizeof(*ids));
	fd = openat(sp->box_fd[box], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			rc = strv_push(ids, de->d_name);
	closedir(d);
	if (rc < 0)
		spool_strv_free(ids);
	else if (ids->n)
		qsort(ids->v, ids->n, sizeof(*ids->v), cmp_names);
	return rc;
}

int64_t spool_age(const struct spool *sp, enum spool_box box, const char *id)
{
	struct stat st;

	if (fstatat(sp->box_fd[box], id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return (int64_t)time(NULL) - (int64_t)st.st_mtime;
}

bool spool_exists(const struct spool *sp, enum spool_box box, const char *id)
{
	struct stat st;

	return fstatat(sp->box_fd[box], id, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int spool_job_path(const struct spool *sp, enum spool_box box, const char *id,
		   const char *name, char *out, size_t size)
{
	int n =
	    name ? snprintf(out, size, "%s/%s/%s/%s", sp->dir, box_names[box],
			    id, name)
		 : snprintf(out, size, "%s/%s/%s", sp->dir, box_names[box], id);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Reads "id/name" of @box whole. */
static int read_job_file(const struct spool *sp, enum spool_box box,
			 const char *id, const char *name, char **out)
{
	char path[PATH_MAX];
	int rc = spool_job_path(sp, box, id, name, path, sizeof(path));

	return rc < 0 ? rc : file_read_all(path, out, NULL);
}

/* ---- job.ini ---- */

static int set_once(char **field, const char *key, const char *value, int line,
		    struct strbuf *err)
{
	if (*field) {
		strbuf_addf(err, "%d: %s given twice", line, key);
		return -EINVAL;
	}
	*field = xstrdup(value);
	return *field ? 0 : -ENOMEM;
}

static int set_file(char **field, const char *key, const char *value, int line,
		    struct strbuf *err)
{
	if (!*value)
		return 0;
	if (!spool_file_name_valid(value)) {
		strbuf_addf(err, "%d: %s \"%s\" is not a plain file name", line,
			    key, value);
		return -EINVAL;
	}
	return set_once(field, key, value, line, err);
}

static int job_key(void *ctx, const char *section, const char *key,
		   const char *value, int line, struct strbuf *err)
{
	struct spool_job *job = ctx;
	struct {
		const char *key;
		struct spool_strv *list;
	} lists[] = {
	    {"to", &job->to},
	    {"cc", &job->cc},
	    {"bcc", &job->bcc},
	    {"reply_to", &job->reply_to},
	};

	if (strcmp(section, "job") != 0) {
		strbuf_addf(err, "%d: \"%s\" outside of [job]", line, key);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		if (strcmp(key, lists[i].key) == 0)
			return *value ? strv_push(lists[i].list, value) : 0;
	if (strcmp(key, "subject") == 0)
		return set_once(&job->subject, key, value, line, err);
	if (strcmp(key, "body") == 0)
		return set_file(&job->body, key, value, line, err);
	if (strcmp(key, "text") == 0)
		return set_file(&job->text, key, value, line, err);
	if (strcmp(key, "attach") == 0) {
		if (!*value)
			return 0;
		if (spool_file_name_valid(value))
			return strv_push(&job->attach, value);
		strbuf_addf(err, "%d: attach \"%s\" is not a plain file name",
			    line, value);
		return -EINVAL;
	}
	if (strcmp(key, "notice") == 0) {
		job->notice = strcmp(value, "yes") == 0;
		return 0;
	}
	strbuf_addf(err, "%d: unknown key \"%s\"", line, key);
	return -EINVAL;
}

static int job_check(const struct spool_job *job, struct strbuf *err)
{
	if (!job->to.n && !job->cc.n && !job->bcc.n)
		strbuf_adds(err, "no recipient (to, cc or bcc)");
	else if (!job->subject)
		strbuf_adds(err, "no subject");
	else if (!job->body && !job->text)
		strbuf_adds(err, "no body (body or text)");
	else
		return 0;
	return -EINVAL;
}

int spool_job_load(const struct spool *sp, enum spool_box box, const char *id,
		   struct spool_job *job, struct strbuf *err)
{
	char *buf = NULL;
	int rc;

	memset(job, 0, sizeof(*job));
	job->id = xstrdup(id);
	if (!job->id)
		return -ENOMEM;
	rc = read_job_file(sp, box, id, SPOOL_JOB_FILE, &buf);
	if (rc == -ENOTDIR) {
		strbuf_adds(err, "not a folder");
		rc = -EINVAL;
	}
	if (rc < 0)
		goto out_free_job;
	strbuf_adds(err, SPOOL_JOB_FILE ":");
	rc = ini_parse_buf(buf, job_key, job, err);
	if (rc == 0) {
		strbuf_reset(err);
		rc = job_check(job, err);
	}
	free(buf);
	if (rc == 0)
		return 0;
out_free_job:
	spool_job_free(job);
	return rc;
}

void spool_job_free(struct spool_job *job)
{
	free(job->id);
	spool_strv_free(&job->to);
	spool_strv_free(&job->cc);
	spool_strv_free(&job->bcc);
	spool_strv_free(&job->reply_to);
	free(job->subject);
	free(job->body);
	free(job->text);
	spool_strv_free(&job->attach);
	memset(job, 0, sizeof(*job));
}

static int file_size(const struct spool *sp, enum spool_box box, const char *id,
		     const char *name, uint64_t (*weigh)(uint64_t),
		     uint64_t *total, struct strbuf *err)
{
	char rel[2 * PATH_MAX];
	struct stat st;

	snprintf(rel, sizeof(rel), "%s/%s", id, name);
	if (fstatat(sp->box_fd[box], rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		strbuf_addf(err, "missing file \"%s\"", name);
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode)) {
		strbuf_addf(err, "\"%s\" is not a regular file", name);
		return -EINVAL;
	}
	*total += weigh ? weigh((uint64_t)st.st_size) : (uint64_t)st.st_size;
	return 0;
}

int spool_job_files(const struct spool *sp, enum spool_box box,
		    const struct spool_job *job, uint64_t (*weigh)(uint64_t),
		    uint64_t *total, struct strbuf *err)
{
	int rc = 0;

	*total = 0;
	if (job->body)
		rc = file_size(sp, box, job->id, job->body, weigh, total, err);
	if (rc == 0 && job->text)
		rc = file_size(sp, box, job->id, job->text, weigh, total, err);
	for (size_t i = 0; i < job->attach.n && rc == 0; i++)
		rc = file_size(sp, box, job->id, job->attach.v[i], weigh, total,
			       err);
	return rc;
}

/* ---- state.ini and failed.txt ---- */

/* Replaces @path by rename, without fsync (see the top of this file). */
static int write_replace(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0)
		return -errno;
	rc = fd_write_all(fd, buf, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int64_t parse_time(const char *s)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	return (int64_t)timegm(&tm);
}

static void format_time(char *buf, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int state_key(void *ctx, const char *section, const char *key,
		     const char *value, int line, struct strbuf *err)
{
	struct spool_state *st = ctx;

	(void)section;
	(void)line;
	(void)err;
	if (strcmp(key, "attempts") == 0)
		st->attempts = (unsigned)strtoul(value, NULL, 10);
	else if (strcmp(key, "first_seen") == 0)
		st->first_seen = parse_time(value);
	else if (strcmp(key, "next_attempt") == 0)
		st->next_attempt = parse_time(value);
	else if (strcmp(key, "last_error") == 0 && !st->last_error)
		st->last_error = xstrdup(value);
	else if (strcmp(key, "message_id") == 0 && !st->message_id)
		st->message_id = xstrdup(value);
	return 0;
}

int spool_state_load(const struct spool *sp, enum spool_box box, const char *id,
		     struct spool_state *st)
{
	struct strbuf err = STRBUF_INIT;
	char *buf;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = read_job_file(sp, box, id, SPOOL_STATE_FILE, &buf);
	if (rc < 0)
		return rc;
	rc = ini_parse_buf(buf, state_key, st, &err);
	free(buf);
	strbuf_release(&err);
	if (st->first_seen < 0)
		st->first_seen = 0;
	if (st->next_attempt < 0)
		st->next_attempt = 0;
	/* a damaged sidecar only costs the history: start afresh */
	return rc == -ENOMEM ? rc : 0;
}

int spool_state_save(const struct spool *sp, enum spool_box box, const char *id,
		     const struct spool_state *st)
{
	struct strbuf sb = STRBUF_INIT;
	char path[PATH_MAX], first[32], next[32];
	int rc;

	format_time(first, sizeof(first), st->first_seen);
	format_time(next, sizeof(next), st->next_attempt);
	rc = strbuf_addf(&sb, "[state]\nattempts = %u\n", st->attempts);
	if (rc == 0)
		rc = ini_put(&sb, "first_seen", first);
	if (rc == 0 && st->next_attempt > 0)
		rc = ini_put(&sb, "next_attempt", next);
	if (rc == 0 && st->last_error)
		rc = ini_put(&sb, "last_error", st->last_error);
	if (rc == 0 && st->message_id)
		rc = ini_put(&sb, "message_id", st->message_id);
	if (rc == 0)
		rc = spool_job_path(sp, box, id, SPOOL_STATE_FILE, path,
				    sizeof(path));
	if (rc == 0)
		rc = write_replace(path, sb.buf, sb.len);
	strbuf_release(&sb);
	return rc;
}

void spool_state_free(struct spool_state *st)
{
	free(st->last_error);
	free(st->message_id);
	memset(st, 0, sizeof(*st));
}

int spool_reason_save(const struct spool *sp, enum spool_box box,
		      const char *id, const char *reason)
{
	struct strbuf sb = STRBUF_INIT;
	char path[PATH_MAX], when[32];
	int rc;

	format_time(when, sizeof(when), (int64_t)time(NULL));
	rc = strbuf_addf(&sb, "%s\n%s\n", reason, when);
	if (rc == 0)
		rc = spool_job_path(sp, box, id, SPOOL_REASON_FILE, path,
				    sizeof(path));
	if (rc == 0)
		rc = file_write_atomic(path, sb.buf, sb.len, 0660);
	strbuf_release(&sb);
	return rc;
}

int spool_reason_load(const struct spool *sp, enum spool_box box,
		      const char *id, char **out)
{
	char *nl;
	int rc = read_job_file(sp, box, id, SPOOL_REASON_FILE, out);

	if (rc == 0 && (nl = strchr(*out, '\n')) != NULL)
		*nl = '\0';
	return rc;
}

/* ---- moves ---- */

int spool_move(const struct spool *sp, const char *id, enum spool_box to,
	       bool durable, char *final)
{
	char name[SPOOL_ID_MAX + 16];
	int rc = -EEXIST;

	snprintf(name, sizeof(name), "%s", id);
	for (unsigned n = 1; rc == -EEXIST && n < 1000; n++) {
		rc = renameat2(sp->box_fd[SPOOL_OUTBOX], id, sp->box_fd[to],
			       name, RENAME_NOREPLACE) < 0
			 ? -errno
			 : 0;
		if (rc == -ENOTEMPTY)
			rc = -EEXIST;
		if (rc == -EEXIST)
			snprintf(name, sizeof(name), "%s.%u", id, n);
	}
	if (rc == 0 && durable && fsync(sp->box_fd[to]) < 0)
		rc = -errno;
	if (rc == 0 && durable && fsync(sp->box_fd[SPOOL_OUTBOX]) < 0)
		rc = -errno;
	if (rc == 0 && final)
		snprintf(final, SPOOL_ID_MAX + 16, "%s", name);
	return rc;
}

/* ---- writing a job ---- */

int spool_new_begin(struct spool_new *nj, const struct spool *sp,
		    const char *id)
{
	char fresh[64];

	memset(nj, 0, sizeof(*nj));
	nj->dir_fd = -1;
	nj->sp = sp;
	if (!id) {
		spool_make_id(fresh, sizeof(fresh));
		id = fresh;
	}
	if (!spool_id_valid(id))
		return -EINVAL;
	nj->id = xstrdup(id);
	if (!nj->id || strbuf_adds(&nj->ini, "[job]\n") < 0)
		return -ENOMEM;
	if (mkdirat(sp->box_fd[SPOOL_TMP], id, 0770) < 0) {
		/* not ours: abort must leave it alone */
		int rc = -errno;

		free(nj->id);
		nj->id = NULL;
		return rc;
	}
	nj->dir_fd = openat(sp->box_fd[SPOOL_TMP], id,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return nj->dir_fd < 0 ? -errno : 0;
}

/* Creates @name in the job folder and fills it from @src_fd or @data. */
static int new_file(struct spool_new *nj, const char *name, int src_fd,
		    const void *data, size_t len)
{
	char chunk[65536];
	ssize_t n;
	int fd, rc = 0;

	if (!spool_file_name_valid(name) && strcmp(name, SPOOL_JOB_FILE) != 0)
		return -EINVAL;
	fd = openat(nj->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0660);
	if (fd < 0)
		return -errno;
	if (src_fd < 0)
		rc = fd_write_all(fd, data, len);
	while (src_fd >= 0 && rc == 0) {
		n = read(src_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rc = fd_write_all(fd, chunk, (size_t)n);
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int spool_new_copy(struct spool_new *nj, const char *name, const char *src)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = new_file(nj, name, fd, NULL, 0);
	close(fd);
	return rc;
}

int spool_new_write(struct spool_new *nj, const char *name, const void *data,
		    size_t len)
{
	return new_file(nj, name, -1, data, len);
}

int spool_new_set(struct spool_new *nj, const char *key, const char *value)
{
	return ini_put(&nj->ini, key, value);
}

int spool_new_commit(struct spool_new *nj)
{
	const struct spool *sp = nj->sp;
	int rc;

	rc = new_file(nj, SPOOL_JOB_FILE, -1, nj->ini.buf, nj->ini.len);
	if (rc == 0 && fsync(nj->dir_fd) < 0)
		rc = -errno;
	if (rc == 0 &&
	    renameat2(sp->box_fd[SPOOL_TMP], nj->id, sp->box_fd[SPOOL_OUTBOX],
		      nj->id, RENAME_NOREPLACE) < 0)
		rc = errno == ENOTEMPTY ? -EEXIST : -errno;
	if (rc == 0 && fsync(sp->box_fd[SPOOL_OUTBOX]) < 0)
		rc = -errno;
	if (rc == 0) {
		close(nj->dir_fd);
		nj->dir_fd = -1;
		free(nj->id);
		nj->id = NULL;
		strbuf_release(&nj->ini);
	}
	return rc;
}

/* Removes @name under @dir_fd, folders recursively (a job is shallow). */
static int remove_tree(int dir_fd, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > 8)
		return -errno;
	fd = openat(dir_fd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = remove_tree(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	if (rc == 0 && unlinkat(dir_fd, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	return rc;
}

int spool_remove(const struct spool *sp, enum spool_box box, const char *id)
{
	if (!spool_id_valid(id))
		return -EINVAL;
	return remove_tree(sp->box_fd[box], id, 0);
}

int spool_requeue(const struct spool *sp, const char *id)
{
	char rel[SPOOL_ID_MAX + 32];
	int fd = sp->box_fd[SPOOL_FAILED];

	if (!spool_id_valid(id))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "%s/%s", id, SPOOL_STATE_FILE);
	if (unlinkat(fd, rel, 0) < 0 && errno != ENOENT)
		return -errno;
	snprintf(rel, sizeof(rel), "%s/%s", id, SPOOL_REASON_FILE);
	if (unlinkat(fd, rel, 0) < 0 && errno != ENOENT)
		return -errno;
	if (renameat2(fd, id, sp->box_fd[SPOOL_OUTBOX], id, RENAME_NOREPLACE) <
	    0)
		return errno == ENOTEMPTY ? -EEXIST : -errno;
	if (fsync(sp->box_fd[SPOOL_OUTBOX]) < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

void spool_new_abort(struct spool_new *nj)
{
	if (nj->dir_fd >= 0)
		close(nj->dir_fd);
	if (nj->id && nj->sp)
		remove_tree(nj->sp->box_fd[SPOOL_TMP], nj->id, 0);
	free(nj->id);
	strbuf_release(&nj->ini);
	memset(nj, 0, sizeof(*nj));
	nj->dir_fd = -1;
}

int spool_tmp_clean(const struct spool *sp, int64_t max_age)
{
	struct spool_strv ids;
	int removed = 0;

	if (spool_list(sp, SPOOL_TMP, &ids) < 0)
		return 0;
	for (size_t i = 0; i < ids.n; i++)
		if (spool_age(sp, SPOOL_TMP, ids.v[i]) > max_age &&
		    remove_tree(sp->box_fd[SPOOL_TMP], ids.v[i], 0) == 0)
			removed++;
	spool_strv_free(&ids);
	return removed;
}
