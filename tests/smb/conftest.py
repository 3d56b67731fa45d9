"""Fixtures for the Samba tests: a generated tree on disk, a real smbd
serving it (tests/smb/smbserver.py), and the share seen through a mount:
the sapb1fs daemon (images/<share>/) or smbtool's small mount of the
same fs/images.c and backends/smb.c."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from smbserver import SmbServer, available  # noqa: E402
from pylib.mount import (Mount, build_dir, check_sanitizers, exe,  # noqa
                         wait_for)

BIG_SIZE = 200 * 1024 * 1024
MANY = 5000
TURKISH_DIR = "Ürün Görselleri"
TURKISH_FILE = "şemsiye kırmızı.jpg"


def smbtool_path():
    return os.environ.get("SMBTOOL") or os.path.join(
        build_dir(), "tests", "smb", "smbtool")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def make_tree(root):
    """The share's content: nested folders, Turkish and spaced names,
    5,000 small files, one 200 MB file and server-side links."""
    def put(rel, data):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    put("a.txt", b"merhaba\n")
    put(f"{TURKISH_DIR}/{TURKISH_FILE}", "kırmızı şemsiye".encode() * 99)
    put(f"{TURKISH_DIR}/boşluklu ad 1.png", b"\x89PNG" + bytes(range(256)))
    put("100% pamuk.jpg", b"percent")
    put("katalog/2024/bahar/broşür ÇĞİÖŞÜ.pdf", b"%PDF" * 1000)
    put("katalog/2024/yaz/x.jpg", os.urandom(70000))
    put("katalog/2025/kış/y z.jpg", os.urandom(3))
    put("katalog/boş.txt", b"")
    os.makedirs(os.path.join(root, "katalog/2025/empty"), exist_ok=True)
    rnd = os.urandom(4096)
    for i in range(MANY):
        n = (i * 37) % 3001
        put(f"many/f{i:05d}.jpg", rnd[: n % 4096] + i.to_bytes(4, "big"))
    with open(os.path.join(root, "big.bin"), "wb") as f:
        left = BIG_SIZE
        while left:
            n = min(left, 8 << 20)
            f.write(os.urandom(n))
            left -= n
    # Links the server must not follow out of the share, and one inside.
    os.symlink("/etc", os.path.join(root, "escape"))
    os.symlink("/etc/passwd", os.path.join(root, "passwd"))
    os.symlink("katalog", os.path.join(root, "inside"))
    subprocess.run(["chmod", "-R", "a+rX", root], check=True)


@pytest.fixture(scope="session")
def tree():
    why = available()
    if why:
        pytest.skip(why)
    base = tempfile.mkdtemp(prefix="sapb1-smbtree-")
    os.chmod(base, 0o755)
    root = os.path.join(base, "share")
    os.makedirs(root)
    make_tree(root)
    yield root
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def smbd(tree):
    server = SmbServer(tree).start()
    yield server
    server.stop()


@pytest.fixture
def live_smbd(smbd):
    """The session's smbd, restarted after a test that stops it."""
    yield smbd
    if smbd.proc is None:
        smbd.start_smbd()
    else:
        smbd.resume_smbd()


class ToolMount:
    """smbtool's mount of one share: root() is the share's root."""

    def __init__(self, url, user=None, password=None, timeout=5, ttl=10,
                 auth_retry_ms=None, name="pics"):
        self.dir = tempfile.mkdtemp(prefix="sapb1-smbtool-")
        os.chmod(self.dir, 0o755)
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt)
        self.logfile = os.path.join(self.dir, "tool.log")
        self.name = name
        self.argv = [smbtool_path(), "-u", url, "-n", name,
                     "-t", str(timeout), "-c", str(ttl)]
        if user:
            self.argv += ["-U", user]
        if auth_retry_ms is not None:
            self.argv += ["-a", str(auth_retry_ms)]
        self.env = dict(os.environ)
        self.env.pop("SMBTOOL_PASSWORD", None)
        if password is not None:
            self.env["SMBTOOL_PASSWORD"] = password
        self.proc = None

    def start(self):
        if not os.path.exists(self.argv[0]):
            pytest.skip("smbtool is not built")
        self.log_fh = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.argv + ["mount", self.mnt, "-f"],
                                     stdout=self.log_fh, stderr=self.log_fh,
                                     env=self.env)
        if not wait_for(lambda: os.path.ismount(self.mnt) or
                        self.proc.poll() is not None, 15) or \
                not os.path.ismount(self.mnt):
            raise RuntimeError("smbtool mount failed:\n" + self.log())
        return self

    def root(self, rel=""):
        return os.path.join(self.mnt, self.name, rel)

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is None:
            return
        subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                       capture_output=True)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None
        self.log_fh.close()
        log = self.log()
        shutil.rmtree(self.dir, ignore_errors=True)
        check_sanitizers(log)


class DaemonMount:
    """The sapb1fs daemon with [share] sections: root() is
    images/<name>/."""

    def __init__(self, shares, password=None):
        body = ""
        for name, kv in shares.items():
            body += f"[share {name}]\n" + "".join(
                f"{k} = {v}\n" for k, v in kv.items())
        env = {"SAPB1_SMB_PW": password} if password is not None else {}
        self.m = Mount(sections=body, env=env)
        self.name = next(iter(shares))

    def start(self):
        if not os.path.exists(exe("sapb1fs")):
            pytest.skip("sapb1fs is not built")
        self.m.start()
        return self

    def root(self, rel=""):
        return self.m.path(os.path.join("images", self.name, rel))

    def path(self, rel):
        return self.m.path(rel)

    def log(self):
        return self.m.log()

    def stop(self):
        self.m.stop()


def share_conf(smbd, share="pics", password_ref=True, **extra):
    kv = {"url": smbd.url(share), "timeout": 5, "dir_cache_ttl": 10}
    if share == "pics":
        kv["user"] = smbd.user
        kv["password"] = "${SAPB1_SMB_PW}" if password_ref else ""
    kv.update(extra)
    return kv


@pytest.fixture
def front_factory():
    made = []

    def make(kind, smbd, share="pics", password=None, **kw):
        password = smbd.password if password is None else password
        if kind == "daemon":
            extra = {}
            if "timeout" in kw:
                extra["timeout"] = kw.pop("timeout")
            f = DaemonMount({"pics": share_conf(smbd, share, **extra)},
                            password=password)
        else:
            f = ToolMount(smbd.url(share),
                          user=smbd.user if share == "pics" else None,
                          password=password if share == "pics" else None,
                          **kw)
        made.append(f)
        return f.start()

    yield make
    for f in made:
        f.stop()


@pytest.fixture(params=["daemon", "tool"])
def front(request, smbd, front_factory):
    """The share through each mount: the daemon and smbtool's."""
    return front_factory(request.param, smbd)
