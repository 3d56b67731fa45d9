/*
 * odbc: the unixODBC source driver (HANA, MSSQL, SQLite...); see
 * driver.h.
 *
 * Rows come in blocks: each column is bound to an array of
 * ODBC_BLOCK_ROWS values at most, sized from the column's declared size,
 * so memory stays bounded whatever the row count.  A long or unbounded
 * column (LONGVARCHAR, size 0 or past ODBC_CELL_CAP), or a driver whose
 * declared sizes mean nothing (SQLite), switches the result to one row
 * per SQLFetch with SQLGetData in pieces.  A value longer than its
 * declared size is read again with SQLSetPos + SQLGetData when the
 * driver can, and is an error otherwise: never cut silently.
 *
 * Text is fetched as SQL_C_CHAR and assumed UTF-8 (psqlODBC's Unicode
 * driver and SQLite's give UTF-8; HANA needs CHAR_AS_UTF8, FreeTDS
 * ClientCharset=UTF-8).  Floats are fetched as binary doubles and
 * printed in their shortest round-trip form; every other type keeps the
 * driver's text, put into value.h's canonical form.
 */
#include "config.h"
#include "driver.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sql.h>
#include <sqlext.h>

#include "report.h"
#include "util.h"

#define ODBC_CELL_CAP (64 * 1024)	   /* widest value bound in blocks */
#define ODBC_BLOCK_ROWS 256		   /* rows per block at most */
#define ODBC_BLOCK_BYTES (4 * 1024 * 1024) /* bound buffers of a block */
#define ODBC_PIECE_MIN 256		   /* first SQLGetData piece */
#define ODBC_PIECE_MAX (1024 * 1024)	   /* largest piece */

/* SQL Server's own types (msodbcsql's sqlncli.h), read as text. */
#define ODBC_SS_TIME2 (-154)
#define ODBC_SS_TIMESTAMPOFFSET (-155)

/* SQL_GETDATA_EXTENSIONS a driver needs to re-read one bound value. */
#define ODBC_GD_REREAD                                                         \
	(SQL_GD_ANY_COLUMN | SQL_GD_ANY_ORDER | SQL_GD_BLOCK | SQL_GD_BOUND)

struct odbc_col {
	SQLSMALLINT ctype;   /* SQL_C_CHAR, SQL_C_BINARY, SQL_C_DOUBLE... */
	SQLLEN width;	     /* bytes of one bound value; 0: unbounded */
	char *buf;	     /* block: ODBC_BLOCK_ROWS * width bytes */
	SQLLEN *ind;	     /* block: one indicator per row */
	struct strbuf text;  /* values read by SQLGetData */
	struct strbuf canon; /* a value rewritten into canonical form */
	char num[40];	     /* a float printed */
};

struct drv_conn {
	SQLHENV env;
	SQLHDBC dbc;
	SQLHSTMT stmt;
	char *password; /* only to scrub it out of driver messages */
	int timeout;	/* seconds; 0: none */
	SQLUINTEGER gd; /* SQL_GETDATA_EXTENSIONS */
	bool loose;	/* declared sizes are not enforced (SQLite) */

	struct drv_cancel cx;

	bool open;  /* a result is being read */
	bool done;  /* SQLFetch said SQL_NO_DATA */
	bool block; /* bound arrays, else SQLGetData per row */
	SQLULEN nrows, fetched, pos;
	SQLUSMALLINT *status;

	struct col_desc *cols;
	struct odbc_col *oc;
	struct cell *cells;
	size_t ncols;
};

/* Overwrites every copy of the password in @s: drivers may echo it. */
static void odbc_scrub(const struct drv_conn *c, char *s)
{
	size_t n = c->password ? strlen(c->password) : 0;
	char *p = s;

	if (n == 0)
		return;
	while ((p = strstr(p, c->password)) != NULL) {
		memset(p, '*', n);
		p += n;
	}
}

/*
 * Collects the diagnostic records of @h into @err as "message (SQLSTATE
 * xxxxx); ..." and the first record's SQLSTATE into @state.
 */
static void odbc_diag(const struct drv_conn *c, SQLSMALLINT type, SQLHANDLE h,
		      char state[6], char *err, size_t errlen)
{
	SQLCHAR st[6], msg[1024];
	SQLINTEGER native;
	SQLSMALLINT len;
	size_t used = 0;

	state[0] = '\0';
	err[0] = '\0';
	for (SQLSMALLINT i = 1; i <= 3 && used + 1 < errlen; i++) {
		if (!SQL_SUCCEEDED(SQLGetDiagRec(type, h, i, st, &native, msg,
						 sizeof(msg), &len)))
			break;
		if (i == 1)
			memcpy(state, st, 6);
		drv_flatten((char *)msg);
		snprintf(err + used, errlen - used, "%s%s (SQLSTATE %s)",
			 i > 1 ? "; " : "", (char *)msg, (char *)st);
		used = strlen(err);
	}
	if (!err[0])
		snprintf(err, errlen, "the ODBC driver gave no reason");
	odbc_scrub(c, err);
}

