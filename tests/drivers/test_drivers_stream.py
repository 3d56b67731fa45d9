"""A 200,000-row result streams: the tool's peak RSS stays small, far
below the ~45 MB the rows take, through every driver path."""
import subprocess

import pytest
from drvlib import Source, parse, psqlodbc_conn

pytestmark = pytest.mark.slow

ROWS = 200000
PG_SQL = (f"select g, 'ad ' || g || ' ş' as name, repeat('x', 200) as pad, "
          f"(g * 1.5)::numeric(19,6) as amt from generate_series(1, {ROWS}) g")
SQLITE_SQL = "select id, name, pad from big"
LIMIT_KB = 24 * 1024


def run_measured(drvquery, source, sql):
    """Runs drvquery quietly; returns (parsed runs, exit, peak RSS KiB).
    The peak is the tool's VmHWM (its own pages since exec)."""
    argv = source.argv(drvquery, sql, extra=["-q", "-m"])
    proc = subprocess.run(argv, capture_output=True, timeout=300)
    peak = [int(line.split(b"\t")[1]) for line in proc.stdout.splitlines()
            if line.startswith(b"M\t")]
    assert peak, proc.stderr
    return parse(proc.stdout), proc.returncode, peak[0]


def test_libpq_streams(libpq, drvquery):
    runs, code, rss = run_measured(drvquery, libpq, PG_SQL)
    assert code == 0 and runs[-1].count == ROWS
    assert rss < LIMIT_KB, f"peak RSS {rss} KiB"


def test_psqlodbc_streams_with_use_declare_fetch(psqlodbc, drvquery):
    runs, code, rss = run_measured(drvquery, psqlodbc, PG_SQL)
    assert code == 0 and runs[-1].count == ROWS
    assert rss < LIMIT_KB, f"peak RSS {rss} KiB"


def test_psqlodbc_block_fetch_streams(psqlodbc, drvquery):
    """Bounded columns only, so rows come in bound blocks."""
    sql = (f"select g, ('ad ' || g)::varchar(40) as name, "
           f"repeat('x', 200)::varchar(200) as pad "
           f"from generate_series(1, {ROWS}) g")
    runs, code, rss = run_measured(drvquery, psqlodbc, sql)
    assert code == 0 and runs[-1].count == ROWS
    assert rss < LIMIT_KB, f"peak RSS {rss} KiB"


def test_sqlite_streams_with_step_api(sqlite, sqlite_big_db, drvquery):
    src = Source("sqlite", "odbc",
                 f"DRIVER=SQLite3;Database={sqlite_big_db};StepAPI=1")
    runs, code, rss = run_measured(drvquery, src, SQLITE_SQL)
    assert code == 0 and runs[-1].count == ROWS
    assert rss < LIMIT_KB, f"peak RSS {rss} KiB"


def test_psqlodbc_without_use_declare_fetch_buffers(pg, psqlodbc, drvquery):
    """Why docs/drivers.md asks for UseDeclareFetch=1: without it
    psqlODBC reads the whole result into memory first."""
    src = Source("psqlodbc", "odbc", psqlodbc_conn(pg.port, ""),
                 "postgres")
    runs, code, rss = run_measured(drvquery, src, PG_SQL)
    assert code == 0 and runs[-1].count == ROWS
    assert rss > 2 * LIMIT_KB, f"peak RSS {rss} KiB"


def test_sqlite_without_step_api_buffers(sqlite, sqlite_big_db, drvquery):
    """Why docs/drivers.md asks for StepAPI=1 with SQLite's driver."""
    src = Source("sqlite", "odbc", f"DRIVER=SQLite3;Database={sqlite_big_db}")
    runs, code, rss = run_measured(drvquery, src, SQLITE_SQL)
    assert code == 0 and runs[-1].count == ROWS
    assert rss > 2 * LIMIT_KB, f"peak RSS {rss} KiB"
