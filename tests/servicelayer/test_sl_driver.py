"""The servicelayer driver against the Service Layer emulator, through
sltool: OData and SQL reports equal the same data read straight from
SQLite, sessions, paging, errors, TLS, timeouts and cancelling."""
import math
import os
import time

import pytest

from conftest import sqlite_rows

CARD_TYPES = {"C": "cCustomer", "S": "cSupplier", "L": "cLid"}
BP_ODATA = ("BusinessPartners?$select=CardCode,CardName,CardType,"
            "CurrentAccountBalance,CreateDate&$filter=CardType eq "
            "'cCustomer'")
BP_SQL = ('SELECT "CardCode", "CardName", "CardType", "Balance", '
          '"CreateDate" FROM OCRD WHERE "CardType" = \'C\' '
          'ORDER BY "CardCode"')
INV_SQL = ('SELECT "DocEntry", "CardCode", "DocDate", "DocTotal", '
           '"Comments" FROM OINV WHERE "CardCode" = :card AND '
           'CAST("DocTotal" AS REAL) >= :least ORDER BY "DocEntry"')

versions = pytest.mark.parametrize("version", [1, 2])


def ok(res, rows=None):
    assert res.runs and res.runs[-1][0] == "E", res.out + res.err
    if rows is not None:
        assert res.runs[-1][1] == rows


def failed(res, status):
    assert res.runs and res.runs[-1][0] == "X", res.out + res.err
    assert res.runs[-1][1] == status, res.out
    assert res.rc == -status
    return res.runs[-1][2]


# ---- OData reports ------------------------------------------------------

@versions
def test_odata_report_equals_sqlite(sl, run, demo_db, version):
    emu = sl()
    res = run(emu, version=version, odata=BP_ODATA, page_size=7)
    ok(res)
    want = sqlite_rows(demo_db, BP_SQL)
    for r in want:
        r[2] = CARD_TYPES[r[2]]
    assert res.names == ["CardCode", "CardName", "CardType",
                         "CurrentAccountBalance", "CreateDate"]
    assert res.types == ["text", "text", "text", "decimal", "date"]
    assert res.rows == want
    assert emu.count("pages") == math.ceil(len(want) / 7)
    assert emu.count("links_relative") and emu.count("links_absolute")
    assert emu.count("routeid_seen") >= emu.count("pages")


def test_values_keep_their_exact_text(sl, run):
    res = run(sl(), odata="BusinessPartners?$select=CardCode,CardName,"
              "CurrentAccountBalance&$orderby=CardCode", page_size=5)
    ok(res)
    got = {r[0]: r[1:] for r in res.rows}
    assert got["C00001"] == ["Şişli Gıda Ticaret A.Ş.", "12345.678900"]
    assert got["C00002"] == ['Çağlayan "Öz" Yapı, Ltd.', "0.10"]
    assert got["C00003"] == ["İzmir Ünlü\nİkinci satır", "-987654.321"]
    assert got["C00004"] == ["Tab\there; semi", "0"]
    assert got["C00005"] == ["", "100"]
    assert got["S00001"] == ["Ğüneş Tedarik ıöüçşğ İÖÜÇŞĞ", "5000000.5"]
    assert got["S00002"] == [None, None]


def test_odata_without_select_takes_the_first_entity(sl, run):
    emu = sl()
    res = run(emu, odata="Items?$orderby=ItemCode desc&$top=25",
              page_size=10)
    ok(res, 25)
    assert res.names == [p.name for p in emu.sets["Items"].props]
    assert not [n for n in res.names if "odata" in n]
    assert res.rows[0][0] == "A00079"
    assert res.types[res.names.index("QuantityOnStock")] == "decimal"
    assert res.types[res.names.index("ItemsGroupCode")] == "integer"
    assert emu.count("pages") == 3


def test_one_entity_by_key(sl, run):
    res = run(sl(), odata="BusinessPartners('C00001')")
    ok(res, 1)
    assert res.rows[0][res.names.index("CardName")] == \
        "Şişli Gıda Ticaret A.Ş."


def test_empty_result_keeps_the_selected_columns(sl, run):
    res = run(sl(), odata="Items?$select=ItemCode,ItemName&$filter="
              "ItemCode eq 'none'")
    ok(res, 0)
    assert res.names == ["ItemCode", "ItemName"]


@pytest.mark.parametrize("style", ["relative", "absolute", "full"])
def test_every_next_link_form(sl, run, demo_db, style):
    emu = sl(link_style=style)
    res = run(emu, odata="Invoices?$select=DocEntry,DocTotal",
              page_size=64)
    want = sqlite_rows(demo_db, 'SELECT "DocEntry", "DocTotal" FROM OINV '
                       'ORDER BY "DocEntry"')
    ok(res, len(want))
    assert res.rows == want
    assert emu.count("links_" + style) == math.ceil(len(want) / 64) - 1


