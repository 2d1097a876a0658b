"""Owner changes that say what they do (issue #19): checked against the database
(400, nothing changes), PUT reports what it removed, PATCH changes one setting,
DELETE withdraws a table; no analyst pays for a metadata mistake; a raised budget
keeps its expiry; the CLI and the API validate grants alike."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.cli import main

from .conftest import Proxy


def _table_entries(proxy: Proxy) -> list[dict[str, Any]]:
    entries = proxy.client.get("/v1/ledger", params={"kind": "table"},
                               headers=proxy.headers("carl")).json()["entries"]
    return [e for e in entries if e["kind"] == "table"]


def _charges(proxy: Proxy) -> list[dict[str, Any]]:
    entries = proxy.client.get("/v1/ledger", headers=proxy.headers("carl")).json()["entries"]
    return [e for e in entries if e["kind"] == "charge"]


def _employees(proxy: Proxy) -> dict[str, Any]:
    return proxy.client.get("/v1/admin/tables/employees", headers=proxy.headers("olivia")).json()


@pytest.mark.parametrize(("name", "change", "fragment"), [
    ("payroll", lambda d: {"privacy_unit": "id", "columns": {"id": {"type": "integer"}}},
     "tables.payroll: no such table in the database"),
    ("employees", lambda d: {**d, "columns": {**d["columns"], "bonus": {"type": "float",
                                                                        "lower": 0, "upper": 5}}},
     "tables.employees.columns.bonus: no such column"),
    ("employees", lambda d: {**d, "columns": {**d["columns"], "name": {"type": "integer"}}},
     "tables.employees.columns.name: declared `integer`, but the database stores"),
])
def test_mistakes_are_refused_and_nothing_changes_and_nobody_pays(
        proxy: Proxy, name: str, change: Any, fragment: str) -> None:
    owner = proxy.headers("olivia")
    before = _table_entries(proxy)
    response = proxy.client.put(f"/v1/admin/tables/{name}", json=change(_employees(proxy)),
                                headers=owner)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert fragment in response.json()["error"]["message"]
    assert _table_entries(proxy) == before
    # the analyst's query over what the owner meant to declare is refused before any charge
    for sql in ("SELECT COUNT(*) FROM payroll", "SELECT SUM(bonus) FROM employees",
                "SELECT SUM(name) FROM employees"):
        assert proxy.query(sql).status_code == 400
    assert _charges(proxy) == []


def test_put_replaces_and_reports_what_it_removed(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    small = {"privacy_unit": "id", "columns": {"id": {"type": "integer"},
                                               "age": {"type": "integer", "lower": 18,
                                                       "upper": 90}}}
    response = proxy.client.put("/v1/admin/tables/employees", json=small, headers=owner)
    assert response.status_code == 200, response.text
    report = response.json()
    assert set(report["removed"]) >= {"column salary", "column dept", "column name",
                                      "column hired"}
    assert "age.lower 16 -> 18" in report["tightens"] and report["loosens"] == []
    note = _table_entries(proxy)[-1]["detail"]["note"]
    assert note["removed"] == report["removed"] and note["tightens"] == report["tightens"]
    assert proxy.query("SELECT SUM(salary) FROM employees").status_code == 400


def test_patch_changes_one_setting_and_null_removes(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    response = proxy.client.patch("/v1/admin/tables/employees", headers=owner,
                                  json={"columns": {"salary": {"upper": 300000}}},
                                  params={"reason": "raise study"})
    assert response.status_code == 200, response.text
    assert response.json()["loosens"] == ["salary.upper 250000 -> 300000"]
    assert response.json()["removed"] == []
    document = _employees(proxy)
    assert document["columns"]["salary"] == {"type": "float", "lower": 0, "upper": 300000}
    assert "dept" in document["columns"]
    gone = proxy.client.patch("/v1/admin/tables/employees", headers=owner,
                              json={"columns": {"hired": None}})
    assert gone.status_code == 200 and gone.json()["removed"] == ["column hired"]
    wrong = proxy.client.patch("/v1/admin/tables/employees", headers=owner,
                               json={"columns": {"age": {"type": "text"}}})
    assert wrong.status_code == 400
    assert "bounds apply to integer and float" in wrong.json()["error"]["message"]
    missing = proxy.client.patch("/v1/admin/tables/payroll", headers=owner, json={})
    assert missing.status_code == 404


def test_delete_withdraws_a_table(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    used = proxy.client.delete("/v1/admin/tables/departments", headers=owner)
    assert used.status_code == 400
    assert "employees.dept read their public keys from it" in used.json()["error"]["message"]
    response = proxy.client.delete("/v1/admin/tables/visits", headers=owner,
                                   params={"reason": "no longer shared"})
    assert response.status_code == 200, response.text
    assert response.json()["metadata"] is None
    entry = _table_entries(proxy)[-1]
    assert entry["reason"] == "no longer shared"
    assert entry["detail"]["note"]["tightens"] == ["table removed"]
    refused = proxy.query("SELECT COUNT(*) FROM visits")
    assert refused.status_code == 400 and "does not exist" in refused.json()["error"]["message"]
    assert proxy.client.get("/v1/admin/tables/visits", headers=owner).status_code == 404
    assert proxy.client.delete("/v1/admin/tables/visits", headers=owner).status_code == 404
    assert proxy.client.delete("/v1/admin/tables/employees",
                               headers=proxy.headers("alice")).status_code == 403


@pytest.mark.parametrize("engine_kind", ["duckdb"])
def test_a_raised_budget_keeps_its_expiry_through_the_api(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    first = proxy.client.patch("/v1/admin/analysts/alice/budget", headers=owner,
                               json={"epsilon": 3, "delta": 1e-6, "expires": "2026-12-31"})
    assert first.status_code == 200, first.text
    assert first.json()["expires"].startswith("2027-01-01")
    raised = proxy.client.patch("/v1/admin/analysts/alice/budget", headers=owner,
                                json={"epsilon": 5, "delta": 1e-6})
    assert raised.json()["expires"] == first.json()["expires"]
    lifted = proxy.client.patch("/v1/admin/analysts/alice/budget", headers=owner,
                                json={"epsilon": 5, "delta": 1e-6, "expires": None})
    assert lifted.json()["expires"] is None


@pytest.mark.parametrize("engine_kind", ["duckdb"])
@pytest.mark.parametrize(("path", "body", "fragment"), [
    ("/v1/admin/analysts/alice/budget", {"epsilon": 1, "delta": 0, "expires": "2020-01-01"},
     "not in the future"),
    ("/v1/admin/analysts/olivia/budget", {"epsilon": 1, "delta": 0}, "holds no budget"),
    ("/v1/admin/analysts", {"name": "otto", "role": "owner",
                            "budget": {"epsilon": 1, "delta": 0}}, "holds no budget"),
    ("/v1/admin/analysts", {"name": "9lives", "role": "analyst"}, "name"),
])
def test_the_api_refuses_grants_the_cli_refuses(proxy: Proxy, path: str, body: dict[str, Any],
                                                fragment: str) -> None:
    send = proxy.client.patch if path.endswith("budget") else proxy.client.post
    response = send(path, json=body, headers=proxy.headers("olivia"))
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize("engine_kind", ["duckdb"])
def test_the_cli_keeps_the_expiry_and_validates_as_the_api(
        proxy: Proxy, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(proxy.config_path)
    base = ["analysts", "budget", "--config", config, "--reason", "test"]
    assert main([*base, "alice", "--epsilon", "3", "--delta", "1e-6",
                 "--expires", "2099-12-31"]) == 0
    assert main([*base, "alice", "--epsilon", "4", "--delta", "1e-6"]) == 0
    out = capsys.readouterr().out
    assert out.count("2100-01-01") == 2, out  # kept by the raise
    assert main([*base, "alice", "--epsilon", "4", "--delta", "1e-6",
                 "--expires", "2020-01-01"]) == 1
    assert "not in the future" in capsys.readouterr().err
    assert main([*base, "olivia", "--epsilon", "1"]) == 1
    assert "holds no budget" in capsys.readouterr().err
    assert main(["analysts", "add", "--config", config, "9lives", "--role", "analyst",
                 "--epsilon", "1"]) == 1
    assert "invalid_parameter: name '9lives'" in capsys.readouterr().err
    assert main(["analysts", "add", "--config", config, "otto", "--role", "compliance",
                 "--epsilon", "1"]) == 1
    assert "holds no budget" in capsys.readouterr().err


@pytest.mark.parametrize(("column", "fragment"), [
    ({"type": "integer", "lower": 16, "upper": 100, "public_keys": ["young", "old"]},
     "`public_keys` of an integer column must be integer values"),
    ({"type": "date", "public_keys": ["soon"]}, "`public_keys` of a date column"),
    ({"type": "integer", "lower": 16, "upper": 100,
      "public_keys": {"table": "departments", "column": "dept"}},
     "reads departments.dept, stored as"),
])
def test_public_keys_of_another_type_are_refused_before_any_charge(
        proxy: Proxy, column: dict[str, Any], fragment: str) -> None:
    document = _employees(proxy)
    document["columns"]["age"] = column
    response = proxy.client.put("/v1/admin/tables/employees", json=document,
                                headers=proxy.headers("olivia"))
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]
    assert proxy.query("SELECT age, COUNT(*) FROM employees GROUP BY age",
                       epsilon=1.0).status_code == 200  # the old metadata still serves
    dated = {**_employees(proxy)}
    dated["columns"]["hired"] = {"type": "date", "public_keys": ["2020-01-01", "2021-01-01"]}
    assert proxy.client.put("/v1/admin/tables/employees", json=dated,
                            headers=proxy.headers("olivia")).status_code == 200
    answer = proxy.query("SELECT hired, COUNT(*) FROM employees GROUP BY hired", epsilon=1.0)
    assert answer.status_code == 200, answer.text
    assert [r[0] for r in answer.json()["rows"]] == ["2020-01-01", "2021-01-01"]
