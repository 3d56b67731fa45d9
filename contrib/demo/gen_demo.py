#!/usr/bin/python3
"""Generates the sapb1fs demo database: an SAP Business One-shaped SQLite
file with Turkish business partners and items, two years of sales,
returns, purchases, payments and their journal entries.

The output is deterministic: the same arguments give the same rows, on any
Python 3 and platform.  Only random.Random.random() is used, whose sequence
Python keeps for a given integer seed, with plain IEEE arithmetic on top
(no pow()).  Every figure is computed in integer kuruş (or thousandths, or
millionths) and stored as exact decimal TEXT.

Usage: gen_demo.py OUTPUT.db [--lines N] [--seed S]

Column types, chosen for the SQLite ODBC driver (libsqliteodbc):
- amounts and quantities are declared "NUMERIC TEXT(19,6)": the word TEXT
  gives the column SQLite's TEXT affinity, so '1234.50' is kept digit for
  digit, and the leading NUMERIC makes the driver describe it as a number
  (SQL_DOUBLE) instead of a string.  Compare such columns through
  CAST(x AS DECIMAL(19,6)) or arithmetic, never raw against a literal:
  TEXT affinity would compare them as strings.
- dates are 'YYYY-MM-DD' in DATE columns, described as SQL_TYPE_DATE.
- texts are NVARCHAR(n) as in B1 on HANA (n counts characters; Turkish
  letters take two bytes each in UTF-8).
"""
import argparse
import bisect
import datetime
import functools
import os
import random
import sqlite3
import sys
import time

SEED = 20261203
START = datetime.date(2024, 12, 1)
AS_OF = datetime.date(2026, 12, 3)  # the last day of data; reports use it
DEFAULT_LINES = 100000
MONTHLY_INFLATION_PERMILLE = 25  # 2.5 % a month

DEC = "NUMERIC TEXT(19,6)"

# The tables, in B1's names and a useful subset of B1's columns.
SCHEMA = {
    "OACT": [("AcctCode", "NVARCHAR(15) PRIMARY KEY"),
             ("AcctName", "NVARCHAR(100)"), ("CurrTotal", DEC),
             ("FatherNum", "NVARCHAR(15)"), ("Postable", "CHAR(1)"),
             ("Levels", "INTEGER"), ("GroupMask", "INTEGER")],
    "OCRG": [("GroupCode", "INTEGER PRIMARY KEY"),
             ("GroupName", "NVARCHAR(20)"), ("GroupType", "CHAR(1)")],
    "OCTG": [("GroupNum", "INTEGER PRIMARY KEY"),
             ("PymntGroup", "NVARCHAR(100)"), ("ExtraDays", "INTEGER")],
    "OSLP": [("SlpCode", "INTEGER PRIMARY KEY"),
             ("SlpName", "NVARCHAR(155)"), ("Active", "CHAR(1)")],
    "OCRD": [("CardCode", "NVARCHAR(15) PRIMARY KEY"),
             ("CardName", "NVARCHAR(100)"), ("CardType", "CHAR(1)"),
             ("GroupCode", "INTEGER"), ("City", "NVARCHAR(100)"),
             ("Phone1", "NVARCHAR(20)"), ("E_Mail", "NVARCHAR(100)"),
             ("LicTradNum", "NVARCHAR(32)"), ("Currency", "NVARCHAR(3)"),
             ("GroupNum", "INTEGER"), ("SlpCode", "INTEGER"),
             ("CreditLine", DEC), ("Balance", DEC),
             ("validFor", "CHAR(1)")],
    "OITB": [("ItmsGrpCod", "INTEGER PRIMARY KEY"),
             ("ItmsGrpNam", "NVARCHAR(20)")],
    "OWHS": [("WhsCode", "NVARCHAR(8) PRIMARY KEY"),
             ("WhsName", "NVARCHAR(100)"), ("City", "NVARCHAR(100)")],
    "OITM": [("ItemCode", "NVARCHAR(50) PRIMARY KEY"),
             ("ItemName", "NVARCHAR(200)"), ("ItmsGrpCod", "INTEGER"),
             ("InvntryUom", "NVARCHAR(100)"), ("VatGourpSa", "NVARCHAR(8)"),
             ("CardCode", "NVARCHAR(15)"), ("OnHand", DEC),
             ("IsCommited", DEC), ("OnOrder", DEC), ("MinLevel", DEC),
             ("AvgPrice", DEC), ("LastPurPrc", DEC),
             ("SellItem", "CHAR(1)"), ("PrchseItem", "CHAR(1)"),
             ("InvntItem", "CHAR(1)"), ("validFor", "CHAR(1)")],
    "OITW": [("ItemCode", "NVARCHAR(50)"), ("WhsCode", "NVARCHAR(8)"),
             ("OnHand", DEC), ("IsCommited", DEC), ("OnOrder", DEC),
             ("MinStock", DEC), ("AvgPrice", DEC),
             ("", "PRIMARY KEY (\"ItemCode\", \"WhsCode\")")],
    "OJDT": [("TransId", "INTEGER PRIMARY KEY"), ("TransType", "INTEGER"),
             ("BaseRef", "NVARCHAR(11)"), ("RefDate", "DATE"),
             ("DueDate", "DATE"), ("TaxDate", "DATE"), ("LocTotal", DEC),
             ("Memo", "NVARCHAR(50)")],
    "JDT1": [("TransId", "INTEGER"), ("Line_ID", "INTEGER"),
             ("Account", "NVARCHAR(15)"), ("ShortName", "NVARCHAR(15)"),
             ("ContraAct", "NVARCHAR(15)"), ("Debit", DEC), ("Credit", DEC),
             ("RefDate", "DATE"), ("DueDate", "DATE"), ("TaxDate", "DATE"),
             ("TransType", "INTEGER"), ("BaseRef", "NVARCHAR(11)"),
             ("LineMemo", "NVARCHAR(50)"),
             ("", "PRIMARY KEY (\"TransId\", \"Line_ID\")")],
}