static bool odbc_dead(const struct drv_conn *c)
{
	SQLUINTEGER dead = SQL_CD_FALSE;

	if (!SQL_SUCCEEDED(SQLGetConnectAttr(c->dbc, SQL_ATTR_CONNECTION_DEAD,
					     &dead, 0, NULL)))
		return false;
	return dead == SQL_CD_TRUE;
}

static bool odbc_mentions(const char *msg, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		if (strcasestr(msg, words[i]))
			return true;
	return false;
}

/* What a failed statement call means for the caller. */
static int odbc_class(const struct drv_conn *c, const char *state,
		      const char *msg)
{
	static const char *const lost[] = {
	    "lost", "dead", "closed", "broken", "terminat", "reset", NULL};

	if (drv_cancel_fired(&c->cx) || !strcmp(state, "HY008") ||
	    !strcmp(state, "HYT00") || !strcmp(state, "57014"))
		return DRV_ERR_TIMEOUT;
	if (!strncmp(state, "08", 2) || !strcmp(state, "HYT01") ||
	    !strncmp(state, "57P", 3))
		return DRV_ERR_CONN;
	if (!strncmp(state, "28", 2))
		return DRV_ERR_AUTH;
	if (odbc_dead(c))
		return DRV_ERR_CONN;
	if (!strcmp(state, "HY000") && strcasestr(msg, "connection") &&
	    odbc_mentions(msg, lost))
		return DRV_ERR_CONN;
	return DRV_ERR_QUERY;
}

static int odbc_stmt_error(struct drv_conn *c, char *err, size_t errlen)
{
	char state[6];

	odbc_diag(c, SQL_HANDLE_STMT, c->stmt, state, err, errlen);
	return odbc_class(c, state, err);
}

/* Appends "KEY=value;" quoting the value in braces when it needs it. */
static int odbc_add_key(struct strbuf *sb, const char *key, const char *v)
{
	size_t n = strlen(v);
	int rc = strbuf_adds(sb, key);

	if (!strpbrk(v, ";{}") && n && v[0] != ' ' && v[n - 1] != ' ')
		return rc | strbuf_adds(sb, v) | strbuf_addc(sb, ';');
	rc |= strbuf_addc(sb, '{');
	for (; *v; v++) {
		rc |= strbuf_addc(sb, *v);
		if (*v == '}')
			rc |= strbuf_addc(sb, '}');
	}
	return rc | strbuf_adds(sb, "};");
}

static int odbc_connstr(const struct conf_source *src, struct strbuf *sb)
{
	const char *cs = src->connection ? src->connection : "";
	size_t n = strlen(cs);
	int rc = strbuf_adds(sb, cs);

	if (n && cs[n - 1] != ';')
		rc |= strbuf_addc(sb, ';');
	if (src->user && *src->user)
		rc |= odbc_add_key(sb, "UID=", src->user);
	if (src->password && *src->password)
		rc |= odbc_add_key(sb, "PWD=", src->password);
	return rc;
}

static int odbc_connect_error(struct drv_conn *c, char *err, size_t errlen)
{
	static const char *const refused[] = {"authentication failed",
					      "login failed", "password", NULL};
	char state[6];

	odbc_diag(c, SQL_HANDLE_DBC, c->dbc, state, err, errlen);
	if (!strncmp(state, "28", 2))
		return DRV_ERR_AUTH;
	/* psqlODBC reports a refused login as 08001 with the server text */
	if (!strcmp(state, "08001") && odbc_mentions(err, refused))
		return DRV_ERR_AUTH;
	return DRV_ERR_CONN;
}

static int odbc_alloc(struct drv_conn *c, char *err, size_t errlen)
{
	if (!SQL_SUCCEEDED(
		SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &c->env)))
		return drv_fail(DRV_ERR_CONN, err, errlen,
				"cannot start the ODBC environment");
	SQLSetEnvAttr(c->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3,
		      0);
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, c->env, &c->dbc)))
		return drv_fail(DRV_ERR_CONN, err, errlen,
				"cannot make an ODBC connection handle");
	return DRV_OK;
}

