/*
 * test_render: the exact bytes of CSV (both dialects), JSON and HTML for
 * a small table of traps, plus the edges each format decides: duplicate
 * JSON keys, invalid UTF-8, the HTML row cap, a full disk.  XLSX is read
 * back by openpyxl in tests/render/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "render.h"
#include "tap.h"
#include "util.h"

#define C(s)                                                                   \
	{                                                                      \
		s, sizeof(s) - 1, false                                        \
	}
#define N                                                                      \
	{                                                                      \
		NULL, 0, true                                                  \
	}

static char tmpdir[] = "/tmp/test_render.XXXXXX";

static const struct col_desc trap_cols[] = {
    {"Ad", COL_TEXT, 0, -1},	     {"Tutar", COL_DECIMAL, 19, 6},
    {"Oran", COL_FLOAT, 0, -1},	     {"Tarih", COL_DATE, 0, -1},
    {"Zaman", COL_TIMESTAMP, 0, -1}, {"Evet", COL_BOOL, 0, -1},
    {"Veri", COL_BINARY, 0, -1},     {"Adet", COL_INT, 0, -1},
};

#define TRAP_NCOLS ARRAY_SIZE(trap_cols)

static const struct cell trap_rows[][TRAP_NCOLS] = {
    {C("ŞĞİıçöü"), C("9999999999999.999999"), C("-0"), C("1899-12-31"),
     C("2040-01-01 12:34:56"), C("true"), C("\x00\xff"), C("42")},
    {C("emoji 😀 \"q\"; a,b"), C("-0.000001"), C("1.5e+20"), C("2040-01-01"),
     C("2024-06-30 23:59:59.5+03"), C("false"), C(""), C("-7")},
    {C("line1\nline2\r\n=HYPERLINK(\"x\")"), N, N, N, N, N, N, N},
    {C(""), C("-9999999999999.999999"), C("NaN"), C("1900-03-01"),
     C("1999-12-31 00:00:00Z"), C("false"), C("AB"), C("1234567")},
    {C(" padded "), C("1234567.891000"), C("Infinity"), N, N, C("true"), N,
     C("0")},
};

static const char csv_rfc[] =
    "Ad,Tutar,Oran,Tarih,Zaman,Evet,Veri,Adet\r\n"
    "ŞĞİıçöü,9999999999999.999999,-0,1899-12-31,2040-01-01 12:34:56,"
    "true,00ff,42\r\n"
    "\"emoji 😀 \"\"q\"\"; a,b\",-0.000001,1.5e+20,2040-01-01,"
    "2024-06-30 23:59:59.5+03,false,\"\",-7\r\n"
    "\"line1\nline2\r\n=HYPERLINK(\"\"x\"\")\",,,,,,,\r\n"
    "\"\",-9999999999999.999999,NaN,1900-03-01,1999-12-31 00:00:00Z,"
    "false,4142,1234567\r\n"
    "\" padded \",1234567.891000,Infinity,,,true,,0\r\n";

static const char csv_tr[] =
    "\xef\xbb\xbf"
    "Ad;Tutar;Oran;Tarih;Zaman;Evet;Veri;Adet\r\n"
    "ŞĞİıçöü;9999999999999,999999;-0;1899-12-31;2040-01-01 12:34:56;"
    "true;00ff;42\r\n"
    "\"emoji 😀 \"\"q\"\"; a,b\";-0,000001;1,5e+20;2040-01-01;"
    "2024-06-30 23:59:59.5+03;false;\"\";-7\r\n"
    "\"line1\nline2\r\n=HYPERLINK(\"\"x\"\")\";;;;;;;\r\n"
    "\"\";-9999999999999,999999;NaN;1900-03-01;1999-12-31 00:00:00Z;"
    "false;4142;1234567\r\n"
    "\" padded \";1234567,891000;Infinity;;;true;;0\r\n";

static const char json_want[] =
    "[\n"
    "{\"Ad\":\"ŞĞİıçöü\",\"Tutar\":9999999999999.999999,\"Oran\":-0,"
    "\"Tarih\":\"1899-12-31\",\"Zaman\":\"2040-01-01T12:34:56\","
    "\"Evet\":true,\"Veri\":\"AP8=\",\"Adet\":42},\n"
    "{\"Ad\":\"emoji 😀 \\\"q\\\"; a,b\",\"Tutar\":-0.000001,"
    "\"Oran\":1.5e+20,\"Tarih\":\"2040-01-01\","
    "\"Zaman\":\"2024-06-30T23:59:59.5+03:00\",\"Evet\":false,"
    "\"Veri\":\"\",\"Adet\":-7},\n"
    "{\"Ad\":\"line1\\nline2\\r\\n=HYPERLINK(\\\"x\\\")\",\"Tutar\":null,"
    "\"Oran\":null,\"Tarih\":null,\"Zaman\":null,\"Evet\":null,"
    "\"Veri\":null,\"Adet\":null},\n"
    "{\"Ad\":\"\",\"Tutar\":-9999999999999.999999,\"Oran\":\"NaN\","
    "\"Tarih\":\"1900-03-01\",\"Zaman\":\"1999-12-31T00:00:00Z\","
    "\"Evet\":false,\"Veri\":\"QUI=\",\"Adet\":1234567},\n"
    "{\"Ad\":\" padded \",\"Tutar\":1234567.891000,\"Oran\":\"Infinity\","
    "\"Tarih\":null,\"Zaman\":null,\"Evet\":true,\"Veri\":null,"
    "\"Adet\":0}\n"
    "]\n";

static const char html_rows_tr[] =
    "<tbody>\n"
    "<tr><td>ŞĞİıçöü</td><td class=\"n\">9.999.999.999.999,999999</td>"
    "<td class=\"n\">-0</td><td>1899-12-31</td><td>2040-01-01 12:34:56</td>"
    "<td>true</td><td>00ff</td><td class=\"n\">42</td></tr>\n"
    "<tr><td>emoji 😀 &quot;q&quot;; a,b</td><td class=\"n\">-0,000001</td>"
    "<td class=\"n\">1,5e+20</td><td>2040-01-01</td>"
    "<td>2024-06-30 23:59:59.5+03</td><td>false</td><td></td>"
    "<td class=\"n\">-7</td></tr>\n"
    "<tr><td>line1\nline2&#13;\n=HYPERLINK(&quot;x&quot;)</td>"
    "<td class=\"n\"></td><td class=\"n\"></td><td></td><td></td><td></td>"
    "<td></td><td class=\"n\"></td></tr>\n"
    "<tr><td></td><td class=\"n\">-9.999.999.999.999,999999</td>"
    "<td class=\"n\">NaN</td><td>1900-03-01</td><td>1999-12-31 00:00:00Z</td>"
    "<td>false</td><td>4142</td><td class=\"n\">1.234.567</td></tr>\n"
    "<tr><td> padded </td><td class=\"n\">1.234.567,891000</td>"
    "<td class=\"n\">Infinity</td><td></td><td></td><td>true</td><td></td>"
    "<td class=\"n\">0</td></tr>\n"
    "</tbody>\n";

static struct render_meta trap_meta(void)
{
	struct render_meta m = {
	    .name = "bakiye",
	    .title = "Tedarikçi <bakiyeleri> & \"borç\"",
	    .source = "hana",
	    .generated = 2208988800, /* 2040-01-01 00:00:00 UTC */
	    .timezone = "Europe/Istanbul",
	    .ncols = TRAP_NCOLS,
	    .cols = trap_cols,
	    .csv = CSV_RFC4180,
	    .tr_numbers = 1,
	    .tmpdir = tmpdir,
	};
	return m;
}

