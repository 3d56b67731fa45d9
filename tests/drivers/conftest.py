"""Fixtures of the driver tests: the drvquery tool, one private PostgreSQL
(with a password role and a table of every type) and a SQLite file, and
a runner that parses what drvquery prints."""
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from drvlib import (APP_PASSWORD, APP_USER, SQLITE_ROWS,  # noqa: E402
                    TYPED_SQL, Result, Source, built_drivers, find_drvquery,
                    odbc_driver_names, psqlodbc_conn)
from pylib.pg import PG_BIN, PgServer  # noqa: E402


@pytest.fixture(scope="session")
def drvquery():
    path = find_drvquery()
    if not path or not os.access(path, os.X_OK):
        pytest.skip("drvquery not built (build it with ninja, or set "
                    "SAPB1FS_BUILD or DRVQUERY)")
    return path


@pytest.fixture(scope="session")
def query(drvquery):
    """query(source, sql, params=(), password=None, ...) -> Result."""

    def run(source, sql, params=(), password=None, timeout=None,
            cancel_ms=None, user=None, extra=(), limit=120):
        env = dict(os.environ)
        env.pop("DRVQUERY_PASSWORD", None)
        if password is not None:
            env["DRVQUERY_PASSWORD"] = password
        argv = source.argv(drvquery, sql, params, timeout, cancel_ms, user,
                           extra)
        start = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, env=env,
                              timeout=limit)
        return Result(proc, time.monotonic() - start)

    return run


@pytest.fixture(scope="session")
def pg():
    if PG_BIN is None:
        pytest.skip("PostgreSQL server binaries not installed")
    server = PgServer().start()
    try:
        server.psql(f"create role {APP_USER} login password "
                    f"'{APP_PASSWORD.replace(chr(39), chr(39) * 2)}'")
        hba = os.path.join(server.data, "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write(f"host all {APP_USER} 127.0.0.1/32 scram-sha-256\n"
                    + rules)
        server._run([f"{PG_BIN}/pg_ctl", "-D", server.data, "reload"])
        server.psql("alter database postgres set timezone = 'UTC'")
        server.psql(TYPED_SQL)
        server.psql(f"grant select on typed to {APP_USER}")
        time.sleep(0.5)  # the reload is asynchronous
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def libpq(pg, drvquery):
    if "postgres" not in built_drivers(drvquery):
        pytest.skip("postgres driver not built")
    return Source("libpq", "postgres",
                  f"host=127.0.0.1 port={pg.port} dbname=postgres",
                  "postgres")


@pytest.fixture(scope="session")
def psqlodbc(pg, drvquery):
    if "odbc" not in built_drivers(drvquery):
        pytest.skip("odbc driver not built")
    if "PostgreSQL Unicode" not in odbc_driver_names():
        pytest.skip("psqlODBC (odbc-postgresql) not installed")
    return Source("psqlodbc", "odbc", psqlodbc_conn(pg.port), "postgres")


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory):
    import sqlite3
    path = str(tmp_path_factory.mktemp("sqlite") / "typed.db")
    db = sqlite3.connect(path)
    db.execute("create table typed (id integer primary key, n integer, "
               "amt numeric(19,6), amt_text text, r real, f double, "
               "b boolean, d date, t time, ts timestamp, bin blob, "
               "txt text, vc varchar(5))")
    db.executemany("insert into typed values "
                   "(?,?,?,?,?,?,?,?,?,?,?,?,?)", SQLITE_ROWS)
    db.commit()
    db.close()
    return path


@pytest.fixture(scope="session")
def sqlite_big_db(tmp_path_factory):
    """200,000 rows of about 220 bytes, for the streaming tests."""
    import sqlite3
    path = str(tmp_path_factory.mktemp("sqlite") / "big.db")
    db = sqlite3.connect(path)
    db.execute("create table big (id integer, name text, pad text)")
    db.executemany("insert into big values (?,?,?)",
                   ((i, f"ad {i} ş", "x" * 200) for i in range(200000)))
    db.commit()
    db.close()
    return path


@pytest.fixture(scope="session")
def sqlite(sqlite_db, drvquery):
    if "odbc" not in built_drivers(drvquery):
        pytest.skip("odbc driver not built")
    if "SQLite3" not in odbc_driver_names():
        pytest.skip("SQLite ODBC driver (libsqliteodbc) not installed")
    return Source("sqlite", "odbc",
                  f"DRIVER=SQLite3;Database={sqlite_db};StepAPI=1")


@pytest.fixture(params=["libpq", "psqlodbc", "sqlite"])
def any_source(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["libpq", "psqlodbc"])
def pg_source(request):
    return request.getfixturevalue(request.param)
