/* b64file: see b64file.h. */
#include "b64file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_RAW 57	/* bytes per 76-character line */
#define CHUNK_LINES 512 /* lines encoded per file read */
#define CHUNK_RAW (LINE_RAW * CHUNK_LINES)
#define CHUNK_OUT (CHUNK_LINES * 78)

struct b64file {
	int fd;
	bool first_line; /* no CRLF before the very first line */
	size_t out_len, out_pos;
	unsigned char in[CHUNK_RAW];
	char out[CHUNK_OUT];
};

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encoded size of @n bytes: lines joined by CRLF, none after the last. */
static curl_off_t encoded_size(uint64_t n)
{
	uint64_t lines = (n + LINE_RAW - 1) / LINE_RAW;

	if (n == 0)
		return 0;
	return (curl_off_t)((n / 3 + (n % 3 != 0)) * 4 + (lines - 1) * 2);
}

static size_t encode_line(char *out, const unsigned char *in, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = alphabet[v >> 18 & 0x3f];
		out[o++] = alphabet[v >> 12 & 0x3f];
		out[o++] = i + 1 < n ? alphabet[v >> 6 & 0x3f] : '=';
		out[o++] = i + 2 < n ? alphabet[v & 0x3f] : '=';
	}
	return o;
}

/* Reads up to a full chunk (short only at the end); -1 on error. */
static ssize_t read_chunk(struct b64file *b)
{
	size_t got = 0;

	while (got < sizeof(b->in)) {
		ssize_t n = read(b->fd, b->in + got, sizeof(b->in) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int refill(struct b64file *b)
{
	ssize_t n = read_chunk(b);

	b->out_len = b->out_pos = 0;
	if (n < 0)
		return -1;
	for (size_t i = 0; i < (size_t)n; i += LINE_RAW) {
		size_t len =
		    (size_t)n - i < LINE_RAW ? (size_t)n - i : LINE_RAW;

		if (!b->first_line) {
			b->out[b->out_len++] = '\r';
			b->out[b->out_len++] = '\n';
		}
		b->first_line = false;
		b->out_len += encode_line(b->out + b->out_len, b->in + i, len);
	}
	return 0;
}

static size_t b64_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct b64file *b = arg;
	size_t want = size * nitems, done = 0;

	while (done < want) {
		size_t n;

		if (b->out_pos == b->out_len) {
			if (refill(b) < 0)
				return CURL_READFUNC_ABORT;
			if (b->out_len == 0)
				break;
		}
		n = b->out_len - b->out_pos;
		if (n > want - done)
			n = want - done;
		memcpy(buf + done, b->out + b->out_pos, n);
		b->out_pos += n;
		done += n;
	}
	return done;
}

/* libcurl rewinds a part to send it again (a replaced connection). */
static int b64_seek(void *arg, curl_off_t offset, int origin)
{
	struct b64file *b = arg;

	if (offset != 0 || origin != SEEK_SET || lseek(b->fd, 0, SEEK_SET) < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	b->first_line = true;
	b->out_len = b->out_pos = 0;
	return CURL_SEEKFUNC_OK;
}

static void b64_free(void *arg)
{
	struct b64file *b = arg;

	close(b->fd);
	free(b);
}

int b64file_attach(curl_mimepart *part, const char *path,
		   struct curl_slist **headers)
{
	struct curl_slist *h;
	struct b64file *b;
	struct stat st;

	h = curl_slist_append(*headers, "Content-Transfer-Encoding: base64");
	if (!h)
		return -ENOMEM;
	*headers = h;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->first_line = true;
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st) < 0) {
		int rc = -errno;

		if (b->fd >= 0)
			close(b->fd);
		free(b);
		return rc;
	}
	if (curl_mime_data_cb(part, encoded_size((uint64_t)st.st_size),
			      b64_read, b64_seek, b64_free, b) != CURLE_OK) {
		b64_free(b);
		return -ENOMEM;
	}
	return 0;
}
