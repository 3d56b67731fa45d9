"""Failures come back classified, with the database's own message and no
secret: a syntax error, a cancel at the deadline, the server's own
statement timeout, a broken link, a stopped and restarted server, a
refused password."""
import subprocess

from drvlib import APP_PASSWORD, APP_USER, STATUS, parse

QUERY, CONN, TIMEOUT, AUTH = 1, 2, 3, 4


def test_syntax_error_has_the_database_message(any_source, query):
    r = query(any_source, "select 1 FRM typed")
    assert r.exit == QUERY, r.stderr
    assert STATUS[r.run.status] == "query"
    assert "syntax error" in r.run.error
    assert "\n" not in r.run.error


def test_error_after_rows_is_a_query_error(pg_source, query):
    r = query(pg_source, "select 10 / (3 - g) as x "
              "from generate_series(1, 5) g")
    assert r.exit == QUERY
    assert "division by zero" in r.run.error


def long_query(source):
    if source.name == "sqlite":
        return ("with recursive c(x) as (select 1 union all "
                "select x + 1 from c where x < 5000000000) "
                "select count(*) from c")
    return "select pg_sleep(30)"


def test_cancel_stops_the_statement(any_source, query):
    """The caller's watchdog cancels at 1 s: done within a second more."""
    r = query(any_source, long_query(any_source), timeout=60,
              cancel_ms=1000)
    assert r.exit == TIMEOUT, r.stderr
    assert r.elapsed < 2.0


def test_statement_timeout_backs_up_the_watchdog(pg_source, query):
    """No cancel from the caller: the source's timeout (1 s) stops it
    at the server."""
    r = query(pg_source, "select pg_sleep(30)", timeout=1)
    assert r.exit == TIMEOUT, r.stderr
    assert "timeout" in r.run.error
    assert r.elapsed < 2.0


def test_cancel_while_rows_stream(pg_source, query):
    r = query(pg_source, "select g, pg_sleep(0.01) from "
              "generate_series(1, 100000) g", timeout=60, cancel_ms=500,
              extra=["-q"])
    assert r.exit == TIMEOUT, r.stderr
    assert r.elapsed < 1.5


def test_killed_backend_is_a_broken_link(pg_source, query):
    r = query(pg_source, "select pg_terminate_backend(pg_backend_pid())")
    assert r.exit == CONN, r.stderr


def test_no_server_is_a_connection_error(pg, pg_source, query):
    src = type(pg_source)(pg_source.name, pg_source.driver,
                          pg_source.conn.replace(str(pg.port), "1"),
                          pg_source.user)
    r = query(src, "select 1", timeout=5)
    assert r.exit == CONN, r.stderr
    assert r.run.error


def test_server_stopped_then_started(pg, pg_source, drvquery):
    """One connection: a run, the server stops (the link breaks: CONN),
    the server starts again, the next run reconnects and succeeds."""
    argv = pg_source.argv(drvquery, "select 42 as x", timeout=10,
                          extra=["-r", "3", "-s"])
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"C\tx\tinteger\t0\t-1\n"
        assert proc.stdout.readline() == b"R\t42\n"
        assert proc.stdout.readline() == b"E\t1\n"
        assert proc.stdout.readline() == b"S\n"
        pg.stop_server("fast")
        try:
            proc.stdin.write(b"\n")
            proc.stdin.flush()
            assert proc.stdout.readline().startswith(b"X\t-2\t")
            assert proc.stdout.readline() == b"S\n"
            r = subprocess.run(pg_source.argv(drvquery, "select 1",
                                              timeout=5),
                               capture_output=True, timeout=30)
            assert r.returncode == CONN
        finally:
            pg.start_server()
        proc.stdin.write(b"\n")
        proc.stdin.close()
        rest = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
        runs = parse(rest)
        assert runs[-1].status == 0 and runs[-1].rows == [[b"42"]]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_wrong_password_is_refused(pg_source, query):
    r = query(pg_source, "select current_user", user=APP_USER,
              password="wrong-" + APP_PASSWORD)
    assert r.exit == AUTH, r.stderr
    assert "authentication failed" in r.run.error
    for out in (r.stdout, r.stderr):
        assert b"wrong-" not in out
        assert APP_PASSWORD.encode() not in out


def test_right_password_with_odd_characters(pg_source, query):
    r = query(pg_source, "select current_user as u", user=APP_USER,
              password=APP_PASSWORD)
    assert r.exit == 0, r.stderr
    assert r.run.values() == [[APP_USER]]


def test_password_never_in_a_message(pg, pg_source, query):
    src = type(pg_source)(pg_source.name, pg_source.driver,
                          pg_source.conn.replace(str(pg.port), "1"),
                          pg_source.user)
    r = query(src, "select 1", user=APP_USER, password=APP_PASSWORD,
              timeout=5)
    assert r.exit == CONN
    assert APP_PASSWORD.encode() not in r.stdout + r.stderr


def test_odbc_scrubs_a_password_the_driver_echoes(pg, psqlodbc, query):
    """psqlODBC quotes the database name in its error; when that name
    holds the password, the message shows stars instead."""
    secret = "Gizli-Parola-42"
    src = type(psqlodbc)("psqlodbc", "odbc", psqlodbc.conn.replace(
        "DATABASE=postgres", f"DATABASE={secret}"), "postgres")
    r = query(src, "select 1", password=secret)
    assert r.exit == CONN, r.stderr
    assert "does not exist" in r.run.error
    assert "*" * len(secret) in r.run.error
    assert secret.encode() not in r.stdout + r.stderr
