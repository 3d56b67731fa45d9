"""What the mount benchmarks share: a private PostgreSQL with an invoice
lines table of any size, a sapb1fs mount over it, timing a command, and
reading CPU times and the daemon's memory high-water mark from /proc.

Nothing here asserts a time: the benchmarks print what they measured.
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pylib.mount import Mount, build_dir, exe  # noqa: E402,F401
from pylib.pg import PgServer  # noqa: E402

# Invoice lines as an ERP holds them: two ints, two texts (Turkish
# names), two numeric(19,6), a date and a timestamp.
TABLE_SQL = """
CREATE TABLE {name} (
    doc_entry integer NOT NULL,
    line_num integer NOT NULL,
    card_code varchar(15) NOT NULL,
    card_name varchar(100),
    quantity numeric(19,6),
    line_total numeric(19,6),
    doc_date date,
    create_ts timestamp
);
INSERT INTO {name}
SELECT 100000 + g / 4, g % 4,
       'C' || lpad(((g * 7919) % 20000)::text, 5, '0'),
       (ARRAY['Şişecam Dış Ticaret A.Ş.', 'Öztürk Gıda San. Tic. Ltd.',
              'Çelik İnşaat', 'Ilgaz Ürün Pazarlama', 'Güneş Enerji',
              'Yıldız Tekstil ve Konfeksiyon'])[1 + g % 6],
       ((g * 37) % 5000)::numeric / 4,
       ((g * 104729) % 100000000000)::numeric / 1000000 - 20000,
       date '2024-01-01' + ((g * 13) % 730)::integer,
       timestamp '2024-01-01 08:00' + ((g * 7907) % 63072000)
           * interval '1 second'
FROM generate_series(0::bigint, {rows} - 1) g;
ALTER TABLE {name} SET (autovacuum_enabled = off);
"""

COLUMNS = ("doc_entry, line_num, card_code, card_name, quantity, "
           "line_total, doc_date, create_ts")


def query(table, limit=None):
    """The report's SQL: every column, in a stable order."""
    sql = f"SELECT {COLUMNS} FROM {table} ORDER BY doc_entry, line_num"
    if limit:
        sql += f" LIMIT {limit}"
    return sql


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Bench:
    """A PostgreSQL server and a mount over it; stop() removes both."""

    def __init__(self):
        self.pg = None
        self.mount = None

    def start_pg(self):
        self.pg = PgServer().start()
        self.pg.psql("CREATE DATABASE bench")
        return self.pg

    def make_table(self, name, rows):
        t0 = time.perf_counter()
        self.pg.psql(TABLE_SQL.format(name=name, rows=rows), db="bench")
        # Hint bits set and no autovacuum later: both sides read the
        # same settled table.
        self.pg.psql(f"VACUUM (FREEZE, ANALYZE) {name}", db="bench")
        log(f"table {name}: {rows} rows made in "
            f"{time.perf_counter() - t0:.1f} s")

    def psql_argv(self, *args):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                self.pg.conninfo("bench"), *args]

    def start_mount(self, reports, timeout=600):
        """@reports: {name: (header dict, sql)}; returns the Mount."""
        src = {"pg": self.pg.source("bench", timeout=timeout)}
        self.mount = Mount(sources=src, global_extra="log_level = info")
        for name, (header, sql) in reports.items():
            hdr = {"source": "pg", "ttl": "3600"}
            hdr.update(header)
            self.mount.report(name, hdr, sql)
        self.mount.start()
        return self.mount

    def pid(self):
        return self.mount.proc.pid

    def stop(self):
        if self.mount:
            self.mount.stop()
        if self.pg:
            self.pg.stop()


def timed(argv, stdout=subprocess.DEVNULL):
    """Runs @argv; returns its wall time in seconds.  Fails loudly."""
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {r.stderr.decode()[:500]}")
    return wall


def status_kib(pid, key):
    """A /proc/<pid>/status field in KiB (VmHWM, VmRSS), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_hwm(pid):
    """Resets the process's peak RSS to its current RSS (clear_refs 5,
    Linux 4.0 and later); False when not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def drop_caches():
    """Drops the whole page cache (root only); False when refused."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
        return True
    except OSError:
        return False


def drop_file_cache(path):
    """Drops the cached pages of one file (of the mount, or of its
    snapshot in cache_dir); works for any user who can open it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def median(xs):
    return statistics.median(xs)


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def runs_text(xs):
    return " ".join(f"{x:.3f}" for x in xs)


def require_build():
    """Exits 77 (skipped) when the daemon is not built."""
    if not os.path.exists(exe("sapb1fs")):
        print(f"sapb1fs is not built in {build_dir()} (set SAPB1FS_BUILD)",
              file=sys.stderr)
        sys.exit(77)
    if os.geteuid() != 0 and not os.access("/dev/fuse", os.W_OK):
        print("cannot use /dev/fuse here", file=sys.stderr)
        sys.exit(77)


def _proc_stat(pid):
    """(ppid, utime + stime, cutime + cstime) of @pid, times in seconds;
    None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick,
            (int(fields[13]) + int(fields[14])) / tick)


def cpu_seconds(pid):
    """User + system CPU seconds a process (all its threads) has used."""
    st = _proc_stat(pid)
    return st[1] if st else 0.0


def pg_cpu_seconds(pg):
    """CPU seconds the whole PostgreSQL server has used so far: the
    postmaster, its live children (backends, workers) and the children it
    has reaped (backends of ended sessions).  A child reaped while the
    children are listed would count twice or not at all: then again."""
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        master = int(f.readline())
    for _ in range(10):
        before = _proc_stat(master)
        if before is None:
            return 0.0
        kids = 0.0
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = _proc_stat(int(name))
                if st and st[0] == master:
                    kids += st[1]
        after = _proc_stat(master)
        if after is None:
            return 0.0
        if after[2] == before[2]:
            break
    return after[1] + after[2] + kids


def health(mount):
    """The mount's .status/health.json, parsed."""
    with open(mount.path(".status/health.json")) as f:
        return json.load(f)


def last_run_ms(mount, report):
    """How long the daemon's last run of @report took, in ms, or None."""
    for key, val in health(mount).get("reports", {}).items():
        if key.split("/")[-1] == report and isinstance(val, dict):
            return val.get("last_ms")
    return None


def cpu_stall_us():
    """Microseconds some task has waited for a CPU since boot (PSI,
    /proc/pressure/cpu), or None without PSI.  Its growth during a run,
    over the run's length, tells how busy the machine was."""
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some "):
                    return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        pass
    return None
