"""Redis failing under many hosts: killed, paused (up but silent), absent
at start, and a host that died holding a run lock.  Reads must go on
without waiting on Redis past its timeout, each host must log the outage
once, and sharing must resume by itself."""
import json
import os
import threading
import time

import pytest

from pylib.mount import wait_for
from redistools import RedisServer, free_port


def read(path):
    with open(path, "rb") as f:
        return f.read()


def health(m):
    return json.loads(read(m.path(".status/health.json")))


def timed_read(path):
    t0 = time.monotonic()
    data = read(path)
    return data, time.monotonic() - t0


def warnings(m):
    """Log lines of the redis layers other than the down/back notices."""
    return [line for line in m.log().splitlines()
            if ("redis" in line or "shared" in line)
            and "redis down" not in line and "redis back" not in line
            and "connected to" not in line and "taken from redis" not in line]


def reports(prefix, names):
    return {n: ({"formats": "csv"},
                f"SELECT /* {prefix}-{n} */ id, name FROM t ORDER BY id")
            for n in names}


def test_redis_killed_then_restarted(hosts, pg, redis):
    a, b = hosts(reports("rd-kill", ("k1", "k2", "k3")))
    read(a.path("reports/k1/k1.csv"))
    read(b.path("reports/k1/k1.csv"))
    assert pg.statements("rd-kill-k1") == 1

    redis.kill()
    # Fresh local snapshots are served; new runs happen on each host.
    read(a.path("reports/k1/k1.csv"))
    read(b.path("reports/k1/k1.csv"))
    assert pg.statements("rd-kill-k1") == 1
    for m in (a, b):
        data, took = timed_read(m.path("reports/k2/k2.csv"))
        assert data.startswith(b"id,name") and took < 5
    assert pg.statements("rd-kill-k2") == 2
    # A touch still works locally.
    os.utime(a.path("reports/k1/k1.csv"))
    read(a.path("reports/k1/k1.csv"))
    assert pg.statements("rd-kill-k1") == 2
    for m in (a, b):
        assert wait_for(lambda: "redis down" in m.log(), 10)
        assert m.log().count("redis down") == 1, m.log()
        h = health(m)["redis"]
        assert h["up"] is False and h["last_error"]
    time.sleep(4)  # several reconnect attempts, none of them logged
    for m in (a, b):
        assert m.log().count("redis down") == 1, m.log()
        assert warnings(m) == []

    redis.start()  # the same port, empty as after a crash
    for m in (a, b):
        assert wait_for(lambda: "redis back" in m.log(), 15), m.log()
        assert wait_for(lambda: health(m)["redis"]["up"], 10)
    first = read(a.path("reports/k3/k3.csv"))
    assert read(b.path("reports/k3/k3.csv")) == first
    assert pg.statements("rd-kill-k3") == 1
    # Touches are heard again.
    os.utime(b.path("reports/k3/k3.csv"))
    assert wait_for(lambda: b"event=\"stale\"} 1" in read(
        a.path(".status/metrics.prom")), 10)
    for m in (a, b):
        assert m.log().count("redis down") == 1
        assert m.log().count("redis back") == 1


def test_paused_redis_delays_a_read_by_its_timeout_at_most(hosts, pg,
                                                           redis):
    a, b = hosts(reports("rd-pause", ("p1", "p2", "p3")),
                 redis_timeout=300)
    read(a.path("reports/p1/p1.csv"))
    assert pg.statements("rd-pause-p1") == 1
    redis.pause()
    try:
        # Each host pays the timeout once, then goes on alone.
        for m in (a, b):
            data, took = timed_read(m.path("reports/p2/p2.csv"))
            assert data.startswith(b"id,name")
            assert took < 2.0, took
        for m in (a, b):
            data, took = timed_read(m.path("reports/p3/p3.csv"))
            assert took < 1.0, took
            t0 = time.monotonic()
            os.utime(m.path("reports/p3/p3.csv"))
            assert time.monotonic() - t0 < 1.0
        assert pg.statements("rd-pause-p2") == 2
        for m in (a, b):
            assert wait_for(lambda: "redis down" in m.log(), 10)
    finally:
        redis.resume()
    for m in (a, b):
        assert wait_for(lambda: "redis back" in m.log(), 15), m.log()
        assert m.log().count("redis down") == 1, m.log()


