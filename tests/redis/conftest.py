"""Fixtures of the many-hosts tests: one private PostgreSQL per session, a
private redis-server per test (tests kill and restart it), and "hosts":
several sapb1fs mounts on this machine, each with its own cache folder,
sharing that Redis.  Set SAPB1FS_BUILD to the build folder."""
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from pylib.mount import Mount, exe  # noqa: E402
from pylib.pg import PG_BIN, PgServer  # noqa: E402
from redistools import REDIS_SERVER, RedisServer  # noqa: E402

SEED = """
CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(19,6));
INSERT INTO t VALUES
 (1, 'Tedarikçi ŞĞİıçöü A.Ş.', 9999999999999.999999),
 (2, 'Quote "me", ;semi', -0.000001),
 (3, 'emoji 😀', 12.5);
CREATE TABLE big AS SELECT g AS id, 'satır ' || g AS label,
  (g * 1.25)::numeric(12,2) AS amount FROM generate_series(1, 20000) g;
CREATE TABLE counter (n int);
INSERT INTO counter VALUES (1);
CREATE TABLE region (code text, total numeric(12,2));
INSERT INTO region VALUES ('Ege', 10.50), ('Marmara', 20.25),
  ('İç Anadolu', 5.00);
"""


def redis_client_built():
    """True when the daemon was built with hiredis."""
    try:
        with open(os.path.join(os.path.dirname(os.path.dirname(
                exe("sapb1fs"))), "config.h")) as f:
            return "#define HAVE_REDIS" in f.read()
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg():
    if not os.path.exists(exe("sapb1fs")):
        pytest.skip("sapb1fs is not built")
    if not redis_client_built():
        pytest.skip("sapb1fs was built without hiredis (-Dredis)")
    if not os.path.exists(REDIS_SERVER) or not shutil.which("redis-cli"):
        pytest.skip("redis-server is not installed")
    if PG_BIN is None:
        pytest.skip("PostgreSQL server binaries not installed")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse here")
    server = PgServer.seeded(SEED)
    yield server
    server.stop()


@pytest.fixture
def redis(pg):
    server = RedisServer().start()
    yield server
    server.stop()


def redis_section(url, timeout=500, extra=""):
    return f"[redis]\nurl = {url}\ntimeout = {timeout}\n{extra}\n"


@pytest.fixture
def hosts(pg, redis):
    """hosts(reports, n=2, ...) -> [Mount]: n started mounts, each with
    every report of @reports ({name: (header, sql)}) in its own
    reports_dir and its own cache, all on the test's Redis."""
    made = []

    def make(reports, n=2, timeout=10, redis_timeout=500, redis_url=None,
             redis_extra="", start=True, env=None):
        mounts = []
        for _ in range(n):
            src = {"pg": pg.source(timeout=timeout)}
            m = Mount(sources=src, global_extra="log_level = info", env=env,
                      sections=redis_section(redis_url or redis.url,
                                             redis_timeout, redis_extra))
            made.append(m)
            for name, (header, sql) in reports.items():
                h = {"source": "pg", "formats": "csv json", "ttl": "600"}
                h.update(header)
                m.report(name, h, sql)
            if start:
                m.start()
            mounts.append(m)
        return mounts

    yield make
    for m in made:
        m.stop()
