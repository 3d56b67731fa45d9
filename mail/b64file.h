/*
 * b64file: a file streamed as base64 lines (76 characters, CRLF) for a
 * libcurl MIME part, in large reads.  libcurl's own base64 encoder
 * works through a 256-byte buffer, and SMTP uploads what each read
 * gives, so a 100 KB attachment left the mailer in some 400 sends;
 * this gives libcurl up to its whole upload buffer at once.
 */
#ifndef SAPB1_MAIL_B64FILE_H
#define SAPB1_MAIL_B64FILE_H

#include <curl/curl.h>

/*
 * Makes @part read the file at @path as base64 and adds the
 * Content-Transfer-Encoding header to @headers (which the caller then
 * gives to the part).  0, -errno when the file cannot be opened, or
 * -ENOMEM.
 */
int b64file_attach(curl_mimepart *part, const char *path,
		   struct curl_slist **headers);

#endif
