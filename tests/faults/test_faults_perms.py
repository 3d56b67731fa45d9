"""Permissions audit through allow_other, as unprivileged users (runuser):
every way into a report of another group, into a query folder without
queries_group, writes anywhere else, '..' and symlink tricks and xattrs
are refused with the right errno; a known password never shows in the
tree, the log, /proc/<pid>/cmdline or what others may read of
/proc/<pid>/environ, and cores are kept from holding it."""
import grp
import json
import os
import resource
import subprocess

import pytest

from faulttools import need_root
from pylib.accounts import member
from pylib.mount import exe, wait_for

OUTSIDER = "nobody"
ANALYST = "sapb1fs-ana"  # a member of queries_group
FIN, QRY = "sapb1fs-fin", "sapb1fs-qry"
SECRET = "Gizli-Parola-7f3c9e1d"

# Runs as another user: each operation, then its errno name or "ok".
PROBE = r"""
import errno, json, os, shutil, subprocess, sys
res = {}
def run(name, fn):
    try:
        out = fn()
        res[name] = "ok" if out is None else ["ok", out]
    except OSError as e:
        res[name] = errno.errorcode.get(e.errno, str(e.errno))
def sh(*argv):
    r = subprocess.run(argv, capture_output=True)
    if r.returncode:
        raise OSError(errno.EACCES if b"denied" in r.stderr
                      else errno.EIO, r.stderr.decode())
def rd(p, flags=os.O_RDONLY):
    fd = os.open(p, flags, 0o644)
    try:
        os.read(fd, 16)
    finally:
        os.close(fd)
def wr(p, flags):
    fd = os.open(p, flags, 0o644)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)
for name, op, args in json.load(sys.stdin):
    fns = {
        "read": lambda a: rd(a[0]),
        "write": lambda a: wr(a[0], os.O_WRONLY),
        "rdwr": lambda a: wr(a[0], os.O_RDWR),
        "create": lambda a: wr(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL),
        "append": lambda a: wr(a[0], os.O_WRONLY | os.O_APPEND),
        "trunc_open": lambda a: wr(a[0], os.O_WRONLY | os.O_TRUNC),
        "stat": lambda a: os.stat(a[0]) and None,
        "lstat": lambda a: os.lstat(a[0]) and None,
        "listdir": lambda a: os.listdir(a[0]) and None,
        "cat": lambda a: sh("cat", a[0]),
        "cp": lambda a: sh("cp", a[0], "/tmp/" + str(os.getpid())),
        "mkdir": lambda a: os.mkdir(a[0]),
        "rmdir": lambda a: os.rmdir(a[0]),
        "unlink": lambda a: os.unlink(a[0]),
        "rename": lambda a: os.rename(a[0], a[1]),
        "chmod": lambda a: os.chmod(a[0], int(a[1], 8)),
        "chown": lambda a: os.chown(a[0], os.getuid(), os.getgid()),
        "truncate": lambda a: os.truncate(a[0], 0),
        "utime_now": lambda a: os.utime(a[0]),
        "utime_set": lambda a: os.utime(a[0], (1, 1)),
        "symlink": lambda a: os.symlink(a[1], a[0]),
        "link": lambda a: os.link(a[0], a[1]),
        "mkfifo": lambda a: os.mkfifo(a[0]),
        "setxattr": lambda a: os.setxattr(a[0], a[1], b"v"),
        "getxattr": lambda a: os.getxattr(a[0], a[1]) and None,
        "listxattr": lambda a: os.listxattr(a[0]),
        "removexattr": lambda a: os.removexattr(a[0], a[1]),
    }
    run(name, lambda: fns[op](args))
print(json.dumps(res))
"""


def probe(user, ops):
    r = subprocess.run(["runuser", "-u", user, "--", "/usr/bin/python3",
                        "-c", PROBE], input=json.dumps(ops),
                       capture_output=True, text=True, timeout=60,
                       cwd="/")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def ensure_accounts():
    subprocess.run(["groupadd", "-f", FIN], check=True)
    member(ANALYST, QRY)


