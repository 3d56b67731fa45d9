#!/usr/bin/python3
"""Benchmark (issue 2 item 8c, issue 3 item 6): the daemon's peak RSS
while it serves a cold 1,000,000-row PostgreSQL report in each format.

One mount, one report per format (`formats: csv`, `json`, `html`,
`xlsx`) and one with all four (one run renders every format).  Before
each report is read, the daemon's high-water mark is reset to its
current RSS (/proc/PID/clear_refs, "5"); after `touch` and `cat` of the
report file, VmHWM is the peak of that run.  Target: under 64 MiB for
every format.  The run time and file size are printed too.

    /usr/bin/python3 tests/bench/bench_fs_rss.py [--rows N]
        [--formats csv,json,html,xlsx,all]

SAPB1FS_BUILD names the build folder (default: build).  Exit status 77
when it cannot run here; never 1 for a measurement.
"""
import argparse
import os
import sys

import fsbench as fb

FORMATS = ("csv", "json", "html", "xlsx")
LIMIT_KIB = 64 * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--formats", default="csv,json,html,xlsx,all")
    args = ap.parse_args()
    fb.require_build()
    wanted = args.formats.split(",")

    sql = f"SELECT {fb.COLUMNS} FROM lines"
    reports = {f"r_{f}": ({"formats": f}, sql) for f in FORMATS}
    reports["r_all"] = ({"formats": " ".join(FORMATS)}, sql)
    b = fb.Bench()
    out = []
    try:
        b.start_pg()
        b.make_table("lines", args.rows)
        m = b.start_mount(reports)
        pid = b.pid()
        base = fb.status_kib(pid, "VmRSS")
        # Warm the table's pages so each run does the same work.
        fb.timed(b.psql_argv("-c", f"\\copy ({sql}) to stdout csv"))
        for name in wanted:
            fmt = "xlsx" if name == "all" else name
            path = m.path(f"reports/r_{name}/r_{name}.{fmt}")
            if not fb.reset_hwm(pid):
                fb.log("cannot reset the daemon's VmHWM (clear_refs): "
                       "each figure is the peak so far")
            os.utime(path)
            wall = fb.timed(["cat", path])
            hwm = fb.status_kib(pid, "VmHWM")
            if name == "all":
                size = sum(os.path.getsize(
                    m.path(f"reports/r_all/r_all.{f}")) for f in FORMATS)
            else:
                size = os.path.getsize(path)
            ms = fb.last_run_ms(m, f"r_{name}")
            fb.log(f"{name}: {wall:.2f} s, VmHWM {fb.mib(hwm)}")
            out.append((name, wall, ms, size, hwm))
    finally:
        b.stop()

    print(f"daemon peak RSS serving a cold {args.rows}-row report; "
          f"RSS after mounting {fb.mib(base)}")
    for name, wall, ms, size, hwm in out:
        run = f"{ms / 1000:6.2f} s run" if ms is not None else ""
        verdict = "met" if hwm is not None and hwm < LIMIT_KIB else "NOT met"
        print(f"  {name:<5} {size / 1e6:8.1f} MB  {wall:6.2f} s wall "
              f"{run}  VmHWM {fb.mib(hwm):>10}  (< 64 MiB: {verdict})")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
