"""Table metadata in the ledger: every change is an entry, proxies read the
latest word on each table and a version that moves when anything changes."""

EMPLOYEES = {"privacy_unit": "id", "columns": {"id": {"type": "integer"}}}


def test_tables_are_recorded_replayed_and_versioned(pure):
    assert pure.tables() == (0, {})
    assert pure.set_table("employees", EMPLOYEES, actor="dpsql.yaml", reason="seed")
    assert not pure.set_table("employees", EMPLOYEES, actor="dpsql.yaml", reason="seed")
    version, tables = pure.tables()
    assert tables == {"employees": EMPLOYEES} and version > 0
    wider = {**EMPLOYEES, "max_rows_per_unit": 3}
    assert pure.set_table("employees", wider, actor="owner:olivia", reason="visits",
                          note={"loosens": ["max_rows_per_unit 1 -> 3"]})
    later, tables = pure.tables()
    assert later > version and tables["employees"] == wider
    entry = [e for e in pure.entries() if e.kind == "table"][-1]
    assert entry.actor == "owner:olivia" and entry.detail["note"]["loosens"]
    assert pure.set_table("employees", None, actor="owner:olivia", reason="withdrawn")
    assert pure.tables()[1] == {}
    assert pure.verify().ok


def test_what_one_actor_last_said_is_kept_apart(pure):
    pure.set_table("employees", EMPLOYEES, actor="dpsql.yaml", reason="seed")
    wider = {**EMPLOYEES, "max_rows_per_unit": 3}
    pure.set_table("employees", wider, actor="owner:olivia", reason="visits")
    assert pure.tables(actor="dpsql.yaml")[1] == {"employees": EMPLOYEES}
    assert pure.tables()[1] == {"employees": wider}
