/*
 * paramname: the file name of a parameter value and the way back (the
 * encoding is described in params.h).  Kept apart from params.c, which
 * runs value queries, so it links on its own: tests/fuzz fuzzes it.
 */
#include <stdio.h>
#include <string.h>

#include "params.h"
#include "util.h"

/* Where to cut the name @s near @max: between characters, and never
 * inside a %XX escape, so the part kept decodes. */
static size_t name_cut(const char *s, size_t max)
{
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	if (max >= 1 && s[max - 1] == '%')
		max -= 1;
	else if (max >= 2 && s[max - 2] == '%')
		max -= 2;
	return max;
}

void param_encode(const char *value, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	struct strbuf sb = STRBUF_INIT;
	size_t cut;

	if (!*value)
		strbuf_adds(&sb, "%00");
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		bool esc = *p == '%' || *p == '/' || *p < 0x20 || *p == 0x7f ||
			   (p == (const unsigned char *)value && *p == '.');

		if (esc) {
			strbuf_addc(&sb, '%');
			strbuf_addc(&sb, hex[*p >> 4]);
			strbuf_addc(&sb, hex[*p & 15]);
		} else {
			strbuf_addc(&sb, (char)*p);
		}
	}
	if (!sb.buf) {
		snprintf(buf, len, "%%00");
		return;
	}
	if (sb.len > 200) {
		cut = name_cut(sb.buf, 180);
		snprintf(buf, len, "%.*s%%~%016llx", (int)cut, sb.buf,
			 (unsigned long long)hash64_str(value));
	} else {
		snprintf(buf, len, "%s", sb.buf);
	}
	strbuf_release(&sb);
}

const char *param_lookup(const struct param_values *pv, const char *name)
{
	char enc[PARAM_NAME_MAX + 1];

	for (size_t i = 0; i < pv->n; i++) {
		param_encode(pv->v[i], enc, sizeof(enc));
		if (!strcmp(enc, name))
			return pv->v[i];
	}
	return NULL;
}
