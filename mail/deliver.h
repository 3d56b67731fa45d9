/*
 * deliver: one attempt at one job of outbox/.  Reads job.ini and the
 * sidecar, checks the job, builds and sends the message, then moves the
 * job to sent/, or to failed/ with its reason and one admin notice, or
 * records when to try again.  Owns the retry policy ([mailer]
 * retry_first, retry_max, max_age) and logs one line per outcome.
 */
#ifndef SAPB1_MAIL_DELIVER_H
#define SAPB1_MAIL_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"
#include "smtp.h"
#include "spool.h"

/* A folder in outbox/ without job.ini waits this long, then fails. */
#define DELIVER_INCOMPLETE_GRACE 60

struct deliver {
	const struct conf *conf;
	const struct spool *sp;
	struct smtp *smtp;
	struct addr_list from; /* [smtp] from: one address */
	int64_t hold_until;    /* realtime ms: the server is unreachable,
				* no attempt before then */
	unsigned sent, failed, deferred;
};

enum deliver_status {
	DELIVER_DONE,  /* the job left outbox/ (or vanished from it) */
	DELIVER_LATER, /* still in outbox/, due again at *when */
};

/*
 * Prepares delivery for @c's [smtp] and [mailer] over @sp and @smtp,
 * which must outlive it.  0, or -EINVAL with the reason in @err (a bad
 * [smtp] from), or -ENOMEM.
 */
int deliver_init(struct deliver *d, const struct conf *c,
		 const struct spool *sp, struct smtp *smtp, char *err,
		 size_t errlen);
void deliver_fini(struct deliver *d);

/*
 * One attempt at outbox/@id.  @in_place says the folder was seen being
 * created inside outbox/ instead of renamed into it: it fails at once.
 * On DELIVER_LATER, *when is the realtime ms it is due again.
 */
enum deliver_status deliver_job(struct deliver *d, const char *id,
				bool in_place, int64_t *when);

/* When @id is due, from its sidecar (realtime ms); now when it has none. */
int64_t deliver_due(const struct deliver *d, const char *id);

/* The delay before attempt @attempts + 1, with jitter, in seconds. */
int64_t deliver_backoff(const struct conf *c, unsigned attempts);

#endif
