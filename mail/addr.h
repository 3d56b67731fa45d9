/*
 * addr: mail addresses as job.ini and [smtp] write them, "Name <a@b>"
 * or plain "a@b", comma-separated.  Splits each into the address the
 * envelope needs and the display name the header shows, and writes
 * header lists back, encoded and folded.  No I/O, no logging.
 */
#ifndef SAPB1_MAIL_ADDR_H
#define SAPB1_MAIL_ADDR_H

#include <stddef.h>

#include "util.h"

struct addr {
	char *name;  /* display name (UTF-8), NULL when none */
	char *email; /* local@domain, printable ASCII, checked */
};

struct addr_list {
	struct addr *v;
	size_t n;
};

/*
 * Appends every address of @text to @list; empty items are skipped and a
 * display name may be quoted ("Yılmaz, Ayşe" <a@b>).  Returns 0, -ENOMEM,
 * or -EINVAL with the reason ("bad address \"x\": ...") in @err.
 */
int addr_list_parse(struct addr_list *list, const char *text, char *err,
		    size_t errlen);
void addr_list_free(struct addr_list *list);

/*
 * Appends @list as a header body whose first character is at column
 * @col: "Name <a@b>, c@d", names encoded as RFC 2047 when not ASCII,
 * folded between addresses past 78 columns.  0, -EILSEQ or -ENOMEM.
 */
int addr_list_format(struct strbuf *out, const struct addr_list *list,
		     size_t col);

#endif
