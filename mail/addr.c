/*
 * addr: see addr.h.
 *
 * Only the forms people write in a config or a script are accepted:
 * no comments in parentheses, no quoted local parts, no groups, and no
 * internationalized addresses (the SMTPUTF8 extension is not used), so
 * whatever passes here is safe in MAIL FROM, RCPT TO and a header.
 */
#include "addr.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

static bool is_local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~.", c));
}

static bool is_domain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* NULL when @email is acceptable, else why not. */
static const char *email_problem(const char *email)
{
	const char *at = strrchr(email, '@');

	if (!at)
		return "no '@'";
	if (at == email)
		return "nothing before '@'";
	if (!at[1])
		return "no domain after '@'";
	for (const char *p = email; p < at; p++)
		if (!is_local_char((unsigned char)*p))
			return (unsigned char)*p >= 0x80
				   ? "not ASCII (SMTPUTF8 is not supported)"
				   : "a character not allowed before '@'";
	for (const char *p = at + 1; *p; p++)
		if (!is_domain_char((unsigned char)*p))
			return (unsigned char)*p >= 0x80
				   ? "not ASCII (use the punycode domain)"
				   : "a character not allowed in the domain";
	if (email[0] == '.' || at[-1] == '.' || strstr(email, ".."))
		return "a misplaced '.'";
	return NULL;
}

/* Removes the quotes and backslashes of a quoted display name. */
static char *unquote(const char *s, size_t len)
{
	struct strbuf sb = STRBUF_INIT;

	if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		s++;
		len -= 2;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		if (strbuf_addc(&sb, s[i]) < 0) {
			strbuf_release(&sb);
			return NULL;
		}
	}
	return strbuf_detach(&sb);
}

static int list_push(struct addr_list *list, char *name, char *email)
{
	struct addr *v = realloc(list->v, (list->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	list->v = v;
	v[list->n].name = name;
	v[list->n].email = email;
	list->n++;
	return 0;
}

/* Splits "Name <a@b>" at its angle brackets; name NULL when absent. */
static int split_item(char *item, char **name, char **email)
{
	char *lt = strrchr(item, '<'), *gt = strrchr(item, '>');
	char *phrase;

	*name = NULL;
	if (!lt && !gt) {
		*email = xstrdup(item);
		return *email ? 0 : -ENOMEM;
	}
	if (!lt || !gt || gt < lt || gt[1] != '\0')
		return -EINVAL;
	*lt = *gt = '\0';
	phrase = str_trim(item);
	*email = xstrdup(str_trim(lt + 1));
	if (*phrase)
		*name = unquote(phrase, strlen(phrase));
	*lt = '<';
	*gt = '>';
	if (!*email || (*phrase && !*name)) {
		free(*name);
		free(*email);
		return -ENOMEM;
	}
	return 0;
}

/* Parses one trimmed item, "Name <a@b>" or "a@b". */
static int parse_one(struct addr_list *list, char *item, char *err,
		     size_t errlen)
{
	char *name, *email;
	const char *why;
	int rc;

	rc = split_item(item, &name, &email);
	if (rc == -EINVAL)
		snprintf(err, errlen, "bad address \"%s\": unmatched '<'",
			 item);
	if (rc < 0)
		return rc;
	why = email_problem(email);
	if (why) {
		snprintf(err, errlen, "bad address \"%s\": %s", item, why);
		rc = -EINVAL;
	} else {
		rc = list_push(list, name, email);
	}
	if (rc < 0) {
		free(name);
		free(email);
	}
	return rc;
}

int addr_list_parse(struct addr_list *list, const char *text, char *err,
		    size_t errlen)
{
	char *copy = xstrdup(text), *start;
	bool quoted = false, angle = false;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	start = copy;
	for (char *p = copy;; p++) {
		bool last;

		if (*p == '\\' && quoted && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '<' && !quoted)
			angle = true;
		else if (*p == '>' && !quoted)
			angle = false;
		if (*p && (*p != ',' || quoted || angle))
			continue;

		last = *p == '\0';
		*p = '\0';
		if (*str_trim(start))
			rc = parse_one(list, str_trim(start), err, errlen);
		if (rc < 0 || last)
			break;
		start = p + 1;
	}
	free(copy);
	return rc;
}

void addr_list_free(struct addr_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].name);
		free(list->v[i].email);
	}
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

/* Columns the first line of @s takes. */
static size_t first_line_len(const char *s)
{
	const char *crlf = strstr(s, "\r\n");

	return crlf ? (size_t)(crlf - s) : strlen(s);
}

/* Columns the last line of @s takes, or SIZE_MAX when it is one line. */
static size_t last_line_len(const char *s)
{
	const char *crlf = NULL;

	for (const char *p = s; (p = strstr(p, "\r\n")) != NULL; p += 2)
		crlf = p;
	return crlf ? strlen(crlf + 2) : SIZE_MAX;
}

static int format_one(struct strbuf *out, const struct addr *a, size_t col)
{
	int rc = 0;

	if (a->name && *a->name) {
		rc = encode_phrase(out, a->name, col);
		if (rc == 0)
			rc = strbuf_adds(out, " ");
	}
	if (rc == 0)
		rc = strbuf_addf(out, "<%s>", a->email);
	return rc;
}

int addr_list_format(struct strbuf *out, const struct addr_list *list,
		     size_t col)
{
	struct strbuf item = STRBUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < list->n && rc == 0; i++) {
		size_t at = i ? col + 2 : col;

		strbuf_reset(&item);
		rc = format_one(&item, &list->v[i], at);
		if (rc == 0 && i && at + first_line_len(item.buf) > 78) {
			rc = strbuf_adds(out, ",\r\n ");
			at = 1;
			strbuf_reset(&item);
			if (rc == 0)
				rc = format_one(&item, &list->v[i], at);
		} else if (rc == 0 && i) {
			rc = strbuf_adds(out, ", ");
		}
		if (rc == 0)
			rc = strbuf_add(out, item.buf, item.len);
		if (rc == 0) {
			size_t last = last_line_len(item.buf);

			col = last != SIZE_MAX ? last : at + item.len;
		}
	}
	strbuf_release(&item);
	return rc;
}
