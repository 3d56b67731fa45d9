"""sapb1fs-scheduler against the real thing: a private PostgreSQL, the
sapb1fs mount, the sapb1fs-mailer and an SMTP test server (aiosmtpd).

Runs go through the mount like any user's; history files must equal the
report's bytes, mail must arrive with its attachments, schedules must
fire on the minute, definitions change without a restart, a stopped
scheduler makes up a missed run once, and a failing source gives one
notice and then recovers."""
import fcntl
import io
import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from mailtools import parts
from pylib.mount import wait_for
from schedtools import wait_minute_boundary

FORMATS = ("csv", "html", "json", "xlsx")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def stamps(files):
    return sorted({f[:15] for f in files})


def local_stamp(zone, t):
    return datetime.fromtimestamp(t, ZoneInfo(zone)).strftime(
        "%Y-%m-%d_%H%M")


def test_run_now_copies_the_report_and_mails_it(setup):
    s = setup()
    s.report("tedarikci", title="Tedarikçi bakiyeleri",
             formats="xlsx csv html json", ttl="3600",
             mail="finans@example.com, muhasebe@example.com",
             attach="xlsx csv")
    s.start_mount()
    t0 = time.time()
    r = s.run_now("tedarikci")
    t1 = time.time()
    assert "mail queued" in r.stderr
    files = s.history_files("tedarikci")
    assert len(stamps(files)) == 1
    stamp = stamps(files)[0]
    assert stamp in {local_stamp("Asia/Tokyo", t) for t in (t0, t1)}
    # A report that mails also keeps the body it mailed.
    assert files == sorted(f"{stamp}.{e}" for e in FORMATS + ("mail.html",))
    for ext in FORMATS:
        copy = read(os.path.join(s.history("tedarikci"), f"{stamp}.{ext}"))
        assert copy == read(s.m.path(f"reports/tedarikci/tedarikci.{ext}"))
        assert copy == read(s.m.path(
            f"reports/tedarikci/history/{stamp}.{ext}"))
    assert "Tedarikçi ŞĞİıçöü A.Ş." in read(os.path.join(
        s.history("tedarikci"), f"{stamp}.csv")).decode()
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(io.BytesIO(read(os.path.join(
        s.history("tedarikci"), f"{stamp}.xlsx"))))
    assert wb.active.max_row >= 4

    assert len(s.outbox()) == 1
    s.start_mailer()
    assert s.smtp.wait_count(1), s.daemons[-1].log()
    msg = s.smtp.received[0]
    assert sorted(msg.rcpt_tos) == ["finans@example.com",
                                    "muhasebe@example.com"]
    day = datetime.fromtimestamp(t0, ZoneInfo("Asia/Tokyo"))
    assert msg.msg["Subject"] == \
        f"Tedarikçi bakiyeleri — {day:%d.%m.%Y}"
    p = parts(msg.msg)
    html = read(os.path.join(s.history("tedarikci"), f"{stamp}.mail.html"))
    assert html == read(s.m.path("reports/tedarikci/tedarikci.mail.html"))
    assert p["html"].replace("\r\n", "\n") == \
        html.decode().replace("\r\n", "\n")
    got = {name: data for name, _, data in p["attachments"]}
    assert got == {
        "Tedarikçi bakiyeleri.xlsx": read(os.path.join(
            s.history("tedarikci"), f"{stamp}.xlsx")),
        "Tedarikçi bakiyeleri.csv": read(os.path.join(
            s.history("tedarikci"), f"{stamp}.csv")),
    }
    assert wait_for(lambda: not s.outbox(), 10)
    st = s.state_lines()["tedarikci"]
    assert st["result"] == "ok" and st["last_slot"] == 0


def test_run_now_touches_for_a_fresh_run(setup, pg):
    s = setup()
    s.report("fresh", ttl="3600",
             sql="SELECT /* sched-fresh */ count(*) AS n FROM t")
    s.start_mount()
    assert read(s.m.path("reports/fresh/fresh.csv"))  # snapshot cached
    before = pg.statements("sched-fresh")
    s.run_now("fresh")
    assert pg.statements("sched-fresh") == before + 1


