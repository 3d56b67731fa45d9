"""valgrind memcheck over a short mount session: the daemon runs under
valgrind --leak-check=full with definite leaks counted as errors, serves
reads of every format, a parameterless refresh, a failing source and a
listing, and is unmounted; memcheck must report zero errors."""
import os
import re
import shutil
import subprocess
import time

import pytest

from pylib.mount import Mount, exe, wait_for

pytestmark = pytest.mark.slow


class ValgrindMount(Mount):
    def start(self, extra_opts="allow_other", check=True):
        self.vglog = os.path.join(self.dir, "valgrind.log")
        self.log_fh = open(self.logfile, "ab")
        opts = f"config={self.conf},{extra_opts}"
        self.proc = subprocess.Popen(
            ["valgrind", "--tool=memcheck", "--leak-check=full",
             "--errors-for-leak-kinds=definite", "--error-exitcode=99",
             "--track-fds=no", f"--log-file={self.vglog}",
             exe("sapb1fs"), self.mnt, "-f", "-o", opts],
            stdout=self.log_fh, stderr=self.log_fh, env=self.env)
        ok = wait_for(lambda: os.path.ismount(self.mnt) or
                      self.proc.poll() is not None, 120)
        assert ok and os.path.ismount(self.mnt), self.log()
        return self


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_valgrind_memcheck_session(pg):
    if not shutil.which("valgrind"):
        pytest.skip("valgrind is not installed")
    if "asan" in os.path.basename(os.path.dirname(os.path.dirname(
            exe("sapb1fs")))):
        pytest.skip("valgrind needs a build without sanitizers")
    m = ValgrindMount(sources={
        "pg": f"driver = postgres\nconninfo = {pg.conninfo('rep')}\n"
              "timeout = 30\n",
        "down": "driver = postgres\nconninfo = host=127.0.0.1 port=1 "
                "dbname=x\ntimeout = 5\n"})
    try:
        m.report("v", {"source": "pg", "formats": "csv json xlsx html",
                       "ttl": "0"},
                 "SELECT id, name, amount FROM t ORDER BY id")
        m.report("b", {"source": "pg", "formats": "csv"},
                 "SELECT id, label FROM big WHERE id <= 5000")
        m.report("d", {"source": "down", "formats": "csv"}, "SELECT 1")
        m.start()
        subprocess.run(["ls", "-lR", m.path()], check=True,
                       capture_output=True)
        for fmt in ("csv", "json", "xlsx", "html"):
            assert read(m.path(f"reports/v/v.{fmt}"))
        assert read(m.path("reports/v/v.csv"))  # a second run
        assert read(m.path("reports/b/b.csv")).count(b"\r\n") == 5001
        with pytest.raises(OSError):
            read(m.path("reports/d/d.csv"))
        read(m.path(".status/health.json"))
        read(m.path(".status/metrics.prom"))
        # the kernel sends RELEASE after close() returns: give the last
        # one a moment, or unmounting races it (see docs/hardening.md)
        time.sleep(1)
        subprocess.run(["fusermount3", "-u", m.mnt], check=True)
        rc = m.proc.wait(120)
        m.proc = None
        m.log_fh.close()
        with open(m.vglog) as f:
            vg = f.read()
        summary = re.findall(r"ERROR SUMMARY: (\d+) errors", vg)
        assert summary and summary[-1] == "0", vg[-6000:]
        assert rc == 0, vg[-6000:]
    finally:
        m.stop()