/* Renders @nrows rows to a file and returns its bytes (or NULL). */
static char *render_rows(enum render_fmt f, const struct render_meta *m,
			 const struct cell *rows, size_t nrows)
{
	char path[256], err[256];
	struct render *r;
	char *out = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/out.%s", tmpdir, render_fmt_ext(f));
	r = render_open(f, path, m, err, sizeof(err));
	CHECK(r != NULL);
	if (!r)
		return NULL;
	for (size_t i = 0; i < nrows; i++)
		CHECK_INT(render_row(r, rows + i * m->ncols), 0);
	CHECK_INT(render_close(r, err, sizeof(err)), 0);
	CHECK_INT(file_read_all(path, &out, &len), 0);
	unlink(path);
	return out;
}

static struct render_meta meta_with(const struct col_desc *cols, size_t n)
{
	struct render_meta m = trap_meta();

	m.cols = cols;
	m.ncols = n;
	return m;
}

static void test_ext(void)
{
	CHECK_STR(render_fmt_ext(FMT_XLSX), "xlsx");
	CHECK_STR(render_fmt_ext(FMT_HTML), "html");
	CHECK(render_fmt_ext(FMT_COUNT) == NULL);
	CHECK_INT(render_fmt_parse("csv"), FMT_CSV);
	CHECK_INT(render_fmt_parse("JSON"), FMT_JSON);
	CHECK_INT(render_fmt_parse("pdf"), -1);
	CHECK_INT(render_fmt_parse(NULL), -1);
}

