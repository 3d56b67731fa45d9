#!/usr/bin/python3
"""Writes the hand-made seed inputs of tests/fuzz/corpus/<target>/seed-*.

Seeds are small, meaningful inputs: the DESIGN.md config and report
examples, cron expressions, Turkish subjects and file names, Service
Layer pages as the emulator (tests/servicelayer) writes them, awkward
parameter values and mount paths.  libFuzzer grows the corpus from them;
the kept corpus is the merged, minimized result (see docs/hardening.md).
Run from anywhere; it rewrites the seed files only.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


DESIGN_CONF = """[global]
env_file = fuzz.env ; secrets, as NAME=value lines
reports_dir = /etc/sapb1fs/reports.d
state_dir = /var/lib/sapb1fs        ; history, saved queries
timezone = Europe/Istanbul
csv_dialect = rfc4180               ; or excel-tr: ';', decimal comma, BOM

[mount]
path = /mnt/sapb1
cache_dir = /var/cache/sapb1fs      ; snapshots of rendered files
cache_size = 2G
default_ttl = 300                   ; seconds a snapshot stays fresh

[source hana]
driver = odbc
connection = DRIVER=HDBODBC;SERVERNODE=hana:30015;CURRENTSCHEMA=SBODEMOTR
user = ${HANADB_USER}
password = ${FUZZ_FILE_PW}
timeout = 60
queries = yes                       ; allow query folders for this source
queries_group = analysts

[source logo]
driver = odbc
connection = DRIVER={ODBC Driver 17 for SQL Server};SERVER=logo;DATABASE=LOGODB

[source dwh]
driver = postgres
conninfo = host=db dbname=reports user=reader
password = ${FUZZ_SECRET}          ; user and password work for every driver

[source b1sl]
driver = servicelayer
url = https://b1:50000/b1s/v1
company = SBODEMOTR
user = manager
password = ${B1SL_PASSWORD}

[share gorseller]
url = smb://fileserver/gorseller
user = ${SMB_USER}
password = ${SMB_PASSWORD}

[redis]
url = redis://127.0.0.1:6379/0

[smtp]
url = smtps://smtp.example.com:465
user = ${SMTP_USER}
password = ${SMTP_PASSWORD}
from = Raporlar <raporlar@example.com>
admin = it@example.com              ; gets failure notices

[spool]
dir = /var/spool/sapb1fs

[mailer]
retry_first = 60                    ; seconds before the first retry
retry_max = 3600                    ; longest wait between retries
max_age = 432000                    ; give up after five days

