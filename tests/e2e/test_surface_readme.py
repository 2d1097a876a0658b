"""Every row of the README's "What is answered today" table, through the HTTP
API on both engines: the docs cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import Proxy

README = Path(__file__).resolve().parents[2] / "README.md"


def _rows() -> list[tuple[str, str, float]]:
    text = README.read_text()
    section = text.split("## What is answered today", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| form"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert len(cells) == 3, line
        example = re.fullmatch(r"`([^`]+)`( \(δ = 0\))?", cells[1])
        assert example, f"the example of {cells[0]!r} must be one query in backticks"
        delta = 0.0 if example.group(2) else 1e-6
        rows.append((example.group(1), cells[2], delta))
    return rows


ROWS = _rows()


def test_the_table_lists_both_answers_and_refusals() -> None:
    assert sum(r[1].startswith("yes") for r in ROWS) >= 10
    assert sum(r[1].startswith("refused") for r in ROWS) >= 14


@pytest.mark.parametrize(("sql", "answer", "delta"), ROWS, ids=[r[0][:60] for r in ROWS])
def test_readme_row(rich: Proxy, sql: str, answer: str, delta: float) -> None:
    response = rich.query(sql, epsilon=1.0, delta=delta)
    if answer.startswith("yes"):
        assert response.status_code == 200, (sql, response.text)
        return
    code = re.search(r"`(\w+)`", answer)
    assert code, answer
    assert response.status_code == 400, (sql, response.text)
    error = response.json()["error"]
    assert error["code"] == code.group(1), (sql, error)
    assert len(error["message"]) > 30  # the rule and what to write instead
