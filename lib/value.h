/*
 * value: the column type model every driver fills and every renderer
 * reads.  A cell travels as text in one canonical form per type, so
 * values stay exact from the source to the file (a numeric(19,6) never
 * passes through a double); renderers format by type, never by guessing.
 */
#ifndef SAPB1_VALUE_H
#define SAPB1_VALUE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Canonical cell text per type (what drivers must produce):
 *   COL_TEXT       UTF-8 bytes as stored
 *   COL_INT        [-]digits
 *   COL_DECIMAL    [-]digits[.digits], the source's exact digits
 *   COL_FLOAT      [-]digits[.digits][e[+-]digits], or NaN, Infinity,
 *                  -Infinity: the source's shortest round-trip text
 *   COL_BOOL       "true" or "false"
 *   COL_DATE       YYYY-MM-DD (years before 1000 zero-padded, BC as
 *                  negative year is not produced)
 *   COL_TIME       HH:MM:SS[.fraction]
 *   COL_TIMESTAMP  YYYY-MM-DD HH:MM:SS[.fraction][+HH[:MM]|Z]
 *   COL_BINARY     raw bytes (renderers encode them)
 */
enum col_type {
	COL_TEXT,
	COL_INT,
	COL_DECIMAL,
	COL_FLOAT,
	COL_BOOL,
	COL_DATE,
	COL_TIME,
	COL_TIMESTAMP,
	COL_BINARY,
};

struct col_desc {
	char *name; /* UTF-8 column label */
	enum col_type type;
	int precision; /* decimal digits, 0 when unknown */
	int scale;     /* digits after the point, -1 when unknown */
};

/* One value: @p is not NUL-terminated; @null distinguishes NULL from "". */
struct cell {
	const char *p;
	size_t len;
	bool null;
};

/* "text", "integer", ... for logs and docs. */
const char *col_type_name(enum col_type t);

/* True for types a spreadsheet holds as numbers. */
static inline bool col_type_numeric(enum col_type t)
{
	return t == COL_INT || t == COL_DECIMAL || t == COL_FLOAT;
}

#endif
