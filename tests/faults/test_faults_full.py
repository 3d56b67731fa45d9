"""cache_dir, state_dir and the mail spool on a tiny full file system
(a 2 MB tmpfs mounted by the test): a report too big for cache_dir
fails with "No space left on device" in last-error.txt while the last
good snapshot is still served; a write into a query folder on a full
state_dir gives ENOSPC to the writer; the scheduler's history and the
mailer's spool keep nothing half-written (no temporary names left)."""
import errno
import os
import subprocess
import sys
import time

import pytest

from faulttools import generations, partial_files
from pylib.mount import exe, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mail"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "scheduler"))
from mailtools import Mailer, SmtpServer, free_port  # noqa: E402
from schedtools import Setup  # noqa: E402

pytestmark = pytest.mark.slow
NOSPACE = "No space left on device"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def used(folder):
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def test_cache_full_serves_last_good(mount, pg, tmpfs):
    tiny = tmpfs("2m")
    pg.psql("CREATE TABLE IF NOT EXISTS sized (n int);"
            "DELETE FROM sized; INSERT INTO sized VALUES (1000)", db="rep")
    m = mount()
    m.cache = os.path.join(tiny.path, "cache")
    m.write_conf()
    m.report("grow", {"source": "pg", "formats": "csv json", "ttl": "0"},
             "SELECT id, label, amount FROM big"
             " WHERE id <= (SELECT n FROM sized) ORDER BY id")
    m.start()
    p = m.path("reports/grow/grow.csv")
    good = read(p)
    assert good.count(b"\r\n") == 1001
    before = used(m.cache)
    pg.psql("UPDATE sized SET n = 200000", db="rep")  # about 14 MB
    assert read(p) == good
    err = read(m.path("reports/grow/last-error.txt")).decode()
    assert NOSPACE in err, err
    lines = [ln for ln in m.log().splitlines()
             if "reports/grow" in ln and "failed" in ln]
    assert len(lines) == 1 and NOSPACE in lines[0], m.log()
    # the failed generation is gone: the space is free again
    assert len(generations(m.cache, "grow")) == 1
    assert partial_files(m.cache) == []
    assert used(m.cache) == before
    assert tiny.free() > 1024 * 1024
    # a result that fits works again
    pg.psql("UPDATE sized SET n = 500", db="rep")
    assert read(p).count(b"\r\n") == 501
    assert not os.path.exists(m.path("reports/grow/last-error.txt"))


def test_cache_full_no_snapshot_eio(mount, pg, tmpfs):
    tiny = tmpfs("2m")
    m = mount()
    m.cache = os.path.join(tiny.path, "cache")
    m.write_conf()
    m.report("huge", {"source": "pg", "formats": "csv"},
             "SELECT id, label, amount FROM big")
    m.start()
    with pytest.raises(OSError) as e:
        read(m.path("reports/huge/huge.csv"))
    assert e.value.errno == errno.EIO
    assert NOSPACE in read(m.path("reports/huge/last-error.txt")).decode()
    assert generations(m.cache, "huge") == []
    assert used(m.cache) == 0


def test_full_state_dir_query_write_enospc(mount, pg, tmpfs):
    tiny = tmpfs("2m")
    m = mount(sources={"pg": f"driver = postgres\n"
                             f"conninfo = {pg.conninfo('rep')}\n"
                             "queries = yes\nqueries_group = root\n"})
    m.state = os.path.join(tiny.path, "state")
    os.makedirs(m.state)
    m.write_conf()
    m.start()
    q = m.path("queries/pg/sorgu")
    os.mkdir(q)
    with open(os.path.join(q, "query.sql"), "w") as f:
        f.write("SELECT 1 AS one\n")
    assert read(os.path.join(q, "result.csv")).startswith(b"one")
    tiny.fill()
    # a bigger definition does not fit: the writer hears ENOSPC
    with pytest.raises(OSError) as e:
        with open(os.path.join(q, "new.sql"), "wb") as f:
            f.write(b"-- " + b"x" * 200000 + b"\nSELECT 2 AS two\n")
            f.flush()
            os.fsync(f.fileno())
    assert e.value.errno == errno.ENOSPC
    # the saved query still holds what was last written whole
    assert read(os.path.join(q, "query.sql")) == b"SELECT 1 AS one\n"
    assert read(os.path.join(q, "result.csv")).startswith(b"one")


@pytest.fixture
def sched(pg, tmp_path, tmpfs):
    tiny = tmpfs("2m")
    s = Setup(pg, str(tmp_path), state_dir=os.path.join(tiny.path, "st"))
    s.tiny = tiny
    yield s
    s.stop()


