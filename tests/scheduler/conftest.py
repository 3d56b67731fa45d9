"""Fixtures for the scheduler's tests: the cron-next tool (a long-running
process answering one request a line) and the build folder's programs.
Set SAPB1FS_BUILD to the build folder (default: build)."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mail"))
from pylib.mount import build_dir  # noqa: E402


class CronTool:
    """Drives build/tests/scheduler/cron-next over a pipe."""

    def __init__(self, path):
        self.proc = subprocess.Popen([path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     bufsize=1)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().rstrip("\n")

    def next(self, zone, after, expr, count=1):
        """The next COUNT instants, or raises ValueError(message)."""
        out = self.ask(f"N {zone} {int(after)} {count} {expr}")
        if out.startswith("E "):
            raise ValueError(out[2:])
        return [int(x) for x in out.split()]

    def local(self, zone, t):
        return self.ask(f"L {zone} {int(t)}")

    def from_wall(self, zone, wall):
        t, kind = self.ask(f"W {zone} {int(wall)}").split()
        return int(t), kind

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def cron_tool():
    path = os.path.join(build_dir(), "tests", "scheduler", "cron-next")
    if not os.path.exists(path):
        pytest.skip(f"{path} is not built")
    tool = CronTool(path)
    yield tool
    tool.close()


SEED = """
CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(19,6),
                d date);
INSERT INTO t VALUES
 (1, 'Tedarikçi ŞĞİıçöü A.Ş.', 9999999999999.999999, '2026-12-03'),
 (2, 'Quote "me", ;semi', -0.000001, '2000-02-29'),
 (3, 'emoji 😀', 12.5, NULL);
"""


@pytest.fixture(scope="session")
def pg():
    from pylib.mount import exe
    from pylib.pg import PgServer
    for prog in ("sapb1fs", "sapb1fs-scheduler", "sapb1fs-mailer"):
        if not os.path.exists(exe(prog)):
            pytest.skip(f"{exe(prog)} is not built")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse here")
    server = PgServer.seeded(SEED)
    yield server
    server.stop()


@pytest.fixture
def setup(pg, tmp_path):
    """A factory: setup(**kw) -> schedtools.Setup, all stopped after."""
    from schedtools import Setup
    made = []

    def make(**kw):
        s = Setup(pg, str(tmp_path), **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()
