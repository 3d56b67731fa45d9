"""Helpers of the fault-injection tests: the seed data, a report whose
speed the knob table turns, tiny tmpfs file systems, and checks for
what a crash or a full disk may leave behind."""
import os
import subprocess
import tempfile

import pytest

SEED = """
CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(19,6));
INSERT INTO t VALUES (1, 'Tedarikçi ŞĞİıçöü A.Ş.', 12.5),
                     (2, 'ikinci', -0.000001);
CREATE TABLE knob (s float8);
INSERT INTO knob VALUES (0);
CREATE TABLE big AS SELECT g AS id, 'satır ' || g AS label,
  (g * 1.25)::numeric(12,2) AS amount FROM generate_series(1, 200000) g;
"""

# A big report whose speed a test turns with the knob table: every
# thousandth row sleeps knob.s seconds (0: fast).  No ORDER BY, so rows
# leave the server while it runs (a sort would hold them to the end).
BIG_SQL = ("SELECT /* {mark} */ id, label, amount, CASE WHEN id % 1000 = 0"
           " THEN pg_sleep((SELECT s FROM knob))::text END AS z"
           " FROM big")


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts, runuser, tmpfs)")


class Tmpfs:
    """A tmpfs of a given size mounted on a fresh folder; umount after."""

    def __init__(self, size="2m"):
        self.path = tempfile.mkdtemp(prefix="sapb1-tiny-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=755",
                        "tmpfs", self.path], check=True)

    def fill(self, leave=0):
        """Fills the file system, leaving about @leave bytes free."""
        path = os.path.join(self.path, "filler")
        free = os.statvfs(self.path)
        room = free.f_bavail * free.f_frsize - leave
        with open(path, "wb") as f:
            try:
                f.write(b"\0" * max(room, 0))
            except OSError:
                pass
        return path

    def free(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def close(self):
        subprocess.run(["umount", "-l", self.path], capture_output=True)
        os.rmdir(self.path)


def partial_files(folder):
    """Files and folders whose names say a write was left half done
    (a lock file, '.lock', is not one)."""
    out = []
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            if n == ".lock":
                continue
            if ".tmp" in n or n.startswith(".") or n.endswith("~"):
                out.append(os.path.join(root, n))
    return out


def generations(cache, label):
    """The generation folders of report @label in cache_dir."""
    out = []
    for d in os.listdir(cache):
        if d.endswith("-" + label):
            out += [g for g in os.listdir(os.path.join(cache, d))
                    if g.isdigit()]
    return sorted(out)
