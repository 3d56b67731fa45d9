"""Helpers of the driver tests: finding drvquery, parsing what it prints,
the sources it reaches (libpq, psqlODBC, SQLite's ODBC driver) and the
data the fixtures load."""
import glob
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
APP_USER = "app"
APP_PASSWORD = "p;a{s}s wörd="  # needs braces in an ODBC string

STATUS = {0: "ok", -1: "query", -2: "conn", -3: "timeout", -4: "auth"}


def find_drvquery():
    """$DRVQUERY, else the build named by $SAPB1FS_BUILD, else build/."""
    path = os.environ.get("DRVQUERY")
    if path:
        return path
    builds = [os.environ.get("SAPB1FS_BUILD"), os.path.join(ROOT, "build")]
    builds += sorted(glob.glob(os.path.join(ROOT, "build*")))
    for b in builds:
        if b and os.access(os.path.join(b, "tests/drivers/drvquery"),
                           os.X_OK):
            return os.path.join(b, "tests/drivers/drvquery")
    return None


def unescape(field):
    """drvquery's cell text back to bytes; None for NULL."""
    if field == b"\\N":
        return None
    out = bytearray()
    i = 0
    while i < len(field):
        ch = field[i]
        if ch != 0x5C:
            out.append(ch)
            i += 1
            continue
        nxt = field[i + 1:i + 2]
        if nxt == b"x":
            out.append(int(field[i + 2:i + 4], 16))
            i += 4
            continue
        out.append({b"\\": 0x5C, b"t": 9, b"n": 10, b"r": 13}[nxt])
        i += 2
    return bytes(out)


class Run:
    """One statement's result as drvquery printed it."""

    def __init__(self):
        self.cols = []    # (name, type, precision, scale)
        self.rows = []    # lists of bytes or None
        self.status = None
        self.error = ""
        self.count = None

    def values(self):
        """Rows with text decoded; binary cells stay bytes."""
        out = []
        for row in self.rows:
            vals = []
            for (_, typ, _, _), cell in zip(self.cols, row):
                if cell is not None and typ != "binary":
                    cell = cell.decode("utf-8")
                vals.append(cell)
            out.append(vals)
        return out

    def types(self):
        return [c[1] for c in self.cols]


def parse(out):
    """drvquery's stdout into a list of Run, one per run."""
    runs, cur = [], Run()
    for line in out.split(b"\n"):
        if not line:
            continue
        tag, _, rest = line.partition(b"\t")
        fields = rest.split(b"\t") if rest else []
        if tag == b"C":
            cur.cols.append((unescape(fields[0]).decode(),
                             fields[1].decode(), int(fields[2]),
                             int(fields[3])))
        elif tag == b"R":
            cur.rows.append([unescape(f) for f in fields])
        elif tag == b"E":
            cur.status, cur.count = 0, int(fields[0])
            runs.append(cur)
            cur = Run()
        elif tag == b"X":
            cur.status = int(fields[0])
            cur.error = unescape(fields[1]).decode("utf-8", "replace")
            runs.append(cur)
            cur = Run()
    return runs


class Result:
    def __init__(self, proc, elapsed):
        self.exit = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed
        self.runs = parse(proc.stdout)
        self.run = self.runs[-1] if self.runs else Run()


class Source:
    """How drvquery reaches one database: driver, connection, user."""

    def __init__(self, name, driver, conn, user=None):
        self.name, self.driver, self.conn, self.user = name, driver, conn, user

    def argv(self, tool, sql, params=(), timeout=None, cancel_ms=None,
             user=None, extra=()):
        argv = [tool]
        if timeout is not None:
            argv += ["-t", str(timeout)]
        if cancel_ms is not None:
            argv += ["-c", str(cancel_ms)]
        user = user or self.user
        if user:
            argv += ["-u", user]
        argv += list(extra) + [self.driver, self.conn, sql]
        for k, v in params:
            argv.append(k if v is None else f"{k}={v}")
        return argv


def odbc_driver_names():
    try:
        out = subprocess.run(["odbcinst", "-q", "-d"], capture_output=True,
                             text=True).stdout
    except FileNotFoundError:
        return set()
    return {line.strip().strip("[]") for line in out.splitlines()}


def built_drivers(drvquery):
    """Drivers compiled into drvquery."""
    out = subprocess.run([drvquery, "-l"], capture_output=True, text=True)
    return set(out.stdout.split())


TYPED_SQL = r"""
create table typed (
    id int primary key, i2 int2, i4 int4, i8 int8,
    amt numeric(19,6), big numeric, f8 float8, f4 float4, b bool,
    d date, t time, ts timestamp, tstz timestamptz, bin bytea,
    txt text, vc varchar(10), ch char(5));
insert into typed values
 (1, -32768, 2147483647, -9223372036854775808, 9999999999999.999999,
  12345678901234567890.123456789, 0.1, 1.1, true, '1899-12-31',
  '23:59:59.999999', '1850-06-15 12:00:00', '2024-05-06 07:08:09.25+03',
  '\x00ff10', 'ŞĞİıçöü 😀👍🏽', 'ĞÜŞİÖÇğüşı', 'ab'),
 (2, 32767, -2147483648, 9223372036854775807, -9999999999999.999999,
  'NaN', 1e100, -3.4028235e38, false, '2100-02-28', '00:00:00',
  '2040-01-02 03:04:05.5', '2040-01-02 03:04:05.123456+00', '\x', '',
  '', ''),
 (3, null, null, null, null, null, null, null, null, null, null, null,
  null, null, null, null, null),
 (4, 0, 0, 0, 0.000001, -0.5, 'NaN', 'Infinity', true, '0099-01-01',
  '12:00:00.5', '2262-04-11 23:47:16.854775', '1900-01-01 00:00:00+00',
  '\x5c0a', E'a,b;"c"\nd\te\\ ''q''', 'x', 'abcde'),
 (5, -1, -1, -1, -0.000001, 0, '-Infinity', 'NaN', false, '2038-01-19',
  '03:14:07', '2038-01-19 03:14:08', '2038-01-19 03:14:08+00', '\xff',
  repeat('ğ', 100000), 'İ', 'ş');
"""


def psqlodbc_conn(port, extra=";UseDeclareFetch=1"):
    return ("DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;"
            f"PORT={port};DATABASE=postgres" + extra)


SQLITE_ROWS = [
    (1, 9223372036854775807, 1234.5, "9999999999999.999999", 0.1, 1e100, 1,
     "1899-12-31", "23:59:59.999", "2040-01-02 03:04:05.500",
     b"\x00\xff\x10", "ŞĞİıçöü 😀", "longer than five ğ"),
    (2, -9223372036854775808, -0.5, "-9999999999999.999999", None, -2.5, 0,
     "2100-02-28", "00:00:00", "1850-06-15 12:00:00", b"", "", ""),
    (3, None, None, None, None, None, None, None, None, None, None, None,
     None),
]