def doc_header(extra=()):
    """Columns shared by OINV, ORIN and OPCH."""
    return [("DocEntry", "INTEGER PRIMARY KEY"), ("DocNum", "INTEGER"),
            ("DocType", "CHAR(1)"), ("CANCELED", "CHAR(1)"),
            ("DocStatus", "CHAR(1)"), ("ObjType", "NVARCHAR(20)"),
            ("DocDate", "DATE"), ("DocDueDate", "DATE"), ("TaxDate", "DATE"),
            ("CardCode", "NVARCHAR(15)"), ("CardName", "NVARCHAR(100)"),
            ("NumAtCard", "NVARCHAR(100)"), ("DocCur", "NVARCHAR(3)"),
            ("DocRate", DEC), ("DocTotal", DEC), ("VatSum", DEC),
            ("DocTotalFC", DEC), ("PaidToDate", DEC), ("GroupNum", "INTEGER"),
            ("SlpCode", "INTEGER"), ("TransId", "INTEGER"),
            ("Comments", "NVARCHAR(254)")] + list(extra)


def doc_lines():
    """Columns shared by INV1, RIN1 and PCH1."""
    return [("DocEntry", "INTEGER"), ("LineNum", "INTEGER"),
            ("ItemCode", "NVARCHAR(50)"), ("Dscription", "NVARCHAR(200)"),
            ("Quantity", DEC), ("unitMsr", "NVARCHAR(100)"), ("Price", DEC),
            ("Currency", "NVARCHAR(3)"), ("DiscPrcnt", DEC),
            ("LineTotal", DEC), ("VatGroup", "NVARCHAR(8)"),
            ("VatPrcnt", DEC), ("VatSum", DEC), ("WhsCode", "NVARCHAR(8)"),
            ("AcctCode", "NVARCHAR(15)"), ("SlpCode", "INTEGER"),
            ("BaseType", "INTEGER"), ("BaseEntry", "INTEGER"),
            ("BaseLine", "INTEGER"),
            ("", "PRIMARY KEY (\"DocEntry\", \"LineNum\")")]


def payment_header():
    """Columns shared by ORCT and OVPM."""
    return [("DocEntry", "INTEGER PRIMARY KEY"), ("DocNum", "INTEGER"),
            ("DocType", "CHAR(1)"), ("Canceled", "CHAR(1)"),
            ("DocDate", "DATE"), ("DocDueDate", "DATE"), ("TaxDate", "DATE"),
            ("CardCode", "NVARCHAR(15)"), ("CardName", "NVARCHAR(100)"),
            ("DocCurr", "NVARCHAR(3)"), ("DocTotal", DEC), ("CashSum", DEC),
            ("CashAcct", "NVARCHAR(15)"), ("CheckSum", DEC),
            ("CheckAcct", "NVARCHAR(15)"), ("TrsfrSum", DEC),
            ("TrsfrAcct", "NVARCHAR(15)"), ("TransId", "INTEGER"),
            ("Comments", "NVARCHAR(254)")]


def payment_lines():
    """Columns shared by RCT2 and VPM2: which invoices a payment paid."""
    return [("DocNum", "INTEGER"), ("InvoiceId", "INTEGER"),
            ("DocEntry", "INTEGER"), ("InvType", "NVARCHAR(20)"),
            ("SumApplied", DEC),
            ("", "PRIMARY KEY (\"DocNum\", \"InvoiceId\")")]


SCHEMA.update({
    "OINV": doc_header(), "INV1": doc_lines(),
    "ORIN": doc_header(), "RIN1": doc_lines(),
    "OPCH": doc_header(), "PCH1": doc_lines(),
    "ORCT": payment_header(), "RCT2": payment_lines(),
    "OVPM": payment_header(), "VPM2": payment_lines(),
})

INDEXES = [
    ("OINV", "CardCode"), ("OINV", "DocDate"), ("ORIN", "CardCode"),
    ("OPCH", "CardCode"), ("ORCT", "CardCode"), ("ORCT", "DocDate"),
    ("OVPM", "CardCode"), ("INV1", "ItemCode"), ("RIN1", "ItemCode"),
    ("PCH1", "ItemCode"), ("JDT1", "ShortName"), ("JDT1", "Account"),
    ("OITW", "WhsCode"),
]


# --- exact numbers -------------------------------------------------------

def fixed(value, scale):
    """An integer count of 10**-scale units as decimal text: 12345, 2 ->
    '123.45'."""
    digits = str(abs(value)).rjust(scale + 1, "0")
    sign = "-" if value < 0 else ""
    return sign + digits[:-scale] + "." + digits[-scale:]


@functools.lru_cache(maxsize=None)
def iso(d):
    """'YYYY-MM-DD', remembered: the same few hundred days recur."""
    return d.isoformat()


def muldiv(a, b, c):
    """round(a * b / c), halves away from zero, in integers only."""
    n = a * b
    q, r = divmod(abs(n), c)
    if 2 * r >= c:
        q += 1
    return q if n >= 0 else -q


# --- deterministic choices -----------------------------------------------

class Rng:
    """Choices built on random() alone, the one method whose sequence
    Python promises to keep for a given seed."""

    def __init__(self, seed):
        self._r = random.Random(seed)

    def unit(self):
        return self._r.random()

    def below(self, n):
        return min(int(self._r.random() * n), n - 1)

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def chance(self, p):
        return self._r.random() < p

    def weighted(self, cumulative):
        """An index drawn by the running totals in @cumulative."""
        x = self._r.random() * cumulative[-1]
        return min(bisect.bisect_right(cumulative, x), len(cumulative) - 1)


def square(x):
    return x * x  # not **: pow() may round differently on other systems


def cube(x):
    return x * x * x


def running(weights):
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


# --- master data ---------------------------------------------------------

