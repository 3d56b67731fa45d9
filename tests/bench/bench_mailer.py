#!/usr/bin/python3
"""Benchmark: sapb1fs-mailer against msmtp, to one local SMTP server.

Throughput: 500 queued mails with a 100 KB attachment each, delivered
by `sapb1fs-mailer --once` (one process, one kept connection) and by
msmtp (Debian's, one process and one connection per message, as a
script calling it in a loop would), the same message bodies to the same
aiosmtpd server on loopback, in one run.  Target: the mailer at least
3x faster.

Latency: with the mailer running, jobs renamed into outbox/ one after
the other; the time from the rename to the server's receipt of the
message (when its DATA is complete).  Target: median under 200 ms.

    /usr/bin/python3 tests/bench/bench_mailer.py [--count N] [--strict]

SAPB1FS_BUILD names the build folder (default: build).  --strict exits
1 when a target is missed; a delivery that does not complete always
fails the run.
"""
import argparse
import email.policy
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mail"))
from mailtools import Mailer, exe, wait_for  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

ATTACHMENT_SIZE = 100 * 1024
SUBJECT_RE = re.compile(rb"^Subject: (.*)$", re.M)


class CountingHandler:
    """Records when each message arrived and under which tag (the
    X-Bench header); no parsing, so the server stays cheap."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals = {}

    async def handle_DATA(self, server, session, envelope):
        now = time.monotonic()
        raw = envelope.original_content or envelope.content
        m = re.search(rb"^X-Bench: (\S+)", raw, re.M)
        tag = m.group(1).decode() if m else None
        if tag is None:
            # the mailer's messages: the tag is in the subject
            s = SUBJECT_RE.search(raw)
            tag = s.group(1).decode().strip() if s else "?"
        with self.lock:
            self.arrivals.setdefault(tag, now)
        return "250 OK"

    def count(self, prefix):
        with self.lock:
            return sum(1 for t in self.arrivals if t.startswith(prefix))


def write_jobs(m, count, prefix, attachment):
    """Writes `count` jobs into tmp/ (not yet visible); returns names."""
    names = []
    os.makedirs(m.path("tmp"), exist_ok=True)
    os.makedirs(m.path("outbox"), exist_ok=True)
    for i in range(count):
        name = f"{prefix}{i:04d}"
        d = m.path("tmp", name)
        os.mkdir(d)
        with open(os.path.join(d, "body.html"), "w") as f:
            f.write(f"<p>Rapor {i} ekte.</p>\n")
        with open(os.path.join(d, "rapor.xlsx"), "wb") as f:
            f.write(attachment)
        with open(os.path.join(d, "job.ini"), "w") as f:
            f.write(f"[job]\nto = a@example.com\nsubject = {name}\n"
                    "body = body.html\nattach = rapor.xlsx\n")
        names.append(name)
    return names


def bench_mailer(port, attachment, count, base):
    m = Mailer(port, base=base)
    names = write_jobs(m, count, "m", attachment)
    for n in names:
        os.rename(m.path("tmp", n), m.path("outbox", n))
    t0 = time.monotonic()
    r = subprocess.run([exe("sapb1fs-mailer"), "--config", m.config,
                        "--once"], capture_output=True)
    elapsed = time.monotonic() - t0
    if r.returncode != 0 or len(os.listdir(m.path("sent"))) != count:
        sys.exit("mailer run incomplete:\n" + r.stderr.decode()[-2000:])
    m.cleanup()
    return elapsed


def msmtp_messages(attachment, count):
    """The same mails as RFC 5322 bytes, built before timing starts."""
    out = []
    for i in range(count):
        msg = EmailMessage(policy=email.policy.SMTP)
        msg["From"] = "Raporlar <raporlar@example.com>"
        msg["To"] = "a@example.com"
        msg["Subject"] = f"s{i:04d}"
        msg["X-Bench"] = f"s{i:04d}"
        msg.set_content(f"Rapor {i} ekte.\n")
        msg.add_alternative(f"<p>Rapor {i} ekte.</p>\n", subtype="html")
        msg.add_attachment(
            attachment, maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename="rapor.xlsx")
        out.append(msg.as_bytes())
    return out


def bench_msmtp(port, messages):
    msmtp = shutil.which("msmtp")
    argv = [msmtp, "--file=/dev/null", "--host=127.0.0.1", f"--port={port}",
            "--auth=off", "--tls=off", "--from=raporlar@example.com", "--",
            "a@example.com"]
    t0 = time.monotonic()
    for raw in messages:
        subprocess.run(argv, input=raw, check=True)
    return time.monotonic() - t0


def bench_latency(port, attachment, count, handler, base):
    m = Mailer(port, base=base).start(debug=False)
    names = write_jobs(m, count, "l", attachment)
    lat = []
    for n in names:
        t0 = time.monotonic()
        os.rename(m.path("tmp", n), m.path("outbox", n))
        if not wait_for(lambda: n in handler.arrivals, timeout=10,
                        step=0.001):
            sys.exit(f"latency job {n} not delivered:\n{m.daemon_log()}")
        lat.append((handler.arrivals[n] - t0) * 1000)
    m.stop()
    m.cleanup()
    return lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--latency-count", type=int, default=100)
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(exe("sapb1fs-mailer")):
        sys.exit(f"{exe('sapb1fs-mailer')} is not built")
    if not shutil.which("msmtp"):
        sys.exit("msmtp is not installed (apt-get install msmtp)")

    base = tempfile.mkdtemp(prefix="bench-mailer-")
    handler = CountingHandler()
    from mailtools import free_port
    port = free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    attachment = os.urandom(ATTACHMENT_SIZE)
    try:
        t_mailer = bench_mailer(port, attachment, args.count, base)
        assert handler.count("m") == args.count
        messages = msmtp_messages(attachment, args.count)
        t_msmtp = bench_msmtp(port, messages)
        assert handler.count("s") == args.count
        lat = bench_latency(port, attachment, args.latency_count, handler,
                            base)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)

    ratio = t_msmtp / t_mailer
    median = statistics.median(lat)
    p95 = sorted(lat)[int(len(lat) * 0.95) - 1]
    print(f"{args.count} mails, {ATTACHMENT_SIZE // 1024} KB attachment "
          "each, to aiosmtpd on loopback")
    print(f"  sapb1fs-mailer --once: {t_mailer:7.2f} s "
          f"({args.count / t_mailer:6.1f} mails/s)")
    print(f"  msmtp, one per mail:   {t_msmtp:7.2f} s "
          f"({args.count / t_msmtp:6.1f} mails/s)")
    print(f"  ratio: {ratio:.1f}x faster (target >= 3x): "
          f"{'met' if ratio >= 3 else 'MISSED'}")
    print(f"latency, rename into outbox/ to the server's receipt, "
          f"{len(lat)} mails one by one:")
    print(f"  median {median:.1f} ms, p95 {p95:.1f} ms, max {max(lat):.1f} "
          f"ms (target median < 200 ms): "
          f"{'met' if median < 200 else 'MISSED'}")
    if args.strict and (ratio < 3 or median >= 200):
        sys.exit(1)


if __name__ == "__main__":
    main()
