"""images/<share>/ against a real smbd: listings, contents, copies,
names, path safety, failures and recovery, credentials, health."""
import errno
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import (BIG_SIZE, TURKISH_DIR, TURKISH_FILE,
                      sha256_file, smbtool_path)


def disk_view(root):
    """What the share must show: every entry with type, size and mtime;
    links out of the share are invisible, links inside are followed."""
    want = {}
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            target = os.path.realpath(p)
            if not (target == real_root or
                    target.startswith(real_root + os.sep)):
                continue
            st = os.stat(p)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            want[rel] = (os.path.isdir(p), 0 if os.path.isdir(p)
                         else st.st_size, st.st_mtime_ns)
        dirnames[:] = [d for d in dirnames if os.path.realpath(
            os.path.join(dirpath, d)).startswith(real_root)]
    return want


def mount_view(root):
    got = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            rel = os.path.normpath(os.path.join(rel_dir, name))
            got[rel] = (os.path.isdir(os.path.join(dirpath, name)),
                        0 if os.path.isdir(os.path.join(dirpath, name))
                        else st.st_size, st.st_mtime_ns)
    return got


def test_listing_equals_disk(tree, front):
    want = disk_view(tree)
    got = mount_view(front.root())
    assert set(got) == set(want)
    for rel, (is_dir, size, _) in want.items():
        g_dir, g_size, _ = got[rel]
        assert (g_dir, g_size) == (is_dir, size), rel


@pytest.mark.parametrize("kind", ["daemon", "tool"])
def test_times_equal_disk(tree, smbd, front_factory, kind):
    f = front_factory(kind, smbd)
    want = disk_view(tree)
    got = mount_view(f.root())
    for rel, (_, _, mtime) in want.items():
        # SMB carries times in 100 ns steps.
        assert abs(got[rel][2] - mtime) < 1000, rel


def test_modes_are_read_only(front):
    st = os.stat(front.root("a.txt"))
    assert oct(st.st_mode & 0o7777) == oct(0o444)
    assert st.st_nlink == 1
    assert st.st_blocks == (st.st_size + 511) // 512
    st = os.stat(front.root("katalog"))
    assert oct(st.st_mode & 0o7777) == oct(0o555)


def test_inodes_are_stable(front):
    a = os.stat(front.root("katalog/2024/yaz/x.jpg")).st_ino
    listed = {e.name: e.inode() for e in os.scandir(
        front.root("katalog/2024/yaz"))}
    assert listed["x.jpg"] == a
    time.sleep(1.1)
    assert os.stat(front.root("katalog/2024/yaz/x.jpg")).st_ino == a


def test_turkish_and_spaced_names(tree, front):
    names = os.listdir(front.root(TURKISH_DIR))
    assert sorted(names) == sorted([TURKISH_FILE, "boşluklu ad 1.png"])
    with open(front.root(f"{TURKISH_DIR}/{TURKISH_FILE}"), "rb") as f:
        assert f.read() == "kırmızı şemsiye".encode() * 99
    with open(front.root("100% pamuk.jpg"), "rb") as f:
        assert f.read() == b"percent"
    assert os.path.exists(front.root("katalog/2024/bahar/broşür ÇĞİÖŞÜ.pdf"))


@pytest.mark.slow
def test_every_file_sha256(tree, front):
    mnt = front.root()
    count = 0
    for dirpath, _, filenames in os.walk(mnt):
        for name in filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, mnt)
            assert sha256_file(p) == sha256_file(os.path.join(tree, rel)), rel
            count += 1
    assert count > 5000


def test_random_offsets(tree, front):
    """Reads anywhere, across read-ahead windows, match the original."""
    rnd = random.Random(4)
    src = os.path.join(tree, "big.bin")
    fd_m = os.open(front.root("big.bin"), os.O_RDONLY)
    fd_d = os.open(src, os.O_RDONLY)
    try:
        for _ in range(60):
            off = rnd.randrange(0, BIG_SIZE)
            n = rnd.choice([1, 4096, 65536, 131072, 1 << 20, 3 << 20])
            assert os.pread(fd_m, n, off) == os.pread(fd_d, n, off), off
        assert os.pread(fd_m, 10, BIG_SIZE) == b""
        assert os.pread(fd_m, 100, BIG_SIZE - 7) == os.pread(fd_d, 7,
                                                             BIG_SIZE - 7)
    finally:
        os.close(fd_m)
        os.close(fd_d)


def tree_digest(root):
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = sha256_file(p)
    return out