/* Timeouts are hints: drivers that do not know them are not an error. */
static void odbc_set_timeouts(struct drv_conn *c, int timeout_ms)
{
	SQLULEN login = timeout_ms > 0 ? ((SQLULEN)timeout_ms + 999) / 1000 : 0;

	SQLSetConnectAttr(c->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)login, 0);
	if (c->timeout > 0)
		SQLSetConnectAttr(c->dbc, SQL_ATTR_CONNECTION_TIMEOUT,
				  (SQLPOINTER)(SQLULEN)c->timeout, 0);
}

static void odbc_probe(struct drv_conn *c)
{
	char dbms[64] = "";
	SQLSMALLINT len;

	if (!SQL_SUCCEEDED(SQLGetInfo(c->dbc, SQL_GETDATA_EXTENSIONS, &c->gd,
				      sizeof(c->gd), NULL)))
		c->gd = 0;
	SQLGetInfo(c->dbc, SQL_DBMS_NAME, dbms, sizeof(dbms), &len);
	/* SQLite stores any length in a varchar(5) and says 5 */
	c->loose = strncasecmp(dbms, "sqlite", 6) == 0;
}

static int odbc_open(struct drv_conn *c, const struct conf_source *src,
		     char *err, size_t errlen)
{
	struct strbuf cs = STRBUF_INIT;
	SQLRETURN r;

	if (odbc_connstr(src, &cs)) {
		strbuf_release(&cs);
		return drv_fail(DRV_ERR_CONN, err, errlen, "out of memory");
	}
	r = SQLDriverConnect(c->dbc, NULL, (SQLCHAR *)cs.buf, SQL_NTS, NULL, 0,
			     NULL, SQL_DRIVER_NOPROMPT);
	explicit_bzero(cs.buf, cs.len);
	strbuf_release(&cs);
	if (!SQL_SUCCEEDED(r))
		return odbc_connect_error(c, err, errlen);
	odbc_probe(c);
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &c->stmt))) {
		char state[6];

		odbc_diag(c, SQL_HANDLE_DBC, c->dbc, state, err, errlen);
		SQLDisconnect(c->dbc);
		c->stmt = SQL_NULL_HANDLE;
		return DRV_ERR_CONN;
	}
	return DRV_OK;
}

/* Runs in a thread of drv_cancel: psqlODBC connects to send it. */
static void odbc_cancel_send(struct drv_conn *c)
{
	if (c->stmt)
		SQLCancel(c->stmt);
}

static void odbc_cancel(struct drv_conn *c)
{
	drv_cancel_fire(&c->cx);
}

static void odbc_free(struct drv_conn *c)
{
	if (c->dbc)
		SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
	if (c->env)
		SQLFreeHandle(SQL_HANDLE_ENV, c->env);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	drv_cancel_destroy(&c->cx);
	free(c);
}

static int odbc_connect(const struct conf_source *src, int timeout_ms,
			struct drv_conn **out, char *err, size_t errlen)
{
	struct drv_conn *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return drv_fail(DRV_ERR_CONN, err, errlen, "out of memory");
	drv_cancel_init(&c->cx, c, odbc_cancel_send);
	c->timeout = src->timeout;
	if (src->password && *src->password) {
		c->password = xstrdup(src->password);
		if (!c->password) {
			rc = drv_fail(DRV_ERR_CONN, err, errlen,
				      "out of memory");
			goto out_free;
		}
	}
	rc = odbc_alloc(c, err, errlen);
	if (rc)
		goto out_free;
	odbc_set_timeouts(c, timeout_ms);
	rc = odbc_open(c, src, err, errlen);
	if (rc)
		goto out_free;
	*out = c;
	return DRV_OK;

out_free:
	odbc_free(c);
	return rc;
}

static void odbc_cols_free(struct drv_conn *c)
{
	for (size_t i = 0; i < c->ncols; i++) {
		free(c->cols[i].name);
		free(c->oc[i].buf);
		free(c->oc[i].ind);
		strbuf_release(&c->oc[i].text);
		strbuf_release(&c->oc[i].canon);
	}
	free(c->cols);
	free(c->oc);
	free(c->cells);
	free(c->status);
	c->cols = NULL;
	c->oc = NULL;
	c->cells = NULL;
	c->status = NULL;
	c->ncols = 0;
}

/* Closes the cursor; the statement handle is kept for the next run. */
static void odbc_finish(struct drv_conn *c)
{
	if (!c->stmt)
		return;
	/* a watchdog's cancel from now on finds the handle idle */
	drv_cancel_busy(&c->cx, false);
	/* a cancel ends a half-read result faster than draining it */
	if (c->open && !c->done)
		SQLCancel(c->stmt);
	SQLFreeStmt(c->stmt, SQL_CLOSE);
	SQLFreeStmt(c->stmt, SQL_UNBIND);
	SQLFreeStmt(c->stmt, SQL_RESET_PARAMS);
	if (c->block) {
		SQLSetStmtAttr(c->stmt, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)1,
			       0);
		SQLSetStmtAttr(c->stmt, SQL_ATTR_ROWS_FETCHED_PTR, NULL, 0);
		SQLSetStmtAttr(c->stmt, SQL_ATTR_ROW_STATUS_PTR, NULL, 0);
	}
	c->open = c->done = c->block = false;
	c->fetched = c->pos = 0;
	odbc_cols_free(c);
}