def test_odata_parameters_are_bound_as_literals(sl, run):
    emu = sl()
    q = "BusinessPartners?$select=CardCode&$filter=CardName eq :name"
    res = run(emu, odata=q, params=[("name", "Aday Müşteri 'tırnak'")])
    ok(res)
    assert res.rows == [["L00001"]]
    res = run(emu, odata=q, params=[("name", "x' or CardCode ne 'y")])
    ok(res, 0)
    res = run(emu, odata="BusinessPartners?$select=CardCode&$filter="
              "CardCode eq :code", params=[("code", "00123")])
    ok(res, 0)


# ---- SQL reports ----------------------------------------------------------

@versions
def test_sql_report_equals_sqlite(sl, run, demo_db, version):
    emu = sl()
    params = [("card", "C00002"), ("least", "1000.5")]
    res = run(emu, version=version, sql=INV_SQL, label="faturalar",
              params=params, page_size=5)
    want = sqlite_rows(demo_db, INV_SQL.replace(":card", "?").replace(
        ":least", "?"), ("C00002", 1000.5))
    ok(res, len(want))
    assert len(want) > 10
    assert res.names == ["DocEntry", "CardCode", "DocDate", "DocTotal",
                         "Comments"]
    assert res.types == ["integer", "text", "date", "decimal", "text"]
    assert res.rows == want
    assert emu.count("sqlquery_create") == 1
    assert emu.count("list") == emu.count("pages")
    assert emu.count("pages") == math.ceil(len(want) / 5)
    stored = emu.queries["sapb1fs_faturalar"]
    assert stored["ParamList"] == "card,least"


def test_stored_query_is_created_once_then_patched_on_change(sl, run):
    emu = sl()
    base = 'SELECT "ItemCode", "ItemName" FROM OITM ORDER BY "ItemCode"'
    ok(run(emu, sql=base, label="stok"), 80)
    ok(run(emu, sql=base, label="stok"), 80)
    assert emu.count("sqlquery_create") == 1
    assert emu.count("sqlquery_patch") == 0
    changed = base.replace('"ItemName"', '"ItemName", "OnHand"')
    res = run(emu, sql=changed + ";\n", label="stok")
    ok(res, 80)
    assert emu.count("sqlquery_patch") == 1
    assert res.names == ["ItemCode", "ItemName", "OnHand"]
    assert emu.count("sqlquery_create") == 1


def other_host_patches(at_call):
    """An on_list hook: at List call @at_call, another definition under
    the same name replaces the stored query, as a second host would."""
    calls = []

    def hook(emu, code):
        calls.append(code)
        if len(calls) == at_call:
            q = emu.queries[code]
            q["SqlName"] = "sapb1fs 0000000000000000 other"
            q["SqlText"] = 'SELECT "CardCode" FROM OCRD'
    return hook


def test_stored_query_changed_before_list_is_restored(sl, run, demo_db):
    emu = sl()
    q = 'SELECT "DocEntry", "DocTotal" FROM OINV ORDER BY "DocEntry"'
    emu.on_list = other_host_patches(1)
    res = run(emu, sql=q, label="race", page_size=100)
    ok(res, 500)
    assert res.rows == sqlite_rows(demo_db, q)
    assert emu.count("sqlquery_patch") == 1


def test_stored_query_changed_while_paging_is_an_error(sl, run):
    emu = sl()
    q = 'SELECT "DocEntry", "DocTotal" FROM OINV ORDER BY "DocEntry"'
    emu.on_list = other_host_patches(3)
    res = run(emu, sql=q, label="race", page_size=100)
    assert "changed on the Service Layer while it ran" in failed(res, -1)


def test_sql_parameters_never_become_sql(sl, run, demo_db):
    emu = sl()
    q = ('SELECT "CardCode" FROM OCRD WHERE "CardName" = :name '
         'ORDER BY "CardCode"')
    res = run(emu, sql=q, label="p", params=[("name", "x' OR '1'='1")])
    ok(res, 0)
    res = run(emu, sql=q, label="p",
              params=[("name", 'Çağlayan "Öz" Yapı, Ltd.')])
    ok(res)
    assert res.rows == [["C00002"]]
    res = run(emu, sql=q, label="p", params=[("name", "a&b='c'")])
    ok(res, 0)


def test_missing_parameter_is_a_query_error(sl, run):
    res = run(sl(), sql=INV_SQL, label="x", params=[("card", "C00001")])
    assert "no value for parameter :least" in failed(res, -1)


def test_sql_session_expires_in_the_middle_of_list_paging(sl, run,
                                                           demo_db):
    emu = sl()
    emu.expire_after_pages = 2
    q = 'SELECT "DocEntry", "DocTotal" FROM OINV ORDER BY "DocEntry"'
    res = run(emu, sql=q, label="all", page_size=50)
    ok(res, 500)
    assert res.rows == sqlite_rows(demo_db, q)
    assert emu.count("login") == 2
    assert emu.count("unauthorized") == 1


