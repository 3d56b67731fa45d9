/*
 * slhttp: see slhttp.h.
 *
 * Every call runs through a multi handle, so cancel() from another thread
 * can wake the wait at once (curl_multi_wakeup) instead of at the next
 * progress tick.  The easy handle stays in the multi handle's connection
 * cache between calls, so pages reuse one TLS connection.  The session is
 * counted as used when a call starts: the server's idle clock restarts
 * when it receives the call, so this errs on the early side.
 */
#include "config.h"
#include "slhttp.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "driver.h"
#include "log.h"

#if LIBCURL_VERSION_NUM < 0x074400
#error "libcurl 7.68 or newer is needed (curl_multi_wakeup)"
#endif

#define SL_MAX_BODY ((size_t)256 << 20) /* one page, at most */
#define SL_LOGOUT_MS 2000
#define SL_DEFAULT_IDLE_MS (30 * 60 * 1000L)
#define SL_MAX_MARGIN_MS 60000

struct sl_http {
	char *name; /* the [source NAME], for the warning */
	char *root;
	char *origin;
	char *company;
	char *user;
	char *password;
	long timeout_ms;

	CURL *easy;
	CURLM *multi;
	struct curl_slist *hdr_get;
	struct curl_slist *hdr_json;
	char curl_err[CURL_ERROR_SIZE];
	atomic_int cancelled;
	int64_t deadline;

	struct strbuf body;  /* the last answer */
	struct strbuf ahead; /* the page asked for ahead of time */
	struct strbuf *sink; /* where the running transfer writes */
	char *ahead_url;     /* that page's URL while it is on its way */
	int64_t ahead_t0;
	long status;
	bool too_big;
	bool broken; /* the last call failed on the way: no Logout then */

	char *session; /* B1SESSION */
	char *routeid; /* ROUTEID, when the server sets one */
	char *cookie;  /* "B1SESSION=...; ROUTEID=..." */
	char *set_session;
	char *set_route;
	int64_t idle_ms;
	int64_t last_used;
};

static pthread_once_t sl_once = PTHREAD_ONCE_INIT;
static CURLcode sl_global_rc;

static void sl_global_init(void)
{
	sl_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- URLs and JSON text ------------------------------------------------ */

static bool url_raw(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && !strchr("\"<>\\^`{|}#", ch);
}

int sl_url_add(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	bool query = false, lit = false;
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char ch = (unsigned char)*s;
		bool raw = url_raw(ch);

		if (ch == '?' && !lit)
			query = true;
		if (query && ch == '\'')
			lit = !lit;
		if (ch == '%' && (lit || !isxdigit((unsigned char)s[1]) ||
				  !isxdigit((unsigned char)s[2])))
			raw = false;
		if (lit && strchr("&+#=?", ch))
			raw = false;
		if (raw)
			rc = strbuf_addc(sb, (char)ch);
		else
			rc = strbuf_addf(sb, "%%%c%c", hex[ch >> 4],
					 hex[ch & 15]);
	}
	return rc;
}

char *sl_url_resolve(const struct sl_http *h, const char *link)
{
	struct strbuf sb = STRBUF_INIT;
	const char *root_path = h->root + strlen(h->origin);
	size_t rp = strlen(root_path);
	const char *p;
	int rc;

	p = strstr(link, "://");
	if (p && (size_t)(p - link) < 8) {
		p = strchr(p + 3, '/');
		link = p ? p : "/";
	}
	if (link[0] == '/')
		rc = strbuf_adds(&sb, h->origin);
	else if (rp > 1 && strncmp(link, root_path + 1, rp - 1) == 0 &&
		 link[rp - 1] == '/')
		rc = strbuf_addf(&sb, "%s/", h->origin);
	else
		rc = strbuf_addf(&sb, "%s/", h->root);
	if (rc == 0)
		rc = sl_url_add(&sb, link);
	if (rc) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

int sl_json_add_str(struct strbuf *sb, const char *s)
{
	int rc = strbuf_addc(sb, '"');

	for (; *s && !rc; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			rc = strbuf_addf(sb, "\\%c", ch);
		else if (ch == '\n')
			rc = strbuf_adds(sb, "\\n");
		else if (ch == '\t')
			rc = strbuf_adds(sb, "\\t");
		else if (ch < 0x20)
			rc = strbuf_addf(sb, "\\u%04x", ch);
		else
			rc = strbuf_addc(sb, (char)ch);
	}
	return rc ? rc : strbuf_addc(sb, '"');
}

/* ---- libcurl plumbing -------------------------------------------------- */

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct sl_http *h = arg;
	size_t len = size * n;

	if (h->sink->len + len > SL_MAX_BODY) {
		h->too_big = true;
		return 0;
	}
	if (strbuf_add(h->sink, buf, len) < 0)
		return 0;
	return len;
}

