"""Samba re-export: a real smbd on a private loopback port shares the
sapb1fs mount with the installed contrib snippet
(share/sapb1fs/samba/sapb1fs-share.conf), and smbclient lists it and
gets report files: the bytes and sizes are those the mount serves, even
though a listing before the first open shows 0 bytes, Turkish names come
through intact, and a touched report whose size changed comes down
whole at its new size."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

import mounttools
from mounttools import mount_bg, stop_daemons, write_config, write_report

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "smb"))
import smbserver  # noqa: E402

SHARE = "raporlar"
LS_LINE = re.compile(r"^  (.+?)\s+([ADHNRS]*)\s+(\d+)\s+"
                     r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$")
GROW = """
CREATE TABLE grow (id int PRIMARY KEY, label text);
INSERT INTO grow SELECT g, 'satır ' || g || ' ŞĞÜİÖÇ şğüıöç'
  FROM generate_series(1, 50) g;
CREATE TABLE firm (name text PRIMARY KEY);
INSERT INTO firm VALUES ('Kaya A.Ş.'), ('Öz Gıda'), ('Ak: Ltd');
"""


class Smb:
    """smbd sharing @mnt through the installed snippet, and smbclient
    with the password in an authentication file, not on its command
    line."""

    def __init__(self, installed, mnt):
        self.dir = tempfile.mkdtemp(prefix="sapb1-smbexp-")
        os.chmod(self.dir, 0o755)
        snippet = open(installed.path(
            f"{installed.datadir}/sapb1fs/samba/sapb1fs-share.conf")).read()
        assert f"[{SHARE}]" in snippet
        assert re.search(r"^\s*path = /mnt/sapb1$", snippet, re.M)
        snippet = re.sub(r"(?m)^(\s*path = )/mnt/sapb1$", r"\g<1>" + mnt,
                         snippet)
        inc = os.path.join(self.dir, "sapb1fs-share.conf")
        with open(inc, "w") as f:
            f.write(snippet)
        empty = os.path.join(self.dir, "empty")
        os.makedirs(empty)
        self.server = smbserver.SmbServer(
            empty, base=self.dir, extra_global=f"include = {inc}").start()
        self.auth = os.path.join(self.dir, "auth")
        with open(self.auth, "w") as f:
            f.write(f"username = {self.server.user}\n"
                    f"password = {self.server.password}\n")
        os.chmod(self.auth, 0o600)

    def client(self, commands):
        r = subprocess.run(
            ["smbclient", f"//127.0.0.1/{SHARE}", "-p",
             str(self.server.port), "-A", self.auth, "-c", commands],
            capture_output=True, text=True, timeout=120,
            env=dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8"))
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def ls_attrs(self, folder):
        """{name: (DOS attributes, size)} of @folder on the share."""
        out = {}
        for line in self.client(f'cd "{folder}"; ls').splitlines():
            m = LS_LINE.match(line)
            if m and m.group(1) not in (".", ".."):
                out[m.group(1)] = (m.group(2), int(m.group(3)))
        return out

    def ls(self, folder):
        """{name: size} of @folder on the share."""
        return {k: v[1] for k, v in self.ls_attrs(folder).items()}

    def get(self, path):
        local = os.path.join(self.dir, "got")
        self.client(f'get "{path}" "{local}"')
        with open(local, "rb") as f:
            data = f.read()
        os.unlink(local)
        return data

    def stop(self):
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def exported(installed, pg):
    why = smbserver.available()
    if why:
        pytest.skip(why)
    if not shutil.which("smbclient"):
        pytest.skip("smbclient is not installed (Debian smbclient)")
    pg.psql(GROW, db="rep")
    base = tempfile.mkdtemp(prefix="sapb1-exp-")
    os.chmod(base, 0o755)
    conf, mnt, rdir = write_config(base, pg)
    write_report(rdir, "liste", {"source": "pg", "ttl": "1h"},
                 "SELECT id, code, amount, note FROM inv ORDER BY id")
    write_report(rdir, "bakiye",
                 {"source": "pg", "formats": "csv xlsx", "ttl": "1h",
                  "param": "musteri = SELECT name FROM cust ORDER BY name"},
                 "SELECT i.id, c.name, i.amount FROM inv i JOIN cust c "
                 "USING (code) WHERE c.name = :musteri ORDER BY i.id")
    write_report(rdir, "buyuyen", {"source": "pg", "formats": "csv json",
                                   "ttl": "1h"},
                 "SELECT id, label FROM grow ORDER BY id")
    write_report(rdir, "unvan",
                 {"source": "pg", "formats": "csv", "ttl": "1h",
                  "param": "firma = SELECT name FROM firm"},
                 "SELECT name, length(name) AS n FROM firm "
                 "WHERE name = :firma")
    r = mount_bg(base, conf, mnt, "allow_other")
    assert r.returncode == 0, r.stderr
    smb = Smb(installed, mnt)
    yield smb, mnt, pg
    smb.stop()
    stop_daemons(conf, mnt)
    mounttools.check_san_logs(base)
    shutil.rmtree(base, ignore_errors=True)


def local(mnt, rel):
    with open(os.path.join(mnt, rel), "rb") as f:
        return f.read()


def test_share_lists_the_tree(exported):
    smb, mnt, _ = exported
    top = smb.ls_attrs("")
    assert set(top) >= {"README.txt", "reports", "queries", ".status"}
    assert "H" in top[".status"][0]  # hidden from Explorer, still there
    assert "D" in top["reports"][0]
    assert sorted(smb.ls("reports")) == ["bakiye", "buyuyen", "liste",
                                         "unvan"]
    files = smb.ls_attrs("reports/liste")
    assert sorted(files) == sorted(os.listdir(mnt + "/reports/liste"))
    assert {"liste.csv", "liste.html", "liste.json", "liste.xlsx",
            "query.sql"} <= set(files)
    # map readonly = permissions: Excel is told before it tries to save.
    assert all("R" in files[f][0] for f in files if "." in f), files


@pytest.mark.parametrize("fmt", ["csv", "json", "html", "xlsx"])
def test_get_gives_the_bytes_and_size_of_the_mount(exported, fmt):
    """Whatever size the listing showed before (0 before a first run),
    a file comes down whole; then share, mount and bytes agree."""
    smb, mnt, _ = exported
    name = f"liste.{fmt}"
    before = smb.ls("reports/liste")[name]
    data = smb.get(f"reports/liste/{name}")
    assert data == local(mnt, f"reports/liste/{name}")
    assert len(data) > 1000 and len(data) >= before
    assert smb.ls("reports/liste")[name] == len(data)
    assert os.stat(os.path.join(mnt, "reports/liste", name)).st_size == \
        len(data)


def test_turkish_names_intact(exported):
    smb, mnt, pg = exported
    names = pg.psql("SELECT name FROM cust ORDER BY name", db="rep")
    names = names.splitlines()
    assert "Çağlar İnşaat ve Yapı" in names
    listed = smb.ls("reports/bakiye/musteri")
    assert sorted(listed) == sorted(names)
    assert sorted(listed) == sorted(os.listdir(
        os.path.join(mnt, "reports/bakiye/musteri")))
    for name in names:
        rel = f"reports/bakiye/musteri/{name}/bakiye.csv"
        data = smb.get(rel)
        assert data == local(mnt, rel)
        assert name.encode() in data
        assert smb.ls(f"reports/bakiye/musteri/{name}")["bakiye.csv"] == \
            len(data)


def test_touched_report_with_a_new_size(exported):
    """touch on the mount makes the next open run again; the file got
    bigger, and the share gives the new bytes at the new size."""
    smb, mnt, pg = exported
    rel = "reports/buyuyen/buyuyen.csv"
    first = smb.get(rel)
    assert first == local(mnt, rel)
    assert "satır 50 ŞĞÜİÖÇ".encode() in first
    pg.psql("INSERT INTO grow SELECT g, 'yeni satır ' || g || ' Ğğİı' "
            "FROM generate_series(51, 130) g", db="rep")
    assert smb.get(rel) == first  # fresh for an hour: the same snapshot
    os.utime(os.path.join(mnt, rel))
    second = smb.get(rel)
    assert len(second) > len(first)
    assert "yeni satır 130 Ğğİı".encode() in second
    assert second == local(mnt, rel)
    assert smb.ls("reports/buyuyen")["buyuyen.csv"] == len(second)
    # The other format of the same run grew too, and agrees.
    js = smb.get("reports/buyuyen/buyuyen.json")
    assert js == local(mnt, "reports/buyuyen/buyuyen.json")
    assert "yeni satır 130".encode() in js


def test_names_windows_cannot_hold_are_mangled(exported):
    """A value ending in a dot or holding ':' cannot be a Windows name:
    smbd shows it under a mangled 8.3 name (docs/samba.md), which still
    opens the right file."""
    smb, mnt, _ = exported
    listed = smb.ls("reports/unvan/firma")
    assert "Öz Gıda" in listed
    assert "Kaya A.Ş." not in listed and "Ak: Ltd" not in listed
    mangled = [n for n in listed if re.fullmatch(r"[A-Z0-9_]{1,8}~[A-Z0-9]",
                                                 n)]
    assert len(mangled) == 2, listed
    got = {smb.get(f"reports/unvan/firma/{n}/unvan.csv") for n in mangled}
    want = {local(mnt, f"reports/unvan/firma/{v}/unvan.csv")
            for v in ("Kaya A.Ş.", "Ak: Ltd")}
    assert got == want