static void test_trap_csv_json(void)
{
	struct render_meta m = trap_meta();
	const struct cell *rows = &trap_rows[0][0];
	size_t n = ARRAY_SIZE(trap_rows);
	char *out;

	out = render_rows(FMT_CSV, &m, rows, n);
	CHECK_STR(out, csv_rfc);
	free(out);
	m.csv = CSV_EXCEL_TR;
	out = render_rows(FMT_CSV, &m, rows, n);
	CHECK_STR(out, csv_tr);
	free(out);
	out = render_rows(FMT_JSON, &m, rows, n);
	CHECK_STR(out, json_want);
	free(out);
}

/* The part of @s from @from to the end of @to, for comparing. */
static char *between(const char *s, const char *from, const char *to)
{
	const char *a = s ? strstr(s, from) : NULL;
	const char *b = a ? strstr(a, to) : NULL;

	return b ? xstrndup(a, (size_t)(b - a) + strlen(to)) : NULL;
}

static void test_trap_html(void)
{
	struct render_meta m = trap_meta();
	char *out, *part;

	out =
	    render_rows(FMT_HTML, &m, &trap_rows[0][0], ARRAY_SIZE(trap_rows));
	part = between(out, "<tbody>", "</tbody>\n");
	CHECK_STR(part, html_rows_tr);
	free(part);
	CHECK(out && strstr(out, "<meta charset=\"utf-8\">"));
	CHECK(out && strstr(out, "<title>Tedarikçi &lt;bakiyeleri&gt; &amp; "
				 "&quot;borç&quot;</title>"));
	CHECK(out && strstr(out, "<th class=\"n\">Tutar</th>"));
	/* Istanbul is UTC+3 all year since 2016. */
	CHECK(out && strstr(out, "<time datetime=\"2040-01-01T03:00:00+03:00\">"
				 "01.01.2040 03:00 (UTC+03:00)</time>"));
	CHECK(out && strstr(out, "<span>Kaynak: hana</span>"
				 "<span>Sat\xc4\xb1r: 5</span>"));
	CHECK(out && !strstr(out, "class=\"more\""));
	CHECK(out && !strstr(out, "http"));
	free(out);
}

