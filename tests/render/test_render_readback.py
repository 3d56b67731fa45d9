"""The trap table rendered in every format and read back by independent
readers: Python's csv and json, openpyxl for XLSX, html.parser for HTML.
Every cell must equal the source (XLSX numbers to the 15 significant
digits Excel keeps; dates and times as datetime)."""
import base64
import csv
import datetime as dt
import html.parser
import json
import re
import sys
import zipfile

import pytest

from render_table import TRAP_COLUMNS, TRAP_ROWS, encode, encode_header, \
    run_tool

openpyxl = pytest.importorskip("openpyxl")

TITLE = "Tedarikçi: bakiye [2024/01] * ? Özet raporu uzun başlık"
NUMERIC = ("int", "decimal", "float")
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")


def kind(coltype):
    return coltype.split("(")[0]


@pytest.fixture(scope="module")
def rendered(tool, tmp_path_factory):
    out = tmp_path_factory.mktemp("trap")
    args = ["--title", TITLE, "--source", "hana", "--name", "trap",
            "--timezone", "Europe/Istanbul", "--generated", "2208988800"]
    run_tool(tool, out, encode(TRAP_COLUMNS, TRAP_ROWS), *args)
    tr = tmp_path_factory.mktemp("trap-tr")
    run_tool(tool, tr, encode(TRAP_COLUMNS, TRAP_ROWS), *args,
             "--csv", "excel-tr", "--formats", "csv")
    return out, tr


def text_of(value, coltype):
    """What a text format shows for a cell: hex for binary, else as is."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    return value


# --- CSV ------------------------------------------------------------------

def read_csv(path, **fmt):
    with open(path, newline="", encoding=fmt.pop("encoding", "utf-8")) as f:
        return list(csv.reader(f, strict=True, **fmt))


def test_csv_rfc4180(rendered):
    path = rendered[0] / "trap.csv"
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") >= len(TRAP_ROWS) + 1
    rows = read_csv(path)
    assert rows[0] == [n for n, _ in TRAP_COLUMNS]
    assert len(rows) == len(TRAP_ROWS) + 1
    for got, want in zip(rows[1:], TRAP_ROWS):
        assert got == [text_of(v, t) for v, (_, t) in zip(want, TRAP_COLUMNS)]


@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason="csv.QUOTE_NOTNULL reading needs Python 3.12")
def test_csv_null_vs_empty(rendered):
    rows = read_csv(rendered[0] / "trap.csv", quoting=csv.QUOTE_NOTNULL)
    for got, want in zip(rows[1:], TRAP_ROWS):
        assert [g is None for g in got] == [v is None for v in want]


def test_csv_null_vs_empty_bytes(rendered):
    """NULL is an empty unquoted field, an empty string is \"\"."""
    raw = (rendered[0] / "trap.csv").read_bytes()
    assert b"\r\n" + b"," * (len(TRAP_COLUMNS) - 1) + b"\r\n" in raw
    assert b'\r\n"",0.000000,' in raw and b'true,,""\r\n' in raw


def test_csv_excel_tr(rendered):
    path = rendered[1] / "trap.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbfMetin;Tutar;")
    rows = read_csv(path, delimiter=";", encoding="utf-8-sig")
    assert rows[0] == [n for n, _ in TRAP_COLUMNS]
    for got, want in zip(rows[1:], TRAP_ROWS):
        exp = []
        for v, (_, t) in zip(want, TRAP_COLUMNS):
            s = text_of(v, t)
            exp.append(s.replace(".", ",") if kind(t) in ("decimal", "float")
                       else s)
        assert got == exp


# --- JSON -----------------------------------------------------------------

def json_expect(value, coltype):
    t = kind(coltype)
    if value is None:
        return None
    if t in NUMERIC:
        return ("num", value) if JSON_NUMBER.match(value) else value
    if t == "bool":
        return value == "true"
    if t == "binary":
        return base64.b64encode(value).decode()
    return value


def test_json(rendered):
    tag = lambda s: ("num", s)  # noqa: E731 (keeps the source's digits)
    with open(rendered[0] / "trap.json", encoding="utf-8") as f:
        data = json.load(f, parse_float=tag, parse_int=tag)
    assert isinstance(data, list) and len(data) == len(TRAP_ROWS)
    names = [n for n, _ in TRAP_COLUMNS]
    for got, want in zip(data, TRAP_ROWS):
        assert list(got) == names
        for (name, t), v in zip(TRAP_COLUMNS, want):
            g = got[name]
            if kind(t) == "timestamp" and v is not None:
                assert "T" in g and " " not in g
                assert dt.datetime.fromisoformat(g) == \
                    dt.datetime.fromisoformat(v)
            else:
                assert g == json_expect(v, t), name


