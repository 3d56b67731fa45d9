/*
 * util: small pieces every module needs: a growable string buffer, the
 * problem list that config and definition parsers fill, and whole-file
 * I/O helpers that retry on EINTR and report short writes.
 * Nothing here logs; errors are returned.
 */
#ifndef SAPB1_UTIL_H
#define SAPB1_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A growable, always NUL-terminated byte string. */
struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};

#define STRBUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Each returns 0, or -ENOMEM leaving the buffer as it was. */
int strbuf_grow(struct strbuf *sb, size_t extra);
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_adds(struct strbuf *sb, const char *s);
int strbuf_addc(struct strbuf *sb, char c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_reset(struct strbuf *sb);
/* Hands the string to the caller (never NULL on success). */
char *strbuf_detach(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);

/*
 * A list of problems found in input files, each "FILE:LINE: message"
 * (LINE omitted when 0).  Warnings are kept but do not count as errors.
 */
struct diag {
	char **msgs;
	size_t n;
	size_t cap;
	unsigned errors;
};

void diag_error(struct diag *d, const char *file, int line, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));
void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_free(struct diag *d);

/* Reads a whole file into a NUL-terminated buffer; 0 or -errno. */
int file_read_all(const char *path, char **out, size_t *len);
/* Writes all of @len bytes, retrying short writes; 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t len);
/*
 * Writes @path atomically: a temporary name in the same folder, fsync,
 * rename, fsync of the folder.  0 or -errno; nothing is left behind.
 */
int file_write_atomic(const char *path, const void *buf, size_t len,
		      mode_t mode);
/* mkdir -p with @mode for the folders it creates; 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* Duplicates, or NULL on allocation failure (NULL in gives NULL). */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Removes leading and trailing white space in place; returns @s. */
char *str_trim(char *s);
bool str_has_suffix(const char *s, const char *suffix);

/* 64-bit FNV-1a; stable across runs and hosts (inode numbers, keys). */
uint64_t hash64(const void *data, size_t len);
uint64_t hash64_str(const char *s);

/*
 * Keeps this process out of core dumps and ptrace by other users: a
 * core would hold passwords and every group's report data.
 */
void process_protect(void);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds. */
int64_t now_mono_ms(void);
int64_t now_real_ms(void);

/*
 * The CLOCK_REALTIME time @ms from now, as pthread_cond_timedwait and
 * pthread_timedjoin_np take it.
 */
struct timespec deadline_after_ms(int64_t ms);

#endif
