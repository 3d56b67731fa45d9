/*
 * smtp: the link to [smtp] url, one libcurl easy handle whose connection
 * is kept open from one message to the next.  Owns the TLS policy
 * (STARTTLS required on smtp:// unless tls = no, implicit TLS on
 * smtps://, the peer verified against the system store or ca_file),
 * AUTH, and turning what libcurl and the server said into "sent",
 * "retry later" or "fail now".  Logs the SMTP dialogue at debug level
 * only, without AUTH; the caller logs outcomes.
 */
#ifndef SAPB1_MAIL_SMTP_H
#define SAPB1_MAIL_SMTP_H

#include <stdbool.h>

#include <curl/curl.h>

#include "conf.h"
#include "mime.h"

enum smtp_outcome {
	SMTP_SENT,  /* the server answered 250 to the end of DATA */
	SMTP_RETRY, /* 4xx, a network or TLS failure, a refused login */
	SMTP_FAIL,  /* 5xx to MAIL, RCPT or DATA: this message never will */
};

struct smtp_result {
	enum smtp_outcome outcome;
	long code;	     /* last SMTP reply code, 0 when there was none */
	char text[512];	     /* "451 4.3.0 try again" or libcurl's error */
	char rejected[1024]; /* recipients refused while others got it */
	bool link_problem;   /* the failure was the server's or the link's
			      * (connect, TLS, login, 421), not this mail's */
	bool aborted;	     /* stopped by the stop callback */
};

struct smtp;

/*
 * Prepares a link to @c's [smtp] (nothing is connected yet).  The conf
 * must outlive it.  Returns 0, or -EINVAL with the reason in @err (no
 * url, an unknown scheme), or -ENOMEM.
 */
int smtp_open(struct smtp **out, const struct conf *c, char *err,
	      size_t errlen);
/* Says QUIT when connected, and frees. */
void smtp_close(struct smtp *s);

/* The easy handle messages must be built on (see mime_build). */
CURL *smtp_handle(struct smtp *s);

/*
 * @stop is polled during a transfer; once it returns true the transfer
 * ends (result SMTP_RETRY, aborted), except that a message already
 * being uploaded gets a few seconds to finish.  libcurl does not poll
 * while it waits for the answer to the end of DATA: that wait ends with
 * the answer or the reply timeout.
 */
void smtp_set_stop(struct smtp *s, bool (*stop)(void *), void *arg);

/*
 * Sends @m.  A connection found dead before the message went out is
 * replaced once, silently.  Fills @res; returns its outcome.
 */
enum smtp_outcome smtp_send(struct smtp *s, struct mime_msg *m,
			    struct smtp_result *res);

/* Says QUIT and drops the connection when it has been idle more than
 * @seconds; the next send connects again. */
void smtp_idle(struct smtp *s, int seconds);

#endif
