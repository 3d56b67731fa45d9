"""Memory stays flat: 1,000,000 rows x 8 columns rendered to each format
by render_tool, whose peak RSS must stay under 64 MiB.

The peak is measured by GNU time, not by wait4() from here: a child
forked from this (large) Python process inherits its RSS high-water mark
across exec, so ru_maxrss would report Python's size, not the tool's."""
import os
import subprocess

import pytest

from render_table import encode_header, encode_row

ROWS = 1000000
LIMIT_KIB = 64 * 1024
COLUMNS = [("id", "int"), ("kod", "text"), ("ad", "text"),
           ("tutar", "decimal(19,6)"), ("oran", "float"), ("tarih", "date"),
           ("zaman", "timestamp"), ("acik", "bool")]


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    path = tmp_path_factory.mktemp("million") / "rows.txt"
    with open(path, "wb") as f:
        f.write(encode_header(COLUMNS))
        for start in range(0, ROWS, 50000):
            f.write(b"".join(encode_row([
                str(i), "C%06d" % (i % 99991), "Öztürk Gıda Şti. %d" % i,
                "%d.%06d" % (i * 37 - 10**6, i % 10**6), "%d.25" % i,
                "2024-%02d-%02d" % (i % 12 + 1, i % 28 + 1),
                "2024-01-01 %02d:%02d:%02d" % (i % 24, i % 60, i % 60),
                "true" if i % 3 else "false"])
                for i in range(start, start + 50000)))
    return path


GNU_TIME = "/usr/bin/time"


def peak_rss_kib(argv, stdin_path, tmp_path):
    if not os.access(GNU_TIME, os.X_OK):
        pytest.skip("GNU time (Debian package time) is not installed")
    report = tmp_path / "rss.txt"
    with open(stdin_path, "rb") as stdin:
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", str(report),
                               *argv], stdin=stdin, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return int(report.read_text().split()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json", "html"])
def test_million_rows_flat_memory(tool, million, tmp_path, fmt):
    rss = peak_rss_kib([tool, "--formats", fmt, "--tmpdir", str(tmp_path),
                        str(tmp_path)], million, tmp_path)
    out = tmp_path / ("report." + fmt)
    assert out.stat().st_size > ROWS * 20
    print("%s: peak RSS %.1f MiB, %.0f MB written" %
          (fmt, rss / 1024, out.stat().st_size / 1e6))
    assert rss < LIMIT_KIB
