/*
 * slotlock: see slotlock.h.
 *
 * A claim lives longer than catch_up (and at least a day), so a
 * scheduler restarted within it does not make up a run another host
 * made; a host finding its own claim (it stopped halfway) runs again.
 * Redis is set up on first use, after the daemon went to the
 * background, so no connection crosses a fork.
 */
#include "slotlock.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#ifdef HAVE_REDIS

#include "redis.h"

#define SLOT_KEEP_MIN 86400 /* seconds a claim lives at least */
#define SLOT_KEEP_SLACK 3600

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const struct conf *conf;
static bool usable;

static void setup(void)
{
	struct rds_opts o = {conf->redis_url, conf->redis_password,
			     conf->redis_timeout};
	char err[256];

	if (rds_init(&o, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "scheduler",
			"cannot use [redis] url: %s; every due run is made "
			"here",
			err);
		return;
	}
	usable = true;
}

/* "host:state_dir": two schedulers of one machine differ by state_dir */
static void self_name(const struct conf *c, char *buf, size_t len)
{
	char host[256] = "?";

	gethostname(host, sizeof(host) - 1);
	snprintf(buf, len, "%s:%s", host, c->state_dir);
}

static enum slotlock_result claim(struct rds_conn *rc, const char *key,
				  const char *me, long long px, char *who,
				  size_t wholen)
{
	enum slotlock_result res = SLOT_ALONE;
	redisReply *r = rds_cmd(rc, "SET %s %s NX PX %lld", key, me, px);

	if (!r)
		return SLOT_ALONE;
	if (r->type == REDIS_REPLY_STATUS) {
		freeReplyObject(r);
		return SLOT_OURS;
	}
	freeReplyObject(r);
	r = rds_cmd(rc, "GET %s", key);
	if (!r)
		return SLOT_ALONE;
	if (r->type == REDIS_REPLY_STRING) {
		res = strcmp(r->str, me) ? SLOT_OTHER : SLOT_OURS;
		snprintf(who, wholen, "%s", r->str);
	}
	freeReplyObject(r);
	return res;
}

enum slotlock_result slotlock_take(const struct conf *c, const char *report,
				   int64_t slot, char *who, size_t wholen)
{
	long long keep =
	    c->catch_up > SLOT_KEEP_MIN ? c->catch_up : SLOT_KEEP_MIN;
	enum slotlock_result res;
	char key[256], me[512];
	struct rds_conn *rc;

	if (!c->redis_url)
		return SLOT_ALONE;
	conf = c;
	pthread_once(&once, setup);
	if (!usable)
		return SLOT_ALONE;
	rc = rds_get();
	if (!rc)
		return SLOT_ALONE; /* down: logged once by the client */
	snprintf(key, sizeof(key), "sapb1fs:sched:%s:%lld", report,
		 (long long)slot);
	self_name(c, me, sizeof(me));
	res = claim(rc, key, me, (keep + SLOT_KEEP_SLACK) * 1000, who, wholen);
	rds_put(rc);
	return res;
}

#else

enum slotlock_result slotlock_take(const struct conf *c, const char *report,
				   int64_t slot, char *who, size_t wholen)
{
	(void)c;
	(void)report;
	(void)slot;
	(void)who;
	(void)wholen;
	return SLOT_ALONE;
}

#endif
