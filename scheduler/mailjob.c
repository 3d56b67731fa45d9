/* mailjob: see mailjob.h. */
#include "mailjob.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "spool.h"
#include "util.h"

#define MAILJOB_ID_TRIES 5

void mailjob_file_name(char *buf, size_t size, const char *title,
		       const char *ext)
{
	size_t max = size - strlen(ext) - 2, n = 0;

	if (max > 180)
		max = 180; /* well within SPOOL_ID_MAX with the extension */
	for (const unsigned char *p = (const unsigned char *)title;
	     *p && n < max; p++) {
		unsigned char c = *p;

		if (c == '/' || c < 0x20 || c == 0x7f)
			c = '-';
		else if (n == 0 && c == '.')
			c = '_';
		buf[n++] = (char)c;
	}
	while (n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
		n--; /* drop a character cut in half, with its lead byte */
	if (n > 0 && (unsigned char)buf[n - 1] >= 0xc0)
		n--;
	if (n == 0)
		buf[n++] = '_';
	snprintf(buf + n, size - n, ".%s", ext);
}

/* Begins a job, with a fresh id again if one is taken. */
static int job_begin(struct spool_new *nj, const struct spool *sp)
{
	int rc = -EEXIST;

	for (int i = 0; i < MAILJOB_ID_TRIES && rc == -EEXIST; i++)
		rc = spool_new_begin(nj, sp, NULL);
	return rc;
}

static int add_attachments(struct spool_new *nj, const struct report *r,
			   const char *const files[FMT_COUNT])
{
	char name[256];
	int rc = 0;

	for (int f = 0; f < FMT_COUNT && rc == 0; f++) {
		if (!(r->attach & (1u << f)) || !files[f])
			continue;
		mailjob_file_name(name, sizeof(name), r->title,
				  render_fmt_ext(f));
		rc = spool_new_copy(nj, name, files[f]);
		if (rc == 0)
			rc = spool_new_set(nj, "attach", name);
	}
	return rc;
}

/* A body for reports without HTML: the title and what is attached. */
static int write_plain_body(struct spool_new *nj, const struct report *r,
			    const char *date, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	strbuf_addf(&sb, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
			 "</head><body>\n<p>");
	for (const char *p = r->title; *p; p++) {
		if (*p == '<')
			strbuf_adds(&sb, "&lt;");
		else if (*p == '&')
			strbuf_adds(&sb, "&amp;");
		else
			strbuf_addc(&sb, *p);
	}
	strbuf_addf(&sb,
		    " — %s</p>\n<p>The report is attached.</p>\n"
		    "</body></html>\n",
		    date);
	rc = sb.buf ? spool_new_write(nj, name, sb.buf, sb.len) : -ENOMEM;
	strbuf_release(&sb);
	return rc;
}

static int fill_report(struct spool_new *nj, const struct report *r,
		       const char *date, const char *body_path,
		       const char *const files[FMT_COUNT])
{
	char body[32] = "body.html", html[256], subject[512];
	int rc = 0;

	/* the HTML attachment may be called "body.html" too */
	mailjob_file_name(html, sizeof(html), r->title, "html");
	if ((r->attach & (1u << FMT_HTML)) && !strcmp(html, body))
		snprintf(body, sizeof(body), "mail-body.html");
	for (size_t i = 0; i < r->nmail && rc == 0; i++)
		rc = spool_new_set(nj, "to", r->mail[i]);
	snprintf(subject, sizeof(subject), "%s — %s", r->title, date);
	if (rc == 0)
		rc = spool_new_set(nj, "subject", subject);
	if (rc == 0 && body_path)
		rc = spool_new_copy(nj, body, body_path);
	else if (rc == 0)
		rc = write_plain_body(nj, r, date, body);
	if (rc == 0)
		rc = spool_new_set(nj, "body", body);
	if (rc == 0)
		rc = add_attachments(nj, r, files);
	return rc;
}

int mailjob_report(const char *spool_dir, const struct report *r,
		   const char *date, const char *body_path,
		   const char *const files[FMT_COUNT], char *err, size_t errlen)
{
	struct spool_new nj;
	struct spool sp;
	int rc;

	rc = spool_open(&sp, spool_dir, true);
	if (rc < 0) {
		snprintf(err, errlen, "cannot open the mail spool %s: %s",
			 spool_dir, strerror(-rc));
		return rc;
	}
	rc = job_begin(&nj, &sp);
	if (rc == 0)
		rc = fill_report(&nj, r, date, body_path, files);
	if (rc == 0)
		rc = spool_new_commit(&nj);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write a mail job into %s: %s",
			 spool_dir, strerror(-rc));
		spool_new_abort(&nj);
	}
	spool_close(&sp);
	return rc;
}

int mailjob_notice(const char *spool_dir, const char *admin,
		   const char *subject, const char *text, char *err,
		   size_t errlen)
{
	struct spool_new nj;
	struct spool sp;
	int rc;

	rc = spool_open(&sp, spool_dir, true);
	if (rc < 0) {
		snprintf(err, errlen, "cannot open the mail spool %s: %s",
			 spool_dir, strerror(-rc));
		return rc;
	}
	rc = job_begin(&nj, &sp);
	if (rc == 0)
		rc = spool_new_write(&nj, "notice.txt", text, strlen(text));
	if (rc == 0)
		rc = spool_new_set(&nj, "to", admin);
	if (rc == 0)
		rc = spool_new_set(&nj, "subject", subject);
	if (rc == 0)
		rc = spool_new_set(&nj, "text", "notice.txt");
	if (rc == 0)
		rc = spool_new_set(&nj, "notice", "yes");
	if (rc == 0)
		rc = spool_new_commit(&nj);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write a notice into %s: %s",
			 spool_dir, strerror(-rc));
		spool_new_abort(&nj);
	}
	spool_close(&sp);
	return rc;
}
