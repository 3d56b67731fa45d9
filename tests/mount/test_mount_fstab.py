"""fstab and mount(8): the installed sapb1fs mounted the way an fstab line
of type fuse.sapb1fs or the installed mount unit mounts it, through
mount(8) and mount.fuse3, options as an administrator writes them.

Each test runs mount(8) in a private mount namespace whose
/usr/local/sbin is the installed sbin (mount(8) drops PATH, so that is
where mount.fuse3's shell finds sapb1fs)."""
import os
import shutil

import pytest

from mounttools import (fs_type, pids_with, sbin_namespace, stop_daemons,
                        unit_keys, write_config, write_report)

SECRET = "Gizli-Parola-9f3e"


@pytest.fixture
def setup(installed, pg, base):
    """A config over the private PostgreSQL, a secret in its env_file,
    one report, and a namespace to mount in."""
    if not shutil.which("mount.fuse3"):
        pytest.skip("mount.fuse3 is not installed (Debian fuse3)")
    env = os.path.join(base, "sapb1fs.env")
    with open(env, "w") as f:
        f.write(f"PGPASS={SECRET}\n")
    os.chmod(env, 0o600)
    conf, mnt, rdir = write_config(base, pg, extra="password = ${PGPASS}\n")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("[global]\n", f"[global]\nenv_file = {env}\n"))
    write_report(rdir, "liste", {"source": "pg", "formats": "csv"},
                 "SELECT id, note FROM inv ORDER BY id LIMIT 3")
    ns = sbin_namespace(installed)
    ns.mounts.append(mnt)
    yield ns, conf, mnt
    stop_daemons(conf, mnt, ns)
    ns.stop()


def fstab_lines(installed):
    """The installed fstab.example's lines: the active one, then the
    commented alternative."""
    out = []
    for line in open(installed.file("fstab.example")):
        s = line.strip()
        if s.startswith("#sapb1fs ") or s.startswith("sapb1fs "):
            out.append(s.lstrip("#"))
    return out


def check_mounted(ns, conf, mnt):
    fields = ns.mounted(mnt)
    assert fields, "not mounted:\n" + ns.mountinfo()[-2000:]
    assert fs_type(fields) == "fuse.sapb1fs"
    with open(ns.path(mnt + "/reports/liste/liste.csv"),
              encoding="utf-8") as f:
        text = f.read()
    assert text.splitlines()[1].startswith("1,fatura 1 ığüşöçİĞÜŞÖÇ")
    (pid,) = pids_with(conf)
    for what in ("cmdline", "environ"):
        with open(f"/proc/{pid}/{what}", "rb") as f:
            assert SECRET.encode() not in f.read()
    return fields, pid


def mount_with_fstab(ns, line, conf, mnt):
    line = line.replace("/etc/sapb1fs/sapb1fs.conf", conf)
    line = line.replace("/mnt/sapb1", mnt)
    fstab = os.path.join(ns.dir, "fstab")
    with open(fstab, "w") as f:
        f.write(line + "\n")
    return ns.run(["mount", "--fstab", fstab, mnt])


def test_fstab_line_mounts(setup, installed):
    """The shipped fstab line, as mount(8) reads it from an fstab."""
    ns, conf, mnt = setup
    line = fstab_lines(installed)[0]
    assert "fuse.sapb1fs" in line and "_netdev" in line
    r = mount_with_fstab(ns, line, conf, mnt)
    assert r.returncode == 0, r.stdout + r.stderr
    fields, pid = check_mounted(ns, conf, mnt)
    assert "allow_other" in fields[-1]
    assert "unknown option" not in r.stderr


def test_fstab_automount_line_mounts(setup, installed):
    """The commented alternative: automount, nofail, auto_unmount and
    nosuid,nodev,noexec, which reach the kernel."""
    ns, conf, mnt = setup
    line = fstab_lines(installed)[1]
    assert "x-systemd.automount" in line and "auto_unmount" in line
    r = mount_with_fstab(ns, line, conf, mnt)
    assert r.returncode == 0, r.stdout + r.stderr
    fields, pid = check_mounted(ns, conf, mnt)
    mount_opts = fields[5].split(",")
    for flag in ("nosuid", "nodev", "noexec"):
        assert flag in mount_opts, fields
    # auto_unmount: fusermount3 stays beside the daemon to unmount.
    assert pids_with(mnt, prog="fusermount3")


def test_mount_t_with_systemd_options(setup):
    """The command of the issue: options for mount(8) and systemd are
    ignored quietly, and the fstab source is dropped."""
    ns, conf, mnt = setup
    r = ns.run(["mount", "-t", "fuse.sapb1fs", "sapb1fs", mnt, "-o",
                f"config={conf},allow_other,_netdev,nofail,"
                "x-systemd.automount"])
    assert r.returncode == 0, r.stdout + r.stderr
    check_mounted(ns, conf, mnt)
    assert "unknown" not in r.stderr.lower(), r.stderr
    assert "x-systemd" not in r.stderr and "nofail" not in r.stderr


def test_foreign_options_given_to_the_daemon_itself(setup, installed):
    """Run directly, as mount.fuse3 does, every option that belongs to
    mount(8) or systemd is dropped without a word, x-* of any kind."""
    ns, conf, mnt = setup
    r = ns.run([installed.sbin("sapb1fs"), "sapb1fs", mnt, "-o",
                f"config={conf},noauto,auto,_netdev,nofail,user,users,"
                "nouser,owner,defaults,comment=x,x-systemd.requires="
                "network-online.target,x-systemd.device-timeout=10,"
                "x-gvfs-hide,allow_other"])
    assert r.returncode == 0, r.stdout + r.stderr
    check_mounted(ns, conf, mnt)
    assert "unknown option" not in r.stderr
    assert "x-" not in r.stderr


def test_mount_unit_mounts(setup, installed):
    """What, Type and Options of the installed mnt-sapb1.mount, run the
    way systemd runs them: mount -t TYPE WHAT WHERE -o OPTIONS."""
    ns, conf, mnt = setup
    keys = unit_keys(installed.file("mnt-sapb1.mount"))
    what = keys[("Mount", "What")][0]
    typ = keys[("Mount", "Type")][0]
    opts = keys[("Mount", "Options")][0]
    assert keys[("Mount", "Where")] == ["/mnt/sapb1"]
    conf_default = f"{installed.sysconfdir}/sapb1fs/sapb1fs.conf"
    assert f"config={conf_default}" in opts
    opts = opts.replace(conf_default, conf)
    r = ns.run(["mount", "-t", typ, what, mnt, "-o", opts])
    assert r.returncode == 0, r.stdout + r.stderr
    fields, pid = check_mounted(ns, conf, mnt)
    assert "allow_other" in fields[-1]
    assert pids_with(mnt, prog="fusermount3")