/* "Set-Cookie: NAME=value; ..." for the two cookies we keep. */
static void take_cookie(struct sl_http *h, const char *p, size_t len)
{
	const char *end = p + len, *eq, *v;
	char **slot;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	eq = memchr(p, '=', (size_t)(end - p));
	if (!eq)
		return;
	if (eq - p == 9 && strncmp(p, "B1SESSION", 9) == 0)
		slot = &h->set_session;
	else if (eq - p == 7 && strncmp(p, "ROUTEID", 7) == 0)
		slot = &h->set_route;
	else
		return;
	for (v = eq + 1; v < end && !strchr(";\r\n \t", *v); v++)
		;
	free(*slot);
	*slot = xstrndup(eq + 1, (size_t)(v - eq - 1));
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	size_t len = size * n;

	if (len > 11 && strncasecmp(buf, "set-cookie:", 11) == 0)
		take_cookie(arg, buf + 11, len - 11);
	return len;
}

static int make_headers(struct sl_http *h, int page_size)
{
	char prefer[64];

	snprintf(prefer, sizeof(prefer), "Prefer: odata.maxpagesize=%d",
		 page_size);
	h->hdr_get = curl_slist_append(NULL, "Accept: application/json");
	h->hdr_get = curl_slist_append(h->hdr_get, prefer);
	h->hdr_json = curl_slist_append(NULL, "Accept: application/json");
	h->hdr_json = curl_slist_append(h->hdr_json, prefer);
	h->hdr_json =
	    curl_slist_append(h->hdr_json, "Content-Type: application/json");
	h->hdr_json = curl_slist_append(h->hdr_json, "Expect:");
	return h->hdr_get && h->hdr_json ? 0 : -1;
}

static void set_tls(struct sl_http *h, const struct conf_source *src)
{
	CURL *e = h->easy;

	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, src->verify_tls ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, src->verify_tls ? 2L : 0L);
	if (src->ca_file && *src->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, src->ca_file);
}

static int curl_setup(struct sl_http *h, const struct conf_source *src)
{
	CURL *e;

	h->easy = e = curl_easy_init();
	h->multi = curl_multi_init();
	if (!e || !h->multi)
		return -1;
	if (make_headers(h, src->page_size >= 0 ? src->page_size : 1000))
		return -1;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->curl_err);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sapb1fs/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	set_tls(h, src);
	return 0;
}

/* Why a transfer failed, in words a user can act on. */
static int transfer_error(struct sl_http *h, CURLcode res, char *err,
			  size_t errlen)
{
	const char *d = h->curl_err[0] ? h->curl_err : curl_easy_strerror(res);

	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		return fail(err, errlen, DRV_ERR_TIMEOUT,
			    "no answer from %s within the timeout: %s",
			    h->origin, d);
	case CURLE_ABORTED_BY_CALLBACK:
		return fail(err, errlen, DRV_ERR_TIMEOUT,
			    "call to %s cancelled", h->origin);
	case CURLE_PEER_FAILED_VERIFICATION:
		return fail(err, errlen, DRV_ERR_CONN,
			    "certificate of %s not trusted (set ca_file to "
			    "its CA): %s",
			    h->origin, d);
	case CURLE_SSL_CACERT_BADFILE:
		return fail(err, errlen, DRV_ERR_CONN,
			    "cannot use ca_file for %s: %s", h->origin, d);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
		return fail(err, errlen, DRV_ERR_CONN,
			    "tls handshake with %s failed: %s", h->origin, d);
	case CURLE_WRITE_ERROR:
		if (h->too_big)
			return fail(err, errlen, DRV_ERR_QUERY,
				    "page from %s larger than %zu MB: lower "
				    "page_size",
				    h->origin, SL_MAX_BODY >> 20);
		return fail(err, errlen, DRV_ERR_CONN,
			    "out of memory reading from %s", h->origin);
	default:
		return fail(err, errlen, DRV_ERR_CONN, "cannot reach %s: %s",
			    h->origin, d);
	}
}

