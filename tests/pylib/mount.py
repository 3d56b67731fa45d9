"""Mounting sapb1fs for tests: writes a config and report definitions into
a temporary folder, starts the real daemon in the foreground, waits for
the mount, and unmounts and stops it afterwards.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def build_dir():
    return os.environ.get("SAPB1FS_BUILD", os.path.join(ROOT, "build"))


def exe(name):
    sub = {"sapb1fs": "fs", "sapb1fs-mailer": "mail",
           "sapb1fs-scheduler": "scheduler"}[name]
    return os.path.join(build_dir(), sub, name)


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")


def libfuse_only_leaks(text):
    """True when @text is a LeakSanitizer report whose every leak was
    allocated by libfuse itself, no frame of ours on its stack: libfuse
    3.14's threaded loop drops a request in flight when the session
    ends (seen in the foreground too), which is not ours to fix."""
    if "ERROR: LeakSanitizer" not in text or "ERROR: AddressSanitizer" \
            in text or "runtime error:" in text:
        return False
    blocks = re.split(r"\n(?=(?:Direct|Indirect) leak of)", text)[1:]
    for block in blocks:
        frames = re.findall(r"^\s+#(\d+) 0x[0-9a-f]+ (.*)$", block, re.M)
        for num, where in frames:
            if num == "0" or "libfuse3.so" in where or \
                    "(<unknown module>)" in where:
                continue
            if "SUMMARY:" in where:
                continue
            return False
    return bool(blocks)


def check_sanitizers(log):
    """Fails when a sanitizer reported anything in a daemon's log, but
    for libfuse's own leak at unmount (see libfuse_only_leaks)."""
    if libfuse_only_leaks(log):
        return
    for mark in SANITIZER_MARKS:
        if mark in log:
            i = log.index(mark)
            raise AssertionError("sanitizer report:\n" + log[i:i + 4000])


class Mount:
    """A sapb1fs mount over a private config.

    m = Mount(sources={...}); m.report('name', header, sql); m.start()
    m.path('reports/x/x.csv'); m.log(); m.stop()
    """

    def __init__(self, base=None, sources=None, global_extra="",
                 mount_extra="", env=None, sections=""):
        self.dir = tempfile.mkdtemp(prefix="sapb1fs-", dir=base)
        os.chmod(self.dir, 0o755)
        self.mnt = os.path.join(self.dir, "mnt")
        self.reports = os.path.join(self.dir, "reports.d")
        self.state = os.path.join(self.dir, "state")
        self.cache = os.path.join(self.dir, "cache")
        self.conf = os.path.join(self.dir, "sapb1fs.conf")
        self.logfile = os.path.join(self.dir, "daemon.log")
        for d in (self.mnt, self.reports, self.state):
            os.makedirs(d, exist_ok=True)
        self.sources = sources or {}
        self.global_extra = global_extra
        self.mount_extra = mount_extra
        self.sections = sections
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.write_conf()

    def write_conf(self):
        text = (f"[global]\nreports_dir = {self.reports}\n"
                f"state_dir = {self.state}\n{self.global_extra}\n"
                f"[mount]\npath = {self.mnt}\ncache_dir = {self.cache}\n"
                f"{self.mount_extra}\n")
        for name, body in self.sources.items():
            text += f"[source {name}]\n{body}\n"
        text += self.sections
        with open(self.conf, "w") as f:
            f.write(text)

    def report(self, name, header, sql):
        path = os.path.join(self.reports, name + ".sql")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            for k, v in header.items():
                f.write(f"-- {k}: {v}\n")
            f.write(sql.strip() + "\n")
        os.rename(tmp, path)
        return path

    def start(self, extra_opts="allow_other", check=True):
        self.log_fh = open(self.logfile, "ab")
        opts = f"config={self.conf}"
        if extra_opts:
            opts += "," + extra_opts
        self.proc = subprocess.Popen(
            [exe("sapb1fs"), self.mnt, "-f", "-o", opts],
            stdout=self.log_fh, stderr=self.log_fh, env=self.env)
        ok = wait_for(lambda: os.path.ismount(self.mnt) or
                      self.proc.poll() is not None, 15)
        if check and not (ok and os.path.ismount(self.mnt)):
            raise RuntimeError("mount failed:\n" + self.log())
        return self

    def path(self, rel=""):
        return os.path.join(self.mnt, rel)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def unmount(self):
        if self.proc is None:
            return
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                           capture_output=True)
        try:
            # A sanitizer report is written out before the daemon ends:
            # give a slow one time rather than cut it at its first line.
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None
        self.log_fh.close()
        check_sanitizers(self.log())

    def stop(self):
        self.unmount()
        shutil.rmtree(self.dir, ignore_errors=True)
