"""Tools for the scheduler's integration tests: one private set-up per
test (a sapb1fs mount over the session's PostgreSQL, a spool, an SMTP
test server and the real mailer, all on one config) and the scheduler
run as a daemon or as --run-now / --list."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mail"))
from pylib.mount import Mount, check_sanitizers, exe, wait_for  # noqa: E402
from mailtools import SmtpServer  # noqa: E402


class Daemon:
    """A program of ours in the foreground, its output in a file."""

    def __init__(self, argv, logfile, ready=None, env=None):
        self.logfile = logfile
        log = open(logfile, "ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
        log.close()
        if ready:
            ok = wait_for(lambda: ready in self.log() or
                          self.proc.poll() is not None, 15)
            assert ok and self.proc.poll() is None, \
                f"{argv[0]} did not start:\n{self.log()}"

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        check_sanitizers(self.log())
        return self.proc.returncode


class Setup:
    """s = Setup(pg, tmp); s.report(...); s.start_mount(); s.run_now(x)

    Paths: s.m (the Mount), s.state, s.spool, s.history(name)."""

    def __init__(self, pg, base, timezone="Asia/Tokyo", scheduler_extra="",
                 catch_up=86400, history_keep=5, state_dir=None):
        self.smtp = SmtpServer().start()
        self.spool = os.path.join(base, "spool")
        self.pg = pg
        src = {"pg": f"driver = postgres\nconninfo = {pg.conninfo('rep')}"
                     "\ntimeout = 5\n"}
        sections = (f"[smtp]\nurl = smtp://127.0.0.1:{self.smtp.port}\n"
                    "from = Raporlar <raporlar@example.com>\n"
                    "admin = it@example.com\ntls = no\n\n"
                    f"[spool]\ndir = {self.spool}\n\n"
                    "[mailer]\nretry_first = 1\nretry_max = 2\n\n"
                    f"[scheduler]\nhistory_keep = {history_keep}\n"
                    f"catch_up = {catch_up}\n{scheduler_extra}\n")
        self.m = Mount(base=base, sources=src, sections=sections,
                       global_extra=f"timezone = {timezone}\n")
        if state_dir:
            os.makedirs(state_dir, exist_ok=True)
            self.m.state = state_dir
            self.m.write_conf()
        self.state = self.m.state
        self.conf = self.m.conf
        self.zone = timezone
        self.daemons = []

    def report(self, name, sql="SELECT id, name, amount FROM t ORDER BY id",
               **header):
        h = {"title": name, "source": "pg", "formats": "csv"}
        h.update({k.replace("_", "-"): v for k, v in header.items()})
        return self.m.report(name, h, sql)

    def start_mount(self):
        self.m.start()
        return self

    def history(self, name):
        return os.path.join(self.state, "history", name)

    def history_files(self, name):
        try:
            return sorted(f for f in os.listdir(self.history(name))
                          if not f.startswith("."))
        except FileNotFoundError:
            return []

    def scheduler(self, *args, check=None, timeout=120):
        r = subprocess.run([exe("sapb1fs-scheduler"), "--config", self.conf,
                            *args], capture_output=True, text=True,
                           timeout=timeout)
        check_sanitizers(r.stderr)
        if check is not None:
            assert r.returncode == check, r.stderr
        return r

    def run_now(self, name, check=0):
        return self.scheduler("--run-now", name, check=check)

    def start_scheduler(self, *extra):
        d = Daemon([exe("sapb1fs-scheduler"), "--config", self.conf, "-f",
                    "-d", *extra],
                   os.path.join(self.m.dir, f"sched{len(self.daemons)}.log"),
                   ready="scheduler: running")
        self.daemons.append(d)
        return d

    def start_mailer(self):
        d = Daemon([exe("sapb1fs-mailer"), "--config", self.conf, "-f",
                    "-d"], os.path.join(self.m.dir, "mailer.log"),
                   ready="watching")
        self.daemons.append(d)
        return d

    def outbox(self):
        try:
            return sorted(os.listdir(os.path.join(self.spool, "outbox")))
        except FileNotFoundError:
            return []

    def state_lines(self):
        out = {}
        try:
            with open(os.path.join(self.state, "scheduler.state")) as f:
                for line in f:
                    if line.startswith("#"):
                        continue
                    p = line.rstrip("\n").split("\t")
                    out[p[0]] = {"since": int(p[1]), "last_slot": int(p[2]),
                                 "last_start": int(p[3]),
                                 "last_end": int(p[4]), "result": p[5],
                                 "failures": int(p[6]),
                                 "notice_at": int(p[7]), "msg": p[8]}
        except FileNotFoundError:
            pass
        return out

    def write_state(self, name, since=0, last_slot=0):
        """What a scheduler that ran before would have left."""
        os.makedirs(self.state, exist_ok=True)
        with open(os.path.join(self.state, "scheduler.state"), "a") as f:
            f.write(f"{name}\t{since}\t{last_slot}\t0\t0\tnever\t0\t0\t\n")

    def stop(self):
        for d in self.daemons:
            d.stop()
        self.daemons = []
        self.m.stop()
        self.smtp.stop()


def wait_minute_boundary(margin=3):
    """Sleeps until just after a minute starts, unless one is too near."""
    rest = 60 - time.time() % 60
    if rest < margin:
        time.sleep(rest + 0.2)