/* Runs the easy handle, already in the multi handle, to its end. */
static int run_transfer(struct sl_http *h, char *err, size_t errlen)
{
	CURLcode res = CURLE_OK;
	CURLMsg *msg;
	int running = 1, left;

	while (running) {
		if (atomic_load(&h->cancelled)) {
			res = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_perform(h->multi, &running) != CURLM_OK) {
			res = CURLE_OUT_OF_MEMORY;
			break;
		}
		if (running)
			curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
	}
	while ((msg = curl_multi_info_read(h->multi, &left)))
		if (msg->msg == CURLMSG_DONE && res == CURLE_OK)
			res = msg->data.result;
	curl_multi_remove_handle(h->multi, h->easy);
	h->broken = res != CURLE_OK;
	if (res != CURLE_OK)
		return transfer_error(h, res, err, errlen);
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->status);
	return DRV_OK;
}

/* Runs the prepared easy handle to its end, or until cancelled. */
static int transfer(struct sl_http *h, char *err, size_t errlen)
{
	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK)
		return fail(err, errlen, DRV_ERR_CONN,
			    "libcurl refused a call");
	return run_transfer(h, err, errlen);
}

static int set_cookie_header(struct sl_http *h)
{
	struct strbuf sb = STRBUF_INIT;

	free(h->cookie);
	h->cookie = NULL;
	if (!h->session)
		return 0;
	strbuf_addf(&sb, "B1SESSION=%s", h->session);
	if (h->routeid)
		strbuf_addf(&sb, "; ROUTEID=%s", h->routeid);
	h->cookie = sb.buf ? strbuf_detach(&sb) : NULL;
	return h->cookie ? 0 : -1;
}

static void method_options(CURL *e, enum sl_method m, const char *json)
{
	if (m == SL_GET) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
		return;
	}
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, json ? json : "");
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
			 (long)strlen(json ? json : ""));
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
			 m == SL_PATCH ? "PATCH" : NULL);
}

/* A ROUTEID the balancer set on an answer within the session. */
static void take_route(struct sl_http *h)
{
	if (!h->set_route)
		return;
	free(h->routeid);
	h->routeid = h->set_route;
	h->set_route = NULL;
	set_cookie_header(h);
}

/* One HTTP exchange, with the session cookies when @session. */
static int perform(struct sl_http *h, enum sl_method m, const char *url,
		   const char *json, bool session, char *err, size_t errlen)
{
	int64_t left = h->deadline - now_mono_ms();
	int rc;

	sl_http_abort_ahead(h);
	h->status = 0;
	if (atomic_load(&h->cancelled))
		return fail(err, errlen, DRV_ERR_TIMEOUT,
			    "call to %s cancelled", h->origin);
	if (left <= 0)
		return fail(err, errlen, DRV_ERR_TIMEOUT,
			    "no answer from %s within the timeout", h->origin);
	strbuf_reset(&h->body);
	h->sink = &h->body;
	h->too_big = false;
	h->curl_err[0] = '\0';
	curl_easy_setopt(h->easy, CURLOPT_URL, url);
	curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER,
			 m == SL_GET ? h->hdr_get : h->hdr_json);
	curl_easy_setopt(h->easy, CURLOPT_COOKIE, session ? h->cookie : NULL);
	method_options(h->easy, m, json);

	rc = transfer(h, err, errlen);
	if (rc == DRV_OK && session)
		take_route(h);
	return rc;
}

/* ---- the Service Layer's error JSON ------------------------------------ */

static void clean_text(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
}

/* "message (error CODE, HTTP STATUS)" from either shape, or the status. */
static void error_text(struct sl_http *h, char *out, size_t outlen)
{
	cJSON *root = cJSON_ParseWithLength(h->body.buf, h->body.len);
	cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	char cbuf[48] = "?";

	if (cJSON_IsObject(msg))
		msg = cJSON_GetObjectItemCaseSensitive(msg, "value");
	if (cJSON_IsNumber(code))
		snprintf(cbuf, sizeof(cbuf), "%.0f", code->valuedouble);
	else if (cJSON_IsString(code))
		snprintf(cbuf, sizeof(cbuf), "%s", code->valuestring);
	if (cJSON_IsString(msg) && msg->valuestring[0])
		snprintf(out, outlen, "%s (error %s, HTTP %ld)",
			 msg->valuestring, cbuf, h->status);
	else
		snprintf(out, outlen, "HTTP %ld from %s", h->status, h->origin);
	cJSON_Delete(root);
	clean_text(out);
}

