/*
 * test_mail_encode: the RFC 2047 and RFC 2231 encoders of the mailer.
 * Every encoded word and continuation is decoded back here and checked
 * to hold whole UTF-8 characters and to fit its length limits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/encode.h"
#include "tap.h"

static const char subject_tr[] = "Tedarikçi bakiyeleri — 03.12.2026";
static const char name_tr[] = "Müşteri yaşlandırma "
			      "İSTANBUL ğüşıöç.xlsx";

static int b64_value(char c)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(abc, c) : NULL;

	return p ? (int)(p - abc) : -1;
}

/* Decodes base64 @s of @n characters onto @out; -1 when malformed. */
static int b64_decode(struct strbuf *out, const char *s, size_t n)
{
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		unsigned long bits = 0;

		for (int k = 0; k < 4; k++) {
			v[k] = s[i + k] == '=' ? 0 : b64_value(s[i + k]);
			if (v[k] < 0)
				return -1;
			bits = bits << 6 | (unsigned long)v[k];
		}
		strbuf_addc(out, (char)(bits >> 16));
		if (s[i + 2] != '=')
			strbuf_addc(out, (char)(bits >> 8 & 0xff));
		if (s[i + 3] != '=')
			strbuf_addc(out, (char)(bits & 0xff));
	}
	return 0;
}

/* Longest line of @s, lines split at CRLF. */
static size_t longest_line(const char *s, size_t first_col)
{
	size_t longest = 0, col = first_col;

	for (; *s; s++) {
		if (s[0] == '\r' && s[1] == '\n') {
			longest = col > longest ? col : longest;
			col = 0;
			s++;
			continue;
		}
		col++;
	}
	return col > longest ? col : longest;
}

/*
 * Decodes a header made only of encoded words separated by folding;
 * checks each word's length and that each holds whole characters.
 */
static int decode_words(const char *s, struct strbuf *text)
{
	while (*s) {
		struct strbuf word = STRBUF_INIT;
		const char *end;
		size_t n;

		s += strspn(s, "\r\n ");
		if (!*s)
			break;
		if (strncmp(s, "=?UTF-8?B?", 10) != 0)
			return -1;
		end = strstr(s + 10, "?=");
		if (!end)
			return -1;
		n = (size_t)(end - s) + 2;
		CHECK(n <= ENCODE_WORD_MAX);
		if (b64_decode(&word, s + 10, (size_t)(end - s) - 10) < 0)
			return -1;
		CHECK(encode_utf8_valid(word.buf ? word.buf : "", word.len));
		strbuf_add(text, word.buf ? word.buf : "", word.len);
		strbuf_release(&word);
		s += n;
	}
	return 0;
}

static void test_utf8(void)
{
	CHECK(encode_utf8_valid(subject_tr, strlen(subject_tr)));
	CHECK(encode_utf8_valid("\xf0\x9f\x93\x8a", 4));
	CHECK(!encode_utf8_valid("\xc5", 1));		  /* cut short */
	CHECK(!encode_utf8_valid("\xc0\xaf", 2));	  /* overlong */
	CHECK(!encode_utf8_valid("\xed\xa0\x80", 3));	  /* surrogate */
	CHECK(!encode_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!encode_utf8_valid("\xfe", 1));
	CHECK(encode_is_plain_ascii("Daily report 7"));
	CHECK(!encode_is_plain_ascii("tab\there"));
}

static void test_plain_subject(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct strbuf unfolded = STRBUF_INIT;
	const char *long_ascii =
	    "Weekly supplier balances for all branches and all currencies, "
	    "with the aging buckets recomputed from the open invoices of "
	    "the month";

	CHECK_INT(encode_header_text(&sb, "Daily report", 9), 0);
	CHECK_STR(sb.buf, "Daily report");
	strbuf_reset(&sb);

	CHECK_INT(encode_header_text(&sb, long_ascii, 9), 0);
	CHECK(strstr(sb.buf, "\r\n ") != NULL);
	CHECK(longest_line(sb.buf, 9) <= ENCODE_FOLD_AT);
	for (const char *p = sb.buf; *p; p++)
		if (!(p[0] == '\r' && p[1] == '\n') && *p != '\n')
			strbuf_addc(&unfolded, *p);
	CHECK_STR(unfolded.buf, long_ascii);

	/* something that looks like an encoded word must be encoded */
	strbuf_reset(&sb);
	CHECK_INT(encode_header_text(&sb, "a =?x?Q?y?= b", 9), 0);
	CHECK(strncmp(sb.buf, "=?UTF-8?B?", 10) == 0);
	strbuf_release(&sb);
	strbuf_release(&unfolded);
}

