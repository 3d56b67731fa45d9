"""Configuration errors, secrets files and secrets in the tree and logs."""
import os
import subprocess

from pylib.mount import Mount, exe


def test_check_config_reports_file_and_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[global]\nreports_dir = /nonexistent\n"
                    "[mount]\nbogus = 1\n")
    r = subprocess.run([exe("sapb1fs"), "--check-config", str(conf)],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert f"{conf}:4: unknown key" in r.stderr


def test_mount_refuses_bad_config(tmp_path):
    m = Mount(base=str(tmp_path), sources={"x": "driver = nosuch\n"})
    try:
        m.start(check=False)
        assert m.proc.wait(10) != 0
        assert not os.path.ismount(m.mnt)
        assert "nosuch" in m.log()
    finally:
        m.stop()


def test_world_readable_env_file_refused(mount, tmp_path):
    env = tmp_path / "secrets.env"
    env.write_text("PGPASS=s3cr3t-Parola\n")
    os.chmod(env, 0o644)
    m = mount(global_extra=f"env_file = {env}\n")
    m.sources["pg"] += "password = ${PGPASS}\n"
    m.write_conf()
    r = subprocess.run([exe("sapb1fs"), "--check-config", m.conf],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert str(env) in r.stderr and "s3cr3t" not in r.stderr


def test_secret_never_in_tree_or_log(mount, tmp_path):
    env = tmp_path / "secrets.env"
    env.write_text("PGPASS=s3cr3t-Parola\n")
    os.chmod(env, 0o600)
    m = mount(global_extra=f"env_file = {env}\n")
    m.sources["pg"] += "password = ${PGPASS}\n"
    m.write_conf()
    m.report("s", {"source": "pg", "formats": "csv json"},
             "SELECT id FROM t")
    m.report("bad", {"source": "pg", "formats": "csv"},
             "SELECT nosuchcolumn FROM t")
    m.start()
    for root, dirs, files in os.walk(m.path()):
        for f in files:
            try:
                with open(os.path.join(root, f), "rb") as fh:
                    assert b"s3cr3t" not in fh.read()
            except OSError:
                pass
    assert "s3cr3t" not in m.log()
    with open(f"/proc/{m.proc.pid}/cmdline", "rb") as f:
        assert b"s3cr3t" not in f.read()
    err = open(m.path("reports/bad/last-error.txt")).read()
    assert "nosuchcolumn" in err
