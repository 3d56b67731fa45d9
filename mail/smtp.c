/*
 * smtp: see smtp.h.
 *
 * libcurl reports an SMTP failure as a generic transfer error plus the
 * last reply code; whether a 5xx condemns the message depends on which
 * command it answered (a 554 greeting or a 535 login says nothing about
 * the message, a 550 to RCPT does).  So the debug callback follows the
 * dialogue: the last command sent, each RCPT and its answer, and the
 * reply to the end of the data.
 */
#include "smtp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

/* libcurl 7.69 to 8.1 spelled the option with three L. */
#if LIBCURL_VERSION_NUM >= 0x080200
#define SMTP_OPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLOWFAILS
#elif LIBCURL_VERSION_NUM >= 0x074500
#define SMTP_OPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

#define SMTP_CONNECT_TIMEOUT 30L
#define SMTP_REPLY_TIMEOUT 300L /* RFC 5321 allows 10 min after DATA */
#define SMTP_STALL_TIME 120L	/* seconds below 1 byte/s before giving up */
#define SMTP_STOP_GRACE 10	/* seconds a message under way may finish */

struct smtp {
	const struct conf *conf;
	CURL *h;
	char *url;
	int64_t last_used; /* monotonic ms of the last transfer */
	bool (*stop)(void *);
	void *stop_arg;
	int64_t stop_checked; /* monotonic ms of the last stop check */
	int64_t stop_since;   /* when a stop was first asked for, or 0 */

	/* what the dialogue of the current send said */
	char errbuf[CURL_ERROR_SIZE];
	char last_cmd[12]; /* "MAIL", "RCPT", "DATA", "BODY"... */
	char rcpt[320];
	char reply[512];
	long code;     /* of that reply */
	bool quitting; /* QUIT sent: its 221 says nothing about the mail */
	struct strbuf rejected;
	unsigned rcpt_tempfail, rcpt_permfail;
};

static bool scheme_is(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);

	return strncasecmp(url, scheme, n) == 0 &&
	       strncmp(url + n, "://", 3) == 0;
}

/*
 * libcurl says EHLO with the url's path, or a placeholder without one;
 * a host name is what servers expect, so it is added when missing.
 */