static void test_html_english(void)
{
	static const struct col_desc cols[] = {{"n", COL_DECIMAL, 12, 2},
					       {"s", COL_TEXT, 0, -1}};
	static const struct cell rows[][2] = {
	    {C("-1234567.89"), C("<script>&'")},
	};
	struct render_meta m = meta_with(cols, 2);
	char *out;

	m.tr_numbers = 0;
	m.timezone = "America/New_York"; /* past the zone file's table */
	m.generated = 2225145600;	 /* 2040-07-06 00:00:00 UTC */
	out = render_rows(FMT_HTML, &m, &rows[0][0], 1);
	CHECK(out && strstr(out, "<td class=\"n\">-1,234,567.89</td>"
				 "<td>&lt;script&gt;&amp;'</td>"));
	CHECK(out && strstr(out, "<html lang=\"en\">"));
	CHECK(out && strstr(out, "datetime=\"2040-07-05T20:00:00-04:00\">"
				 "2040-07-05 20:00 (UTC-04:00)"));
	CHECK(out && strstr(out, "<span>Rows: 1</span>"));
	free(out);
}

static void test_html_cap(void)
{
	static const struct col_desc cols[] = {{"i", COL_INT, 0, -1}};
	struct cell rows[1500];
	char digits[1500][8];
	struct render_meta m = meta_with(cols, 1);
	char *out;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		rows[i].len =
		    (size_t)snprintf(digits[i], sizeof(digits[i]), "%zu", i);
		rows[i].p = digits[i];
		rows[i].null = false;
	}
	m.html_row_cap = 2;
	out = render_rows(FMT_HTML, &m, rows, ARRAY_SIZE(rows));
	CHECK(out && strstr(out, "<tbody>\n<tr><td class=\"n\">0</td></tr>\n"
				 "<tr><td class=\"n\">1</td></tr>\n</tbody>"));
	CHECK(out && strstr(out, "<p class=\"more\">\xe2\x80\xa6 1.498 "
				 "sat\xc4\xb1r daha \xe2\x80\x94 "
				 "tam\xc4\xb1 ekte</p>"));
	CHECK(out && strstr(out, "Sat\xc4\xb1r: 1.500 (ilk 2 "
				 "g\xc3\xb6steriliyor)"));
	free(out);

	m.tr_numbers = 0;
	out = render_rows(FMT_HTML, &m, rows, ARRAY_SIZE(rows));
	CHECK(out && strstr(out, "\xe2\x80\xa6 1,498 more rows \xe2\x80\x94 "
				 "all are in the attachment"));
	CHECK(out && strstr(out, "Rows: 1,500 (first 2 shown)"));
	free(out);
}

static void test_json_edges(void)
{
	static const struct col_desc cols[] = {
	    {"a", COL_TEXT, 0, -1},
	    {"a", COL_DECIMAL, 0, -1},
	    {"a_2", COL_BOOL, 0, -1},
	    {"t\"\x01", COL_TIMESTAMP, 0, -1},
	};
	static const struct cell rows[][4] = {
	    {C("bad \xff\xc3( \xed\xa0\x80 \x01\x1f\x7f"), C("007"), C("yes"),
	     C("2024-01-01 10:00:00+0530")},
	    {C("\xf0\x9f\x98\x80"), C("1."), C("true"),
	     C("2024-01-01 10:00:00-03:30")},
	};
	struct render_meta m = meta_with(cols, 4);
	char *out;

	out = render_rows(FMT_JSON, &m, &rows[0][0], 2);
	CHECK_STR(out,
		  "[\n"
		  "{\"a\":\"bad \xef\xbf\xbd\xef\xbf\xbd( "
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
		  "\\u0001\\u001f\x7f\",\"a_3\":\"007\",\"a_2\":\"yes\","
		  "\"t\\\"\\u0001\":\"2024-01-01T10:00:00+05:30\"},\n"
		  "{\"a\":\"\xf0\x9f\x98\x80\",\"a_3\":\"1.\",\"a_2\":true,"
		  "\"t\\\"\\u0001\":\"2024-01-01T10:00:00-03:30\"}\n"
		  "]\n");
	free(out);

	out = render_rows(FMT_JSON, &m, NULL, 0);
	CHECK_STR(out, "[\n]\n");
	free(out);
}