[scheduler]
history_keep = 30
catch_up = 86400
"""

DESIGN_ENV = """HANADB_USER=SYSTEM
B1SL_PASSWORD='b1 pass'
export SMB_USER=resim
SMB_PASSWORD="smb;pw"
SMTP_USER=raporlar
SMTP_PASSWORD=x=y
# a comment
"""


def conf_seeds():
    put("conf", "design", DESIGN_CONF + "\0" + DESIGN_ENV)
    put("conf", "design-noenv", DESIGN_CONF.replace(
        "env_file = fuzz.env", "; no env_file"))
    put("conf", "minimal", "[global]\n")
    put("conf", "empty", "")
    put("conf", "bom-crlf", "\ufeff[mount]\r\npath = mnt\r\n"
        "cache_size = 512M\r\n")
    put("conf", "relative", "[global]\nstate_dir = state\n"
        "reports_dir = ./r.d\n[mount]\ncache_dir = ../c\n")
    put("conf", "errors", "key = before\n[global\n[nosuch]\n"
        "[source]\n[source bad/name]\n[source a]\n[source a]\n"
        "[mount]\nnope = 1\ndefault_ttl = -5\ncache_size = 2X\n"
        "default_ttl = 10m\n")
    put("conf", "expand", "[source s]\ndriver = postgres\n"
        "conninfo = host=${FUZZ_SECRET} ${UNSET_X} ${bad-name} ${\n"
        "password = literal\n")
    put("conf", "env-bad", "[global]\nenv_file = fuzz.env\n[smtp]\n"
        "url = smtp://x\nfrom = a@b.c\npassword = ${FUZZ_FILE_PW}${NOPE}\n"
        "\0not a line\n=x\n1A=b\nexport\n")
    put("conf", "long-line", "[source o]\ndriver = odbc\nconnection = " +
        "DRIVER=x;" * 40 + " ; comment\n")
    put("conf", "durations", "[mailer]\nretry_first = 1d\nretry_max = 2h\n"
        "max_age = 99999999999999999999\nmax_size = 1t\n"
        "[scheduler]\nretry = 0\ncatch_up = 0\nhistory_keep = 0\n")
    put("conf", "secret-in-checked-values", "[global]\n"
        "env_file = ${FUZZ_SECRET}/x.env\ntimezone = x${FUZZ_SECRET}\n"
        "[source s]\ndriver = ${FUZZ_SECRET}\n")
    put("conf", "share-redis", "[share p]\nurl = http://x\n[redis]\n"
        "[smtp]\nurl = ftp://x\ntls = maybe\n[global]\n"
        "timezone = ../../etc/passwd\nlog_level = loud\n")


DESIGN_REPORT = """-- title: Tedarikçi bakiyeleri
-- source: hana
-- formats: xlsx csv html json
-- ttl: 600
-- schedule: 0 7 * * 1-5
-- mail: finans@example.com, muhasebe@example.com
-- attach: xlsx
-- csv: excel-tr
-- group: finance
-- mode: 0440
-- param: supplier = SELECT "CardCode" FROM OCRD WHERE "CardType" = 'S'
SELECT "CardCode", "CardName", "Balance"
FROM OCRD
WHERE "CardType" = 'S' AND "CardCode" = :supplier
"""


def report_seeds():
    put("report", "design", DESIGN_REPORT)
    put("report", "odata", "-- source: b1sl\n-- odata: BusinessPartners?"
        "$select=CardCode,CardName&$filter=CardType eq 'cSupplier'\n")
    put("report", "two-params", "\ufeff-- source: dwh\n-- formats: csv, json\n"
        "-- param: year = SELECT DISTINCT y FROM t\n"
        "-- param: month = SELECT m FROM t WHERE y = :year\n"
        "--- a plain comment\n-- Note: not a key\n\n"
        "SELECT * FROM t WHERE y = :year AND m = :month -- :not\n"
        "  AND s = ':lit' AND x::numeric > 0 /* :c /* nested */ */\n")
    put("report", "errors", "-- source: bad name\n-- formats: pdf\n"
        "-- ttl: forever\n-- mail: nobody, a@b\n-- mode: 0644\n"
        "-- param: 1x = SELECT 1\n-- param: p =\n-- retry: -1\n"
        "-- frobnicate: yes\n-- title:\n-- attach: html\n"
        "-- formats: csv\nSELECT :q, ? FROM t WHERE s = 'open\n")
    put("report", "crlf", "-- source: hana\r\n-- csv: rfc4180\r\n"
        "-- retry: 3\r\n-- group: DOMAIN\\finance team\r\n"
        "SELECT 1\r\n\r\n")
    put("report", "header-only", "-- source: hana\n-- title: Boş\n")
    put("report", "dollar", "-- source: dwh\n-- param: a = SELECT 1\n"
        "SELECT $$:a$$, $t$ :a $t$, E'\\':a', \"col:a\", [x:a], :a\n")


SQL = [
    "SELECT * FROM t WHERE a = :a AND b = :b AND c = :a",
    "SELECT ':a', \":b\", [:c], :d -- :e\n/* :f */ FROM x",
    "SELECT x::int, y:: text, :z::numeric FROM t",
    "SELECT $$ :a $$, $tag$ :b $tag$ , :c",
    "SELECT E'it\\'s :a', 'it''s :b', :c",
    "SELECT ? FROM t WHERE a = :a",
    "SELECT $1, :a",
    "SELECT :ş FROM t",
    "SELECT a:b, :_x1, :1 FROM t",
    "SELECT 'unterminated :a",
    "SELECT /* unterminated :a",
    "INSERT INTO t VALUES (:a, :b, :a, :c, :b)",
    "SELECT $x$ unterminated",
    "SELECT \"CardCode\" FROM OCRD WHERE \"CardType\" = 'S' AND "
    "\"CardCode\" = :supplier",
]

CRON = [
    "0 7 * * 1-5", "*/15 * * * *", "0 0 1 jan,jul *", "5/20 * * * *",
    "1-10/2 * * * *", "0 0 29 2 *", "0 0 31 * *", "0 0 13 * fri",
    "0 9 * * MON-Fri", "30 2 * * *", "0 0 * * 7", "@hourly", "@daily",
    "@weekly", "@monthly", "@yearly", "@annually", "@midnight",
    "0 0 30 2 *", "* * * *", "60 * * * *", "0 24 * * *", "0 0 0 * *",
    "0 0 * 13 *", "0 0 * * 8", "5-1 * * * *", "*/0 * * * *",
    "1,,2 * * * *", "@reboot", "0 0 */31 2 mon", "0 0 29 2 */7",
    "\t0  7\t* * sun,sat ", "0 0 1-31/2 feb-dec sun-sat",
]


def cron_seeds():
    for i, e in enumerate(CRON):
        put("cron", "%02d" % i, e)
    # with zones and instants: zone byte, 4-byte big-endian time
    tail = b"".join(bytes([z]) + struct.pack(">I", t) for z, t in
                    [(1, 1459040400), (2, 1710054000), (3, 1712415600),
                     (4, 1325152800)])
    put("cron", "30-dst", b"30 2 * * *\n" + tail)
    put("cron", "15-dst", b"*/15 1-3 * * *\n" + tail)
    put("cron", "leap-dst", b"0 0 29 2 *\n" + tail)


SUBJECTS = [
    "Tedarikçi bakiyeleri — 03.12.2026",
    "Aylık satış raporu: İstanbul, İzmir, Şanlıurfa, Çanakkale, Muğla, "
    "Ağrı, Düzce, Kırıkkale ve Gümüşhane",
    "Plain ASCII subject that is long enough to be folded at a space "
    "somewhere after column seventy-eight",
    "=?UTF-8?B?looks-encoded?= text",
    "tab\tnew\nline\r\ninjection: Bcc: x@y",
    "ŞĞİıçöü" * 12,
    "x" * 90,
    "",
    "\"quoted\" \\ name (comment)",
    "Raporlar",
    "😀 emoji 𝄞",
]


def encode_seeds():
    for i, s in enumerate(SUBJECTS):
        put("encode", "%02d" % i, bytes([9]) + s.encode())
    put("encode", "col70", bytes([70]) + "Ödeme listesi".encode())
    put("encode", "bad-utf8", bytes([0]) + b"caf\xc3 \xed\xa0\x80 \xf8")
    put("encode", "filename", bytes([0]) +
        "Tedarikçi bakiyeleri 2026-12-03 (şube: İzmir).xlsx".encode())


def table(flags, cols, title, source, rows):
    """The fuzz_render input: see fuzz_render.c."""
    out = bytes([flags, len(cols)])
    for t, name in cols:
        n = name.encode()
        out += bytes([t, len(n)]) + n
    for s in (title, source):
        b = s.encode()
        out += bytes([len(b)]) + b
    for row in rows:
        for v in row:
            if v is None:
                out += b"\x80"
            else:
                b = v if isinstance(v, bytes) else v.encode()
                out += bytes([len(b)]) + b
    return out


TEXT, INT, DEC, FLOAT, BOOL, DATE, TIME, STAMP, BIN = range(9)


def render_seeds():
    cols = [(TEXT, "CardCode"), (TEXT, "CardName"), (DEC, "Balance"),
            (DATE, "CreateDate")]
    rows = [["C001", "Şirket İç Ticaret A.Ş.", "1234567.890000",
             "2026-12-03"],
            ["C002", "", "-0.100000", None],
            ["C003", "a,b;\"c\"\r\nd", "NaN", "0999-01-01"]]
    put("render", "suppliers", table(0, cols, "Tedarikçi bakiyeleri",
                                     "hana", rows))
    put("render", "suppliers-tr", table(3, cols, "Bakiyeler", "hana", rows))
    cols = [(INT, "n"), (FLOAT, "f"), (BOOL, "b"), (TIME, "t"),
            (STAMP, "ts"), (BIN, "bin")]
    rows = [["42", "1e-5", "true", "12:30:00.5",
             "2026-12-03 07:00:00+03", b"\x00\xff\x10"],
            ["007", "Infinity", "maybe", "24:00:00",
             "2026-12-03 07:00:00.123+0330", b""],
            [None] * 6]
    put("render", "types", table(4, cols, "", "dwh", rows))
    cols = [(TEXT, "a"), (TEXT, "a"), (TEXT, "a_2"), (TEXT, "<b>&\"x\"")]
    rows = [["<script>alert(1)</script>", "&amp;", " lead", "trail\t"],
            ["\x01\x7f", b"\xc3\x28\xed\xa0\x80", "\u2028", "é"]]
    put("render", "traps", table(8, cols, "<title>&", "s\"rc", rows))
    put("render", "no-cols", table(0, [], "t", "s", [[], []]))
    put("render", "numbers-html", table(2, [(DEC, "d"), (INT, "i")], "x",
                                        "y", [["-1234567.5", "1000"],
                                              ["1e<b>", "12x"],
                                              ["-", ".5"]]))


def sljson_seeds():
    v1 = ('{"odata.metadata":"https://b1:50000/b1s/v1/$metadata#'
          'BusinessPartners","value":[{"CardCode":"C001","CardName":'
          '"\\u015eirket \\"A\\"","Balance":1234.500000,"CreateDate":'
          '"2026-12-03","Frozen":false,"Notes":null},{"CardCode":"C002",'
          '"CardName":"Tab\\tSlash\\/","Balance":-0.1,"CreateDate":null,'
          '"Frozen":true,"Notes":"\\ud83d\\ude00"}],"odata.nextLink":'
          '"BusinessPartners?$skip=20"}')
    put("sljson", "page-v1", v1)
    v2 = ('{"@odata.context":"$metadata#SQLQueries","value":[{"SqlCode":'
          '"q1","SqlText":"SELECT 1","ParamList":"a=1"}],'
          '"@odata.nextLink":"SQLQueries?$skip=1"}')
    put("sljson", "page-v2", v2)
    put("sljson", "error-v1", '{"error":{"code":-304,"message":{"lang":'
        '"en-us","value":"Invalid value \'x\' for parameter"}}}')
    put("sljson", "error-v2", '{"error":{"code":"301","message":"Invalid '
        'session or session already timeout."}}')
    put("sljson", "list", '{"SqlText":"x","value":[{"a":1e5,"b":2E-3,'
        '"c":0,"d":[1,[2,{}]],"e":{}}]}')
    put("sljson", "lone-surrogate", '["\\ud800","\\udc00x","\\ud800\\u0041"'
        ',"\\q","\\u12G4"]')
    put("sljson", "deep", "[" * 64 + "]" * 64)
    put("sljson", "too-deep", "[" * 65 + "]" * 65)
    put("sljson", "bad", '{"a":01,"b":-,"c":1.,"d":tru}')
    put("sljson", "trailing", '{"value":[]} x')


def params_seeds():
    put("params", "plain", b"C001\0C002\0\xc5\x9eirket\0")
    put("params", "dots", b".\0..\0.hidden\0a/b\0/\0%\0%2F\0\0")
    put("params", "controls", b"tab\there\0line\nbreak\0\x7f\0\x1b[0m\0")
    put("params", "long", b"x" * 250 + b"\0" + b"x" * 250 + b"y\0" +
        "ş".encode() * 150 + b"\0" + b"/" * 120 + b"\0")
    put("params", "cut-escape", b"a" * 179 + b"/" * 30 + b"\0" +
        b"a" * 178 + b"/" * 30 + b"\0")
    put("params", "bad-utf8", b"\xff\xfe\0" + b"\x80" * 300 + b"\0")


def tree_seeds():
    paths = [
        "/", "/README.txt", "/reports", "/reports/monthly",
        "/reports/monthly/monthly.csv", "/reports/monthly/monthly.xlsx",
        "/reports/monthly/query.sql", "/reports/monthly/last-error.txt",
        "/reports/monthly/history",
        "/reports/monthly/history/2024-01-01_0700.csv",
        "/reports/monthly/history/../../../etc/passwd",
        "/reports/bakiye/supplier", "/reports/bakiye/supplier/C001",
        "/reports/bakiye/supplier/C001/year/%2E./bakiye.json",
        "/reports/bakiye/supplier/%00/year/a%2Fb/bakiye.html",
        "/reports/bakiye/supplier/%2E/year/%25",
        "/reports/bakiye/year", "/reports/tek-format_2/tek-format_2.xlsx",
        "/queries", "/queries/hana", "/queries/hana/q1",
        "/queries/hana/q1/query.sql", "/queries/hana/q1/result.csv",
        "/queries/hana/q1/error.txt", "/queries/hana/q1/..",
        "/queries/hana/q1/../../pg/q1", "/queries/pg/q1",
        "/queries/hana/sorgu ç/result.json", "/queries/hana/.q",
        "/images", "/images/pics", "/images/pics/a/../../x",
        "/images/pics/a\\b", "/.status", "/.status/health.json",
        "/.status/metrics.prom", "//reports//monthly//", "/./reports",
        "/reports/..", "/nosuch",
    ]
    for i, p in enumerate(paths):
        put("tree", "%02d" % i, p)


def main():
    conf_seeds()
    report_seeds()
    for i, s in enumerate(SQL):
        put("sqlbind", "%02d" % i, s)
    cron_seeds()
    encode_seeds()
    render_seeds()
    sljson_seeds()
    params_seeds()
    tree_seeds()


if __name__ == "__main__":
    main()
