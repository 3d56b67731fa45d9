/*
 * render: turns a stream of rows into one output file, in one of the
 * formats (CSV, JSON, XLSX, HTML).  Each format is one file behind the
 * small interface below; all of them stream, so memory does not grow
 * with the number of rows.  The caller owns the path: on failure it
 * unlinks the partial file.
 */
#ifndef SAPB1_RENDER_H
#define SAPB1_RENDER_H

#include <stdint.h>
#include <time.h>

#include "value.h"

enum render_fmt {
	FMT_XLSX,
	FMT_CSV,
	FMT_JSON,
	FMT_HTML,
	FMT_MAIL, /* "mail.html": HTML cut at html_row_cap, a mail's body */
	FMT_COUNT,
};

/* The formats a definition may list; FMT_MAIL is made for mail only. */
#define FMT_USER_MASK ((1u << FMT_MAIL) - 1)
/* Rows a mail body shows before "N more rows, all in the attachment". */
#define MAIL_BODY_ROWS 200

enum csv_dialect {
	CSV_RFC4180,  /* ',', '.', CRLF, no BOM (RFC 4180) */
	CSV_EXCEL_TR, /* ';', decimal comma, UTF-8 BOM, CRLF */
};

struct render_meta {
	const char *name;     /* report folder name */
	const char *title;    /* -- title:, or the name */
	const char *source;   /* source section name */
	time_t generated;     /* when the run started */
	const char *timezone; /* IANA name for showing @generated, or NULL */
	size_t ncols;
	const struct col_desc *cols;
	enum csv_dialect csv;
	int tr_numbers;	    /* HTML: 1.234.567,89 grouping */
	long html_row_cap;  /* HTML: rows shown before "N more"; 0 = all */
	const char *tmpdir; /* scratch space (XLSX), same fs as the path */
};

struct render;

/* "xlsx", "csv", "json", "html". */
const char *render_fmt_ext(enum render_fmt f);
/* The format for an extension, or -1. */
int render_fmt_parse(const char *ext);

/*
 * Starts writing @path (created, truncated) in format @f.  Returns NULL
 * with a reason in @err on failure.
 */
struct render *render_open(enum render_fmt f, const char *path,
			   const struct render_meta *m, char *err,
			   size_t errlen);

/* Adds one row of m->ncols cells; 0 or -errno (ENOSPC, EIO...). */
int render_row(struct render *r, const struct cell *cells);

/*
 * Finishes the file (footer, row count, flush, close) and frees @r.
 * 0 or -errno with a reason in @err; @r is freed either way.
 */
int render_close(struct render *r, char *err, size_t errlen);

/* Frees @r without finishing the file (the caller unlinks it). */
void render_abort(struct render *r);

#endif
