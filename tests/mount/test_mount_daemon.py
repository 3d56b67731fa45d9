"""The daemon as a system service: it goes to the background only once
the mount exists (a failure is an exit status and a message), logs to
syslog when detached, module by module, re-reads definitions on SIGHUP,
and with auto_unmount a daemon killed by SIGKILL leaves no dead mount
point behind, so the automount (or anyone) can mount again."""
import errno
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import mounttools
from mounttools import (Namespace, check_san_logs, exe, mount_bg,
                        pids_with, stop_daemons, unit_keys, wait_for,
                        write_config, write_report)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "smb"))
import smbserver  # noqa: E402


@pytest.fixture
def conf(pg, base):
    c, mnt, rdir = write_config(base, pg)
    write_report(rdir, "liste", {"source": "pg", "formats": "csv"},
                 "SELECT id, note FROM inv ORDER BY id LIMIT 3")
    yield c, mnt, rdir
    stop_daemons(c, mnt)
    check_san_logs(base)


def unmounted(mnt):
    """@mnt is a plain folder again (a dead FUSE mount fails stat)."""
    try:
        return os.stat(mnt).st_dev == os.stat(os.path.dirname(mnt)).st_dev
    except OSError:
        return False


def daemon_pid(c):
    assert wait_for(lambda: len(pids_with(c)) == 1, 5), pids_with(c)
    return pids_with(c)[0]


def test_mount_exists_when_the_command_returns(conf, base):
    c, mnt, _ = conf
    for _ in range(3):
        r = mount_bg(base, c, mnt)
        assert r.returncode == 0, r.stderr
        assert os.path.ismount(mnt)  # at once, without waiting
        assert os.listdir(mnt + "/reports") == ["liste"]
        pid = daemon_pid(c)
        assert os.getsid(pid) == pid  # detached into its own session
        stop_daemons(c, mnt)
        assert not os.path.ismount(mnt)


def test_bad_config_is_an_exit_status(pg, base):
    c, mnt, _ = write_config(base, pg, extra="[source x]\ndriver = nosuch\n")
    r = mount_bg(base, c, mnt)
    assert r.returncode != 0
    assert "nosuch" in r.stderr and "not mounting" in r.stderr
    assert not os.path.ismount(mnt)
    assert not pids_with(c)
    check_san_logs(base)


def test_missing_mount_point_is_an_exit_status(conf, base):
    c, mnt, _ = conf
    r = mount_bg(base, c, mnt + "-nonexistent")
    assert r.returncode != 0
    assert "mnt-nonexistent" in r.stderr
    assert not pids_with(c)


def test_bad_option_after_set_up_is_an_exit_status(conf, base):
    """An option libfuse does not know (a typo in fstab) fails after the
    set-up ran in the background child: the command still gets the
    failure and its message, and no daemon is left."""
    c, mnt, _ = conf
    r = mount_bg(base, c, mnt, "allow_other,kernel_cahce")
    assert r.returncode != 0
    assert "kernel_cahce" in r.stderr, r.stderr
    assert not os.path.ismount(mnt) and not pids_with(c)


def fuse_conf_allows_other():
    try:
        with open("/etc/fuse.conf") as f:
            return any(line.strip() == "user_allow_other" for line in f)
    except OSError:
        return False


def test_refused_mount_is_an_exit_status(conf, base):
    """A user other than root asking for allow_other without
    user_allow_other in /etc/fuse.conf (or without access to /dev/fuse)
    is refused by the kernel side of the mount: exit status 1 and the
    reason, from a daemon that had already gone to the background."""
    if fuse_conf_allows_other():
        pytest.skip("/etc/fuse.conf has user_allow_other: the mount "
                    "would succeed")
    c, mnt, _ = conf
    subprocess.run(["chown", "-R", "nobody", base], check=True)
    r = subprocess.run(["runuser", "-u", "nobody", "--", exe("sapb1fs"),
                        mnt, "-o", f"config={c},allow_other"],
                       capture_output=True, text=True, timeout=60,
                       env=mounttools.san_env(base))
    assert r.returncode == 1
    assert "cannot mount on " + mnt in r.stderr, r.stderr
    assert not os.path.ismount(mnt) and not pids_with(c)


def test_sighup_rereads_definitions(pg, base):
    """reports_dir is a symlink; pointing it elsewhere is no inotify
    event in the folder watched, so only SIGHUP makes the change."""
    old, new = os.path.join(base, "defs-old"), os.path.join(base, "defs-new")
    for d, name in ((old, "eski"), (new, "yeni")):
        os.makedirs(d)
        write_report(d, name, {"source": "pg", "formats": "csv"},
                     "SELECT 1 AS x")
    link = os.path.join(base, "reports.d")
    os.symlink(old, link)
    c, mnt, _ = write_config(base, pg, reports=link)
    try:
        assert mount_bg(base, c, mnt).returncode == 0
        assert os.listdir(mnt + "/reports") == ["eski"]
        os.symlink(new, link + ".tmp")
        os.rename(link + ".tmp", link)
        time.sleep(1.5)
        assert os.listdir(mnt + "/reports") == ["eski"]
        os.kill(daemon_pid(c), signal.SIGHUP)
        assert wait_for(lambda: os.listdir(mnt + "/reports") == ["yeni"], 5)
        assert os.path.ismount(mnt)
    finally:
        stop_daemons(c, mnt)
    check_san_logs(base)


