"""The nine promises of DESIGN.md "How a generated file behaves", checked
through a real mount over a real PostgreSQL with ordinary programs."""
import csv
import decimal
import io
import json
import mmap
import os
import re
import subprocess
import tarfile
import threading
import time

import pytest

from pylib.mount import wait_for

T_SQL = "SELECT id, name, amount, d, ts, flag, note FROM t ORDER BY id"


def marker_count(pg, marker):
    return pg.statements(marker)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def csv_report(mount, name, sql):
    """Mounts one CSV report kept ten minutes; the path of its file."""
    m = mount()
    m.report(name, {"source": "pg", "formats": "csv", "ttl": "600"}, sql)
    m.start()
    return m.path(f"reports/{name}/{name}.csv")


def test_tree_and_readme(mount):
    m = mount()
    m.report("bal", {"title": "Bakiyeler", "source": "pg",
                     "formats": "csv json"}, T_SQL)
    m.start()
    assert sorted(os.listdir(m.path())) == [".status", "README.txt",
                                            "images", "queries", "reports"]
    assert os.listdir(m.path("reports")) == ["bal"]
    assert sorted(os.listdir(m.path("reports/bal"))) == [
        "bal.csv", "bal.json", "history", "query.sql"]
    assert b"reports" in read(m.path("README.txt"))
    assert read(m.path("reports/bal/query.sql")).endswith(
        b"ORDER BY id\n")
    health = json.loads(read(m.path(".status/health.json")))
    assert "pg" in health["sources"]


def test_listing_and_stat_never_query(mount, pg):
    m = mount()
    m.report("q1", {"source": "pg", "formats": "csv"},
             "SELECT /* m-list-1 */ id FROM t")
    m.start()
    before = marker_count(pg, "m-list-1")
    subprocess.run(["ls", "-lR", m.path()], check=True,
                   capture_output=True)
    st = os.stat(m.path("reports/q1/q1.csv"))
    assert st.st_size == 0  # no snapshot yet
    assert marker_count(pg, "m-list-1") == before


def test_exact_values_csv_json(mount, pg):
    m = mount()
    m.report("vals", {"source": "pg", "formats": "csv json"}, T_SQL)
    m.start()
    data = read(m.path("reports/vals/vals.json"))
    rows = json.loads(data, parse_float=decimal.Decimal)
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["name"] == "Tedarikçi ŞĞİıçöü A.Ş."
    assert rows[0]["amount"] == decimal.Decimal("9999999999999.999999")
    assert str(rows[1]["amount"]) == "-0.000001"
    assert rows[1]["note"] is None and rows[0]["note"] == ""
    assert rows[0]["d"] == "2026-12-03"
    assert rows[0]["ts"].startswith("2026-12-03T07:00:00.5")
    assert rows[0]["flag"] is True and rows[2]["flag"] is None
    assert rows[3]["name"] == "emoji 😀"
    text = read(m.path("reports/vals/vals.csv")).decode("utf-8")
    assert "9999999999999.999999" in text
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == ["id", "name", "amount", "d", "ts", "flag", "note"]
    assert parsed[2][1] == 'Quote "me", ;semi'
    assert parsed[3][1] == "multi\nline"


