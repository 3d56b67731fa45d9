"""Query folders and parameter folders (issue 7) through a real mount
over a real PostgreSQL, written with the tools people use."""
import csv
import fcntl
import io
import json
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from pylib.accounts import member
from pylib.mount import wait_for

GROUP = "sapb1fs-analysts"
USER = "sapb1fs-ana"


@pytest.fixture(scope="module", autouse=True)
def analyst():
    member(USER, GROUP)
    yield


def qmount(mount, **kw):
    m = mount(**kw)
    m.sources["pg"] += (f"queries = yes\nqueries_group = {GROUP}\n"
                        "queries_row_limit = 5000\n")
    m.write_conf()
    return m


def read(p):
    with open(p, "rb") as f:
        return f.read()


def as_user(user, *argv, **kw):
    return subprocess.run(["runuser", "-u", user, "--", *argv],
                          capture_output=True, **kw)


def test_query_folder_lifecycle(mount, tmp_path):
    m = qmount(mount)
    m.start()
    src = m.path("queries/pg")
    assert os.listdir(m.path("queries")) == ["pg"]
    q = os.path.join(src, "mine")
    os.mkdir(q)
    subprocess.run(f"echo 'SELECT id, name FROM t ORDER BY id' > {q}/query.sql",
                   shell=True, check=True)
    rows = json.loads(read(f"{q}/result.json"))
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    for fmt in ("csv", "xlsx", "html"):
        assert os.path.getsize(f"{q}/result.{fmt}") > 0
    # sed -i writes a temporary file and renames it over query.sql.
    subprocess.run(["sed", "-i", "s/ORDER BY id/ORDER BY id DESC/",
                    f"{q}/query.sql"], check=True)
    rows = json.loads(read(f"{q}/result.json"))
    assert [r["id"] for r in rows] == [4, 3, 2, 1]
    # vim in ex mode, with its backup and swap habits.
    subprocess.run(["vim", "-es", "-u", "NONE", "-c", "set backup",
                    "-c", "%s/DESC/ASC/", "-c", "wq", f"{q}/query.sql"],
                   check=True)
    rows = json.loads(read(f"{q}/result.json"))
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    # cat > and cp.
    subprocess.run(f"cat > {q}/query.sql", shell=True, check=True,
                   input=b"SELECT 42 AS answer\n")
    assert json.loads(read(f"{q}/result.json")) == [{"answer": 42}]
    (tmp_path / "x.sql").write_text("SELECT 7 AS seven\n")
    subprocess.run(["cp", str(tmp_path / "x.sql"), f"{q}/query.sql"],
                   check=True)
    assert json.loads(read(f"{q}/result.json")) == [{"seven": 7}]
    # mv renames the query; the new name keeps working.
    os.rename(q, os.path.join(src, "renamed"))
    assert json.loads(read(f"{src}/renamed/result.json")) == [{"seven": 7}]
    # Survives a remount (kept in state_dir).
    m.unmount()
    m.start()
    assert json.loads(read(f"{src}/renamed/result.json")) == [{"seven": 7}]
    # rmdir deletes the query with its query.sql; rm -r too.
    os.rmdir(f"{src}/renamed")
    assert not os.path.exists(f"{src}/renamed")
    os.mkdir(f"{src}/other")
    open(f"{src}/other/query.sql", "w").write("SELECT 1 AS one\n")
    subprocess.run(["rm", "-r", f"{src}/other"], check=True)
    assert os.listdir(src) == []