static char *url_with_ehlo_name(const char *url)
{
	const char *host = strstr(url, "://") + 3;
	const char *slash = strchr(host, '/');
	struct strbuf sb = STRBUF_INIT;
	char name[256] = "localhost";

	if (slash && slash[1])
		return xstrdup(url);
	if (gethostname(name, sizeof(name) - 1) < 0 || !name[0])
		snprintf(name, sizeof(name), "localhost");
	name[sizeof(name) - 1] = '\0';
	if (strbuf_add(&sb, url, slash ? (size_t)(slash - url) : strlen(url)) ||
	    strbuf_addf(&sb, "/%s", name)) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

int smtp_open(struct smtp **out, const struct conf *c, char *err, size_t errlen)
{
	struct smtp *s;

	*out = NULL;
	if (!c->smtp_url || !*c->smtp_url) {
		snprintf(err, errlen, "no [smtp] url in the configuration");
		return -EINVAL;
	}
	if (!scheme_is(c->smtp_url, "smtp") &&
	    !scheme_is(c->smtp_url, "smtps")) {
		snprintf(err, errlen,
			 "[smtp] url must start with smtp:// or smtps://");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->conf = c;
	s->url = url_with_ehlo_name(c->smtp_url);
	if (!s->url) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void smtp_close(struct smtp *s)
{
	if (!s)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	strbuf_release(&s->rejected);
	free(s->url);
	free(s);
}

void smtp_set_stop(struct smtp *s, bool (*stop)(void *), void *arg)
{
	s->stop = stop;
	s->stop_arg = arg;
}

/* ---- following the dialogue ---- */

static void on_command(struct smtp *s, const char *data, size_t size)
{
	static const char *const shown[] = {"EHLO", "HELO", "STARTTLS",
					    "MAIL", "RCPT", "DATA",
					    "QUIT", "RSET", "NOOP"};
	char verb[9] = "";
	size_t n = 0;

	while (n < size && n < sizeof(verb) - 1 && data[n] >= 'A' &&
	       data[n] <= 'Z')
		n++;
	memcpy(verb, data, n);
	verb[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(shown); i++) {
		if (strcmp(verb, shown[i]) != 0)
			continue;
		if (strcmp(verb, "QUIT") == 0)
			s->quitting = true;
		else
			snprintf(s->last_cmd, sizeof(s->last_cmd), "%s", verb);
		log_msg(LOG_DEBUG, "smtp", "> %.*s",
			(int)(size > 2 ? size - 2 : size), data);
		if (strcmp(verb, "RCPT") == 0) {
			const char *lt = memchr(data, '<', size);
			const char *gt = memchr(data, '>', size);

			if (lt && gt && gt > lt)
				snprintf(s->rcpt, sizeof(s->rcpt), "%.*s",
					 (int)(gt - lt - 1), lt + 1);
		}
		return;
	}
	/* AUTH and its continuation lines carry credentials */
	snprintf(s->last_cmd, sizeof(s->last_cmd), "AUTH");
	log_msg(LOG_DEBUG, "smtp", "> (authentication, hidden)");
}

static void on_final_reply(struct smtp *s, long code)
{
	if (strcmp(s->last_cmd, "RCPT") == 0 && code >= 400) {
		if (code < 500)
			s->rcpt_tempfail++;
		else
			s->rcpt_permfail++;
		strbuf_addf(&s->rejected, "%s%s (%s)",
			    s->rejected.len ? ", " : "", s->rcpt, s->reply);
	}
	/* after 354 the next reply is the one to the message itself */
	if (strcmp(s->last_cmd, "DATA") == 0 && code == 354)
		snprintf(s->last_cmd, sizeof(s->last_cmd), "BODY");
}

static void on_reply(struct smtp *s, const char *data, size_t size)
{
	while (size > 0) {
		const char *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - data) + 1 : size;
		size_t len = n;

		while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			len--;
		log_msg(LOG_DEBUG, "smtp", "< %.*s", (int)len, data);
		/* "250-..." continues, "250 ..." or "250" ends a reply */
		if (len >= 3 && (len == 3 || data[3] == ' ') && !s->quitting) {
			snprintf(s->reply, sizeof(s->reply), "%.*s", (int)len,
				 data);
			s->code = strtol(s->reply, NULL, 10);
			on_final_reply(s, s->code);
		}
		data += n;
		size -= n;
	}
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size,
		    void *arg)
{
	(void)h;
	if (type == CURLINFO_HEADER_OUT)
		on_command(arg, data, size);
	else if (type == CURLINFO_HEADER_IN)
		on_reply(arg, data, size);
	return 0;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct smtp *s = arg;

	int64_t now = now_mono_ms();

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	/* called for every chunk: ask at most ten times a second */
	if (!s->stop || now - s->stop_checked < 100)
		return 0;
	s->stop_checked = now;
	if (!s->stop_since && s->stop(s->stop_arg))
		s->stop_since = now;
	if (!s->stop_since)
		return 0;
	/* a message under way is given a while to finish: stopping now
	 * would mean sending it again after the restart */
	if (!strcmp(s->last_cmd, "BODY") &&
	    now - s->stop_since < SMTP_STOP_GRACE * 1000)
		return 0;
	return 1;
}

/* ---- the handle ---- */

static CURLcode configure(struct smtp *s, CURL *h)
{
	const struct conf *c = s->conf;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (rc == CURLE_OK)                                            \
			rc = curl_easy_setopt(h, opt, val);                    \
	} while (0)
	SET(CURLOPT_URL, s->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT, SMTP_CONNECT_TIMEOUT);
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, SMTP_REPLY_TIMEOUT);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, SMTP_STALL_TIME);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	SET(CURLOPT_VERBOSE, 1L);
	SET(CURLOPT_DEBUGFUNCTION, on_debug);
	SET(CURLOPT_DEBUGDATA, s);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, s);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (scheme_is(s->url, "smtp"))
		SET(CURLOPT_USE_SSL,
		    (long)(c->smtp_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
	if (c->smtp_ca_file && *c->smtp_ca_file)
		SET(CURLOPT_CAINFO, c->smtp_ca_file);
	if (c->smtp_user && *c->smtp_user) {
		SET(CURLOPT_USERNAME, c->smtp_user);
		SET(CURLOPT_PASSWORD, c->smtp_password ? c->smtp_password : "");
	}
#ifdef SMTP_OPT_ALLOWFAILS
	SET(SMTP_OPT_ALLOWFAILS, 1L);
#endif
#undef SET
	return rc;
}

CURL *smtp_handle(struct smtp *s)
{
	if (s->h)
		return s->h;
	s->h = curl_easy_init();
	if (s->h && configure(s, s->h) != CURLE_OK) {
		curl_easy_cleanup(s->h);
		s->h = NULL;
	}
	return s->h;
}

void smtp_idle(struct smtp *s, int seconds)
{
	if (s->h && now_mono_ms() - s->last_used > (int64_t)seconds * 1000) {
		curl_easy_cleanup(s->h);
		s->h = NULL;
	}
}

/* ---- one message ---- */

static void reset_dialogue(struct smtp *s)
{
	s->errbuf[0] = '\0';
	s->last_cmd[0] = '\0';
	s->rcpt[0] = '\0';
	s->reply[0] = '\0';
	s->code = 0;
	s->quitting = false;
	strbuf_reset(&s->rejected);
	s->rcpt_tempfail = s->rcpt_permfail = 0;
}

static bool is_network_error(CURLcode rc)
{
	return rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
	       rc == CURLE_GOT_NOTHING || rc == CURLE_COULDNT_CONNECT ||
	       rc == CURLE_OPERATION_TIMEDOUT;
}

static bool message_cmd(const struct smtp *s)
{
	return !strcmp(s->last_cmd, "MAIL") || !strcmp(s->last_cmd, "RCPT") ||
	       !strcmp(s->last_cmd, "DATA") || !strcmp(s->last_cmd, "BODY");
}

/* A 5xx condemns the message only as the answer to the message's own
 * commands; everything else may clear up by itself. */
static enum smtp_outcome classify(struct smtp *s, CURLcode rc, long code)
{
	if (rc == CURLE_OK)
		return SMTP_SENT;
	if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_LOGIN_DENIED)
		return SMTP_RETRY;
	if (!strcmp(s->last_cmd, "RCPT") && s->rcpt_tempfail)
		return SMTP_RETRY;
	if (code >= 500 && code < 600 && message_cmd(s))
		return SMTP_FAIL;
	return SMTP_RETRY;
}