def test_full_state_dir_history_nothing_half_written(sched, pg):
    s = sched
    pg.psql("CREATE TABLE IF NOT EXISTS sized (n int);"
            "DELETE FROM sized; INSERT INTO sized VALUES (50000)", db="rep")
    s.report("hist", sql="SELECT id, label, amount FROM big"
             " WHERE id <= (SELECT n FROM sized) ORDER BY id")
    s.start_mount()
    filler = s.tiny.fill(leave=64 * 1024)
    r = s.run_now("hist", check=None)
    assert r.returncode != 0
    assert NOSPACE in r.stderr, r.stderr
    # no copy, half or whole: only the note of the failure
    files = s.history_files("hist")
    assert [f for f in files if f.endswith(".csv")] == [], files
    assert all(f.endswith(".error.txt") for f in files), files
    for f in files:
        note = read(os.path.join(s.history("hist"), f)).decode()
        assert NOSPACE in note, note
    assert partial_files(s.state) == []
    os.unlink(filler)
    s.run_now("hist", check=0)
    copies = [f for f in s.history_files("hist") if f.endswith(".csv")]
    assert len(copies) == 1
    body = read(os.path.join(s.history("hist"), copies[0]))
    assert body.count(b"\r\n") == 50001
    assert partial_files(s.state) == []


def test_full_spool_enqueue_fails_whole(tmp_path, tmpfs):
    if not os.path.exists(exe("sapb1fs-mailer")):
        pytest.skip("sapb1fs-mailer is not built")
    tiny = tmpfs("2m")
    m = Mailer(free_port(), base=str(tmp_path))
    m.spool = os.path.join(tiny.path, "spool")
    text = open(m.config).read().replace(
        f"dir = {os.path.join(m.dir, 'spool')}", f"dir = {m.spool}")
    with open(m.config, "w") as f:
        f.write(text)
    att = tmp_path / "Bakiyeler.csv"
    att.write_bytes(b"x" * 3 * 1024 * 1024)
    r = m.enqueue("a@example.com", "büyük", text=str(att),
                  attach=[str(att)], check=False)
    assert NOSPACE in m.logs[-1], m.logs[-1]
    assert m.jobs("outbox") == [] and m.jobs("tmp") == []
    assert r == ""
    # a job that fits still goes in, whole
    small = tmp_path / "k.csv"
    small.write_bytes(b"id\r\n1\r\n")
    job = m.enqueue("a@example.com", "küçük", text=str(small),
                    attach=[str(small)])
    assert m.jobs("outbox") == [job] and m.jobs("tmp") == []
    m.cleanup()


def test_full_spool_while_delivering(tmp_path, tmpfs):
    if not os.path.exists(exe("sapb1fs-mailer")):
        pytest.skip("sapb1fs-mailer is not built")
    tiny = tmpfs("2m")
    port = free_port()
    m = Mailer(port, base=str(tmp_path))
    m.spool = os.path.join(tiny.path, "spool")
    text = open(m.config).read().replace(
        f"dir = {os.path.join(m.dir, 'spool')}", f"dir = {m.spool}")
    with open(m.config, "w") as f:
        f.write(text)
    small = tmp_path / "k.csv"
    small.write_bytes(b"id\r\n1\r\n")
    jobs = [m.enqueue("a@example.com", f"iş {i}", text=str(small))
            for i in range(3)]
    filler = tiny.fill()
    server = SmtpServer(port).start()
    try:
        m.start()
        # the mailer will not send what it cannot record as sent
        assert wait_for(lambda: "not sending it" in m.daemon_log(), 10)
        time.sleep(3)
        assert server.received == [], m.daemon_log()
        assert m.jobs("outbox") == sorted(jobs)
        lines = [ln for ln in m.daemon_log().splitlines()
                 if "not sending it" in ln]
        assert NOSPACE in lines[0]
        # it waits between tries, as for any deferral (no busy loop)
        assert len(lines) <= 3 * 8, len(lines)
        os.unlink(filler)
        assert server.wait_count(3, timeout=20), m.daemon_log()
        assert wait_for(lambda: m.jobs("sent") == sorted(jobs), 10), \
            m.daemon_log()
        time.sleep(2)
        assert len(server.received) == 3  # each once, none again
        assert m.jobs("outbox") == [] and m.jobs("tmp") == []
        assert partial_files(m.spool) == []
    finally:
        m.cleanup()
        server.stop()


def test_full_spool_scheduler_mail_job(pg, tmp_path, tmpfs):
    spool = tmpfs("2m")
    base = str(tmp_path)
    s = Setup(pg, base)
    try:
        # the spool folder the config names is the tiny file system
        os.makedirs(s.spool, exist_ok=True)
        subprocess.run(["mount", "--bind", spool.path, s.spool],
                       check=True)
        s.report("posta", sql="SELECT id, label FROM big"
                 " WHERE id <= 20000 ORDER BY id",
                 mail="finans@example.com", attach="csv")
        s.start_mount()
        filler = spool.fill(leave=32 * 1024)
        r = s.run_now("posta", check=None)
        assert r.returncode != 0, r.stderr
        assert NOSPACE in r.stderr, r.stderr
        assert s.outbox() == []
        tmp = os.path.join(s.spool, "tmp")
        assert not os.path.isdir(tmp) or os.listdir(tmp) == []
        assert partial_files(s.spool) == []
        os.unlink(filler)
        s.run_now("posta", check=0)
        assert len(s.outbox()) == 1
        assert os.listdir(tmp) == []
    finally:
        s.stop()
        subprocess.run(["umount", "-l", s.spool], capture_output=True)
