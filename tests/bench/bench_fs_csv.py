#!/usr/bin/python3
"""Benchmark (issue 2 item 8a and c): a cold 1,000,000-row PostgreSQL
report to CSV through the mount against psql's \\copy of the same query,
on one private PostgreSQL server, in one run.

Each side runs RUNS times, alternating, and the median wall times are
compared: `touch` on the report file (so the next open runs the query
again) then `cat` of it to /dev/null, against
`psql -c "\\copy (QUERY) to stdout csv header" > /dev/null`.  Target:
the mount at most 1.25x psql's time.

Printed beside the wall times, because a shared machine makes them
noisy: the CPU time of each client (the daemon with cat; psql) and of
the PostgreSQL server during the run, and how long the daemon's run
took (query and rendering, from .status/health.json) out of the wall
time (the rest is reading the snapshot back).  Also the daemon's peak
RSS (VmHWM, reset after the warm-up), target under 64 MiB.  On a busy
machine the CPU pressure during each run (Linux PSI: the share of the
time some task waited for a CPU, ours included) tells which runs had
the machine nearly to themselves; the medians of those pairs are
printed apart.

    /usr/bin/python3 tests/bench/bench_fs_csv.py [--rows N] [--runs N]
        [--order-by]

SAPB1FS_BUILD names the build folder (default: build); use a release
build.  Exit status 77 when it cannot run here; never 1 for a time.
"""
import argparse
import os
import resource
import sys

import fsbench as fb

# A run during which tasks (ours too) waited for a CPU less than this
# share of the time counts as quiet: the machine was nearly ours.
QUIET = 0.10


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Side:
    def __init__(self, name):
        self.name = name
        self.wall, self.cpu, self.server, self.run = [], [], [], []
        self.stall = []

    def med(self, what, keep=None):
        xs = [x for i, x in enumerate(getattr(self, what))
              if x is not None and (keep is None or i in keep)]
        return fb.median(xs) if xs else None

    def timed(self, argv):
        """Times @argv; also notes the CPU pressure meanwhile."""
        p0 = fb.cpu_stall_us()
        wall = fb.timed(argv)
        p1 = fb.cpu_stall_us()
        self.wall.append(wall)
        self.stall.append(None if p0 is None else (p1 - p0) / 1e6 / wall)


def run_psql(b, sql, side):
    argv = b.psql_argv("-c", f"\\copy ({sql}) to stdout csv header")
    s0, c0 = fb.pg_cpu_seconds(b.pg), children_cpu()
    side.timed(argv)
    side.cpu.append(children_cpu() - c0)
    side.server.append(fb.pg_cpu_seconds(b.pg) - s0)
    side.run.append(None)


def run_mount(b, path, side):
    os.utime(path)  # stale: the next open runs the report again
    s0, c0 = fb.pg_cpu_seconds(b.pg), children_cpu()
    d0 = fb.cpu_seconds(b.pid())
    side.timed(["cat", path])
    side.cpu.append(fb.cpu_seconds(b.pid()) - d0 + children_cpu() - c0)
    side.server.append(fb.pg_cpu_seconds(b.pg) - s0)
    ms = fb.last_run_ms(b.mount, "lines")
    side.run.append(ms / 1000 if ms is not None else None)


def report(ours, theirs, rows, size, runs, order_by, hwm):
    print(f"cold {rows}-row report to CSV ({size / 1e6:.1f} MB), median "
          f"of {runs}" + (", with ORDER BY" if order_by else ""))
    for s, client in ((theirs, "psql"), (ours, "daemon+cat")):
        line = (f"  {s.name:<16} {s.med('wall'):7.3f} s wall "
                f"(runs {fb.runs_text(s.wall)}); cpu: {client} "
                f"{s.med('cpu'):.2f} s, server {s.med('server'):.2f} s")
        if s.med("run") is not None:
            line += f"; the run {s.med('run'):.3f} s"
        print(line)
    ratio = ours.med("wall") / theirs.med("wall")
    cpu = ((ours.med("cpu") + ours.med("server")) /
           (theirs.med("cpu") + theirs.med("server")))
    print(f"  ratio mount/psql {ratio:.2f}x wall, {cpu:.2f}x cpu "
          f"(client + server); target <= 1.25x wall: "
          + ("met" if ratio <= 1.25 else "NOT met"))
    quiet = {i for i in range(len(ours.wall))
             if ours.stall[i] is not None and theirs.stall[i] is not None
             and max(ours.stall[i], theirs.stall[i]) < QUIET}
    if ours.stall and ours.stall[0] is not None:
        print(f"  cpu pressure (PSI some) during the runs: median "
              f"{ours.med('stall'):.0%} (mount), "
              f"{theirs.med('stall'):.0%} (psql)")
    if quiet:
        print(f"  quiet pairs (pressure < {QUIET:.0%}, {len(quiet)} of "
              f"{len(ours.wall)}): mount {ours.med('wall', quiet):.3f} s, "
              f"psql {theirs.med('wall', quiet):.3f} s, ratio "
              f"{ours.med('wall', quiet) / theirs.med('wall', quiet):.2f}x")
    met = hwm is not None and hwm < 64 * 1024
    print(f"  daemon peak RSS (VmHWM) {fb.mib(hwm)}; target < 64 MiB: "
          + ("met" if met else "NOT met"), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--order-by", action="store_true",
                    help="sort the rows in the query (a server-side sort "
                    "both sides pay; off by default)")
    args = ap.parse_args()
    fb.require_build()

    b = fb.Bench()
    try:
        b.start_pg()
        b.make_table("lines", args.rows)
        sql = (fb.query("lines") if args.order_by else
               f"SELECT {fb.COLUMNS} FROM lines")
        m = b.start_mount({"lines": ({"formats": "csv"}, sql)})
        path = m.path("reports/lines/lines.csv")
        ours, theirs = Side("sapb1fs mount"), Side("psql \\copy csv")

        # Warm-up: the table in the server's and the kernel's caches,
        # the daemon's pooled connection made.
        run_psql(b, sql, Side("warm-up"))
        run_mount(b, path, Side("warm-up"))
        fb.reset_hwm(b.pid())

        for i in range(args.runs):
            order = [theirs, ours] if i % 2 == 0 else [ours, theirs]
            for side in order:
                if side is ours:
                    run_mount(b, path, side)
                else:
                    run_psql(b, sql, side)
                stall = side.stall[-1]
                fb.log(f"run {i + 1} {side.name}: {side.wall[-1]:.3f} s, "
                       f"cpu {side.cpu[-1]:.2f} s, server "
                       f"{side.server[-1]:.2f} s, cpu pressure "
                       + ("n/a" if stall is None else f"{stall:.0%}"))
        hwm = fb.status_kib(b.pid(), "VmHWM")
        size = os.path.getsize(path)
    finally:
        b.stop()
    report(ours, theirs, args.rows, size, args.runs, args.order_by, hwm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
