"""The trap table and how to hand a table to render_tool.

A table is a list of (name, type) columns and a list of rows.  A cell is
None for NULL, bytes for a binary column, else the canonical text of
lib/value.h (what a driver would produce).  encode() writes the
render_tool input format described at the top of render_tool.c.
"""
import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

TRAP_COLUMNS = [
    ("Metin", "text"),
    ("Tutar", "decimal(19,6)"),
    ("Adet", "int"),
    ("Oran", "float"),
    ("Tarih", "date"),
    ("Zaman", "timestamp"),
    ("Saat", "time"),
    ("Aktif", "bool"),
    ("Veri", "binary"),
    ('Not; "tırnak", =1', "text"),
]

TRAP_ROWS = [
    ["ŞĞİıçöü", "9999999999999.999999", "9223372036854775807", "1.5",
     "1899-12-31", "2040-01-01 00:00:00", "23:59:59", "true",
     b"\x00\xff", "Türkçe İı"],
    ["emoji 😀 ve \"tırnak\"", "-0.000001", "-1", "-0",
     "2040-01-01", "2024-02-29 12:34:56.123456", "00:00:00", "false",
     b"", "a;b,c"],
    ["satır1\nsatır2\r\nsatır3", "-9999999999999.999999", "0", "NaN",
     "1900-01-01", "1899-12-31 23:59:59", "12:00:00.5", None,
     b"\x01\x02\x03", "=HYPERLINK(\"http://example.com\",\"tık\")"],
    ["", "0.000000", "1234567", "Infinity",
     "1900-02-28", "2024-06-30 23:59:59+03", "07:08:09", "true",
     None, ""],
    [None, None, None, None, None, None, None, None, None, None],
    [" boşluk ", "1234567.890000", "-9223372036854775808", "-Infinity",
     "1900-03-01", "1999-12-31 23:59:59Z", "23:00:00", "false",
     b"AB", "\\N"],
    ["_x0041_ and \t tab", "-0.000000", "42", "1e-300",
     "2038-01-19", "2038-01-19 03:14:08", "01:02:03", "true",
     b"\xde\xad\xbe\xef", "+5"],
    ["=1+1", "123.450000", "-42", "6.02214076e+23",
     "9999-12-31", "2040-01-01 12:00:00.999", "13:14:15", "false",
     b"\x00", "-3"],
]


def _escape(data):
    out = bytearray()
    for b in data:
        if b == 0x5C:
            out += b"\\\\"
        elif b == 0x09:
            out += b"\\t"
        elif b == 0x0A:
            out += b"\\n"
        elif b == 0x0D:
            out += b"\\r"
        else:
            out.append(b)
    return bytes(out)


def encode_cell(value):
    if value is None:
        return b"\\N"
    if isinstance(value, bytes):
        return b"".join(b"\\x%02x" % b for b in value)
    return _escape(value.encode("utf-8"))


def encode_header(columns):
    names = b"\t".join(_escape(n.encode("utf-8")) for n, _ in columns)
    types = b"\t".join(t.encode() for _, t in columns)
    return names + b"\n" + types + b"\n"


def encode_row(row):
    return b"\t".join(encode_cell(v) for v in row) + b"\n"


def encode(columns, rows):
    return encode_header(columns) + b"".join(encode_row(r) for r in rows)


def find_tool():
    """render_tool from $RENDER_TOOL, else from the build folder
    ($SAPB1FS_BUILD, default build/), else None."""
    path = os.environ.get("RENDER_TOOL")
    if not path:
        build = os.environ.get("SAPB1FS_BUILD", os.path.join(ROOT, "build"))
        path = os.path.join(build, "tests", "render", "render_tool")
    return path if os.access(path, os.X_OK) else None


def run_tool(tool, outdir, stdin, *args, check=True):
    """Runs render_tool; stdin is bytes or an open file."""
    kw = {"input": stdin} if isinstance(stdin, bytes) else {"stdin": stdin}
    proc = subprocess.run([tool, *args, str(outdir)], capture_output=True,
                          **kw)
    if check and proc.returncode != 0:
        raise AssertionError("render_tool failed: %s" %
                             proc.stderr.decode(errors="replace"))
    return proc


def have(program):
    return shutil.which(program) is not None
