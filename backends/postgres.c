/*
 * postgres: the libpq source driver; see driver.h.
 *
 * Results stream in single-row mode: libpq hands over one PGresult per
 * row, so memory holds one row however long the result is.  Every wait
 * is a poll() on the socket with a limit, so no call blocks forever
 * even when the server vanishes without closing the link.
 *
 * The cancel object is made at connect time.  PQcancel opens a new
 * connection with a blocking connect() and no timeout, so cancel hands
 * it to a short-lived thread (drv_cancel in driver.c): the caller's
 * watchdog, which serves every source, never waits on an unreachable
 * server.  Disconnect waits for that thread before freeing what it uses.
 */
#include "config.h"
#include "driver.h"

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "report.h"
#include "util.h"

/* Type OIDs of pg_type.h (catalog/pg_type_d.h is not a client header). */
enum {
	PG_BOOL = 16,
	PG_BYTEA = 17,
	PG_INT8 = 20,
	PG_INT2 = 21,
	PG_INT4 = 23,
	PG_FLOAT4 = 700,
	PG_FLOAT8 = 701,
	PG_DATE = 1082,
	PG_TIME = 1083,
	PG_TIMESTAMP = 1114,
	PG_TIMESTAMPTZ = 1184,
	PG_TIMETZ = 1266,
	PG_NUMERIC = 1700,
};

/* Silence tolerated on the socket beyond the source's timeout. */
#define PG_GRACE_MS 5000

struct drv_conn {
	PGconn *pg;
	int timeout;	/* seconds, the source's; 0: none */
	bool broken;	/* a result could not be drained: reconnect */
	bool streaming; /* results of the statement are still coming */
	bool more_rows; /* the last result was a row: more may follow */

	PGcancel *cancel; /* set at connect, freed at disconnect */
	struct drv_cancel cx;

	PGresult *res;	 /* the row handed out by fetch */
	PGresult *first; /* the first row, read by execute */
	struct col_desc *cols;
	size_t ncols;
	struct cell *cells;
	struct strbuf *bin; /* decoded bytea, one per column */
};

/* A deadline @ms from now, or -1 (none) when @ms is negative. */
static int64_t pg_deadline(int64_t ms)
{
	return ms < 0 ? -1 : now_mono_ms() + ms;
}

static int64_t pg_silence_deadline(const struct drv_conn *c)
{
	if (c->timeout <= 0)
		return -1;
	return pg_deadline((int64_t)c->timeout * 1000 + PG_GRACE_MS);
}

/* Waits for @events on the socket until @deadline (-1: forever). */
static int pg_wait(PGconn *pg, short events, int64_t deadline, char *err,
		   size_t errlen)
{
	struct pollfd pfd = {.fd = PQsocket(pg), .events = events};
	int ms, rc;

	if (pfd.fd < 0)
		return drv_fail(DRV_ERR_CONN, err, errlen, "no socket");
	do {
		ms = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_mono_ms();
			ms = left > 0
				 ? (int)(left < INT32_MAX ? left : INT32_MAX)
				 : 0;
		}
		rc = poll(&pfd, 1, ms);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return drv_fail(DRV_ERR_CONN, err, errlen, "poll: %s",
				strerror(errno));
	if (rc == 0)
		return drv_fail(DRV_ERR_CONN, err, errlen,
				"no answer from the server in time");
	return DRV_OK;
}

/*
 * Finds the SQLSTATE libpq put into a verbose connection message
 * ("FATAL:  28P01: password ...") and removes it from @msg.
 */
static void pg_take_sqlstate(char *msg, char state[6])
{
	char *p = msg;

	state[0] = '\0';
	while ((p = strstr(p, ":  ")) != NULL) {
		p += 3;
		if (strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5 &&
		    p[5] == ':' && p[6] == ' ') {
			memcpy(state, p, 5);
			state[5] = '\0';
			memmove(p, p + 7, strlen(p + 7) + 1);
			return;
		}
	}
}

static int pg_connect_error(PGconn *pg, char *err, size_t errlen)
{
	char state[6];
	char *msg = xstrdup(PQerrorMessage(pg));
	int status = DRV_ERR_CONN;

	if (!msg)
		return drv_fail(DRV_ERR_CONN, err, errlen, "out of memory");
	pg_take_sqlstate(msg, state);
	/* 28000 invalid authorization, 28P01 invalid password */
	if (strncmp(state, "28", 2) == 0)
		status = DRV_ERR_AUTH;
	/* keep the first line: verbose messages add LOCATION lines */
	msg[strcspn(msg, "\n")] = '\0';
	drv_fail(status, err, errlen, "%s", msg);
	free(msg);
	return status;
}

