/*
 * htmltext: the plain-text alternative of an HTML body, for readers
 * that do not show HTML and for spam filters that want both.  Keeps the
 * words and the line structure (paragraphs, rows, list items, table
 * cells), drops tags, scripts and styles, and decodes entities.
 * Not an HTML renderer; no I/O, no logging.
 */
#ifndef SAPB1_MAIL_HTMLTEXT_H
#define SAPB1_MAIL_HTMLTEXT_H

#include <stddef.h>

#include "util.h"

/* Appends the text of @len bytes of HTML at @html to @out, with CRLF
 * line ends.  0 or -ENOMEM. */
int htmltext_convert(struct strbuf *out, const char *html, size_t len);

#endif
