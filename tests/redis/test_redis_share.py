"""Many hosts on one Redis: shared snapshots, one query for all hosts,
touch and changed definitions heard everywhere, health and metrics.
Every host is a real sapb1fs mount with its own cache folder; the
source is a real PostgreSQL, whose statement log counts the queries."""
import json
import os
import threading

from pylib.mount import wait_for
from redistools import RedisServer


def read(path):
    with open(path, "rb") as f:
        return f.read()


def health(m):
    return json.loads(read(m.path(".status/health.json")))


def metrics(m):
    out = {}
    for line in read(m.path(".status/metrics.prom")).decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_read_on_a_then_b_runs_one_query(hosts, pg, redis):
    sql = "SELECT /* rd-ab-1 */ id, name, amount FROM t ORDER BY id"
    a, b = hosts({"bal": ({"formats": "csv json html xlsx"}, sql)})
    got_a = {ext: read(a.path(f"reports/bal/bal.{ext}"))
             for ext in ("csv", "json", "html", "xlsx")}
    assert pg.statements("rd-ab-1") == 1
    assert "Tedarikçi ŞĞİıçöü A.Ş." in got_a["csv"].decode()
    # B opens every format: all come from Redis, byte for byte.
    for ext, data in got_a.items():
        assert read(b.path(f"reports/bal/bal.{ext}")) == data, ext
    assert pg.statements("rd-ab-1") == 1
    # The snapshot's time travels with it: both hosts show one mtime.
    assert (os.stat(a.path("reports/bal/bal.csv")).st_mtime ==
            os.stat(b.path("reports/bal/bal.csv")).st_mtime)
    keys = redis.keys("sapb1fs:*")
    assert sum(k.startswith("sapb1fs:snap:reports/bal:") for k in keys) == 4
    assert sum(k.startswith("sapb1fs:meta:reports/bal:") for k in keys) == 1
    assert not any(k.startswith(("sapb1fs:lock:", "sapb1fs:tmp:"))
                   for k in keys)
    assert "rows taken from redis" in b.log()
    # The shared copy expires with the report's ttl.
    meta = [k for k in keys if k.startswith("sapb1fs:meta:")][0]
    assert 0 < int(redis.cli("PTTL", meta)) <= 600_000


def test_eight_readers_on_each_host_run_one_query(hosts, pg):
    sql = ("SELECT /* rd-16-1 */ id, label, amount, pg_sleep(0) "
           "FROM big, (SELECT pg_sleep(1)) s ORDER BY id")
    a, b = hosts({"slow": ({"formats": "csv"}, sql)})
    results, errors = [], []
    barrier = threading.Barrier(16)

    def reader(m):
        try:
            barrier.wait()
            results.append(read(m.path("reports/slow/slow.csv")))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(m,))
               for m in (a, b) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(results) == 16
    assert len(set(results)) == 1
    assert results[0].count(b"\n") == 20001
    assert pg.statements("rd-16-1") == 1
    waited = metrics(a)['sapb1fs_redis_locks_total{result="waited"}'] + \
        metrics(b)['sapb1fs_redis_locks_total{result="waited"}']
    assert waited == 1


def test_touch_on_a_makes_b_fresh(hosts, pg):
    pg.psql("UPDATE counter SET n = 1", db="rep")
    sql = "SELECT /* rd-touch-1 */ n FROM counter"
    a, b = hosts({"cnt": ({"formats": "csv"}, sql)})
    assert read(a.path("reports/cnt/cnt.csv")).endswith(b"\n1\r\n")
    assert read(b.path("reports/cnt/cnt.csv")).endswith(b"\n1\r\n")
    assert pg.statements("rd-touch-1") == 1

    pg.psql("UPDATE counter SET n = 2", db="rep")
    # Within the ttl nothing changes by itself.
    assert read(b.path("reports/cnt/cnt.csv")).endswith(b"\n1\r\n")
    os.utime(a.path("reports/cnt/cnt.csv"))
    assert wait_for(lambda: metrics(b).get(
        'sapb1fs_redis_events_total{event="stale"}', 0) >= 1, 10)
    assert read(b.path("reports/cnt/cnt.csv")).endswith(b"\n2\r\n")
    # A's own next open takes what B's run left in Redis.
    assert read(a.path("reports/cnt/cnt.csv")).endswith(b"\n2\r\n")
    assert pg.statements("rd-touch-1") == 2
    # A host does not hear its own touch as another's.
    assert metrics(a)['sapb1fs_redis_events_total{event="stale"}'] == 0