static int http_error(struct sl_http *h, const char *what, char *err,
		      size_t errlen)
{
	char msg[768];

	error_text(h, msg, sizeof(msg));
	fail(err, errlen, 0, "%s: %s", what, msg);
	if (h->status >= 502 && h->status <= 504)
		return DRV_ERR_CONN;
	return DRV_ERR_QUERY;
}

/* ---- the session ------------------------------------------------------- */

static void drop_session(struct sl_http *h)
{
	free(h->session);
	h->session = NULL;
	set_cookie_header(h);
}

static bool session_fresh(const struct sl_http *h)
{
	int64_t margin = h->idle_ms / 10;

	if (!h->session)
		return false;
	if (margin > SL_MAX_MARGIN_MS)
		margin = SL_MAX_MARGIN_MS;
	return now_mono_ms() - h->last_used < h->idle_ms - margin;
}

static int login_body(const struct sl_http *h, struct strbuf *sb)
{
	int rc = strbuf_adds(sb, "{\"CompanyDB\":");

	rc = rc ? rc : sl_json_add_str(sb, h->company);
	rc = rc ? rc : strbuf_adds(sb, ",\"UserName\":");
	rc = rc ? rc : sl_json_add_str(sb, h->user);
	rc = rc ? rc : strbuf_adds(sb, ",\"Password\":");
	rc = rc ? rc : sl_json_add_str(sb, h->password);
	return rc ? rc : strbuf_addc(sb, '}');
}

/* Reads SessionId and SessionTimeout (minutes) from the login answer. */
static int login_answer(struct sl_http *h, char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(h->body.buf, h->body.len);
	cJSON *sid = cJSON_GetObjectItemCaseSensitive(root, "SessionId");
	cJSON *tmo = cJSON_GetObjectItemCaseSensitive(root, "SessionTimeout");

	free(h->session);
	h->session = h->set_session;
	h->set_session = NULL;
	if (!h->session && cJSON_IsString(sid))
		h->session = xstrdup(sid->valuestring);
	h->idle_ms = SL_DEFAULT_IDLE_MS;
	if (cJSON_IsNumber(tmo) && tmo->valuedouble > 0)
		h->idle_ms = (int64_t)(tmo->valuedouble * 60000.0);
	cJSON_Delete(root);
	if (!h->session)
		return fail(err, errlen, DRV_ERR_CONN,
			    "login to %s: no session in the answer", h->origin);
	free(h->routeid);
	h->routeid = h->set_route;
	h->set_route = NULL;
	return set_cookie_header(h) ? DRV_ERR_CONN : DRV_OK;
}

int sl_http_login(struct sl_http *h, char *err, size_t errlen)
{
	struct strbuf body = STRBUF_INIT, url = STRBUF_INIT;
	int64_t t0 = now_mono_ms();
	char msg[768];
	int rc;

	drop_session(h);
	free(h->set_session);
	h->set_session = NULL;
	if (login_body(h, &body) || strbuf_addf(&url, "%s/Login", h->root)) {
		rc = fail(err, errlen, DRV_ERR_CONN, "out of memory");
		goto out;
	}
	rc = perform(h, SL_POST, url.buf, body.buf, false, err, errlen);
	if (rc)
		goto out;
	if (h->status == 200) {
		rc = login_answer(h, err, errlen);
		h->last_used = t0;
		goto out;
	}
	error_text(h, msg, sizeof(msg));
	rc = h->status >= 500 ? DRV_ERR_CONN : DRV_ERR_AUTH;
	fail(err, errlen, rc, "login as %s to company %s refused: %s", h->user,
	     h->company, msg);
out:
	if (body.buf)
		explicit_bzero(body.buf, body.cap);
	strbuf_release(&body);
	strbuf_release(&url);
	return rc;
}

