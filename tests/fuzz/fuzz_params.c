/*
 * fuzz_params: parameter values as folder names (fs/paramname.c).  The
 * input is a list of values separated by NUL bytes.  Checks: every name
 * is a safe file name (1 to 255 bytes, no '/', no byte below 0x20 or
 * 0x7f, not starting with '.'); param_lookup() of a value's name among
 * all the values gives that value back; a name that was not cut decodes
 * (by a decoder written here) to its value, and a cut one keeps whole
 * characters and whole %XX escapes before its "%~" hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "params.h"

#define MAX_VALUES 64

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes @n bytes of a name; false when an escape is broken. */
static bool decode(const char *s, size_t n, struct strbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			strbuf_addc(out, s[i]);
			continue;
		}
		if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
			return false;
		strbuf_addc(out,
			    (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
		i += 2;
	}
	strbuf_addc(out, '\0');
	out->len--;
	return true;
}

static void check_name(const char *value, const char *name)
{
	size_t n = strlen(name);
	const char *cut = strstr(name, "%~");
	struct strbuf back = STRBUF_INIT;

	FUZZ_CHECK(n >= 1 && n <= PARAM_NAME_MAX, "name of %zu bytes", n);
	FUZZ_CHECK(name[0] != '.', "name '%s' starts with '.'", name);
	for (const char *p = name; *p; p++)
		FUZZ_CHECK(*p != '/' && (unsigned char)*p >= 0x20 && *p != 0x7f,
			   "byte %#x in name '%s'", (unsigned char)*p, name);
	if (!cut) {
		FUZZ_CHECK(decode(name, n, &back), "bad escape in '%s'", name);
		FUZZ_CHECK(!strcmp(back.buf, value) ||
			       (!*value && !strcmp(name, "%00")),
			   "'%s' decodes to '%s', not '%s'", name, back.buf,
			   value);
	} else {
		FUZZ_CHECK(strlen(cut) == 18, "hash part '%s'", cut);
		FUZZ_CHECK(decode(name, (size_t)(cut - name), &back),
			   "cut inside an escape: '%s'", name);
		FUZZ_CHECK(!strncmp(back.buf, value, back.len),
			   "cut name '%s' is not a prefix of its value", name);
		FUZZ_CHECK(fuzz_utf8_valid(back.buf, back.len) ||
			       !fuzz_utf8_valid(value, strlen(value)),
			   "cut inside a character: '%s'", name);
	}
	strbuf_release(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	char *v[MAX_VALUES];
	struct param_values pv = {.refs = 1, .v = v};
	char name[PARAM_NAME_MAX + 1];
	size_t off = 0;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	while (pv.n < MAX_VALUES && off <= size) {
		v[pv.n++] = copy + off;
		off += strlen(copy + off) + 1;
	}
	for (size_t i = 0; i < pv.n; i++) {
		const char *got;

		param_encode(v[i], name, sizeof(name));
		check_name(v[i], name);
		got = param_lookup(&pv, name);
		FUZZ_CHECK(got && !strcmp(got, v[i]),
			   "'%s' named '%s' looks up as '%s'", v[i], name,
			   got ? got : "(nothing)");
	}
	free(copy);
	return 0;
}
