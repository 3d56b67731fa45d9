/*
 * tap: the few checks unit programs use.  Each failed check prints
 * "FILE:LINE: what" to stderr and counts; tap_done() prints a summary
 * and returns the exit status (0 when all passed).
 */
#ifndef SAPB1_TAP_H
#define SAPB1_TAP_H

#include <stddef.h>

extern int tap_failures;
extern int tap_checks;

void tap_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tap_done(const char *name);

#define CHECK(cond)                                                            \
	do {                                                                   \
		tap_checks++;                                                  \
		if (!(cond))                                                   \
			tap_fail(__FILE__, __LINE__, "%s", #cond);             \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		tap_checks++;                                                  \
		if (!g_ || !w_ || strcmp(g_, w_) != 0)                         \
			tap_fail(__FILE__, __LINE__,                           \
				 "%s: got \"%s\", want \"%s\"", #got,          \
				 g_ ? g_ : "(null)", w_ ? w_ : "(null)");      \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long g_ = (got), w_ = (want);                             \
		tap_checks++;                                                  \
		if (g_ != w_)                                                  \
			tap_fail(__FILE__, __LINE__,                           \
				 "%s: got %lld, want %lld", #got, g_, w_);     \
	} while (0)

#endif
