"""The demo: contrib/demo/gen_demo.py writes an exact, deterministic and
self-consistent SAP B1-shaped database, and every report definition in
contrib/demo/reports runs through unixODBC and its SQLite3 driver (the
path the daemon takes), both with isql and with the ODBC API called
directly, giving the same rows as the sqlite3 shell, Turkish text intact.
When a built sapb1fs can mount here, the reports are also read through
the mount.

Run: /usr/bin/python3 -m pytest tests/demo
"""
import ctypes
import ctypes.util
import csv
import grp
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "contrib" / "demo"
GENERATOR = DEMO / "gen_demo.py"
REPORTS = sorted((DEMO / "reports").glob("*.sql"))
SMALL = 2000  # invoice lines in the database most tests read
HEADER_KEYS = {"title", "source", "formats", "ttl", "schedule", "mail",
               "attach", "csv", "group", "mode", "param", "odata"}
FORMATS = {"xlsx", "csv", "json", "html"}
EXACT = re.compile(r"^-?\d+\.\d{2,6}$")

need_isql = pytest.mark.skipif(shutil.which("isql") is None,
                               reason="isql (unixodbc) is not installed")
need_sqlite3 = pytest.mark.skipif(shutil.which("sqlite3") is None,
                                  reason="the sqlite3 shell is not installed")


def odbcinst_has_sqlite3():
    if not ctypes.util.find_library("odbc"):
        return False
    try:
        text = Path("/etc/odbcinst.ini").read_text()
    except OSError:
        return False
    return re.search(r"^\[SQLite3\]", text, re.M) is not None


need_driver = pytest.mark.skipif(
    not odbcinst_has_sqlite3(),
    reason="no libodbc, or no [SQLite3] driver in /etc/odbcinst.ini "
    "(unixodbc, libsqliteodbc)")


def generate(path, lines, *extra):
    began = time.monotonic()
    subprocess.run([sys.executable, str(GENERATOR), str(path), "--lines",
                    str(lines), *extra], check=True, capture_output=True)
    return time.monotonic() - began


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    generate(path, SMALL)
    return path


def connection(db):
    return "DRIVER=SQLite3;Database=%s;NoCreat=1" % db


# --- report definitions ----------------------------------------------------

class Definition:
    """A definition split as DESIGN.md says: "-- key: value" lines, then
    the SQL."""

    def __init__(self, path):
        self.path = path
        self.name = path.stem
        self.header, self.params = {}, []
        lines = path.read_text(encoding="utf-8").splitlines()
        n = 0
        while n < len(lines):
            m = re.match(r"^-- ([a-z_]+): (.*)$", lines[n])
            if not m:
                break
            key, value = m.group(1), m.group(2).strip()
            if key == "param":
                pname, _, sql = value.partition("=")
                self.params.append((pname.strip(), sql.strip()))
            else:
                self.header[key] = value
            n += 1
        self.body = "\n".join(lines[n:])

    def bound(self, values):
        return self.bind(self.body, values)

    @staticmethod
    def bind(sql, values):
        """@sql with each ":name" replaced by a quoted literal, for tools
        that cannot bind (isql).  The daemon binds instead."""
        def lit(m):
            return "'%s'" % values[m.group(1)].replace("'", "''")
        return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", lit, sql)


DEFINITIONS = [Definition(p) for p in REPORTS]
IDS = [d.name for d in DEFINITIONS]


def test_at_least_five_reports_and_one_with_a_parameter():
    assert len(DEFINITIONS) >= 5
    assert any(d.params for d in DEFINITIONS)


