"""A private redis-server for tests: loopback, a free port, no
persistence, in a temporary folder; stop() kills it, start() again
brings it back on the same port (empty, as a restarted cache is)."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """start() -> self; .url, .cli(*args), .keys(pattern), .stop()."""

    def __init__(self, base=None, password=None, unix_socket=False):
        self.dir = tempfile.mkdtemp(prefix="sapb1-redis-", dir=base)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.password = password
        self.socket = (os.path.join(self.dir, "redis.sock")
                       if unix_socket else None)
        self.proc = None
        self.log = os.path.join(self.dir, "redis.log")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        argv = [REDIS_SERVER, "--port", str(self.port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.dir, "--logfile", self.log,
                "--daemonize", "no", "--protected-mode", "no"]
        if self.password:
            argv += ["--requirepass", self.password]
        if self.socket:
            argv += ["--unixsocket", self.socket, "--unixsocketperm", "700"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                if self.cli("PING").strip() == "PONG":
                    return self
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args, db=0):
        argv = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port),
                "-n", str(db)]
        env = dict(os.environ)
        if self.password:
            env["REDISCLI_AUTH"] = self.password
        return subprocess.run(argv + list(args), check=True, env=env,
                              capture_output=True, text=True).stdout

    def keys(self, pattern="*", db=0):
        out = self.cli("--scan", "--pattern", pattern, db=db)
        return sorted(k for k in out.splitlines() if k)

    def kill(self):
        """Gone at once, as a crashed server is."""
        if self.proc:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def pause(self):
        self.proc.send_signal(19)  # SIGSTOP: up but silent

    def resume(self):
        self.proc.send_signal(18)  # SIGCONT

    def stop(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
