"""The emulator itself, spoken to with plain HTTP requests: that it
answers the way SAP's documentation says the Service Layer does, so the
driver tests mean something."""
import http.client
import json
import ssl

import pytest


class Client:
    def __init__(self, emu, ca, version=1):
        ctx = ssl.create_default_context(cafile=ca)
        self.conn = http.client.HTTPSConnection("127.0.0.1", emu.port,
                                                context=ctx, timeout=10)
        self.root = "/b1s/v%d" % version
        self.cookie = None

    def call(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, self.root + "/" + path, data, h)
        r = self.conn.getresponse()
        raw = r.read()
        return r, (json.loads(raw) if raw else None)

    def login(self, password="1234"):
        r, body = self.call("POST", "Login", {
            "CompanyDB": "SBODEMOTR", "UserName": "manager",
            "Password": password})
        cookies = [v.split(";")[0] for k, v in r.getheaders()
                   if k.lower() == "set-cookie"]
        if r.status == 200:
            self.cookie = "; ".join(cookies)
        return r, body, cookies


@pytest.fixture
def client(sl, pki):
    emu = sl()
    return lambda version=1: Client(emu, pki[0], version), emu


def test_login_answer_and_cookies(client):
    make, emu = client
    r, body, cookies = make().login()
    assert r.status == 200
    assert cookies[0].startswith("B1SESSION=")
    assert cookies[0] == "B1SESSION=" + body["SessionId"]
    assert cookies[1] == "ROUTEID=.node1"
    assert body["SessionTimeout"] == 30
    assert body["odata.metadata"].endswith("$metadata#B1Sessions/@Element")
    r, body, _ = make(2).login()
    assert "@odata.context" in body


@pytest.mark.parametrize("version", [1, 2])
def test_error_shapes(client, version):
    make, emu = client
    c = make(version)
    r, body = c.call("GET", "Items")
    assert r.status == 401
    if version == 1:
        assert body == {"error": {"code": 301, "message": {
            "lang": "en-us",
            "value": "Invalid session or session already timeout."}}}
    else:
        assert body == {"error": {
            "code": "301",
            "message": "Invalid session or session already timeout."}}
    r, body, _ = c.login(password="wrong")
    assert r.status == 401 and "error" in body


@pytest.mark.parametrize("version", [1, 2])
def test_paging_and_preference(client, version):
    make, emu = client
    c = make(version)
    c.login()
    r, body = c.call("GET", "Items?$select=ItemCode")
    assert len(body["value"]) == 20
    assert r.getheader("Preference-Applied") is None
    key = "odata.nextLink" if version == 1 else "@odata.nextLink"
    other = "@odata.nextLink" if version == 1 else "odata.nextLink"
    assert key in body and other not in body
    r, body = c.call("GET", "Items?$select=ItemCode",
                     headers={"Prefer": "odata.maxpagesize=50"})
    assert r.getheader("Preference-Applied") == "odata.maxpagesize=50"
    assert len(body["value"]) == 50
    r, body = c.call("GET", "Items?$select=ItemCode&$skip=50",
                     headers={"Prefer": "odata.maxpagesize=50"})
    assert len(body["value"]) == 30 and key not in body
    r, body = c.call("GET", "Items?$select=ItemCode",
                     headers={"Prefer": "odata.maxpagesize=0"})
    assert len(body["value"]) == 80


def test_sqlqueries_crud_and_list(client):
    make, emu = client
    c = make()
    c.login()
    r, body = c.call("POST", "SQLQueries", {
        "SqlCode": "q1", "SqlName": "n",
        "SqlText": "select  ItemCode from OITM where ItmsGrpCod = :g"})
    assert r.status == 201
    assert body["ParamList"] == "g"
    assert body["SqlText"] == "select ItemCode from OITM where " \
        "ItmsGrpCod = :g"
    r, body = c.call("PATCH", "SQLQueries('q1')", {"SqlName": "m"})
    assert r.status == 204 and body is None
    r, body = c.call("GET", "SQLQueries('q1')")
    assert body["SqlName"] == "m"
    r, body = c.call("POST", "SQLQueries('q1')/List",
                     {"ParamList": "g=101"},
                     headers={"Prefer": "odata.maxpagesize=5"})
    assert body["SqlText"].startswith("select ItemCode")
    assert len(body["value"]) == 5
    assert body["odata.nextLink"].startswith("SQLQueries('q1')/List?&g=101")
    r, body = c.call("GET", "SQLQueries('q1')/List?g=101&$skip=15",
                     headers={"Prefer": "odata.maxpagesize=5"})
    assert len(body["value"]) == 1 and "odata.nextLink" not in body
    r, body = c.call("GET", "SQLQueries")
    assert [q["SqlCode"] for q in body["value"]] == ["q1"]
    r, body = c.call("DELETE", "SQLQueries('q1')")
    assert r.status == 204
    r, body = c.call("GET", "SQLQueries('q1')")
    assert r.status == 404


def test_logout(client):
    make, emu = client
    c = make()
    c.login()
    r, body = c.call("POST", "Logout")
    assert r.status == 204 and body is None
    r, body = c.call("GET", "Items")
    assert r.status == 401
