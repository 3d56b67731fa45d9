"""meson install: the programs, man pages, units, tmpfiles.d, the example
config (never over an existing config) and the demo reports land under
the prefix (or DESTDIR), and ninja uninstall takes every one away."""
import filecmp
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import mounttools
from mounttools import ROOT, unit_keys

PROGRAMS = ["sapb1fs", "sapb1fs-scheduler", "sapb1fs-mailer"]
OWN_PAGES = ["sapb1fs.8", "sapb1fs.conf.5", "sapb1fs-reports.5"]
OTHER_PAGES = ["sapb1fs-mailer.8", "sapb1fs-scheduler.8"]
UNITS = ["mnt-sapb1.mount", "mnt-sapb1.automount",
         "sapb1fs-scheduler.service", "sapb1fs-mailer.service"]


def built_with_systemd():
    with open(os.path.join(mounttools.build_dir(), "config.h")) as f:
        return re.search(r"#define HAVE_SYSTEMD\b", f.read()) is not None


def tree(root):
    """Every file and folder under @root, relative."""
    out = set()
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


def test_programs_pages_units_in_place(installed):
    for prog in PROGRAMS:
        path = installed.sbin(prog)
        assert os.access(path, os.X_OK), path
    pages = OWN_PAGES + [p for p in OTHER_PAGES
                         if os.path.exists(f"{ROOT}/docs/{p}.scd")]
    for page in pages:
        section = page.rsplit(".", 1)[1]
        assert os.path.isfile(installed.path(
            f"{installed.mandir}/man{section}/{page}")), page
    for unit in UNITS:
        assert os.path.isfile(installed.file(unit)), unit
    tmpfiles = installed.planned["sapb1fs.conf"]
    assert tmpfiles.endswith("/tmpfiles.d/sapb1fs.conf")
    etc = installed.path(f"{installed.sysconfdir}/sapb1fs")
    assert os.path.isfile(f"{etc}/sapb1fs.conf.example")
    assert os.path.isdir(f"{etc}/reports.d")
    assert not os.path.exists(f"{etc}/sapb1fs.conf")
    share = installed.path(f"{installed.datadir}/sapb1fs")
    assert os.path.isfile(f"{share}/samba/sapb1fs-share.conf")
    assert os.path.isfile(f"{share}/fstab.example")


def test_units_point_at_installed_paths(installed):
    conf = f"{installed.sysconfdir}/sapb1fs/sapb1fs.conf"
    for unit in UNITS:
        text = open(installed.file(unit)).read()
        assert not re.search(r"@[A-Z_]+@", text), unit
    for svc in ("sapb1fs-scheduler", "sapb1fs-mailer"):
        keys = unit_keys(installed.file(svc + ".service"))
        start = keys[("Service", "ExecStart")][0].split()
        assert start[0] == f"{installed.sbindir}/{svc}"
        assert start[1:3] == ["--config", conf]
        want = "notify" if built_with_systemd() else "simple"
        assert keys[("Service", "Type")] == [want]
    mount = unit_keys(installed.file("mnt-sapb1.mount"))
    assert f"config={conf}" in mount[("Mount", "Options")][0].split(",")


def test_example_config_is_valid(installed, base):
    """The installed example passes --check-config as it stands, its
    reports_dir being the installed (empty) reports.d."""
    text = open(installed.file("sapb1fs.conf.example")).read()
    etc = f"{installed.sysconfdir}/sapb1fs"
    text = text.replace(f"{etc}/reports.d", installed.path(f"{etc}/reports.d"))
    conf = os.path.join(base, "sapb1fs.conf")
    with open(conf, "w") as f:
        f.write(text)
    r = subprocess.run([installed.sbin("sapb1fs"), "--check-config", conf],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration is valid" in r.stdout


def test_demo_reports_installed(installed):
    src = os.path.join(ROOT, "contrib", "demo", "reports")
    dst = installed.path(f"{installed.datadir}/sapb1fs/demo/reports")
    names = sorted(os.listdir(src))
    assert sorted(os.listdir(dst)) == names
    match, mismatch, errors = filecmp.cmpfiles(src, dst, names,
                                               shallow=False)
    assert not mismatch and not errors


def test_uninstall_leaves_nothing():
    dest = tempfile.mkdtemp(prefix="sapb1-uninst-")
    try:
        root = os.path.join(dest, "root")
        mounttools.install(root)
        assert os.path.isdir(root)
        r = mounttools.uninstall()
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Failed: 0" in r.stdout, r.stdout
        assert not os.path.exists(root) or tree(root) == set()
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_install_keeps_admin_config_and_uninstall_keeps_it_only():
    """An existing sapb1fs.conf and definition are the administrator's:
    install writes beside them, uninstall removes only its own files."""
    opts = mounttools.build_options()
    etc = os.path.join(opts["prefix"], opts["sysconfdir"], "sapb1fs")
    dest = tempfile.mkdtemp(prefix="sapb1-keep-")
    try:
        mine = dest + etc
        os.makedirs(mine + "/reports.d")
        with open(mine + "/sapb1fs.conf", "w") as f:
            f.write("[global]\n; the administrator's own\n")
        with open(mine + "/reports.d/x.sql", "w") as f:
            f.write("-- source: hana\nSELECT 1\n")
        before = tree(dest)
        mounttools.install(dest)
        with open(mine + "/sapb1fs.conf") as f:
            assert f.read() == "[global]\n; the administrator's own\n"
        assert os.path.isfile(mine + "/sapb1fs.conf.example")
        mounttools.uninstall()
        assert tree(dest) == before
    finally:
        shutil.rmtree(dest, ignore_errors=True)


@pytest.mark.slow
def test_prefix_is_respected(tmp_path):
    """A fresh configure with another prefix puts every installed file,
    and every path the units name, under that prefix."""
    prefix = f"/opt/sapb1fs-test-{os.getpid()}"
    bdir = tmp_path / "b"
    r = subprocess.run(["meson", "setup", str(bdir), ROOT,
                        f"--prefix={prefix}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    r = subprocess.run(["meson", "introspect", "--installed", str(bdir)],
                       capture_output=True, text=True, check=True)
    paths = list(__import__("json").loads(r.stdout).values())
    assert paths
    assert all(p.startswith(prefix + "/") for p in paths), paths
    unit = open(bdir / "mountunits" / "sapb1fs-mailer.service").read()
    assert f"ExecStart={prefix}/sbin/sapb1fs-mailer --config " \
        f"{prefix}/etc/sapb1fs/sapb1fs.conf" in unit
    mount = open(bdir / "mountunits" / "mnt-sapb1.mount").read()
    assert f"config={prefix}/etc/sapb1fs/sapb1fs.conf," in mount
    # The program's own default follows the prefix too: --check-config
    # with no path reads (and here misses) the file the units name.
    subprocess.run(["ninja", "-C", str(bdir), "fs/sapb1fs"],
                   capture_output=True, check=True)
    r = subprocess.run([str(bdir / "fs" / "sapb1fs"), "--check-config"],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert f"{prefix}/etc/sapb1fs/sapb1fs.conf" in r.stdout + r.stderr
    r = subprocess.run([str(bdir / "fs" / "sapb1fs"), "--help"],
                       capture_output=True, text=True)
    assert f"default {prefix}/etc/sapb1fs/sapb1fs.conf" in r.stdout
