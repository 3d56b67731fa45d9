"""Fixtures for mount-level tests: one private PostgreSQL per session,
and a fresh sapb1fs mount per test over a 'pg' source."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pylib.mount import Mount, exe  # noqa: E402
from pylib.pg import PgServer  # noqa: E402

SEED = """
CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(19,6),
                d date, ts timestamp, flag boolean, note text);
INSERT INTO t VALUES
 (1, 'Tedarikçi ŞĞİıçöü A.Ş.', 9999999999999.999999, '2026-12-03',
  '2026-12-03 07:00:00.5', true, ''),
 (2, 'Quote "me", ;semi', -0.000001, '1899-12-31', '2040-01-01 00:00:00',
  false, NULL),
 (3, E'multi\\nline', 0, '2000-02-29', '1970-01-01 00:00:00', NULL,
  '=HYPERLINK("x")'),
 (4, 'emoji 😀', 12.5, NULL, NULL, true, 'x');
CREATE TABLE big AS SELECT g AS id, 'row ' || g AS label,
  (g * 1.25)::numeric(12,2) AS amount FROM generate_series(1, 20000) g;
CREATE TABLE counter (n int);
INSERT INTO counter VALUES (1);
"""


@pytest.fixture(scope="session")
def pg():
    if not os.path.exists(exe("sapb1fs")):
        pytest.skip("sapb1fs is not built")
    server = PgServer.seeded(SEED)
    yield server
    server.stop()


@pytest.fixture
def mount(pg):
    mounts = []

    def make(timeout=10, start=True, **kw):
        src = {"pg": pg.source(timeout=timeout)}
        src.update(kw.pop("sources", {}))
        m = Mount(sources=src, **kw)
        mounts.append(m)
        return m

    yield make
    for m in mounts:
        m.stop()
