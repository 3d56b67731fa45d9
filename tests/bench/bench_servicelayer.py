#!/usr/bin/python3
"""Benchmark: a Service Layer report of 100,000 rows in pages of 1,000.

One run each, against the Service Layer emulator over HTTPS:
  wire    curl downloads the same pages to /dev/null (one process, one
          kept-alive connection, the session cookie from a curl Login)
  mount   open() of the report's CSV through a real sapb1fs mount, which
          returns once the snapshot is complete, then reading it
  sltool  the driver and the CSV renderer without FUSE (for reference)
and prints mount/wire, the cost of our parsing and rendering on top of
the wire (target: at most 1.3).

Usage: bench_servicelayer.py [--build DIR] [--rows N] [--page N]
       [--strict]   exit 1 when the ratio is above the target
Needs root (FUSE), openssl and curl; run from the source tree.
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "servicelayer"))
sys.path.insert(0, TESTS)
import emulator  # noqa: E402

TARGET = 1.3
PASSWORD = "bench-1234"


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return time.monotonic() - t0, out


def curl_pages(emu, ca, work, rows, page):
    """Logs in with curl, then fetches every page in one curl process."""
    jar = os.path.join(work, "cookies")
    login = ('{"CompanyDB":"SBODEMOTR","UserName":"manager",'
             '"Password":"%s"}' % PASSWORD)
    subprocess.run(["curl", "-sf", "--cacert", ca, "-c", jar, "-d", login,
                    emu.url(1) + "/Login", "-o", os.devnull], check=True)
    last = (rows - 1) // page * page
    url = "%s/Invoices?$skip=%s" % (emu.url(1), "[0-%d:%d]" % (last, page)
                                    if last else "0")
    argv = ["curl", "-sf", "--cacert", ca, "-b", jar, "-H",
            "Prefer: odata.maxpagesize=%d" % page, url]

    def run():
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return timed(run)[0]


def mount_csv(emu, ca, build, rows, page):
    os.environ["SAPB1FS_BUILD"] = build
    from pylib.mount import Mount
    src = ("driver = servicelayer\nurl = %s\ncompany = SBODEMOTR\n"
           "user = manager\npassword = ${B1SL_PASSWORD}\nca_file = %s\n"
           "timeout = 900\npage_size = %d\n" % (emu.url(1), ca, page))
    m = Mount(sources={"b1sl": src}, env={"B1SL_PASSWORD": PASSWORD})
    try:
        m.report("bench", {"source": "b1sl", "formats": "csv",
                           "odata": "Invoices"}, "")
        m.start()
        path = m.path("reports/bench/bench.csv")
        t_open, f = timed(lambda: open(path, "rb"))
        t_read, data = timed(f.read)
        f.close()
        got = sum(1 for _ in csv.reader(
            data.decode("utf-8").splitlines(True))) - 1
        if got != rows:
            raise SystemExit("mount: %d rows in the CSV, want %d\n%s" %
                             (got, rows, m.log()))
        return t_open, t_read, len(data)
    finally:
        m.stop()


def sltool_csv(emu, ca, build, work, page):
    exe = os.path.join(build, "tests", "servicelayer", "sltool")
    if not os.access(exe, os.X_OK):
        return None
    out = os.path.join(work, "sltool.csv")
    argv = [exe, "--url", emu.url(1), "--company", "SBODEMOTR", "--user",
            "manager", "--ca-file", ca, "--timeout", "900", "--page-size",
            str(page), "--odata", "Invoices", "--csv", out]
    env = dict(os.environ, SLTOOL_PASSWORD=PASSWORD)
    return timed(lambda: subprocess.run(argv, check=True, env=env,
                                        stdout=subprocess.DEVNULL))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get(
        "SAPB1FS_BUILD", os.path.join(os.path.dirname(TESTS), "build")))
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--page", type=int, default=1000)
    ap.add_argument("--strict", action="store_true")
    a = ap.parse_args()
    for tool in ("curl", "openssl"):
        if not shutil.which(tool):
            raise SystemExit("bench_servicelayer: %s is not installed" %
                             tool)

    work = tempfile.mkdtemp(prefix="sapb1-slbench-")
    try:
        ca, cert, key = emulator.make_test_pki(os.path.join(work, "pki"))
        db = emulator.make_demo_db(os.path.join(work, "bench.db"),
                                   invoices=a.rows)
        emu = emulator.Emulator(db, users={"manager": PASSWORD},
                                certfile=cert, keyfile=key,
                                page_size=20).start()
        try:
            curl_pages(emu, ca, work, a.page, a.page)  # warm the caches
            p0 = emu.count("pages")
            t_wire = curl_pages(emu, ca, work, a.rows, a.page)
            p1 = emu.count("pages")
            t_open, t_read, size = mount_csv(emu, ca, a.build, a.rows,
                                             a.page)
            pages = (p1 - p0, emu.count("pages") - p1)
            t_tool = sltool_csv(emu, ca, a.build, work, a.page)
        finally:
            emu.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ratio = t_open / t_wire
    print("servicelayer: %d rows in pages of %d over HTTPS (emulator)" %
          (a.rows, a.page))
    print("  wire   curl, same pages to /dev/null   %7.2f s" % t_wire)
    print("  mount  open() until the CSV is whole   %7.2f s "
          "(+ %.2f s to read %.1f MB)" % (t_open, t_read, size / 1e6))
    if t_tool is not None:
        print("  sltool driver + CSV renderer          %7.2f s "
              "(%.2fx)" % (t_tool, t_tool / t_wire))
    print("  ratio  mount / wire                  %7.2fx (target <= "
          "%.1fx: %s)" % (ratio, TARGET,
                          "met" if ratio <= TARGET else "NOT met"))
    print("  pages  served to curl %d, to the mount %d" % pages)
    return 1 if a.strict and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