ACCOUNTS = [
    # code, name, father, postable, level, group (1 assets .. 5 expenses)
    ("1", "DÖNEN VARLIKLAR", None, "N", 1, 1),
    ("100", "KASA", "1", "N", 2, 1),
    ("100.01", "Merkez TL Kasası", "100", "Y", 3, 1),
    ("101", "ALINAN ÇEKLER", "1", "N", 2, 1),
    ("101.01", "Portföydeki Çekler", "101", "Y", 3, 1),
    ("102", "BANKALAR", "1", "N", 2, 1),
    ("102.01", "Ziraat Bankası TL Hesabı", "102", "Y", 3, 1),
    ("102.02", "İş Bankası TL Hesabı", "102", "Y", 3, 1),
    ("103", "VERİLEN ÇEKLER VE ÖDEME EMİRLERİ (-)", "1", "N", 2, 1),
    ("103.01", "Verilen Çekler", "103", "Y", 3, 1),
    ("120", "ALICILAR", "1", "N", 2, 1),
    ("120.01", "Yurt İçi Alıcılar", "120", "Y", 3, 1),
    ("153", "TİCARİ MALLAR", "1", "N", 2, 1),
    ("153.01", "Ticari Mallar", "153", "Y", 3, 1),
    ("191", "İNDİRİLECEK KDV", "1", "N", 2, 1),
    ("191.01", "İndirilecek KDV", "191", "Y", 3, 1),
    ("3", "KISA VADELİ YABANCI KAYNAKLAR", None, "N", 1, 2),
    ("320", "SATICILAR", "3", "N", 2, 2),
    ("320.01", "Yurt İçi Satıcılar", "320", "Y", 3, 2),
    ("391", "HESAPLANAN KDV", "3", "N", 2, 2),
    ("391.01", "Hesaplanan KDV", "391", "Y", 3, 2),
    ("5", "ÖZKAYNAKLAR", None, "N", 1, 3),
    ("500", "SERMAYE", "5", "N", 2, 3),
    ("500.01", "Ödenmiş Sermaye", "500", "Y", 3, 3),
    ("6", "GELİR TABLOSU HESAPLARI", None, "N", 1, 4),
    ("600", "YURT İÇİ SATIŞLAR", "6", "N", 2, 4),
    ("600.01", "Yurt İçi Satışlar", "600", "Y", 3, 4),
    ("610", "SATIŞTAN İADELER (-)", "6", "N", 2, 5),
    ("610.01", "Satıştan İadeler", "610", "Y", 3, 5),
]
ACC_CASH, ACC_CHECKS_IN, ACC_CHECKS_OUT = "100.01", "101.01", "103.01"
ACC_BANKS = ("102.01", "102.02")
ACC_AR, ACC_AP, ACC_STOCK = "120.01", "320.01", "153.01"
ACC_VAT_IN, ACC_VAT_OUT = "191.01", "391.01"
ACC_CAPITAL, ACC_SALES, ACC_RETURNS = "500.01", "600.01", "610.01"

BP_GROUPS = [(100, "Toptancılar", "C"), (101, "Perakende Zincirleri", "C"),
             (102, "Bayiler", "C"), (103, "Kurumsal Müşteriler", "C"),
             (110, "Yerli Üreticiler", "S"), (111, "İthalatçılar", "S")]

TERMS = [(-1, "Peşin", 0), (1, "30 gün vadeli", 30),
         (2, "60 gün vadeli", 60), (3, "90 gün vadeli", 90)]

SALES_PEOPLE = [(-1, "-Satış Çalışanı Yok-"), (1, "Ayşe Yılmaz"),
                (2, "Mehmet Öztürk"), (3, "Gülşen Çelik"),
                (4, "Şükrü Kılıç"), (5, "İlkay Doğan"), (6, "Çağrı Aksoy")]

WAREHOUSES = [("01", "Merkez Depo", "İstanbul"),
              ("02", "Ege Bölge Deposu", "İzmir"),
              ("03", "İç Anadolu Deposu", "Ankara"),
              ("04", "Marmara Aktarma Deposu", "Bursa")]
WHS_WEIGHTS = running([50, 20, 18, 12])

CITIES = [("İstanbul", "212", 30), ("İstanbul", "216", 14),
          ("Ankara", "312", 12), ("İzmir", "232", 10), ("Bursa", "224", 6),
          ("Antalya", "242", 4), ("Konya", "332", 3),
          ("Gaziantep", "342", 3), ("Kayseri", "352", 2),
          ("Eskişehir", "222", 2), ("Trabzon", "462", 2),
          ("Samsun", "362", 2), ("Adana", "322", 2), ("Denizli", "258", 2),
          ("Muğla", "252", 1), ("Çanakkale", "286", 1),
          ("Şanlıurfa", "414", 1), ("Diyarbakır", "412", 1),
          ("Kırşehir", "386", 1), ("Ağrı", "472", 1), ("Iğdır", "476", 1),
          ("Uşak", "276", 1), ("Çorum", "364", 1), ("Düzce", "380", 1)]
CITY_WEIGHTS = running([c[2] for c in CITIES])

NAME_HEADS = [
    "Anadolu", "Çınar", "Ege", "Karadeniz", "Marmara", "Akdeniz", "Toros",
    "Kaçkar", "Uludağ", "Erciyes", "Kızılırmak", "Boğaziçi", "Yıldız",
    "Güneş", "Doğan", "Şahin", "Özdemir", "Yılmaz", "Çelik", "Aydın",
    "Öztürk", "Kılıç", "Arslan", "Koç", "Kurt", "Şimşek", "Aksoy", "Gökçe",
    "Işık", "İpek", "Çağlar", "Bağcı", "Ertuğrul", "Gülistan", "Selçuklu",
    "Fırat", "Dicle", "Sakarya", "Yeşilırmak", "Ilgaz", "Ağaoğlu",
    "Üçler", "Öncü", "Süzer", "Ülkü", "Tuğra", "Çamlıca", "Köroğlu",
]
CUSTOMER_TRADES = ["Gıda", "Tekstil", "Kırtasiye", "Ev Gereçleri",
                   "Temizlik Ürünleri", "Market", "Mağazacılık", "Ticaret",
                   "Dağıtım", "Pazarlama", "Züccaciye", "Otelcilik"]
SUPPLIER_TRADES = ["Gıda Sanayi", "Tekstil Sanayi", "Dokuma", "Kağıt",
                   "Metal Eşya", "Kimya", "Ambalaj", "Tarım Ürünleri",
                   "Cam Sanayi", "Plastik"]
FORMS = ["Tic. A.Ş.", "San. ve Tic. Ltd. Şti.", "Ltd. Şti.", "A.Ş.",
         "Tic. Ltd. Şti.", "Pazarlama A.Ş."]
# Names that exercise quoting: a comma, double quotes, an apostrophe.
FIXED_CUSTOMERS = ["Anadolu Gıda Tic. A.Ş.", "Çınar Tekstil",
                   "Kaya, Demir ve Ortakları Koll. Şti.",
                   "Yıldız \"Usta\" Ev Gereçleri Ltd. Şti.",
                   "Ali'nin Yeri Kırtasiye", "İğneada Şarküteri Gıda"]
