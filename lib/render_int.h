/*
 * render_int: what the format files behind render.h share and nothing
 * else includes: the table of format operations, the common state of an
 * open renderer, a buffered writer that keeps the first write error, and
 * the text helpers (UTF-8 checks, hex, number grouping).
 */
#ifndef SAPB1_RENDER_INT_H
#define SAPB1_RENDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "render.h"

#define RENDER_OUT_BUFSZ 65536

/* A file written through one buffer; @err keeps the first -errno. */
struct render_out {
	int fd;
	int err;
	size_t len;
	char buf[RENDER_OUT_BUFSZ];
};

/*
 * The state every format starts with; each format's own struct begins
 * with it.  @m is a deep copy, so the caller's meta may go away.
 */
struct render {
	const struct render_ops *ops;
	struct render_meta m;
	uint64_t rows; /* rows accepted so far */
	int err;       /* first row error, reported again by close */
	char *path;
};

/*
 * One format.  open fills a zeroed struct of @size bytes whose base is
 * set; on failure it releases what it took.  row returns 0 or -errno.
 * close finishes and releases; abort only releases.
 */
struct render_ops {
	size_t size;
	int (*open)(struct render *r, char *err, size_t errlen);
	int (*row)(struct render *r, const struct cell *cells);
	int (*close)(struct render *r, char *err, size_t errlen);
	void (*abort)(struct render *r);
};

extern const struct render_ops render_csv_ops;
extern const struct render_ops render_json_ops;
extern const struct render_ops render_html_ops;
extern const struct render_ops render_xlsx_ops;

/* Opens @path for writing (created, truncated); 0 or -errno. */
int render_out_open(struct render_out *o, const char *path);
/* Writes out the buffer; returns o->err. */
int render_out_flush(struct render_out *o);
/* Flushes and closes; 0 or the first -errno seen. */
int render_out_close(struct render_out *o);
/* Closes without flushing (the file is being thrown away). */
void render_out_discard(struct render_out *o);

/* Copies @n bytes through the buffer (the slow path flushes). */
void render_out_write_slow(struct render_out *o, const void *p, size_t n);

static inline void render_out_write(struct render_out *o, const void *p,
				    size_t n)
{
	if (n > RENDER_OUT_BUFSZ - o->len) {
		render_out_write_slow(o, p, n);
		return;
	}
	if (n) /* @p may be NULL then: an empty cell's scratch */
		memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static inline void render_out_putc(struct render_out *o, char c)
{
	if (o->len == RENDER_OUT_BUFSZ)
		render_out_flush(o);
	o->buf[o->len++] = c;
}

void render_out_puts(struct render_out *o, const char *s);

/* The title to show: -- title:, else the report's name, else "". */
const char *render_title(const struct render_meta *m);

/* Sets @err to "what PATH: strerror(-rc)" and returns @rc. */
int render_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Length of the valid UTF-8 sequence at @p (1 to 4), or 0 when the
 * bytes there are not one (overlong, surrogate, past U+10FFFF, cut).
 */
size_t render_utf8_len(const unsigned char *p, size_t n);

/* The replacement character U+FFFD, in UTF-8. */
#define RENDER_UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Writes 2 * @n lower-case hex digits of @p to @dst. */
void render_hex(char *dst, const unsigned char *p, size_t n);

/*
 * Writes a canonical number (value.h) with its integer part grouped by
 * @group every three digits and its point shown as @point; returns the
 * length written to @dst (which holds 2 * @n + 1 bytes), or 0 when the
 * text is not a plain [-]digits[.digits][e[+-]digits] number.
 */
size_t render_group_number(char *dst, const char *p, size_t n, char group,
			   char point);

#endif
