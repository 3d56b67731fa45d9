/* driver: the registry of source drivers; see driver.h. */
#include "config.h"
#include "driver.h"

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
