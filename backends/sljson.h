/*
 * sljson: a pull reader over one JSON text held in memory, made for the
 * Service Layer's pages.  Numbers come back as their exact text (never a
 * double, so amounts keep their digits), strings as raw spans that the
 * caller unescapes in place when it wants them.  Nothing is allocated;
 * the caller owns the buffer.  Used by servicelayer.c and its unit test.
 */
#ifndef SAPB1_SLJSON_H
#define SAPB1_SLJSON_H

#include <stdbool.h>
#include <stddef.h>

enum slj_tok {
	SLJ_ERROR = -1, /* malformed text: see slj.error and slj_offset */
	SLJ_EOF = 0,	/* after the one top-level value */
	SLJ_OBJECT,	/* '{' */
	SLJ_OBJECT_END, /* '}' */
	SLJ_ARRAY,	/* '[' */
	SLJ_ARRAY_END,	/* ']' */
	SLJ_KEY,	/* a member name: raw text in tok, len */
	SLJ_STRING,	/* raw text between the quotes in tok, len */
	SLJ_NUMBER,	/* the number's exact text in tok, len */
	SLJ_TRUE,
	SLJ_FALSE,
	SLJ_NULL,
};

#define SLJ_MAX_DEPTH 64

struct slj {
	char *start, *p, *end;
	char *tok;    /* the current token's text */
	size_t len;   /* its length */
	bool escaped; /* KEY or STRING holds backslash escapes */
	int depth;
	int state;
	const char *error; /* static text, set with SLJ_ERROR */
	char stack[SLJ_MAX_DEPTH];
};

/* Starts reading @len bytes at @buf (need not be NUL-terminated). */
void slj_init(struct slj *j, char *buf, size_t len);

/* The next token; SLJ_ERROR stays sticky. */
int slj_next(struct slj *j);

/*
 * Right after a token that starts a value (OBJECT, ARRAY or a scalar):
 * moves past the whole value and sets *raw, *rawlen to its JSON text
 * (strings with their quotes).  Returns 0, or SLJ_ERROR.
 */
int slj_skip(struct slj *j, int tok, char **raw, size_t *rawlen);

/*
 * Decodes the escapes of a raw string in place (\uXXXX to UTF-8; a lone
 * surrogate becomes U+FFFD).  Returns the new length, never longer than
 * @len, or -1 for a malformed escape.
 */
long slj_unescape(char *s, size_t len);

/* True when the current KEY or STRING is exactly @s (raw compare). */
bool slj_is(const struct slj *j, const char *s);

/* Byte offset of the reader, for messages. */
size_t slj_offset(const struct slj *j);

#endif
