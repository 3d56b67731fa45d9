/*
 * encode: the header text libcurl does not write for us.  RFC 2047
 * encoded words for the Subject and display names, RFC 2231 parameters
 * for attachment names with an ASCII fallback, and a UTF-8 check.
 * Pure functions appending to a strbuf; no I/O, no logging.
 */
#ifndef SAPB1_MAIL_ENCODE_H
#define SAPB1_MAIL_ENCODE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define ENCODE_WORD_MAX 75 /* longest encoded word (RFC 2047 section 2) */
#define ENCODE_LINE_MAX 76 /* longest line holding encoded words */
#define ENCODE_FOLD_AT 78  /* where plain header text is folded */

/* True when @len bytes at @s are well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
bool encode_utf8_valid(const char *s, size_t len);

/* True when @s is printable ASCII (0x20-0x7e) only. */
bool encode_is_plain_ascii(const char *s);

/*
 * Appends @text as an unstructured header body (Subject) whose first
 * character lands at column @col (9 after "Subject: ").  Printable ASCII
 * is kept and folded at spaces; anything else becomes "=?UTF-8?B?...?="
 * words of whole characters, each at most ENCODE_WORD_MAX long, folded
 * with CRLF SP so no line passes ENCODE_LINE_MAX.  Control characters
 * (CR, LF, TAB...) turn into spaces, so no header can be injected.
 * Returns 0, -EILSEQ when @text is not UTF-8, or -ENOMEM.
 */
int encode_header_text(struct strbuf *out, const char *text, size_t col);

/*
 * Appends a display name (an RFC 5322 phrase) starting at column @col:
 * as it is when made of atoms, as a quoted string when it holds
 * specials, as encoded words when it is not ASCII.  Returns as above.
 */
int encode_phrase(struct strbuf *out, const char *name, size_t col);

/*
 * Appends @value transliterated to printable ASCII for a filename=
 * fallback: Turkish letters lose their marks (ş -> s, İ -> I), other
 * characters become '_'.  Returns 0, -EILSEQ or -ENOMEM.
 */
int encode_ascii_fallback(struct strbuf *out, const char *value);

/*
 * Appends the parameter @name of a Content-Disposition or Content-Type
 * for @value, each piece on its own folded line (";\r\n NAME...").
 * Plain ASCII gives one quoted NAME="value".  Anything else gives the
 * RFC 2231 form NAME*=UTF-8''%XX..., split into NAME*0*, NAME*1*...
 * continuations of whole characters when it would pass ENCODE_FOLD_AT
 * columns, followed by NAME="ascii fallback" for old readers.
 * Returns 0, -EILSEQ or -ENOMEM.
 */
int encode_param(struct strbuf *out, const char *name, const char *value);

#endif
