"""Two hosts, each with its own mount, scheduler, state_dir and spool, on
one Redis: every due run of a report is made once, by one of them, with
one history entry and one mail job.  Slow: it waits for a minute's
boundary, as the scheduler only runs on the minute."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scheduler"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "mail"))

from pylib.mount import exe, wait_for  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def two_hosts(pg, redis, tmp_path):
    if not os.path.exists(exe("sapb1fs-scheduler")):
        pytest.skip("sapb1fs-scheduler is not built")
    try:
        from schedtools import Setup
    except ImportError as e:
        pytest.skip(f"scheduler test tools unavailable: {e}")
    made = []
    for name in ("a", "b"):
        base = tmp_path / name
        base.mkdir()
        made.append(Setup(pg, str(base), timezone="Europe/Istanbul",
                          scheduler_extra=f"\n[redis]\nurl = {redis.url}\n"
                                          "timeout = 500\n"))
    yield made
    for s in made:
        s.stop()


def history(s, name):
    return [f for f in s.history_files(name) if not f.endswith(".txt")]


def test_each_due_run_is_made_by_one_host(two_hosts, pg, redis):
    sql = "SELECT /* rd-sched-1 */ id, name, amount FROM t ORDER BY id"
    for s in two_hosts:
        s.report("tick", sql=sql, schedule="* * * * *",
                 mail="finans@example.com", formats="csv json")
        s.start_mount()
    scheds = [s.start_scheduler() for s in two_hosts]
    # Wait for the first due minute to be handled by both schedulers.
    assert wait_for(lambda: all(
        s.state_lines().get("tick", {}).get("last_slot", 0) > 0
        for s in two_hosts), 90), [d.log() for d in scheds]
    for d in scheds:
        d.stop()
    slots = {}
    for s in two_hosts:
        for f in history(s, "tick"):
            stamp = f[:15]  # "2026-12-03_0700"
            slots.setdefault(stamp, {}).setdefault(s.m.dir, set()).add(f)
    assert slots, [d.log() for d in scheds]
    # Each due time: one host, with both formats, and one mail job.
    for stamp, where in slots.items():
        assert len(where) == 1, (stamp, where)
        files = next(iter(where.values()))
        assert {f"{stamp}.csv", f"{stamp}.json"} <= files, files
    assert sum(len(s.outbox()) for s in two_hosts) == len(slots)
    assert pg.statements("rd-sched-1") == len(slots)
    logs = "".join(d.log() for d in scheds)
    assert logs.count("is made by another host") == len(slots), logs
    claims = redis.keys("sapb1fs:sched:tick:*")
    assert len(claims) == len(slots)
    # The claim outlives catch_up, so a restart does not make it up.
    assert int(redis.cli("PTTL", claims[0])) > 86400 * 1000
    # The loser recorded the time as handled, like the winner.
    for s in two_hosts:
        assert s.state_lines()["tick"]["last_slot"] > 0
