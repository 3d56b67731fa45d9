/*
 * render_tool: renders a table read from standard input into every
 * format (or those of --formats), for the read-back tests and the
 * benchmarks.  The input is text, one line per row:
 *
 *   line 1   column names, TAB-separated
 *   line 2   column types: text int decimal decimal(P,S) float bool date
 *            time timestamp binary
 *   then     one row per line, cells TAB-separated
 *
 * In names and cells \\ \t \n \r and \xHH stand for a backslash, TAB,
 * LF, CR and any byte; a cell that is exactly \N is NULL.  Files are
 * written as OUTDIR/NAME.EXT; on error the partial files are removed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "render.h"
#include "util.h"

#define TOOL_MAX_COLS 16384

struct tool {
	struct render_meta meta;
	struct col_desc *cols;
	unsigned formats;
	const char *outdir;
	char *paths[FMT_COUNT];
	struct render *r[FMT_COUNT];
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escapes of one field in place; returns its new length. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			s[o++] = s[i];
			continue;
		}
		switch (s[++i]) {
		case 't':
			s[o++] = '\t';
			break;
		case 'n':
			s[o++] = '\n';
			break;
		case 'r':
			s[o++] = '\r';
			break;
		case 'x':
			if (i + 2 < n && hexval(s[i + 1]) >= 0 &&
			    hexval(s[i + 2]) >= 0) {
				s[o++] = (char)(hexval(s[i + 1]) << 4 |
						hexval(s[i + 2]));
				i += 2;
				break;
			}
			/* fall through */
		default:
			s[o++] = s[i];
		}
	}
	return o;
}

/* Splits @line at TABs into at most @max cells; returns the count. */
static size_t split(char *line, size_t len, struct cell *cells, size_t max)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (n == max)
			return max + 1;
		cells[n].p = line + start;
		cells[n].null = i - start == 2 && line[start] == '\\' &&
				line[start + 1] == 'N';
		cells[n].len =
		    cells[n].null ? 0 : unescape(line + start, i - start);
		n++;
		start = i + 1;
	}
	return n;
}

static int parse_type(const char *s, struct col_desc *c)
{
	static const struct {
		const char *name;
		enum col_type type;
	} types[] = {
	    {"text", COL_TEXT},	      {"int", COL_INT},
	    {"decimal", COL_DECIMAL}, {"float", COL_FLOAT},
	    {"bool", COL_BOOL},	      {"date", COL_DATE},
	    {"time", COL_TIME},	      {"timestamp", COL_TIMESTAMP},
	    {"binary", COL_BINARY},
	};

	c->precision = 0;
	c->scale = -1;
	if (sscanf(s, "decimal(%d,%d)", &c->precision, &c->scale) == 2) {
		c->type = COL_DECIMAL;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		if (strcmp(s, types[i].name) == 0) {
			c->type = types[i].type;
			return 0;
		}
	}
	fprintf(stderr, "render_tool: unknown column type \"%s\"\n", s);
	return -1;
}

static ssize_t read_line(char **line, size_t *cap, FILE *in)
{
	ssize_t n = getline(line, cap, in);

	if (n > 0 && (*line)[n - 1] == '\n')
		(*line)[--n] = '\0';
	return n;
}

/* Reads the names line into t->cols; the types line is next. */
static int read_names(struct tool *t, char **line, size_t *cap,
		      struct cell *cells)
{
	ssize_t n = read_line(line, cap, stdin);

	if (n < 0)
		return -1;
	t->meta.ncols = split(*line, (size_t)n, cells, TOOL_MAX_COLS);
	if (t->meta.ncols > TOOL_MAX_COLS)
		return -1;
	t->cols = calloc(t->meta.ncols + 1, sizeof(*t->cols));
	if (!t->cols)
		return -1;
	for (size_t i = 0; i < t->meta.ncols; i++) {
		t->cols[i].name = xstrndup(cells[i].p, cells[i].len);
		if (!t->cols[i].name)
			return -1;
	}
	t->meta.cols = t->cols;
	return 0;
}

static int read_types(struct tool *t, char **line, size_t *cap,
		      struct cell *cells)
{
	ssize_t n = read_line(line, cap, stdin);

	if (n < 0 ||
	    split(*line, (size_t)n, cells, TOOL_MAX_COLS) != t->meta.ncols)
		return -1;
	for (size_t i = 0; i < t->meta.ncols; i++) {
		(*line)[cells[i].p - *line + cells[i].len] = '\0';
		if (parse_type(cells[i].p, &t->cols[i]) < 0)
			return -1;
	}
	return 0;
}

static int read_columns(struct tool *t, char **line, size_t *cap)
{
	struct cell *cells = calloc(TOOL_MAX_COLS + 1, sizeof(*cells));
	int rc = -1;

	if (cells && read_names(t, line, cap, cells) == 0)
		rc = read_types(t, line, cap, cells);
	free(cells);
	return rc;
}

