/*
 * spool: the mail spool of DESIGN, [spool] dir with tmp/, outbox/, sent/
 * and failed/, one folder per job.  Owns the job.ini format, the state
 * sidecar state.ini, writing new jobs (tmp/, fsync, rename into outbox/)
 * and the moves out of outbox/.  When to send and retry is mailer.c's.
 * Nothing here logs; errors are returned, with a reason where useful.
 */
#ifndef SAPB1_MAIL_SPOOL_H
#define SAPB1_MAIL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SPOOL_JOB_FILE "job.ini"
#define SPOOL_STATE_FILE "state.ini"
#define SPOOL_REASON_FILE "failed.txt"
#define SPOOL_ID_MAX 200

enum spool_box {
	SPOOL_TMP,
	SPOOL_OUTBOX,
	SPOOL_SENT,
	SPOOL_FAILED,
};

struct spool {
	char *dir;
	int box_fd[4]; /* open folders, indexed by enum spool_box */
};

struct spool_strv {
	char **v;
	size_t n;
};

/* A parsed job.ini.  Address fields hold the lines as written. */
struct spool_job {
	char *id;
	struct spool_strv to, cc, bcc, reply_to;
	char *subject;
	char *body; /* HTML file in the job folder, or NULL */
	char *text; /* plain-text file, or NULL */
	struct spool_strv attach;
	bool notice; /* an admin notice: a failure sends no notice */
};

/* The sidecar: what earlier attempts left for the next one. */
struct spool_state {
	unsigned attempts;
	int64_t first_seen;   /* unix seconds: when the mailer first saw it */
	int64_t next_attempt; /* unix seconds; 0: at once */
	char *last_error;     /* NULL before the first failure */
	char *message_id;     /* "<...@...>", made once, kept for resends */
};

/* A job being written in tmp/, not yet visible to the mailer. */
struct spool_new {
	const struct spool *sp;
	char *id;
	int dir_fd;
	struct strbuf ini; /* job.ini so far */
};

/*
 * Opens the spool at @dir, creating it and its four folders (mode 0770
 * less the umask) when @create.  0 or -errno.
 */
int spool_open(struct spool *sp, const char *dir, bool create);
void spool_close(struct spool *sp);

/* "outbox", "sent"... for messages. */
const char *spool_box_name(enum spool_box box);

/* True when @id can name a job folder: not empty, no '/', no leading
 * '.', at most SPOOL_ID_MAX bytes. */
bool spool_id_valid(const char *id);

/* True when @name can be a file of a job: a plain name that is not one
 * of the spool's own files. */
bool spool_file_name_valid(const char *name);

/* Writes a fresh id ("20261203-070000-4242-9f1c2b7a") into @buf. */
void spool_make_id(char *buf, size_t size);

/*
 * Lists the job folders of @box, sorted by name, dot-names skipped.
 * The caller frees with spool_strv_free.  0 or -errno.
 */
int spool_list(const struct spool *sp, enum spool_box box,
	       struct spool_strv *ids);
void spool_strv_free(struct spool_strv *v);

/* Age in seconds of the folder @id in @box (its last change); -errno. */
int64_t spool_age(const struct spool *sp, enum spool_box box, const char *id);

/*
 * Parses @id's job.ini in @box.  -ENOENT when there is no job.ini,
 * -EINVAL with "job.ini:LINE: why" or another reason in @err when it is
 * malformed or incomplete, -ENOMEM.
 */
int spool_job_load(const struct spool *sp, enum spool_box box, const char *id,
		   struct spool_job *job, struct strbuf *err);
void spool_job_free(struct spool_job *job);

/*
 * Checks that every file the job names is a regular file in its folder
 * and adds up their sizes, each passed through @weigh when not NULL,
 * into *total.  -EINVAL with the reason in @err when one is missing or
 * not a file, else 0 or -errno.
 */
int spool_job_files(const struct spool *sp, enum spool_box box,
		    const struct spool_job *job, uint64_t (*weigh)(uint64_t),
		    uint64_t *total, struct strbuf *err);

/* Path of @name inside the job folder, in @out.  0 or -ENAMETOOLONG. */
int spool_job_path(const struct spool *sp, enum spool_box box, const char *id,
		   const char *name, char *out, size_t size);

/* Reads the sidecar of @id in @box; -ENOENT when it has none. */
int spool_state_load(const struct spool *sp, enum spool_box box, const char *id,
		     struct spool_state *st);
/* Replaces it atomically (temporary file, rename); not fsynced, so it
 * survives a crash of the process but maybe not a power cut. */
int spool_state_save(const struct spool *sp, enum spool_box box, const char *id,
		     const struct spool_state *st);
void spool_state_free(struct spool_state *st);

/* Writes the reason a job failed (atomically) into its folder. */
int spool_reason_save(const struct spool *sp, enum spool_box box,
		      const char *id, const char *reason);
/* Reads it back into *out (NUL-terminated); -ENOENT when there is none. */
int spool_reason_load(const struct spool *sp, enum spool_box box,
		      const char *id, char **out);

/* True when a job folder @id exists in @box. */
bool spool_exists(const struct spool *sp, enum spool_box box, const char *id);

/*
 * Moves the job @id from outbox/ into @to.  When a job of that name is
 * there already, the moved one is renamed "<id>.1", "<id>.2"...  The
 * name it got goes into @final (SPOOL_ID_MAX + 16 bytes) when not NULL.
 * @durable fsyncs both folders after.  0 or -errno.
 */
int spool_move(const struct spool *sp, const char *id, enum spool_box to,
	       bool durable, char *final);

/*
 * Writing a job: begin makes tmp/<id>/ (@id NULL: a fresh one); files
 * and keys are added; commit writes job.ini, fsyncs everything and
 * renames the folder into outbox/ (failing with -EEXIST rather than
 * replacing a job); abort removes what was written.  Each returns 0 or
 * -errno; after a failed commit, abort still cleans up.
 */
int spool_new_begin(struct spool_new *nj, const struct spool *sp,
		    const char *id);
/* Copies the file at @src into the job as @name. */
int spool_new_copy(struct spool_new *nj, const char *name, const char *src);
int spool_new_write(struct spool_new *nj, const char *name, const void *data,
		    size_t len);
/* Adds "key = value" to job.ini, quoted when the value needs it. */
int spool_new_set(struct spool_new *nj, const char *key, const char *value);
int spool_new_commit(struct spool_new *nj);
void spool_new_abort(struct spool_new *nj);

/* Removes the job folder @id of @box and all it holds.  0 or -errno. */
int spool_remove(const struct spool *sp, enum spool_box box, const char *id);

/*
 * Moves failed/@id back into outbox/ as a new job: its sidecar and
 * reason are removed first, so it gets a fresh max_age.  0 or -errno
 * (-EEXIST when outbox/ has a job of that name).
 */
int spool_requeue(const struct spool *sp, const char *id);

/* Removes entries of tmp/ older than @max_age seconds: what writers
 * that crashed left.  Returns how many were removed. */
int spool_tmp_clean(const struct spool *sp, int64_t max_age);

#endif
