"""Fixtures for the fault-injection tests: a private PostgreSQL per test
module (some tests kill it), a mount factory over a 'pg' source and
tiny tmpfs file systems.  Set SAPB1FS_BUILD to the build folder
(default: build)."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from pylib.mount import Mount, exe  # noqa: E402
from pylib.pg import PgServer  # noqa: E402
from faulttools import SEED, Tmpfs, need_root  # noqa: E402


@pytest.fixture(scope="module")
def pg():
    if not os.path.exists(exe("sapb1fs")):
        pytest.skip("sapb1fs is not built")
    server = PgServer.seeded(SEED)
    yield server
    server.stop()


@pytest.fixture
def mount(pg):
    mounts = []

    def make(timeout=10, **kw):
        src = {"pg": pg.source(timeout=timeout)}
        src.update(kw.pop("sources", {}))
        m = Mount(sources=src, **kw)
        mounts.append(m)
        return m

    yield make
    for m in mounts:
        if m.proc is None:  # killed by the test: leave no dead mount
            subprocess.run(["fusermount3", "-u", "-z", m.mnt],
                           capture_output=True)
        m.stop()
    pg.psql("UPDATE knob SET s = 0", db="rep", check=False)


@pytest.fixture
def tmpfs():
    need_root()
    made = []

    def make(size="2m"):
        t = Tmpfs(size)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()
