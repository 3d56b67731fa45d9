#!/usr/bin/python3
"""Benchmark of issue 10: opening a warm 100,000-row report on host B
from Redis, against running it at PostgreSQL.

Two sapb1fs mounts on this machine (hosts A and B, each with its own
cache folder) share one private redis-server; the source is a private
PostgreSQL with 100,000 invoice lines.  Each round gives the report a
new definition on both hosts (so nothing is cached anywhere), then:

  at PostgreSQL  A opens and reads the report's CSV: the query runs,
                 every format is rendered, and the run is stored in Redis
  from Redis     B opens and reads the same file: its snapshot is copied
                 from Redis into B's cache, no query

Both are measured in the same run, ROUNDS times; the medians and their
ratio are printed (and every round).  Exit status 77 when it cannot run
here.

  sudo /usr/bin/python3 tests/bench/bench_redis.py [--rows N] [--rounds N]
"""
import argparse
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "redis"))
from fsbench import (Bench, log, median, query, require_build,  # noqa: E402
                     runs_text, timed)
from pylib.mount import Mount, wait_for  # noqa: E402
from redistools import RedisServer  # noqa: E402

FORMATS = "xlsx csv"


def start_host(bench, redis):
    src = {"pg": bench.pg.source("bench", timeout=600)}
    m = Mount(sources=src, global_extra="log_level = info",
              sections=f"[redis]\nurl = {redis.url}\ntimeout = 2000\n")
    m.start()
    return m


def define(m, sql, round_no):
    m.report("inv", {"source": "pg", "formats": FORMATS, "ttl": "3600"},
             f"-- round {round_no}\n{sql}")
    marker = f"round {round_no}".encode()
    ok = wait_for(lambda: os.path.exists(m.path("reports/inv/query.sql"))
                  and marker in open(m.path("reports/inv/query.sql"),
                                     "rb").read(), 10)
    if not ok:
        raise RuntimeError("the mount did not reload the definition")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    require_build()
    if not shutil.which("redis-server"):
        log("redis-server is not installed")
        return 77

    bench = Bench()
    redis = RedisServer().start()
    hosts = []
    try:
        bench.start_pg()
        bench.make_table("lines", args.rows)
        hosts = [start_host(bench, redis), start_host(bench, redis)]
        a, b = hosts
        sql = query("lines")
        at_pg, from_redis = [], []
        for i in range(args.rounds):
            for m in hosts:
                define(m, sql, i)
            path_a = a.path("reports/inv/inv.csv")
            path_b = b.path("reports/inv/inv.csv")
            at_pg.append(timed(["cat", path_a]))
            from_redis.append(timed(["cat", path_b]))
            if open(path_a, "rb").read() != open(path_b, "rb").read():
                raise RuntimeError("host B's file differs from host A's")
            log(f"round {i}: at PostgreSQL {at_pg[-1]:.3f} s, "
                f"from Redis {from_redis[-1]:.3f} s")
        runs = bench.pg.statements("FROM lines ORDER BY")
        if runs != args.rounds:
            raise RuntimeError(f"{runs} queries for {args.rounds} rounds: "
                               "host B ran the report itself")
        if b.log().count("taken from redis") != args.rounds:
            raise RuntimeError("host B did not take every round from "
                               "Redis:\n" + b.log())
        size = os.path.getsize(a.path("reports/inv/inv.csv"))
        xlsx = os.path.getsize(a.path("reports/inv/inv.xlsx"))
        pg_med, rd_med = median(at_pg), median(from_redis)
        print(f"report: {args.rows} rows, formats {FORMATS} "
              f"(csv {size / 2**20:.1f} MiB, xlsx {xlsx / 2**20:.1f} MiB)")
        print(f"open + read of the csv, {args.rounds} rounds, seconds")
        print(f"  host A, run at PostgreSQL: median {pg_med:.3f} "
              f"[{runs_text(at_pg)}]")
        print(f"  host B, taken from Redis:  median {rd_med:.3f} "
              f"[{runs_text(from_redis)}]")
        print(f"ratio: from Redis is {pg_med / rd_med:.1f}x faster than "
              "running it at PostgreSQL")
        return 0
    finally:
        for m in hosts:
            m.stop()
        redis.stop()
        bench.stop()


if __name__ == "__main__":
    sys.exit(main())