def test_json_shape(rendered):
    raw = (rendered[0] / "trap.json").read_bytes()
    assert raw.startswith(b"[\n{") and raw.endswith(b"}\n]\n")
    assert raw.count(b"},\n{") == len(TRAP_ROWS) - 1


# --- XLSX -----------------------------------------------------------------

# Excel and LibreOffice agree on date serials from 1900-03-01 on.
EXCEL_EPOCH = dt.date(1900, 3, 1)


def excel_date(text):
    d = dt.date.fromisoformat(text[:10])
    return None if d < EXCEL_EPOCH else d


def excel_stamp(text):
    d = dt.datetime.fromisoformat(text)
    return None if d.date() < EXCEL_EPOCH else d.replace(tzinfo=None)


def sig15(x):
    return "%.15g" % float(x)


def check_xlsx_cell(cell, value, coltype):
    t = kind(coltype)
    got = cell.value
    if value is None or value == "":
        assert got is None
    elif t in NUMERIC:
        if value in ("NaN", "Infinity", "-Infinity"):
            assert got == value
        else:
            assert cell.data_type == "n" and not isinstance(got, str)
            # Excel has no negative zero: -0 reads back as 0.
            assert sig15(got) == sig15(value) or float(value) == got == 0
    elif t == "bool":
        assert got is (value == "true")
    elif t == "binary":
        assert got == (value.hex() or None)
    elif t == "date":
        want = excel_date(value)
        assert got == (dt.datetime.combine(want, dt.time()) if want
                       else value)
    elif t == "timestamp":
        want = excel_stamp(value)
        if want is None:
            assert got == value
        else:
            assert abs(got - want) < dt.timedelta(milliseconds=1)
    elif t == "time":
        want = dt.time.fromisoformat(value)
        day = dt.date(2000, 1, 1)
        assert abs(dt.datetime.combine(day, got) -
                   dt.datetime.combine(day, want)) < \
            dt.timedelta(milliseconds=1)
    else:
        assert cell.data_type == "s" and ooxml_text(got) == value


