/*
 * source: connection pools; see source.h.
 *
 * A pool has one lock.  Connecting happens outside it (it may take the
 * whole timeout), with the slot counted as busy so max_connections holds.
 */
#include "source.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct source {
	const struct conf_source *cfg;
	const struct drv_ops *ops;
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct drv_conn **idle;
	size_t nidle;
	int busy; /* connections handed out or being opened */

	/* health, under @lock */
	bool up;
	bool known;
	int64_t latency_ms;
	time_t last_ok;
	time_t last_fail;
	char *last_error;
	uint64_t errors;
};

static struct source *sources;
static size_t nsources;

int source_init_all(const struct conf *c)
{
	sources = calloc(c->nsources ? c->nsources : 1, sizeof(*sources));
	if (!sources)
		return -1;
	for (size_t i = 0; i < c->nsources; i++) {
		struct source *s = &sources[i];

		s->cfg = &c->sources[i];
		s->ops = drv_find(s->cfg->driver);
		if (!s->ops) {
			log_msg(LOG_ERR, "source",
				"source %s: driver %s is not built in",
				s->cfg->name, s->cfg->driver);
			return -1;
		}
		s->idle = calloc((size_t)s->cfg->max_connections + 1,
				 sizeof(*s->idle));
		if (!s->idle)
			return -1;
		pthread_mutex_init(&s->lock, NULL);
		pthread_cond_init(&s->freed, NULL);
		nsources++;
	}
	return 0;
}

void source_shutdown_all(void)
{
	for (size_t i = 0; i < nsources; i++) {
		struct source *s = &sources[i];

		for (size_t j = 0; j < s->nidle; j++)
			s->ops->disconnect(s->idle[j]);
		free(s->idle);
		free(s->last_error);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->freed);
	}
	free(sources);
	sources = NULL;
	nsources = 0;
}

struct source *source_find(const char *name)
{
	for (size_t i = 0; i < nsources; i++)
		if (strcmp(sources[i].cfg->name, name) == 0)
			return &sources[i];
	return NULL;
}

const struct conf_source *source_conf(const struct source *s)
{
	return s->cfg;
}

const struct drv_ops *source_ops(const struct source *s)
{
	return s->ops;
}

static struct timespec deadline_ts(int64_t deadline_ms)
{
	int64_t now = now_mono_ms();

	return deadline_after_ms(deadline_ms > now ? deadline_ms - now : 0);
}

int source_acquire(struct source *s, int64_t deadline_ms, struct drv_conn **out,
		   char *err, size_t errlen)
{
	struct timespec ts = deadline_ts(deadline_ms);
	int64_t left;
	int rc;

	pthread_mutex_lock(&s->lock);
	while (s->nidle == 0 && s->busy >= s->cfg->max_connections) {
		if (pthread_cond_timedwait(&s->freed, &s->lock, &ts) ==
		    ETIMEDOUT) {
			pthread_mutex_unlock(&s->lock);
			snprintf(err, errlen,
				 "all %d connections busy until the timeout",
				 s->cfg->max_connections);
			return DRV_ERR_TIMEOUT;
		}
	}
	s->busy++;
	if (s->nidle) {
		*out = s->idle[--s->nidle];
		pthread_mutex_unlock(&s->lock);
		return DRV_OK;
	}
	pthread_mutex_unlock(&s->lock);

	left = deadline_ms - now_mono_ms();
	rc =
	    s->ops->connect(s->cfg, left > 0 ? (int)left : 1, out, err, errlen);
	if (rc != DRV_OK) {
		pthread_mutex_lock(&s->lock);
		s->busy--;
		pthread_cond_signal(&s->freed);
		pthread_mutex_unlock(&s->lock);
	}
	return rc;
}

void source_release(struct source *s, struct drv_conn *c, bool broken)
{
	pthread_mutex_lock(&s->lock);
	s->busy--;
	if (!broken && s->nidle < (size_t)s->cfg->max_connections) {
		s->idle[s->nidle++] = c;
		c = NULL;
	}
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
	if (c)
		s->ops->disconnect(c);
}

