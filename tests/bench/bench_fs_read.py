#!/usr/bin/python3
"""Benchmark (issue 2 item 8b): reading a finished 200 MB snapshot
through the mount against reading the same bytes from tmpfs (/dev/shm),
in one run.

The report is made once (a 200 MB CSV), then read with
`dd bs=1M of=/dev/null`, RUNS times each, median kept:

  tmpfs     a copy of the snapshot in /dev/shm
  first     through the mount, the kernel's cache of the mount's file
            dropped before each read (posix_fadvise DONTNEED) while the
            snapshot in cache_dir is in memory: every byte goes through
            the daemon
  repeat    through the mount again, without dropping: an unchanged
            snapshot should come from the page cache, at tmpfs speed
  cold      (root only) after dropping every cache (drop_caches): the
            mount's first read from disk, against reading the snapshot
            file in cache_dir directly from disk

Also printed: the FUSE connection's read-ahead (read_ahead_kb of its
bdi), which sets the size of the kernel's read requests.  With
--read-ahead-kb N the bench writes N there after mounting (root only),
to show what a larger read-ahead changes.

    /usr/bin/python3 tests/bench/bench_fs_read.py [--mb N] [--runs N]
        [--read-ahead-kb N]

SAPB1FS_BUILD names the build folder (default: build).  Exit status 77
when it cannot run here; never 1 for a time.
"""
import argparse
import glob
import os
import shutil
import sys

import fsbench as fb

LINE_BYTES = 138  # "n,<128 hex digits>\r\n" with n of 7 digits


def dd(path):
    return fb.timed(["dd", f"if={path}", "of=/dev/null", "bs=1M"])


def bdi_dir(mnt):
    dev = os.stat(mnt).st_dev
    return f"/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}"


def read_ahead(mnt, kb=None):
    path = os.path.join(bdi_dir(mnt), "read_ahead_kb")
    try:
        if kb is not None:
            with open(path, "w") as f:
                f.write(str(kb))
        with open(path) as f:
            return int(f.read())
    except OSError as e:
        fb.log(f"read_ahead_kb of the mount: {e.strerror}")
        return None


def measure(name, runs, before, path):
    times = []
    for _ in range(runs):
        if before:
            before()
        times.append(dd(path))
    fb.log(f"{name}: {fb.runs_text(times)}")
    return times


NAMES = (("tmpfs", "tmpfs (/dev/shm)"), ("first", "mount, first read"),
         ("repeat", "mount, repeat read"), ("cold", "mount, cold (disk)"),
         ("disk", "cache_dir file, cold"))


def report(res, size, runs, ra):
    med = {k: fb.median(v) for k, v in res.items()}
    best = {k: min(v) for k, v in res.items()}
    print(f"reading a finished {size / 1e6:.0f} MB snapshot with dd bs=1M, "
          f"{runs} runs; FUSE read_ahead_kb "
          f"{ra if ra is not None else 'n/a'}")
    for k, name in NAMES:
        if k in med:
            print(f"  {name:<22} median {med[k]:6.3f} s "
                  f"({size / med[k] / 1e6:5.0f} MB/s), best {best[k]:6.3f} s "
                  f"({size / best[k] / 1e6:5.0f} MB/s)")
    pairs = [("first", "tmpfs"), ("repeat", "tmpfs")]
    if "cold" in med:
        pairs.append(("cold", "disk"))
    for a, b in pairs:
        print(f"  ratio {a} / {b}: {med[a] / med[b]:.2f}x time by medians, "
              f"{best[a] / best[b]:.2f}x by best runs")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--read-ahead-kb", type=int)
    args = ap.parse_args()
    fb.require_build()

    rows = args.mb * 1000 * 1000 // LINE_BYTES
    sql = ("SELECT g AS n, md5(g::text) || md5((g + 1)::text) || "
           "md5((g + 2)::text) || md5((g + 3)::text) AS blob "
           f"FROM generate_series(1000000, {1000000 + rows - 1}) g")
    b = fb.Bench()
    shm = None
    res = {}
    try:
        b.start_pg()
        m = b.start_mount({"big": ({"formats": "csv"}, sql)})
        path = m.path("reports/big/big.csv")
        fb.timed(["cat", path])  # the run: the snapshot now exists
        snap = glob.glob(os.path.join(m.cache, "*-big", "*", "big.csv"))[0]
        size = os.path.getsize(path)
        ra = read_ahead(m.mnt, args.read_ahead_kb)
        shm = f"/dev/shm/sapb1fs-bench-{os.getpid()}.csv"
        shutil.copyfile(snap, shm)

        def warm_snapshot():
            fb.drop_file_cache(path)
            fb.timed(["cat", snap])

        res["tmpfs"] = measure("tmpfs", args.runs, None, shm)
        res["first"] = measure("mount first", args.runs, warm_snapshot,
                               path)
        dd(path)
        res["repeat"] = measure("mount repeat", args.runs, None, path)
        if fb.drop_caches():
            res["cold"] = measure("mount cold", args.runs, fb.drop_caches,
                                  path)
            res["disk"] = measure("cache_dir file cold", args.runs,
                                  fb.drop_caches, snap)
        else:
            fb.log("cannot write /proc/sys/vm/drop_caches (not root?): "
                   "no cold-cache numbers")
    finally:
        if shm and os.path.exists(shm):
            os.unlink(shm)
        b.stop()

    report(res, size, args.runs, ra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
