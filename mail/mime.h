/*
 * mime: one job as a message, built with libcurl's MIME API.  Writes
 * the top headers (Date, Message-ID, From, To, Cc, Reply-To, Subject),
 * a multipart/alternative of plain text and HTML, and one base64 part
 * per attachment with its media type and RFC 2231 name, and the
 * envelope (MAIL FROM, RCPT TO with Bcc).  Reads the job's files; owns
 * no connection and sends nothing.
 */
#ifndef SAPB1_MAIL_MIME_H
#define SAPB1_MAIL_MIME_H

#include <stdint.h>

#include <curl/curl.h>

#include "addr.h"
#include "spool.h"
#include "util.h"

struct mime_msg {
	curl_mime *root;
	struct curl_slist *headers; /* for CURLOPT_HTTPHEADER */
	struct curl_slist *rcpt;    /* "<a@b>" for CURLOPT_MAIL_RCPT */
	char *mail_from;	    /* "<a@b>" for CURLOPT_MAIL_FROM */
	unsigned nrcpt;
};

struct mime_input {
	const struct spool *sp;
	const struct spool_job *job; /* in outbox/ */
	const struct addr *from;     /* [smtp] from */
	const char *message_id;	     /* "<...>", stable per job */
	int64_t date;		     /* unix seconds for the Date header */
	const char *mailer;	     /* X-Mailer value, or NULL */
};

/*
 * Builds the message of @in->job on the easy handle @curl (libcurl ties
 * a MIME tree to one handle).  Returns 0; -EINVAL with the reason in
 * @err when the job itself is wrong (a bad address, a body that is not
 * UTF-8, an unreadable file), so it can fail at once; or -ENOMEM.
 * The caller frees with mime_free in every case.
 */
int mime_build(struct mime_msg *m, CURL *curl, const struct mime_input *in,
	       struct strbuf *err);
void mime_free(struct mime_msg *m);

/* Bytes a file of @bytes takes in a message: base64 in lines of 76
 * characters and CRLF.  What [mailer] max_size is compared with. */
uint64_t mime_wire_size(uint64_t bytes);

/* Media type for an attachment, from its extension (case ignored);
 * application/octet-stream when unknown. */
const char *mime_type_for(const char *filename);

/* A fresh Message-ID "<id.random@domain>" for the job @job_id, the
 * domain taken from @from_email.  0 or -ENOMEM. */
int mime_make_message_id(struct strbuf *out, const char *job_id,
			 const char *from_email);

#endif