static void fill_result(struct smtp *s, CURLcode rc, long code,
			struct smtp_result *res)
{
	memset(res, 0, sizeof(*res));
	res->code = code;
	res->outcome = classify(s, rc, code);
	res->aborted = rc == CURLE_ABORTED_BY_CALLBACK;
	res->link_problem = rc != CURLE_OK && !res->aborted &&
			    (!message_cmd(s) || code < 400 || code == 421);
	if (rc == CURLE_OK)
		snprintf(res->text, sizeof(res->text), "%s", s->reply);
	else if (code >= 400 && s->reply[0])
		snprintf(res->text, sizeof(res->text), "%s", s->reply);
	else
		snprintf(res->text, sizeof(res->text), "%s",
			 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	if (s->rejected.len)
		snprintf(res->rejected, sizeof(res->rejected), "%s",
			 s->rejected.buf);
}

static CURLcode perform(struct smtp *s, struct mime_msg *m, bool fresh)
{
	CURLcode rc = CURLE_OK;

	reset_dialogue(s);
	rc = curl_easy_setopt(s->h, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, m->mail_from);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, m->rcpt);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, m->headers);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->h, CURLOPT_MIMEPOST, m->root);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(s->h);
	s->last_used = now_mono_ms();
	return rc;
}

enum smtp_outcome smtp_send(struct smtp *s, struct mime_msg *m,
			    struct smtp_result *res)
{
	long connects = 1;
	CURLcode rc;

	if (!smtp_handle(s)) {
		memset(res, 0, sizeof(*res));
		res->outcome = SMTP_RETRY;
		snprintf(res->text, sizeof(res->text), "out of memory");
		return res->outcome;
	}
	rc = perform(s, m, false);
	curl_easy_getinfo(s->h, CURLINFO_NUM_CONNECTS, &connects);
	/* a kept connection the server closed meanwhile: one more try */
	if (is_network_error(rc) && connects == 0 &&
	    strcmp(s->last_cmd, "BODY") != 0) {
		log_msg(LOG_DEBUG, "smtp",
			"kept connection lost, reconnecting");
		rc = perform(s, m, true);
	}
	/* not CURLINFO_RESPONSE_CODE: it may hold the answer to QUIT */
	fill_result(s, rc, s->code, res);
	/* the message is freed by the caller: the handle must forget it */
	curl_easy_setopt(s->h, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
	return res->outcome;
}