static void test_csv_edges(void)
{
	static const struct col_desc cols[] = {
	    {"tab", COL_TEXT, 0, -1},
	    {"int", COL_INT, 0, -1},
	    {"bad", COL_TEXT, 0, -1},
	};
	static const struct cell rows[][3] = {
	    {C("\tx"), C("1.5"), C("a\xff;b")},
	};
	struct render_meta m = meta_with(cols, 3);
	char *out;

	out = render_rows(FMT_CSV, &m, &rows[0][0], 1);
	CHECK_STR(out, "tab,int,bad\r\n\"\tx\",1.5,a\xef\xbf\xbd;b\r\n");
	free(out);
	/* Integers keep their point-free digits; ';' is now quoted. */
	m.csv = CSV_EXCEL_TR;
	out = render_rows(FMT_CSV, &m, &rows[0][0], 1);
	CHECK_STR(out, "\xef\xbb\xbftab;int;bad\r\n\"\tx\";1.5;"
		       "\"a\xef\xbf\xbd;b\"\r\n");
	free(out);
}

/* Every format must say ENOSPC when the disk is full, never succeed. */
static void test_full_disk(void)
{
	struct render_meta m = trap_meta();
	char err[256];

	if (access("/dev/full", W_OK) != 0) {
		printf("# /dev/full missing: full-disk checks skipped\n");
		return;
	}
	for (int f = 0; f < FMT_COUNT; f++) {
		struct render *r =
		    render_open(f, "/dev/full", &m, err, sizeof(err));
		int rc = 0;

		CHECK(r != NULL);
		if (!r)
			continue;
		for (int i = 0; i < 20000 && rc == 0; i++)
			rc = render_row(r, trap_rows[i % 5]);
		if (rc == 0)
			rc = render_close(r, err, sizeof(err));
		else
			render_abort(r);
		CHECK_INT(rc, -ENOSPC);
	}
	CHECK(render_open(FMT_CSV, "/nonexistent/dir/x.csv", &m, err,
			  sizeof(err)) == NULL);
	CHECK(strstr(err, "/nonexistent/dir/x.csv") != NULL);
	CHECK(render_open(FMT_XLSX, "/nonexistent/dir/x.xlsx", &m, err,
			  sizeof(err)) == NULL);
}

/* A row error is sticky and close reports it with the path. */
static void test_close_after_error(void)
{
	struct render_meta m = trap_meta();
	char err[256] = "";
	struct render *r =
	    render_open(FMT_JSON, "/dev/full", &m, err, sizeof(err));
	int rc = 0;

	if (!r || access("/dev/full", W_OK) != 0) {
		render_abort(r);
		return;
	}
	for (int i = 0; i < 20000 && rc == 0; i++)
		rc = render_row(r, trap_rows[0]);
	CHECK_INT(rc, -ENOSPC);
	CHECK_INT(render_row(r, trap_rows[0]), -ENOSPC);
	CHECK_INT(render_close(r, err, sizeof(err)), -ENOSPC);
	CHECK(strstr(err, "/dev/full") != NULL);
}

static int count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* Abort leaves nothing open: not the file, not the XLSX scratch files. */
static void test_abort(void)
{
	struct render_meta m = trap_meta();
	char path[256], err[256];
	int before = count_fds();

	for (int f = 0; f < FMT_COUNT; f++) {
		struct render *r;

		snprintf(path, sizeof(path), "%s/abort.%s", tmpdir,
			 render_fmt_ext(f));
		r = render_open(f, path, &m, err, sizeof(err));
		CHECK(r != NULL);
		for (int i = 0; r && i < 1000; i++)
			CHECK_INT(render_row(r, trap_rows[i % 5]), 0);
		render_abort(r);
		unlink(path);
	}
	CHECK_INT(count_fds(), before);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 77;
	}
	test_ext();
	test_trap_csv_json();
	test_trap_html();
	test_html_english();
	test_html_cap();
	test_json_edges();
	test_csv_edges();
	test_full_disk();
	test_close_after_error();
	test_abort();
	rmdir(tmpdir);
	return tap_done("render");
}
