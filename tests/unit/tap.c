/* tap: see tap.h. */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>

int tap_failures;
int tap_checks;

void tap_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	tap_failures++;
}

int tap_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, tap_checks, tap_failures);
	return tap_failures ? 1 : 0;
}
