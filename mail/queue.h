/*
 * queue: the mailer's memory of outbox/, one entry per job folder with
 * the time it is due.  Only a schedule: the truth stays on disk (the
 * folders and their sidecars), so a rescan can rebuild it at any time.
 */
#ifndef SAPB1_MAIL_QUEUE_H
#define SAPB1_MAIL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue_entry {
	char *id;
	int64_t due;   /* realtime ms */
	bool in_place; /* seen created in outbox/ rather than renamed in */
};

struct queue {
	struct queue_entry *v;
	size_t n;
	size_t cap;
};

/*
 * Adds @id due at @due; a job already queued keeps its time, and is
 * marked @in_place when that is given.  0 or -ENOMEM.
 */
int queue_add(struct queue *q, const char *id, int64_t due, bool in_place);
struct queue_entry *queue_find(struct queue *q, const char *id);
void queue_remove(struct queue *q, const char *id);
/* The entry due first (ties: by name), or NULL when empty. */
struct queue_entry *queue_next(struct queue *q);
void queue_free(struct queue *q);

#endif