def test_redis_absent_at_start_then_started(hosts, pg):
    port = free_port()
    server = RedisServer()
    server.port = port
    try:
        a, b = hosts(reports("rd-late", ("l1", "l2")),
                     redis_url=f"redis://127.0.0.1:{port}/0")
        assert read(a.path("reports/l1/l1.csv")) == \
            read(b.path("reports/l1/l1.csv"))
        assert pg.statements("rd-late-l1") == 2
        for m in (a, b):
            assert wait_for(lambda: "redis down" in m.log(), 10)
        server.start()
        for m in (a, b):
            assert wait_for(lambda: "redis back" in m.log(), 15), m.log()
        assert read(a.path("reports/l2/l2.csv")) == \
            read(b.path("reports/l2/l2.csv"))
        assert pg.statements("rd-late-l2") == 1
        for m in (a, b):
            assert m.log().count("redis down") == 1
    finally:
        server.stop()


def test_lock_of_a_dead_host_expires(hosts, pg, redis):
    (a,) = hosts(reports("rd-dead", ("g",)), n=1)
    # A host that took the lock and died: nobody renews it.
    redis.cli("SET", "sapb1fs:lock:reports/g", "dead-host-1", "PX", "2500")
    data, took = timed_read(a.path("reports/g/g.csv"))
    assert data.startswith(b"id,name")
    assert 2.0 <= took < 8.0, took
    assert pg.statements("rd-dead-g") == 1
    prom = read(a.path(".status/metrics.prom")).decode()
    assert 'sapb1fs_redis_locks_total{result="waited"} 1' in prom
    assert 'sapb1fs_redis_locks_total{result="taken"} 1' in prom


@pytest.mark.slow
def test_long_run_keeps_its_lock(hosts, pg, redis):
    """A run longer than the lock's life renews it: the other host waits
    for it instead of running the query too."""
    sql = ("SELECT /* rd-long-1 */ id, name FROM t, "
           "(SELECT pg_sleep(12)) s ORDER BY id")
    a, b = hosts({"long": ({"formats": "csv"}, sql)}, timeout=30)
    out = {}

    def read_on(m):
        out[m.dir] = read(m.path("reports/long/long.csv"))

    ta = threading.Thread(target=read_on, args=(a,))
    ta.start()
    assert wait_for(lambda: pg.statements("rd-long-1") == 1, 10)
    time.sleep(0.5)
    tb = threading.Thread(target=read_on, args=(b,))
    tb.start()
    ta.join(40)
    tb.join(40)
    assert out[a.dir] == out[b.dir]
    assert pg.statements("rd-long-1") == 1


def test_full_redis_is_logged_and_each_host_runs(hosts, pg, redis):
    used = int(next(line.split(":")[1] for line in
                    redis.cli("INFO", "memory").splitlines()
                    if line.startswith("used_memory:")))
    # Room for the lock and a part of the files, not for all of them.
    redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    redis.cli("CONFIG", "SET", "maxmemory", str(used + 400_000))
    sql = "SELECT /* rd-full-1 */ id, label, amount FROM big ORDER BY id"
    a, b = hosts({"full": ({"formats": "csv json"}, sql)})
    data = read(a.path("reports/full/full.csv"))
    assert wait_for(lambda: "cannot store reports/full" in a.log(), 10)
    assert "OOM" in a.log()
    assert read(b.path("reports/full/full.csv")) == data
    assert pg.statements("rd-full-1") == 2
    # Nothing half-stored is left to be taken.
    assert not redis.keys("sapb1fs:snap:*")
    assert not redis.keys("sapb1fs:tmp:*")
    assert not redis.keys("sapb1fs:lock:*")
    for m in (a, b):
        assert "redis down" not in m.log()