/* Drives PQconnectPoll until connected, failed or past @deadline. */
static int pg_connect_poll(PGconn *pg, int64_t deadline, char *err,
			   size_t errlen)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int rc;

	for (;;) {
		if (st == PGRES_POLLING_OK)
			return DRV_OK;
		if (st == PGRES_POLLING_FAILED)
			return pg_connect_error(pg, err, errlen);
		rc = pg_wait(pg, st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
			     deadline, err, errlen);
		if (rc)
			return drv_fail(rc, err, errlen,
					"connection timed out");
		st = PQconnectPoll(pg);
	}
}

/*
 * Keywords win in order: our connect_timeout and application name are
 * defaults the conninfo may override; user, password and the client
 * encoding (we produce UTF-8) override the conninfo.
 */
static PGconn *pg_start(const struct conf_source *src, int timeout_ms)
{
	const char *kw[8], *val[8];
	char tmo[16];
	int n = 0;

	snprintf(tmo, sizeof(tmo), "%d",
		 timeout_ms > 2000 ? (timeout_ms + 999) / 1000 : 2);
	kw[n] = "connect_timeout", val[n++] = tmo;
	kw[n] = "fallback_application_name", val[n++] = "sapb1fs";
	if (src->conninfo && *src->conninfo)
		kw[n] = "dbname", val[n++] = src->conninfo;
	if (src->user && *src->user)
		kw[n] = "user", val[n++] = src->user;
	if (src->password && *src->password)
		kw[n] = "password", val[n++] = src->password;
	kw[n] = "client_encoding", val[n++] = "UTF8";
	kw[n] = NULL, val[n] = NULL;
	return PQconnectStartParams(kw, val, 1);
}

/* Sends @sql (simple protocol) and waits for its results. */
static int pg_exec_simple(PGconn *pg, const char *sql, int64_t deadline,
			  char *err, size_t errlen)
{
	PGresult *r;
	int status = DRV_OK;

	if (!PQsendQuery(pg, sql))
		return drv_fail(DRV_ERR_CONN, err, errlen, "%s",
				PQerrorMessage(pg));
	for (;;) {
		while (PQisBusy(pg)) {
			int rc = pg_wait(pg, POLLIN, deadline, err, errlen);

			if (rc)
				return rc;
			if (!PQconsumeInput(pg))
				return drv_fail(DRV_ERR_CONN, err, errlen, "%s",
						PQerrorMessage(pg));
		}
		r = PQgetResult(pg);
		if (!r)
			return status;
		if (PQresultStatus(r) != PGRES_COMMAND_OK && status == DRV_OK)
			status = drv_fail(DRV_ERR_CONN, err, errlen, "%s",
					  PQresultErrorMessage(r));
		PQclear(r);
	}
}

/*
 * Session settings that make the text we receive canonical: ISO dates,
 * shortest round-trip floats, hex bytea; statement_timeout backs up the
 * caller's watchdog.
 */
static int pg_setup(struct drv_conn *c, int64_t deadline, char *err,
		    size_t errlen)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SET DateStyle = ISO; SET extra_float_digits = 1; "
		 "SET bytea_output = hex; SET statement_timeout = %lld",
		 c->timeout > 0 ? (long long)c->timeout * 1000 : 0LL);
	return pg_exec_simple(c->pg, sql, deadline, err, errlen);
}

static void pg_disconnect(struct drv_conn *c);

/* Runs in a thread of drv_cancel: PQcancel connects to send it. */
static void pg_cancel_send(struct drv_conn *c)
{
	char buf[256];

	if (c->cancel)
		PQcancel(c->cancel, buf, sizeof(buf));
}

