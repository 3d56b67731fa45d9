#!/usr/bin/python3
"""Benchmark: 100,000 rows x 8 columns to XLSX, sapb1fs against Python
openpyxl in write-only mode (what the old web stack used), on the same
rows, in one run.  Prints both times, the ratio (target: sapb1fs at
least 8x faster) and both peak RSS.

Each side runs in its own child process and is timed from reading the
same input file to a finished .xlsx: render_tool parses it as text,
openpyxl's side parses it into Python values (int, Decimal, float,
datetime, bool) row by row as a database cursor would hand them over.
CPU time (user + system) is printed next to wall time since a busy
machine makes wall time noisy.

    /usr/bin/python3 tests/bench/bench_xlsx.py [--rows N] [--check]
        [--tool PATH] [--mount DIR --report NAME [--pid PID]]

With --mount, the sapb1fs side is instead the time to `touch` and read
DIR/reports/NAME/NAME.xlsx through a running mount (whose report must
return the same rows; see --dump to write them as a PostgreSQL COPY
file); --pid names the daemon so its peak RSS (VmHWM) can be shown.
"""
import argparse
import datetime as dt
import decimal
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "render"))
from render_table import encode_header, encode_row, find_tool  # noqa: E402

COLUMNS = [
    ("BelgeNo", "int"),
    ("CariKod", "text"),
    ("CariAd", "text"),
    ("Tutar", "decimal(19,6)"),
    ("Kur", "float"),
    ("Tarih", "date"),
    ("Kayit", "timestamp"),
    ("Acik", "bool"),
]

NAMES = ["Şişecam Dış Ticaret", "Öztürk Gıda", "Çelik İnşaat A.Ş.",
         "Ilgaz Ürün Pazarlama", "Güneş Enerji", "Yıldız Tekstil"]


def make_rows(n, seed=7):
    rnd = random.Random(seed)
    day0 = dt.date(2024, 1, 1)
    for i in range(n):
        d = day0 + dt.timedelta(days=rnd.randrange(730))
        yield [
            str(100000 + i),
            "C%05d" % rnd.randrange(20000),
            rnd.choice(NAMES),
            "%d.%06d" % (rnd.randrange(-10**7, 10**9), rnd.randrange(10**6)),
            repr(rnd.uniform(20, 45)),
            d.isoformat(),
            "%s %02d:%02d:%02d" % (d.isoformat(), rnd.randrange(24),
                                   rnd.randrange(60), rnd.randrange(60)),
            rnd.choice(("true", "false")),
        ]


def write_input(path, rows):
    with open(path, "wb") as f:
        f.write(encode_header(COLUMNS))
        for r in make_rows(rows):
            f.write(encode_row(r))


GNU_TIME = "/usr/bin/time"


def run_child(argv, stdin_path=None):
    """Runs a child; returns (wall s, cpu s, peak RSS KiB, returncode).

    The peak RSS comes from GNU time when installed: wait4() from here
    would report at least this Python process's own size, which a forked
    child keeps as its high-water mark across exec."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    report = None
    if os.access(GNU_TIME, os.X_OK):
        fd, report = tempfile.mkstemp(prefix="bench-rss-")
        os.close(fd)
        argv = [GNU_TIME, "-f", "%M", "-o", report, *argv]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=stdin)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if stdin_path:
        stdin.close()
    rss = None
    if report:
        with open(report) as f:
            text = f.read().split()
        os.unlink(report)
        rss = int(text[-1]) if text else None
    rc = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, rss, rc


# The openpyxl side, run as a child of this script (--openpyxl IN OUT).
def openpyxl_child(src, dst):
    import openpyxl

    def typed(row):
        return [int(row[0]), row[1], row[2], decimal.Decimal(row[3]),
                float(row[4]), dt.date.fromisoformat(row[5]),
                dt.datetime.fromisoformat(row[6]), row[7] == "true"]

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("bench")
    with open(src, encoding="utf-8") as f:
        ws.append(f.readline().rstrip("\n").split("\t"))
        f.readline()
        for line in f:
            ws.append(typed(line.rstrip("\n").split("\t")))
    wb.save(dst)


def vmhwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_mount(mount, report, pid):
    path = os.path.join(mount, "reports", report, report + ".xlsx")
    start = time.perf_counter()
    os.utime(path)  # marks the snapshot stale: the next open runs it
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
    wall = time.perf_counter() - start
    return wall, None, vmhwm_kib(pid) if pid else None, size


def mib(kib):
    return "n/a" if kib is None else "%.1f MiB" % (kib / 1024)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--tool", help="render_tool (default: the build's)")
    ap.add_argument("--mount", help="read the report through this mount")
    ap.add_argument("--report", default="bench")
    ap.add_argument("--pid", type=int, help="the sapb1fs daemon, for RSS")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when the ratio is under 8")
    ap.add_argument("--openpyxl", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.openpyxl:
        openpyxl_child(*args.openpyxl)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-xlsx-") as tmp:
        src = os.path.join(tmp, "rows.txt")
        write_input(src, args.rows)
        ours_out = os.path.join(tmp, "ours")
        os.mkdir(ours_out)

        if args.mount:
            label = "sapb1fs (mount)"
            wall, cpu, rss, size = run_mount(args.mount, args.report,
                                             args.pid)
        else:
            label = "sapb1fs (render_tool)"
            tool = args.tool or find_tool()
            if not tool:
                print("bench_xlsx: render_tool not built", file=sys.stderr)
                return 2
            wall, cpu, rss, rc = run_child(
                [tool, "--formats", "xlsx", "--name", "bench", ours_out],
                src)
            if rc != 0:
                return 1
            size = os.path.getsize(os.path.join(ours_out, "bench.xlsx"))

        theirs = os.path.join(tmp, "openpyxl.xlsx")
        owall, ocpu, orss, rc = run_child(
            [sys.executable, os.path.abspath(__file__), "--openpyxl", src,
             theirs])
        if rc != 0:
            return 1
        osize = os.path.getsize(theirs)

    print("rows %d x %d columns" % (args.rows, len(COLUMNS)))
    print("%-22s %7.2f s wall  %s  peak RSS %-10s %6.1f MB" %
          (label, wall, "%6.2f s cpu" % cpu if cpu is not None
           else "      n/a  ", mib(rss), size / 1e6))
    print("%-22s %7.2f s wall  %6.2f s cpu  peak RSS %-10s %6.1f MB" %
          ("openpyxl write_only", owall, ocpu, mib(orss), osize / 1e6))
    ratio = owall / wall
    line = "ratio (openpyxl / sapb1fs): %.1fx wall" % ratio
    if cpu:
        line += ", %.1fx cpu" % (ocpu / cpu)
    print(line + "; target >= 8x: %s" % ("met" if ratio >= 8 else "NOT met"))
    return 1 if args.check and ratio < 8 else 0


if __name__ == "__main__":
    sys.exit(main())