# ---- sessions -----------------------------------------------------------

@versions
def test_session_expires_in_the_middle_of_paging(sl, run, demo_db,
                                                 version):
    emu = sl()
    emu.expire_after_pages = 3
    res = run(emu, version=version, odata="Invoices?$select=DocEntry,"
              "DocTotal&$top=100", page_size=10)
    ok(res, 100)
    assert res.rows == sqlite_rows(
        demo_db, 'SELECT "DocEntry", "DocTotal" FROM OINV '
        'ORDER BY "DocEntry" LIMIT 100')
    assert emu.count("login") == 2
    assert emu.count("unauthorized") == 1
    assert emu.count("pages") == 10


def test_logs_in_again_before_the_idle_timeout(sl, run):
    emu = sl(session_timeout=2.0, reported_timeout=2.0 / 60)
    res = run(emu, odata="Items?$select=ItemCode&$top=3",
              extra=["--runs", "2", "--sleep", "2300"])
    assert [r[0] for r in res.runs] == ["E", "E"], res.out + res.err
    assert emu.count("login") == 2
    assert emu.count("unauthorized") == 0


def test_forgotten_session_is_renewed(sl, stepper):
    emu = sl()
    s = stepper(emu, 2, odata="Items?$select=ItemCode&$top=3")
    assert s.until_step()[0][0] == "E"
    emu.expire_sessions()
    s.go()
    assert s.until_step()[0][0] == "E"
    s.finish()
    assert emu.count("unauthorized") == 1
    assert emu.count("login") == 2


def test_logout_at_disconnect(sl, run):
    emu = sl()
    ok(run(emu, odata="Items?$top=1"), 1)
    assert emu.count("logout") == 1
    assert emu.session_count() == 0


@versions
def test_wrong_password(sl, run, version):
    emu = sl()
    secret = "Wr0ng-S3cret!"
    res = run(emu, version=version, odata="Items", password=secret)
    msg = failed(res, -4)
    assert "login as manager to company SBODEMOTR refused" in msg
    assert "invalid user name or password" in msg
    assert secret not in res.out + res.err
    assert emu.count("login_failed") == 1


def test_wrong_company(sl, run, sltool_exe):
    emu = sl(company="OTHERDB")
    msg = failed(run(emu, odata="Items"), -4)
    assert "company 'SBODEMOTR' is unknown" in msg


# ---- errors ------------------------------------------------------------

@versions
def test_both_error_shapes_reach_the_user(sl, run, version):
    emu = sl()
    res = run(emu, version=version, odata="BusinessPartners?$select=Nope")
    assert failed(res, -1) == (
        "query failed: Property 'Nope' of 'BusinessPartner' is invalid "
        "(error -1, HTTP 400)")
    res = run(emu, version=version, sql="select * from OCRD", label="s")
    msg = failed(res, -1)
    assert "'select *' is not supported" in msg
    assert "error 703, HTTP 400" in msg


def test_unknown_entity_set(sl, run):
    msg = failed(run(sl(), odata="Nonsense?$top=1"), -1)
    assert "Unrecognized resource path" in msg and "HTTP 404" in msg


# ---- TLS ----------------------------------------------------------------

def test_unknown_ca_is_refused(sl, run):
    emu = sl()
    msg = failed(run(emu, odata="Items", ca=None), -2)
    assert "not trusted" in msg
    assert "127.0.0.1" in msg


def test_ca_file_makes_it_trusted(sl, run):
    ok(run(sl(), odata="Items?$top=2"), 2)


def test_certificate_for_another_name_is_refused(sl, run):
    emu = sl(host="127.0.0.2")
    msg = failed(run(emu, odata="Items"), -2)
    assert "127.0.0.2" in msg


def test_verify_tls_off_warns_once(sl, run):
    res = run(sl(), odata="Items?$top=1", ca=None,
              extra=["--no-verify", "--runs", "2", "--reconnect"])
    assert [r[0] for r in res.runs] == ["E", "E"], res.out + res.err
    warnings = [line for line in res.err.splitlines()
                if "server identity not checked" in line]
    assert len(warnings) == 1, res.err
    assert "verify_tls = no" in warnings[0]


# ---- a server that goes away, hangs, or is cancelled --------------------

def test_emulator_stopped_and_restarted(sl, stepper):
    emu = sl()
    s = stepper(emu, 3, odata="Items?$select=ItemCode&$top=5")
    assert s.until_step() == [["E", "5"]]
    emu.stop()
    s.go()
    runs = s.until_step()
    assert runs[0][:2] == ["X", "-2"], runs
    assert "cannot reach https://127.0.0.1:%d" % emu.port in runs[0][2]
    emu.start()
    s.go()
    assert s.until_step() == [["E", "5"]]
    s.finish()
    assert emu.count("login") == 2


