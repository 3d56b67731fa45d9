"""":name" placeholders are bound as values, never pasted into the SQL."""

EVIL = "'; DROP TABLE victim; --"


def cast_text(source, name):
    return f":{name}" if source.name == "sqlite" else f"cast(:{name} as text)"


def make_victim(source, pg, sqlite_db):
    if source.name == "sqlite":
        import sqlite3
        db = sqlite3.connect(sqlite_db)
        db.execute("create table if not exists victim (x int)")
        db.commit()
        db.close()
    else:
        pg.psql("create table if not exists victim (x int)")


def victim_exists(source, pg, sqlite_db):
    if source.name == "sqlite":
        import sqlite3
        db = sqlite3.connect(sqlite_db)
        n = db.execute("select count(*) from sqlite_master "
                       "where name = 'victim'").fetchone()[0]
        db.close()
        return n == 1
    return pg.psql("select to_regclass('victim') is not null").strip() == "t"


def test_sql_in_a_value_stays_a_value(any_source, query, pg, sqlite_db):
    make_victim(any_source, pg, sqlite_db)
    v = cast_text(any_source, "v")
    r = query(any_source, f"select {v} as v, {v} || 'x' as w",
              [("v", EVIL)])
    assert r.exit == 0, r.stderr
    assert r.run.values() == [[EVIL, EVIL + "x"]]
    assert victim_exists(any_source, pg, sqlite_db)


def test_turkish_value_and_null(any_source, query):
    a, b = cast_text(any_source, "a"), cast_text(any_source, "b")
    r = query(any_source, f"select {a} as a, {b} as b, :c as c",
              [("a", "Şirket ĞÜİ 😀"), ("b", None), ("c", "")])
    assert r.exit == 0, r.stderr
    assert r.run.values() == [["Şirket ĞÜİ 😀", None, ""]]


def test_value_compared_with_a_column(pg_source, query):
    """A text-bound value still compares with int and date columns."""
    r = query(pg_source, "select id from typed where id = cast(:id as int) "
              "and d = cast(:day as date)",
              [("id", "1"), ("day", "1899-12-31")])
    assert r.exit == 0, r.stderr
    assert r.run.values() == [["1"]]


def test_placeholders_in_literals_and_casts_are_left(pg_source, query):
    r = query(pg_source, "select ':a' as lit, 5::text as c, "
              "cast(:a as text) as a", [("a", "v")])
    assert r.exit == 0, r.stderr
    assert r.run.values() == [[":a", "5", "v"]]


def test_missing_value_is_a_query_error(any_source, query):
    r = query(any_source, "select :nope as x")
    assert r.exit == 1
    assert "nope" in r.run.error
