/* queue: see queue.h.  A plain array: a spool holds hundreds of jobs,
 * not millions, and every operation is one pass. */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct queue_entry *queue_find(struct queue *q, const char *id)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->v[i].id, id) == 0)
			return &q->v[i];
	return NULL;
}

int queue_add(struct queue *q, const char *id, int64_t due, bool in_place)
{
	struct queue_entry *e = queue_find(q, id);

	if (e) {
		e->in_place = e->in_place || in_place;
		return 0;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct queue_entry *v = realloc(q->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	e = &q->v[q->n];
	e->id = xstrdup(id);
	if (!e->id)
		return -ENOMEM;
	e->due = due;
	e->in_place = in_place;
	q->n++;
	return 0;
}

void queue_remove(struct queue *q, const char *id)
{
	struct queue_entry *e = queue_find(q, id);

	if (!e)
		return;
	free(e->id);
	*e = q->v[--q->n];
}

struct queue_entry *queue_next(struct queue *q)
{
	struct queue_entry *best = NULL;

	for (size_t i = 0; i < q->n; i++) {
		struct queue_entry *e = &q->v[i];

		if (!best || e->due < best->due ||
		    (e->due == best->due && strcmp(e->id, best->id) < 0))
			best = e;
	}
	return best;
}

void queue_free(struct queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].id);
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
}
