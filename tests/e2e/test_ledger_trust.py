"""Compliance can trust the ledger end to end (issue #20), over HTTP, on both ledger
backends: the server refuses a ledger that does not verify, refuses charges once a
derived table is edited under it, and every analyst request's outcome is in the
attempts log, listed and exported through the compliance API.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from accountant.errors import LedgerTampered
from accountant.ledger.checkpoints import load_key
from proxy.app import create_app
from proxy.cli import main as cli
from proxy.config import load_config
from proxy.demo import demo_config_yaml
from proxy.engines.base import Result
from tests.accountant.conftest import postgres_url
from tests.accountant.raw import execute, fetch_row
from tests.e2e.conftest import KEYS
from tests.pg import require_postgres, throwaway_database

COUNT = "SELECT COUNT(*) AS n FROM employees"


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path, demo_db: Path) -> Iterator[Path]:
    """A dpsql.yaml on the demo data; alice may spend ε = 1 under pure accounting."""
    document = yaml.safe_load(demo_config_yaml(str(demo_db), KEYS,
                                               ledger_path=str(tmp_path / "ledger.db")))
    document["privacy"].update(accounting="pure", max_query_epsilon=1.0,
                               dataset_budget={"epsilon": 100.0, "delta": 1e-3})
    document["analysts"]["alice"]["budget"] = {"epsilon": 1.0, "delta": 1e-6}
    document["engine"]["statement_timeout_s"] = 1.0
    path = tmp_path / "dpsql.yaml"
    if request.param == "sqlite":
        path.write_text(yaml.safe_dump(document))
        yield path
        return
    require_postgres()
    with throwaway_database("dpsql_trust") as (admin_dsn, _):
        load_key(tmp_path / "signing.key", create=True)
        document["ledger"] = {"url": postgres_url(admin_dsn), "checkpoints": {
            "key_file": "signing.key", "file": "checkpoints.jsonl"}}
        path.write_text(yaml.safe_dump(document))
        yield path


def ledger_url(path: Path) -> str:
    return load_config(path).ledger.url


@pytest.fixture
def serve(deployment: Path) -> Iterator[Callable[[], TestClient]]:
    started: list[TestClient] = []

    def start() -> TestClient:
        client = TestClient(create_app(load_config(deployment)), raise_server_exceptions=False)
        client.__enter__()
        started.append(client)
        return client

    yield start
    for client in started:
        client.__exit__(None, None, None)


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who]}"}


class _SlowOrBroken:
    """The real engine, made to run a statement that times out or fails in the engine."""

    def __init__(self, real: Any, statement: str) -> None:
        self.real, self.statement, self.dialect = real, statement, real.dialect

    def execute(self, sql: str, *, timeout_s: float | None = None) -> Result:
        return self.real.execute(self.statement)  # type: ignore[no-any-return]

    def close(self) -> None:
        pass


def ask(client: TestClient, sql: str, who: str = "alice", **params: Any) -> Any:
    return client.post("/v1/query", json={"sql": sql, **params}, headers=auth(who))


def test_every_kind_of_attempt_is_on_record(serve: Callable[[], TestClient],
                                            caplog: pytest.LogCaptureFixture) -> None:
    client = serve()
    pipeline = client.app.state.services.pipeline  # type: ignore[attr-defined]
    assert ask(client, COUNT, epsilon=0.25).status_code == 200                    # answered
    assert ask(client, COUNT, epsilon=0.25).json()["cached"] is True              # cached
    assert client.post("/v1/explain", json={"sql": COUNT},
                       headers=auth("alice")).status_code == 200                  # explained
    assert ask(client, "SELECT COUNT(* FROM employees").status_code == 400      # parse_error
    assert ask(client, "SELECT name, salary FROM employees").status_code == 400  # raw rows
    assert ask(client, COUNT, epsilon=-1).status_code == 400                     # bad ε
    assert ask(client, COUNT, epsilon="0.1").status_code == 400                  # ε as text
    assert ask(client, COUNT, who="carl").status_code == 403                     # forbidden
    real = pipeline.engine
    failed_ids = {}
    with caplog.at_level(logging.INFO, logger="dpsql.access"):
        for outcome, statement in (("timeout", "SELECT COUNT(*) FROM range(100000000000)"),
                                   ("failed", "SELECT CAST('x' AS INTEGER)")):
            pipeline.engine = _SlowOrBroken(real, statement)
            response = ask(client, "SELECT AVG(age) AS a FROM employees", epsilon=0.125)
            assert response.status_code == {"timeout": 504, "failed": 500}[outcome]
            error = response.json()["error"]
            # pure accounting, no partition selection: no δ is used, none is charged
            assert error["charged"] == {"epsilon": 0.125, "delta": 0.0}
            failed_ids[outcome] = error["query_id"]
    pipeline.engine = real
    blocked = ask(client, "SELECT MAX(age) AS m FROM employees", epsilon=1.0)
    assert blocked.json()["error"]["code"] == "budget_exhausted"                 # blocked

    # the access log states the charge the ledger took, for answers and failures alike
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dpsql.access"]
    charges = {e["query_id"]: e for e in client.get(
        "/v1/ledger", params={"kind": "charge"}, headers=auth("carl")).json()["entries"]}
    for line in logged:
        assert float(charges[line["query_id"]]["epsilon"]) == line["charged_epsilon"] == 0.125

    listed = client.get("/v1/ledger/attempts", params={"limit": 1000},
                        headers=auth("carl")).json()["attempts"]
    seen = [(a["analyst"], a["endpoint"], a["outcome"], a["code"]) for a in listed]
    assert seen == [
        ("alice", "/v1/query", "answered", None),
        ("alice", "/v1/query", "cached", None),
        ("alice", "/v1/explain", "explained", None),
        ("alice", "/v1/query", "refused", "parse_error"),
        ("alice", "/v1/query", "refused", "unsupported_query"),
        ("alice", "/v1/query", "refused", "invalid_parameter"),
        ("alice", "/v1/query", "refused", "invalid_parameter"),
        ("carl", "/v1/query", "refused", "forbidden"),
        ("alice", "/v1/query", "timeout", "timeout"),
        ("alice", "/v1/query", "failed", "internal"),
        ("alice", "/v1/query", "blocked", "budget_exhausted"),
    ]
    assert listed[4]["sql"].startswith("SELECT name, salary FROM employees")
    assert listed[0]["query_id"] and listed[0]["epsilon"] == "0.25"
    assert listed[6]["sql"] == COUNT  # as written: a body that failed validation
    assert [a["query_id"] for a in listed[8:10]] == [failed_ids["timeout"], failed_ids["failed"]]

    # who tried to read raw salaries? filters and the CSV export answer it
    refused = client.get("/v1/ledger/attempts", headers=auth("carl"),
                         params={"code": "unsupported_query", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(refused.text)))
    assert [(r["analyst"], r["outcome"]) for r in rows] == [("alice", "refused")]
    assert "salary" in rows[0]["sql"] and rows[0]["hash"] == listed[4]["hash"]
    whole = list(csv.DictReader(io.StringIO(client.get(
        "/v1/ledger/attempts", params={"format": "csv"}, headers=auth("olivia")).text)))
    assert [r["outcome"] for r in whole] == [a["outcome"] for a in listed]
    assert client.get("/v1/ledger/attempts", params={"outcome": "blocked"},
                      headers=auth("carl")).json()["attempts"][0]["code"] == "budget_exhausted"
    assert client.get("/v1/ledger/attempts", headers=auth("alice")).status_code == 403

    report = client.get("/v1/ledger/verify", headers=auth("carl")).json()
    assert report["ok"] and report["attempts"] == 11 and report["checkpoints"] >= 1


@pytest.mark.parametrize(("params", "fragment"), [
    ({"kind": "bogus"}, "kind: 'bogus' is not one of grant, dataset_budget, charge"),
    ({"analsyt": "alice"}, "unknown query parameter analsyt; this endpoint takes analyst"),
    ({"analyst": "alcie"}, "there is no analyst 'alcie' in the ledger; known: alice"),
])
def test_filters_that_would_mislead_are_refused(serve: Callable[[], TestClient],
                                                params: dict[str, str], fragment: str) -> None:
    client = serve()
    response = client.get("/v1/ledger", params=params, headers=auth("carl"))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter" and fragment in error["message"]
    outcome = client.get("/v1/ledger/attempts", params={"outcome": "denied"},
                         headers=auth("carl")).json()["error"]["message"]
    assert "answered, cached, explained, refused, blocked, timeout, failed" in outcome


def test_receipt_catches_a_truncation_at_the_last_checkpoint(
        serve: Callable[[], TestClient], deployment: Path) -> None:
    client = serve()
    assert ask(client, COUNT, epsilon=0.25).status_code == 200
    receipt = client.get("/v1/ledger/receipt", headers=auth("carl")).json()
    entries, head = receipt["checkpoint"]["entries"], receipt["checkpoint"]["head"]
    assert receipt["signature"] and f"--expect-entries {entries} --expect-head {head}" in (
        receipt["check_with"])
    good = client.get("/v1/ledger/verify", headers=auth("carl"),
                      params={"expect_entries": entries, "expect_head": head}).json()
    assert good["ok"], good
    wrong = client.get("/v1/ledger/verify", headers=auth("carl"),
                       params={"expect_entries": entries, "expect_head": "a" * 64}).json()
    assert not wrong["ok"] and "does not hash to the head of your receipt" in wrong["reason"]
    longer = client.get("/v1/ledger/verify", headers=auth("carl"),
                        params={"expect_entries": entries + 5}).json()
    assert not longer["ok"] and "truncated" in longer["reason"]


def test_server_refuses_to_start_on_a_truncated_ledger(
        serve: Callable[[], TestClient], deployment: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    client = serve()
    for eps in (0.25, 0.125):
        assert ask(client, COUNT, epsilon=eps).status_code == 200
    client.__exit__(None, None, None)  # the shutdown leaves its checkpoint behind
    url = ledger_url(deployment)
    last = fetch_row(url, "SELECT seq FROM head")["seq"]
    keep = fetch_row(url, f"SELECT hash FROM entries WHERE seq = {last - 1}")["hash"]
    for statement in (f"DELETE FROM entries WHERE seq = {last}",
                      f"UPDATE head SET seq = {last - 1}, hash = '{keep}'",
                      "UPDATE totals SET epsilon = '0.25', delta = '0'",  # pure: no δ used
                      "DELETE FROM checkpoints"):
        execute(url, statement, bypass_triggers=True)
    with pytest.raises(LedgerTampered, match="the ledger was truncated"):
        serve()
    assert cli(["serve", "--config", str(deployment)]) == 1
    assert capsys.readouterr().err.startswith("ledger_tampered: the ledger ")
    assert cli(["ledger", "verify", "--config", str(deployment)]) == 1
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["entries"] == last - 1 and not report["ok"]
    assert "truncated" in out.err


def test_edited_totals_refuse_charges_while_running(serve: Callable[[], TestClient],
                                                     deployment: Path) -> None:
    client = serve()
    assert ask(client, COUNT, epsilon=0.5).status_code == 200
    execute(ledger_url(deployment), "UPDATE totals SET epsilon = '0'")
    response = ask(client, "SELECT AVG(age) AS a FROM employees", epsilon=0.5)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "ledger_tampered" and "running total of analyst 'alice'" in (
        error["message"])
    attempt = client.get("/v1/ledger/attempts", params={"code": "ledger_tampered"},
                         headers=auth("carl")).json()["attempts"]
    assert [a["outcome"] for a in attempt] == ["refused"]
    with pytest.raises(LedgerTampered, match="running totals differ"):
        serve()


def test_a_lost_key_is_not_taken_for_a_ledger_without_checkpoints(
        serve: Callable[[], TestClient], deployment: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    serve().__exit__(None, None, None)
    settings = load_config(deployment).ledger.checkpoints
    key = (settings.key_file if settings else None) or Path(
        ledger_url(deployment).removeprefix("sqlite:///") + ".key")
    key.unlink()
    assert cli(["ledger", "verify", "--config", str(deployment)]) == 1
    err = capsys.readouterr().err
    assert "signed checkpoints but no signing key is at hand" in err or (
        "does not exist" in err)  # a key named in dpsql.yaml must exist
    if settings is None:  # the default key is made afresh only for a ledger without any
        with pytest.raises(Exception, match="no signing key is at hand"):
            serve()