def nano(path, keys, timeout=20):
    """Edits @path in a real nano on a pseudo-terminal, typing @keys (a
    list of byte strings, sent a moment apart) and waiting for it to
    end.  --backup makes it keep query.sql~ as people configure it."""
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = dict(os.environ, TERM="xterm")
        os.execvpe("nano", ["nano", "--ignorercfiles", "--backup", path],
                   env)
    screen = b""
    deadline = time.monotonic() + timeout

    def drain(seconds):
        nonlocal screen
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    screen += os.read(fd, 65536)
                except OSError:
                    return

    try:
        drain(1.0)
        for k in keys:
            os.write(fd, k)
            drain(0.4)
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), screen
            drain(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("nano did not end: " + screen[-2000:].decode(
            errors="replace"))
    finally:
        os.close(fd)


def test_query_saved_by_nano_and_gio(mount):
    """nano truncates and rewrites query.sql in place (keeping a ~
    backup); GIO, which gedit and the GNOME file tools save through,
    writes a hidden temporary file and renames it over.  Both give a new
    result at once."""
    m = qmount(mount)
    m.start()
    q = m.path("queries/pg/edited")
    os.mkdir(q)
    open(f"{q}/query.sql", "w").write("SELECT 7 AS seven\n")
    assert json.loads(read(f"{q}/result.json")) == [{"seven": 7}]
    # ^K cuts the line, the new one is typed, ^X asks to save, y, Enter.
    rc, screen = nano(f"{q}/query.sql", [b"\x0b", b"SELECT 9 AS nine",
                                        b"\x18", b"y", b"\r"])
    assert rc == 0, screen[-2000:]
    assert read(f"{q}/query.sql").strip() == b"SELECT 9 AS nine"
    assert json.loads(read(f"{q}/result.json")) == [{"nine": 9}]
    # gio save: g_file_replace, the call gedit's saver makes.
    subprocess.run(["gio", "save", f"{q}/query.sql"], check=True,
                   input=b"SELECT 11 AS eleven\n", capture_output=True)
    assert read(f"{q}/query.sql") == b"SELECT 11 AS eleven\n"
    assert json.loads(read(f"{q}/result.json")) == [{"eleven": 11}]
    # Whatever helper files the editors left, the query stays whole and
    # the folder can be removed as usual.
    names = set(os.listdir(q))
    assert {"query.sql", "result.json"} <= names
    assert not [n for n in names if n.startswith(".goutputstream")], names
    subprocess.run(["rm", "-r", q], check=True)
    assert not os.path.exists(q)


def test_query_errors_limits_and_timeout(mount):
    m = qmount(mount, timeout=2)
    m.start()
    q = m.path("queries/pg/err")
    os.mkdir(q)
    open(f"{q}/query.sql", "w").write("SELEC broken\n")
    with pytest.raises(OSError):
        read(f"{q}/result.csv")
    err = read(f"{q}/error.txt").decode()
    assert "syntax error" in err
    open(f"{q}/query.sql", "w").write("SELECT 1 AS ok\n")
    assert read(f"{q}/result.csv").startswith(b"ok")
    assert not os.path.exists(f"{q}/error.txt")
    # Row limit: the cut is said in error.txt, the rows are there.
    open(f"{q}/query.sql", "w").write("SELECT id FROM big ORDER BY id\n")
    rows = list(csv.reader(io.StringIO(read(f"{q}/result.csv").decode())))
    assert len(rows) == 5001
    assert "row limit" in read(f"{q}/error.txt").decode()
    # Timeout.
    open(f"{q}/query.sql", "w").write("SELECT pg_sleep(20)\n")
    t0 = time.monotonic()
    with pytest.raises(OSError):
        read(f"{q}/result.json")
    assert time.monotonic() - t0 < 4
    assert wait_for(lambda: "timeout" in read(f"{q}/error.txt").decode(), 3)


def test_query_permissions(mount):
    m = qmount(mount)
    m.start()
    src = m.path("queries/pg")
    r = as_user("nobody", "mkdir", f"{src}/intruder")
    assert r.returncode != 0 and b"Permission denied" in r.stderr
    r = as_user(USER, "mkdir", f"{src}/ana")
    assert r.returncode == 0, r.stderr
    r = as_user(USER, "sh", "-c",
                f"echo 'SELECT 5 AS five' > {src}/ana/query.sql")
    assert r.returncode == 0, r.stderr
    assert os.stat(f"{src}/ana/query.sql").st_uid != 0
    r = as_user("nobody", "sh", "-c", f"echo x >> {src}/ana/query.sql")
    assert r.returncode != 0
    r = as_user("nobody", "cat", f"{src}/ana/result.csv")
    assert r.returncode == 0 and r.stdout.startswith(b"five")
    r = as_user("nobody", "rm", "-r", f"{src}/ana")
    assert r.returncode != 0
    # Sources without queries = yes have no folder.
    assert os.listdir(m.path("queries")) == ["pg"]


PARAM_SQL = "SELECT id, name, amount FROM t WHERE name = :who ORDER BY id"


def test_parameter_folders(mount, pg):
    pg.psql("CREATE TABLE IF NOT EXISTS names (n text);"
            "DELETE FROM names;"
            "INSERT INTO names VALUES ('Tedarikçi ŞĞİıçöü A.Ş.'),"
            "('Quote \"me\", ;semi'), ('a/b'), ('.hidden'), ('50%'),"
            "(E'multi\\nline'), ('''; DROP TABLE t; --')", db="rep")
    m = mount()
    m.report("who", {"source": "pg", "formats": "csv json",
                     "param": "who = SELECT n FROM names ORDER BY n"},
             PARAM_SQL)
    m.start()
    top = m.path("reports/who")
    assert sorted(os.listdir(top)) == ["history", "query.sql", "who"]
    listed = sorted(os.listdir(f"{top}/who"))
    values = pg.psql("SELECT n FROM names", db="rep")
    assert len(listed) == 7
    assert "Tedarikçi ŞĞİıçöü A.Ş." in listed
    assert "a%2Fb" in listed and "%2Ehidden" in listed
    assert "50%25" in listed and "multi%0Aline" in listed
    assert all("/" not in n and not n.startswith(".") for n in listed)
    d = f"{top}/who/Tedarikçi ŞĞİıçöü A.Ş."
    assert sorted(os.listdir(d)) == ["who.csv", "who.json"]
    rows = json.loads(read(f"{d}/who.json"))
    assert [r["id"] for r in rows] == [1]
    expect = pg.psql("SELECT id FROM t WHERE name = "
                     "'Tedarikçi ŞĞİıçöü A.Ş.'", db="rep").split()
    assert [str(r["id"]) for r in rows] == expect
    # A value full of SQL is only a value.
    inj = f"{top}/who/'; DROP TABLE t; --"
    assert json.loads(read(f"{inj}/who.json")) == []
    assert pg.psql("SELECT count(*) FROM t", db="rep").strip() == "4"
    # A name that is not in the list does not exist.
    assert not os.path.exists(f"{top}/who/nobody-here")
    with pytest.raises(FileNotFoundError):
        read(f"{top}/who/x' OR '1'='1/who.csv")
    assert len(values.strip().splitlines()) >= 7


def test_nested_parameters(mount):
    m = mount()
    m.report("nest", {"source": "pg", "formats": "csv",
                      "param": "a = SELECT id::text FROM t WHERE id < 3",
                      }, "SELECT :a AS a")
    # Two params: the second list uses the first value.
    path = os.path.join(m.reports, "nest2.sql")
    with open(path, "w") as f:
        f.write("-- source: pg\n-- formats: csv\n"
                "-- param: a = SELECT id::text FROM t WHERE id < 3\n"
                "-- param: b = SELECT (id * 10)::text FROM t "
                "WHERE id = CAST(:a AS int)\n"
                "SELECT :a AS a, :b AS b\n")
    m.start()
    assert sorted(os.listdir(m.path("reports/nest2/a"))) == ["1", "2"]
    assert os.listdir(m.path("reports/nest2/a/2/b")) == ["20"]
    body = read(m.path("reports/nest2/a/2/b/20/nest2.csv")).decode()
    assert body.splitlines()[1] == "2,20"