static void odbc_disconnect(struct drv_conn *c)
{
	SQLHSTMT stmt;

	if (!c)
		return;
	odbc_finish(c);
	drv_cancel_wait(&c->cx);
	stmt = c->stmt;
	c->stmt = SQL_NULL_HANDLE;
	if (stmt) {
		SQLFreeHandle(SQL_HANDLE_STMT, stmt);
		SQLDisconnect(c->dbc);
	}
	odbc_free(c);
}

/* Binds each "?" to the value of its name, as text. */
static int odbc_bind(struct drv_conn *c, char **names, size_t n,
		     const struct drv_param *params, size_t nparams,
		     SQLLEN *ind, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = NULL;
		size_t j, len;

		for (j = 0; j < nparams; j++)
			if (strcmp(params[j].name, names[i]) == 0)
				break;
		if (j == nparams)
			return drv_fail(DRV_ERR_QUERY, err, errlen,
					"no value for parameter :%s", names[i]);
		v = params[j].value;
		len = v ? strlen(v) : 0;
		ind[i] = v ? (SQLLEN)len : SQL_NULL_DATA;
		if (!SQL_SUCCEEDED(SQLBindParameter(
			c->stmt, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT,
			SQL_C_CHAR, SQL_VARCHAR, len ? len : 1, 0,
			(SQLPOINTER)(v ? v : ""), (SQLLEN)len + 1, &ind[i])))
			return odbc_stmt_error(c, err, errlen);
	}
	return DRV_OK;
}

static enum col_type odbc_col_type(SQLSMALLINT t)
{
	switch (t) {
	case SQL_INTEGER:
	case SQL_SMALLINT:
	case SQL_TINYINT:
	case SQL_BIGINT:
		return COL_INT;
	case SQL_DECIMAL:
	case SQL_NUMERIC:
		return COL_DECIMAL;
	case SQL_REAL:
	case SQL_FLOAT:
	case SQL_DOUBLE:
		return COL_FLOAT;
	case SQL_BIT:
		return COL_BOOL;
	case SQL_TYPE_DATE:
	case SQL_DATE:
		return COL_DATE;
	case SQL_TYPE_TIME:
	case SQL_TIME:
	case ODBC_SS_TIME2:
		return COL_TIME;
	case SQL_TYPE_TIMESTAMP:
	case SQL_TIMESTAMP:
	case ODBC_SS_TIMESTAMPOFFSET:
		return COL_TIMESTAMP;
	case SQL_BINARY:
	case SQL_VARBINARY:
	case SQL_LONGVARBINARY:
		return COL_BINARY;
	default:
		return COL_TEXT;
	}
}

/* The C type and bound width of a column; width 0 means unbounded. */
static void odbc_col_layout(SQLSMALLINT sqltype, SQLULEN size,
			    enum col_type type, struct odbc_col *oc)
{
	SQLULEN w;

	oc->ctype = SQL_C_CHAR;
	switch (type) {
	case COL_FLOAT:
		oc->ctype = sqltype == SQL_REAL ? SQL_C_FLOAT : SQL_C_DOUBLE;
		oc->width =
		    sqltype == SQL_REAL ? sizeof(SQLREAL) : sizeof(SQLDOUBLE);
		return;
	case COL_INT:
	case COL_BOOL:
		w = 32;
		break;
	case COL_DECIMAL:
	case COL_DATE:
	case COL_TIME:
	case COL_TIMESTAMP:
		w = size + 3 > 64 ? size + 3 : 64;
		break;
	case COL_BINARY:
		oc->ctype = SQL_C_BINARY;
		w = size;
		break;
	default:
		/* a character can take four bytes of UTF-8 */
		w = size > ODBC_CELL_CAP ? 0 : size * 4 + 1;
		break;
	}
	if (sqltype == SQL_LONGVARCHAR || sqltype == SQL_WLONGVARCHAR ||
	    sqltype == SQL_LONGVARBINARY || w > ODBC_CELL_CAP)
		w = 0;
	oc->width = (SQLLEN)w;
}

