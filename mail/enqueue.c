/* enqueue: see enqueue.h. */
#include "enqueue.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "encode.h"
#include "mime.h"

/* The body and text as they will be written into the job. */
struct contents {
	char *html, *text;
	size_t html_len, text_len;
	char html_name[64], text_name[64];
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int check_addresses(const struct spool_strv *v, struct strbuf *err)
{
	struct addr_list list = {0};
	char why[512];
	int rc = 0;

	for (size_t i = 0; i < v->n && rc == 0; i++) {
		rc = addr_list_parse(&list, v->v[i], why, sizeof(why));
		if (rc == -EINVAL)
			strbuf_adds(err, why);
	}
	addr_list_free(&list);
	return rc;
}

static int check_attachments(const struct enqueue_args *a, uint64_t *total,
			     struct strbuf *err)
{
	struct stat st;

	for (size_t i = 0; i < a->attach.n; i++) {
		const char *name = base_name(a->attach.v[i]);

		if (!spool_file_name_valid(name)) {
			strbuf_addf(err,
				    "%s: cannot attach a file of this "
				    "name (rename it)",
				    a->attach.v[i]);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(name, base_name(a->attach.v[j])) == 0) {
				strbuf_addf(err, "two attachments named \"%s\"",
					    name);
				return -EINVAL;
			}
		if (stat(a->attach.v[i], &st) < 0) {
			strbuf_addf(err, "%s: %s", a->attach.v[i],
				    strerror(errno));
			return -EINVAL;
		}
		if (!S_ISREG(st.st_mode)) {
			strbuf_addf(err, "%s: not a regular file",
				    a->attach.v[i]);
			return -EINVAL;
		}
		*total += mime_wire_size((uint64_t)st.st_size);
	}
	return 0;
}

static int read_stdin(char **out, size_t *len)
{
	return file_read_all("/dev/stdin", out, len);
}

/* Reads a body file ("-": standard input) and checks it is UTF-8. */
static int read_body(const char *path, char **out, size_t *len,
		     struct strbuf *err)
{
	int rc = strcmp(path, "-") == 0 ? read_stdin(out, len)
					: file_read_all(path, out, len);