static void check_subject_round_trip(const char *subject)
{
	struct strbuf sb = STRBUF_INIT;
	struct strbuf text = STRBUF_INIT;

	CHECK_INT(encode_header_text(&sb, subject, 9), 0);
	CHECK(longest_line(sb.buf, 9) <= ENCODE_LINE_MAX);
	CHECK_INT(decode_words(sb.buf, &text), 0);
	CHECK_STR(text.buf, subject);
	strbuf_release(&sb);
	strbuf_release(&text);
}

static void test_turkish_subject(void)
{
	struct strbuf big = STRBUF_INIT;
	const char *letters[] = {"ı", "ş", "ğ", "İ", "ç",
				 "ö", "ü", "a", "€", "\xf0\x9f\x93\x8a"};

	check_subject_round_trip(subject_tr);
	check_subject_round_trip("ŞĞİıçöü");
	/* every phase of 1-, 2-, 3- and 4-byte letters against a word end */
	for (size_t i = 0; i < 300; i++)
		strbuf_adds(&big,
			    letters[(i * 7 + i / 13) % ARRAY_SIZE(letters)]);
	check_subject_round_trip(big.buf);
	for (size_t shift = 0; shift < 6; shift++) {
		struct strbuf s = STRBUF_INIT;

		for (size_t k = 0; k < shift; k++)
			strbuf_addc(&s, 'x');
		for (int k = 0; k < 40; k++)
			strbuf_adds(&s, "ş");
		check_subject_round_trip(s.buf);
		strbuf_release(&s);
	}
	strbuf_release(&big);
}

static void test_no_injection(void)
{
	struct strbuf sb = STRBUF_INIT;

	CHECK_INT(encode_header_text(&sb, "hi\r\nBcc: x@example.com", 9), 0);
	CHECK(strchr(sb.buf, '\r') == NULL);
	CHECK(strchr(sb.buf, '\n') == NULL);
	strbuf_reset(&sb);
	CHECK_INT(encode_header_text(&sb, "ş\r\nBcc: x@example.com", 9), 0);
	CHECK(strstr(sb.buf, "Bcc") == NULL);
	strbuf_reset(&sb);
	CHECK_INT(encode_header_text(&sb, "bad \xc5(", 9), -EILSEQ);
	strbuf_release(&sb);
}

static void test_phrase(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct strbuf text = STRBUF_INIT;

	CHECK_INT(encode_phrase(&sb, "Raporlar", 6), 0);
	CHECK_STR(sb.buf, "Raporlar");
	strbuf_reset(&sb);
	CHECK_INT(encode_phrase(&sb, "Smith, \"J\" Jr.", 6), 0);
	CHECK_STR(sb.buf, "\"Smith, \\\"J\\\" Jr.\"");
	strbuf_reset(&sb);
	CHECK_INT(encode_phrase(&sb, "Yılmaz, Ayşe", 4), 0);
	CHECK_INT(decode_words(sb.buf, &text), 0);
	CHECK_STR(text.buf, "Yılmaz, Ayşe");
	strbuf_reset(&sb);
	/* no room left on the line: the words start on a folded one */
	CHECK_INT(encode_phrase(&sb, "Ayşe", 70), 0);
	CHECK(strncmp(sb.buf, "\r\n =?UTF-8?B?", 13) == 0);
	strbuf_release(&sb);
	strbuf_release(&text);
}

