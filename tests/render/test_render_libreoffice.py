"""A real spreadsheet reads our files: LibreOffice (headless) converts the
trap table's XLSX and its excel-tr CSV to plain CSV, and every value
comes out as the source had it.

The XLSX is converted as it is.  The excel-tr CSV is opened as a careful
user opens one in the import dialog: ';', UTF-8, Turkish locale (so the
decimal comma is a decimal point), text and binary columns set to Text
(or "=1+1" would become a formula and "00" a number; see formats.md)."""
import csv
import datetime as dt
import os
import shutil
import subprocess

import pytest

from render_table import TRAP_COLUMNS, TRAP_ROWS, encode, run_tool

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    not SOFFICE, reason="LibreOffice (libreoffice-calc-nogui) not installed")

# Export: ',', '"', UTF-8, from line 1, raw values (not as shown).
EXPORT = "csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,false,true," \
         "false,false,false"
TEXT_COLUMNS = "/".join("%d/2" % (i + 1) for i, (_, t) in
                        enumerate(TRAP_COLUMNS) if t in ("text", "binary"))
# Import: ';', '"', UTF-8, from line 1, those columns as Text, tr-TR,
# quoted fields not forced to text, special numbers detected, formulas
# not evaluated.
IMPORT_TR = "Text - txt - csv (StarCalc):59,34,76,1,%s,1055,false,true," \
            "false,false,false,false,false" % TEXT_COLUMNS


def convert(src, outdir, tmp_path, infilter=None):
    argv = [SOFFICE, "-env:UserInstallation=file://%s/lo-profile" % tmp_path,
            "--headless", "--norestore"]
    if infilter:
        argv.append("--infilter=" + infilter)
    argv += ["--convert-to", EXPORT, "--outdir", str(outdir), str(src)]
    proc = subprocess.run(argv, capture_output=True, timeout=300,
                          env=dict(os.environ, HOME=str(tmp_path)))
    out = outdir / (src.stem + ".csv")
    assert out.exists(), proc.stdout.decode() + proc.stderr.decode()
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def sig15(x):
    return "%.15g" % float(x)


def parse_time(s):
    for fmt in ("%I:%M:%S %p", "%I:%M:%S.%f %p"):
        try:
            return dt.datetime.strptime(s, fmt).time()
        except ValueError:
            pass
    return dt.time.fromisoformat(s)


def seconds(t):
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def same_value(got, value, coltype):
    """Whether LibreOffice's text for a cell means the source value."""
    t = coltype.split("(")[0]
    if value is None or value == "" or value == b"":
        return got == ""
    if isinstance(value, bytes):
        return got == value.hex()
    if t in ("int", "decimal", "float"):
        if value in ("NaN", "Infinity", "-Infinity"):
            return got == value
        return sig15(got.replace(",", "")) == sig15(value) or \
            float(value) == float(got) == 0
    if t == "bool":
        return got.lower() == value
    if t == "time":
        return abs(seconds(parse_time(got)) -
                   seconds(dt.time.fromisoformat(value))) < 0.001
    if t == "timestamp" and got != value:
        # LibreOffice shows whole seconds; the zone stays out of a cell.
        want = dt.datetime.fromisoformat(value).replace(tzinfo=None)
        return abs(dt.datetime.fromisoformat(got) - want) <= \
            dt.timedelta(seconds=1)
    # LibreOffice keeps a line break in a cell as LF alone.
    return got == value.replace("\r\n", "\n")


def check_table(rows):
    assert rows[0] == [n for n, _ in TRAP_COLUMNS]
    assert len(rows) == len(TRAP_ROWS) + 1
    bad = []
    for r, (got, want) in enumerate(zip(rows[1:], TRAP_ROWS), 1):
        for g, v, (name, t) in zip(got, want, TRAP_COLUMNS):
            if not same_value(g, v, t):
                bad.append("row %d %s: got %r, source %r" % (r, name, g, v))
    assert not bad, "\n".join(bad)


def test_libreoffice_reads_xlsx(tool, tmp_path):
    run_tool(tool, tmp_path, encode(TRAP_COLUMNS, TRAP_ROWS), "--formats",
             "xlsx", "--name", "trap")
    check_table(convert(tmp_path / "trap.xlsx", tmp_path / "out", tmp_path))


def test_libreoffice_reads_excel_tr_csv(tool, tmp_path):
    run_tool(tool, tmp_path, encode(TRAP_COLUMNS, TRAP_ROWS), "--formats",
             "csv", "--csv", "excel-tr", "--name", "trap")
    check_table(convert(tmp_path / "trap.csv", tmp_path / "out", tmp_path,
                        IMPORT_TR))
