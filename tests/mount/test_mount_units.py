"""The installed systemd units and tmpfiles.d: systemd-analyze accepts
every unit, the services' hardening scores well, the services tell
systemd they are ready (sd_notify) and stop and reload on its signals,
and systemd-tmpfiles makes the folders with their modes.  Starting the
units under systemd itself needs systemd as PID 1, which this machine
may not have; each test here runs without it."""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess

import pytest

from mounttools import Namespace, unit_keys, wait_for

UNITS = ["mnt-sapb1.mount", "mnt-sapb1.automount",
         "sapb1fs-scheduler.service", "sapb1fs-mailer.service"]
SERVICES = ["sapb1fs-scheduler.service", "sapb1fs-mailer.service"]


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (Debian systemd)")


@pytest.fixture(scope="module")
def unit_ns(installed):
    """A namespace in which the installed programs sit where the units
    name them, as systemd-analyze verify checks that they exist."""
    need("systemd-analyze")
    ns = Namespace(f"mount --bind {installed.sbin()} {installed.sbindir}")
    ns.start()
    yield ns
    ns.stop()


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify(installed, unit_ns, unit):
    path = installed.file(unit)
    r = unit_ns.run(["systemd-analyze", "verify", "--man=no", path])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr.strip() == "", r.stderr


def test_verify_catches_a_broken_unit(installed, unit_ns, tmp_path):
    """The check above can fail: a misspelt key is reported."""
    text = open(installed.file("sapb1fs-mailer.service")).read()
    bad = tmp_path / "sapb1fs-mailer.service"
    bad.write_text(text.replace("Restart=", "Restrat="))
    r = unit_ns.run(["systemd-analyze", "verify", "--man=no", str(bad)])
    assert "Restrat" in r.stderr


@pytest.mark.parametrize("unit", SERVICES)
def test_services_are_hardened(installed, unit):
    need("systemd-analyze")
    keys = unit_keys(installed.file(unit))
    for key, want in (("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                      ("NoNewPrivileges", "yes"), ("ProtectHome", "yes")):
        assert keys[("Service", key)] == [want], key
    rw = keys[("Service", "ReadWritePaths")][0].split()
    assert "/var/spool/sapb1fs" in rw
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--no-pager", installed.file(unit)],
                       capture_output=True, text=True)
    if "offline" in r.stderr and r.returncode != 0:
        pytest.skip("systemd-analyze security --offline needs systemd 250")
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr
    assert float(m.group(1)) <= 3.0, r.stdout


def test_scheduler_needs_the_mount_and_mailer_does_not(installed):
    sched = unit_keys(installed.file("sapb1fs-scheduler.service"))
    mail = unit_keys(installed.file("sapb1fs-mailer.service"))
    assert "mnt-sapb1.mount" in sched[("Unit", "Requires")][0].split()
    assert "mnt-sapb1.mount" in " ".join(sched[("Unit", "After")]).split()
    assert "/mnt/sapb1" in sched[("Service", "ReadWritePaths")][0].split()
    for key in ("Requires", "After", "BindsTo", "Wants"):
        assert "mnt-sapb1" not in " ".join(mail.get(("Unit", key), []))


def test_tmpfiles_makes_the_folders(installed, tmp_path):
    need("systemd-tmpfiles")
    if os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles sets owners: needs root")
    conf = installed.path(installed.planned["sapb1fs.conf"])
    root = tmp_path / "root"
    root.mkdir()
    r = subprocess.run(["systemd-tmpfiles", "--create", f"--root={root}",
                        conf], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = {"var/lib/sapb1fs": 0o700, "var/cache/sapb1fs": 0o700,
            "var/spool/sapb1fs": 0o770}
    for box in ("tmp", "outbox", "sent", "failed"):
        want[f"var/spool/sapb1fs/{box}"] = 0o770
    for rel, mode in want.items():
        st = os.stat(root / rel)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == 0, rel
        assert stat.S_IMODE(st.st_mode) == mode, rel


def service_config(tmp_path):
    for d in ("state", "spool", "reports", "mnt"):
        (tmp_path / d).mkdir()
    conf = tmp_path / "sapb1fs.conf"
    conf.write_text(f"""[global]
reports_dir = {tmp_path}/reports
state_dir = {tmp_path}/state
[mount]
path = {tmp_path}/mnt
cache_dir = {tmp_path}/cache
[spool]
dir = {tmp_path}/spool
[smtp]
url = smtp://127.0.0.1:9
from = Raporlar <raporlar@example.com>
tls = no
""")
    return str(conf)


@pytest.mark.parametrize("unit", SERVICES)
def test_service_is_ready_stops_and_reloads(installed, unit, tmp_path):
    """ExecStart as written in the unit, under a NOTIFY_SOCKET as
    systemd gives one: READY=1 (Type=notify), alive after ExecReload's
    SIGHUP, a clean exit on systemd's SIGTERM (no restart then)."""
    keys = unit_keys(installed.file(unit))
    argv = keys[("Service", "ExecStart")][0].split()
    conf = service_config(tmp_path)
    argv[argv.index("--config") + 1] = conf
    argv[0] = installed.path(argv[0])
    sock_path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(15)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, INVOCATION_ID="0" * 32)
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        if keys[("Service", "Type")] == ["notify"]:
            got = sock.recv(4096).decode()
            assert "READY=1" in got, got
        else:
            assert wait_for(lambda: p.poll() is None, 2)
        assert keys[("Service", "ExecReload")] == ["/bin/kill -HUP $MAINPID"]
        p.send_signal(signal.SIGHUP)
        assert not wait_for(lambda: p.poll() is not None, 1.5)
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0, p.stdout.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        sock.close()