static int pg_connect(const struct conf_source *src, int timeout_ms,
		      struct drv_conn **out, char *err, size_t errlen)
{
	int64_t deadline = pg_deadline(timeout_ms > 0 ? timeout_ms : -1);
	struct drv_conn *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return drv_fail(DRV_ERR_CONN, err, errlen, "out of memory");
	drv_cancel_init(&c->cx, c, pg_cancel_send);
	c->timeout = src->timeout;
	c->pg = pg_start(src, timeout_ms);
	if (!c->pg) {
		rc = drv_fail(DRV_ERR_CONN, err, errlen, "out of memory");
		goto out_free;
	}
	/* verbose messages carry the SQLSTATE of a refused login */
	PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
	rc = PQstatus(c->pg) == CONNECTION_BAD
		 ? pg_connect_error(c->pg, err, errlen)
		 : pg_connect_poll(c->pg, deadline, err, errlen);
	if (rc)
		goto out_free;
	PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
	rc = pg_setup(c, deadline, err, errlen);
	if (rc)
		goto out_free;
	c->cancel = PQgetCancel(c->pg);
	*out = c;
	return DRV_OK;

out_free:
	pg_disconnect(c);
	return rc;
}

static void pg_cols_free(struct drv_conn *c)
{
	for (size_t i = 0; i < c->ncols; i++) {
		free(c->cols[i].name);
		strbuf_release(&c->bin[i]);
	}
	free(c->cols);
	free(c->cells);
	free(c->bin);
	c->cols = NULL;
	c->cells = NULL;
	c->bin = NULL;
	c->ncols = 0;
}

static void pg_cancel(struct drv_conn *c)
{
	drv_cancel_fire(&c->cx);
}

/* Reads the next result of the running statement (NULL at the end). */
static int pg_next(struct drv_conn *c, PGresult **out, char *err, size_t errlen)
{
	int64_t deadline = pg_silence_deadline(c);

	*out = NULL;
	while (PQisBusy(c->pg)) {
		int rc = pg_wait(c->pg, POLLIN, deadline, err, errlen);

		if (rc)
			return rc;
		if (!PQconsumeInput(c->pg))
			return drv_fail(DRV_ERR_CONN, err, errlen, "%s",
					PQerrorMessage(c->pg));
	}
	*out = PQgetResult(c->pg);
	if (!*out)
		c->streaming = false;
	c->more_rows = *out && PQresultStatus(*out) == PGRES_SINGLE_TUPLE;
	return DRV_OK;
}

/*
 * Ends the running statement: rows left unread are cancelled and the
 * results drained (a statement that has sent its last row is not
 * cancelled: the request could hit the next one).  A link that cannot be
 * drained is marked broken, so the next execute tells the caller to reconnect.
 */
static void pg_finish(struct drv_conn *c)
{
	char err[64];
	bool sent = false;
	PGresult *r;

	/* a watchdog's cancel from now on finds the link idle */
	drv_cancel_busy(&c->cx, false);
	PQclear(c->res);
	PQclear(c->first);
	c->res = c->first = NULL;
	while (c->streaming) {
		if (!sent && c->more_rows && c->cancel) {
			PQcancel(c->cancel, err, sizeof(err));
			sent = true;
		}
		if (pg_next(c, &r, err, sizeof(err)) != DRV_OK) {
			c->broken = true;
			c->streaming = false;
		}
		PQclear(r);
	}
	pg_cols_free(c);
}

static void pg_disconnect(struct drv_conn *c)
{
	if (!c)
		return;
	/* a dead link has nothing left to drain */
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK || c->broken)
		c->streaming = false;
	pg_finish(c);
	drv_cancel_destroy(&c->cx);
	PQfreeCancel(c->cancel);
	c->cancel = NULL;
	PQfinish(c->pg);
	free(c);
}

/* The class of a failed result, and its text in @err (one line). */
static int pg_result_error(struct drv_conn *c, const PGresult *r, char *err,
			   size_t errlen)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
	int status = DRV_ERR_QUERY;

	if (!state)
		state = "";
	if (PQstatus(c->pg) != CONNECTION_OK || !strncmp(state, "08", 2) ||
	    !strncmp(state, "57P", 3))
		status = DRV_ERR_CONN;
	else if (strcmp(state, "57014") == 0)
		status = DRV_ERR_TIMEOUT;
	if (!msg)
		return drv_fail(status, err, errlen, "%s",
				*PQresultErrorMessage(r)
				    ? PQresultErrorMessage(r)
				    : PQerrorMessage(c->pg));
	return drv_fail(status, err, errlen, "%s%s%s%s%s (SQLSTATE %s)", msg,
			pos ? " at character " : "", pos ? pos : "",
			detail ? ": " : "", detail ? detail : "", state);
}