@pytest.fixture
def audited(mount, pg, tmp_path):
    need_root()
    ensure_accounts()
    env_file = tmp_path / "sapb1fs.env"
    env_file.write_text(f"PG_PASSWORD={SECRET}\n")
    env_file.chmod(0o600)
    m = mount(sources={
        "pg": f"driver = postgres\nconninfo = {pg.conninfo('rep')}\n"
              "password = ${PG_PASSWORD}\ntimeout = 5\n"
              f"queries = yes\nqueries_group = {QRY}\n",
        # a source that fails: its error must not carry the password
        "down": "driver = postgres\nconninfo = host=127.0.0.1 port=1 "
                "dbname=x user=u\npassword = ${PG_PASSWORD}\ntimeout = 3\n"},
        global_extra=f"env_file = {env_file}\n")
    m.report("fin", {"source": "pg", "formats": "csv json", "group": FIN,
                     "mode": "0440"}, "SELECT id, name FROM t ORDER BY id")
    m.report("pub", {"source": "pg", "formats": "csv"},
             "SELECT id, name FROM t ORDER BY id")
    m.report("dn", {"source": "down", "formats": "csv"}, "SELECT 1")
    hist = os.path.join(m.state, "history", "fin")
    os.makedirs(hist)
    with open(os.path.join(hist, "2026-12-01_0700.csv"), "w") as f:
        f.write("id,name\r\n1,gizli\r\n")
    m.start()
    # snapshots exist, so there is something to leak
    for p in ("reports/fin/fin.csv", "reports/pub/pub.csv"):
        with open(m.path(p), "rb") as f:
            assert f.read(2) == b"id"
    q = m.path("queries/pg/q1")
    os.mkdir(q)
    with open(os.path.join(q, "query.sql"), "w") as f:
        f.write("SELECT 1 AS one\n")
    return m


DENIED = {"EACCES"}
REFUSED = {"EACCES", "EPERM", "ENOSYS", "ENOTSUP", "EOPNOTSUPP", "EROFS",
           "EXDEV"}


def test_outsider_cannot_reach_another_groups_report(audited):
    m = audited
    fin = m.path("reports/fin")
    ops = [
        ("read", "read", [fin + "/fin.csv"]),
        ("read json", "read", [fin + "/fin.json"]),
        ("write", "write", [fin + "/fin.csv"]),
        ("cat", "cat", [fin + "/fin.csv"]),
        ("cp", "cp", [fin + "/fin.csv"]),
        ("stat", "stat", [fin + "/fin.csv"]),
        ("readdir", "listdir", [fin]),
        ("definition", "read", [fin + "/query.sql"]),
        ("history readdir", "listdir", [fin + "/history"]),
        ("history read", "read", [fin + "/history/2026-12-01_0700.csv"]),
        ("dotdot", "read", [m.path("reports/pub/../fin/fin.csv")]),
        ("dotdot history", "read",
         [m.path("reports/pub/history/../../fin/fin.csv")]),
        ("getxattr", "getxattr", [fin + "/fin.csv", "user.x"]),
        ("listxattr", "listxattr", [fin + "/fin.csv"]),
        ("control: pub", "read", [m.path("reports/pub/pub.csv")]),
    ]
    res = probe(OUTSIDER, ops)
    for name, got in res.items():
        if name.startswith("control"):
            assert got == "ok", (name, got)
        else:
            assert got in DENIED, (name, got)
    # the reports folder lists it (a name only), nothing more
    st = os.stat(fin)
    assert st.st_gid == grp.getgrnam(FIN).gr_gid
    assert st.st_mode & 0o007 == 0


