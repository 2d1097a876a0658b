"""`dpsql demo` as a person runs it twice (issue #19): the printed curl works when
pasted (the shell expands $DPSQL_KEY), and --engine switches an existing demo."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from proxy.cli import main
from proxy.demo import build_demo_database
from tests.pg import ADMIN_DSN, require_postgres


def _curl(stderr: str) -> list[str]:
    (line,) = [line for line in stderr.splitlines() if line.startswith("curl ")]
    return shlex.split(line.replace("$DPSQL_KEY", "KEY-FROM-SHELL"))  # what the shell does


def test_second_run_prints_a_curl_that_expands_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    build_demo_database(folder / "demo.duckdb", people=200, seed=3)
    assert main(["demo", "--dir", str(folder), "--no-serve", "--port", "9191"]) == 0
    first = capsys.readouterr().err
    assert "http://127.0.0.1:9191/v1/query" in first
    assert main(["demo", "--dir", str(folder), "--no-serve"]) == 0
    second = capsys.readouterr().err
    line = next(line for line in second.splitlines() if line.startswith("curl "))
    assert '"Authorization: Bearer $DPSQL_KEY"' in line  # double quotes: expanded
    words = _curl(second)
    assert words[words.index("-H") + 1] == "Authorization: Bearer KEY-FROM-SHELL"


def test_the_engine_flag_switches_an_existing_demo(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_postgres()
    folder = tmp_path / "demo"
    folder.mkdir()
    build_demo_database(folder / "demo.duckdb", people=200, seed=3)
    assert main(["demo", "--dir", str(folder), "--no-serve"]) == 0
    hashes = yaml.safe_load((folder / "dpsql.yaml").read_text())["analysts"]
    assert main(["demo", "--dir", str(folder), "--no-serve", "--engine", "postgres",
                 "--admin-dsn", ADMIN_DSN]) == 0
    assert "engine switched from duckdb to postgres" in capsys.readouterr().err
    document = yaml.safe_load((folder / "dpsql.yaml").read_text())
    assert document["engine"]["kind"] == "postgres" and "dsn" in document["engine"]
    assert document["analysts"] == hashes  # the keys shown the first time still work
    assert main(["demo", "--dir", str(folder), "--no-serve"]) == 0
    assert yaml.safe_load((folder / "dpsql.yaml").read_text())["engine"]["kind"] == "duckdb"
