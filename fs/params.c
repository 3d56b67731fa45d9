/*
 * params: see params.h.  Lists are cached by report, parameter and the
 * values chosen before it; a list is replaced whole, and readers hold a
 * reference, so a refresh never changes a list someone is reading.
 */
#include "params.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "run.h"
#include "source.h"

struct entry {
	struct entry *next;
	char *key;
	uint64_t def_hash;
	time_t when;
	struct param_values *pv;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries;

void params_put(struct param_values *pv)
{
	if (!pv || __atomic_sub_fetch(&pv->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	run_values_free(pv->v);
	free(pv);
}

static char *cache_key(const struct report *r, size_t idx,
		       const struct drv_param *chosen)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s/%s", r->name, r->params[idx].name);
	for (size_t i = 0; i < idx; i++)
		strbuf_addf(&sb, "\x1f%s", chosen[i].value);
	return strbuf_detach(&sb);
}

static struct entry *entry_find(const char *key)
{
	for (struct entry *e = entries; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static int fetch_values(const struct report *r, size_t idx,
			const struct drv_param *chosen,
			struct param_values **out, char *err, size_t errlen)
{
	struct source *src = source_find(r->source);
	struct param_values *pv;
	char label[2 * REPORT_NAME_MAX + 4];
	int rc;

	if (!src) {
		snprintf(err, errlen, "unknown source %s", r->source);
		return -EIO;
	}
	pv = calloc(1, sizeof(*pv));
	if (!pv)
		return -ENOMEM;
	pv->refs = 1;
	/* Its own label: the Service Layer keeps each SQL under one. */
	snprintf(label, sizeof(label), "%s__%s", r->name, r->params[idx].name);
	rc = run_values(src, label, r->params[idx].sql, chosen, idx,
			PARAMS_MAX_VALUES, &pv->v, &pv->n, err, errlen);
	if (rc != DRV_OK) {
		free(pv);
		log_msg(LOG_ERR, "params",
			"values of %s in %s failed: %s; the folder shows "
			"what it showed before",
			r->params[idx].name, r->name, err);
		return -EIO;
	}
	*out = pv;
	return 0;
}

int params_values(const struct report *r, size_t idx,
		  const struct drv_param *chosen, int ttl,
		  struct param_values **out, char *err, size_t errlen)
{
	char *key = cache_key(r, idx, chosen);
	struct param_values *pv = NULL;
	struct entry *e;
	time_t now = time(NULL);
	int rc;

	if (!key)
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	e = entry_find(key);
	if (e && e->def_hash == r->hash && now - e->when < ttl) {
		pv = e->pv;
		__atomic_add_fetch(&pv->refs, 1, __ATOMIC_ACQ_REL);
	}
	pthread_mutex_unlock(&lock);
	if (pv) {
		free(key);
		*out = pv;
		return 0;
	}

	/* Run outside the lock; a failure keeps serving the old list. */
	rc = fetch_values(r, idx, chosen, &pv, err, errlen);
	pthread_mutex_lock(&lock);
	e = entry_find(key);
	if (rc == 0) {
		if (!e && (e = calloc(1, sizeof(*e)))) {
			e->key = key;
			key = NULL;
			e->next = entries;
			entries = e;
		}
		if (e) {
			params_put(e->pv);
			e->pv = pv;
			e->when = now;
			e->def_hash = r->hash;
			__atomic_add_fetch(&pv->refs, 1, __ATOMIC_ACQ_REL);
		}
	} else if (e && e->pv) {
		pv = e->pv;
		__atomic_add_fetch(&pv->refs, 1, __ATOMIC_ACQ_REL);
		rc = 0;
	}
	pthread_mutex_unlock(&lock);
	free(key);
	if (rc == 0)
		*out = pv;
	return rc;
}