@pytest.fixture
def share_smbd(base):
    why = smbserver.available()
    if why:
        pytest.skip(why)
    root = os.path.join(base, "share")
    os.makedirs(root)
    with open(os.path.join(root, "resim.jpg"), "wb") as f:
        f.write(b"\xff\xd8" + bytes(range(256)) * 40)
    os.chmod(root, 0o755)
    server = smbserver.SmbServer(root).start()
    yield server
    server.stop()


def test_background_daemon_serves_images_and_survives_sighup(
        pg, base, share_smbd):
    """The images/ workers start in the process that serves (a fork
    after they started would lose them), and none of them takes SIGHUP
    with libfuse's exit handler."""
    share = (f"[share pics]\nurl = {share_smbd.url('guest')}\n"
             "timeout = 5\n")
    c, mnt, _ = write_config(base, pg, extra=share)
    want = open(os.path.join(share_smbd.root, "resim.jpg"), "rb").read()
    try:
        assert mount_bg(base, c, mnt).returncode == 0
        with open(mnt + "/images/pics/resim.jpg", "rb") as f:
            assert f.read() == want
        os.kill(daemon_pid(c), signal.SIGHUP)
        time.sleep(1)
        assert os.path.ismount(mnt) and pids_with(c)
        assert os.listdir(mnt + "/images/pics") == ["resim.jpg"]
    finally:
        stop_daemons(c, mnt)
    check_san_logs(base)


def test_detached_daemon_logs_to_syslog(conf, base):
    """In a namespace whose /dev/log is the test's socket: once detached
    the daemon's lines go to syslog, facility daemon, ident sapb1fs,
    each naming its module."""
    c, mnt, _ = conf
    sock_path = os.path.join(base, "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    dev = os.path.join(base, "dev")
    ns = Namespace(f"""mkdir -p {dev}
mount -t tmpfs -o mode=0755 tmpfs {dev}
for n in null zero full random urandom fuse; do
    [ -e /dev/$n ] || continue
    touch {dev}/$n
    mount --bind /dev/$n {dev}/$n
done
touch {dev}/log
mount --bind {sock_path} {dev}/log
mount --move {dev} /dev
""").start()
    ns.mounts.append(mnt)
    try:
        r = mount_bg(base, c, mnt, ns=ns)
        assert r.returncode == 0, r.stderr
        pid = daemon_pid(c)
        lines = [sock.recv(4096).decode()]
        os.kill(pid, signal.SIGHUP)
        while not any("definitions loaded" in x for x in lines):
            lines.append(sock.recv(4096).decode())
    finally:
        stop_daemons(c, mnt, ns)
        ns.stop()
        sock.close()
    # <29>: facility daemon (3 * 8) + notice (5).
    assert lines[0].startswith("<29>"), lines
    assert f"sapb1fs[{pid}]: fs: mounted {mnt} with 1 reports" in lines[0]
    assert any(f"sapb1fs[{pid}]: reports: SIGHUP" in x for x in lines)


def test_auto_unmount_after_sigkill(conf, base):
    """With -o auto_unmount a daemon killed by SIGKILL frees the mount
    point: no "Transport endpoint is not connected", and mounting again
    (what mnt-sapb1.automount does on the next access) works."""
    c, mnt, _ = conf
    assert mount_bg(base, c, mnt, "auto_unmount").returncode == 0
    os.kill(daemon_pid(c), signal.SIGKILL)
    assert wait_for(lambda: unmounted(mnt), 10)
    assert os.listdir(mnt) == []
    assert wait_for(lambda: not pids_with(mnt, prog="fusermount3"), 5)
    assert mount_bg(base, c, mnt, "auto_unmount").returncode == 0
    assert os.listdir(mnt + "/reports") == ["liste"]


def test_auto_unmount_is_not_forced(conf, base):
    """Without the option a killed daemon leaves the mount dead, as for
    any FUSE file system; it is the administrator's choice."""
    c, mnt, _ = conf
    assert mount_bg(base, c, mnt).returncode == 0
    assert not pids_with(mnt, prog="fusermount3")
    os.kill(daemon_pid(c), signal.SIGKILL)
    wait_for(lambda: not pids_with(c), 5)
    with pytest.raises(OSError) as e:
        os.listdir(mnt)
    # ECONNABORTED while the kernel still aborts the connection.
    assert e.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    usage = subprocess.run([exe("sapb1fs"), "--help"], capture_output=True,
                           text=True).stdout
    assert "auto_unmount" in usage


def test_units_would_restart(installed):
    """What systemd would do when a process dies: the services restart,
    and the mount comes back through the automount, which auto_unmount
    in the mount unit makes possible."""
    for svc in ("sapb1fs-scheduler.service", "sapb1fs-mailer.service"):
        keys = unit_keys(installed.file(svc))
        assert keys[("Service", "Restart")] == ["on-failure"], svc
    mount = unit_keys(installed.file("mnt-sapb1.mount"))
    auto = unit_keys(installed.file("mnt-sapb1.automount"))
    assert "auto_unmount" in mount[("Mount", "Options")][0].split(",")
    assert auto[("Automount", "Where")] == mount[("Mount", "Where")]

