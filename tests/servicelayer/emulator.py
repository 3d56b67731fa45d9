"""A SAP Business One Service Layer emulator for tests.

It speaks the documented HTTPS/OData API over a SQLite database shaped like
the B1 demo company: Login and Logout with the B1SESSION and ROUTEID
cookies, an idle session timeout, entity sets (BusinessPartners, Items,
Invoices) with $select, $filter, $orderby, $top and $skip, server-side
paging (20 a page, or Prefer: odata.maxpagesize=N, echoed back in
Preference-Applied) with both nextLink forms, the SQLQueries entity
(create, read, patch, delete, list) and its bound List function with
ParamList, and the v1 (OData v3) and v2 (OData v4) error shapes.

Decimals are written with their exact digits: amounts live in NUMERIC
columns and go out with six decimals, as B1 stores them, never through
Python's float repr.

From pytest:
    emu = Emulator(db, certfile=..., keyfile=...).start()
    emu.url(1)            # https://127.0.0.1:PORT/b1s/v1
    emu.count("login")    # request counters
    emu.stop(); emu.start()   # same port, sessions lost
By hand:
    /usr/bin/python3 emulator.py --make-demo /tmp/demo.db --port 50000
"""
import argparse
import collections
import decimal
import json
import math
import os
import random
import re
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------
# The demo company

# Amounts are exact decimal TEXT, declared as contrib/demo/gen_demo.py
# does: "NUMERIC TEXT" has TEXT affinity, so the digits stay as written.
SCHEMA = """
CREATE TABLE OCRD (
    CardCode NVARCHAR(15) PRIMARY KEY, CardName NVARCHAR(100),
    CardType CHAR(1), GroupCode INTEGER, City NVARCHAR(100),
    Phone1 NVARCHAR(20), E_Mail NVARCHAR(100), Currency NVARCHAR(3),
    Balance NUMERIC TEXT(19,6), CreateDate DATE, validFor CHAR(1));
CREATE TABLE OITM (
    ItemCode NVARCHAR(50) PRIMARY KEY, ItemName NVARCHAR(200),
    ItmsGrpCod INTEGER, OnHand NUMERIC TEXT(19,6),
    AvgPrice NUMERIC TEXT(19,6), CodeBars NVARCHAR(254), validFor CHAR(1),
    CreateDate DATE);
CREATE TABLE OINV (
    DocEntry INTEGER PRIMARY KEY, DocNum INTEGER, CardCode NVARCHAR(15),
    CardName NVARCHAR(100), DocDate DATE, DocDueDate DATE,
    DocTotal NUMERIC TEXT(19,6), VatSum NUMERIC TEXT(19,6),
    DocCur NVARCHAR(3), Comments NVARCHAR(254));
"""

# Names that make exporters work: Turkish letters, quotes, separators,
# line breaks, an empty string next to a NULL.
SPECIAL_PARTNERS = [
    ("C00001", "Şişli Gıda Ticaret A.Ş.", "C", "12345.678900"),
    ("C00002", "Çağlayan \"Öz\" Yapı, Ltd.", "C", "0.10"),
    ("C00003", "İzmir Ünlü\nİkinci satır", "C", "-987654.321"),
    ("C00004", "Tab\there; semi", "C", "0"),
    ("C00005", "", "C", "100"),
    ("S00001", "Ğüneş Tedarik ıöüçşğ İÖÜÇŞĞ", "S", "5000000.5"),
    ("S00002", None, "S", None),
    ("L00001", "Aday Müşteri 'tırnak'", "L", "1"),
]
CITIES = ["İstanbul", "Ankara", "İzmir", "Bursa", "Konya", "Eskişehir"]
WORDS = ["Gıda", "Tekstil", "Yapı", "Otomotiv", "Kimya", "Lojistik",
         "Enerji", "Mobilya", "Ambalaj", "Tarım"]


def _money(rng, lo, hi):
    cents = rng.randrange(lo * 1000000, hi * 1000000)
    return "%d.%06d" % divmod(cents, 1000000) if cents >= 0 else \
        "-%d.%06d" % divmod(-cents, 1000000)