def test_source_down_is_a_failure_not_a_stale_copy(setup, pg):
    """With the source down the mount serves the last good snapshot; the
    scheduler must not archive or mail it as a new run."""
    s = setup()
    s.report("stale", ttl="3600", mail="finans@example.com")
    s.start_mount()
    s.run_now("stale")
    good = s.history_files("stale")
    assert len(s.outbox()) == 1
    pg.stop_server()
    try:
        r = s.run_now("stale", check=1)
    finally:
        pg.start_server()
    assert "last good snapshot" in r.stderr
    assert "Connection refused" in r.stderr or "connect" in r.stderr
    files = s.history_files("stale")
    errs = [f for f in files if f.endswith(".error.txt")]
    assert len(errs) == 1 and sorted(good + errs) == files
    assert len(s.outbox()) == 1
    st = s.state_lines()["stale"]
    assert st["result"] == "failed" and "last good snapshot" in st["msg"]
    r = s.scheduler("--list", check=0)
    assert "stale" not in r.stdout  # not scheduled: not listed
    s.run_now("stale")
    assert s.state_lines()["stale"]["result"] == "ok"


def test_history_keeps_the_newest_runs(setup):
    s = setup(history_keep=2)
    s.report("keep", formats="csv json")
    s.start_mount()
    old = ["2020-01-01_0700.csv", "2020-01-01_0700.json",
           "2020-01-02_0700.error.txt", "2020-01-03_0700.csv",
           "notes.txt", ".2020-01-03_0700.csv.tmp.Abc123"]
    os.makedirs(s.history("keep"))
    for f in old:
        with open(os.path.join(s.history("keep"), f), "w") as fh:
            fh.write("old\n")
    s.run_now("keep")
    files = s.history_files("keep")
    new = [f for f in files if f.startswith("20") and
           not f.startswith("2020")]
    assert len(stamps(new)) == 1
    assert files == sorted(["2020-01-03_0700.csv", "notes.txt"] + new)
    assert not [f for f in os.listdir(s.history("keep")) if ".tmp" in f]
    assert sorted(os.listdir(s.m.path("reports/keep/history"))) == \
        sorted(["2020-01-03_0700.csv", "notes.txt"] + new)


def test_list_shows_the_timetable(setup):
    s = setup(timezone="Europe/Istanbul")
    s.report("daily", schedule="0 7 * * 1-5")
    s.report("never", formats="csv")  # no schedule: not listed
    s.report("broken", schedule="0 7 * *")
    s.start_mount()
    s.run_now("daily")
    r = s.scheduler("--list", check=0)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE", "NEXT", "RUN", "LAST",
                                "RUN", "RESULT"]
    rows = {ln.split()[0]: ln for ln in lines[1:]}
    assert sorted(rows) == ["broken", "daily"]
    assert "invalid schedule" in rows["broken"]
    assert re.search(r"broken\.sql:\d+: schedule \"0 7 \* \*\": needs five "
                     r"fields", r.stderr)
    m = re.search(r"0 7 \* \* 1-5\s+(\d{4}-\d\d-\d\d) (07:00) \+03\s+"
                  r"(\d{4}-\d\d-\d\d \d\d:\d\d) \+03\s+ok$", rows["daily"])
    assert m, rows["daily"]
    nxt = datetime.strptime(m.group(1), "%Y-%m-%d")
    assert nxt.weekday() < 5


def test_bad_definitions_are_skipped_others_run(setup):
    s = setup()
    s.report("good", schedule="* * * * *")
    s.report("badcron", schedule="61 * * * *")
    s.report("badmail", schedule="* * * * *", mail="finans@")
    s.report("params", schedule="* * * * *",
             param="v = SELECT id FROM t",
             sql="SELECT name FROM t WHERE id = :v")
    s.start_mount()
    d = s.start_scheduler()
    log = d.log()
    assert "good scheduled \"* * * * *\"" in log
    assert re.search(r"badcron\.sql:\d+: minute field \"61\": out of "
                     r"range 0-59; badcron is not scheduled", log), log
    assert re.search(r"badmail\.sql:\d+: .*finans@", log), log
    assert re.search(r"params\.sql:\d+: a report with parameters cannot "
                     r"be scheduled", log), log
    for name in ("badcron", "badmail", "params"):
        assert f"{name} scheduled" not in log
    r = s.run_now("badmail", check=1)
    assert "finans@" in r.stderr
    assert d.stop() == 0


def test_one_scheduler_per_state_dir_and_clean_stop(setup):
    s = setup()
    s.report("x", schedule="0 0 1 1 *")
    s.start_mount()
    d = s.start_scheduler()
    r = s.scheduler("-f", check=1)
    assert "another sapb1fs-scheduler" in r.stderr
    assert f"(pid {d.proc.pid})" in r.stderr
    t = time.time()
    assert d.stop() == 0
    assert time.time() - t < 5
    assert "stopped" in d.log()