def test_size_exact_from_open_and_tools_agree(mount, tmp_path):
    m = mount()
    m.report("big", {"source": "pg", "formats": "csv json xlsx html"},
             "SELECT id, label, amount FROM big ORDER BY id")
    m.start()
    p = m.path("reports/big/big.csv")
    with open(p, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        body = f.read()
    assert size == len(body) > 100000
    assert os.stat(p).st_size == size
    # cat, cp, rsync, tar and mmap all see the same bytes.
    cat = subprocess.run(["cat", p], capture_output=True, check=True).stdout
    assert cat == body
    subprocess.run(["cp", p, str(tmp_path / "cp.csv")], check=True)
    assert read(tmp_path / "cp.csv") == body
    subprocess.run(["rsync", "-a", m.path("reports/big/"),
                    str(tmp_path / "rs")], check=True)
    for fmt in ("csv", "json", "xlsx", "html"):
        got = read(tmp_path / "rs" / f"big.{fmt}")
        assert got == read(m.path(f"reports/big/big.{fmt}"))
    tarball = tmp_path / "t.tar"
    subprocess.run(["tar", "-cf", str(tarball), "-C", m.path("reports"),
                    "big"], check=True)
    with tarfile.open(tarball) as tf:
        assert tf.extractfile("big/big.csv").read() == body
    with open(p, "rb") as f:
        with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
            assert mm[:] == body


def test_new_size_seen_at_once(mount, pg):
    """The kernel keeps attributes a second (images/ listings need it),
    yet the size of a new snapshot is what stat, fstat, cat, read and
    mmap see right after the open that made it, growing or shrinking,
    even when the older size was cached just before."""
    pg.psql("DROP TABLE IF EXISTS grow; CREATE TABLE grow (id int);"
            "INSERT INTO grow SELECT generate_series(1, 100)", db="rep")
    p = csv_report(mount, "grow",
                   "SELECT id FROM grow ORDER BY id")
    read(p)
    for n in (5000, 10, 3000, 3000):
        before = os.stat(p)  # the kernel now holds the older size
        pg.psql(f"TRUNCATE grow; INSERT INTO grow "
                f"SELECT generate_series(1, {n})", db="rep")
        os.utime(p)  # touch: stale, and attributes cached once more
        want = b"id\r\n" + b"".join(b"%d\r\n" % i
                                      for i in range(1, n + 1))
        assert read(p) == want
        assert os.stat(p).st_size == len(want)
        assert subprocess.run(["cat", p], capture_output=True,
                              check=True).stdout == want
        with open(p, "rb") as f:
            assert os.fstat(f.fileno()).st_size == len(want)
            with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
                assert mm[:] == want
        assert before.st_size != len(want) or n == 3000

    # An older snapshot read through the page cache keeps its size while
    # open; once it closes, the newer size shows without waiting it out.
    old = open(p, "rb")
    old_body = old.read()
    pg.psql("INSERT INTO grow SELECT generate_series(3001, 4000)", db="rep")
    os.utime(p)
    new_body = read(p)
    assert len(new_body) > len(old_body)
    assert os.stat(p).st_size == len(old_body)
    old.close()
    wait_for(lambda: os.stat(p).st_size == len(new_body), 5)
    assert read(p) == new_body


def test_ttl_reuse_and_touch(mount, pg):
    p = csv_report(mount, "tt",
                   "SELECT /* m-ttl-1 */ n FROM counter")
    read(p)
    n0 = marker_count(pg, "m-ttl-1")
    read(p)
    read(p)
    assert marker_count(pg, "m-ttl-1") == n0
    pg.psql("UPDATE counter SET n = n + 1", db="rep")
    subprocess.run(["touch", p], check=True)
    after = read(p)
    assert marker_count(pg, "m-ttl-1") == n0 + 1
    assert after.split(b"\r\n")[1] == pg.psql(
        "SELECT n FROM counter", db="rep").strip().encode()


def test_many_readers_one_query(mount, pg):
    p = csv_report(mount, "sf",
                   "SELECT /* m-sf-1 */ pg_sleep(1)::text AS s, id FROM t")
    results = []

    def reader():
        results.append(read(p))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert marker_count(pg, "m-sf-1") == 1


def test_handle_keeps_its_snapshot(mount, pg):
    p = csv_report(mount, "keep",
                   "SELECT id, label, n FROM big, counter ORDER BY id")
    old = open(p, "rb")
    first = old.read(1000)
    pg.psql("UPDATE counter SET n = n + 1000", db="rep")
    subprocess.run(["touch", p], check=True)
    new_bytes = read(p)
    rest = old.read()
    old.close()
    old_bytes = first + rest
    assert old_bytes != new_bytes
    # Each is a whole, consistent snapshot: one counter value throughout.
    for body in (old_bytes, new_bytes):
        rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
        assert len(rows) == 20001
        assert len({r[2] for r in rows[1:]}) == 1


def test_timeout_no_snapshot_eio(mount):
    m = mount(timeout=2)
    m.report("slow", {"source": "pg", "formats": "csv"},
             "SELECT pg_sleep(30)::text AS s")
    m.start()
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        read(m.path("reports/slow/slow.csv"))
    took = time.monotonic() - t0
    assert e.value.errno == 5  # EIO
    assert took < 4, took
    # The cancelled run reports its error a moment after the open gave up.
    err_path = m.path("reports/slow/last-error.txt")
    assert wait_for(lambda: os.path.exists(err_path), 3)
    err = read(err_path).decode()
    assert "timeout" in err
    health = json.loads(read(m.path(".status/health.json")))
    assert health["reports"]["reports/slow"]["last_error"]


def test_source_down_serves_last_good(mount, pg):
    m = mount(timeout=3)
    m.report("down", {"source": "pg", "formats": "csv", "ttl": "0"},
             "SELECT id, name FROM t ORDER BY id")
    m.start()
    p = m.path("reports/down/down.csv")
    good = read(p)
    assert not os.path.exists(m.path("reports/down/last-error.txt"))
    pg.stop_server()
    try:
        t0 = time.monotonic()
        assert read(p) == good
        assert time.monotonic() - t0 < 5
        assert os.path.exists(m.path("reports/down/last-error.txt")), m.log()
        health = json.loads(read(m.path(".status/health.json")))
        assert health["sources"]["pg"]["up"] is False
        assert "down" in m.log() or "failed" in m.log()
    finally:
        pg.start_server()
    assert read(p) == good
    assert not os.path.exists(m.path("reports/down/last-error.txt"))
    health = json.loads(read(m.path(".status/health.json")))
    assert health["sources"]["pg"]["up"] is True


def test_read_only_everywhere(mount):
    m = mount()
    m.report("ro", {"source": "pg", "formats": "csv"}, T_SQL)
    m.start()
    for path, flags in ((m.path("reports/ro/ro.csv"), os.O_WRONLY),
                        (m.path("reports/ro/query.sql"), os.O_RDWR),
                        (m.path("reports/new.csv"),
                         os.O_WRONLY | os.O_CREAT)):
        with pytest.raises(OSError):
            os.close(os.open(path, flags, 0o644))
    with pytest.raises(OSError):
        os.mkdir(m.path("reports/x"))
    with pytest.raises(OSError):
        os.unlink(m.path("reports/ro/ro.csv"))


def test_modes_and_groups_enforced(mount):
    subprocess.run(["groupadd", "-f", "sapb1fs-fin"], check=True)
    m = mount()
    m.report("fin", {"source": "pg", "formats": "csv", "group":
                     "sapb1fs-fin", "mode": "0440"}, T_SQL)
    m.report("pub", {"source": "pg", "formats": "csv"}, T_SQL)
    m.start()
    st = os.stat(m.path("reports/fin/fin.csv"))
    assert oct(st.st_mode & 0o777) == "0o440"
    import grp
    assert st.st_gid == grp.getgrnam("sapb1fs-fin").gr_gid
    r = subprocess.run(["runuser", "-u", "nobody", "--", "cat",
                        m.path("reports/fin/fin.csv")], capture_output=True)
    assert r.returncode != 0 and b"Permission denied" in r.stderr
    r = subprocess.run(["runuser", "-u", "nobody", "--", "cat",
                        m.path("reports/pub/pub.csv")], capture_output=True)
    assert r.returncode == 0 and b"Tedarik" in r.stdout


def test_stable_inodes_and_statfs(mount):
    m = mount()
    m.report("ino", {"source": "pg", "formats": "csv"}, T_SQL)
    m.start()
    p = m.path("reports/ino/ino.csv")
    ino1 = os.stat(p).st_ino
    sv = os.statvfs(m.path())
    assert sv.f_bsize > 0 and sv.f_blocks > 0
    assert os.stat(m.path("reports")).st_nlink >= 1
    m.unmount()
    m.start()
    assert os.stat(p).st_ino == ino1


def test_snapshot_survives_remount(mount, pg):
    m = mount()
    m.report("surv", {"source": "pg", "formats": "csv", "ttl": "600"},
             "SELECT /* m-surv-1 */ id FROM t")
    m.start()
    body = read(m.path("reports/surv/surv.csv"))
    m.unmount()
    m.start()
    # Before any open, the size is the last snapshot's.
    assert os.stat(m.path("reports/surv/surv.csv")).st_size == len(body)
    n = marker_count(pg, "m-surv-1")
    assert read(m.path("reports/surv/surv.csv")) == body
    assert marker_count(pg, "m-surv-1") == n


def test_cache_size_bound(mount):
    # Each snapshot is about 350 kB: at most two fit.
    m = mount(mount_extra="cache_size = 800k\n")
    for i in range(4):
        m.report(f"c{i}", {"source": "pg", "formats": "csv"},
                 f"SELECT id, label, {i} AS k FROM big")
    m.start()
    for i in range(4):
        read(m.path(f"reports/c{i}/c{i}.csv"))
    total = 0
    for root, _, files in os.walk(m.cache):
        for f in files:
            if f != "current":
                total += os.path.getsize(os.path.join(root, f))
    assert total <= 800 * 1024
    assert "dropping the snapshot" in m.log()


def test_definition_change_and_reload(mount, pg):
    m = mount()
    m.report("chg", {"source": "pg", "formats": "csv", "ttl": "600"},
             "SELECT 1 AS one")
    m.start()
    assert read(m.path("reports/chg/chg.csv")).startswith(b"one")
    m.report("chg", {"source": "pg", "formats": "csv", "ttl": "600"},
             "SELECT 2 AS two")
    m.report("added", {"source": "pg", "formats": "csv"}, "SELECT 3 AS x")
    from pylib.mount import wait_for
    assert wait_for(lambda: os.path.exists(m.path("reports/added")), 5)
    assert read(m.path("reports/chg/chg.csv")).startswith(b"two")


def test_metrics_are_the_documented_ones(mount, pg):
    """Every metric docs/guide.md lists is in .status/metrics.prom, and
    the opens and kernel drops count what happened."""
    p = csv_report(mount, "counted", "SELECT 1 AS one")
    read(p)
    read(p)
    prom = read(os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(p))), ".status", "metrics.prom")).decode()
    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                            "guide.md"), encoding="utf-8").read()
    listed = set(re.findall(r"^\| `(sapb1fs_[a-z_]+)", doc, re.M))
    assert len(listed) >= 9, listed
    names = {line.split("{")[0].split()[0] for line in prom.splitlines()
             if line.startswith("sapb1fs_")}
    assert listed <= names, listed - names
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
              for line in prom.splitlines() if line.startswith("sapb1fs_")}
    assert values['sapb1fs_opens_total{snapshot="run"}'] >= 1
    assert values['sapb1fs_opens_total{snapshot="fresh"}'] >= 1
    # The first open of a new snapshot told the kernel.
    assert values["sapb1fs_kernel_drops_total"] >= 1
