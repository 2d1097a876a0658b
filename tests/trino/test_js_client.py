"""The trino JavaScript client (trino-client from the npm registry, pinned in
tests/trino/js/package-lock.json) runs queries against the real server with TLS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import KEYS, Server

JS = Path(__file__).parent / "js"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    npm = shutil.which("npm")
    if found is None or npm is None:
        pytest.fail("node and npm are needed for the trino JavaScript client test "
                    "(Node 20 or later)", pytrace=False)
    if not (JS / "node_modules" / "trino-client").is_dir():
        # `npm ci` installs exactly the locked versions; a fresh clone needs no manual step
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS,
                       check=True, timeout=300)
    return found


def run(node: str, server: Server, sql: str, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [node, "query.mjs"], cwd=JS, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "DPSQL_URL": server.url, "DPSQL_CA": str(server.certfile),
             "DPSQL_USER": "alice", "DPSQL_KEY": KEYS["alice"], "DPSQL_SQL": sql, **env})
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_javascript_client_runs_a_dp_query(node: str, duck_server: Server) -> None:
    before = duck_server.budget()["spent"]["epsilon"]
    answer = run(node, duck_server, "SELECT city, COUNT(*) AS n, dp_ci95(n) AS ci FROM visits "
                 "GROUP BY city", DPSQL_SESSION=json.dumps({"dpsql.epsilon": "0.3"}))
    assert answer["error"] is None
    assert answer["columns"] == [["city", "varchar"], ["n", "bigint"], ["ci", "double"]]
    assert len(answer["rows"]) > 1 and all(r[2] > 0 for r in answer["rows"])
    assert duck_server.budget()["spent"]["epsilon"] == pytest.approx(before + 0.3)
    paged = run(node, duck_server, "SELECT day, COUNT(*) AS n FROM events GROUP BY day")
    assert len(paged["rows"]) == 1200 and paged["pages"] >= 3


def test_the_javascript_client_sees_our_refusal(node: str, duck_server: Server) -> None:
    answer = run(node, duck_server, "SELECT name FROM employees")
    assert answer["error"]["name"] == "NOT_SUPPORTED"
    assert answer["error"]["message"].startswith("unsupported_query: ")