FIXED_SUPPLIERS = ["Kırmızı Şemsiye Tekstil San. A.Ş.",
                   "Göksu Zeytinyağı Üreticileri Koop."]

# Item groups: code, name, item code prefix, VAT rate, item families.
# A family is (name, unit, price in TL, variants); one item per variant.
COLOURS = ["Kırmızı", "Lacivert", "Siyah", "Yeşil", "Sarı", "Mor",
           "Turuncu", "Gri", "Beyaz", "Pembe", "Bordo", "Turkuaz"]
SIZES = ["S", "M", "L", "XL", "XXL"]
ITEM_GROUPS = [
    (100, "Gıda", "GDA", 10, [
        ("Zeytinyağı", "Adet", 420, ["1 L", "2 L", "5 L"]),
        ("Fındık ezmesi", "Adet", 160, ["350 g", "700 g"]),
        ("Kuru kayısı", "Kg", 380, ["Malatya", "Gün kurusu"]),
        ("Antep fıstığı", "Kg", 950, ["Kavrulmuş", "Çiğ", "Boz iç"]),
        ("Siyah çay", "Adet", 210, ["500 g", "1 kg", "3 kg"]),
        ("Türk kahvesi", "Adet", 95, ["100 g", "250 g", "1 kg"]),
        ("Lokum", "Adet", 140, ["Güllü", "Fıstıklı", "Çifte kavrulmuş",
                                "Naneli"]),
        ("Kırmızı mercimek", "Kg", 55, ["Ekstra", "Standart"]),
        ("Bulgur", "Kg", 38, ["Pilavlık", "Köftelik"]),
        ("Nohut", "Kg", 62, ["9 mm", "10 mm"]),
        ("Üzüm pekmezi", "Adet", 120, ["700 g", "1,2 kg"]),
        ("Tahin", "Adet", 145, ["300 g", "600 g"]),
        ("Süzme çiçek balı", "Adet", 390, ["460 g", "850 g"]),
        ("Beyaz peynir", "Kg", 310, ["İnek", "Keçi", "Ezine"]),
        ("Kaşar peyniri", "Kg", 420, ["Taze", "Eski"]),
        ("Ayçiçek yağı", "Adet", 260, ["1 L", "5 L"]),
        ("Un", "Adet", 110, ["Tip 550 5 kg", "Tam buğday 2 kg"]),
        ("Domates salçası", "Adet", 85, ["830 g", "4,3 kg"]),
        ("Biber salçası", "Adet", 95, ["Tatlı 650 g", "Acı 650 g"]),
        ("Ekmek", "Adet", 15, ["Somun", "Tam buğday"]),
    ]),
    (200, "Tekstil", "TKS", 20, [
        ("şemsiye", "Adet", 240, COLOURS),
        ("Pamuklu çarşaf takımı", "Adet", 650, ["Tek kişilik",
                                                "Çift kişilik"]),
        ("Nevresim takımı", "Adet", 980, ["Tek kişilik", "Çift kişilik",
                                          "Bebek"]),
        ("Havlu", "Adet", 180, ["El", "Yüz", "Banyo", "Plaj"]),
        ("Bornoz", "Adet", 720, SIZES),
        ("Örme kazak", "Adet", 890, SIZES),
        ("Yün atkı", "Adet", 310, COLOURS[:6]),
        ("Kadife kumaş", "Metre", 220, ["Düz", "Desenli"]),
        ("Keten kumaş", "Metre", 260, ["Ham", "Boyalı"]),
        ("Çorap 3'lü paket", "Adet", 120, ["Kadın", "Erkek", "Çocuk"]),
    ]),
    (300, "Ev Gereçleri", "EVG", 20, [
        ("Çelik tencere seti", "Adet", 2400, ["7 parça", "9 parça"]),
        ("Döküm tava", "Adet", 850, ["24 cm", "28 cm"]),
        ("Cam çaydanlık", "Adet", 540, ["Küçük", "Büyük"]),
        ("Porselen yemek takımı", "Adet", 3900, ["6 kişilik",
                                                 "12 kişilik"]),
        ("Bakır cezve", "Adet", 330, ["2 fincan", "4 fincan"]),
        ("Çay bardağı 12'li", "Adet", 260, ["İnce belli", "Kulplu"]),
        ("Kristal su bardağı 6'lı", "Adet", 410, ["Düz", "Kesme"]),
        ("Çatal bıçak takımı", "Adet", 1450, ["36 parça", "84 parça"]),
        ("Kesme tahtası", "Adet", 190, ["Bambu", "Ceviz"]),
    ]),
    (400, "Kırtasiye", "KRT", 20, [
        ("Kareli defter", "Adet", 45, ["A4", "A5"]),
        ("Çizgili defter", "Adet", 42, ["A4", "A5"]),
        ("Tükenmez kalem", "Adet", 18, ["Mavi", "Siyah", "Kırmızı"]),
        ("Kurşun kalem", "Adet", 9, ["HB", "2B"]),
        ("Boya kalemi", "Adet", 95, ["12 renk", "24 renk"]),
        ("Fotokopi kağıdı A4 (500'lü)", "Paket", 210, ["80 g", "90 g"]),
        ("Dosya klasörü", "Adet", 55, ["Geniş", "Dar"]),
        ("Silgi", "Adet", 12, ["Beyaz", "Renkli"]),
    ]),
    (500, "Temizlik", "TMZ", 20, [
        ("Sıvı sabun 1,5 L", "Adet", 95, ["Zeytinyağlı", "Lavanta"]),
        ("Çamaşır deterjanı", "Adet", 380, ["4 kg", "9 kg"]),
        ("Bulaşık deterjanı", "Adet", 110, ["Limon", "Elma"]),
        ("Yüzey temizleyici", "Adet", 85, ["Çam", "Okyanus"]),
        ("Çamaşır suyu", "Adet", 60, ["Ultra", "Çamaşır"]),
        ("Limon kolonyası", "Adet", 130, ["400 ml", "1 L"]),
        ("Zeytinyağlı sabun", "Paket", 75, ["4'lü", "8'li"]),
        ("Islak mendil", "Paket", 45, ["72'li", "120'li"]),
    ]),
]
VAT_GROUPS = {20: "KDV20", 10: "KDV10", 1: "KDV1"}