static void test_fallback(void)
{
	struct strbuf sb = STRBUF_INIT;

	CHECK_INT(encode_ascii_fallback(&sb, name_tr), 0);
	CHECK_STR(sb.buf, "Musteri yaslandirma ISTANBUL gusioc.xlsx");
	strbuf_reset(&sb);
	CHECK_INT(encode_ascii_fallback(&sb, subject_tr), 0);
	CHECK_STR(sb.buf, "Tedarikci bakiyeleri - 03.12.2026");
	strbuf_reset(&sb);
	CHECK_INT(encode_ascii_fallback(&sb, "日本.pdf"), 0);
	CHECK_STR(sb.buf, "__.pdf");
	strbuf_release(&sb);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undoes percent-encoding of @s up to @end, checking whole characters. */
static void pct_decode(struct strbuf *out, const char *s, const char *end)
{
	struct strbuf seg = STRBUF_INIT;

	while (s < end) {
		if (*s == '%' && end - s >= 3) {
			strbuf_addc(&seg, (char)(hex_value(s[1]) * 16 +
						 hex_value(s[2])));
			s += 3;
		} else {
			strbuf_addc(&seg, *s++);
		}
	}
	CHECK(encode_utf8_valid(seg.buf ? seg.buf : "", seg.len));
	strbuf_add(out, seg.buf ? seg.buf : "", seg.len);
	strbuf_release(&seg);
}

/* Rebuilds the value of filename*N* continuations in @s. */
static void join_continuations(const char *s, struct strbuf *value)
{
	const char *p = s;

	while ((p = strstr(p, "filename*")) != NULL) {
		const char *v = strchr(p, '=') + 1;
		const char *end = v + strcspn(v, ";\r");

		if (strncmp(v, "UTF-8''", 7) == 0)
			v += 7;
		pct_decode(value, v, end);
		p = end;
	}
}

static void test_param(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct strbuf value = STRBUF_INIT;
	char longname[400];

	CHECK_INT(encode_param(&sb, "filename", "report.xlsx"), 0);
	CHECK_STR(sb.buf, ";\r\n filename=\"report.xlsx\"");
	strbuf_reset(&sb);

	CHECK_INT(encode_param(&sb, "filename", "Tedarikçi.csv"), 0);
	CHECK_STR(sb.buf, ";\r\n filename*=UTF-8''Tedarik%C3%A7i.csv"
			  ";\r\n filename=\"Tedarikci.csv\"");
	strbuf_reset(&sb);

	CHECK_INT(encode_param(&sb, "filename", name_tr), 0);
	CHECK(strstr(sb.buf, "filename*0*=UTF-8''M%C3%BC") != NULL);
	CHECK(strstr(sb.buf, "filename*1*=") != NULL);
	CHECK(strstr(sb.buf, "filename=\"Musteri yaslandirma ISTANBUL "
			     "gusioc.xlsx\"") != NULL);
	CHECK(longest_line(sb.buf, 0) <= ENCODE_FOLD_AT);
	join_continuations(sb.buf, &value);
	CHECK_STR(value.buf, name_tr);
	strbuf_reset(&sb);
	strbuf_reset(&value);

	snprintf(longname, sizeof(longname), "%s %s %s %s.xlsx", name_tr,
		 subject_tr, name_tr, "\xf0\x9f\x93\x8a");
	CHECK_INT(encode_param(&sb, "filename", longname), 0);
	/* the quoted fallback may be long (up to 998); the rest may not */
	*strstr(sb.buf, ";\r\n filename=\"") = '\0';
	CHECK(longest_line(sb.buf, 0) <= ENCODE_FOLD_AT);
	join_continuations(sb.buf, &value);
	CHECK_STR(value.buf, longname);
	strbuf_reset(&sb);

	CHECK_INT(encode_param(&sb, "filename", "a\"b\\c.txt"), 0);
	CHECK_STR(sb.buf, ";\r\n filename=\"a\\\"b\\\\c.txt\"");
	strbuf_reset(&sb);
	CHECK_INT(encode_param(&sb, "filename", "x\xff.txt"), -EILSEQ);
	strbuf_release(&sb);
	strbuf_release(&value);
}

int main(void)
{
	test_utf8();
	test_plain_subject();
	test_turkish_subject();
	test_no_injection();
	test_phrase();
	test_fallback();
	test_param();
	return tap_done("mail_encode");
}
