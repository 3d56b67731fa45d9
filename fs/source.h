/*
 * source: one pool of driver connections per [source NAME], and what is
 * known of its health.  Connections are made lazily (a source down at
 * mount time does not stop the mount), kept for reuse up to
 * max_connections, and dropped after a link error.
 */
#ifndef SAPB1_FS_SOURCE_H
#define SAPB1_FS_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "driver.h"
#include "util.h"

struct source;

/* Makes a pool per source of @c; -1 with a logged reason on failure. */
int source_init_all(const struct conf *c);
void source_shutdown_all(void);

struct source *source_find(const char *name);
const struct conf_source *source_conf(const struct source *s);
const struct drv_ops *source_ops(const struct source *s);

/*
 * Takes a connection, opening one when none is idle, waiting for one
 * while max_connections are busy, until @deadline_ms (monotonic).
 * DRV_OK and *out, or a drv_status with a reason in @err.
 */
int source_acquire(struct source *s, int64_t deadline_ms, struct drv_conn **out,
		   char *err, size_t errlen);

/* Gives @c back; a @broken link is closed instead of kept. */
void source_release(struct source *s, struct drv_conn *c, bool broken);

/* Records the outcome of a use, for .status/health.json. */
void source_note_ok(struct source *s, int64_t latency_ms);
void source_note_error(struct source *s, const char *msg);

/* Appends "name": {...} members for every source, comma-separated. */
void source_health_json(struct strbuf *sb);
/* Appends Prometheus lines for every source. */
void source_metrics(struct strbuf *sb);

/* Appends @s as a JSON string literal (quotes and escapes included). */
void json_str(struct strbuf *sb, const char *s);

#endif