ASCII_FOLD = str.maketrans("çğıİöşüÇĞÖŞÜâ", "cgiIosuCGOSUa")


def fold(text):
    """'Çınar Tekstil' -> 'cinartekstil', for made-up e-mail domains."""
    out = text.translate(ASCII_FOLD).lower()
    return "".join(ch for ch in out if ch.isalnum())


def company_names(rng, given, trades, count, taken):
    names = []
    for name in given:
        taken.add(name)
        names.append(name)
    while len(names) < count:
        name = "%s %s %s" % (rng.pick(NAME_HEADS), rng.pick(trades),
                             rng.pick(FORMS))
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def make_partners(rng):
    """Customers, suppliers and a few leads, as dicts."""
    taken = set()
    partners = []
    cust_names = company_names(rng, FIXED_CUSTOMERS, CUSTOMER_TRADES, 240,
                               taken)
    supp_names = company_names(rng, FIXED_SUPPLIERS, SUPPLIER_TRADES, 48,
                               taken)
    lead_names = company_names(rng, [], CUSTOMER_TRADES, 12, taken)
    for kind, prefix, base, names in (("C", "C", 20001, cust_names),
                                      ("S", "V", 10001, supp_names),
                                      ("L", "L", 30001, lead_names)):
        for i, name in enumerate(names):
            partners.append(make_partner(rng, kind, "%s%05d" % (prefix,
                                                                base + i),
                                         name))
    return partners


def make_partner(rng, kind, code, name):
    city, area, _ = CITIES[rng.weighted(CITY_WEIGHTS)]
    words = name.split()
    domain = fold(" ".join(words[:2]))
    if kind == "S":
        group = rng.pick([110, 110, 110, 111])
        terms = rng.pick([1, 2, 2, 3])
    else:
        group = rng.pick([100, 101, 102, 102, 103])
        terms = TERMS[rng.weighted(running([2, 5, 4, 2]))][0]
    return {
        "code": code, "name": name, "kind": kind, "group": group,
        "city": city,
        "phone": "+90 %s %03d %02d %02d" % (area, rng.between(200, 999),
                                            rng.between(0, 99),
                                            rng.between(0, 99)),
        "email": "muhasebe@%s.com.tr" % domain,
        "taxno": "%010d" % rng.between(1000000000, 9999999999),
        "terms": terms,
        "slp": rng.between(1, 6) if kind == "C" else -1,
        "credit": rng.pick([0, 100000, 250000, 500000, 1000000]) * 100,
        # how much business it does, and how it pays
        "weight": cube(0.05 + rng.unit()),
        "delay": rng.pick(["early", "punctual", "punctual", "late",
                           "late", "slow", "bad"]),
        "means": rng.pick(["trsfr", "trsfr", "trsfr", "check", "cash"]),
        "bank": rng.pick(ACC_BANKS),
        "items": [],
    }


def make_items(rng, suppliers):
    items = []
    for group, _, prefix, vat, families in ITEM_GROUPS:
        for name, unit, price_tl, variants in families:
            for variant in variants:
                if name == "şemsiye":
                    full = "%s şemsiye" % variant
                else:
                    full = "%s %s" % (name, variant)
                code = "%s%04d" % (prefix, sum(1 for i in items
                                               if i["group"] == group) + 1)
                spread = 0.8 + 0.4 * rng.unit()
                price = int(price_tl * 100 * spread)
                vendor = rng.pick(suppliers)
                item = {
                    "code": code, "name": full, "group": group,
                    "unit": unit,
                    "vat": 1 if name == "Ekmek" else vat,
                    "price": price,  # kuruş, at START
                    # cost in thousandths of a kuruş, at START
                    "cost_mk": price * 10 * (55 + rng.below(25)),
                    "vendor": vendor["code"],
                    "weight": square(0.1 + rng.unit()),
                }
                vendor["items"].append(item)
                items.append(item)
    return items


# --- documents -----------------------------------------------------------

def day_weights():
    """Business days, busier toward the end of the period and in the
    weeks before the new year; no sales on Sundays."""
    days, weights = [], []
    n = (AS_OF - START).days + 1
    for i in range(n):
        d = START + datetime.timedelta(days=i)
        w = 0.0 if d.weekday() == 6 else (0.5 if d.weekday() == 5 else 1.0)
        w *= 1.0 + 0.3 * i / n
        if d.month == 12 or (d.month == 11 and d.day > 15):
            w *= 1.25
        days.append(d)
        weights.append(w)
    return days, running(weights)