static int odbc_describe_col(struct drv_conn *c, SQLUSMALLINT i, char *err,
			     size_t errlen)
{
	SQLCHAR name[256];
	SQLSMALLINT nlen = 0, sqltype, digits, nullable;
	SQLULEN size;
	struct col_desc *d = &c->cols[i];

	if (!SQL_SUCCEEDED(SQLDescribeCol(c->stmt, i + 1, name, sizeof(name),
					  &nlen, &sqltype, &size, &digits,
					  &nullable)))
		return odbc_stmt_error(c, err, errlen);
	if (nlen >= (SQLSMALLINT)sizeof(name)) {
		SQLCHAR *big = malloc((size_t)nlen + 1);

		if (big && SQL_SUCCEEDED(SQLDescribeCol(
			       c->stmt, i + 1, big, (SQLSMALLINT)(nlen + 1),
			       &nlen, NULL, NULL, NULL, NULL)))
			d->name = (char *)big;
		else
			free(big);
	} else {
		d->name = xstrdup((char *)name);
	}
	if (!d->name)
		return drv_fail(DRV_ERR_QUERY, err, errlen, "out of memory");
	d->type = odbc_col_type(sqltype);
	d->scale = -1;
	if (d->type == COL_DECIMAL) {
		d->precision = (int)size;
		d->scale = digits;
	}
	odbc_col_layout(sqltype, size, d->type, &c->oc[i]);
	return DRV_OK;
}

static int odbc_describe(struct drv_conn *c, char *err, size_t errlen)
{
	SQLSMALLINT n = 0;
	int rc;

	if (!SQL_SUCCEEDED(SQLNumResultCols(c->stmt, &n)))
		return odbc_stmt_error(c, err, errlen);
	if (n < 0)
		n = 0;
	c->cols = calloc(n ? (size_t)n : 1, sizeof(*c->cols));
	c->oc = calloc(n ? (size_t)n : 1, sizeof(*c->oc));
	c->cells = calloc(n ? (size_t)n : 1, sizeof(*c->cells));
	if (!c->cols || !c->oc || !c->cells)
		return drv_fail(DRV_ERR_QUERY, err, errlen, "out of memory");
	c->ncols = (size_t)n;
	for (SQLSMALLINT i = 0; i < n; i++) {
		rc = odbc_describe_col(c, (SQLUSMALLINT)i, err, errlen);
		if (rc)
			return rc;
	}
	return DRV_OK;
}

/* Rows per block: as many as fit ODBC_BLOCK_BYTES, 1 to 256. */
static SQLULEN odbc_block_rows(const struct drv_conn *c)
{
	size_t row = 1;

	for (size_t i = 0; i < c->ncols; i++)
		row += (size_t)c->oc[i].width + sizeof(SQLLEN);
	row = ODBC_BLOCK_BYTES / row;
	if (row > ODBC_BLOCK_ROWS)
		row = ODBC_BLOCK_ROWS;
	return row ? row : 1;
}

static bool odbc_can_block(const struct drv_conn *c)
{
	if (c->loose || c->ncols == 0)
		return false;
	for (size_t i = 0; i < c->ncols; i++)
		if (c->oc[i].width == 0)
			return false;
	return true;
}

static int odbc_bind_cols(struct drv_conn *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->ncols; i++) {
		struct odbc_col *oc = &c->oc[i];

		oc->buf = malloc(c->nrows * (size_t)oc->width);
		oc->ind = calloc(c->nrows, sizeof(*oc->ind));
		if (!oc->buf || !oc->ind)
			return drv_fail(DRV_ERR_QUERY, err, errlen,
					"out of memory");
		if (!SQL_SUCCEEDED(SQLBindCol(c->stmt, (SQLUSMALLINT)(i + 1),
					      oc->ctype, oc->buf, oc->width,
					      oc->ind)))
			return odbc_stmt_error(c, err, errlen);
	}
	return DRV_OK;
}

