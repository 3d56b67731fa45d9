"""Fixtures for the mailer's tests: a scriptable SMTP server on loopback,
a certificate, and a sapb1fs-mailer over a private spool.  Set
SAPB1FS_BUILD to the build folder (default: build)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mailtools import Mailer, SmtpServer, exe, make_certificate  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def mailer_built():
    if not os.path.exists(exe("sapb1fs-mailer")):
        pytest.skip(f"{exe('sapb1fs-mailer')} is not built")


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cert(tmp_path_factory):
    return make_certificate(str(tmp_path_factory.mktemp("cert")))


@pytest.fixture
def mailers(tmp_path):
    """A factory: mailers(port, **kw) -> Mailer, all cleaned up after."""
    made = []

    def make(port, **kw):
        m = Mailer(port, base=str(tmp_path), **kw)
        made.append(m)
        return m
    yield make
    for m in made:
        m.cleanup()


@pytest.fixture
def files(tmp_path):
    """A factory: files(name, bytes) -> path in a scratch folder."""
    folder = tmp_path / "files"
    folder.mkdir()

    def make(name, data):
        p = folder / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        return str(p)
    return make