def make_demo_db(path, partners=60, items=80, invoices=500, seed=8):
    """Creates @path with OCRD, OITM and OINV filled deterministically."""
    if os.path.exists(path):
        os.unlink(path)
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    bps = []
    for code, name, typ, bal in SPECIAL_PARTNERS:
        bps.append((code, name, typ, 100, "İstanbul", "+90 212 555 00 00",
                    code.lower() + "@example.com", "TRY", bal,
                    "2024-01-02", "Y"))
    for i in range(len(bps), partners):
        typ = "C" if i % 3 else "S"
        code = "%s%05d" % (typ, 100 + i)
        name = "%s %s %s" % (rng.choice(CITIES), rng.choice(WORDS),
                             rng.choice(["A.Ş.", "Ltd. Şti.", "Koll."]))
        bps.append((code, name, typ, 100 + i % 4, rng.choice(CITIES), None,
                    None if i % 5 == 0 else "info%d@example.com" % i,
                    rng.choice(["TRY", "EUR", "USD"]),
                    _money(rng, -50000, 900000),
                    "2024-%02d-%02d" % (1 + i % 12, 1 + i % 28),
                    "N" if i % 17 == 0 else "Y"))
    db.executemany("INSERT INTO OCRD VALUES (?,?,?,?,?,?,?,?,?,?,?)", bps)

    its = []
    for i in range(items):
        its.append(("A%05d" % i, "Ürün %d %s" % (i, rng.choice(WORDS)),
                    100 + i % 5, _money(rng, 0, 5000),
                    _money(rng, 1, 2500), "869%010d" % i,
                    "N" if i % 11 == 0 else "Y",
                    "2023-%02d-%02d" % (1 + i % 12, 1 + i % 28)))
    db.executemany("INSERT INTO OITM VALUES (?,?,?,?,?,?,?,?)", its)

    customers = [b for b in bps if b[2] == "C"]
    rows = []
    for i in range(1, invoices + 1):
        bp = customers[i % len(customers)]
        total = _money(rng, 1, 250000)
        vat = str((decimal.Decimal(total) / 6).quantize(SCALE))
        day = 1 + i % 28
        rows.append((i, 100000 + i, bp[0], bp[1],
                     "2025-%02d-%02d" % (1 + i % 12, day),
                     "2025-%02d-%02d" % (1 + (i + 1) % 12, day),
                     total, vat, "TRY",
                     None if i % 4 else "Fatura %d; açıklama" % i))
    db.executemany("INSERT INTO OINV VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()
    return path


# --------------------------------------------------------------------------
# Entity sets over the tables

Prop = collections.namedtuple("Prop", "name column kind enum")


class EntitySet:
    def __init__(self, name, type_name, table, key, props):
        self.name = name
        self.type_name = type_name
        self.table = table
        self.key = key
        self.props = [Prop(p[0], p[1], p[2], p[3] if len(p) > 3 else None)
                      for p in props]
        self.by_name = {p.name: p for p in self.props}



    def restricted(self, columns):
        """The same set with only the properties whose column exists."""
        es = EntitySet(self.name, self.type_name, self.table, self.key, [])
        es.props = [p for p in self.props if p.column in columns]
        es.by_name = {p.name: p for p in es.props}
        return es if self.key in es.by_name else None


YES_NO = {"Y": "tYES", "N": "tNO"}
DOC_PROPS = [
    ("DocEntry", "DocEntry", "int"),
    ("DocNum", "DocNum", "int"),
    ("DocType", "DocType", "enum", {"I": "dDocument_Items",
                                    "S": "dDocument_Service"}),
    ("Cancelled", "CANCELED", "enum", YES_NO),
    ("DocumentStatus", "DocStatus", "enum", {"O": "bost_Open",
                                             "C": "bost_Close"}),
    ("DocDate", "DocDate", "date"),
    ("DocDueDate", "DocDueDate", "date"),
    ("TaxDate", "TaxDate", "date"),
    ("CardCode", "CardCode", "str"),
    ("CardName", "CardName", "str"),
    ("NumAtCard", "NumAtCard", "str"),
    ("DocCurrency", "DocCur", "str"),
    ("DocRate", "DocRate", "dec"),
    ("DocTotal", "DocTotal", "dec"),
    ("VatSum", "VatSum", "dec"),
    ("DocTotalFc", "DocTotalFC", "dec"),
    ("PaidToDate", "PaidToDate", "dec"),
    ("PaymentGroupCode", "GroupNum", "int"),
    ("SalesPersonCode", "SlpCode", "int"),
    ("TransNum", "TransId", "int"),
    ("Comments", "Comments", "str"),
]
# The entity sets, in the Service Layer's names, over B1's tables; a set
# shows the properties whose columns the database has.
ENTITY_SETS = {es.name: es for es in [
    EntitySet("BusinessPartners", "BusinessPartner", "OCRD", "CardCode", [
        ("CardCode", "CardCode", "str"),
        ("CardName", "CardName", "str"),
        ("CardType", "CardType", "enum",
         {"C": "cCustomer", "S": "cSupplier", "L": "cLid"}),
        ("GroupCode", "GroupCode", "int"),
        ("City", "City", "str"),
        ("Phone1", "Phone1", "str"),
        ("EmailAddress", "E_Mail", "str"),
        ("FederalTaxID", "LicTradNum", "str"),
        ("Currency", "Currency", "str"),
        ("PayTermsGrpCode", "GroupNum", "int"),
        ("SalesPersonCode", "SlpCode", "int"),
        ("CreditLimit", "CreditLine", "dec"),
        ("CurrentAccountBalance", "Balance", "dec"),
        ("CreateDate", "CreateDate", "date"),
        ("Valid", "validFor", "enum", YES_NO),
    ]),
    EntitySet("Items", "Item", "OITM", "ItemCode", [
        ("ItemCode", "ItemCode", "str"),
        ("ItemName", "ItemName", "str"),
        ("ItemsGroupCode", "ItmsGrpCod", "int"),
        ("InventoryUOM", "InvntryUom", "str"),
        ("Mainsupplier", "CardCode", "str"),
        ("QuantityOnStock", "OnHand", "dec"),
        ("QuantityOrderedByCustomers", "IsCommited", "dec"),
        ("QuantityOrderedFromVendors", "OnOrder", "dec"),
        ("MinInventory", "MinLevel", "dec"),
        ("AvgStdPrice", "AvgPrice", "dec"),
        ("LastPurchasePrice", "LastPurPrc", "dec"),
        ("BarCode", "CodeBars", "str"),
        ("SalesItem", "SellItem", "enum", YES_NO),
        ("PurchaseItem", "PrchseItem", "enum", YES_NO),
        ("InventoryItem", "InvntItem", "enum", YES_NO),
        ("Valid", "validFor", "enum", YES_NO),
        ("CreateDate", "CreateDate", "date"),
    ]),
    EntitySet("Invoices", "Document", "OINV", "DocEntry", DOC_PROPS),
    EntitySet("CreditNotes", "Document", "ORIN", "DocEntry", DOC_PROPS),
    EntitySet("PurchaseInvoices", "Document", "OPCH", "DocEntry",
              DOC_PROPS),
    EntitySet("ItemGroups", "ItemGroups", "OITB", "Number", [
        ("Number", "ItmsGrpCod", "int"),
        ("GroupName", "ItmsGrpNam", "str"),
    ]),
    EntitySet("Warehouses", "Warehouse", "OWHS", "WarehouseCode", [
        ("WarehouseCode", "WhsCode", "str"),
        ("WarehouseName", "WhsName", "str"),
        ("City", "City", "str"),
    ]),
]}


class SLError(Exception):
    """An error answer: HTTP status, SL error code, English message."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message, code=-1):
    return SLError(400, code, message)


# --------------------------------------------------------------------------
# Exact decimals: numbers go out as the database holds them

SCALE = decimal.Decimal("0.000001")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def num_json(v):
    """The JSON text of a NUMERIC value: exact TEXT as written, an
    integer as is, a REAL (a computed value) in its shortest form."""
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "null"
        return repr(v)
    s = str(v).strip()
    if _JSON_NUMBER.fullmatch(s):
        return s
    try:
        return format(decimal.Decimal(s), "f")
    except decimal.InvalidOperation:
        return json_str(s)


class _Dec(bytes):
    """A NUMERIC column's value as SQLite's text, for exact output."""


class _Date(bytes):
    """A DATE column's value."""


sqlite3.register_converter("NUMERIC", _Dec)
sqlite3.register_converter("DATE", _Date)


_json_encode = json.JSONEncoder(ensure_ascii=False).encode


def json_str(s):
    return _json_encode(s)


def list_value_json(v, date_style):
    """JSON text of one List cell, by what SQLite and the declared type say."""
    if v is None:
        return "null"
    if isinstance(v, _Dec):
        return num_json(v)
    if isinstance(v, _Date):
        s = v.decode()
        if date_style == "compact" and re.fullmatch(r"\d{4}-\d\d-\d\d", s):
            s = s.replace("-", "")
        return json_str(s)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "null"
        return repr(v)
    if isinstance(v, bytes):
        return json_str(v.decode("utf-8", "replace"))
    return json_str(str(v))


def entity_value_json(prop, v):
    if v is None:
        return "null"
    return _FORMAT[prop.kind](prop, v)


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


_FORMAT = {
    "dec": lambda p, v: num_json(v),
    "int": lambda p, v: str(int(v)),
    "enum": lambda p, v: json_str(p.enum.get(v, v)),
    "date": lambda p, v: '"%s"' % _text(v),
    "str": lambda p, v: json_str(v),
}


# --------------------------------------------------------------------------
# $filter: eq ne gt ge lt le, and or not, ( ), literals, a few functions

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<date>\d{4}-\d\d-\d\d(?:T[0-9:.]+Z?)?)
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDlL]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_/]*)
  | (?P<punct>[(),])
