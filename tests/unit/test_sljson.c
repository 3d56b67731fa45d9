/*
 * test_sljson: the Service Layer driver's JSON pull reader (exact number
 * text, in-place unescaping, grammar errors) and its URL helpers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "slhttp.h"
#include "sljson.h"
#include "tap.h"

static char *tok_text(const struct slj *j)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%.*s", (int)j->len, j->tok);
	return buf;
}

/* Every token of @json as one line: "O K:a N:1 ...". */
static const char *tokens(const char *json)
{
	static char out[1024];
	char *copy = strdup(json);
	struct slj j;
	size_t n = 0;
	int t;

	slj_init(&j, copy, strlen(copy));
	out[0] = '\0';
	while ((t = slj_next(&j)) > 0) {
		const char *names = "?{}[]KSNTFZ";
		char k = names[t];

		if (t == SLJ_KEY || t == SLJ_STRING || t == SLJ_NUMBER)
			n += (size_t)snprintf(out + n, sizeof(out) - n,
					      "%c:%s ", k, tok_text(&j));
		else
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%c ",
					      k);
	}
	if (t == SLJ_ERROR)
		snprintf(out + n, sizeof(out) - n, "ERR(%s)", j.error);
	free(copy);
	return out;
}

static void test_tokens(void)
{
	CHECK_STR(tokens("{\"value\":[{\"a\":12345.678900,\"b\":\"x\"},"
			 "{\"a\":-0.10,\"b\":null}],\"n\":true}"),
		  "{ K:value [ { K:a N:12345.678900 K:b S:x } { K:a N:-0.10 "
		  "K:b Z } ] K:n T } ");
	CHECK_STR(tokens(" [1e5, 2E-3, 0, false, {}, []] "),
		  "[ N:1e5 N:2E-3 N:0 F { } [ ] ] ");
	CHECK_STR(tokens("\"only\""), "S:only ");
	CHECK_STR(tokens("123456789012345678901234567890.000001"),
		  "N:123456789012345678901234567890.000001 ");
}

static void test_errors(void)
{
	CHECK_STR(tokens("[1,]"), "[ N:1 ERR(unexpected character)");
	CHECK_STR(tokens("{\"a\":1,}"),
		  "{ K:a N:1 ERR(expected a member name)");
	CHECK_STR(tokens("[01]"), "[ N:0 ERR(expected ',' or a closing "
				  "bracket)");
	CHECK_STR(tokens("[1.]"), "[ ERR(malformed number)");
	CHECK_STR(tokens("[-]"), "[ ERR(malformed number)");
	CHECK_STR(tokens("[\"abc"), "[ ERR(unterminated string)");
	CHECK_STR(tokens("[\"a\tb\"]"), "[ ERR(control character in string)");
	CHECK_STR(tokens("{\"a\" 1}"), "{ ERR(expected ':')");
	CHECK_STR(tokens("[1]]"), "[ N:1 ] ERR(text after the JSON value)");
	CHECK_STR(tokens("[1}"), "[ N:1 ERR(expected ',' or a closing "
				 "bracket)");
	CHECK_STR(tokens("[tru]"), "[ ERR(unexpected character)");
	CHECK_STR(tokens("{"), "{ ERR(unexpected end)");
}

static void test_depth(void)
{
	char deep[200];

	memset(deep, '[', 100);
	deep[100] = '\0';
	CHECK(strstr(tokens(deep), "ERR(nested too deeply)") != NULL);
}

static long unescape(const char *in, char *out, size_t outlen)
{
	long n;

	snprintf(out, outlen, "%s", in);
	n = slj_unescape(out, strlen(out));
	if (n >= 0)
		out[n] = '\0';
	return n;
}

static void test_unescape(void)
{
	char buf[128];

	CHECK_INT(unescape("a\\\"b\\\\c\\/d\\n\\t", buf, sizeof(buf)), 9);
	CHECK_STR(buf, "a\"b\\c/d\n\t");
	unescape("\\u015e\\u0130\\u00e7 \\u0131", buf, sizeof(buf));
	CHECK_STR(buf, "Şİç ı");
	unescape("\\ud83d\\ude00!", buf, sizeof(buf));
	CHECK_STR(buf, "😀!");
	unescape("x\\ud83dy", buf, sizeof(buf));
	CHECK_STR(buf, "x\xef\xbf\xbdy");
	unescape("\\udc00", buf, sizeof(buf));
	CHECK_STR(buf, "\xef\xbf\xbd");
	CHECK_INT(unescape("bad \\x", buf, sizeof(buf)), -1);
	CHECK_INT(unescape("bad \\u12g4", buf, sizeof(buf)), -1);
	CHECK_INT(unescape("end \\", buf, sizeof(buf)), -1);
	CHECK_INT(unescape("plain ŞĞ", buf, sizeof(buf)), 10);
}