@pytest.mark.parametrize("d", DEFINITIONS, ids=IDS)
def test_definition_header(d):
    assert re.fullmatch(r"[A-Za-z0-9_-]+", d.name)
    assert set(d.header) <= HEADER_KEYS, set(d.header) - HEADER_KEYS
    assert d.header.get("source") == "demo"
    assert d.header.get("title")
    assert set(d.header.get("formats", "csv").split()) <= FORMATS
    assert re.match(r"\s*(SELECT|WITH)\b", d.body, re.I), d.body[:40]
    # One statement: no line may end with ';' (isql would also split
    # there), and each :name in the body has a param line.
    assert not [ln for ln in d.body.splitlines()
                if ln.rstrip().endswith(";")]
    used = set(re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", d.body))
    assert used == {p for p, _ in d.params}


# --- running SQL -----------------------------------------------------------

def strip_comments(sql):
    """@sql without its "--" comments, string literals and quoted names
    left alone.  isql -n joins lines with spaces, so an indented comment
    would swallow the rest of the statement (and it ends the statement at
    an empty line); the daemon sends the text as written."""
    out, quote, i = [], None, 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def isql(db, sql):
    """Rows (header first) of @sql run by unixODBC's isql through the
    SQLite3 driver; fails the test on any error."""
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    sql = "\n".join(ln for ln in strip_comments(sql).splitlines()
                    if ln.strip())
    r = subprocess.run(["isql", "-k", "-b", "-n", "-v", "-c", "-x0x09",
                        connection(db)], input=(sql + "\n;\n").encode(),
                       capture_output=True, timeout=300, env=env)
    out = r.stdout.decode("utf-8")  # strict: Turkish bytes must be intact
    err = r.stderr.decode("utf-8", "replace")
    diags = [ln for ln in out.splitlines()
             if re.match(r"^\[[0-9A-Z]{5}\]", ln)]
    assert "[ISQL]ERROR" not in err and not diags, (err, diags)
    assert r.returncode == 0
    return [ln.split("\t") for ln in out.splitlines()]


def sqlite_shell(db, sql, params=None):
    """The same through the sqlite3 shell, with double-quoted strings
    turned off so a misspelt "Column" fails instead of becoming text."""
    script = [".dbconfig dqs_dml off", ".dbconfig dqs_ddl off", ".bail on",
              ".headers on", ".mode tabs"]
    for k, v in (params or {}).items():
        script.append(".parameter set :%s '%s'" % (k, v.replace("'", "''")))
    script += [".print @@rows", sql.rstrip(), ";"]
    r = subprocess.run(["sqlite3", str(db)],
                       input="\n".join(script).encode(),
                       capture_output=True, timeout=300)
    assert r.returncode == 0 and not r.stderr, r.stderr.decode()
    out = r.stdout.decode("utf-8").split("@@rows\n", 1)[1]
    return [ln.split("\t") for ln in out.splitlines()]


def param_values(db, d):
    values = {}
    for pname, sql in d.params:
        rows = isql(db, sql)
        assert len(rows) > 1, "param %s lists no values" % pname
        values[pname] = [row[0] for row in rows[1:]]
    return values


def same_rows(db, sql, params=None):
    """Runs @sql through isql, through the ODBC API directly (the text
    verbatim, comments and all, as the daemon sends it) and through the
    sqlite3 shell, checks the three agree, and returns isql's rows."""
    rows = isql(db, sql if params is None else
                Definition.bind(sql, params))
    odbc = Odbc(connection(db))
    try:
        cols, data = odbc.query(sql if params is None else
                                Definition.bind(sql, params))
    finally:
        odbc.close()
    assert [c[0] for c in cols] == rows[0]
    assert [["" if v is None else v for v in r] for r in data] == rows[1:]
    shell = sqlite_shell(db, sql, params)
    assert shell[1:] == rows[1:]
    assert not shell or shell[0] == rows[0]  # no header when no rows
    return rows


@need_isql
@need_driver
@need_sqlite3
@pytest.mark.parametrize("d", DEFINITIONS, ids=IDS)
def test_report_runs_through_odbc(demo_db, d):
    if not d.params:
        rows = same_rows(demo_db, d.body)
        assert len(rows) > 1, "no rows"
        return
    # A parameter: a spread of its values; each runs, and some have rows.
    values = param_values(demo_db, d)
    with_rows = 0
    for n in range(5):
        one = {k: v[n * len(v) // 5] for k, v in values.items()}
        rows = same_rows(demo_db, d.body, one)
        assert rows[0], "no header"
        with_rows += len(rows) > 1
    assert with_rows > 0


@need_isql
@need_driver
def test_turkish_text_through_odbc(demo_db):
    rows = isql(demo_db, 'SELECT "CardName" AS "Cari adı" FROM OCRD '
                'WHERE "CardCode" IN (\'C20001\', \'C20002\') ORDER BY 1')
    assert rows == [["Cari adı"], ["Anadolu Gıda Tic. A.Ş."],
                    ["Çınar Tekstil"]]
    rows = isql(demo_db, 'SELECT "ItemName" FROM OITM '
                'WHERE "ItemName" = \'Kırmızı şemsiye\'')
    assert rows[1:] == [["Kırmızı şemsiye"]]


# --- column types as the ODBC driver describes them -----------------------

class Odbc:
    """Just enough of the ODBC C API, through ctypes, to see column types
    and raw text as a C program (the daemon) sees them."""

    SQL_NTS, SQL_C_CHAR, SQL_NULL_DATA, SQL_NO_DATA = -3, 1, -1, 100
    ENV, DBC, STMT = 1, 2, 3
    TYPES = {"SQL_VARCHAR": 12, "SQL_DOUBLE": 8, "SQL_INTEGER": 4,
             "SQL_TYPE_DATE": 91}

    def __init__(self, conn):
        c = ctypes
        h, p, short, ushort = c.c_void_p, c.c_char_p, c.c_short, c.c_ushort
        sp = c.POINTER(short)
        self.lib = lib = c.CDLL(c.util.find_library("odbc") or
                                "libodbc.so.2")
        protos = {
            "SQLAllocHandle": [short, h, c.POINTER(h)],
            "SQLSetEnvAttr": [h, c.c_int, h, c.c_int],
            "SQLDriverConnect": [h, h, p, short, p, short, sp, ushort],
            "SQLExecDirect": [h, p, c.c_int],
            "SQLNumResultCols": [h, sp],
            "SQLDescribeCol": [h, ushort, p, short, sp, sp,
                               c.POINTER(c.c_size_t), sp, sp],
            "SQLFetch": [h],
            "SQLGetData": [h, ushort, short, h, c.c_ssize_t,
                           c.POINTER(c.c_ssize_t)],
            "SQLFreeHandle": [short, h],
            "SQLDisconnect": [h],
        }
        for name, args in protos.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, short
        self.env, self.dbc = h(), h()
        self.check(lib.SQLAllocHandle(self.ENV, None, c.byref(self.env)))
        self.check(lib.SQLSetEnvAttr(self.env, 200, 3, 0))  # ODBC 3
        self.check(lib.SQLAllocHandle(self.DBC, self.env, c.byref(self.dbc)))
        self.check(lib.SQLDriverConnect(self.dbc, None, conn.encode(),
                                        self.SQL_NTS, None, 0, None, 0))

    @staticmethod
    def check(rc):
        assert rc in (0, 1), "ODBC call returned %d" % rc

    def query(self, sql):
        """[(label, SQL type)], and the rows as text (None for NULL)."""
        c, lib = ctypes, self.lib
        st = c.c_void_p()
        self.check(lib.SQLAllocHandle(self.STMT, self.dbc, c.byref(st)))
        try:
            self.check(lib.SQLExecDirect(st, sql.encode(), self.SQL_NTS))
            n = c.c_short()
            self.check(lib.SQLNumResultCols(st, c.byref(n)))
            cols = [self.describe(st, i) for i in range(1, n.value + 1)]
            rows = []
            while True:
                rc = lib.SQLFetch(st)
                if rc == self.SQL_NO_DATA:
                    break
                self.check(rc)
                rows.append([self.text(st, i)
                             for i in range(1, n.value + 1)])
        finally:
            lib.SQLFreeHandle(self.STMT, st)
        return cols, rows

    def describe(self, st, i):
        c = ctypes
        label = c.create_string_buffer(256)
        ln, typ, dig, nul = c.c_short(), c.c_short(), c.c_short(), \
            c.c_short()
        size = c.c_size_t()
        self.check(self.lib.SQLDescribeCol(st, i, label, 256, c.byref(ln),
                                           c.byref(typ), c.byref(size),
                                           c.byref(dig), c.byref(nul)))
        return label.value.decode("utf-8"), typ.value

    def text(self, st, i):
        c = ctypes
        buf = c.create_string_buffer(4096)
        ind = c.c_ssize_t()
        self.check(self.lib.SQLGetData(st, i, self.SQL_C_CHAR, buf, 4096,
                                       c.byref(ind)))
        if ind.value == self.SQL_NULL_DATA:
            return None
        return buf.value.decode("utf-8")

    def close(self):
        self.lib.SQLDisconnect(self.dbc)
        self.lib.SQLFreeHandle(self.DBC, self.dbc)
        self.lib.SQLFreeHandle(self.ENV, self.env)


@need_driver
def test_odbc_describes_exact_numbers_dates_and_text(demo_db):
    con = sqlite3.connect(demo_db)
    want = con.execute('SELECT "DocTotal", "DocRate", "DocDate", "CardName"'
                       ' FROM OINV WHERE "DocEntry" = 1').fetchone()
    avg = con.execute('SELECT "AvgPrice" FROM OITW LIMIT 1').fetchone()[0]
    con.close()
    odbc = Odbc(connection(demo_db))
    try:
        cols, (row,) = odbc.query('SELECT "DocTotal", "DocRate", "DocDate",'
                                  ' "CardName" FROM OINV '
                                  'WHERE "DocEntry" = 1')
        _, (avg_row,) = odbc.query('SELECT "AvgPrice" FROM OITW LIMIT 1')
    finally:
        odbc.close()
    t = Odbc.TYPES
    assert [c[1] for c in cols] == [t["SQL_DOUBLE"], t["SQL_DOUBLE"],
                                    t["SQL_TYPE_DATE"], t["SQL_VARCHAR"]]
    # Digit for digit what was stored: '1.000000' stays '1.000000'.
    assert row == list(want) and row[1] == "1.000000"
    assert avg_row == [avg] and re.fullmatch(r"\d+\.\d{6}", avg)


# --- the generated data ----------------------------------------------------

def rows_of(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_generator_counts_and_names(demo_db):
    assert rows_of(demo_db, "SELECT COUNT(*) FROM INV1") == [(SMALL,)]
    for table in ("OACT", "OCRD", "OITM", "OITW", "OWHS", "OINV", "ORIN",
                  "OPCH", "PCH1", "ORCT", "RCT2", "OVPM", "OJDT", "JDT1"):
        assert rows_of(demo_db, 'SELECT COUNT(*) FROM "%s"' % table)[0][0]
    names = {r[0] for r in rows_of(demo_db, 'SELECT "CardName" FROM OCRD')}
    assert {"Anadolu Gıda Tic. A.Ş.", "Çınar Tekstil"} <= names
    assert any(set("ŞĞİıçöü") & set(n) for n in names)


def test_amounts_are_exact_decimal_text(demo_db):
    con = sqlite3.connect(demo_db)
    try:
        for (table,) in con.execute("SELECT name FROM sqlite_master "
                                    "WHERE type = 'table' AND "
                                    "name NOT LIKE 'sqlite%'"):
            for col in con.execute('PRAGMA table_info("%s")' % table):
                if not col[2].startswith("NUMERIC TEXT"):
                    continue
                for (v,) in con.execute('SELECT "%s" FROM "%s"'
                                        % (col[1], table)):
                    assert isinstance(v, str) and EXACT.match(v), \
                        (table, col[1], v)
    finally:
        con.close()


def test_dates_are_iso_and_in_range(demo_db):
    for table, col in (("OINV", "DocDate"), ("OINV", "DocDueDate"),
                       ("ORCT", "DocDate"), ("JDT1", "RefDate")):
        lo, hi, bad = rows_of(
            demo_db, 'SELECT MIN("%s"), MAX("%s"), SUM(date("%s") IS NOT '
            '"%s") FROM "%s"' % (col, col, col, col, table))[0]
        assert bad == 0 and lo >= "2024-12-01"
        if col != "DocDueDate":
            assert hi <= "2026-12-03"


def test_books_balance(demo_db):
    per_trans = {}
    for trans, debit, credit in rows_of(
            demo_db, 'SELECT "TransId", "Debit", "Credit" FROM JDT1'):
        per_trans[trans] = (per_trans.get(trans, 0) + Decimal(debit) -
                            Decimal(credit))
    assert per_trans and not [t for t, v in per_trans.items() if v]

    bp = {}
    for code, debit, credit in rows_of(
            demo_db, 'SELECT "ShortName", "Debit", "Credit" FROM JDT1'):
        bp[code] = bp.get(code, 0) + Decimal(debit) - Decimal(credit)
    for code, balance in rows_of(demo_db,
                                 'SELECT "CardCode", "Balance" FROM OCRD'):
        assert Decimal(balance) == bp.get(code, 0), code


def test_documents_add_up(demo_db):
    for head, body in (("OINV", "INV1"), ("ORIN", "RIN1"), ("OPCH", "PCH1")):
        lines = {}
        for entry, total, vat in rows_of(
                demo_db, 'SELECT "DocEntry", "LineTotal", "VatSum" FROM '
                '"%s"' % body):
            lines[entry] = lines.get(entry, 0) + Decimal(total) + \
                Decimal(vat)
        for entry, total, paid, status, canceled in rows_of(
                demo_db, 'SELECT "DocEntry", "DocTotal", "PaidToDate", '
                '"DocStatus", "CANCELED" FROM "%s"' % head):
            assert Decimal(total) == lines[entry], (head, entry)
            assert Decimal(paid) <= Decimal(total), (head, entry)
            closed = Decimal(paid) == Decimal(total)
            assert status == ("C" if closed else "O"), (head, entry)
    for head, body in (("ORCT", "RCT2"), ("OVPM", "VPM2")):
        applied = {}
        for num, amount in rows_of(demo_db, 'SELECT "DocNum", "SumApplied"'
                                   ' FROM "%s"' % body):
            applied[num] = applied.get(num, 0) + Decimal(amount)
        for entry, total, cash, check, trsfr in rows_of(
                demo_db, 'SELECT "DocEntry", "DocTotal", "CashSum", '
                '"CheckSum", "TrsfrSum" FROM "%s"' % head):
            assert Decimal(total) == applied[entry]
            assert Decimal(total) == (Decimal(cash) + Decimal(check) +
                                      Decimal(trsfr))


def dump(db):
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_generator_is_deterministic(tmp_path):
    generate(tmp_path / "a.db", 700)
    generate(tmp_path / "b.db", 700)
    generate(tmp_path / "c.db", 700, "--seed", "7")
    a = dump(tmp_path / "a.db")
    assert a == dump(tmp_path / "b.db")
    assert a != dump(tmp_path / "c.db")
    assert not list(tmp_path.glob("*.tmp-*"))


def test_generator_full_size_takes_seconds(tmp_path):
    took = generate(tmp_path / "full.db", 100000)
    assert rows_of(tmp_path / "full.db",
                   "SELECT COUNT(*) FROM INV1") == [(100000,)]
    assert took < 60, "generation took %.1f s" % took


def test_generator_refuses_bad_arguments(tmp_path):
    r = subprocess.run([sys.executable, str(GENERATOR),
                        str(tmp_path / "x.db"), "--lines", "0"],
                       capture_output=True)
    assert r.returncode != 0 and not (tmp_path / "x.db").exists()


# --- through the mount, once the daemon is built ---------------------------

def sapb1fs_binary():
    build = os.environ.get("SAPB1FS_BUILD") or str(ROOT / "build")
    path = os.environ.get("SAPB1FS_BIN") or os.path.join(build, "fs",
                                                         "sapb1fs")
    return path if os.access(path, os.X_OK) else None


def mount_skip_reason():
    if not sapb1fs_binary():
        return "no built sapb1fs (set SAPB1FS_BIN or build into build/)"
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        return "FUSE is not available here"
    if not shutil.which("isql") or not odbcinst_has_sqlite3():
        return "isql or the SQLite3 ODBC driver is missing"
    return None


def write_config(tmp, db):
    text = (DEMO / "sapb1fs.conf.in").read_text(encoding="utf-8")
    subst = {"@REPORTS@": str(DEMO / "reports"),
             "@STATE@": str(tmp / "state"), "@MOUNT@": str(tmp / "mnt"),
             "@CACHE@": str(tmp / "cache"), "@DB@": str(db),
             "@GROUP@": grp.getgrgid(os.getgid()).gr_name}
    for k, v in subst.items():
        text = text.replace(k, v)
    left = [ln for ln in text.splitlines()
            if not ln.startswith(";") and re.search(r"@[A-Z]+@", ln)]
    assert not left
    for d in ("state", "mnt", "cache"):
        (tmp / d).mkdir()
    conf = tmp / "sapb1fs.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


@pytest.fixture
def mounted(tmp_path, demo_db):
    reason = mount_skip_reason()
    if reason:
        pytest.skip(reason)
    conf = write_config(tmp_path, demo_db)
    mnt = tmp_path / "mnt"
    log = open(tmp_path / "sapb1fs.log", "wb")
    proc = subprocess.Popen([sapb1fs_binary(), str(mnt), "-f", "-o",
                             "config=%s" % conf], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while not (mnt / "README.txt").exists():
            assert proc.poll() is None, (tmp_path / "sapb1fs.log"
                                         ).read_text()
            assert time.monotonic() < deadline, "mount did not come up"
            time.sleep(0.1)
        yield mnt
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def read_csv(path, dialect):
    data = path.read_bytes()
    if dialect == "excel-tr":
        assert data.startswith(b"\xef\xbb\xbf")
        data = data[3:]
    text = data.decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""),
                           delimiter=";" if dialect == "excel-tr" else ","))


def same_cell(want, got, dialect):
    """isql's text against the file's.  Numbers compare by value: the
    SQLite driver calls the demo's amounts SQL_DOUBLE, so the daemon may
    print '1234.50' as 1234.5 (and excel-tr writes 1234,5)."""
    if want == got:
        return True
    if dialect == "excel-tr":
        got = got.replace(",", ".")
    try:
        return Decimal(want) == Decimal(got)
    except ArithmeticError:
        return False


def check_report_files(folder, d, demo_db, sql):
    """The CSV and JSON of @d in @folder hold what isql gets for @sql."""
    want = isql(demo_db, sql)
    dialect = d.header.get("csv", "rfc4180")
    got = read_csv(folder / ("%s.csv" % d.name), dialect)
    assert got[0] == want[0] and len(got) == len(want), d.name
    for w, g in zip(want[1:], got[1:]):
        assert len(w) == len(g) and all(
            same_cell(a, b, dialect) for a, b in zip(w, g)), (w, g)
    rows = json.loads((folder / ("%s.json" % d.name)).read_text())
    assert len(rows) == len(want) - 1
    if rows:
        assert list(rows[0]) == want[0]


def test_reports_through_the_mount(mounted, demo_db):
    assert sorted(os.listdir(mounted / "reports")) == sorted(IDS)
    for d in DEFINITIONS:
        if not d.params:
            check_report_files(mounted / "reports" / d.name, d, demo_db,
                               d.body)


def test_parameter_folders_through_the_mount(mounted, demo_db):
    for d in DEFINITIONS:
        if not d.params:
            continue
        pname = d.params[0][0]
        values = param_values(demo_db, d)[pname]
        folder = mounted / "reports" / d.name / pname
        assert sorted(os.listdir(folder)) == sorted(values)
        for one in (values[0], values[len(values) // 2]):
            check_report_files(folder / one, d, demo_db,
                               d.bound({pname: one}))
