"""Fixtures for the Service Layer tests: a test CA, a demo-shaped SQLite
database, Service Layer emulators on loopback (stopped after each test),
and sltool, which runs report bodies through the servicelayer driver."""
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import emulator  # noqa: E402
from pylib.mount import build_dir, check_sanitizers  # noqa: E402

PASSWORD = "1234"


def sltool_path():
    return os.environ.get("SLTOOL") or os.path.join(
        build_dir(), "tests", "servicelayer", "sltool")


@pytest.fixture(scope="session")
def sltool_exe():
    path = sltool_path()
    if not os.access(path, os.X_OK):
        pytest.skip("sltool is not built (set SLTOOL or SAPB1FS_BUILD)")
    return path


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """(ca.pem, server.pem, server.key) of a test CA made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl tool is not installed")
    return emulator.make_test_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    return emulator.make_demo_db(
        str(tmp_path_factory.mktemp("sl") / "demo.db"))


@pytest.fixture
def sl(pki, demo_db):
    """sl(**kw) -> a started Emulator over the demo database, with TLS."""
    started = []

    def make(db=None, **kw):
        kw.setdefault("certfile", pki[1])
        kw.setdefault("keyfile", pki[2])
        emu = emulator.Emulator(db or demo_db, **kw).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


def unescape(cell):
    if cell == "\\N":
        return None
    out, i = [], 0
    while i < len(cell):
        if cell[i] == "\\" and i + 1 < len(cell):
            out.append({"\\": "\\", "t": "\t", "n": "\n",
                        "r": "\r"}[cell[i + 1]])
            i += 2
        else:
            out.append(cell[i])
            i += 1
    return "".join(out)


class Result:
    """What sltool printed: runs, columns and rows of the last run."""

    def __init__(self, out, err, rc):
        self.out, self.err, self.rc = out, err, rc
        self.runs = []
        self.cols = []
        self.rows = []
        ended = False
        for line in out.splitlines():
            f = line.split("\t")
            if f[0] in "CR" and ended:
                self.cols, self.rows, ended = [], [], False
            if f[0] in "EX":
                ended = True
            if f[0] == "C":
                self.cols.append((unescape(f[1]), f[2], int(f[3])))
            elif f[0] == "R":
                self.rows.append([unescape(c) for c in f[1:]])
            elif f[0] == "E":
                self.runs.append(("E", int(f[1])))
            elif f[0] == "X":
                self.runs.append(("X", int(f[1]), "\t".join(f[2:])))

    @property
    def names(self):
        return [c[0] for c in self.cols]

    @property
    def types(self):
        return [c[1] for c in self.cols]

    @property
    def error(self):
        last = self.runs[-1] if self.runs else None
        return last[2] if last and last[0] == "X" else None


def sltool_args(exe, url, *, odata=None, sql=None, label=None, params=(),
                ca=None, page_size=None, timeout=10, extra=()):
    argv = [exe, "--url", url, "--company", "SBODEMOTR", "--user",
            "manager", "--timeout", str(timeout)]
    if ca:
        argv += ["--ca-file", ca]
    if page_size is not None:
        argv += ["--page-size", str(page_size)]
    if odata is not None:
        argv += ["--odata", odata]
    if sql is not None:
        argv += ["--sql", sql]
    if label:
        argv += ["--label", label]
    for name, value in params:
        argv += ["--param", name if value is None else f"{name}={value}"]
    return argv + list(extra)


@pytest.fixture
def run(sltool_exe, pki):
    """run(emu_or_url, ...) -> Result of one sltool process."""

    def call(target, *, version=1, password=PASSWORD, ca="test-ca",
             **kw):
        url = target.url(version) if hasattr(target, "url") else target
        env = dict(os.environ, SLTOOL_PASSWORD=password)
        argv = sltool_args(sltool_exe, url, ca=pki[0] if ca == "test-ca"
                           else ca, **kw)
        p = subprocess.run(argv, capture_output=True, env=env, timeout=120)
        check_sanitizers(p.stderr.decode())
        return Result(p.stdout.decode(), p.stderr.decode(), p.returncode)

    return call


class Stepper:
    """An sltool with --step: each run after the first waits for go()."""

    def __init__(self, argv, env):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.lines = []

    def until_step(self, timeout=60):
        """Reads up to the next 'S' (or the end); returns the runs."""
        end = time.monotonic() + timeout
        runs = []
        while time.monotonic() < end:
            line = self.p.stdout.readline().decode()
            if not line or line.startswith("S"):
                break
            self.lines.append(line)
            if line[0] in "EX":
                runs.append(line.rstrip("\n").split("\t"))
        return runs

    def go(self):
        self.p.stdin.write(b"\n")
        self.p.stdin.flush()

    def finish(self):
        out, err = self.p.communicate(timeout=60)
        self.lines += out.decode().splitlines(True)
        check_sanitizers(err.decode())
        return err.decode()


@pytest.fixture
def stepper(sltool_exe, pki):
    made = []

    def start(emu, runs, *, version=1, extra=(), **kw):
        env = dict(os.environ, SLTOOL_PASSWORD=PASSWORD)
        kw.setdefault("ca", pki[0])
        argv = sltool_args(sltool_exe, emu.url(version), **kw)
        argv += ["--runs", str(runs), "--step"] + list(extra)
        s = Stepper(argv, env)
        made.append(s)
        return s

    yield start
    for s in made:
        if s.p.poll() is None:
            s.p.kill()
            s.p.wait()


def sqlite_rows(db, sql, params=()):
    """Rows read straight from SQLite, as the driver's text cells."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(sql, params).fetchall()
    finally:
        con.close()
    return [[None if v is None else
             (repr(v) if isinstance(v, float) else str(v)) for v in r]
            for r in rows]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes long; tests/run.sh "
                            "leaves it out of the sanitizer run")