static void test_skip(void)
{
	char json[] = "{\"a\":{\"x\":[1,{\"y\":\"}\"}]},\"b\":\"s\",\"c\":7}";
	struct slj j;
	char *raw;
	size_t len;

	slj_init(&j, json, strlen(json));
	CHECK_INT(slj_next(&j), SLJ_OBJECT);
	CHECK_INT(slj_next(&j), SLJ_KEY);
	CHECK_INT(slj_skip(&j, slj_next(&j), &raw, &len), 0);
	CHECK_INT((long)len, (long)strlen("{\"x\":[1,{\"y\":\"}\"}]}"));
	CHECK(strncmp(raw, "{\"x\":[1,{\"y\":\"}\"}]}", len) == 0);
	CHECK_INT(slj_next(&j), SLJ_KEY);
	CHECK(slj_is(&j, "b"));
	CHECK_INT(slj_skip(&j, slj_next(&j), &raw, &len), 0);
	CHECK(len == 3 && strncmp(raw, "\"s\"", 3) == 0);
	CHECK_INT(slj_next(&j), SLJ_KEY);
	CHECK_INT(slj_skip(&j, slj_next(&j), &raw, &len), 0);
	CHECK(len == 1 && *raw == '7');
	CHECK_INT(slj_next(&j), SLJ_OBJECT_END);
	CHECK_INT(slj_next(&j), SLJ_EOF);
}

static const char *url_add(const char *s)
{
	static char out[512];
	struct strbuf sb = STRBUF_INIT;

	sl_url_add(&sb, s);
	snprintf(out, sizeof(out), "%s", sb.buf ? sb.buf : "");
	strbuf_release(&sb);
	return out;
}

static void test_urls(void)
{
	struct conf_source src = {
	    .name = "t",
	    .url = "https://sl.example:50000/b1s/v2/",
	    .company = "C",
	    .user = "u",
	    .password = "p",
	    .timeout = 5,
	    .page_size = 10,
	    .verify_tls = true,
	};
	struct sl_http *h = NULL;
	struct strbuf sb = STRBUF_INIT;
	char err[256], *u;

	CHECK_STR(
	    url_add("Items?$filter=ItemName eq 'a&b=c+d#e?'&$top=2"),
	    "Items?$filter=ItemName%20eq%20'a%26b%3Dc%2Bd%23e%3F'&$top=2");
	CHECK_STR(url_add("BusinessPartners?$filter=CardName eq 'Şı'"),
		  "BusinessPartners?$filter=CardName%20eq%20'%C5%9E%C4%B1'");
	CHECK_STR(url_add("a%20b%zz?x='50%'"), "a%20b%25zz?x='50%25'");
	CHECK_STR(url_add("SQLQueries('it''s')/List?p='x''y&z'"),
		  "SQLQueries('it''s')/List?p='x''y%26z'");

	CHECK_INT(sl_http_new(&src, &h, err, sizeof(err)), DRV_OK);
	CHECK_STR(sl_http_root(h), "https://sl.example:50000/b1s/v2");
	CHECK_STR(sl_http_origin(h), "https://sl.example:50000");
	u = sl_url_resolve(h, "Items?$skip=20");
	CHECK_STR(u, "https://sl.example:50000/b1s/v2/Items?$skip=20");
	free(u);
	u = sl_url_resolve(h, "/b1s/v2/Items?$skip=40");
	CHECK_STR(u, "https://sl.example:50000/b1s/v2/Items?$skip=40");
	free(u);
	u = sl_url_resolve(h, "b1s/v2/Items?$skip=60");
	CHECK_STR(u, "https://sl.example:50000/b1s/v2/Items?$skip=60");
	free(u);
	u = sl_url_resolve(h, "https://elsewhere:1/b1s/v2/Items?$skip=80");
	CHECK_STR(u, "https://sl.example:50000/b1s/v2/Items?$skip=80");
	free(u);
	sl_http_free(h);

	sl_json_add_str(&sb, "a\"b\\c\n\x01Ş");
	CHECK_STR(sb.buf, "\"a\\\"b\\\\c\\n\\u0001Ş\"");
	strbuf_release(&sb);

	src.url = "ftp://x/";
	CHECK_INT(sl_http_new(&src, &h, err, sizeof(err)), DRV_ERR_CONN);
	CHECK(strstr(err, "https://") != NULL);
	src.url = "https://h:1";
	CHECK_INT(sl_http_new(&src, &h, err, sizeof(err)), DRV_OK);
	CHECK_STR(sl_http_root(h), "https://h:1/b1s/v1");
	sl_http_free(h);
}

int main(void)
{
	test_tokens();
	test_errors();
	test_depth();
	test_unescape();
	test_skip();
	test_urls();
	return tap_done("sljson");
}