int sl_http_call(struct sl_http *h, enum sl_method m, const char *url,
		 const char *json, const char *what, char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	for (int attempt = 0;; attempt++) {
		if (!session_fresh(h)) {
			rc = sl_http_login(h, err, errlen);
			if (rc)
				return rc;
		}
		t0 = now_mono_ms();
		rc = perform(h, m, url, json, true, err, errlen);
		if (rc)
			return rc;
		if (h->status != 401)
			break;
		drop_session(h);
		if (attempt) {
			http_error(h, what, err, errlen);
			return DRV_ERR_AUTH;
		}
	}
	h->last_used = t0;
	if (h->status >= 200 && h->status < 300)
		return DRV_OK;
	return http_error(h, what, err, errlen);
}

void sl_http_ahead(struct sl_http *h, const char *url)
{
	int running;

	if (h->ahead_url || !session_fresh(h) || atomic_load(&h->cancelled))
		return;
	strbuf_reset(&h->ahead);
	h->sink = &h->ahead;
	h->too_big = false;
	h->curl_err[0] = '\0';
	curl_easy_setopt(h->easy, CURLOPT_URL, url);
	curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->hdr_get);
	curl_easy_setopt(h->easy, CURLOPT_COOKIE, h->cookie);
	method_options(h->easy, SL_GET, NULL);
	h->ahead_url = xstrdup(url);
	if (!h->ahead_url ||
	    curl_multi_add_handle(h->multi, h->easy) != CURLM_OK) {
		free(h->ahead_url);
		h->ahead_url = NULL;
		return;
	}
	h->ahead_t0 = now_mono_ms();
	/* sends the request on the kept-alive connection */
	curl_multi_perform(h->multi, &running);
}

void sl_http_abort_ahead(struct sl_http *h)
{
	if (!h->ahead_url)
		return;
	curl_multi_remove_handle(h->multi, h->easy);
	free(h->ahead_url);
	h->ahead_url = NULL;
}

int sl_http_get(struct sl_http *h, const char *url, const char *what, char *err,
		size_t errlen)
{
	struct strbuf tmp;
	int rc;

	if (!h->ahead_url || strcmp(h->ahead_url, url) != 0)
		return sl_http_call(h, SL_GET, url, NULL, what, err, errlen);
	free(h->ahead_url);
	h->ahead_url = NULL;
	rc = run_transfer(h, err, errlen);
	if (rc)
		return rc;
	tmp = h->body;
	h->body = h->ahead;
	h->ahead = tmp;
	h->sink = &h->body;
	if (h->status == 401) {
		drop_session(h);
		return sl_http_call(h, SL_GET, url, NULL, what, err, errlen);
	}
	take_route(h);
	h->last_used = h->ahead_t0;
	if (h->status >= 200 && h->status < 300)
		return DRV_OK;
	return http_error(h, what, err, errlen);
}

static void logout(struct sl_http *h)
{
	char url[1024], err[256];

	if (!session_fresh(h) || h->broken || atomic_load(&h->cancelled))
		return;
	snprintf(url, sizeof(url), "%s/Logout", h->root);
	sl_http_uncancel(h);
	sl_http_deadline(h, h->timeout_ms < SL_LOGOUT_MS ? h->timeout_ms
							 : SL_LOGOUT_MS);
	perform(h, SL_POST, url, "", true, err, sizeof(err));
	drop_session(h);
}

/* ---- set-up ------------------------------------------------------------ */

static void warn_insecure(const char *name, const char *why)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *warned[32];
	static size_t nwarned;
	bool seen = false;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nwarned && !seen; i++)
		seen = strcmp(warned[i], name) == 0;
	if (!seen && nwarned < ARRAY_SIZE(warned))
		warned[nwarned++] = xstrdup(name);
	pthread_mutex_unlock(&lock);
	if (!seen)
		log_msg(LOG_WARNING, "servicelayer",
			"server identity not checked, on source %s: %s", name,
			why);
}

