/*
 * fuzz: what the fuzz targets of tests/fuzz share: the libFuzzer entry
 * points, a check that aborts (so libFuzzer and the replay program both
 * see a crash), a scratch folder removed at exit, and a strict UTF-8
 * reader written apart from lib/, so the targets check the code under
 * test against a second opinion rather than against itself.
 */
#ifndef SAPB1_FUZZ_H
#define SAPB1_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional; replay.c calls it when a target defines it. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with "fuzz: FILE:LINE: message" when @cond is false. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);            \
	} while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A private scratch folder, made at the first call, removed at exit. */
const char *fuzz_dir(void);
/* "<fuzz_dir()>/@name" in a static buffer (one of four in turn). */
const char *fuzz_path(const char *name);
/* Writes @len bytes to fuzz_path(@name) with @mode; aborts on failure. */
void fuzz_write(const char *name, const void *data, size_t len, mode_t mode);

/* A NUL-terminated copy of the input (never NULL; aborts on OOM). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/*
 * Length of the well-formed UTF-8 character at @p (1 to 4), or 0 when
 * the bytes there are not one: RFC 3629, no overlong forms, no
 * surrogates, nothing past U+10FFFF, nothing cut short.
 */
size_t fuzz_utf8_len(const unsigned char *p, size_t n);
bool fuzz_utf8_valid(const char *s, size_t n);
/* Appends @p with each byte that starts no character as U+FFFD. */
void fuzz_utf8_clean(struct strbuf *out, const char *p, size_t n);

/* Reads bytes off an input front to back; past its end, zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

unsigned fuzz_byte(struct fuzz_in *in);
/* Up to @want bytes; *got says how many there were. */
const uint8_t *fuzz_take(struct fuzz_in *in, size_t want, size_t *got);

#endif