""", re.X)

_CMP = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


class FilterParser:
    """Turns an OData $filter into SQL with ? arguments."""

    def __init__(self, es, text):
        self.es = es
        self.toks = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise bad_request("Invalid $filter near '%s'" % text[pos:])
            pos = m.end()
            if m.lastgroup != "ws":
                self.toks.append((m.lastgroup, m.group()))
        self.i = 0
        self.args = []

    def parse(self):
        sql = self.or_expr()
        if self.i != len(self.toks):
            raise bad_request("Invalid $filter near '%s'" %
                              self.toks[self.i][1])
        return sql, self.args

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        if t[0] is None:
            raise bad_request("Invalid $filter: unexpected end")
        self.i += 1
        return t

    def word(self, w):
        t = self.peek()
        if t[0] == "name" and t[1] == w:
            self.i += 1
            return True
        return False

    def or_expr(self):
        parts = [self.and_expr()]
        while self.word("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else \
            "(" + " OR ".join(parts) + ")"

    def and_expr(self):
        parts = [self.not_expr()]
        while self.word("and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else \
            "(" + " AND ".join(parts) + ")"

    def not_expr(self):
        if self.word("not"):
            return "(NOT " + self.not_expr() + ")"
        return self.comparison()

    def comparison(self):
        kind, text = self.peek()
        if kind == "punct" and text == "(":
            self.take()
            sql = self.or_expr()
            self.expect(")")
            return sql
        if kind == "name" and text in ("startswith", "endswith",
                                        "contains", "substringof"):
            return self.function()
        left = self.operand(None)
        op = self.take()
        if op[0] != "name" or op[1] not in _CMP:
            raise bad_request("Invalid $filter operator '%s'" % op[1])
        right = self.operand(left[1])
        if right[0] == "NULL" or left[0] == "NULL":
            other = left[0] if right[0] == "NULL" else right[0]
            if op[1] == "eq":
                return "(%s IS NULL)" % other
            if op[1] == "ne":
                return "(%s IS NOT NULL)" % other
        return "(%s %s %s)" % (left[0], _CMP[op[1]], right[0])

    def expect(self, p):
        t = self.take()
        if t != ("punct", p):
            raise bad_request("Invalid $filter: expected '%s'" % p)

    def operand(self, prop):
        """(sql, prop or None); literals become ? arguments."""
        kind, text = self.take()
        if kind == "name":
            if text == "null":
                return ("NULL", None)
            if text in ("true", "false"):
                self.args.append(1 if text == "true" else 0)
                return ("?", None)
            p = self.es.by_name.get(text)
            if p is None:
                raise bad_request("Property '%s' of '%s' is invalid" %
                                  (text, self.es.type_name))
            col = '"%s"' % p.column
            if p.kind == "dec":
                col = "CAST(%s AS REAL)" % col
            return (col, p)
        if kind == "str":
            v = text[1:-1].replace("''", "'")
            if prop is not None and prop.kind == "enum":
                back = {o: d for d, o in prop.enum.items()}
                if v not in back:
                    raise bad_request("Enum value '%s' is invalid for "
                                      "property '%s'" % (v, prop.name))
                v = back[v]
            self.args.append(v)
            return ("?", None)
        if kind == "date":
            self.args.append(text[:10])
            return ("?", None)
        if kind == "num":
            t = text.rstrip("mMdDlL")
            self.args.append(float(t) if re.search(r"[.eE]", t) else int(t))
            return ("?", None)
        raise bad_request("Invalid $filter near '%s'" % text)

    def function(self):
        name = self.take()[1]
        self.expect("(")
        a = self.operand(None)
        self.expect(",")
        b = self.operand(None)
        self.expect(")")
        if name == "substringof":
            a, b = b, a
        pat = {"startswith": "%s || '%%'", "endswith": "'%%' || %s",
               "contains": "'%%' || %s || '%%'",
               "substringof": "'%%' || %s || '%%'"}[name]
        return "(%s LIKE %s ESCAPE '\\')" % (a[0], pat % b[0])


# --------------------------------------------------------------------------
# SQLQueries helpers

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_SQL_TOKEN = re.compile(r"""
    (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
  | (?P<quoted>'(?:[^']|'')*'?|"[^"]*"?|\[[^\]]*\]?)
  | (?P<code>[^-/'"\[]+|.)
""", re.S | re.X)


def _sql_parts(sql):
    """(kind, text) runs of @sql: comment, quoted or code."""
    return [(m.lastgroup, m.group()) for m in _SQL_TOKEN.finditer(sql)]


def sql_param_names(sql):
    code = "".join(t if k == "code" else " " for k, t in _sql_parts(sql))
    names = []
    for n in _PARAM.findall(code):
        if n not in names:
            names.append(n)
    return names


def normalize_sql(sql):
    """As the SL does, store the text rewritten: here, comments dropped
    and white space runs outside literals and quoted names made one
    space."""
    out, code = [], []
    for kind, text in _sql_parts(sql) + [("quoted", "")]:
        if kind == "quoted":
            out.append(re.sub(r"\s+", " ", "".join(code)))
            out.append(text)
            code = []
        else:
            code.append(" " if kind == "comment" else text)
    return "".join(out).strip()


def parse_param_list(text):
    """"a=1&b='x'" -> {"a": 1, "b": "x"}; quotes may hold & and ''."""
    out = {}
    i = 0
    n = len(text)
    while i < n:
        j = text.find("=", i)
        if j < 0:
            raise bad_request("Invalid ParamList '%s'" % text)
        name = text[i:j].strip()
        i = j + 1
        if i < n and text[i] == "'":
            k = i + 1
            buf = []
            while True:
                if k >= n:
                    raise bad_request("Unterminated string in ParamList")
                if text[k] == "'":
                    if k + 1 < n and text[k + 1] == "'":
                        buf.append("'")
                        k += 2
                        continue
                    break
                buf.append(text[k])
                k += 1
            value = "".join(buf)
            i = k + 1
        else:
            k = text.find("&", i)
            k = n if k < 0 else k
            raw = text[i:k].strip()
            i = k
            if raw.upper() == "NULL":
                value = None
            elif re.fullmatch(r"-?\d+", raw):
                value = int(raw)
            elif re.fullmatch(r"-?\d+\.\d*(?:[eE][+-]?\d+)?", raw):
                value = float(raw)
            else:
                raise bad_request("Invalid value '%s' for parameter '%s' "
                                  "in ParamList" % (raw, name))
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise bad_request("Invalid parameter name '%s'" % name)
        out[name] = value
        while i < n and text[i] in " &":
            i += 1
    return out


# --------------------------------------------------------------------------
# The server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, emu, addr):
        self.emu = emu
        self.live = set()
        self.live_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request, client_address):
        with self.live_lock:
            self.live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.live_lock:
            self.live.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        self.emu._bump("connection_errors")

    def drop_all(self):
        with self.live_lock:
            live = list(self.live)
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SAPB1ServiceLayerEmulator/1.0"

    def version_string(self):
        return self.server_version

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.server.emu._bump("tls_failures")
                raise
            self.request.settimeout(None)
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # -- plumbing

    def _send(self, status, body=b"", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if body:
            self.send_header("Content-Type", self._ctype())
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _ctype(self):
        if self.version == 2:
            return "application/json;odata.metadata=minimal;charset=utf-8"
        return "application/json;odata=minimalmetadata;charset=utf-8"

    def _send_error(self, e):
        if self.version == 2:
            err = {"error": {"code": str(e.code), "message": e.message}}
        else:
            err = {"error": {"code": e.code, "message": {
                "lang": "en-us", "value": e.message}}}
        self._send(e.status, json.dumps(err, ensure_ascii=False))

    def _meta(self, what):
        root = "%s/b1s/v%d" % (self.server.emu.origin(), self.version)
        key = "@odata.context" if self.version == 2 else "odata.metadata"
        return "%s:%s" % (json_str(key),
                          json_str("%s/$metadata#%s" % (root, what)))

    def _dispatch(self, method):
        emu = self.server.emu
        emu._bump("requests")
        self.version = 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if emu.hang:
            emu._bump("hung")
            emu._unhang.wait()
            if emu.server is None:
                return
        url = urlsplit(self.path)
        m = re.match(r"^/b1s/v([12])/(.*)$", url.path)
        if m:
            self.version = int(m.group(1))
        try:
            if not m:
                raise SLError(404, -1, "Unrecognized resource path")
            path = unquote(m.group(2))
            params = self._query(url.query)
            emu._log(method, path, params)
            self._route(method, path, params, body)
        except SLError as e:
            self._send_error(e)
        except BrokenPipeError:
            pass

    @staticmethod
    def _query(q):
        out = {}
        for part in q.split("&"):
            if not part:
                continue
            k, _, v = part.partition("=")
            out[unquote(k)] = unquote(v)
        return out

    def _json_body(self, body):
        try:
            v = json.loads(body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            raise bad_request("Invalid JSON in request body")
        if not isinstance(v, dict):
            raise bad_request("Invalid JSON in request body")
        return v

    def _route(self, method, path, params, body):
        emu = self.server.emu
        if path == "Login" and method == "POST":
            return self._login(self._json_body(body))
        self.session = emu._session(self.headers.get("Cookie"))
        if path == "Logout" and method == "POST":
            emu._logout(self.session)
            return self._send(204)
        m = re.fullmatch(r"SQLQueries(?:\('((?:[^']|'')*)'\))?(/List)?",
                         path)
        if m:
            code = m.group(1).replace("''", "'") if m.group(1) else None
            return self._sqlqueries(method, code, bool(m.group(2)),
                                    params, body)
        m = re.fullmatch(r"(\w+)(?:\((?:'((?:[^']|'')*)'|(-?\d+))\))?",
                         path)
        es = emu.sets.get(m.group(1)) if m else None
        if es is None:
            raise SLError(404, -1, "Unrecognized resource path '%s'" % path)
        if method != "GET":
            raise SLError(405, -1, "Method %s is not allowed on %s" %
                          (method, es.name))
        if m.group(2) is not None or m.group(3) is not None:
            key = m.group(2).replace("''", "'") if m.group(2) is not None \
                else int(m.group(3))
            return self._entity(es, key, params)
        return self._collection(es, params)

    # -- sessions

    def _login(self, req):
        emu = self.server.emu
        user = req.get("UserName")
        if req.get("CompanyDB") != emu.company:
            emu._bump("login_failed")
            raise SLError(401, -304, "Fail to get DB Credentials from SLD: "
                          "company '%s' is unknown" % req.get("CompanyDB"))
        if user not in emu.users or emu.users[user] != req.get("Password"):
            emu._bump("login_failed")
            raise SLError(401, -304, "Login failed: invalid user name or "
                          "password")
        sid = emu._new_session(user)
        body = "{%s,%s:%s,%s:%s,%s:%s}" % (
            self._meta("B1Sessions/@Element"),
            json_str("SessionId"), json_str(sid),
            json_str("Version"), json_str("1000230"),
            json_str("SessionTimeout"), emu.reported_timeout())
        self._send(200, body, [
            ("Set-Cookie", "B1SESSION=%s;HttpOnly;" % sid),
            ("Set-Cookie", "ROUTEID=%s; path=/b1s" % emu.route_id)])

    # -- entity sets

    def _page_size(self):
        emu = self.server.emu
        prefer = self.headers.get("Prefer") or ""
        m = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", prefer)
        if m:
            return int(m.group(1)), "odata.maxpagesize=%s" % m.group(1)
        return emu.page_size, None

    def _columns(self, es, params):
        sel = params.get("$select")
        if not sel or sel.strip() == "*":
            return es.props
        props = []
        for name in sel.split(","):
            p = es.by_name.get(name.strip())
            if p is None:
                raise bad_request("Property '%s' of '%s' is invalid" %
                                  (name.strip(), es.type_name))
            props.append(p)
        return props

    def _order(self, es, params):
        ob = params.get("$orderby")
        if not ob:
            return '"%s"' % es.by_name[es.key].column
        parts = []
        for item in ob.split(","):
            words = item.split()
            if not words or len(words) > 2 or (
                    len(words) == 2 and words[1] not in ("asc", "desc")):
                raise bad_request("Invalid $orderby '%s'" % ob)
            p = es.by_name.get(words[0])
            if p is None:
                raise bad_request("Property '%s' of '%s' is invalid" %
                                  (words[0], es.type_name))
            col = '"%s"' % p.column
            if p.kind == "dec":
                col = "CAST(%s AS REAL)" % col
            parts.append(col + (" DESC" if words[1:] == ["desc"] else ""))
        return ", ".join(parts)

    @staticmethod
    def _int_option(params, name):
        v = params.get(name)
        if v is None or v == "":
            return None
        if not re.fullmatch(r"\d+", v):
            raise bad_request("Invalid value '%s' for %s" % (v, name))
        return int(v)

    def _collection(self, es, params):
        emu = self.server.emu
        props = self._columns(es, params)
        where, args = ("", [])
        if params.get("$filter"):
            where, args = FilterParser(es, params["$filter"]).parse()
            where = " WHERE " + where
        order = self._order(es, params)
        top = self._int_option(params, "$top")
        skip = self._int_option(params, "$skip") or 0
        size, applied = self._page_size()
        limit = size if size > 0 else -1
        if top is not None:
            limit = top if limit < 0 else min(limit, top)
        sql = "SELECT %s FROM %s%s ORDER BY %s LIMIT ? OFFSET ?" % (
            ", ".join('"%s"' % p.column for p in props), es.table, where,
            order)
        rows = emu._query(sql, args + [limit + 1 if limit >= 0 else -1,
                                       skip])
        more = limit >= 0 and len(rows) > limit and \
            (top is None or top > limit)
        if limit >= 0:
            rows = rows[:limit]
        keys = [json_str(p.name) for p in props]
        items = ["{" + ",".join(k + ":" + entity_value_json(p, v)
                                for k, p, v in zip(keys, props, r)) + "}"
                 for r in rows]
        nxt = None
        if more:
            q = {k: v for k, v in params.items()
                 if k not in ("$skip", "$top")}
            if top is not None:
                q["$top"] = str(top - len(rows))
            q["$skip"] = str(skip + len(rows))
            nxt = emu._next_link(self.version, es.name, q)
        self._send_page(self._meta(es.name), None, items, nxt, applied)

    def _send_page(self, meta, sqltext, items, nxt, applied):
        emu = self.server.emu
        emu._bump("pages")
        if emu.expire_after_pages and \
                emu.count("pages") == emu.expire_after_pages:
            emu.expire_sessions()
        head = [meta]
        if sqltext is not None:
            head.append('"SqlText":' + json_str(sqltext))
        body = "{" + ",".join(head) + ',"value":[' + ",".join(items) + "]"
        if nxt is not None:
            key = "@odata.nextLink" if self.version == 2 \
                else "odata.nextLink"
            body += "," + json_str(key) + ":" + json_str(nxt)
        body += "}"
        hdrs = [("Preference-Applied", applied)] if applied else []
        self._send(200, body, hdrs)

    def _entity(self, es, key, params):
        emu = self.server.emu
        props = self._columns(es, params)
        sql = "SELECT %s FROM %s WHERE \"%s\" = ?" % (
            ", ".join('"%s"' % p.column for p in props), es.table,
            es.by_name[es.key].column)
        rows = emu._query(sql, [key])
        if not rows:
            raise SLError(404, -2028, "No matching records found (ODBC "
                          "-2028)")
        body = "{" + self._meta(es.name + "/@Element") + "," + ",".join(
            json_str(p.name) + ":" + entity_value_json(p, v)
            for p, v in zip(props, rows[0])) + "}"
        self._send(200, body)

    # -- SQLQueries

    def _sqlqueries(self, method, code, is_list, params, body):
        emu = self.server.emu
        if is_list:
            if code is None or method not in ("GET", "POST"):
                raise SLError(405, -1, "List needs GET or POST on one query")
            return self._list(code, params, body if method == "POST"
                              else None)
        if code is None:
            if method == "POST":
                return self._sq_create(self._json_body(body))
            if method == "GET":
                return self._sq_all(params)
            raise SLError(405, -1, "Method not allowed")
        with emu.lock:
            q = emu.queries.get(code)
        if q is None:
            raise SLError(404, -2028, "No matching records found (ODBC "
                          "-2028)")
        if method == "GET":
            emu._bump("sqlquery_get")
            return self._send(200, "{%s,%s}" % (
                self._meta("SQLQueries/@Element"), self._sq_json(q)[1:-1]))
        if method == "PATCH":
            emu._bump("sqlquery_patch")
            req = self._json_body(body)
            with emu.lock:
                if "SqlText" in req:
                    self._sq_check(req["SqlText"])
                    q["SqlText"] = normalize_sql(req["SqlText"])
                    names = sql_param_names(q["SqlText"])
                    q["ParamList"] = ",".join(names) if names else None
                if "SqlName" in req:
                    q["SqlName"] = req["SqlName"]
                q["UpdateDate"] = time.strftime("%Y-%m-%d")
            return self._send(204)
        if method == "DELETE":
            with emu.lock:
                emu.queries.pop(code, None)
            return self._send(204)
        raise SLError(405, -1, "Method not allowed")

    @staticmethod
    def _sq_json(q):
        return "{" + ",".join(json_str(k) + ":" + json.dumps(
            q[k], ensure_ascii=False) for k in (
            "SqlCode", "SqlName", "SqlText", "ParamList", "CreateDate",
            "UpdateDate")) + "}"

    @staticmethod
    def _sq_check(text):
        if not isinstance(text, str) or not re.match(r"\s*select\b", text,
                                                     re.I):
            raise bad_request("Only SELECT statements are supported", 703)
        if re.search(r"\bselect\s+(?:distinct\s+|top\s+\d+\s+)?\*", text,
                     re.I):
            raise bad_request("'select *' is not supported; name the "
                              "columns", 703)

    def _sq_create(self, req):
        emu = self.server.emu
        code = req.get("SqlCode")
        if not isinstance(code, str) or not code or len(code) > 100:
            raise bad_request("SqlCode is missing or invalid")
        self._sq_check(req.get("SqlText"))
        text = normalize_sql(req["SqlText"])
        names = sql_param_names(text)
        today = time.strftime("%Y-%m-%d")
        q = {"SqlCode": code, "SqlName": req.get("SqlName") or code,
             "SqlText": text, "ParamList": ",".join(names) or None,
             "CreateDate": today, "UpdateDate": today}
        with emu.lock:
            if code in emu.queries:
                raise bad_request("This entry already exists in the "
                                  "following tables (ODBC -2035)", -2035)
            emu.queries[code] = q
        emu._bump("sqlquery_create")
        self._send(201, "{%s,%s}" % (self._meta("SQLQueries/@Element"),
                                     self._sq_json(q)[1:-1]))

    def _sq_all(self, params):
        emu = self.server.emu
        with emu.lock:
            qs = sorted(emu.queries.values(), key=lambda q: q["SqlCode"])
        skip = self._int_option(params, "$skip") or 0
        size, applied = self._page_size()
        page = qs[skip:skip + size] if size > 0 else qs[skip:]
        nxt = None
        if size > 0 and len(qs) > skip + size:
            nxt = emu._next_link(self.version, "SQLQueries",
                                 {"$skip": str(skip + size)})
        self._send_page(self._meta("SQLQueries"), None,
                        [self._sq_json(q) for q in page], nxt, applied)

    def _list(self, code, params, body):
        emu = self.server.emu
        emu._bump("list")
        if emu.on_list:
            emu.on_list(emu, code)
        with emu.lock:
            q = emu.queries.get(code)
        if q is None:
            raise SLError(404, -2028, "No matching records found (ODBC "
                          "-2028)")
        values = {k: v for k, v in params.items() if not k.startswith("$")}
        values = parse_param_list("&".join(
            "%s=%s" % kv for kv in values.items())) if values else {}
        if body is not None and body.strip():
            req = self._json_body(body)
            if req.get("ParamList"):
                values.update(parse_param_list(req["ParamList"]))
        wanted = sql_param_names(q["SqlText"])
        for n in wanted:
            if n not in values:
                raise bad_request("Parameter '%s' has no value in "
                                  "ParamList" % n)
        skip = self._int_option(params, "$skip") or 0
        size, applied = self._page_size()
        limit = size if size > 0 else -1
        sql = "SELECT * FROM (%s) LIMIT :__limit OFFSET :__offset" % \
            q["SqlText"]
        args = {n: values[n] for n in wanted}
        args["__limit"] = limit + 1 if limit >= 0 else -1
        args["__offset"] = skip
        try:
            cols, rows = emu._query_cols(sql, args)
        except sqlite3.Error as e:
            raise bad_request("SQL error: %s" % e, 703)
        if len(set(cols)) != len(cols):
            raise bad_request("Duplicate column alias in the select "
                              "clause", 703)
        more = limit >= 0 and len(rows) > limit
        rows = rows[:limit] if limit >= 0 else rows
        keys = [json_str(c) for c in cols]
        style = emu.list_date_style
        items = ["{" + ",".join(k + ":" + list_value_json(v, style)
                                for k, v in zip(keys, r)) + "}"
                 for r in rows]
        nxt = None
        if more:
            q2 = {n: (("'%s'" % values[n].replace("'", "''"))
                      if isinstance(values[n], str) else
                      ("NULL" if values[n] is None else repr(values[n])))
                  for n in wanted}
            q2["$skip"] = str(skip + len(rows))
            nxt = emu._next_link(self.version, "SQLQueries('%s')/List" %
                                 code.replace("'", "''"), q2,
                                 lead_amp=True)
        self._send_page(self._meta("SAPB1.SQLQueryResult"), q["SqlText"],
                        items, nxt, applied)


class Emulator:
    """One Service Layer on 127.0.0.1; see the module comment."""

    def __init__(self, db_path, *, company="SBODEMOTR", users=None,
                 session_timeout=1800.0, reported_timeout=None,
                 page_size=20, link_style="alternate", certfile=None,
                 keyfile=None, host="127.0.0.1", port=0, route_id=".node1",
                 list_date_style="compact"):
        self.db_path = db_path
        self.company = company
        self.users = users if users is not None else {"manager": "1234"}
        self.session_timeout = session_timeout
        self.reported = reported_timeout
        self.page_size = page_size
        self.link_style = link_style
        self.certfile = certfile
        self.keyfile = keyfile
        self.host = host
        self.port = port
        self.route_id = route_id
        self.list_date_style = list_date_style
        self.lock = threading.Lock()
        self.db_lock = threading.Lock()
        self.counts = collections.Counter()
        self.requests = []
        self.sessions = {}
        self.queries = {}
        self.hang = False
        self._unhang = threading.Event()
        # After this many pages (counted over the emulator's life) every
        # session ends, as if it timed out in the middle of paging.
        self.expire_after_pages = 0
        # Called as on_list(emu, code) when a List call arrives, before
        # the query is read: a test may change it there, as another host
        # would.
        self.on_list = None
        self._links = 0
        self.server = None
        self.thread = None
        self.db = None
        self.sets = {}

    # -- life cycle

    def start(self):
        """Listens (on the same port again after stop()) and serves."""
        self.db = sqlite3.connect(self.db_path, check_same_thread=False,
                                  detect_types=sqlite3.PARSE_DECLTYPES)
        self.sets = {}
        for es in ENTITY_SETS.values():
            info = self.db.execute('PRAGMA table_info("%s")' %
                                   es.table).fetchall()
            mine = es.restricted({row[1] for row in info}) if info else None
            if mine:
                self.sets[es.name] = mine
        self.hang = False
        self._unhang.clear()
        self.server = _Server(self, (self.host, self.port))
        self.port = self.server.server_address[1]
        if self.certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self.certfile, self.keyfile)
            self.server.socket = ctx.wrap_socket(
                self.server.socket, server_side=True,
                do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stops listening, drops every open connection and forgets the
        sessions, as a restarted Service Layer does."""
        if self.server is None:
            return
        self._unhang.set()
        self.server.shutdown()
        self.server.server_close()
        self.server.drop_all()
        self.thread.join(5)
        self.server = None
        with self.lock:
            self.sessions.clear()
        self.db.close()
        self.db = None

    def restart(self):
        self.stop()
        return self.start()

    def set_hang(self, on):
        """While on, requests are read and never answered."""
        if on:
            self._unhang.clear()
            self.hang = True
        else:
            self.hang = False
            self._unhang.set()

    def origin(self):
        scheme = "https" if self.certfile else "http"
        return "%s://%s:%d" % (scheme, self.host, self.port)

    def url(self, version=1):
        return "%s/b1s/v%d" % (self.origin(), version)

    # -- counters

    def _bump(self, what, n=1):
        with self.lock:
            self.counts[what] += n

    def count(self, what):
        with self.lock:
            return self.counts[what]

    def reset_counts(self):
        with self.lock:
            self.counts.clear()
            self.requests.clear()

    def _log(self, method, path, params):
        with self.lock:
            self.requests.append((method, path, dict(params)))
            del self.requests[:-2000]

    # -- sessions

    def reported_timeout(self):
        if self.reported is not None:
            return repr(self.reported) if isinstance(self.reported, float) \
                else str(self.reported)
        return str(max(1, math.ceil(self.session_timeout / 60)))

    def _new_session(self, user):
        sid = str(uuid.uuid4())
        with self.lock:
            self.counts["login"] += 1
            self.sessions[sid] = {"user": user, "last": time.monotonic()}
        return sid

    def _session(self, cookie_header):
        cookies = {}
        for part in (cookie_header or "").split(";"):
            k, _, v = part.strip().partition("=")
            cookies[k] = v
        sid = cookies.get("B1SESSION")
        now = time.monotonic()
        with self.lock:
            s = self.sessions.get(sid)
            if s is not None and now - s["last"] > self.session_timeout:
                del self.sessions[sid]
                s = None
            if s is None:
                self.counts["unauthorized"] += 1
                raise SLError(401, 301, "Invalid session or session "
                              "already timeout.")
            s["last"] = now
            if cookies.get("ROUTEID") == self.route_id:
                self.counts["routeid_seen"] += 1
        return sid

    def _logout(self, sid):
        with self.lock:
            self.sessions.pop(sid, None)
            self.counts["logout"] += 1

    def expire_sessions(self):
        """Ends every session now, as an idle timeout would."""
        with self.lock:
            self.sessions.clear()

    def session_count(self):
        with self.lock:
            return len(self.sessions)

    # -- data

    def _query(self, sql, args):
        with self.db_lock:
            return self.db.execute(sql, args).fetchall()

    def _query_cols(self, sql, args):
        with self.db_lock:
            cur = self.db.execute(sql, args)
            rows = cur.fetchall()
            return [d[0] for d in cur.description], rows

    def _next_link(self, version, resource, q, lead_amp=False):
        """Relative to the service root or absolute from /b1s/, raw as
        the SL writes it (spaces and quotes unencoded)."""
        with self.lock:
            self._links += 1
            n = self._links
        style = self.link_style
        if style == "alternate":
            style = "relative" if n % 2 else "absolute"
        self._bump("links_" + style)
        qs = ("&" if lead_amp else "") + "&".join(
            "%s=%s" % kv for kv in q.items())
        if style == "relative":
            return "%s?%s" % (resource, qs)
        if style == "full":
            return "%s/b1s/v%d/%s?%s" % (self.origin(), version, resource,
                                          qs)
        return "/b1s/v%d/%s?%s" % (version, resource, qs)


# --------------------------------------------------------------------------
# A test certificate authority


def make_test_pki(folder):
    """A CA and a server certificate for 127.0.0.1 and localhost, made
    with the openssl tool. Returns (ca.pem, server.pem, server.key)."""
    os.makedirs(folder, exist_ok=True)
    p = lambda name: os.path.join(folder, name)  # noqa: E731

    def run(*argv):
        subprocess.run(["openssl"] + list(argv), check=True,
                       capture_output=True)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", p("ca.key"),
        "-out", p("ca.pem"), "-days", "3", "-subj", "/CN=sapb1fs test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"),
        "-subj", "/CN=localhost")
    with open(p("server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"),
        "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p("server.pem"),
        "-days", "3", "-extfile", p("server.ext"))
    return p("ca.pem"), p("server.pem"), p("server.key")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="SQLite database to serve")
    ap.add_argument("--make-demo", metavar="PATH",
                    help="create the demo database at PATH and serve it")
    ap.add_argument("--invoices", type=int, default=500)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-dir", help="make a test CA and certificate here")
    ap.add_argument("--user", default="manager")
    ap.add_argument("--password", default="1234")
    ap.add_argument("--company", default="SBODEMOTR")
    ap.add_argument("--session-timeout", type=float, default=1800)
    ap.add_argument("--page-size", type=int, default=20)
    ap.add_argument("--link-style", default="alternate",
                    choices=["alternate", "relative", "absolute", "full"])
    a = ap.parse_args()
    db = a.db
    if a.make_demo:
        db = make_demo_db(a.make_demo, invoices=a.invoices)
    if not db:
        ap.error("--db or --make-demo is required")
    cert = key = None
    if a.tls_dir:
        ca, cert, key = make_test_pki(a.tls_dir)
        print("CA certificate:", ca, flush=True)
    emu = Emulator(db, company=a.company, users={a.user: a.password},
                   session_timeout=a.session_timeout, page_size=a.page_size,
                   link_style=a.link_style, certfile=cert, keyfile=key,
                   port=a.port).start()
    print("serving", emu.url(1), "and", emu.url(2), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emu.stop()


if __name__ == "__main__":
    main()
