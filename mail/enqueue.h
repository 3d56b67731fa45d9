/*
 * enqueue: making a new mail job from files and addresses, the way
 * `sapb1fs-mailer --enqueue` does for scripts and people and the mailer
 * does for its own admin notices.  Checks what can be checked before
 * the job exists (addresses, UTF-8, files, size), then writes it with
 * spool_new_* (tmp/, fsync, one rename into outbox/).
 */
#ifndef SAPB1_MAIL_ENQUEUE_H
#define SAPB1_MAIL_ENQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "spool.h"
#include "util.h"

struct enqueue_args {
	const char *id;	      /* NULL: a fresh one */
	struct spool_strv to; /* each item may list several, comma-separated */
	struct spool_strv cc;
	struct spool_strv bcc;
	struct spool_strv reply_to;
	const char *subject;
	const char *body_path;	  /* HTML file, "-" for standard input */
	const char *text_path;	  /* plain-text file, "-" for standard input */
	const char *text_data;	  /* plain text given in memory instead */
	struct spool_strv attach; /* files, attached under their own names */
	bool notice;
	uint64_t max_size; /* bytes of body and attachments; 0: no limit */
};

/*
 * Writes the job.  On success copies its id into @id (SPOOL_ID_MAX + 1
 * bytes) and returns 0.  Returns -EINVAL with the reason in @err when
 * the arguments are wrong, -EEXIST when a job of that id exists, or
 * -errno with what failed in @err; nothing is left in the spool then.
 */
int enqueue_job(const struct spool *sp, const struct enqueue_args *a, char *id,
		struct strbuf *err);

#endif
