#!/usr/bin/python3
"""Benchmark (issue 3): 100,000 rows x 8 columns to XLSX, sapb1fs
through the mount against Python openpyxl in write-only mode (what the
old web stack used) on the same rows, in one run.

Our side: `touch` on the report file and `cat` of it, timed: the query
on the private PostgreSQL server, the rendering in the daemon and the
read back through the mount.  openpyxl's side, in a child process: the
same rows, dumped beforehand by psql (untimed), read from that file and
turned into Python values (int, str, Decimal, date, datetime) as a
database driver would hand them over, appended to a write-only sheet
and saved.  openpyxl is spared the query, so the comparison leans its
way.  Target: the mount at least 8x faster (wall time).

Also printed: CPU time (the daemon's plus the server's, against the
child's) and the peak RSS of both (the daemon's VmHWM, reset before the
run; the child's from GNU time).

    /usr/bin/python3 tests/bench/bench_fs_xlsx.py [--rows N] [--verify]

--verify opens our file with openpyxl afterwards and checks its row
count and first data row (slow).  SAPB1FS_BUILD names the build folder
(default: build).  Exit status 77 when it cannot run here, 1 when
--verify finds a wrong file; never 1 for a time.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile

import fsbench as fb

GNU_TIME = "/usr/bin/time"


# The openpyxl side, run as a child of this script (--openpyxl IN OUT).
def openpyxl_child(src, dst):
    import datetime as dt
    import decimal

    import openpyxl

    D = decimal.Decimal
    date = dt.date.fromisoformat
    stamp = dt.datetime.fromisoformat

    def typed(f):
        return [int(f[0]), int(f[1]), f[2], f[3], D(f[4]), D(f[5]),
                date(f[6]), stamp(f[7])]

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("lines")
    with open(src, encoding="utf-8") as f:
        ws.append(f.readline().rstrip("\n").split("\t"))
        for line in f:
            ws.append(typed(line.rstrip("\n").split("\t")))
    wb.save(dst)


def run_openpyxl(src, dst):
    """Returns (wall s, cpu s, peak RSS KiB or None)."""
    argv = [sys.executable, os.path.abspath(__file__), "--openpyxl", src,
            dst]
    report = None
    if os.access(GNU_TIME, os.X_OK):
        fd, report = tempfile.mkstemp(prefix="bench-rss-")
        os.close(fd)
        argv = [GNU_TIME, "-f", "%M", "-o", report] + argv
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = fb.timed(argv)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    rss = None
    if report:
        with open(report) as f:
            words = f.read().split()
        os.unlink(report)
        rss = int(words[-1]) if words else None
    return wall, cpu, rss


def verify(path, rows):
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    n, first = 0, None
    for ws in wb.worksheets:
        for i, row in enumerate(ws.iter_rows(values_only=True)):
            if i == 0:
                continue
            if first is None:
                first = row
            n += 1
    ok = n == rows and first is not None and first[0] == 100000
    print(f"  verify: {n} data rows, first {first}: "
          + ("ok" if ok else "WRONG"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--openpyxl", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.openpyxl:
        openpyxl_child(*args.openpyxl)
        return 0
    fb.require_build()

    sql = fb.query("lines")
    b = fb.Bench()
    tmp = tempfile.mkdtemp(prefix="bench-fs-xlsx-")
    ok = True
    try:
        b.start_pg()
        b.make_table("lines", args.rows)
        m = b.start_mount({"lines": ({"formats": "xlsx",
                                      "title": "Fatura satırları"}, sql)})
        path = m.path("reports/lines/lines.xlsx")
        dump = os.path.join(tmp, "rows.tsv")
        with open(dump, "wb") as f:
            fb.timed(b.psql_argv("-c", f"\\copy ({sql}) to stdout "
                                 "(format text, header)"), stdout=f)

        fb.reset_hwm(b.pid())
        os.utime(path)
        s0, d0 = fb.pg_cpu_seconds(b.pg), fb.cpu_seconds(b.pid())
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = fb.timed(["cat", path])
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (fb.cpu_seconds(b.pid()) - d0
               + (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime))
        server = fb.pg_cpu_seconds(b.pg) - s0
        hwm = fb.status_kib(b.pid(), "VmHWM")
        size = os.path.getsize(path)
        ms = fb.last_run_ms(m, "lines")
        if args.verify:
            ours = os.path.join(tmp, "ours.xlsx")
            fb.timed(["cp", path, ours])
        fb.log(f"mount: {wall:.2f} s wall, cpu {cpu:.2f} s + server "
               f"{server:.2f} s")

        theirs = os.path.join(tmp, "openpyxl.xlsx")
        owall, ocpu, orss = run_openpyxl(dump, theirs)
        osize = os.path.getsize(theirs)
        fb.log(f"openpyxl: {owall:.2f} s wall, cpu {ocpu:.2f} s")
        if args.verify:
            ok = verify(ours, args.rows)
    finally:
        b.stop()
        subprocess.run(["rm", "-rf", tmp])

    ratio = owall / wall
    print(f"{args.rows} rows x 8 columns to XLSX, one run")
    print(f"  sapb1fs mount        {wall:7.2f} s wall  cpu {cpu:5.2f} s "
          f"+ server {server:4.2f} s  run {ms / 1000 if ms else 0:5.2f} s  "
          f"peak RSS {fb.mib(hwm):>9}  {size / 1e6:5.1f} MB")
    print(f"  openpyxl write_only  {owall:7.2f} s wall  cpu {ocpu:5.2f} s"
          f"                              peak RSS {fb.mib(orss):>9}  "
          f"{osize / 1e6:5.1f} MB")
    print(f"  ratio openpyxl/mount {ratio:.1f}x wall, "
          f"{ocpu / (cpu + server):.1f}x cpu; target >= 8x wall: "
          + ("met" if ratio >= 8 else "NOT met"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
