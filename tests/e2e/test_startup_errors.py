"""`dpsql serve` with each kind of mistake (issue #19): the real command, one line
on stderr with a stable code, a non-zero exit; the traceback only with --debug.
A deployment without mistakes says where it listens and answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from proxy.demo import demo_config_yaml
from tests.pg import ADMIN_DSN
from tests.serving import free_port, wait_until_healthy

from .conftest import KEYS

ROOT = Path(__file__).resolve().parents[2]



def _deployment(folder: Path, engine: dict[str, Any],
                tweak: Callable[[dict[str, Any]], None] | None = None) -> Path:
    document = yaml.safe_load(demo_config_yaml("unused", KEYS,
                                               ledger_path=str(folder / "ledger.db")))
    document["engine"] = {**engine, "statement_timeout_s": 30}
    if tweak:
        tweak(document)
    path = folder / "dpsql.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _dpsql(*args: str, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def engine(engine_kind: str, demo_db: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if engine_kind == "postgres":
        return {"kind": "postgres", "dsn": request.getfixturevalue("pg_demo")}
    return {"kind": "duckdb", "database": str(demo_db)}


def _missing_table(d: dict[str, Any]) -> None:
    d["tables"]["payroll"] = {"privacy_unit": "id", "columns": {"id": {"type": "integer"}}}


def _missing_column(d: dict[str, Any]) -> None:
    d["tables"]["employees"]["columns"]["bonus"] = {"type": "float", "lower": 0, "upper": 9}


def _wrong_type(d: dict[str, Any]) -> None:
    d["tables"]["employees"]["columns"]["name"] = {"type": "integer", "groupable": False}


@pytest.mark.parametrize(("tweak", "expected"), [
    (_missing_table, "metadata_mismatch: the metadata does not match the database: "
                     "tables.payroll: no such table in the database"),
    (_missing_column, "metadata_mismatch: the metadata does not match the database: "
                      "tables.employees.columns.bonus: no such column"),
    (_wrong_type, "metadata_mismatch: the metadata does not match the database: "
                  "tables.employees.columns.name: declared `integer`, but the database stores"),
])
def test_metadata_mistakes_stop_the_server_in_one_line(
        tmp_path: Path, engine: dict[str, Any], tweak: Any, expected: str) -> None:
    config = _deployment(tmp_path, engine, tweak)
    run = _dpsql("serve", "--config", str(config), "--port", str(free_port()))
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(expected), lines[0]
    assert "Traceback" not in run.stderr


def _missing_file(folder: Path, engine: dict[str, Any]) -> Path:
    return _deployment(folder, {"kind": "duckdb", "database": str(folder / "nope.duckdb")})


def _superuser(folder: Path, engine: dict[str, Any]) -> Path:
    return _deployment(folder, {"kind": "postgres", "dsn": ADMIN_DSN})


def _missing_database(folder: Path, engine: dict[str, Any]) -> Path:
    return _deployment(folder, {"kind": "postgres",
                                "dsn": "postgresql://postgres@127.0.0.1:5432/dpsql_no_such_db"})


def _ledger_nowhere(folder: Path, engine: dict[str, Any]) -> Path:
    path = _deployment(folder, engine)
    document = yaml.safe_load(path.read_text())
    document["ledger"]["url"] = f"sqlite:///{folder / 'no' / 'such' / 'dir' / 'l.db'}"
    path.write_text(yaml.safe_dump(document))
    return path


def _bad_yaml(folder: Path, engine: dict[str, Any]) -> Path:
    path = folder / "dpsql.yaml"
    path.write_text("engine: {kind: duckdb\n")
    return path


@pytest.mark.parametrize("engine_kind", ["duckdb"])
@pytest.mark.parametrize(("make", "expected"), [
    (_missing_file, "engine_unavailable: engine.database: "),
    (_superuser, "engine_role_unsafe: engine.dsn: the PostgreSQL role `postgres` is a superuser"),
    (_missing_database, 'engine_unavailable: engine.dsn: cannot connect to PostgreSQL as '
                        'postgres@127.0.0.1:5432/dpsql_no_such_db: '),
    (_bad_yaml, "config_error: "),
    (_ledger_nowhere, "ledger_unavailable: ledger.url: sqlite:///"),
])
def test_deployment_mistakes_stop_the_server_in_one_line(
        tmp_path: Path, engine: dict[str, Any], make: Any, expected: str) -> None:
    config = make(tmp_path, engine)
    run = _dpsql("serve", "--config", str(config), "--port", str(free_port()))
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(expected), lines[0]
    if make is _missing_database:
        assert "does not exist" in lines[0]


@pytest.mark.parametrize("engine_kind", ["duckdb"])
def test_a_busy_port_is_one_line_and_debug_shows_the_traceback(
        tmp_path: Path, engine: dict[str, Any]) -> None:
    config = _deployment(tmp_path, engine)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        run = _dpsql("serve", "--config", str(config), "--port", port)
        assert run.returncode == 1
        assert run.stderr.strip().splitlines() == [
            f"port_unavailable: cannot listen on 127.0.0.1:{port}: the port is in use "
            "(another dpsql, or another server)"]
        debug = _dpsql("--debug", "serve", "--config", str(config), "--port", port)
        assert debug.returncode == 1 and "Traceback" in debug.stderr
    run = _dpsql("serve", "--config", str(config), "--port", "70000")
    assert run.stderr.splitlines() == ["port_unavailable: --port 70000: give a port between 1 "
                                       "and 65535"]


def test_serve_says_where_it_listens_and_answers(tmp_path: Path,
                                                 engine: dict[str, Any]) -> None:
    config = _deployment(tmp_path, engine)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "proxy.cli", "serve", "--port", str(port)], cwd=ROOT,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "DPSQL_CONFIG": str(config)})
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        assert f"listening on http://127.0.0.1:{port} ({engine['kind']}, 3 tables" in first
        url = f"http://127.0.0.1:{port}"
        assert wait_until_healthy(url)
        # public tables only: exact and free through the real server
        answer = httpx.post(f"{url}/v1/query", headers={"Authorization": f"Bearer {KEYS['alice']}"},
                            json={"sql": "SELECT COUNT(*) AS n FROM departments"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [[6]] and answer.json()["charged"]["epsilon"] == 0
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stderr is not None:
            server.stderr.close()


def test_version_and_config_check(tmp_path: Path, engine: dict[str, Any]) -> None:
    from proxy import __version__

    version = _dpsql("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"dpsql {__version__}"
    good = _dpsql("config", "check", "--config", str(_deployment(tmp_path, engine)))
    assert good.returncode == 0, good.stderr
    assert "3 tables" in good.stderr
    assert not (tmp_path / "ledger.db").exists(), "config check writes no ledger"
    bad = _dpsql("config", "check", "--config",
                 str(_deployment(tmp_path, engine, _missing_column)))
    assert bad.returncode == 1
    assert bad.stderr.startswith("metadata_mismatch: ") and len(bad.stderr.splitlines()) == 1


@pytest.mark.slow
def test_a_table_the_database_lost_can_be_withdrawn(tmp_path: Path) -> None:
    """Removed from dpsql.yaml, a table is withdrawn at the next start; declared through
    the owner API, `dpsql tables delete` withdraws it without a server."""
    import duckdb

    from proxy.app import create_app
    from proxy.config import load_config
    from tests.e2e.conftest import write_deployment

    data = tmp_path / "data.duckdb"
    with duckdb.connect(str(data)) as con:
        con.execute("CREATE TABLE people AS SELECT range AS id, range % 7 AS age FROM range(50)")
        con.execute("CREATE TABLE extra AS SELECT range AS id FROM range(5)")
    people = {"privacy_unit": "id", "columns": {"id": {"type": "integer"},
                                                "age": {"type": "integer", "lower": 0,
                                                        "upper": 9}}}
    extra = {"privacy_unit": "id", "columns": {"id": {"type": "integer"}}}
    config = write_deployment(tmp_path, {"kind": "duckdb", "database": str(data)},
                              {"people": people, "extra": extra}, "k",
                              budget={"epsilon": 1, "delta": 0})
    with TestClient(create_app(load_config(config))) as client:  # records both tables
        assert client.get("/health").status_code == 200
    with duckdb.connect(str(data)) as con:
        con.execute("DROP TABLE extra")
    refused = _dpsql("serve", "--config", str(config), "--port", str(free_port()))
    assert refused.returncode == 1 and "tables.extra: no such table" in refused.stderr
    assert "dpsql tables delete" in refused.stderr

    # 1. the owner removes it from dpsql.yaml: withdrawn at the next start
    document = yaml.safe_load(config.read_text())
    del document["tables"]["extra"]
    config.write_text(yaml.safe_dump(document))
    check = _dpsql("config", "check", "--config", str(config))
    assert check.returncode == 0, check.stderr
    with TestClient(create_app(load_config(config))) as client:
        assert client.get("/health").status_code == 200

    # 2. declared through the API (here: the ledger), the CLI withdraws it
    from accountant import Accounting, open_ledger

    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", Accounting.PURE)
    ledger.set_table("gone", extra, actor="owner:olivia", reason="test")
    ledger.close()
    refused = _dpsql("serve", "--config", str(config), "--port", str(free_port()))
    assert refused.returncode == 1 and "tables.gone: no such table" in refused.stderr
    withdrawn = _dpsql("tables", "delete", "gone", "--config", str(config), "--reason", "lost")
    assert withdrawn.returncode == 0, withdrawn.stderr
    with TestClient(create_app(load_config(config))) as client:
        assert client.get("/health").status_code == 200