def test_restart_keeps_the_connection_working(sl, stepper):
    emu = sl()
    s = stepper(emu, 2, odata="Items?$select=ItemCode&$top=5")
    assert s.until_step() == [["E", "5"]]
    emu.restart()
    s.go()
    assert s.until_step() == [["E", "5"]]
    s.finish()
    assert emu.count("unauthorized") == 1


def test_unresponsive_server_times_out(sl, stepper):
    emu = sl()
    s = stepper(emu, 2, odata="Items?$top=5", timeout=2)
    assert s.until_step() == [["E", "5"]]
    emu.set_hang(True)
    t0 = time.monotonic()
    s.go()
    runs = s.until_step()
    took = time.monotonic() - t0
    emu.set_hang(False)
    s.finish()
    assert runs[0][:2] == ["X", "-3"], runs
    assert "no answer from" in runs[0][2]
    assert 1.5 < took < 6


def test_unresponsive_server_at_login_times_out(sl, run):
    emu = sl()
    emu.set_hang(True)
    t0 = time.monotonic()
    res = run(emu, odata="Items", timeout=2)
    emu.set_hang(False)
    assert failed(res, -3)
    assert time.monotonic() - t0 < 6


def test_cancel_stops_a_transfer_at_once(sl, stepper):
    emu = sl()
    s = stepper(emu, 2, odata="Items?$top=5", timeout=60,
                extra=["--cancel-after", "400"])
    assert s.until_step() == [["E", "5"]]
    emu.set_hang(True)
    t0 = time.monotonic()
    s.go()
    runs = s.until_step()
    took = time.monotonic() - t0
    emu.set_hang(False)
    s.finish()
    assert runs[0][:2] == ["X", "-3"], runs
    assert "cancelled" in runs[0][2]
    assert took < 3


# ---- the project's demo database ----------------------------------------

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "contrib", "demo")


@pytest.fixture(scope="module")
def gen_demo_db(tmp_path_factory):
    script = os.path.join(DEMO, "gen_demo.py")
    if not os.path.exists(script):
        pytest.skip("contrib/demo/gen_demo.py is not there")
    path = str(tmp_path_factory.mktemp("gendemo") / "demo.db")
    import subprocess
    subprocess.run(["/usr/bin/python3", script, path, "--lines", "3000"],
                   check=True, capture_output=True)
    return path


def report_body(name):
    with open(os.path.join(DEMO, "reports", name + ".sql")) as f:
        lines = f.read().splitlines()
    while lines and lines[0].startswith("-- ") and ":" in lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def test_demo_report_through_sqlqueries(sl, run, gen_demo_db):
    if not os.path.exists(os.path.join(DEMO, "reports",
                                       "supplier-balances.sql")):
        pytest.skip("the demo report is not there")
    emu = sl(db=gen_demo_db)
    body = report_body("supplier-balances")
    res = run(emu, sql=body, label="supplier-balances", page_size=7)
    want = sqlite_rows(gen_demo_db, body)
    ok(res, len(want))
    assert res.names[:2] == ["Tedarikçi kodu", "Tedarikçi adı"]
    assert res.rows == want


def test_demo_items_through_odata(sl, run, gen_demo_db):
    emu = sl(db=gen_demo_db)
    res = run(emu, odata="Items?$select=ItemCode,ItemName,QuantityOnStock"
              "&$filter=QuantityOnStock gt 0&$orderby=ItemCode",
              page_size=25)
    want = sqlite_rows(gen_demo_db, 'SELECT "ItemCode", "ItemName", '
                       '"OnHand" FROM OITM WHERE CAST("OnHand" AS REAL) '
                       '> 0 ORDER BY "ItemCode"')
    ok(res, len(want))
    assert res.rows == want
    assert res.types == ["text", "text", "decimal"]


# ---- memory ---------------------------------------------------------------

@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    import emulator
    return emulator.make_demo_db(
        str(tmp_path_factory.mktemp("big") / "big.db"), invoices=30000)


def maxrss_kb(res):
    for line in res.err.splitlines():
        if "maxrss_kb=" in line:
            return int(line.split("maxrss_kb=")[1])
    raise AssertionError("no maxrss in " + res.err)


@pytest.mark.slow
def test_memory_stays_flat(sl, run, big_db):
    emu = sl(db=big_db)
    small = run(emu, odata="Invoices?$top=1000", page_size=500,
                extra=["--stats", "--csv", os.devnull])
    ok(small, 1000)
    large = run(emu, odata="Invoices", page_size=500,
                extra=["--stats", "--csv", os.devnull], timeout=120)
    ok(large, 30000)
    assert maxrss_kb(large) - maxrss_kb(small) < 4096
