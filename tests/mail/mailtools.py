"""Tools for the mailer's tests and benchmark: a real SMTP server
(aiosmtpd, on loopback, on a free port) whose answers a test can script,
a self-signed certificate made with openssl, and a sapb1fs-mailer run
over a private config and spool in a temporary folder.
"""
import asyncio
import email
import email.policy
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pylib.mount import check_sanitizers, exe, wait_for  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificate(folder):
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    cert = os.path.join(folder, "cert.pem")
    key = os.path.join(folder, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2",
         "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


class Received:
    """One message the server accepted."""

    def __init__(self, envelope, session, raw, transport):
        self.mail_from = envelope.mail_from
        self.rcpt_tos = list(envelope.rcpt_tos)
        self.raw = raw
        self.peer = session.peer
        self.tls = (session.ssl is not None or
                    transport.get_extra_info("ssl_object") is not None)
        self.login = getattr(session, "auth_data", None)
        self.when = time.time()
        self.msg = email.message_from_bytes(raw, policy=email.policy.default)

    @property
    def message_id(self):
        return self.msg["Message-ID"]


class Handler:
    """Scriptable answers: data_replies (popped, then 250), rcpt_replies
    by address, a delay before answering DATA."""

    def __init__(self):
        self.received = []
        self.data_replies = []
        self.rcpt_replies = {}
        self.data_delay = 0.0
        self.drop_reused = 0  # connections to drop at their next MAIL
        self.data_started = threading.Event()
        self.lock = threading.Lock()
        self.connections = set()

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        # a kept connection lost without a word, as after a NAT timeout
        if self.drop_reused and getattr(session, "delivered", 0):
            self.drop_reused -= 1
            server.transport.abort()
            return "421 gone"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        with self.lock:
            self.connections.add(session.peer)
            self.data_started.set()
            if self.data_replies:
                reply = self.data_replies.pop(0)
                if not reply.startswith("250"):
                    return reply
            self.received.append(Received(envelope, session, raw,
                                          server.transport))
            session.delivered = getattr(session, "delivered", 0) + 1
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        return "250 2.0.0 OK queued"


class SmtpServer:
    """s = SmtpServer(port).start(); s.handler.received; s.stop()

    tls: 'starttls' (offered, required), 'implicit' (smtps) or None;
    auth: (user, password) required, over TLS when tls is set."""

    def __init__(self, port=None, tls=None, cert=None, auth=None,
                 timeout=300):
        self.port = port or free_port()
        self.handler = Handler()
        self.tls = tls
        self.cert = cert
        self.auth = auth
        self.timeout = timeout
        self.controller = None

    def _server_ctx(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*self.cert)
        return ctx

    def _authenticator(self, server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and
              (data.login.decode(), data.password.decode()) == self.auth)
        return AuthResult(success=ok, handled=False)

    def start(self):
        kw = {"timeout": self.timeout}
        if self.tls == "starttls":
            kw.update(tls_context=self._server_ctx(), require_starttls=True)
        if self.tls == "implicit":
            kw["ssl_context"] = self._server_ctx()
        if self.auth:
            kw.update(authenticator=self._authenticator, auth_required=True,
                      auth_require_tls=self.tls is not None)
        self.controller = Controller(self.handler, hostname="127.0.0.1",
                                     port=self.port, **kw)
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    @property
    def received(self):
        with self.handler.lock:
            return list(self.handler.received)

    def wait_count(self, n, timeout=20.0):
        return wait_for(lambda: len(self.received) >= n, timeout)


class Mailer:
    """A sapb1fs-mailer over a private config and spool.

    m = Mailer(port, smtp_extra=..., mailer_extra=...); m.enqueue(...);
    m.once(); m.start(); m.stop(); m.log()"""

    def __init__(self, port, scheme="smtp", tls="no", smtp_extra="",
                 mailer_extra="", env=None, base=None):
        self.dir = tempfile.mkdtemp(prefix="sapb1-mail-", dir=base)
        self.spool = os.path.join(self.dir, "spool")
        self.config = os.path.join(self.dir, "sapb1fs.conf")
        self.logfile = os.path.join(self.dir, "mailer.log")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.logs = []
        with open(self.config, "w") as f:
            f.write(f"""[global]
reports_dir = {self.dir}
state_dir = {self.dir}

[smtp]
url = {scheme}://127.0.0.1:{port}
from = Raporlar Şube <raporlar@example.com>
admin = it@example.com
tls = {tls}
{smtp_extra}

[spool]
dir = {self.spool}

[mailer]
retry_first = 1
retry_max = 2
{mailer_extra}
""")

    def path(self, *parts):
        return os.path.join(self.spool, *parts)

    def run(self, *args, input=None, check=True):
        r = subprocess.run([exe("sapb1fs-mailer"), "--config", self.config,
                            *args], input=input, capture_output=True,
                           env=self.env, timeout=120)
        self.logs.append(r.stderr.decode(errors="replace"))
        check_sanitizers(self.logs[-1])
        if check and r.returncode not in (0, 75):
            raise AssertionError(f"mailer {args} exited {r.returncode}:\n"
                                 + r.stderr.decode(errors="replace"))
        return r

    def enqueue(self, to, subject, body=None, text=None, attach=(),
                extra=(), **kw):
        args = ["--enqueue", "--to", to, "--subject", subject]
        if body is not None:
            args += ["--body", body]
        if text is not None:
            args += ["--text", text]
        for a in attach:
            args += ["--attach", a]
        r = self.run(*args, *extra, **kw)
        return r.stdout.decode().strip()

    def once(self, *extra):
        return self.run("--once", "-d", *extra)

    def start(self, debug=True):
        log = open(self.logfile, "ab")
        args = [exe("sapb1fs-mailer"), "--config", self.config, "-f"]
        if debug:
            args.append("-d")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log,
                                     env=self.env)
        log.close()
        ok = wait_for(lambda: "watching" in self.daemon_log(), 10)
        assert ok, "mailer did not start:\n" + self.daemon_log()
        return self

    def daemon_log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log(self):
        return "".join(self.logs) + self.daemon_log()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        check_sanitizers(self.daemon_log())
        return rc

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def jobs(self, box):
        try:
            return sorted(os.listdir(self.path(box)))
        except FileNotFoundError:
            return []

    def state(self, box, job):
        """The job's state.ini as a dict."""
        out = {}
        try:
            with open(self.path(box, job, "state.ini")) as f:
                for line in f:
                    if "=" in line:
                        k, v = line.split("=", 1)
                        out[k.strip()] = v.strip()
        except FileNotFoundError:
            pass
        return out

    def reason(self, job):
        with open(self.path("failed", job, "failed.txt")) as f:
            return f.read()

    def write_job(self, name, ini, files=None, in_place=False):
        """Writes a job as the scheduler would (tmp/, then rename), or in
        place inside outbox/ when in_place."""
        os.makedirs(self.path("tmp"), exist_ok=True)
        os.makedirs(self.path("outbox"), exist_ok=True)
        where = self.path("outbox" if in_place else "tmp", name)
        os.mkdir(where)
        for fname, data in (files or {}).items():
            with open(os.path.join(where, fname), "wb") as f:
                f.write(data)
        with open(os.path.join(where, "job.ini"), "w") as f:
            f.write(ini)
        if not in_place:
            os.rename(where, self.path("outbox", name))

    def cleanup(self):
        if self.proc:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def parts(msg):
    """{'text': str, 'html': str, 'attachments': [(name, type, bytes)]}"""
    out = {"text": None, "html": None, "attachments": []}
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if name is not None or part.get_content_disposition() == \
                "attachment":
            out["attachments"].append((name, part.get_content_type(),
                                       part.get_payload(decode=True)))
        elif part.get_content_type() == "text/plain":
            out["text"] = part.get_content()
        elif part.get_content_type() == "text/html":
            out["html"] = part.get_content()
    return out
