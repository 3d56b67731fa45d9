"""Helpers for the tests of sapb1fs as a system file system: installing
the build into a temporary DESTDIR, private mount namespaces in which
mount(8) finds the installed programs, configs over a private
PostgreSQL, and finding the daemons the tests started.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pylib.mount import ROOT, build_dir, exe, wait_for  # noqa: E402,F401 (re-exported)


def meson_json(*args):
    r = subprocess.run(["meson", "introspect", *args, build_dir()],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def build_options():
    return {o["name"]: o["value"] for o in meson_json("--buildoptions")}


def install(destdir):
    """meson install of the build under test into @destdir; returns the
    install log's path."""
    r = subprocess.run(["meson", "install", "-C", build_dir(), "--no-rebuild",
                        "--quiet", "--destdir", destdir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("meson install failed:\n" + r.stdout + r.stderr)
    return os.path.join(build_dir(), "meson-logs", "install-log.txt")


def uninstall():
    return subprocess.run(["ninja", "-C", build_dir(), "uninstall"],
                          capture_output=True, text=True)


class Installed:
    """The build installed into a temporary DESTDIR.  .path(p) is where
    the absolute install path @p landed; .planned maps a file's name to
    its install path (without DESTDIR)."""

    def __init__(self, destdir):
        self.destdir = destdir
        opts = build_options()
        prefix = opts["prefix"]
        self.prefix = prefix
        self.sbindir = os.path.join(prefix, opts["sbindir"])
        self.sysconfdir = os.path.join(prefix, opts["sysconfdir"])
        self.mandir = os.path.join(prefix, opts["mandir"])
        self.datadir = os.path.join(prefix, opts["datadir"])
        self.planned = {}
        for dst in meson_json("--installed").values():
            self.planned[os.path.basename(dst)] = dst

    def path(self, abs_path):
        return self.destdir + abs_path

    def file(self, name):
        """The installed copy of the file called @name."""
        return self.path(self.planned[name])

    def sbin(self, prog=""):
        return self.path(os.path.join(self.sbindir, prog))


def unit_keys(path):
    """A systemd unit's Key=Value lines, as {(section, key): [values]}."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            out.setdefault((section, k.strip()), []).append(v.strip())
    return out


def pids_with(needle, prog="sapb1fs"):
    """Pids of @prog whose command line holds @needle (a test's unique
    path): the daemons a test started, and no other process."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0].decode(errors="replace")) != prog:
            continue
        if needle.encode() in b" ".join(argv):
            found.append(int(d))
    return found


def kill_pids(pids, sig=signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def ismount_ns(mountinfo_text, path):
    """The mountinfo line (fields) of @path, or None."""
    for line in mountinfo_text.splitlines():
        f = line.split()
        if len(f) > 4 and f[4] == path:
            return f
    return None


def fs_type(mountinfo_fields):
    i = mountinfo_fields.index("-")
    return mountinfo_fields[i + 1]


class Namespace:
    """A private mount namespace, held open by a sleeping shell, after
    @setup (shell commands) ran in it.  The tests reach its mounts
    through /proc/PID/root, and run commands in it with nsenter.

    mount(8) runs its helpers without PATH, so /bin/sh looks in its
    default path, /usr/local/sbin first: binding the installed sbin
    there makes "mount -t fuse.sapb1fs" find the installed sapb1fs
    without touching the machine's own folders.
    """

    def __init__(self, setup="true"):
        self.dir = tempfile.mkdtemp(prefix="sapb1-ns-")
        self.setup = setup
        self.proc = None
        self.mounts = []

    def start(self):
        script = f"set -e\n{self.setup}\necho NS-READY\nexec sleep 100000\n"
        self.out = open(os.path.join(self.dir, "ns.out"), "w+")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private",
             "sh", "-c", script],
            stdout=self.out, stderr=subprocess.STDOUT)
        ok = wait_for(lambda: "NS-READY" in self.output() or
                      self.proc.poll() is not None, 15)
        if not ok or "NS-READY" not in self.output():
            raise RuntimeError("namespace set-up failed:\n" + self.output())
        return self

    def output(self):
        self.out.flush()
        with open(self.out.name, errors="replace") as f:
            return f.read()

    def run(self, argv, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(["nsenter", "-t", str(self.proc.pid), "-m",
                               "--"] + list(argv), **kw)

    def path(self, p):
        return f"/proc/{self.proc.pid}/root{p}"

    def mountinfo(self):
        with open(f"/proc/{self.proc.pid}/mountinfo") as f:
            return f.read()

    def mounted(self, p):
        return ismount_ns(self.mountinfo(), p)

    def stop(self):
        if self.proc is None:
            return
        for m in self.mounts:
            if self.mounted(m):
                self.run(["fusermount3", "-u", "-z", m])
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def sbin_namespace(installed, extra=""):
    """A namespace whose /usr/local/sbin is the installed sbin."""
    return Namespace(f"mount --bind {installed.sbin()} /usr/local/sbin\n"
                     + extra).start()


def write_config(base, pg=None, extra="", reports=None):
    """A config in @base with its folders; a 'pg' source when @pg is
    given.  Returns (config path, mount point, reports_dir)."""
    mnt = os.path.join(base, "mnt")
    rdir = reports or os.path.join(base, "reports.d")
    for d in (mnt, os.path.join(base, "state")):
        os.makedirs(d, exist_ok=True)
    if not os.path.islink(rdir):
        os.makedirs(rdir, exist_ok=True)
    text = (f"[global]\nreports_dir = {rdir}\n"
            f"state_dir = {base}/state\n"
            f"[mount]\npath = {mnt}\ncache_dir = {base}/cache\n")
    if pg is not None:
        text += (f"[source pg]\ndriver = postgres\n"
                 f"conninfo = {pg.conninfo('rep')}\ntimeout = 10\n")
    text += extra
    conf = os.path.join(base, "sapb1fs.conf")
    with open(conf, "w") as f:
        f.write(text)
    os.chmod(base, 0o755)
    return conf, mnt, rdir


def write_report(rdir, name, header, sql):
    path = os.path.join(rdir, name + ".sql")
    with open(path + ".tmp", "w") as f:
        for k, v in header.items():
            f.write(f"-- {k}: {v}\n")
        f.write(sql.strip() + "\n")
    os.rename(path + ".tmp", path)


def stop_daemons(needle, mnt=None, ns=None):
    """Unmounts @mnt and makes sure no daemon of this test (found by the
    unique @needle in its command line) is left."""
    if mnt:
        argv = ["fusermount3", "-u", "-z", mnt]
        if ns:
            ns.run(argv)
        else:
            subprocess.run(argv, capture_output=True)
    if not wait_for(lambda: not pids_with(needle), 10):
        kill_pids(pids_with(needle))
        time.sleep(0.2)


def san_env(base, env=None):
    """The environment for a daemon that detaches: sanitizer reports go
    to files in @base, since its standard error becomes /dev/null."""
    env = dict(env or os.environ)
    for var, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
        opts = env.get(var, "")
        env[var] = (opts + ":" if opts else "") + f"log_path={base}/{name}"
    return env


def check_san_logs(base):
    from pylib.mount import check_sanitizers, libfuse_only_leaks
    for n in sorted(os.listdir(base)):
        if n.startswith(("asan.", "ubsan.")):
            with open(os.path.join(base, n), errors="replace") as f:
                text = f.read()
            if not libfuse_only_leaks(text):
                check_sanitizers(text)


def mount_bg(base, conf, mnt, opts="", prog=None, ns=None, env=None):
    """Runs the daemon without -f, as mount.fuse3 would; returns the
    finished command (the daemon itself is in the background)."""
    o = f"config={conf}" + ("," + opts if opts else "")
    argv = [prog or exe("sapb1fs"), mnt, "-o", o]
    kw = {"env": san_env(base, env), "timeout": 60}
    if ns:
        return ns.run(argv, **kw)
    return subprocess.run(argv, capture_output=True, text=True, **kw)