def test_touch_of_a_value_folder_reaches_the_other_host(hosts, pg):
    sql = ("SELECT /* rd-param-1 */ code, total FROM region "
           "WHERE code = :code")
    header = {"formats": "csv",
              "param": "code = SELECT code FROM region ORDER BY code"}
    a, b = hosts({"reg": (header, sql)})
    path = "reports/reg/code/İç Anadolu/reg.csv"
    first = read(a.path(path))
    assert "İç Anadolu" in first.decode()
    assert read(b.path(path)) == first
    assert pg.statements("rd-param-1") == 1
    pg.psql("UPDATE region SET total = 7.75 WHERE code = 'İç Anadolu'",
            db="rep")
    os.utime(a.path("reports/reg/code/İç Anadolu"))
    assert wait_for(lambda: metrics(b).get(
        'sapb1fs_redis_events_total{event="stale"}', 0) >= 1, 10)
    assert b"7.75" in read(b.path(path))
    assert pg.statements("rd-param-1") == 2
    # Other values were not touched.
    read(a.path("reports/reg/code/Ege/reg.csv"))
    read(b.path("reports/reg/code/Ege/reg.csv"))
    assert pg.statements("rd-param-1") == 3


def test_changed_definition_is_heard_and_shared(hosts, pg):
    sql = "SELECT /* rd-def-1 */ id FROM t ORDER BY id"
    a, b = hosts({"d": ({"formats": "csv"}, sql)})
    read(a.path("reports/d/d.csv"))
    read(b.path("reports/d/d.csv"))
    assert pg.statements("rd-def-1") == 1
    # A new definition on A: A's next look at it publishes "stale".
    new = "SELECT /* rd-def-2 */ id, name FROM t ORDER BY id"
    a.report("d", {"source": "pg", "formats": "csv", "ttl": "600"}, new)
    assert wait_for(lambda: b"rd-def-2" in read(
        a.path("reports/d/query.sql")), 10)
    assert read(a.path("reports/d/d.csv")).startswith(b"id,name")
    assert wait_for(lambda: metrics(b).get(
        'sapb1fs_redis_events_total{event="stale"}', 0) >= 1, 10)
    # B, still on the old definition, keeps serving it.
    assert read(b.path("reports/d/d.csv")).startswith(b"id\r\n")
    # Once B has the new definition too, it takes A's run of it.
    b.report("d", {"source": "pg", "formats": "csv", "ttl": "600"}, new)
    assert wait_for(lambda: b"rd-def-2" in read(
        b.path("reports/d/query.sql")), 10)
    assert read(b.path("reports/d/d.csv")) == read(a.path("reports/d/d.csv"))
    assert pg.statements("rd-def-1") == 1
    assert pg.statements("rd-def-2") == 1


def test_snapshot_over_max_object_is_not_shared(hosts, pg, redis):
    sql = "SELECT /* rd-big-1 */ id, label FROM big ORDER BY id"
    a, b = hosts({"huge": ({"formats": "csv"}, sql)},
                 redis_extra="max_object = 64k")
    assert len(read(a.path("reports/huge/huge.csv"))) > 64 * 1024
    assert wait_for(lambda: "over max_object; not shared" in a.log(), 10)
    assert not redis.keys("sapb1fs:snap:*")
    assert len(read(b.path("reports/huge/huge.csv"))) > 64 * 1024
    assert pg.statements("rd-big-1") == 2
    assert metrics(a)['sapb1fs_redis_stores_total{result="skipped"}'] == 1


