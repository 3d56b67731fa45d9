"""A private PostgreSQL server for tests: initdb in a temporary folder,
listening on loopback on a free port, statement log on, stopped after.

Runs as the unprivileged 'postgres' system user when started by root,
since PostgreSQL refuses to run as root.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

PG_BIN = None
for v in ("17", "16", "15"):
    if os.path.isdir(f"/usr/lib/postgresql/{v}/bin"):
        PG_BIN = f"/usr/lib/postgresql/{v}/bin"
        break


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """start() -> self; .port, .dsn(db), .psql(sql), .stop()."""

    def __init__(self, base=None):
        self.dir = tempfile.mkdtemp(prefix="sapb1-pg-", dir=base)
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.port = free_port()
        self.proc = None
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, argv, **kw):
        if self.user:
            argv = ["runuser", "-u", self.user, "--"] + argv
        return subprocess.run(argv, check=True, capture_output=True, **kw)

    def start(self):
        self._run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"])
        conf = os.path.join(self.data, "postgresql.conf")
        with open(conf, "a") as f:
            f.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.dir}'\n"
                    "log_statement = 'all'\nlogging_collector = off\n"
                    "fsync = off\nfull_page_writes = off\n")
        self.start_server()
        return self

    def start_server(self):
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log,
                   "-w", "-t", "30", "start"])

    def stop_server(self, mode="fast"):
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode,
                   "-w", "stop"])

    def stop(self):
        try:
            self.stop_server("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    @classmethod
    def seeded(cls, seed, db="rep"):
        """A started server with database @db made by the SQL @seed."""
        server = cls().start()
        try:
            server.psql(f"CREATE DATABASE {db}")
            server.psql(seed, db=db)
        except Exception:
            server.stop()
            raise
        return server

    def conninfo(self, db="postgres", user="postgres"):
        return f"host=127.0.0.1 port={self.port} dbname={db} user={user}"

    def source(self, db="rep", timeout=10):
        """The body of a sapb1fs [source] section reaching @db."""
        return (f"driver = postgres\nconninfo = {self.conninfo(db)}\n"
                f"timeout = {timeout}\n")

    def psql(self, sql, db="postgres", check=True):
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                            "ON_ERROR_STOP=1", "-d", self.conninfo(db),
                            "-c", sql], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr}")
        return r.stdout

    def statements(self, needle):
        """How many logged statements contain @needle."""
        with open(self.log, errors="replace") as f:
            return sum(1 for line in f
                       if "statement:" in line or "execute" in line
                       if needle in line)