void source_note_ok(struct source *s, int64_t latency_ms)
{
	pthread_mutex_lock(&s->lock);
	if (s->known && !s->up)
		log_msg(LOG_NOTICE, "source", "source %s is answering again",
			s->cfg->name);
	s->up = true;
	s->known = true;
	s->latency_ms = latency_ms;
	s->last_ok = time(NULL);
	pthread_mutex_unlock(&s->lock);
}

void source_note_error(struct source *s, const char *msg)
{
	char *copy = strdup(msg);

	pthread_mutex_lock(&s->lock);
	s->up = false;
	s->known = true;
	s->last_fail = time(NULL);
	s->errors++;
	if (copy) {
		free(s->last_error);
		s->last_error = copy;
	}
	pthread_mutex_unlock(&s->lock);
}

void json_str(struct strbuf *sb, const char *s)
{
	strbuf_addc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addf(sb, "\\%c", *p);
		else if (*p < 0x20)
			strbuf_addf(sb, "\\u%04x", *p);
		else
			strbuf_addc(sb, (char)*p);
	}
	strbuf_addc(sb, '"');
}

static void json_time(struct strbuf *sb, time_t t)
{
	char buf[32];
	struct tm tm;

	if (!t) {
		strbuf_adds(sb, "null");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	strbuf_adds(sb, buf);
}

void source_health_json(struct strbuf *sb)
{
	for (size_t i = 0; i < nsources; i++) {
		struct source *s = &sources[i];

		pthread_mutex_lock(&s->lock);
		strbuf_adds(sb, i ? ",\n    " : "\n    ");
		json_str(sb, s->cfg->name);
		strbuf_adds(sb, ": {\"driver\": ");
		json_str(sb, s->cfg->driver);
		strbuf_addf(sb, ", \"up\": %s",
			    !s->known ? "null"
			    : s->up   ? "true"
				      : "false");
		if (s->known && s->up)
			strbuf_addf(sb, ", \"latency_ms\": %lld",
				    (long long)s->latency_ms);
		else
			strbuf_adds(sb, ", \"latency_ms\": null");
		strbuf_addf(sb, ", \"connections\": %d, \"idle\": %zu",
			    s->busy + (int)s->nidle, s->nidle);
		strbuf_adds(sb, ", \"last_ok\": ");
		json_time(sb, s->last_ok);
		strbuf_adds(sb, ", \"last_failure\": ");
		json_time(sb, s->last_fail);
		strbuf_adds(sb, ", \"last_error\": ");
		if (s->last_error && !(s->up && s->last_ok >= s->last_fail))
			json_str(sb, s->last_error);
		else
			strbuf_adds(sb, "null");
		strbuf_addc(sb, '}');
		pthread_mutex_unlock(&s->lock);
	}
}

void source_metrics(struct strbuf *sb)
{
	strbuf_adds(sb, "# HELP sapb1fs_source_up Whether the source "
			"answered its last use.\n"
			"# TYPE sapb1fs_source_up gauge\n");
	for (size_t i = 0; i < nsources; i++) {
		struct source *s = &sources[i];

		pthread_mutex_lock(&s->lock);
		strbuf_addf(sb, "sapb1fs_source_up{source=\"%s\"} %d\n",
			    s->cfg->name, s->up ? 1 : 0);
		pthread_mutex_unlock(&s->lock);
	}
	strbuf_adds(sb, "# HELP sapb1fs_source_errors_total Failed uses "
			"of the source.\n"
			"# TYPE sapb1fs_source_errors_total counter\n");
	for (size_t i = 0; i < nsources; i++) {
		struct source *s = &sources[i];

		pthread_mutex_lock(&s->lock);
		strbuf_addf(sb,
			    "sapb1fs_source_errors_total{source=\"%s\"} %llu\n",
			    s->cfg->name, (unsigned long long)s->errors);
		pthread_mutex_unlock(&s->lock);
	}
}
