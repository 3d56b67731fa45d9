/*
 * mime: see mime.h.
 *
 * Shape of every message:
 *
 *   multipart/mixed
 *   +- multipart/alternative      (just text/plain when there is no HTML)
 *   |  +- text/plain; charset=utf-8   quoted-printable
 *   |  +- text/html; charset=utf-8    quoted-printable
 *   +- attachment, base64 (b64file.c), Content-Disposition with RFC 2231
 *      filename*
 *   +- ...
 *
 * libcurl writes the boundaries, Content-Type, Content-Transfer-Encoding
 * and MIME-Version; the headers it does not know how to encode (Subject,
 * display names, file names) are written here and handed over whole.
 * Text parts get CRLF line ends before libcurl sees them, since its
 * quoted-printable encoder only recognises CRLF as a line break.
 */
#include "mime.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "b64file.h"
#include "encode.h"
#include "htmltext.h"

static const struct {
	const char *ext;
	const char *type;
} media_types[] = {
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml"
	     ".sheet"},
    {"xls", "application/vnd.ms-excel"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml"
	     ".document"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"csv", "text/csv"},
    {"tsv", "text/tab-separated-values"},
    {"json", "application/json"},
    {"html", "text/html"},
    {"htm", "text/html"},
    {"txt", "text/plain"},
    {"xml", "application/xml"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"svg", "image/svg+xml"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
};

const char *mime_type_for(const char *filename)
{
	const char *dot = strrchr(filename, '.');

	if (dot && dot != filename)
		for (size_t i = 0; i < ARRAY_SIZE(media_types); i++)
			if (strcasecmp(dot + 1, media_types[i].ext) == 0)
				return media_types[i].type;
	return "application/octet-stream";
}

uint64_t mime_wire_size(uint64_t bytes)
{
	return (bytes + 56) / 57 * 78;
}

