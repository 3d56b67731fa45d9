"""The man pages, as installed: man -l renders each at 80 columns with
groff's warnings on, with a NAME section, a SEE ALSO section, and not
one warning."""
import os
import shutil
import subprocess

import pytest

from mounttools import ROOT

PAGES = ["sapb1fs.8", "sapb1fs.conf.5", "sapb1fs-reports.5",
         "sapb1fs-mailer.8", "sapb1fs-scheduler.8"]


def render(path):
    if not shutil.which("man"):
        pytest.skip("man is not installed (Debian man-db)")
    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8", LC_ALL="C.UTF-8",
               MAN_KEEP_FORMATTING="", MANPAGER="cat", PAGER="cat")
    return subprocess.run(["man", "--warnings", "-l", path],
                          capture_output=True, text=True, env=env)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_warnings(installed, page):
    if not os.path.exists(f"{ROOT}/docs/{page}.scd"):
        pytest.skip(f"docs/{page}.scd is not written yet")
    section = page.rsplit(".", 1)[1]
    path = installed.path(f"{installed.mandir}/man{section}/{page}")
    assert os.path.isfile(path), f"{page} is not installed"
    r = render(path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    name = page.rsplit(".", 1)[0]
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{name}({section})")
    assert "NAME" in lines and "SEE ALSO" in lines
    assert len(lines) > 20


def test_warnings_are_caught(tmp_path):
    """The check above can fail: a page with an unknown request warns."""
    bad = tmp_path / "bad.8"
    bad.write_text('.TH BAD 8\n.SH NAME\nbad \\- x\n.XYZZY\ntext\n')
    assert render(str(bad)).stderr != ""