/* Sets up block fetch; a driver that refuses arrays gets rows of 1. */
static int odbc_setup_block(struct drv_conn *c, char *err, size_t errlen)
{
	SQLULEN want = odbc_block_rows(c);

	c->block = true;
	SQLSetStmtAttr(c->stmt, SQL_ATTR_ROW_BIND_TYPE,
		       (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
	SQLSetStmtAttr(c->stmt, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)want, 0);
	c->nrows = 1;
	if (!SQL_SUCCEEDED(SQLGetStmtAttr(c->stmt, SQL_ATTR_ROW_ARRAY_SIZE,
					  &c->nrows, 0, NULL)) ||
	    c->nrows == 0 || c->nrows > want)
		c->nrows = 1;
	c->status = calloc(c->nrows, sizeof(*c->status));
	if (!c->status)
		return drv_fail(DRV_ERR_QUERY, err, errlen, "out of memory");
	SQLSetStmtAttr(c->stmt, SQL_ATTR_ROWS_FETCHED_PTR, &c->fetched, 0);
	SQLSetStmtAttr(c->stmt, SQL_ATTR_ROW_STATUS_PTR, c->status, 0);
	return odbc_bind_cols(c, err, errlen);
}

static int odbc_run(struct drv_conn *c, const char *text, char **names,
		    size_t n, const struct drv_param *params, size_t nparams,
		    char *err, size_t errlen)
{
	SQLLEN *ind = calloc(n ? n : 1, sizeof(*ind));
	SQLRETURN r;
	int rc;

	if (!ind)
		return drv_fail(DRV_ERR_QUERY, err, errlen, "out of memory");
	rc = odbc_bind(c, names, n, params, nparams, ind, err, errlen);
	if (rc)
		goto out_free;
	if (c->timeout > 0)
		SQLSetStmtAttr(c->stmt, SQL_ATTR_QUERY_TIMEOUT,
			       (SQLPOINTER)(SQLULEN)c->timeout, 0);
	drv_cancel_busy(&c->cx, true);
	r = SQLExecDirect(c->stmt, (SQLCHAR *)text, SQL_NTS);
	c->open = true;
	if (r == SQL_NO_DATA)
		c->done = true;
	else if (!SQL_SUCCEEDED(r))
		rc = odbc_stmt_error(c, err, errlen);
	/* after reading the diagnostics: any call on the handle clears them */
	SQLFreeStmt(c->stmt, SQL_RESET_PARAMS);
out_free:
	free(ind);
	return rc;
}

static int odbc_execute(struct drv_conn *c, const char *label, const char *sql,
			int odata, const struct drv_param *params,
			size_t nparams, char *err, size_t errlen)
{
	char *text = NULL, **names = NULL;
	size_t n = 0;
	int rc;

	(void)label;
	odbc_finish(c);
	drv_cancel_reset(&c->cx);
	if (!c->stmt)
		return drv_fail(DRV_ERR_CONN, err, errlen, "not connected");
	if (odata)
		return drv_fail(DRV_ERR_QUERY, err, errlen,
				"odata paths need a servicelayer source");
	if (sql_bind_rewrite(sql, SQL_QMARK, &text, &names, &n, err, errlen) !=
	    0)
		return DRV_ERR_QUERY;
	rc = odbc_run(c, text, names, n, params, nparams, err, errlen);
	report_names_free(names, n);
	free(text);
	if (rc == DRV_OK)
		rc = odbc_describe(c, err, errlen);
	if (rc == DRV_OK && odbc_can_block(c))
		rc = odbc_setup_block(c, err, errlen);
	if (rc)
		odbc_finish(c);
	return rc;
}

static size_t odbc_ncols(struct drv_conn *c)
{
	return c->ncols;
}

static const struct col_desc *odbc_cols(struct drv_conn *c)
{
	return c->cols;
}

/*
 * Prints @v in the fewest digits that read back as the same value:
 * NaN, Infinity, 1e+100, 0.1.  A normal double needs 15 to 17 digits
 * (a float 6 to 9); a shorter form, when one exists, is what %.15g
 * prints.  Subnormals carry fewer digits and start from one.
 */
static size_t odbc_fmt_double(char *buf, size_t len, double v, bool single)
{
	bool sub = single ? fpclassify((float)v) == FP_SUBNORMAL
			  : fpclassify(v) == FP_SUBNORMAL;
	int prec = sub ? 1 : single ? 6 : 15, max = single ? 9 : 17;

	if (isnan(v))
		return (size_t)snprintf(buf, len, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, len,
					v < 0 ? "-Infinity" : "Infinity");
	for (; prec < max; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (single ? strtof(buf, NULL) == (float)v
			   : strtod(buf, NULL) == v)
			break;
	}
	return (size_t)snprintf(buf, len, "%.*g", prec, v);
}

/* Drops trailing zeros of a fraction starting at @p[@at], and the dot. */
static size_t odbc_trim_fraction(char *p, size_t len, size_t at)
{
	size_t end = at + 1, keep;

	if (len <= at || p[at] != '.')
		return len;
	while (end < len && p[end] >= '0' && p[end] <= '9')
		end++;
	keep = end;
	while (keep > at + 1 && p[keep - 1] == '0')
		keep--;
	if (keep == at + 1)
		keep = at;
	memmove(p + keep, p + end, len - end);
	return len - (end - keep);
}

/*
 * "2024-01-02T03:04:05.500 +03:00" -> "2024-01-02 03:04:05.5+03:00":
 * one separator, no trailing zero fraction, no space before an offset.
 */
static size_t odbc_canon_timestamp(char *p, size_t len)
{
	size_t off;

	if (len > 10 && p[10] == 'T')
		p[10] = ' ';
	len = odbc_trim_fraction(p, len, 19);
	off = len > 19 && p[19] == '.' ? 20 : 19;
	while (off < len && p[off] >= '0' && p[off] <= '9')
		off++;
	if (off + 1 < len && p[off] == ' ' &&
	    (p[off + 1] == '+' || p[off + 1] == '-')) {
		memmove(p + off, p + off + 1, len - off - 1);
		len--;
	}
	return len;
}

/* A decimal with no digit before its point (".5", "-.5") gets a "0". */
static int odbc_canon_decimal(struct odbc_col *oc, struct cell *cell)
{
	size_t neg;

	if (cell->len && cell->p[0] == '+') {
		cell->p++;
		cell->len--;
	}
	neg = cell->len && cell->p[0] == '-';
	if (cell->len <= neg || cell->p[neg] != '.')
		return 0;
	strbuf_reset(&oc->canon);
	if (strbuf_adds(&oc->canon, neg ? "-0" : "0") ||
	    strbuf_add(&oc->canon, cell->p + neg, cell->len - neg))
		return -1;
	cell->p = oc->canon.buf;
	cell->len = oc->canon.len;
	return 0;
}

static void odbc_canon_bool(struct cell *cell)
{
	switch (cell->len ? cell->p[0] : '?') {
	case '1':
	case 't':
	case 'T':
	case 'y':
	case 'Y':
		cell->p = "true", cell->len = 4;
		break;
	case '0':
	case 'f':
	case 'F':
	case 'n':
	case 'N':
		cell->p = "false", cell->len = 5;
		break;
	}
}

/* Rewrites the text in @cell (in our own buffer) into canonical form. */
static int odbc_canon(const struct col_desc *d, struct odbc_col *oc,
		      struct cell *cell)
{
	char *p = (char *)cell->p;

	switch (d->type) {
	case COL_BOOL:
		odbc_canon_bool(cell);
		return 0;
	case COL_DECIMAL:
		return odbc_canon_decimal(oc, cell);
	case COL_DATE:
		if (cell->len > 10 && (p[10] == ' ' || p[10] == 'T'))
			cell->len = 10;
		return 0;
	case COL_TIME:
		cell->len = odbc_trim_fraction(p, cell->len, 8);
		return 0;
	case COL_TIMESTAMP:
		cell->len = odbc_canon_timestamp(p, cell->len);
		return 0;
	default:
		return 0;
	}
}

static void odbc_float_cell(struct odbc_col *oc, const void *v,
			    struct cell *cell)
{
	double d;

	if (oc->ctype == SQL_C_FLOAT) {
		float f;

		memcpy(&f, v, sizeof(f));
		d = f;
	} else {
		memcpy(&d, v, sizeof(d));
	}
	cell->len = odbc_fmt_double(oc->num, sizeof(oc->num), d,
				    oc->ctype == SQL_C_FLOAT);
	cell->p = oc->num;
}

/*
 * The next SQLGetData piece: what the driver said is left, else double
 * the last one.  Pieces start small because some drivers (SQLite's)
 * zero-fill the whole buffer they are given.
 */
static size_t odbc_next_piece(size_t last, SQLLEN ind, size_t nul)
{
	size_t left;

	if (ind == SQL_NO_TOTAL || ind < 0 || (size_t)ind < last - nul)
		return last < ODBC_PIECE_MAX / 2 ? last * 2 : ODBC_PIECE_MAX;
	left = (size_t)ind - (last - nul) + nul;
	return left < ODBC_PIECE_MAX ? left : ODBC_PIECE_MAX;
}

/* Reads column @i of the current row by SQLGetData, in pieces. */
static int odbc_getdata(struct drv_conn *c, size_t i, struct cell *cell,
			char *err, size_t errlen)
{
	struct odbc_col *oc = &c->oc[i];
	struct strbuf *sb = &oc->text;
	size_t nul = oc->ctype == SQL_C_CHAR, piece = ODBC_PIECE_MIN;
	SQLLEN ind;
	SQLRETURN r;

	strbuf_reset(sb);
	cell->null = false;
	for (;;) {
		if (strbuf_grow(sb, piece))
			return drv_fail(DRV_ERR_QUERY, err, errlen,
					"out of memory");
		r = SQLGetData(c->stmt, (SQLUSMALLINT)(i + 1), oc->ctype,
			       sb->buf + sb->len, (SQLLEN)piece, &ind);
		if (r == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(r))
			return odbc_stmt_error(c, err, errlen);
		if (ind == SQL_NULL_DATA) {
			cell->null = true;
			break;
		}
		if (oc->ctype == SQL_C_DOUBLE || oc->ctype == SQL_C_FLOAT) {
			odbc_float_cell(oc, sb->buf, cell);
			return DRV_OK;
		}
		if (ind != SQL_NO_TOTAL && (size_t)ind + nul <= piece) {
			sb->len += (size_t)ind;
			break;
		}
		sb->len += piece - nul;
		piece = odbc_next_piece(piece, ind, nul);
	}
	cell->p = sb->buf ? sb->buf : "";
	cell->len = sb->len;
	return DRV_OK;
}

static int odbc_fetch_row(struct drv_conn *c, char *err, size_t errlen)
{
	SQLRETURN r = SQLFetch(c->stmt);

	if (r == SQL_NO_DATA) {
		c->done = true;
		return 0;
	}
	if (!SQL_SUCCEEDED(r))
		return odbc_stmt_error(c, err, errlen);
	for (size_t i = 0; i < c->ncols; i++) {
		int rc = odbc_getdata(c, i, &c->cells[i], err, errlen);

		if (rc)
			return rc;
	}
	return 1;
}

/* Reads again a value longer than its declared size (see the top). */
static int odbc_reread(struct drv_conn *c, size_t i, struct cell *cell,
		       char *err, size_t errlen)
{
	if ((c->gd & ODBC_GD_REREAD) != ODBC_GD_REREAD)
		return drv_fail(DRV_ERR_QUERY, err, errlen,
				"a value of column %s is longer than the "
				"size its ODBC driver declared",
				c->cols[i].name);
	if (!SQL_SUCCEEDED(SQLSetPos(c->stmt, (SQLSETPOSIROW)(c->pos + 1),
				     SQL_POSITION, SQL_LOCK_NO_CHANGE)))
		return odbc_stmt_error(c, err, errlen);
	return odbc_getdata(c, i, cell, err, errlen);
}

static int odbc_bound_cell(struct drv_conn *c, size_t i, struct cell *cell,
			   char *err, size_t errlen)
{
	struct odbc_col *oc = &c->oc[i];
	char *v = oc->buf + c->pos * (size_t)oc->width;
	SQLLEN ind = oc->ind[c->pos];
	SQLLEN room = oc->width - (oc->ctype == SQL_C_CHAR);

	cell->null = ind == SQL_NULL_DATA;
	if (cell->null)
		return DRV_OK;
	if (oc->ctype == SQL_C_DOUBLE || oc->ctype == SQL_C_FLOAT) {
		odbc_float_cell(oc, v, cell);
		return DRV_OK;
	}
	if (ind == SQL_NO_TOTAL || ind > room)
		return odbc_reread(c, i, cell, err, errlen);
	cell->p = v;
	cell->len = (size_t)ind;
	return DRV_OK;
}

static int odbc_fetch_block(struct drv_conn *c, char *err, size_t errlen)
{
	SQLRETURN r;

	while (c->pos >= c->fetched) {
		c->fetched = c->pos = 0;
		r = SQLFetch(c->stmt);
		if (r == SQL_NO_DATA) {
			c->done = true;
			return 0;
		}
		if (!SQL_SUCCEEDED(r))
			return odbc_stmt_error(c, err, errlen);
		if (c->fetched == 0) {
			c->done = true;
			return 0;
		}
	}
	if (c->status[c->pos] == SQL_ROW_ERROR)
		return drv_fail(DRV_ERR_QUERY, err, errlen,
				"the driver could not read a row");
	for (size_t i = 0; i < c->ncols; i++) {
		int rc = odbc_bound_cell(c, i, &c->cells[i], err, errlen);

		if (rc)
			return rc;
	}
	c->pos++;
	return 1;
}

static int odbc_fetch(struct drv_conn *c, const struct cell **row, char *err,
		      size_t errlen)
{
	int rc;

	if (drv_cancel_fired(&c->cx))
		return drv_fail(DRV_ERR_TIMEOUT, err, errlen,
				"the statement was cancelled");
	if (!c->open || c->done || c->ncols == 0)
		return 0;
	rc = c->block ? odbc_fetch_block(c, err, errlen)
		      : odbc_fetch_row(c, err, errlen);
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < c->ncols; i++)
		if (!c->cells[i].null &&
		    odbc_canon(&c->cols[i], &c->oc[i], &c->cells[i]))
			return drv_fail(DRV_ERR_QUERY, err, errlen,
					"out of memory");
	*row = c->cells;
	return 1;
}

const struct drv_ops drv_odbc = {
    .name = "odbc",
    .connect = odbc_connect,
    .disconnect = odbc_disconnect,
    .execute = odbc_execute,
    .ncols = odbc_ncols,
    .cols = odbc_cols,
    .fetch = odbc_fetch,
    .finish = odbc_finish,
    .cancel = odbc_cancel,
};