/* Splits the configured url into the origin and the service root. */
static int parse_url(struct sl_http *h, const char *url, char *err,
		     size_t errlen)
{
	struct strbuf root = STRBUF_INIT;
	const char *host, *path;
	size_t n = strlen(url), hostat;

	if (strncasecmp(url, "https://", 8) && strncasecmp(url, "http://", 7))
		return fail(err, errlen, DRV_ERR_CONN,
			    "url must start with https:// (got \"%s\")", url);
	host = strstr(url, "://") + 3;
	hostat = (size_t)(host - url);
	while (n > hostat && url[n - 1] == '/')
		n--;
	path = memchr(host, '/', n - hostat);
	if (n == hostat || path == host)
		return fail(err, errlen, DRV_ERR_CONN, "url has no host");

	h->origin = xstrndup(url, path ? (size_t)(path - url) : n);
	if (path)
		strbuf_add(&root, url, n);
	else
		strbuf_addf(&root, "%s/b1s/v1", h->origin);
	h->root = root.buf ? strbuf_detach(&root) : NULL;
	if (!h->origin || !h->root)
		return fail(err, errlen, DRV_ERR_CONN, "out of memory");
	return DRV_OK;
}

static int copy_source(struct sl_http *h, const struct conf_source *src,
		       char *err, size_t errlen)
{
	if (!src->url || !*src->url)
		return fail(err, errlen, DRV_ERR_CONN, "no url set");
	if (!src->company || !src->user)
		return fail(err, errlen, DRV_ERR_CONN,
			    "company and user must be set");
	h->name = xstrdup(src->name ? src->name : "servicelayer");
	h->company = xstrdup(src->company);
	h->user = xstrdup(src->user);
	h->password = xstrdup(src->password ? src->password : "");
	h->timeout_ms = (src->timeout > 0 ? src->timeout : 60) * 1000L;
	if (!h->name || !h->company || !h->user || !h->password)
		return fail(err, errlen, DRV_ERR_CONN, "out of memory");
	return parse_url(h, src->url, err, errlen);
}

int sl_http_new(const struct conf_source *src, struct sl_http **out, char *err,
		size_t errlen)
{
	struct sl_http *h;
	int rc;

	pthread_once(&sl_once, sl_global_init);
	if (sl_global_rc != CURLE_OK)
		return fail(err, errlen, DRV_ERR_CONN,
			    "libcurl failed to start: %s",
			    curl_easy_strerror(sl_global_rc));
	h = calloc(1, sizeof(*h));
	if (!h)
		return fail(err, errlen, DRV_ERR_CONN, "out of memory");
	h->sink = &h->body;
	rc = copy_source(h, src, err, errlen);
	if (rc == DRV_OK && curl_setup(h, src))
		rc = fail(err, errlen, DRV_ERR_CONN, "libcurl set-up failed");
	if (rc) {
		sl_http_free(h);
		return rc;
	}
	if (!src->verify_tls)
		warn_insecure(h->name, "verify_tls = no");
	else if (strncasecmp(h->origin, "http://", 7) == 0)
		warn_insecure(h->name, "url is plain http");
	sl_http_deadline(h, 0);
	*out = h;
	return DRV_OK;
}

void sl_http_free(struct sl_http *h)
{
	if (!h)
		return;
	if (h->easy && h->multi) {
		sl_http_abort_ahead(h);
		logout(h);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->easy)
		curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->hdr_get);
	curl_slist_free_all(h->hdr_json);
	if (h->password)
		explicit_bzero(h->password, strlen(h->password));
	free(h->password);
	free(h->name);
	free(h->root);
	free(h->origin);
	free(h->company);
	free(h->user);
	free(h->session);
	free(h->routeid);
	free(h->cookie);
	free(h->set_session);
	free(h->set_route);
	strbuf_release(&h->body);
	strbuf_release(&h->ahead);
	free(h);
}

void sl_http_deadline(struct sl_http *h, long ms)
{
	h->deadline = now_mono_ms() + (ms > 0 ? ms : h->timeout_ms);
}

void sl_http_uncancel(struct sl_http *h)
{
	atomic_store(&h->cancelled, 0);
}

void sl_http_cancel(struct sl_http *h)
{
	atomic_store(&h->cancelled, 1);
	curl_multi_wakeup(h->multi);
}

char *sl_http_body(struct sl_http *h, size_t *len)
{
	if (strbuf_grow(&h->body, 0) < 0)
		return NULL;
	*len = h->body.len;
	return h->body.buf;
}

long sl_http_status(const struct sl_http *h)
{
	return h->status;
}

void sl_http_drop_body(struct sl_http *h)
{
	sl_http_abort_ahead(h);
	strbuf_release(&h->body);
	strbuf_release(&h->ahead);
}

const char *sl_http_root(const struct sl_http *h)
{
	return h->root;
}

const char *sl_http_origin(const struct sl_http *h)
{
	return h->origin;
}