def test_health_and_metrics_show_redis(hosts, redis):
    sql = "SELECT /* rd-health-1 */ id FROM t"
    a, b = hosts({"h": ({"formats": "csv"}, sql)})
    read(a.path("reports/h/h.csv"))
    read(b.path("reports/h/h.csv"))
    assert wait_for(lambda: health(b)["redis"]["latency_ms"] is not None,
                    10)
    r = health(b)["redis"]
    assert r["up"] is True and r["last_error"] is None
    assert r["url"] == redis.url and 0 <= r["latency_ms"] < 1000
    ma, mb = metrics(a), metrics(b)
    assert ma["sapb1fs_redis_up"] == 1
    assert ma['sapb1fs_redis_snapshots_total{result="miss"}'] == 1
    assert ma['sapb1fs_redis_stores_total{result="stored"}'] == 1
    assert ma['sapb1fs_redis_locks_total{result="taken"}'] == 1
    assert mb['sapb1fs_redis_snapshots_total{result="hit"}'] == 1
    assert mb['sapb1fs_redis_stores_total{result="stored"}'] == 0


def test_no_redis_section_means_null(pg, tmp_path):
    from pylib.mount import Mount
    m = Mount(sources={"pg": f"driver = postgres\nconninfo = "
                             f"{pg.conninfo('rep')}\n"})
    try:
        m.start()
        assert health(m)["redis"] is None
        assert not any(k.startswith("sapb1fs_redis") for k in metrics(m))
    finally:
        m.stop()


def test_unix_socket_password_and_db(hosts, pg):
    server = RedisServer(password="s3cr3t pass", unix_socket=True)
    server.start()
    try:
        sql = "SELECT /* rd-unix-1 */ id FROM t ORDER BY id"
        a, b = hosts({"u": ({"formats": "csv"}, sql)},
                     redis_url=f"unix:{server.socket}?db=3",
                     redis_extra="password = ${REDIS_PW}\n",
                     env={"REDIS_PW": "s3cr3t pass"})
        data = read(a.path("reports/u/u.csv"))
        assert read(b.path("reports/u/u.csv")) == data
        assert pg.statements("rd-unix-1") == 1
        assert server.keys("sapb1fs:snap:*", db=3)
        assert not server.keys("*", db=0)
        for m in (a, b):
            assert f"connected to unix:{server.socket} (db 3)" in m.log()
            assert "s3cr3t" not in m.log()
    finally:
        server.stop()


def test_wrong_password_goes_on_alone(hosts, pg):
    server = RedisServer(password="right")
    server.start()
    try:
        sql = "SELECT /* rd-auth-1 */ id FROM t ORDER BY id"
        a, b = hosts({"w": ({"formats": "csv"}, sql)},
                     redis_url=server.url,
                     redis_extra="password = wrong\n")
        assert read(a.path("reports/w/w.csv")) == \
            read(b.path("reports/w/w.csv"))
        assert pg.statements("rd-auth-1") == 2
        for m in (a, b):
            assert m.log().count("redis down") == 1, m.log()
            assert "AUTH refused" in m.log()
            assert "wrong" not in m.log().replace("WRONGPASS", "")
            assert health(m)["redis"]["up"] is False
    finally:
        server.stop()


def resident_pages(fd_size):
    """(pages in the kernel's page cache, pages) of an open file, by
    mincore(2) on a fresh read-only mapping of it."""
    import ctypes
    import mmap
    fd, size = fd_size
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.c_int, ctypes.c_long)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t,
                             ctypes.c_char_p)
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    assert addr not in (None, ctypes.c_void_p(-1).value)
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = ctypes.create_string_buffer(pages)
    try:
        assert libc.mincore(addr, size, vec) == 0
        return sum(b & 1 for b in vec.raw), pages
    finally:
        libc.munmap(addr, size)


def test_touch_on_a_drops_b_kernel_pages(hosts, pg):
    sql = "SELECT /* rd-pages-1 */ id, label FROM big ORDER BY id"
    a, b = hosts({"pc": ({"formats": "csv"}, sql)})
    read(a.path("reports/pc/pc.csv"))
    path = b.path("reports/pc/pc.csv")
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size)
        assert len(data) == size
        resident, pages = resident_pages((fd, size))
        assert resident == pages  # B's page cache holds the file
        os.utime(a.path("reports/pc/pc.csv"))
        assert wait_for(lambda: metrics(b).get(
            'sapb1fs_redis_events_total{event="stale"}', 0) >= 1, 10)
        # B's thread dropped the kernel's pages of the touched file.
        assert wait_for(lambda: resident_pages((fd, size))[0] == 0, 5)
        # The open handle still reads its own snapshot, whole.
        assert os.pread(fd, size, 0) == data
    finally:
        os.close(fd)
    assert pg.statements("rd-pages-1") == 1
