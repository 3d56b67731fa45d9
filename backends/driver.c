/* driver: the registry of source drivers, and their shared cancel. */
#include "config.h"
#include "driver.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#ifdef HAVE_ODBC
extern const struct drv_ops drv_odbc;
#endif
#ifdef HAVE_POSTGRES
extern const struct drv_ops drv_postgres;
#endif
#ifdef HAVE_SERVICELAYER
extern const struct drv_ops drv_servicelayer;
#endif

static const struct drv_ops *const drivers[] = {
#ifdef HAVE_ODBC
    &drv_odbc,
#endif
#ifdef HAVE_POSTGRES
    &drv_postgres,
#endif
#ifdef HAVE_SERVICELAYER
    &drv_servicelayer,
#endif
    NULL,
};

static const char *const names[] = {
#ifdef HAVE_ODBC
    "odbc",
#endif
#ifdef HAVE_POSTGRES
    "postgres",
#endif
#ifdef HAVE_SERVICELAYER
    "servicelayer",
#endif
    NULL,
};

const struct drv_ops *drv_find(const char *name)
{
	for (size_t i = 0; drivers[i]; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

const char *const *drv_names(void)
{
	return names;
}

void drv_flatten(char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
			s[i] = ' ';
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

int drv_fail(int status, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	drv_flatten(err);
	return status;
}

void drv_cancel_init(struct drv_cancel *k, struct drv_conn *c,
		     void (*send)(struct drv_conn *c))
{
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->quiet, NULL);
	k->busy = false;
	k->running = 0;
	k->unjoined = false;
	atomic_init(&k->fired, false);
	k->send = send;
	k->conn = c;
}

void drv_cancel_reset(struct drv_cancel *k)
{
	atomic_store(&k->fired, false);
}

void drv_cancel_busy(struct drv_cancel *k, bool busy)
{
	pthread_mutex_lock(&k->lock);
	k->busy = busy;
	pthread_mutex_unlock(&k->lock);
}

bool drv_cancel_fired(const struct drv_cancel *k)
{
	return atomic_load(&k->fired);
}

static void *cancel_main(void *arg)
{
	struct drv_cancel *k = arg;

	k->send(k->conn);
	pthread_mutex_lock(&k->lock);
	k->running--;
	pthread_cond_broadcast(&k->quiet);
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

/*
 * Cancel threads are joined, not detached: a thread that returned is
 * not over until its thread-specific data is freed, and a driver whose
 * cancel starts TLS would race OpenSSL's exit handler on it (snap.c
 * says more).  Once running is 0 the thread no longer needs the lock,
 * so joining under it is safe.
 */
static void cancel_join_locked(struct drv_cancel *k)
{
	if (k->unjoined && k->running == 0) {
		pthread_join(k->thread, NULL);
		k->unjoined = false;
	}
}

void drv_cancel_fire(struct drv_cancel *k)
{
	int rc;

	pthread_mutex_lock(&k->lock);
	if (!k->busy || k->running > 0)
		goto out_unlock;
	cancel_join_locked(k);
	atomic_store(&k->fired, true);
	k->running++;
	rc = pthread_create(&k->thread, NULL, cancel_main, k);
	k->unjoined = rc == 0;
	if (rc != 0) {
		/* no thread: cancel from here rather than not at all */
		k->running--;
		k->send(k->conn);
	}
out_unlock:
	pthread_mutex_unlock(&k->lock);
}

void drv_cancel_wait(struct drv_cancel *k)
{
	pthread_mutex_lock(&k->lock);
	k->busy = false;
	while (k->running > 0)
		pthread_cond_wait(&k->quiet, &k->lock);
	cancel_join_locked(k);
	pthread_mutex_unlock(&k->lock);
}

void drv_cancel_destroy(struct drv_cancel *k)
{
	drv_cancel_wait(k);
	pthread_cond_destroy(&k->quiet);
	pthread_mutex_destroy(&k->lock);
}
