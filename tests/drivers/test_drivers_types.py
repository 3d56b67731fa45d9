"""Every cell in value.h's canonical text for its column type, exact:
numeric(19,6) extremes, shortest floats, dates before 1900 and after
2038, fractions, bytea, Turkish text and emoji, NULL next to empty."""
import pytest

from drvlib import psqlodbc_conn, Source

LONG = "ğ" * 100000
TEXT4 = 'a,b;"c"\nd\te\\ \'q\''

PG_TYPES = ["integer", "integer", "integer", "integer", "decimal",
            "decimal", "float", "float", "boolean", "date", "time",
            "timestamp", "timestamp", "binary", "text", "text", "text"]

PG_ROWS = [
    ["1", "-32768", "2147483647", "-9223372036854775808",
     "9999999999999.999999", "12345678901234567890.123456789", "0.1",
     "1.1", "true", "1899-12-31", "23:59:59.999999", "1850-06-15 12:00:00",
     "2024-05-06 04:08:09.25+00", b"\x00\xff\x10", "ŞĞİıçöü 😀👍🏽",
     "ĞÜŞİÖÇğüşı", "ab   "],
    ["2", "32767", "-2147483648", "9223372036854775807",
     "-9999999999999.999999", "NaN", "1e+100", "-3.4028235e+38", "false",
     "2100-02-28", "00:00:00", "2040-01-02 03:04:05.5",
     "2040-01-02 03:04:05.123456+00", b"", "", "", "     "],
    ["3"] + [None] * 16,
    ["4", "0", "0", "0", "0.000001", "-0.5", "NaN", "Infinity", "true",
     "0099-01-01", "12:00:00.5", "2262-04-11 23:47:16.854775",
     "1900-01-01 00:00:00+00", b"\\\n", TEXT4, "x", "abcde"],
    ["5", "-1", "-1", "-1", "-0.000001", "0", "-Infinity", "NaN", "false",
     "2038-01-19", "03:14:07", "2038-01-19 03:14:08",
     "2038-01-19 03:14:08+00", b"\xff", LONG, "İ", "ş    "],
]

SELECT_ALL = "select * from typed order by id"


def check_rows(run, expected):
    got = run.values()
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g == e


def test_libpq_types(libpq, query):
    r = query(libpq, SELECT_ALL)
    assert r.exit == 0, r.stderr
    assert r.run.types() == PG_TYPES
    assert r.run.cols[4][2:] == (19, 6)
    assert r.run.cols[5][2:] == (0, -1)  # numeric without a typmod
    check_rows(r.run, PG_ROWS)


def odbc_expected(bools_as_char):
    """psqlODBC drops a timestamptz's offset (it gives the session's
    local time, UTC here) and by default shows bool as "1"/"0" text."""
    rows = []
    for row in PG_ROWS:
        row = list(row)
        if row[12] is not None:
            row[12] = row[12][:-3]
        if bools_as_char and row[8] is not None:
            row[8] = "1" if row[8] == "true" else "0"
        rows.append(row)
    return rows


@pytest.mark.parametrize("bools_as_char", [True, False])
def test_psqlodbc_types(pg, psqlodbc, query, bools_as_char):
    extra = ";UseDeclareFetch=1" + ("" if bools_as_char else
                                    ";BoolsAsChar=0")
    src = Source("psqlodbc", "odbc", psqlodbc_conn(pg.port, extra),
                 "postgres")
    r = query(src, SELECT_ALL)
    assert r.exit == 0, r.stderr
    types = list(PG_TYPES)
    if bools_as_char:
        types[8] = "text"
    assert r.run.types() == types
    assert r.run.cols[4][2:] == (19, 6)
    check_rows(r.run, odbc_expected(bools_as_char))


def test_psqlodbc_block_fetch_matches_libpq(libpq, psqlodbc, query):
    """Only bounded columns: the ODBC driver reads them in blocks."""
    sql = ("select id, i2, i4, i8, amt, f8, f4, d, t, ts, vc, ch "
           "from typed order by id")
    a = query(libpq, sql)
    b = query(psqlodbc, sql)
    assert a.exit == 0 and b.exit == 0, (a.stderr, b.stderr)
    assert a.run.types() == b.run.types()
    assert a.run.values() == b.run.values()
    assert len(b.run.rows) == 5


def test_psqlodbc_value_longer_than_declared(psqlodbc, query):
    """An unconstrained varchar is declared 255 wide by psqlODBC; longer
    values in a block are read again, never cut."""
    r = query(psqlodbc, "select g, repeat('ğa', g * 40)::varchar as v "
              "from generate_series(1, 300) g")
    assert r.exit == 0, r.stderr
    vals = r.run.values()
    assert len(vals) == 300
    for g, v in vals:
        assert v == "ğa" * (int(g) * 40)


SQLITE_TYPES = ["integer", "integer", "float", "text", "float", "float",
                "boolean", "date", "time", "timestamp", "binary", "text",
                "text"]

SQLITE_EXPECTED = [
    ["1", "9223372036854775807", "1234.5", "9999999999999.999999", "0.1",
     "1e+100", "true", "1899-12-31", "23:59:59.999", "2040-01-02 03:04:05.5",
     b"\x00\xff\x10", "ŞĞİıçöü 😀", "longer than five ğ"],
    ["2", "-9223372036854775808", "-0.5", "-9999999999999.999999", None,
     "-2.5", "false", "2100-02-28", "00:00:00", "1850-06-15 12:00:00", b"",
     "", ""],
    ["3"] + [None] * 12,
]


def test_sqlite_types(sqlite, query):
    """SQLite's driver maps declared types: numeric(19,6) is a double
    there (SQLite stores it as REAL), an exact amount needs TEXT."""
    r = query(sqlite, "select * from typed order by id")
    assert r.exit == 0, r.stderr
    assert r.run.types() == SQLITE_TYPES
    check_rows(r.run, SQLITE_EXPECTED)


TEXTS = ["ŞĞİıçöü", "😀👍🏽", "", 'x,y;"z"', "a\nb\r\nc\td", "\\N",
         "ğ" * 30000]


def test_text_round_trip(any_source, query):
    """Literals typed in the SQL come back byte for byte; NULL stays NULL
    and the empty string stays empty."""
    cols = ", ".join(f"'{t}' as c{i}" for i, t in enumerate(TEXTS))
    r = query(any_source, f"select {cols}, null as n")
    assert r.exit == 0, r.stderr
    assert r.run.values() == [TEXTS + [None]]


def test_column_names_in_utf8(any_source, query):
    r = query(any_source, 'select 1 as "Müşteri Adı", 2 as "tutar_₺"')
    assert r.exit == 0, r.stderr
    assert [c[0] for c in r.run.cols] == ["Müşteri Adı", "tutar_₺"]


def test_empty_result_keeps_columns(any_source, query):
    r = query(any_source, "select 1 as a, 'x' as b where 1 = 0")
    assert r.exit == 0, r.stderr
    assert [c[0] for c in r.run.cols] == ["a", "b"]
    assert r.run.rows == [] and r.run.count == 0


def test_long_text(any_source, query):
    """A value far past every buffer and SQLGetData piece size."""
    if any_source.name == "sqlite":
        expr = "replace(hex(zeroblob(300000)), '00', 'ğü')"
    else:
        expr = "repeat('ğü', 300000)"
    r = query(any_source, f"select {expr} as v, 1 as n")
    assert r.exit == 0, r.stderr
    assert r.run.values() == [["ğü" * 300000, "1"]]