	if (rc < 0) {
		strbuf_addf(err, "%s: %s", path, strerror(-rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if (!encode_utf8_valid(*out, *len)) {
		strbuf_addf(err, "%s: not UTF-8 text", path);
		free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static bool name_taken(const char *name, const struct enqueue_args *a)
{
	for (size_t i = 0; i < a->attach.n; i++)
		if (strcmp(name, base_name(a->attach.v[i])) == 0)
			return true;
	return false;
}

/* A name for the body that no attachment has: @want, "_" + @want... */
static void pick_name(char *buf, size_t size, const char *want,
		      const struct enqueue_args *a)
{
	snprintf(buf, size, "%s", want);
	for (unsigned n = 1; name_taken(buf, a) && n < 100; n++)
		snprintf(buf, size, "%u_%s", n, want);
}

static int load_contents(const struct enqueue_args *a, struct contents *c,
			 struct strbuf *err)
{
	int rc = 0;

	if (a->body_path && a->text_path && !strcmp(a->body_path, "-") &&
	    !strcmp(a->text_path, "-")) {
		strbuf_adds(err, "only one of the body and the text can come "
				 "from standard input");
		return -EINVAL;
	}
	if (a->body_path)
		rc = read_body(a->body_path, &c->html, &c->html_len, err);
	if (rc == 0 && a->text_path)
		rc = read_body(a->text_path, &c->text, &c->text_len, err);
	if (rc == 0 && !a->text_path && a->text_data) {
		c->text = xstrdup(a->text_data);
		c->text_len = strlen(a->text_data);
		rc = c->text ? 0 : -ENOMEM;
	}
	if (rc == 0 && !c->html && !c->text) {
		strbuf_adds(err, "no body: give --body or --text");
		rc = -EINVAL;
	}
	pick_name(c->html_name, sizeof(c->html_name), "message.html", a);
	pick_name(c->text_name, sizeof(c->text_name), "message.txt", a);
	return rc;
}

static int check_args(const struct enqueue_args *a, const struct contents *c,
		      struct strbuf *err)
{
	uint64_t total =
	    mime_wire_size(c->html_len) + mime_wire_size(c->text_len);
	int rc;

	if (!a->to.n && !a->cc.n && !a->bcc.n) {
		strbuf_adds(err, "no recipient: give --to, --cc or --bcc");
		return -EINVAL;
	}
	if (!a->subject || !encode_utf8_valid(a->subject, strlen(a->subject))) {
		strbuf_adds(err, a->subject ? "the subject is not UTF-8"
					    : "no subject: give --subject");
		return -EINVAL;
	}
	rc = check_addresses(&a->to, err);
	if (rc == 0)
		rc = check_addresses(&a->cc, err);
	if (rc == 0)
		rc = check_addresses(&a->bcc, err);
	if (rc == 0)
		rc = check_addresses(&a->reply_to, err);
	if (rc == 0)
		rc = check_attachments(a, &total, err);
	if (rc == 0 && a->max_size && total > a->max_size) {
		strbuf_addf(err,
			    "the message would take %llu bytes, over "
			    "max_size (%llu)",
			    (unsigned long long)total,
			    (unsigned long long)a->max_size);
		rc = -EINVAL;
	}
	return rc;
}

static int set_list(struct spool_new *nj, const char *key,
		    const struct spool_strv *v)
{
	int rc = 0;

	for (size_t i = 0; i < v->n && rc == 0; i++)
		rc = spool_new_set(nj, key, v->v[i]);
	return rc;
}

static int write_job(struct spool_new *nj, const struct enqueue_args *a,
		     const struct contents *c)
{
	int rc = 0;

	for (size_t i = 0; i < a->attach.n && rc == 0; i++)
		rc = spool_new_copy(nj, base_name(a->attach.v[i]),
				    a->attach.v[i]);
	if (rc == 0 && c->html)
		rc = spool_new_write(nj, c->html_name, c->html, c->html_len);
	if (rc == 0 && c->text)
		rc = spool_new_write(nj, c->text_name, c->text, c->text_len);
	if (rc == 0)
		rc = set_list(nj, "to", &a->to);
	if (rc == 0)
		rc = set_list(nj, "cc", &a->cc);
	if (rc == 0)
		rc = set_list(nj, "bcc", &a->bcc);
	if (rc == 0)
		rc = set_list(nj, "reply_to", &a->reply_to);
	if (rc == 0)
		rc = spool_new_set(nj, "subject", a->subject);
	if (rc == 0 && c->html)
		rc = spool_new_set(nj, "body", c->html_name);
	if (rc == 0 && c->text)
		rc = spool_new_set(nj, "text", c->text_name);
	for (size_t i = 0; i < a->attach.n && rc == 0; i++)
		rc = spool_new_set(nj, "attach", base_name(a->attach.v[i]));
	if (rc == 0 && a->notice)
		rc = spool_new_set(nj, "notice", "yes");
	return rc;
}

int enqueue_job(const struct spool *sp, const struct enqueue_args *a, char *id,
		struct strbuf *err)
{
	struct contents c = {0};
	struct spool_new nj;
	int rc;

	rc = load_contents(a, &c, err);
	if (rc == 0)
		rc = check_args(a, &c, err);
	if (rc < 0)
		goto out_free;
	rc = spool_new_begin(&nj, sp, a->id);
	if (rc == 0)
		rc = write_job(&nj, a, &c);
	if (rc == 0) {
		snprintf(id, SPOOL_ID_MAX + 1, "%s", nj.id);
		rc = spool_new_commit(&nj);
	}
	if (rc == -EEXIST && !err->len)
		strbuf_addf(err, "a job named \"%s\" exists already",
			    a->id ? a->id : "");
	else if (rc < 0 && rc != -EINVAL && !err->len)
		strbuf_addf(err, "cannot write the job into %s: %s", sp->dir,
			    strerror(-rc));
	if (rc < 0)
		spool_new_abort(&nj);
out_free:
	free(c.html);
	free(c.text);
	return rc;
}