def ooxml_text(s):
    """Decodes the _xHHHH_ escapes of OOXML strings (ECMA-376 ST_Xstring),
    as Excel does; openpyxl 3.0 hands them over as they are."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m[1], 16)), s)


def test_xlsx_values(rendered):
    wb = openpyxl.load_workbook(rendered[0] / "trap.xlsx")
    assert len(wb.worksheets) == 1
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(min_row=1, max_col=len(TRAP_COLUMNS)))
    assert [c.value for c in rows[0]] == [n for n, _ in TRAP_COLUMNS]
    assert len(rows) - 1 == len(TRAP_ROWS)
    for cells, want in zip(rows[1:], TRAP_ROWS):
        for cell, v, (name, t) in zip(cells, want, TRAP_COLUMNS):
            check_xlsx_cell(cell, v, t)


def test_xlsx_layout(rendered):
    wb = openpyxl.load_workbook(rendered[0] / "trap.xlsx")
    ws = wb.worksheets[0]
    # []:*?/\ are not allowed; 31 characters at most.
    assert ws.title == "Tedarikçi- bakiye (2024-01) - -"
    assert len(ws.title) <= 31
    assert wb.properties.title == TITLE
    assert ws.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(len(TRAP_COLUMNS))
    assert ws.auto_filter.ref == "A1:%s%d" % (last, len(TRAP_ROWS) + 1)
    assert all(c.font.b for c in ws[1])
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    assert len(widths) == len(TRAP_COLUMNS)
    assert all(6 <= w <= 61 for w in widths.values())
    # "-9,999,999,999,999.999999" fits; short columns stay narrow.
    assert widths["B"] >= 25 and widths["G"] < 12
    assert ws["B2"].number_format == "#,##0.000000"
    assert ws["E3"].number_format == "yyyy-mm-dd"
    assert ws["F3"].number_format == "yyyy-mm-dd hh:mm:ss"


def test_xlsx_text_is_never_a_formula(rendered):
    with zipfile.ZipFile(rendered[0] / "trap.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    assert "HYPERLINK" in sheet and "=1+1" in sheet


# --- HTML -----------------------------------------------------------------

class Table(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.head, self.rows = [], []
        self.classes = []
        self.cell = None
        self.where = None
        self.text = {}

    def handle_starttag(self, tag, attrs):
        if tag in ("title", "thead", "tbody", "p", "h1"):
            self.where = tag if tag != "p" else dict(attrs).get("class")
        elif tag == "tr" and self.where == "tbody":
            self.rows.append([])
            self.classes.append([])
        elif tag in ("td", "th"):
            self.cell = ""
            if tag == "td":
                self.classes[-1].append(dict(attrs).get("class"))

    def handle_endtag(self, tag):
        if tag in ("title", "thead", "tbody", "p", "h1"):
            self.where = None
        if tag == "th":
            self.head.append(self.cell)
        elif tag == "td":
            self.rows[-1].append(self.cell)
        if tag in ("td", "th"):
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        elif self.where:
            self.text[self.where] = self.text.get(self.where, "") + data


def parse_html(path):
    p = Table()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def ungroup_tr(s):
    return s.replace(".", "").replace(",", ".")


def test_html(rendered):
    raw = (rendered[0] / "trap.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in raw
    assert not re.search(r"(src|href)=|@import|url\(", raw)
    p = parse_html(rendered[0] / "trap.html")
    assert p.text["title"] == TITLE and p.text["h1"] == TITLE
    assert p.head == [n for n, _ in TRAP_COLUMNS]
    assert len(p.rows) == len(TRAP_ROWS)
    for got, cls, want in zip(p.rows, p.classes, TRAP_ROWS):
        for g, c, v, (_, t) in zip(got, cls, want, TRAP_COLUMNS):
            if kind(t) in NUMERIC:
                assert c == "n"
                assert ungroup_tr(g) == ("" if v is None else v)
            else:
                assert g == text_of(v, t)
    summary = p.text["summary"]
    assert "Satır: %d" % len(TRAP_ROWS) in summary
    assert "Kaynak: hana" in summary
    assert "01.01.2040 03:00 (UTC+03:00)" in summary


def test_html_grouping(rendered):
    p = parse_html(rendered[0] / "trap.html")
    assert p.rows[0][1] == "9.999.999.999.999,999999"
    assert p.rows[5][2] == "-9.223.372.036.854.775.808"


def test_html_row_cap(tool, tmp_path):
    cols = [("n", "int"), ("t", "text")]
    rows = [[str(i), "satır %d" % i] for i in range(1234 + 10)]
    run_tool(tool, tmp_path, encode(cols, rows), "--formats", "html",
             "--html-cap", "10", "--tr-numbers", "0")
    p = parse_html(tmp_path / "report.html")
    assert [r[0] for r in p.rows] == [str(i) for i in range(10)]
    assert "1,234 more rows" in p.text["more"]
    assert "attachment" in p.text["more"]
    assert "Rows: 1,244 (first 10 shown)" in p.text["summary"]


# --- More than one sheet ----------------------------------------------------

EXCEL_ROWS = 1048576


def count_rows(z, name):
    """Counts <row> elements of one sheet as it streams out of the zip."""
    n, tail = 0, b""
    with z.open(name) as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return n
            buf = tail + chunk
            n += buf.count(b"<row ")
            tail = buf[-4:]


@pytest.mark.slow
def test_xlsx_second_sheet(tool, tmp_path):
    """1,048,577 rows + header: a full first sheet and two rows after."""
    total = EXCEL_ROWS + 1
    src = tmp_path / "big.txt"
    with open(src, "wb") as f:
        f.write(encode_header([("i", "int"), ("t", "text")]))
        for start in range(0, total, 100000):
            f.write(b"".join(b"%d\tr\n" % i for i in
                             range(start, min(total, start + 100000))))
    with open(src, "rb") as f:
        run_tool(tool, tmp_path, f, "--formats", "xlsx", "--title", "Büyük")
    path = tmp_path / "report.xlsx"
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == ["Büyük", "Büyük (2)"]
    second = list(wb["Büyük (2)"].iter_rows(values_only=True))
    assert second == [("i", "t"), (total - 2, "r"), (total - 1, "r")]
    wb.close()
    with zipfile.ZipFile(path) as z:
        assert count_rows(z, "xl/worksheets/sheet1.xml") == EXCEL_ROWS
        sheet1 = z.read("xl/worksheets/sheet1.xml")[-2000:]
        assert b'<c r="A1048576"' in sheet1
        assert b"%d" % (EXCEL_ROWS - 2) in sheet1


@pytest.mark.parametrize("title,sheet", [
    ("A" * 30 + "😀B", "A" * 30),  # an emoji takes two of the 31
    ("Ş" * 40, "Ş" * 31),
    ("'Rapor'", "Rapor"),
    ("history", "history_"),
    ("a/b\\c:d", "a-b-c-d"),
    ("", "report"),
])
def test_xlsx_sheet_name(tool, tmp_path, title, sheet):
    run_tool(tool, tmp_path, encode([("x", "int")], [["1"]]), "--formats",
             "xlsx", "--title", title)
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
    assert wb.sheetnames == [sheet]
    wb.close()
