/*
 * mailjob: the jobs the scheduler hands to sapb1fs-mailer, written with
 * the mailer's own spool code (mail/spool.h: a folder in tmp/, fsynced,
 * renamed into outbox/ whole): a report's mail after a run, and the
 * notice to [smtp] admin when a run fails or works again.  Nothing here
 * logs; a failed write leaves nothing in the spool.
 */
#ifndef SAPB1_SCHED_MAILJOB_H
#define SAPB1_SCHED_MAILJOB_H

#include <stddef.h>

#include "render.h"
#include "report.h"

/*
 * Queues @r's mail: to its recipients, subject "<title> — <date>", the
 * HTML body from @body_path (NULL: a short one naming the attachments),
 * and each format of @r->attach from @files[fmt], named
 * "<title>.<fmt>".  0, or -errno with the reason in @err.
 */
int mailjob_report(const char *spool_dir, const struct report *r,
		   const char *date, const char *body_path,
		   const char *const files[FMT_COUNT], char *err,
		   size_t errlen);

/* Queues a plain-text notice to @admin.  0, or -errno and @err. */
int mailjob_notice(const char *spool_dir, const char *admin,
		   const char *subject, const char *text, char *err,
		   size_t errlen);

/*
 * The file name a title gives: '/' and control characters become '-',
 * a leading '.' becomes '_', cut (at a character boundary) to fit the
 * spool's names.  Written into @buf.
 */
void mailjob_file_name(char *buf, size_t size, const char *title,
		       const char *ext);

#endif
