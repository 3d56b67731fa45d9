"""Fixtures for tests/mount: the build installed into a temporary DESTDIR
(once per session), a private PostgreSQL with Turkish names, and a
temporary folder per test that sapb1fs's users can enter."""
import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import mounttools  # noqa: E402
from pylib.pg import PgServer  # noqa: E402

SEED = """
CREATE TABLE cust (code text PRIMARY KEY, name text);
INSERT INTO cust VALUES ('C1', 'Şahin Ticaret'), ('C2', 'Öztürk Gıda'),
  ('C3', 'Çağlar İnşaat ve Yapı'), ('C4', 'Iğdır Ünlü Kuruyemiş');
CREATE TABLE inv (id int PRIMARY KEY, code text, amount numeric(19,6),
                  note text);
INSERT INTO inv SELECT g, 'C' || (1 + g % 4), g * 10.5,
  'fatura ' || g || ' ığüşöçİĞÜŞÖÇ' FROM generate_series(1, 400) g;
"""


def need_root():
    if os.geteuid() != 0:
        pytest.skip("mounting, namespaces and smbd need root here")


@pytest.fixture(scope="session")
def installed():
    """The build under test, installed with meson into a DESTDIR."""
    if not os.path.exists(mounttools.exe("sapb1fs")):
        pytest.skip("sapb1fs is not built")
    dest = tempfile.mkdtemp(prefix="sapb1-destdir-")
    mounttools.install(dest)
    yield mounttools.Installed(dest)
    shutil.rmtree(dest, ignore_errors=True)


@pytest.fixture(scope="session")
def pg():
    need_root()
    server = PgServer.seeded(SEED)
    yield server
    server.stop()


@pytest.fixture
def base():
    """A temporary folder other users can enter (smbd reads as one)."""
    d = tempfile.mkdtemp(prefix="sapb1-mnt-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)