def test_query_folder_without_queries_group(audited):
    m = audited
    q = m.path("queries/pg/q1")
    ops = [
        ("mkdir", "mkdir", [m.path("queries/pg/mine")]),
        ("create", "create", [q + "/new.sql"]),
        ("write", "write", [q + "/query.sql"]),
        ("truncate-open", "trunc_open", [q + "/query.sql"]),
        ("truncate", "truncate", [q + "/query.sql"]),
        ("rename", "rename", [q + "/query.sql", q + "/x.sql"]),
        ("rename dir", "rename", [q, m.path("queries/pg/q2")]),
        ("unlink", "unlink", [q + "/query.sql"]),
        ("rmdir", "rmdir", [q]),
        ("chmod", "chmod", [q + "/query.sql", "666"]),
        ("chmod dir", "chmod", [q, "777"]),
        ("chown", "chown", [q + "/query.sql"]),
        ("setxattr", "setxattr", [q + "/query.sql", "user.x"]),
        ("symlink", "symlink", [q + "/ln", "/etc/shadow"]),
        ("link", "link", [q + "/query.sql", q + "/hard"]),
        ("mkfifo", "mkfifo", [q + "/fifo"]),
    ]
    res = probe(OUTSIDER, ops)
    for name, got in res.items():
        assert got in REFUSED, (name, got)
    assert os.listdir(q) and open(q + "/query.sql").read() == \
        "SELECT 1 AS one\n"
    assert sorted(os.listdir(m.path("queries/pg"))) == ["q1"]


def test_writes_anywhere_else_refused(audited):
    m = audited
    pub = m.path("reports/pub")
    ops = [
        ("touch now (non-owner)", "utime_now", [pub + "/pub.csv"]),
        ("touch set (non-owner)", "utime_set", [pub + "/pub.csv"]),
        ("write report", "write", [pub + "/pub.csv"]),
        ("append report", "append", [pub + "/pub.csv"]),
        ("truncate report", "truncate", [pub + "/pub.csv"]),
        ("mkdir reports/", "mkdir", [m.path("reports/new")]),
        ("create in reports/x", "create", [pub + "/x.csv"]),
        ("create in .status", "create", [m.path(".status/x")]),
        ("write health", "write", [m.path(".status/health.json")]),
        ("write README", "rdwr", [m.path("README.txt")]),
        ("create at root", "create", [m.path("x")]),
        ("mkdir queries/", "mkdir", [m.path("queries/newsrc")]),
        ("unlink report", "unlink", [pub + "/pub.csv"]),
        ("rename report", "rename", [pub + "/pub.csv", pub + "/p.csv"]),
        ("chmod report", "chmod", [pub + "/pub.csv", "666"]),
        ("symlink", "symlink", [pub + "/ln", "/etc/shadow"]),
        ("link", "link", [pub + "/pub.csv", pub + "/hard"]),
        ("link out", "link", [pub + "/pub.csv", "/tmp/h13-hard"]),
        ("setxattr", "setxattr", [pub + "/pub.csv", "user.x"]),
        ("setxattr trusted", "setxattr", [pub + "/pub.csv", "trusted.x"]),
        ("removexattr", "removexattr", [pub + "/pub.csv", "user.x"]),
        ("mkdir images", "mkdir", [m.path("images/x")]),
    ]
    res = probe(OUTSIDER, ops)
    for name, got in res.items():
        assert got in REFUSED, (name, got)
    res = probe(OUTSIDER, [
        ("getxattr", "getxattr", [pub + "/pub.csv", "user.x"]),
        ("listxattr", "listxattr", [pub + "/pub.csv"])])
    # xattrs show nothing: none listed, none readable
    assert res["getxattr"] in {"ENODATA", "ENOTSUP"}, res
    assert res["listxattr"] in (["ok", []], "ENOTSUP"), res