@pytest.mark.parametrize("tool", ["cp", "rsync"])
def test_copy_folder(tree, front, tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")
    dst = tempfile.mkdtemp(prefix="sapb1-smbcopy-")
    try:
        src = front.root("katalog")
        if tool == "cp":
            subprocess.run(["cp", "-r", src, dst], check=True)
        else:
            subprocess.run(["rsync", "-r", src, dst], check=True)
        assert tree_digest(os.path.join(dst, "katalog")) == \
            tree_digest(os.path.join(tree, "katalog"))
        assert os.path.isdir(os.path.join(dst, "katalog/2025/empty"))
    finally:
        shutil.rmtree(dst, ignore_errors=True)


@pytest.mark.slow
def test_copy_many(tree, front):
    dst = tempfile.mkdtemp(prefix="sapb1-smbcopy-")
    try:
        subprocess.run(["cp", "-r", front.root("many"), dst], check=True)
        assert tree_digest(os.path.join(dst, "many")) == \
            tree_digest(os.path.join(tree, "many"))
    finally:
        shutil.rmtree(dst, ignore_errors=True)


def test_links_out_of_the_share_are_invisible(front):
    names = os.listdir(front.root())
    assert "escape" not in names and "passwd" not in names
    with pytest.raises(FileNotFoundError):
        os.stat(front.root("escape/passwd"))
    with pytest.raises(FileNotFoundError):
        open(front.root("passwd"), "rb")
    # A link that stays inside the share reads like its target.
    assert sorted(os.listdir(front.root("inside"))) == \
        sorted(os.listdir(front.root("katalog")))


def test_writes_are_refused(front):
    with pytest.raises(OSError) as e:
        open(front.root("a.txt"), "wb")
    assert e.value.errno in (errno.EROFS, errno.EACCES)
    with pytest.raises(OSError) as e:
        os.mkdir(front.root("yeni"))
    assert e.value.errno in (errno.EROFS, errno.EACCES)
    with pytest.raises(OSError) as e:
        open(front.root("new.txt"), "w")
    assert e.value.errno in (errno.EROFS, errno.EACCES)


def smbtool(smbd, *args, share="pics", password=None, timeout=5,
            extra=(), check=False):
    argv = [smbtool_path(), "-u", smbd.url(share), "-t", str(timeout)]
    argv += list(extra)
    env = dict(os.environ)
    if share == "pics":
        argv += ["-U", smbd.user]
        env["SMBTOOL_PASSWORD"] = smbd.password if password is None \
            else password
    if not os.path.exists(argv[0]):
        pytest.skip("smbtool is not built")
    return subprocess.run(argv + list(args), capture_output=True,
                          env=env, check=check, timeout=120)


@pytest.mark.parametrize("rel,err", [
    ("..", "Invalid argument"),
    ("../share", "Invalid argument"),
    ("katalog/../a.txt", "Invalid argument"),
    ("katalog/./2024", "Invalid argument"),
    ("katalog//2024", "Invalid argument"),
    ("/a.txt", "Invalid argument"),
    ("katalog%2f2024", "Invalid argument"),
    ("katalog%2F..%2Fa.txt", "Invalid argument"),
    ("katalog%5c2024", "Invalid argument"),
    ("katalog\\2024", "Invalid argument"),
    ("a.txt%00.jpg", "Invalid argument"),
    ("a.txt:stream", "No such file"),
    ("x" * 256, "File name too long"),
])
def test_escapes_fail(smbd, rel, err):
    r = smbtool(smbd, "stat", rel)
    assert r.returncode == 1, r.stdout
    assert err in r.stderr.decode()
    r = smbtool(smbd, "cat", rel)
    assert r.returncode == 1
    r = smbtool(smbd, "ls", rel)
    assert r.returncode == 1


def test_tool_reads_at_offsets(tree, smbd):
    with open(os.path.join(tree, "big.bin"), "rb") as f:
        f.seek(12345678)
        want = f.read(3 << 20)
    r = smbtool(smbd, "cat", "big.bin", "12345678", str(3 << 20), check=True)
    assert r.stdout == want


def test_guest_share(tree, smbd, front_factory):
    f = front_factory("tool", smbd, share="guest")
    assert os.listdir(f.root(TURKISH_DIR))
    r = smbtool(smbd, "ls", "", share="guest")
    assert r.returncode == 0 and b"a.txt" in r.stdout
    # The user share refuses guests.
    r = subprocess.run([smbtool_path(), "-u", smbd.url("pics"), "ls", ""],
                       capture_output=True, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 1 and b"Permission denied" in r.stderr


def test_wrong_password_one_log_line(smbd):
    r = smbtool(smbd, "repeat", "5", "ls", "", password="yanlış-parola")
    err = r.stderr.decode()
    assert r.returncode == 1
    assert err.count("Permission denied") == 5
    lines = [ln for ln in err.splitlines() if "refused" in ln]
    assert len(lines) == 1, err
    assert "yanlış-parola" not in err
    assert smbd.user in lines[0]


@pytest.mark.slow
def test_wrong_password_daemon(smbd, front_factory):
    f = front_factory("daemon", smbd, password="yanlış-parola")
    for _ in range(4):
        with pytest.raises(PermissionError):
            os.listdir(f.root())
    log = f.log()
    assert len([ln for ln in log.splitlines() if "refused" in ln]) == 1, log
    assert "yanlış-parola" not in log
    health = json.load(open(f.path(".status/health.json")))
    assert health["shares"]["pics"]["reachable"] is False
    assert "refused" in health["shares"]["pics"]["last_error"]


def test_password_fixed_on_server_recovers(smbd, front_factory):
    f = front_factory("tool", smbd, password="Yeni-Parola-2",
                      auth_retry_ms=500)
    try:
        with pytest.raises(PermissionError):
            os.listdir(f.root())
        smbd.set_password("Yeni-Parola-2")
        time.sleep(0.7)
        assert "a.txt" in os.listdir(f.root())
    finally:
        smbd.set_password("Gizli-Parola-1")
    log = f.log()
    assert len([ln for ln in log.splitlines() if "refused" in ln]) == 1
    assert "reachable again" in log


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["daemon", "tool"])
def test_smbd_stopped_mid_read(tree, live_smbd, front_factory, kind):
    smbd = live_smbd
    f = front_factory(kind, smbd, timeout=5)
    path = f.root("big.bin")
    want = open(os.path.join(tree, "big.bin"), "rb")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(fd, 1 << 20, 0) == want.read(1 << 20)
        smbd.stop_smbd()
        t0 = time.monotonic()
        with pytest.raises(OSError):
            # Far from what read-ahead holds.
            os.pread(fd, 1 << 20, 150 << 20)
        assert time.monotonic() - t0 < 5 + 1.5
        with pytest.raises(OSError):
            os.listdir(f.root("katalog/2025"))
        smbd.start_smbd()
        # The same handle reads on after the restart; so do new ones.
        want.seek(100 << 20)
        assert os.pread(fd, 1 << 20, 100 << 20) == want.read(1 << 20)
        assert sha256_file(path) == sha256_file(
            os.path.join(tree, "big.bin"))
        assert "a.txt" in os.listdir(f.root())
    finally:
        os.close(fd)
        want.close()


@pytest.mark.slow
def test_hung_server_answers_within_timeout(live_smbd, front_factory):
    smbd = live_smbd
    f = front_factory("tool", smbd, timeout=2)
    os.listdir(f.root())
    smbd.pause_smbd()
    try:
        t0 = time.monotonic()
        with pytest.raises(OSError) as e:
            os.listdir(f.root("katalog/2024/bahar"))
        took = time.monotonic() - t0
        assert e.value.errno in (errno.ETIMEDOUT, errno.EIO)
        assert took < 2 + 1.0, took
        # Other calls do not queue behind the stuck one for longer.
        t0 = time.monotonic()
        with pytest.raises(OSError):
            open(f.root("katalog/2024/yaz/x.jpg"), "rb").read()
        assert time.monotonic() - t0 < 2 + 1.0
    finally:
        smbd.resume_smbd()
    time.sleep(0.2)
    assert os.listdir(f.root("katalog/2024/bahar"))


def test_silent_server_times_out(smbd):
    """A server that accepts and never answers: an error within the
    timeout, not a hang."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    conns = []

    def accept():
        while True:
            try:
                conns.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        argv = [smbtool_path(), "-u", f"smb://127.0.0.1:{port}/pics",
                "-U", "x", "-t", "2", "ls", ""]
        if not os.path.exists(argv[0]):
            pytest.skip("smbtool is not built")
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, timeout=60,
                           env={"SMBTOOL_PASSWORD": "x"})
        took = time.monotonic() - t0
        assert r.returncode == 1
        assert took < 2 + 1.5, took
        assert b"timed out" in r.stderr or b"no answer" in r.stderr
    finally:
        srv.close()
        for c in conns:
            c.close()


def test_health_json(smbd, front_factory):
    f = front_factory("daemon", smbd)
    os.listdir(f.root())
    h = json.load(open(f.path(".status/health.json")))["shares"]["pics"]
    assert h["reachable"] is True
    assert h["last_error"] is None
    assert isinstance(h["latency_ms"], (int, float))


def test_bad_url_is_refused(smbd):
    for url in ("http://x/y", "smb://host", "smb://user@host/share",
                "smb://host:99999/share", "smb://host/share/../x"):
        r = subprocess.run([smbtool_path(), "-u", url, "ls", ""],
                           capture_output=True, timeout=30)
        assert r.returncode == 1, url
        assert b"cannot set up share" in r.stderr, url


def test_listing_is_cached(tree, smbd, front_factory):
    f = front_factory("tool", smbd, ttl=2)
    assert "new.txt" not in os.listdir(f.root("katalog"))
    p = os.path.join(tree, "katalog", "new.txt")
    with open(p, "w") as out:
        out.write("x")
    os.chmod(p, 0o644)
    try:
        assert "new.txt" not in os.listdir(f.root("katalog"))
        time.sleep(2.2)
        assert "new.txt" in os.listdir(f.root("katalog"))
    finally:
        os.unlink(p)