def price_index():
    """Prices by month since START, in parts per billion, compounded in
    integers so every platform gets the same digits."""
    index = [10 ** 9]
    for _ in range(30):
        index.append(index[-1] * (1000 + MONTHLY_INFLATION_PERMILLE) // 1000)
    return index


PRICE_INDEX = price_index()


def inflate(value, d):
    """@value at START, in the prices of day @d."""
    months = (d.year - START.year) * 12 + d.month - START.month
    return value * PRICE_INDEX[months] // 10 ** 9


def quantity_milli(rng, item, bulk):
    if item["unit"] in ("Kg", "Metre"):
        q = rng.between(500, 60000) * (4 if bulk else 1)
        return q - q % 5
    return rng.between(1, 48) * 1000 * (10 if bulk else 1)


def make_line(item, qty, price, disc_bp, whs):
    """One document line; amounts in kuruş, quantity in thousandths,
    discount in hundredths of a percent."""
    total = muldiv(qty * price, 10000 - disc_bp, 1000 * 10000)
    vat = muldiv(total, item["vat"], 100)
    return {"item": item, "qty": qty, "price": price, "disc": disc_bp,
            "total": total, "vat": vat, "whs": whs}


def line_counts(rng, total_lines):
    counts, left = [], total_lines
    weights = running([8, 10, 12, 12, 11, 10, 9, 8, 7, 5, 4, 4])
    while left > 0:
        n = min(rng.weighted(weights) + 1, left)
        counts.append(n)
        left -= n
    return counts


def make_sales(rng, customers, items, total_lines):
    days, dw = day_weights()
    cw = running([c["weight"] for c in customers])
    iw = running([i["weight"] for i in items])
    counts = line_counts(rng, total_lines)
    dates = sorted(days[rng.weighted(dw)] for _ in counts)
    invoices = []
    for d, nlines in zip(dates, counts):
        cust = customers[rng.weighted(cw)]
        whs = WAREHOUSES[rng.weighted(WHS_WEIGHTS)][0]
        disc = rng.pick([0, 0, 0, 0, 500, 1000, 250])
        lines = []
        for _ in range(nlines):
            item = items[rng.weighted(iw)]
            qty = quantity_milli(rng, item, False)
            lines.append(make_line(item, qty, inflate(item["price"], d),
                                   disc, whs))
        invoices.append(new_doc(cust, d, lines))
    return invoices


def new_doc(partner, d, lines):
    term_days = {t[0]: t[2] for t in TERMS}[partner["terms"]]
    net = sum(ln["total"] for ln in lines)
    vat = sum(ln["vat"] for ln in lines)
    return {"bp": partner, "date": d,
            "due": d + datetime.timedelta(days=term_days), "lines": lines,
            "net": net, "vat": vat, "total": net + vat, "paid": 0,
            "canceled": "N", "base": None, "entry": None, "trans": None,
            "comment": None}


def make_returns(rng, invoices):
    """Returns (credit memos based on an invoice) and cancellations."""
    memos = []
    for inv in invoices:
        roll = rng.unit()
        if roll < 0.005:
            when = inv["date"] + datetime.timedelta(days=rng.between(0, 2))
            if when > AS_OF:
                continue
            memo = new_doc(inv["bp"], when, inv["lines"])
            memo["canceled"] = "C"
            inv["canceled"] = "Y"
            inv["paid"] = inv["total"]
            memo["paid"] = memo["total"]
        elif roll < 0.025:
            when = inv["date"] + datetime.timedelta(days=rng.between(1, 20))
            if when > AS_OF:
                continue
            picked = inv["lines"][:rng.between(1, min(2, len(inv["lines"])))]
            lines = []
            for ln in picked:
                qty = max(ln["qty"] // rng.between(2, 5), 1)
                lines.append(make_line(ln["item"], qty, ln["price"],
                                       ln["disc"], ln["whs"]))
            memo = new_doc(inv["bp"], when, lines)
            memo["paid"] = memo["total"]
            inv["paid"] += memo["total"]
            memo["comment"] = "İade: hasarlı ürün; irsaliye ekli"
        else:
            continue
        memo["base"] = inv
        memo["due"] = memo["date"]
        memos.append(memo)
    memos.sort(key=lambda m: m["date"])
    return memos


def make_purchases(rng, suppliers, total_lines):
    days, dw = day_weights()
    active = [s for s in suppliers if s["items"]]
    sw = running([s["weight"] + 0.05 for s in active])
    count = max(20, total_lines * 3 // 100)
    dates = sorted(days[rng.weighted(dw)] for _ in range(count))
    invoices = []
    for d in dates:
        supp = active[rng.weighted(sw)]
        n = rng.between(1, min(8, len(supp["items"])))
        start = rng.below(len(supp["items"]))
        lines = []
        for k in range(n):
            item = supp["items"][(start + k) % len(supp["items"])]
            cost = inflate(item["cost_mk"], d) // 1000
            qty = quantity_milli(rng, item, True)
            lines.append(make_line(item, qty, cost, 0, "01"))
        invoices.append(new_doc(supp, d, lines))
    return invoices


DELAYS = {  # days after the due date: (earliest, latest, never-pays share)
    "early": (-15, 0, 0.0), "punctual": (-3, 5, 0.0),
    "late": (0, 45, 0.01), "slow": (15, 110, 0.04), "bad": (30, 200, 0.10),
}


def make_payments(rng, invoices, our_side):
    """Payments of @invoices, grouped per partner and day.  @our_side:
    the invoices are suppliers' and we pay them (OVPM)."""
    by_key = {}
    for inv in invoices:
        if inv["canceled"] != "N":
            continue
        owed = inv["total"] - inv["paid"]
        if owed <= 0:
            continue
        bp = inv["bp"]
        behaviour = "punctual" if our_side else bp["delay"]
        lo, hi, never = DELAYS[behaviour]
        if bp["terms"] == -1 and not our_side:
            lo, hi, never = 0, 0, 0.0
        if rng.chance(never):
            continue
        when = inv["due"] + datetime.timedelta(days=rng.between(lo, hi))
        when = max(when, inv["date"])
        parts = [owed]
        if rng.chance(0.1):
            half = muldiv(owed, 1, 2)
            parts = [half, owed - half]
        for k, amount in enumerate(parts):
            pay_day = when + datetime.timedelta(days=30 * k)
            if pay_day > AS_OF:
                break
            key = (pay_day, bp["code"])
            by_key.setdefault(key, []).append((inv, amount))
    payments = []
    for (d, _), applied in sorted(by_key.items(),
                                  key=lambda kv: kv[0]):
        bp = applied[0][0]["bp"]
        means = "trsfr" if our_side and bp["means"] == "cash" else bp["means"]
        if not our_side and bp["terms"] == -1:
            means = "cash"
        for inv, amount in applied:
            inv["paid"] += amount
        payments.append({"bp": bp, "date": d, "applied": applied,
                         "total": sum(a for _, a in applied), "means": means,
                         "entry": None, "trans": None})
    return payments


# --- journal -------------------------------------------------------------

class Journal:
    """OJDT and JDT1 rows, with running account and partner totals."""

    def __init__(self):
        self.headers, self.lines = [], []
        self.account_totals, self.partner_totals = {}, {}

    def post(self, ttype, ref, d, due, memo, entries):
        """@entries: (account, partner code or None, debit, credit)."""
        trans = len(self.headers) + 1
        total = sum(e[2] for e in entries)
        self.headers.append((trans, ttype, str(ref), iso(d),
                             iso(due), iso(d), fixed(total, 2),
                             memo))
        for i, (acct, bp, debit, credit) in enumerate(entries):
            contra = entries[1][0] if i == 0 else entries[0][0]
            self.lines.append((trans, i, acct, bp or acct, contra,
                               fixed(debit, 2), fixed(credit, 2),
                               iso(d), iso(due), iso(d),
                               ttype, str(ref), memo))
            self.account_totals[acct] = (self.account_totals.get(acct, 0) +
                                         debit - credit)
            if bp:
                self.partner_totals[bp] = (self.partner_totals.get(bp, 0) +
                                           debit - credit)
        return trans


def post_all(journal, sales, memos, purchases, receipts, outgoing):
    """Numbers every document and posts it, in date order, as B1 would."""
    events = ([(d["date"], 0, i, "inv", d) for i, d in enumerate(sales)] +
              [(d["date"], 1, i, "rin", d) for i, d in enumerate(memos)] +
              [(d["date"], 2, i, "pch", d) for i, d in enumerate(purchases)] +
              [(d["date"], 3, i, "rct", d) for i, d in enumerate(receipts)] +
              [(d["date"], 4, i, "vpm", d) for i, d in enumerate(outgoing)])
    events.sort(key=lambda e: e[:3])
    journal.post(30, 1, START, START, "Açılış kaydı",
                 [(ACC_BANKS[0], None, 250000000, 0),
                  (ACC_CAPITAL, None, 0, 250000000)])
    counters = {}
    for _, _, _, kind, doc in events:
        counters[kind] = counters.get(kind, 0) + 1
        doc["entry"] = counters[kind]
        doc["trans"] = POSTERS[kind](journal, doc)


def post_invoice(journal, doc):
    code = doc["bp"]["code"]
    return journal.post(13, doc["entry"], doc["date"], doc["due"],
                        "A/R faturası - %s" % code,
                        [(ACC_AR, code, doc["total"], 0),
                         (ACC_SALES, None, 0, doc["net"]),
                         (ACC_VAT_OUT, None, 0, doc["vat"])])


def post_memo(journal, doc):
    code = doc["bp"]["code"]
    income = ACC_SALES if doc["canceled"] == "C" else ACC_RETURNS
    memo = "İptal" if doc["canceled"] == "C" else "A/R iade faturası"
    return journal.post(14, doc["entry"], doc["date"], doc["due"],
                        "%s - %s" % (memo, code),
                        [(ACC_AR, code, 0, doc["total"]),
                         (income, None, doc["net"], 0),
                         (ACC_VAT_OUT, None, doc["vat"], 0)])


def post_purchase(journal, doc):
    code = doc["bp"]["code"]
    return journal.post(18, doc["entry"], doc["date"], doc["due"],
                        "A/P faturası - %s" % code,
                        [(ACC_AP, code, 0, doc["total"]),
                         (ACC_STOCK, None, doc["net"], 0),
                         (ACC_VAT_IN, None, doc["vat"], 0)])


def means_account(pay, incoming):
    if pay["means"] == "cash":
        return ACC_CASH
    if pay["means"] == "check":
        return ACC_CHECKS_IN if incoming else ACC_CHECKS_OUT
    return pay["bp"]["bank"]


def post_receipt(journal, pay):
    code = pay["bp"]["code"]
    return journal.post(24, pay["entry"], pay["date"], pay["date"],
                        "Gelen ödemeler - %s" % code,
                        [(means_account(pay, True), None, pay["total"], 0),
                         (ACC_AR, code, 0, pay["total"])])


def post_outgoing(journal, pay):
    code = pay["bp"]["code"]
    return journal.post(46, pay["entry"], pay["date"], pay["date"],
                        "Giden ödemeler - %s" % code,
                        [(ACC_AP, code, pay["total"], 0),
                         (means_account(pay, False), None, 0, pay["total"])])


POSTERS = {"inv": post_invoice, "rin": post_memo, "pch": post_purchase,
           "rct": post_receipt, "vpm": post_outgoing}


# --- rows ----------------------------------------------------------------

def doc_rows(docs, obj_type, acct):
    heads, lines = [], []
    for doc in docs:
        bp = doc["bp"]
        status = "C" if doc["paid"] >= doc["total"] else "O"
        base = doc["base"]
        heads.append((doc["entry"], doc["entry"], "I", doc["canceled"],
                      status, obj_type, iso(doc["date"]),
                      iso(doc["due"]), iso(doc["date"]),
                      bp["code"], bp["name"], None, "TRY", "1.000000",
                      fixed(doc["total"], 2), fixed(doc["vat"], 2), "0.00",
                      fixed(doc["paid"], 2), bp["terms"], bp["slp"],
                      doc["trans"], doc["comment"]))
        for n, ln in enumerate(doc["lines"]):
            item = ln["item"]
            lines.append((doc["entry"], n, item["code"], item["name"],
                           fixed(ln["qty"], 3), item["unit"],
                           fixed(ln["price"], 2), "TRY",
                           fixed(ln["disc"], 2), fixed(ln["total"], 2),
                           VAT_GROUPS[item["vat"]],
                           fixed(item["vat"] * 100, 2), fixed(ln["vat"], 2),
                           ln["whs"], acct, bp["slp"],
                           13 if base else -1,
                           base["entry"] if base else None,
                           n if base else None))
    return heads, lines


def payment_rows(payments, inv_type):
    heads, lines = [], []
    for pay in payments:
        bp, total = pay["bp"], fixed(pay["total"], 2)
        zero = "0.00"
        cash = total if pay["means"] == "cash" else zero
        check = total if pay["means"] == "check" else zero
        trsfr = total if pay["means"] == "trsfr" else zero
        acct = means_account(pay, inv_type == "13")
        heads.append((pay["entry"], pay["entry"], "C" if inv_type == "13"
                      else "S", "N", iso(pay["date"]),
                      iso(pay["date"]), iso(pay["date"]),
                      bp["code"], bp["name"], "TRY", total, cash,
                      acct if cash != zero else None, check,
                      acct if check != zero else None, trsfr,
                      acct if trsfr != zero else None, pay["trans"], None))
        for n, (inv, amount) in enumerate(pay["applied"]):
            lines.append((pay["entry"], n, inv["entry"], inv_type,
                          fixed(amount, 2)))
    return heads, lines


def stock_rows(rng, items):
    """OITW and OITM stock figures.  They are made up per warehouse, not
    derived from the documents, so some items run short."""
    oitw, totals = [], {}
    for item in items:
        scale = 3 if item["unit"] in ("Kg", "Metre") else 0
        avg = inflate(item["cost_mk"] * 10, AS_OF)  # millionths
        for whs, _, _ in WAREHOUSES:
            on_hand = 0 if rng.chance(0.12) else \
                int(square(rng.unit()) * 800 * 10 ** scale)
            committed = int(on_hand * rng.unit() * 0.3)
            on_order = 0 if rng.chance(0.7) else rng.between(10, 200) * \
                10 ** scale
            min_stock = rng.pick([0, 0, 20, 50, 100]) * 10 ** scale
            avg_whs = avg + rng.between(-avg // 50, avg // 50)
            on_hand *= 10 ** (3 - scale)
            committed *= 10 ** (3 - scale)
            on_order *= 10 ** (3 - scale)
            min_stock *= 10 ** (3 - scale)
            oitw.append((item["code"], whs, fixed(on_hand, 3),
                         fixed(committed, 3), fixed(on_order, 3),
                         fixed(min_stock, 3), fixed(avg_whs, 6)))
            t = totals.setdefault(item["code"], [0, 0, 0, 0])
            for k, v in enumerate((on_hand, committed, on_order, min_stock)):
                t[k] += v
        item["avg"] = avg
    oitm = []
    for item in items:
        t = totals[item["code"]]
        last = inflate(item["cost_mk"], AS_OF) // 1000
        oitm.append((item["code"], item["name"], item["group"], item["unit"],
                     VAT_GROUPS[item["vat"]], item["vendor"],
                     fixed(t[0], 3), fixed(t[1], 3), fixed(t[2], 3),
                     fixed(t[3], 3), fixed(item["avg"], 6), fixed(last, 2),
                     "Y", "Y", "Y", "Y"))
    return oitm, oitw


def partner_rows(partners, journal):
    rows = []
    for p in partners:
        rows.append((p["code"], p["name"], p["kind"], p["group"], p["city"],
                     p["phone"], p["email"], p["taxno"], "TRY", p["terms"],
                     p["slp"], fixed(p["credit"], 2),
                     fixed(journal.partner_totals.get(p["code"], 0), 2),
                     "Y"))
    return rows


def account_rows(journal):
    rows = []
    for code, name, father, postable, level, group in ACCOUNTS:
        if postable == "Y":
            total = journal.account_totals.get(code, 0)
        else:
            total = sum(v for k, v in journal.account_totals.items()
                        if k.startswith(code))
        rows.append((code, name, fixed(total, 2), father, postable, level,
                     group))
    return rows


# --- writing -------------------------------------------------------------

def create_schema(db):
    for table, cols in SCHEMA.items():
        parts = []
        for name, decl in cols:
            parts.append('"%s" %s' % (name, decl) if name else decl)
        db.execute('CREATE TABLE "%s" (%s)' % (table, ", ".join(parts)))


def insert(db, table, rows):
    ncols = sum(1 for name, _ in SCHEMA[table] if name)
    marks = ", ".join("?" * ncols)
    db.executemany('INSERT INTO "%s" VALUES (%s)' % (table, marks), rows)


def generate(path, total_lines, seed):
    rng = Rng(seed)
    partners = make_partners(rng)
    customers = [p for p in partners if p["kind"] == "C"]
    suppliers = [p for p in partners if p["kind"] == "S"]
    items = make_items(rng, suppliers)

    sales = make_sales(rng, customers, items, total_lines)
    memos = make_returns(rng, sales)
    purchases = make_purchases(rng, suppliers, total_lines)
    receipts = make_payments(rng, sales, False)
    outgoing = make_payments(rng, purchases, True)
    journal = Journal()
    post_all(journal, sales, memos, purchases, receipts, outgoing)
    oitm, oitw = stock_rows(rng, items)

    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    with db:
        create_schema(db)
        insert(db, "OACT", account_rows(journal))
        insert(db, "OCRG", BP_GROUPS)
        insert(db, "OCTG", TERMS)
        insert(db, "OSLP", [(c, n, "Y") for c, n in SALES_PEOPLE])
        insert(db, "OCRD", partner_rows(partners, journal))
        insert(db, "OITB", [(g[0], g[1]) for g in ITEM_GROUPS])
        insert(db, "OWHS", WAREHOUSES)
        insert(db, "OITM", oitm)
        insert(db, "OITW", oitw)
        for head, body, docs, obj, acct in (
                ("OINV", "INV1", sales, "13", ACC_SALES),
                ("ORIN", "RIN1", memos, "14", ACC_RETURNS),
                ("OPCH", "PCH1", purchases, "18", ACC_STOCK)):
            heads, lines = doc_rows(docs, obj, acct)
            insert(db, head, heads)
            insert(db, body, lines)
        for head, body, pays, inv_type in (("ORCT", "RCT2", receipts, "13"),
                                           ("OVPM", "VPM2", outgoing, "18")):
            heads, lines = payment_rows(pays, inv_type)
            insert(db, head, heads)
            insert(db, body, lines)
        insert(db, "OJDT", journal.headers)
        insert(db, "JDT1", journal.lines)
        for table, col in INDEXES:
            db.execute('CREATE INDEX "%s_%s" ON "%s" ("%s")' %
                       (table, col, table, col))
        db.execute("ANALYZE")
    db.close()
    return {"INV1": total_lines, "OINV": len(sales), "ORIN": len(memos),
            "OPCH": len(purchases), "ORCT": len(receipts),
            "OVPM": len(outgoing), "JDT1": len(journal.lines)}


def main(argv):
    ap = argparse.ArgumentParser(
        description="Write the SAP B1-shaped demo database (SQLite).")
    ap.add_argument("output", help="the database file to (re)create")
    ap.add_argument("--lines", type=int, default=DEFAULT_LINES,
                    help="A/R invoice lines (INV1), default %(default)s")
    ap.add_argument("--seed", type=int, default=SEED,
                    help="another seed gives other, equally shaped data")
    args = ap.parse_args(argv)
    if args.lines < 1:
        ap.error("--lines must be at least 1")

    began = time.monotonic()
    tmp = "%s.tmp-%d" % (args.output, os.getpid())
    try:
        counts = generate(tmp, args.lines, args.seed)
        os.replace(tmp, args.output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print("%s: %s, data %s to %s, in %.1f s" % (
        args.output, ", ".join("%s %d" % kv for kv in counts.items()),
        iso(START), iso(AS_OF), time.monotonic() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