def test_even_queries_group_cannot_leave_the_folder(audited):
    m = audited
    q = m.path("queries/pg/q1")
    res = probe(ANALYST, [
        ("mkdir", "mkdir", [m.path("queries/pg/ana")]),
        ("write sql", "create", [m.path("queries/pg/ana/query.sql")]),
    ])
    assert res == {"mkdir": "ok", "write sql": "ok"}, res
    a = m.path("queries/pg/ana")
    ops = [
        ("symlink out", "symlink", [a + "/ln", "/etc/shadow"]),
        ("symlink dotdot", "symlink", [a + "/ln2", "../../../../etc"]),
        ("hard link in", "link", [q + "/query.sql", a + "/stolen.sql"]),
        ("mkfifo", "mkfifo", [a + "/fifo"]),
        ("rename to reports", "rename", [a + "/query.sql",
                                         m.path("reports/x.sql")]),
        ("rename dotdot", "rename", [a + "/query.sql",
                                     a + "/../../../reports/y.sql"]),
        ("rename to other source", "rename",
         [a, m.path("queries/down/ana")]),
        ("setxattr", "setxattr", [a + "/query.sql", "user.x"]),
        ("setxattr security", "setxattr", [a + "/query.sql",
                                           "security.capability"]),
        ("mkdir reports", "mkdir", [m.path("reports/ana")]),
        ("read fin", "read", [m.path("reports/fin/fin.csv")]),
    ]
    res = probe(ANALYST, ops)
    for name, got in res.items():
        assert got in REFUSED | {"ENOENT", "EINVAL"}, (name, got)
    assert not os.path.lexists(os.path.join(m.state, "queries", "pg",
                                            "ana", "ln"))


def all_text(m):
    """Every file of the tree root can read, as one byte string."""
    out = b""
    for root, _, files in os.walk(m.path()):
        for f in files:
            try:
                with open(os.path.join(root, f), "rb") as fh:
                    out += fh.read()
            except OSError:
                pass
    return out


def test_password_never_shows(audited):
    m = audited
    # the failing source has tried and failed, with the password
    with pytest.raises(OSError):
        open(m.path("reports/dn/dn.csv"), "rb").read()
    assert wait_for(lambda: os.path.exists(
        m.path("reports/dn/last-error.txt")), 5)
    text = all_text(m)
    assert b"port=1" in text or b"Connection refused" in text or \
        b"connect" in text  # the error itself is there
    assert SECRET.encode() not in text
    for root, _, files in os.walk(m.state):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert SECRET.encode() not in fh.read(), f
    for root, _, files in os.walk(m.cache):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert SECRET.encode() not in fh.read(), f
    assert SECRET not in m.log()
    pid = m.proc.pid
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert SECRET.encode() not in f.read()
    # environ: the password is there (libpq reads it), but only root
    # and the daemon's own user may read that file
    st = os.stat(f"/proc/{pid}/environ")
    assert st.st_mode & 0o077 == 0 and st.st_uid == 0
    r = subprocess.run(["runuser", "-u", OUTSIDER, "--", "cat",
                        f"/proc/{pid}/environ"], capture_output=True)
    assert r.returncode != 0 and SECRET.encode() not in r.stdout
    r = subprocess.run(["runuser", "-u", OUTSIDER, "--", "cat",
                        f"/proc/{pid}/cmdline"], capture_output=True)
    assert SECRET.encode() not in r.stdout
    # what any user can read of the process
    for name in ("status", "stat", "comm", "maps", "mountinfo"):
        r = subprocess.run(["runuser", "-u", OUTSIDER, "--", "cat",
                            f"/proc/{pid}/{name}"], capture_output=True)
        assert SECRET.encode() not in r.stdout, name


def core_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4]
    return None


def test_no_core_dumps_with_secrets(mount):
    # A core of the daemon would hold the password and report data.
    # Started the way systemd or a shell with cores on would start it,
    # it must turn them off itself.
    need_root()
    with open(exe("sapb1fs"), "rb") as f:
        if b"__asan_init" in f.read():
            pytest.skip("AddressSanitizer turns cores off by itself")
    old = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (old[1], old[1]))
    try:
        m = mount()
        m.start()
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, old)
    assert core_limit(m.proc.pid) == "0", core_limit(m.proc.pid)
