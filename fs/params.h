/*
 * params: parameter folders.  A definition's "-- param: name = SQL"
 * lists the values a report can be run for; each value is a folder
 * reports/<report>/<name>/<value>/.  This module runs and caches those
 * lists (for the report's ttl) and turns values into safe file names.
 *
 * Encoding, reversible and documented in docs/reports.md: '%' and '/'
 * become %25 and %2F, bytes below 0x20 and 0x7f become %XX, a leading
 * '.' becomes %2E, an empty value is "%00"; a name longer than 200 bytes
 * is cut at a character boundary outside any %XX and ends in "%~" and 16
 * hex digits of the value's hash.  Turkish and other UTF-8 text stays as
 * it is.  param_encode() and param_lookup() live in paramname.c.
 */
#ifndef SAPB1_FS_PARAMS_H
#define SAPB1_FS_PARAMS_H

#include <stddef.h>

#include "driver.h"
#include "report.h"

#define PARAMS_MAX_VALUES 20000
#define PARAM_NAME_MAX 255

/* A value list, shared; drop with params_put. */
struct param_values {
	int refs;
	char **v;
	size_t n;
};

/*
 * The values of parameter @idx of @r, given the values chosen for the
 * parameters before it (@chosen, @idx entries; a value query may use
 * them as placeholders).  Runs the query when the cached list is older
 * than @ttl seconds.  0 and *out, or -errno (EIO with @err set).
 */
int params_values(const struct report *r, size_t idx,
		  const struct drv_param *chosen, int ttl,
		  struct param_values **out, char *err, size_t errlen);
void params_put(struct param_values *pv);

/* Writes the file name of @value into @buf (PARAM_NAME_MAX + 1 bytes). */
void param_encode(const char *value, char *buf, size_t len);

/* The value whose name is @name in @pv, or NULL. */
const char *param_lookup(const struct param_values *pv, const char *name);

#endif
