"""A private Samba server for tests: smbd on 127.0.0.1 on a free port,
with its own smb.conf, passdb, state folders and log in a temporary
folder, serving two shares of a folder the test fills:

  [pics]   for a user with a password (tdbsam in the private folder)
  [guest]  for guests

smbd needs a system user behind the Samba user; one is created with
useradd when it does not exist and removed again by stop().
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SMBD = shutil.which("smbd") or "/usr/sbin/smbd"
SMBPASSWD = shutil.which("smbpasswd") or "/usr/bin/smbpasswd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available():
    """None when a test smbd can run here, else the reason."""
    if not os.path.exists(SMBD):
        return "smbd not installed (Debian samba)"
    if os.geteuid() != 0:
        return "smbd needs root here (it switches to the share's user)"
    return None


class SmbServer:
    """start() -> self; .port, .url(share), .stop_smbd(), .start_smbd()."""

    def __init__(self, root, user=None, password="Gizli-Parola-1",
                 base=None, extra_global=""):
        self.root = root
        self.dir = tempfile.mkdtemp(prefix="sapb1-smb-", dir=base)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "smb.conf")
        self.log = os.path.join(self.dir, "log.smbd")
        self.port = free_port()
        self.user = user or "sapb1t%d" % (os.getpid() % 100000)
        self.password = password
        self.extra_global = extra_global
        self.created_user = False
        self.proc = None

    # --- set-up -----------------------------------------------------

    def _write_conf(self):
        d = self.dir
        for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""[global]
server role = standalone server
smb ports = {self.port}
bind interfaces only = yes
interfaces = 127.0.0.1/8
disable netbios = yes
private dir = {d}/private
lock directory = {d}/lock
state directory = {d}/state
cache directory = {d}/cache
pid directory = {d}/pid
ncalrpc dir = {d}/ncalrpc
log file = {self.log}
log level = 1
max log size = 0
passdb backend = tdbsam:{d}/private/passdb.tdb
map to guest = Bad User
guest account = nobody
load printers = no
printing = bsd
printcap name = /dev/null
disable spoolss = yes
usershare max shares = 0
{self.extra_global}

[pics]
path = {self.root}
read only = yes
guest ok = no
valid users = {self.user}

[guest]
path = {self.root}
read only = yes
guest ok = yes
guest only = yes
""")

    def _ensure_user(self):
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin",
                            self.user], check=True, capture_output=True)
            self.created_user = True

    def set_password(self, password):
        self.password = password
        subprocess.run([SMBPASSWD, "-c", self.conf, "-a", "-s", self.user],
                       input=f"{password}\n{password}\n", text=True,
                       check=True, capture_output=True)

    def start(self):
        self._write_conf()
        self._ensure_user()
        self.set_password(self.password)
        self.start_smbd()
        return self

    # --- the daemon -------------------------------------------------

    def start_smbd(self, wait=20.0):
        self.proc = subprocess.Popen(
            [SMBD, "--foreground", "--no-process-group", "-s", self.conf,
             "--debug-stdout"],
            stdout=open(os.path.join(self.dir, "smbd.out"), "ab"),
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("smbd exited: " + self.output())
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("smbd did not listen: " + self.output())

    def stop_smbd(self):
        """Stops smbd and every child serving a connection."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def pause_smbd(self):
        """SIGSTOPs smbd and its children: a server that hangs."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume_smbd(self):
        os.killpg(self.proc.pid, signal.SIGCONT)

    def output(self):
        try:
            with open(os.path.join(self.dir, "smbd.out"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        self.stop_smbd()
        if self.created_user:
            subprocess.run(["userdel", self.user], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, share="pics", path=""):
        u = f"smb://127.0.0.1:{self.port}/{share}"
        return u + ("/" + path if path else "")