static void pg_numeric_mod(int mod, struct col_desc *d)
{
	int tm;

	if (mod < 4)
		return;
	tm = mod - 4;
	d->precision = (tm >> 16) & 0xffff;
	/* since PostgreSQL 15 the scale is a signed 11-bit field */
	d->scale = ((tm & 0x7ff) ^ 1024) - 1024;
}

static enum col_type pg_col_type(Oid oid)
{
	switch (oid) {
	case PG_INT2:
	case PG_INT4:
	case PG_INT8:
		return COL_INT;
	case PG_NUMERIC:
		return COL_DECIMAL;
	case PG_FLOAT4:
	case PG_FLOAT8:
		return COL_FLOAT;
	case PG_BOOL:
		return COL_BOOL;
	case PG_DATE:
		return COL_DATE;
	case PG_TIME:
	case PG_TIMETZ:
		return COL_TIME;
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ:
		return COL_TIMESTAMP;
	case PG_BYTEA:
		return COL_BINARY;
	default:
		return COL_TEXT;
	}
}

static int pg_describe(struct drv_conn *c, const PGresult *r, char *err,
		       size_t errlen)
{
	size_t n = (size_t)PQnfields(r);

	c->cols = calloc(n ? n : 1, sizeof(*c->cols));
	c->cells = calloc(n ? n : 1, sizeof(*c->cells));
	c->bin = calloc(n ? n : 1, sizeof(*c->bin));
	if (!c->cols || !c->cells || !c->bin)
		goto out_nomem;
	c->ncols = n;
	for (size_t i = 0; i < n; i++) {
		struct col_desc *d = &c->cols[i];

		d->name = xstrdup(PQfname(r, (int)i));
		if (!d->name)
			goto out_nomem;
		d->type = pg_col_type(PQftype(r, (int)i));
		d->scale = -1;
		if (d->type == COL_DECIMAL)
			pg_numeric_mod(PQfmod(r, (int)i), d);
	}
	return DRV_OK;

out_nomem:
	return drv_fail(DRV_ERR_QUERY, err, errlen, "out of memory");
}

/* Looks up the value of each "$n" marker, in marker order. */
static int pg_values(char **names, size_t n, const struct drv_param *params,
		     size_t nparams, const char ***out, char *err,
		     size_t errlen)
{
	const char **v = calloc(n ? n : 1, sizeof(*v));
	size_t i, j;

	if (!v)
		return drv_fail(DRV_ERR_QUERY, err, errlen, "out of memory");
	for (i = 0; i < n; i++) {
		for (j = 0; j < nparams; j++)
			if (strcmp(params[j].name, names[i]) == 0)
				break;
		if (j == nparams) {
			free(v);
			return drv_fail(DRV_ERR_QUERY, err, errlen,
					"no value for parameter :%s", names[i]);
		}
		v[i] = params[j].value;
	}
	*out = v;
	return DRV_OK;
}

static int pg_send(struct drv_conn *c, const char *sql,
		   const struct drv_param *params, size_t nparams, char *err,
		   size_t errlen)
{
	char *text = NULL, **names = NULL;
	const char **values = NULL;
	size_t n = 0;
	int rc;

	if (sql_bind_rewrite(sql, SQL_DOLLAR, &text, &names, &n, err, errlen) !=
	    0)
		return DRV_ERR_QUERY;
	rc = pg_values(names, n, params, nparams, &values, err, errlen);
	if (rc)
		goto out_free;
	drv_cancel_busy(&c->cx, true);
	if (!PQsendQueryParams(c->pg, text, (int)n, NULL, values, NULL, NULL,
			       0)) {
		rc = drv_fail(PQstatus(c->pg) == CONNECTION_OK ? DRV_ERR_QUERY
							       : DRV_ERR_CONN,
			      err, errlen, "%s", PQerrorMessage(c->pg));
		goto out_free;
	}
	c->streaming = true;
	PQsetSingleRowMode(c->pg);
out_free:
	free(values);
	report_names_free(names, n);
	free(text);
	return rc;
}

