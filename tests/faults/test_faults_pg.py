"""Faults at PostgreSQL while a big report streams: its backend
terminated, the whole server killed with SIGKILL, a query slower than
the source's timeout, and a lock held by another session.  Each time the
reader gets the last good snapshot or EIO (never part of a file), the
log says what failed in one line, cache_dir keeps no half-written
generation, and the next open after the server is back works."""
import os
import signal
import subprocess
import threading
import time

import pytest

from faulttools import BIG_SQL, generations, partial_files
from pylib.mount import wait_for

pytestmark = pytest.mark.slow


def read(path):
    with open(path, "rb") as f:
        return f.read()


def backend_pid(pg, mark):
    out = pg.psql("SELECT pid FROM pg_stat_activity WHERE state = 'active'"
                  f" AND query LIKE '%{mark}%' AND pid <> pg_backend_pid()",
                  db="rep", check=False).split()
    return int(out[0]) if out else None


def big_mount(mount, mark, timeout=30):
    m = mount(timeout=timeout)
    m.report("big", {"source": "pg", "formats": "csv json", "ttl": "0"},
             BIG_SQL.format(mark=mark))
    m.start()
    return m


class Reader(threading.Thread):
    """Reads a whole file in a thread; .data or .error afterwards."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.data = None
        self.error = None
        self.took = None

    def run(self):
        t0 = time.monotonic()
        try:
            self.data = read(self.path)
        except OSError as e:
            self.error = e
        self.took = time.monotonic() - t0


def start_slow_read(m, pg, mark):
    """Slows the report down, opens it, and waits for its backend."""
    pg.psql("UPDATE knob SET s = 0.05", db="rep")
    r = Reader(m.path("reports/big/big.csv"))
    r.start()
    assert wait_for(lambda: backend_pid(pg, mark) is not None, 10)
    time.sleep(1.0)  # rows are flowing into cache_dir now
    return r


def error_lines(log, key="reports/big"):
    return [ln for ln in log.splitlines() if key in ln and "failed" in ln]


def check_cache_clean(m, label="big"):
    """Only the served generation is left, and nothing half-written."""
    gens = generations(m.cache, label)
    assert len(gens) <= 1, gens
    assert partial_files(m.cache) == []


def terminate(pg, mark, times):
    """Terminates the run's backend @times times, each a second after a
    (new) backend started streaming it."""
    seen = set()
    for _ in range(times):
        assert wait_for(lambda: backend_pid(pg, mark) not in seen | {None},
                        10)
        pid = backend_pid(pg, mark)
        seen.add(pid)
        time.sleep(1.0)
        pg.psql(f"SELECT pg_terminate_backend({pid})", db="rep")
    return seen


def test_backend_terminated_once_is_run_again_whole(mount, pg):
    # A lost link gets one more try on a fresh connection (fs/run.c):
    # the retry starts the files again, it never appends to them.
    m = big_mount(mount, "f-term-1")
    r = start_slow_read(m, pg, "f-term-1")
    terminate(pg, "f-term-1", 1)
    r.join(30)
    assert r.error is None, m.log()
    assert r.data.count(b"\r\n") == 200001
    assert r.data.startswith(b"id,label,amount,z\r\n1,")
    assert len(set(r.data.split(b"\r\n"))) == 200002  # no row twice
    check_cache_clean(m)


def test_backend_terminated_mid_result_no_snapshot(mount, pg):
    m = big_mount(mount, "f-term-2")
    r = start_slow_read(m, pg, "f-term-2")
    terminate(pg, "f-term-2", 2)
    r.join(15)
    assert not r.is_alive()
    assert r.data is None and r.error.errno == 5, m.log()
    lines = error_lines(m.log())
    assert len(lines) == 1, m.log()
    assert "terminat" in lines[0] or "connection" in lines[0], lines
    err = read(m.path("reports/big/last-error.txt")).decode()
    assert err.strip() and "\n" not in err.strip()
    assert generations(m.cache, "big") == []
    check_cache_clean(m)
    # the next open connects again and gives the whole file
    pg.psql("UPDATE knob SET s = 0", db="rep")
    body = read(m.path("reports/big/big.csv"))
    assert body.count(b"\r\n") == 200001
    assert not os.path.exists(m.path("reports/big/last-error.txt"))
    check_cache_clean(m)


def test_backend_terminated_mid_result_serves_last_good(mount, pg):
    m = big_mount(mount, "f-term-3")
    good = read(m.path("reports/big/big.csv"))
    assert good.count(b"\r\n") == 200001
    r = start_slow_read(m, pg, "f-term-3")
    terminate(pg, "f-term-3", 2)
    r.join(15)
    assert r.error is None and r.data == good
    assert os.path.exists(m.path("reports/big/last-error.txt"))
    assert "serving the last good snapshot" in error_lines(m.log())[0]
    check_cache_clean(m)
    assert read(m.path("reports/big/big.json")).startswith(b"[")


def postmaster_and_children(pg):
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        pm = int(f.readline())
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pm:
            kids.append(int(d))
    return pm, kids


def restart_after_kill(pg, pids):
    gone = lambda: not any(os.path.exists(f"/proc/{p}") for p in pids)
    assert wait_for(gone, 10)
    try:
        pg.start_server()
    except subprocess.CalledProcessError:
        with open(pg.log, errors="replace") as f:
            raise AssertionError(f.read()[-2000:])


def test_postmaster_killed_mid_result(mount, pg):
    m = big_mount(mount, "f-kill-9", timeout=8)
    good = read(m.path("reports/big/big.csv"))
    r = start_slow_read(m, pg, "f-kill-9")
    pm, kids = postmaster_and_children(pg)
    # the machine's database is gone at once: postmaster and backends
    for pid in [pm] + kids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        r.join(15)
        assert not r.is_alive()
        assert r.error is None and r.data == good
        assert r.took < 8 + 2, r.took
        assert len(error_lines(m.log())) == 1, m.log()
        check_cache_clean(m)
        # while the server is down: the last good snapshot, quickly
        t0 = time.monotonic()
        assert read(m.path("reports/big/big.csv")) == good
        assert time.monotonic() - t0 < 8 + 2
    finally:
        restart_after_kill(pg, [pm] + kids)
    pg.psql("UPDATE knob SET s = 0", db="rep")
    again = read(m.path("reports/big/big.csv"))
    assert again == good
    assert not os.path.exists(m.path("reports/big/last-error.txt"))
    check_cache_clean(m)


def test_slow_query_past_timeout_serves_last_good(mount, pg):
    # 20,000 rows: the first run fits in 3 s under the sanitizers too
    m = mount(timeout=3)
    m.report("big", {"source": "pg", "formats": "csv json", "ttl": "0"},
             BIG_SQL.format(mark="f-slow-1") + " WHERE id <= 20000")
    m.start()
    good = read(m.path("reports/big/big.csv"))
    pg.psql("UPDATE knob SET s = 0.5", db="rep")  # 10 s in all
    t0 = time.monotonic()
    assert read(m.path("reports/big/big.csv")) == good
    assert time.monotonic() - t0 < 3 + 1.5
    assert wait_for(lambda: os.path.exists(
        m.path("reports/big/last-error.txt")), 5)
    assert "timeout" in read(m.path("reports/big/last-error.txt")).decode()
    # the server was told to stop: no query left running
    assert wait_for(lambda: backend_pid(pg, "f-slow-1") is None, 5)
    lines = error_lines(m.log())
    assert len(lines) == 1 and "timeout" in lines[0], lines
    check_cache_clean(m)


def test_lock_wait_past_timeout(mount, pg):
    m = mount(timeout=3)
    m.report("locked", {"source": "pg", "formats": "csv", "ttl": "0"},
             "SELECT /* f-lock-1 */ id, name FROM t ORDER BY id")
    m.start()
    good = read(m.path("reports/locked/locked.csv"))
    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-A", "-t", "-d", pg.conninfo("rep")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        holder.stdin.write("BEGIN;\nLOCK TABLE t IN ACCESS EXCLUSIVE MODE;"
                           "\nSELECT 'locked';\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        assert read(m.path("reports/locked/locked.csv")) == good
        assert time.monotonic() - t0 < 3 + 1.5
        # with no snapshot at all: EIO, in time
        m.report("locked2", {"source": "pg", "formats": "csv"},
                 "SELECT /* f-lock-2 */ id FROM t")
        assert wait_for(lambda: os.path.exists(
            m.path("reports/locked2")), 5)
        t0 = time.monotonic()
        with pytest.raises(OSError) as e:
            read(m.path("reports/locked2/locked2.csv"))
        assert e.value.errno == 5
        assert time.monotonic() - t0 < 3 + 1.5
        # the waiting statements were cancelled at the server
        assert wait_for(lambda: backend_pid(pg, "f-lock-") is None, 5)
    finally:
        holder.stdin.write("ROLLBACK;\n\\q\n")
        holder.stdin.close()
        holder.wait(10)
    assert wait_for(lambda: os.path.exists(
        m.path("reports/locked/last-error.txt")), 5)
    assert "timeout" in read(
        m.path("reports/locked/last-error.txt")).decode()
    assert read(m.path("reports/locked/locked.csv")) == good
    assert not os.path.exists(m.path("reports/locked/last-error.txt"))
    assert partial_files(m.cache) == []