static int open_all(struct tool *t)
{
	char err[512];

	for (int f = 0; f < FMT_COUNT; f++) {
		struct strbuf sb = STRBUF_INIT;

		if (!(t->formats & 1u << f))
			continue;
		strbuf_addf(&sb, "%s/%s.%s", t->outdir, t->meta.name,
			    render_fmt_ext(f));
		t->paths[f] = strbuf_detach(&sb);
		t->r[f] =
		    render_open(f, t->paths[f], &t->meta, err, sizeof(err));
		if (!t->r[f]) {
			fprintf(stderr, "render_tool: %s\n", err);
			return -1;
		}
	}
	return 0;
}

static int feed_rows(struct tool *t, char **line, size_t *cap)
{
	struct cell *cells = calloc(t->meta.ncols + 1, sizeof(*cells));
	unsigned long lineno = 2;
	ssize_t n;
	int rc = 0;

	while (cells && rc == 0 && (n = read_line(line, cap, stdin)) >= 0) {
		lineno++;
		if (split(*line, (size_t)n, cells, t->meta.ncols) !=
		    t->meta.ncols) {
			fprintf(stderr,
				"render_tool: line %lu: not %zu cells\n",
				lineno, t->meta.ncols);
			rc = -1;
		}
		for (int f = 0; f < FMT_COUNT && rc == 0; f++) {
			rc = t->r[f] ? render_row(t->r[f], cells) : 0;
			if (rc < 0)
				fprintf(stderr,
					"render_tool: %s: row %lu: %s\n",
					t->paths[f], lineno - 2, strerror(-rc));
		}
	}
	free(cells);
	return cells ? rc : -1;
}

static int close_all(struct tool *t, bool ok)
{
	char err[512];
	int rc = ok ? 0 : -1;

	for (int f = 0; f < FMT_COUNT; f++) {
		if (!t->r[f])
			continue;
		if (!ok) {
			render_abort(t->r[f]);
		} else if (render_close(t->r[f], err, sizeof(err)) < 0) {
			fprintf(stderr, "render_tool: %s\n", err);
			rc = -1;
		}
		t->r[f] = NULL;
	}
	for (int f = 0; f < FMT_COUNT; f++) {
		if (rc < 0 && t->paths[f])
			unlink(t->paths[f]);
		free(t->paths[f]);
	}
	return rc;
}

static unsigned parse_formats(const char *list)
{
	char *copy = xstrdup(list), *save = NULL, *tok;
	unsigned mask = 0;
	int f;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		f = render_fmt_parse(tok);
		if (f < 0) {
			fprintf(stderr, "render_tool: unknown format %s\n",
				tok);
			mask = 0;
			break;
		}
		mask |= 1u << f;
	}
	free(copy);
	return mask;
}

static void usage(void)
{
	fputs("usage: render_tool [--formats xlsx,csv,json,html] [--name N]\n"
	      "  [--title T] [--source S] [--timezone Z] [--generated EPOCH]\n"
	      "  [--csv rfc4180|excel-tr] [--tr-numbers 0|1] [--html-cap N]\n"
	      "  [--tmpdir DIR] OUTDIR < table\n",
	      stderr);
}

static int parse_args(struct tool *t, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"formats", 1, NULL, 'f'},	{"name", 1, NULL, 'n'},
	    {"title", 1, NULL, 't'},	{"source", 1, NULL, 's'},
	    {"timezone", 1, NULL, 'z'}, {"generated", 1, NULL, 'g'},
	    {"csv", 1, NULL, 'c'},	{"tr-numbers", 1, NULL, 'r'},
	    {"html-cap", 1, NULL, 'h'}, {"tmpdir", 1, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'f':
			t->formats = parse_formats(optarg);
			break;
		case 'n':
			t->meta.name = optarg;
			break;
		case 't':
			t->meta.title = optarg;
			break;
		case 's':
			t->meta.source = optarg;
			break;
		case 'z':
			t->meta.timezone = optarg;
			break;
		case 'g':
			t->meta.generated = (time_t)strtoll(optarg, NULL, 10);
			break;
		case 'c':
			t->meta.csv = strcmp(optarg, "excel-tr") == 0
					  ? CSV_EXCEL_TR
					  : CSV_RFC4180;
			break;
		case 'r':
			t->meta.tr_numbers = atoi(optarg);
			break;
		case 'h':
			t->meta.html_row_cap = atol(optarg);
			break;
		case 'd':
			t->meta.tmpdir = optarg;
			break;
		default:
			return -1;
		}
	}
	if (optind + 1 != argc || !t->formats)
		return -1;
	t->outdir = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	struct tool t = {
	    .meta = {.name = "report", .source = "stdin", .tr_numbers = 1},
	    .formats = (1u << FMT_COUNT) - 1,
	};
	char *line = NULL;
	size_t cap = 0;
	int rc;

	t.meta.generated = time(NULL);
	if (parse_args(&t, argc, argv) < 0) {
		usage();
		return 2;
	}
	if (read_columns(&t, &line, &cap) < 0) {
		fputs("render_tool: bad or missing column lines\n", stderr);
		return 1;
	}
	rc = open_all(&t);
	if (rc == 0)
		rc = feed_rows(&t, &line, &cap);
	rc = close_all(&t, rc == 0);
	free(line);
	for (size_t i = 0; i < t.meta.ncols; i++)
		free(t.cols[i].name);
	free(t.cols);
	return rc < 0 ? 1 : 0;
}