def test_a_run_never_overlaps_its_own(setup):
    s = setup()
    s.report("busy")
    s.start_mount()
    os.makedirs(s.history("busy"))
    with open(os.path.join(s.history("busy"), ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        r = s.run_now("busy", check=75)
        assert "a run of it is still going" in r.stderr
    s.run_now("busy")


def test_definitions_change_without_restart(setup):
    s = setup()
    s.report("first", schedule="0 3 * * *")
    s.start_mount()
    d = s.start_scheduler()
    rd = s.m.reports
    # editors' temporaries are not definitions
    for junk in (".second.sql.swp", "second.sql~", ".#second.sql", "4913"):
        with open(os.path.join(rd, junk), "w") as f:
            f.write("-- source: pg\n-- schedule: * * * * *\nSELECT 1\n")
    # written in place, then an editor's rename over it
    s.report("second", schedule="0 4 * * *")
    assert wait_for(lambda: "second scheduled \"0 4 * * *\"" in d.log(), 5)
    s.report("second", schedule="30 4 * * *")
    assert wait_for(lambda: "second now scheduled \"30 4 * * *\"" in
                    d.log(), 5)
    os.rename(os.path.join(rd, "first.sql"), os.path.join(rd, "third.sql"))
    assert wait_for(lambda: "first is no longer scheduled" in d.log() and
                    "third scheduled" in d.log(), 5), d.log()
    os.unlink(os.path.join(rd, "second.sql"))
    assert wait_for(lambda: "second is no longer scheduled" in d.log(), 5)
    # a definition broken while running drops out, with its line
    s.report("third", schedule="0 4 * *")
    assert wait_for(lambda: "third is no longer scheduled" in d.log(), 5)
    assert re.search(r"third\.sql:\d+: schedule \"0 4 \* \*\"", d.log())
    assert ".second.sql.swp" not in d.log()
    assert "4913" not in d.log()
    assert d.stop() == 0


def test_missed_runs_are_made_up_once(setup):
    """Stopped over three hourly times: one run at start-up, for the
    latest; a restart after it makes up nothing more."""
    s = setup()
    s.report("hourly", schedule="0 * * * *", mail="finans@example.com")
    s.start_mount()
    now = int(time.time())
    s.write_state("hourly", since=now - 3 * 3600 - 600)
    d = s.start_scheduler()
    assert wait_for(lambda: s.state_lines()["hourly"]["result"] == "ok",
                    20), d.log()
    assert d.log().count("was missed while the scheduler was stopped") == 1
    latest = now - now % 3600
    assert s.state_lines()["hourly"]["last_slot"] == latest
    assert len(stamps(s.history_files("hourly"))) == 1
    assert len(s.outbox()) == 1
    time.sleep(2)
    assert len(stamps(s.history_files("hourly"))) == 1
    assert d.stop() == 0
    d2 = s.start_scheduler()
    time.sleep(2)
    assert "was missed" not in d2.log()
    assert len(s.outbox()) == 1
    assert d2.stop() == 0


def test_missed_runs_past_catch_up_are_not_made_up(setup):
    s = setup(catch_up=600)
    now = int(time.time())
    # an hourly time about half an hour ago: missed, but past catch_up
    minute = datetime.fromtimestamp(now - 1800, ZoneInfo("Asia/Tokyo")).minute
    s.report("hourly", schedule=f"{minute} * * * *")
    s.start_mount()
    s.write_state("hourly", since=now - 5 * 3600)
    d = s.start_scheduler()
    time.sleep(2)
    assert "was missed" not in d.log()
    assert s.history_files("hourly") == []
    assert d.stop() == 0


@pytest.mark.slow
def test_stopped_over_a_due_time_catches_up_on_restart(setup):
    s = setup()
    wait_minute_boundary(margin=15)
    due = (int(time.time()) // 60 + 1) * 60
    minute = datetime.fromtimestamp(due, ZoneInfo("Asia/Tokyo")).minute
    s.report("once", schedule=f"{minute} * * * *")
    s.start_mount()
    d = s.start_scheduler()
    assert d.stop() == 0
    time.sleep(max(0, due - time.time()) + 2)
    assert s.history_files("once") == []
    d = s.start_scheduler()
    assert wait_for(lambda: s.state_lines()["once"]["result"] == "ok", 20)
    assert s.state_lines()["once"]["last_slot"] == due
    assert d.log().count("was missed") == 1
    assert len(stamps(s.history_files("once"))) == 1


@pytest.mark.slow
def test_every_minute_fires_on_time_and_new_definitions_run(setup):
    s = setup()
    s.report("minutely", schedule="* * * * *", formats="csv json")
    s.start_mount()
    d = s.start_scheduler()
    wait_minute_boundary(margin=10)
    s.report("added", schedule="*/1 * * * *")
    assert wait_for(lambda: "added scheduled" in d.log(), 5)
    boundary = (int(time.time()) // 60 + 1) * 60
    assert wait_for(lambda: all(
        s.state_lines().get(n, {}).get("last_start", 0) >= boundary
        for n in ("minutely", "added")), 75), d.log()
    for name in ("minutely", "added"):
        st = s.state_lines()[name]
        assert st["result"] == "ok"
        assert st["last_slot"] == boundary
        assert st["last_start"] - boundary <= 3, (name, st)
        assert local_stamp("Asia/Tokyo", boundary) in \
            stamps(s.history_files(name))
    assert d.stop() == 0


@pytest.mark.slow
def test_failing_source_gives_one_notice_then_recovers(setup, pg):
    s = setup()
    s.report("flaky", schedule="* * * * *", retry="1",
             mail="finans@example.com")
    s.start_mount()
    s.start_mailer()
    now = int(time.time())
    if now % 60 > 45:
        time.sleep(62 - now % 60)
        now = int(time.time())
    s.write_state("flaky", since=now - 90)
    pg.stop_server()
    try:
        d = s.start_scheduler("--retry-delay", "1")
        assert wait_for(lambda: s.state_lines()["flaky"]["result"] ==
                        "failed", 30), d.log()
        log = d.log()
        assert "attempt 1 of 2" in log
        assert "run of flaky failed after 2 attempts" in log
        errs = [f for f in s.history_files("flaky")
                if f.endswith(".error.txt")]
        assert len(errs) == 1
        assert s.history_files("flaky") == errs
        assert not [f for f in os.listdir(s.history("flaky"))
                    if ".tmp" in f]
        text = read(os.path.join(s.history("flaky"), errs[0])).decode()
        assert "failed after 2 attempts" in text
        assert s.smtp.wait_count(1, 20)
        notice = s.smtp.received[0]
        assert notice.rcpt_tos == ["it@example.com"]
        assert notice.msg["Subject"] == "sapb1fs: report flaky failed"
        assert "failed after 2 attempts" in parts(notice.msg)["text"]
    finally:
        pg.start_server()
    boundary = (int(time.time()) // 60 + 1) * 60
    assert wait_for(lambda: s.state_lines()["flaky"]["result"] == "ok",
                    80), d.log()
    st = s.state_lines()["flaky"]
    assert st["failures"] == 0 and st["last_slot"] >= boundary - 60
    assert [f for f in s.history_files("flaky") if f.endswith(".csv")]
    assert s.smtp.wait_count(3, 20)
    subjects = sorted(m.msg["Subject"] for m in s.smtp.received)
    assert subjects.count("sapb1fs: report flaky failed") == 1
    assert "sapb1fs: report flaky works again" in subjects
    assert any(m.rcpt_tos == ["finans@example.com"]
               for m in s.smtp.received)
    assert d.stop() == 0


def test_full_state_dir_leaves_nothing_half_written(setup, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                        str(small)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        s = setup(state_dir=str(small / "state"))
        s.report("big", mail="finans@example.com", formats="csv json",
                 sql="SELECT g AS id, repeat('x', 40) AS pad "
                     "FROM generate_series(1, 5000) g")
        s.start_mount()
        os.makedirs(s.history("big"))
        with open(small / "filler", "wb") as f:
            try:
                f.write(b"\0" * (2 << 20))
                f.flush()
            except OSError:
                pass
        r = s.run_now("big", check=1)
        assert "No space left on device" in r.stderr
        assert [f for f in os.listdir(s.history("big"))
                if f != ".lock"] == []
        assert s.outbox() == []
        os.unlink(small / "filler")
        s.run_now("big")
        assert len(s.history_files("big")) == 3  # csv, json, mail body
        assert len(s.outbox()) == 1
        s.stop()
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)
        shutil.rmtree(small, ignore_errors=True)


def test_mail_body_is_cut_at_the_row_cap(setup):
    s = setup()
    s.report("many", formats="csv html", mail="finans@example.com",
             attach="csv", sql="SELECT g AS id FROM generate_series(1, 450) g")
    s.start_mount()
    s.run_now("many")
    body = read(s.m.path("reports/many/many.mail.html")).decode()
    full = read(s.m.path("reports/many/many.html")).decode()
    assert body.count("<tr") < 260 < full.count("<tr")
    assert "250" in body  # the rows left out are counted
    s.start_mailer()
    assert s.smtp.wait_count(1), s.daemons[-1].log()
    p = parts(s.smtp.received[0].msg)
    assert p["html"].replace("\r\n", "\n") == body.replace("\r\n", "\n")