static int pg_execute(struct drv_conn *c, const char *label, const char *sql,
		      int odata, const struct drv_param *params, size_t nparams,
		      char *err, size_t errlen)
{
	PGresult *r;
	int rc;

	(void)label;
	pg_finish(c);
	if (odata)
		return drv_fail(DRV_ERR_QUERY, err, errlen,
				"odata paths need a servicelayer source");
	if (c->broken || PQstatus(c->pg) != CONNECTION_OK)
		return drv_fail(DRV_ERR_CONN, err, errlen,
				"connection to the server was lost");
	drv_cancel_reset(&c->cx);
	rc = pg_send(c, sql, params, nparams, err, errlen);
	if (rc == DRV_OK)
		rc = pg_next(c, &r, err, errlen);
	if (rc)
		goto out_finish;
	switch (r ? PQresultStatus(r) : PGRES_FATAL_ERROR) {
	case PGRES_SINGLE_TUPLE:
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		c->first = r;
		return pg_describe(c, r, err, errlen);
	case PGRES_EMPTY_QUERY:
		PQclear(r);
		rc = drv_fail(DRV_ERR_QUERY, err, errlen, "the query is empty");
		goto out_finish;
	default:
		rc = r ? pg_result_error(c, r, err, errlen)
		       : drv_fail(DRV_ERR_CONN, err, errlen, "%s",
				  PQerrorMessage(c->pg));
		PQclear(r);
		goto out_finish;
	}

out_finish:
	if (rc == DRV_ERR_CONN)
		c->broken = true;
	pg_finish(c);
	return rc;
}

static size_t pg_ncols(struct drv_conn *c)
{
	return c->ncols;
}

static const struct col_desc *pg_cols(struct drv_conn *c)
{
	return c->cols;
}

static int pg_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Turns bytea's hex text ("\x0aff") into raw bytes in @sb. */
static int pg_unhex(struct strbuf *sb, const char *s, size_t len)
{
	strbuf_reset(sb);
	if (strbuf_grow(sb, len / 2 + 1))
		return -1;
	for (size_t i = 2; i + 1 < len; i += 2) {
		int hi = pg_hex(s[i]), lo = pg_hex(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		sb->buf[sb->len++] = (char)(hi << 4 | lo);
	}
	sb->buf[sb->len] = '\0';
	return 0;
}

static int pg_cell(struct drv_conn *c, size_t i, struct cell *cell)
{
	const char *v = PQgetvalue(c->res, 0, (int)i);
	size_t len = (size_t)PQgetlength(c->res, 0, (int)i);

	cell->null = PQgetisnull(c->res, 0, (int)i);
	cell->p = v;
	cell->len = len;
	if (cell->null)
		return 0;
	switch (c->cols[i].type) {
	case COL_BOOL:
		cell->p = v[0] == 't' ? "true" : "false";
		cell->len = strlen(cell->p);
		break;
	case COL_BINARY:
		if (len < 2 || v[0] != '\\' || v[1] != 'x')
			break;
		if (pg_unhex(&c->bin[i], v, len))
			return -1;
		cell->p = c->bin[i].buf;
		cell->len = c->bin[i].len;
		break;
	default:
		break;
	}
	return 0;
}

/* Takes the next row result into c->res; 0 at the end. */
static int pg_next_row(struct drv_conn *c, char *err, size_t errlen)
{
	PGresult *r;
	int rc;

	PQclear(c->res);
	c->res = c->first;
	c->first = NULL;
	if (!c->res && c->streaming) {
		rc = pg_next(c, &r, err, errlen);
		if (rc)
			return rc;
		c->res = r;
	}
	if (!c->res)
		return 0;
	switch (PQresultStatus(c->res)) {
	case PGRES_SINGLE_TUPLE:
		return 1;
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		PQclear(c->res);
		c->res = NULL;
		return pg_next_row(c, err, errlen);
	default:
		return pg_result_error(c, c->res, err, errlen);
	}
}

static int pg_fetch(struct drv_conn *c, const struct cell **row, char *err,
		    size_t errlen)
{
	int rc;

	/* rows already received would otherwise outlive the cancel */
	if (drv_cancel_fired(&c->cx))
		return drv_fail(DRV_ERR_TIMEOUT, err, errlen,
				"the statement was cancelled");
	rc = pg_next_row(c, err, errlen);

	if (rc == DRV_ERR_CONN)
		c->broken = true;
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < c->ncols; i++)
		if (pg_cell(c, i, &c->cells[i]))
			return drv_fail(DRV_ERR_QUERY, err, errlen,
					"bad bytea value in column %s",
					c->cols[i].name);
	*row = c->cells;
	return 1;
}

const struct drv_ops drv_postgres = {
    .name = "postgres",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .execute = pg_execute,
    .ncols = pg_ncols,
    .cols = pg_cols,
    .fetch = pg_fetch,
    .finish = pg_finish,
    .cancel = pg_cancel,
};