int mime_make_message_id(struct strbuf *out, const char *job_id,
			 const char *from_email)
{
	const char *at = strrchr(from_email, '@');
	uint64_t rnd = 0;
	int rc = strbuf_addc(out, '<');

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = hash64_str(job_id) ^ (uint64_t)now_real_ms();
	/* keep what dot-atom-text allows, at most 64 characters */
	for (size_t i = 0; job_id[i] && i < 64 && rc == 0; i++) {
		char c = job_id[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_';

		rc = strbuf_addc(out, ok ? c : '-');
	}
	if (rc == 0)
		rc = strbuf_addf(out, ".%016llx@%s>", (unsigned long long)rnd,
				 at ? at + 1 : "localhost");
	return rc;
}

/* ---- headers ---- */

static int add_header(struct curl_slist **list, const char *text)
{
	struct curl_slist *l = curl_slist_append(*list, text);

	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

/* Parses every line of @lines into one list; -EINVAL names the bad one. */
static int parse_lines(struct addr_list *list, const struct spool_strv *lines,
		       struct strbuf *err)
{
	char why[512];
	int rc = 0;

	for (size_t i = 0; i < lines->n && rc == 0; i++) {
		rc = addr_list_parse(list, lines->v[i], why, sizeof(why));
		if (rc == -EINVAL)
			strbuf_adds(err, why);
	}
	return rc;
}

/* Adds "Name: list" when @lines name anyone. */
static int address_header(struct mime_msg *m, const char *name,
			  const struct addr_list *list)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	if (!list->n)
		return 0;
	rc = strbuf_addf(&sb, "%s: ", name);
	if (rc == 0)
		rc = addr_list_format(&sb, list, sb.len);
	if (rc == 0)
		rc = add_header(&m->headers, sb.buf);
	strbuf_release(&sb);
	return rc;
}

static int add_rcpts(struct mime_msg *m, const struct addr_list *list)
{
	char buf[512];
	int rc = 0;

	for (size_t i = 0; i < list->n && rc == 0; i++) {
		snprintf(buf, sizeof(buf), "<%s>", list->v[i].email);
		rc = add_header(&m->rcpt, buf);
		m->nrcpt++;
	}
	return rc;
}

static int date_header(struct mime_msg *m, int64_t when)
{
	char buf[64];
	time_t t = (time_t)when;
	struct tm tm;

	localtime_r(&t, &tm);
	/* the C locale's day and month names are the RFC 5322 ones */
	strftime(buf, sizeof(buf), "Date: %a, %d %b %Y %H:%M:%S %z", &tm);
	return add_header(&m->headers, buf);
}

static int subject_header(struct mime_msg *m, const char *subject,
			  struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = strbuf_adds(&sb, "Subject: ");

	if (rc == 0)
		rc = encode_header_text(&sb, subject, sb.len);
	if (rc == -EILSEQ) {
		strbuf_adds(err, "subject is not UTF-8");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = add_header(&m->headers, sb.buf);
	strbuf_release(&sb);
	return rc;
}

static int from_header(struct mime_msg *m, const struct addr *from)
{
	struct addr_list one = {.v = (struct addr *)from, .n = 1};
	struct strbuf sb = STRBUF_INIT;
	int rc;

	rc = address_header(m, "From", &one);
	if (rc == 0)
		rc = strbuf_addf(&sb, "<%s>", from->email);
	if (rc == 0) {
		m->mail_from = strbuf_detach(&sb);
		rc = m->mail_from ? 0 : -ENOMEM;
	}
	strbuf_release(&sb);
	return rc;
}

static int build_headers(struct mime_msg *m, const struct mime_input *in,
			 struct strbuf *err)
{
	const struct spool_job *job = in->job;
	struct addr_list to = {0}, cc = {0}, bcc = {0}, reply = {0};
	struct strbuf sb = STRBUF_INIT;
	int rc;

	rc = parse_lines(&to, &job->to, err);
	if (rc == 0)
		rc = parse_lines(&cc, &job->cc, err);
	if (rc == 0)
		rc = parse_lines(&bcc, &job->bcc, err);
	if (rc == 0)
		rc = parse_lines(&reply, &job->reply_to, err);
	if (rc == 0 && to.n + cc.n + bcc.n == 0) {
		strbuf_adds(err, "no recipient address");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = date_header(m, in->date);
	if (rc == 0)
		rc = from_header(m, in->from);
	if (rc == 0 && to.n)
		rc = address_header(m, "To", &to);
	else if (rc == 0)
		rc = add_header(&m->headers, "To: undisclosed-recipients:;");
	if (rc == 0)
		rc = address_header(m, "Cc", &cc);
	if (rc == 0)
		rc = address_header(m, "Reply-To", &reply);
	if (rc == 0)
		rc = subject_header(m, job->subject, err);
	if (rc == 0)
		rc = strbuf_addf(&sb, "Message-ID: %s", in->message_id);
	if (rc == 0)
		rc = add_header(&m->headers, sb.buf);
	if (rc == 0)
		rc = add_header(&m->headers, "Auto-Submitted: auto-generated");
	if (rc == 0 && in->mailer) {
		strbuf_reset(&sb);
		rc = strbuf_addf(&sb, "X-Mailer: %s", in->mailer);
		if (rc == 0)
			rc = add_header(&m->headers, sb.buf);
	}
	if (rc == 0)
		rc = add_rcpts(m, &to);
	if (rc == 0)
		rc = add_rcpts(m, &cc);
	if (rc == 0)
		rc = add_rcpts(m, &bcc);
	strbuf_release(&sb);
	addr_list_free(&to);
	addr_list_free(&cc);
	addr_list_free(&bcc);
	addr_list_free(&reply);
	return rc;
}

/* ---- body parts ---- */

/* Reads a text file of the job as UTF-8 with CRLF line ends. */
static int read_text(const struct mime_input *in, const char *name,
		     struct strbuf *out, struct strbuf *err)
{
	char path[PATH_MAX];
	char *buf;
	size_t len;
	int rc;

	rc = spool_job_path(in->sp, SPOOL_OUTBOX, in->job->id, name, path,
			    sizeof(path));
	if (rc == 0)
		rc = file_read_all(path, &buf, &len);
	if (rc < 0) {
		strbuf_addf(err, "cannot read \"%s\": %s", name, strerror(-rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if (!encode_utf8_valid(buf, len)) {
		strbuf_addf(err, "\"%s\" is not UTF-8 text", name);
		free(buf);
		return -EINVAL;
	}
	for (size_t i = 0; i < len && rc == 0; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			rc = strbuf_addc(out, '\r');
		if (rc == 0)
			rc = strbuf_addc(out, buf[i]);
	}
	free(buf);
	return rc;
}

static int text_part(curl_mime *mime, const char *type, const struct strbuf *s)
{
	curl_mimepart *part = curl_mime_addpart(mime);

	if (!part || curl_mime_data(part, s->buf ? s->buf : "", s->len) ||
	    curl_mime_type(part, type) ||
	    curl_mime_encoder(part, "quoted-printable"))
		return -ENOMEM;
	return 0;
}

/* The alternative of text and HTML, or the text alone. */
static int body_parts(struct mime_msg *m, CURL *curl,
		      const struct mime_input *in, struct strbuf *err)
{
	struct strbuf html = STRBUF_INIT, text = STRBUF_INIT;
	curl_mime *alt = NULL;
	curl_mimepart *part;
	int rc = 0;

	if (in->job->body)
		rc = read_text(in, in->job->body, &html, err);
	if (rc == 0 && in->job->text)
		rc = read_text(in, in->job->text, &text, err);
	else if (rc == 0)
		rc =
		    htmltext_convert(&text, html.buf ? html.buf : "", html.len);
	if (rc == 0 && !in->job->body) {
		rc = text_part(m->root, "text/plain; charset=utf-8", &text);
		goto out_release;
	}
	if (rc < 0)
		goto out_release;
	rc = -ENOMEM;
	alt = curl_mime_init(curl);
	part = curl_mime_addpart(m->root);
	if (!alt || !part)
		goto out_release;
	rc = text_part(alt, "text/plain; charset=utf-8", &text);
	if (rc == 0)
		rc = text_part(alt, "text/html; charset=utf-8", &html);
	if (rc == 0 && (curl_mime_subparts(part, alt) ||
			curl_mime_type(part, "multipart/alternative")))
		rc = -ENOMEM;
	if (rc == 0)
		alt = NULL; /* the part owns it now */
out_release:
	curl_mime_free(alt);
	strbuf_release(&html);
	strbuf_release(&text);
	return rc;
}

static int attachment(struct mime_msg *m, const struct mime_input *in,
		      const char *name, struct strbuf *err)
{
	struct strbuf disp = STRBUF_INIT;
	struct curl_slist *hdrs = NULL;
	char path[PATH_MAX];
	curl_mimepart *part;
	int rc;

	rc = spool_job_path(in->sp, SPOOL_OUTBOX, in->job->id, name, path,
			    sizeof(path));
	if (rc == 0)
		rc = strbuf_adds(&disp, "Content-Disposition: attachment");
	if (rc == 0)
		rc = encode_param(&disp, "filename", name);
	if (rc == -EILSEQ) {
		strbuf_addf(err, "attachment name \"%s\" is not UTF-8", name);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = add_header(&hdrs, disp.buf);
	strbuf_release(&disp);
	if (rc < 0)
		goto out_free_headers;
	part = curl_mime_addpart(m->root);
	if (!part) {
		rc = -ENOMEM;
		goto out_free_headers;
	}
	rc = b64file_attach(part, path, &hdrs);
	if (rc < 0 && rc != -ENOMEM) {
		strbuf_addf(err, "cannot read attachment \"%s\": %s", name,
			    strerror(-rc));
		rc = -EINVAL;
	}
	if (rc < 0)
		goto out_free_headers;
	/* our headers carry the encoded name and the encoding */
	if (curl_mime_type(part, mime_type_for(name)) ||
	    curl_mime_headers(part, hdrs, 1)) {
		rc = -ENOMEM;
		goto out_free_headers;
	}
	return 0;
out_free_headers:
	curl_slist_free_all(hdrs);
	return rc;
}

int mime_build(struct mime_msg *m, CURL *curl, const struct mime_input *in,
	       struct strbuf *err)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->root = curl_mime_init(curl);
	if (!m->root)
		return -ENOMEM;
	rc = build_headers(m, in, err);
	if (rc == 0)
		rc = body_parts(m, curl, in, err);
	for (size_t i = 0; i < in->job->attach.n && rc == 0; i++)
		rc = attachment(m, in, in->job->attach.v[i], err);
	return rc;
}

void mime_free(struct mime_msg *m)
{
	curl_mime_free(m->root);
	curl_slist_free_all(m->headers);
	curl_slist_free_all(m->rcpt);
	free(m->mail_from);
	memset(m, 0, sizeof(*m));
}
