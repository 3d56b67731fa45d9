/*
 * slhttp: one Service Layer session over HTTPS (libcurl), for the
 * servicelayer driver.  Owns the curl handles, Login and Logout, the
 * B1SESSION and ROUTEID cookies, logging in again before the announced
 * idle timeout and once more when a call is answered 401, deadlines,
 * cancelling, and turning transport failures and the Service Layer's
 * error JSON (v1 and v2 shapes) into a driver error class and a message.
 * It does not parse result pages (servicelayer.c does) and never logs,
 * except one warning per source when certificate checks are off.
 */
#ifndef SAPB1_SLHTTP_H
#define SAPB1_SLHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "util.h"

enum sl_method {
	SL_GET,
	SL_POST,
	SL_PATCH,
};

struct sl_http;

/*
 * Checks @src, sets up a session (no request yet).  DRV_OK and *out, or
 * an error class with a reason in @err.
 */
int sl_http_new(const struct conf_source *src, struct sl_http **out, char *err,
		size_t errlen);

/* Logs out when a session is open (briefly, errors ignored), frees. */
void sl_http_free(struct sl_http *h);

/* Starts a deadline of @ms for the calls that follow (<= 0: timeout). */
void sl_http_deadline(struct sl_http *h, long ms);

/* Logs in now (connect time).  DRV_OK or DRV_ERR_AUTH, _CONN, _TIMEOUT. */
int sl_http_login(struct sl_http *h, char *err, size_t errlen);

/*
 * One call within the session, @json as the body of POST and PATCH.
 * Logs in first when there is no fresh session, and once more on a 401.
 * DRV_OK for a 2xx answer; otherwise an error class, with "@what: reason"
 * in @err and sl_http_status() telling the HTTP status (0 when none).
 */
int sl_http_call(struct sl_http *h, enum sl_method m, const char *url,
		 const char *json, const char *what, char *err, size_t errlen);

/*
 * Asks for page @url now, without waiting: the server works on it while
 * the caller reads the current page.  Skipped when the session needs a
 * Login first.  Any other call drops it.
 */
void sl_http_ahead(struct sl_http *h, const char *url);
void sl_http_abort_ahead(struct sl_http *h);

/*
 * GET @url as sl_http_call does, finishing the transfer sl_http_ahead
 * started when it was for @url.  A 401 on it logs in and asks again.
 */
int sl_http_get(struct sl_http *h, const char *url, const char *what, char *err,
		size_t errlen);

/* The last answer's body (NUL-terminated, writable) and HTTP status. */
char *sl_http_body(struct sl_http *h, size_t *len);
long sl_http_status(const struct sl_http *h);
/* Frees the body buffer between results. */
void sl_http_drop_body(struct sl_http *h);

/* Service root ("https://h:50000/b1s/v1") and "https://h:50000". */
const char *sl_http_root(const struct sl_http *h);
const char *sl_http_origin(const struct sl_http *h);

/*
 * Asks the running call, and every later one, to stop at once; any
 * thread.  sl_http_uncancel (at the start of a new statement) clears it.
 */
void sl_http_cancel(struct sl_http *h);
void sl_http_uncancel(struct sl_http *h);

/*
 * Appends @s to @sb as URL text: spaces, controls, non-ASCII and the
 * characters URLs cannot carry are percent-encoded; inside '...' literals
 * of the query also '&', '+', '#', '=', '?' and '%', so a value never
 * splits an option.  Outside literals "%XX" is kept as already encoded.
 */
int sl_url_add(struct strbuf *sb, const char *s);

/*
 * The full URL for @link: absolute ("https://x/b1s/v1/..."; only its path
 * is kept, on our own origin, so cookies never go elsewhere), from the
 * server root ("/b1s/v1/..."), or relative to the service root
 * ("Items?$skip=20").  NULL on allocation failure.
 */
char *sl_url_resolve(const struct sl_http *h, const char *link);

/* Appends @s as a JSON string literal. */
int sl_json_add_str(struct strbuf *sb, const char *s);

#endif
