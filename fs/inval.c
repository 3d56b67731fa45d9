/*
 * inval: see inval.h.
 *
 * Tickets grow by one per queued path and calls are made in queue
 * order, so "done" is one number: every ticket up to it was called.
 */
#include "inval.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"

struct entry {
	struct entry *next;
	uint64_t ticket;
	uint64_t since;
	char path[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static struct entry *head, **tail = &head;
static struct fuse *fuse_h;
static pthread_t thread;
static bool running, stopping;
static struct entry *busy; /* the drop under way */
static uint64_t last, done, late;

static void *inval_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		struct entry *e;

		while (!head && !stopping)
			pthread_cond_wait(&work, &lock);
		if (stopping)
			break;
		e = head;
		head = e->next;
		if (!head)
			tail = &head;
		busy = e;
		pthread_mutex_unlock(&lock);
		/* -ENOENT: the kernel holds nothing of it, which is fine. */
		fuse_invalidate_path(fuse_h, e->path);
		pthread_mutex_lock(&lock);
		busy = NULL;
		done = e->ticket;
		pthread_cond_broadcast(&done_cond);
		free(e);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int inval_start(struct fuse *f)
{
	int err;

	pthread_mutex_lock(&lock);
	fuse_h = f;
	stopping = false;
	err = pthread_create(&thread, NULL, inval_main, NULL);
	running = err == 0;
	pthread_mutex_unlock(&lock);
	return -err;
}

void inval_stop(void)
{
	struct timespec until = deadline_after_ms(3000);
	struct entry *e;

	pthread_mutex_lock(&lock);
	stopping = true;
	while ((e = head)) {
		head = e->next;
		free(e);
	}
	tail = &head;
	pthread_cond_broadcast(&work);
	/* Wakes waiters too: their handles read direct (tree.c). */
	pthread_cond_broadcast(&done_cond);
	while (busy)
		if (pthread_cond_timedwait(&done_cond, &lock, &until) ==
		    ETIMEDOUT)
			break;
	/*
	 * A call still under way is inside the kernel with its own
	 * reference to the device, so closing the device next is safe,
	 * and it ends the call: the kernel aborts the READs it waits on.
	 */
	if (busy)
		log_msg(LOG_WARNING, "fs",
			"a kernel cache drop is still under way at unmount; "
			"it ends with the connection");
	pthread_mutex_unlock(&lock);
}

void inval_join(void)
{
	pthread_mutex_lock(&lock);
	if (!running) {
		pthread_mutex_unlock(&lock);
		return;
	}
	running = false;
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	fuse_h = NULL;
}

uint64_t inval_post(const char *path, uint64_t since)
{
	struct entry *e;
	size_t len = strlen(path);
	uint64_t t = 0;

	pthread_mutex_lock(&lock);
	if (!running || stopping)
		goto out;
	if (since && busy && busy->since >= since &&
	    !strcmp(busy->path, path)) {
		t = busy->ticket;
		goto out;
	}
	/* The queue holds a few paths: it is drained as fast as made. */
	for (e = head; e; e = e->next)
		if (!strcmp(e->path, path)) {
			if (since > e->since)
				e->since = since;
			t = e->ticket;
			goto out;
		}
	e = malloc(sizeof(*e) + len + 1);
	if (!e) {
		log_msg(LOG_ERR, "fs",
			"out of memory: the kernel keeps %s a second", path);
		goto out;
	}
	memcpy(e->path, path, len + 1);
	e->next = NULL;
	e->since = since;
	e->ticket = t = ++last;
	*tail = e;
	tail = &e->next;
	pthread_cond_signal(&work);
out:
	pthread_mutex_unlock(&lock);
	return t;
}

bool inval_wait(uint64_t ticket, int ms)
{
	struct timespec until;
	bool ok;

	if (!ticket)
		return false;
	until = deadline_after_ms(ms);
	pthread_mutex_lock(&lock);
	while (done < ticket && !stopping)
		if (pthread_cond_timedwait(&done_cond, &lock, &until) ==
		    ETIMEDOUT)
			break;
	ok = done >= ticket;
	if (!ok)
		late++;
	pthread_mutex_unlock(&lock);
	return ok;
}

void inval_metrics(struct strbuf *sb)
{
	pthread_mutex_lock(&lock);
	strbuf_addf(sb,
		    "# HELP sapb1fs_kernel_drops_total Kernel attribute and "
		    "page drops made.\n"
		    "# TYPE sapb1fs_kernel_drops_total counter\n"
		    "sapb1fs_kernel_drops_total %llu\n"
		    "# HELP sapb1fs_kernel_drop_waits_late_total Opens that "
		    "read direct, their drop not made in time.\n"
		    "# TYPE sapb1fs_kernel_drop_waits_late_total counter\n"
		    "sapb1fs_kernel_drop_waits_late_total %llu\n",
		    (unsigned long long)done, (unsigned long long)late);
	pthread_mutex_unlock(&lock);
}
