"""Golden rewrites: titled input SQL and the SQL each engine receives, in
tests/rewriter/fixtures/rewrites.sql (in the manner of sqlglot's
tests/fixtures/optimizer). The file documents the rewrite; this test keeps it
true. With DPSQL_UPDATE_GOLDENS=1 the test writes the file anew instead."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlglot

from rewriter import Catalog, plan_query

FIXTURES = Path(__file__).parent / "fixtures" / "rewrites.sql"
DIALECTS = ("duckdb", "postgres", "spark")  # spark: keyed hashes, no RANDOM()
UPDATE = os.environ.get("DPSQL_UPDATE_GOLDENS") == "1"
# diagnostics on, as the proxy plans by default: the goldens show what engines run
DIAGNOSTICS = 0.05


@dataclass
class Case:
    title: str
    sql: str
    expected: dict[str, str]


def _parse(text: str) -> tuple[str, list[Case]]:
    """The file's preamble and its cases."""
    preamble, *blocks = re.split(r"^-- title: ", text, flags=re.M)
    cases = []
    for block in blocks:
        title, _, body = block.partition("\n")
        parts = re.split(r"^-- (\w+):\n", body, flags=re.M)
        sql, expected = parts[0].strip(), dict(zip(parts[1::2], (p.strip() for p in parts[2::2]),
                                                   strict=True))
        cases.append(Case(title.strip(), sql, expected))
    return preamble, cases


SALT = 1234567  # Spark's per-query secret salt (rewriter/distributed.py), fixed here


def _rewrite(sql: str, catalog: Catalog, dialect: str) -> str:
    plan = plan_query(sql.rstrip(";"), catalog, diagnostics=DIAGNOSTICS)
    return sqlglot.transpile(plan.sql(dialect), read=dialect, write=dialect, pretty=True)[0]


def _format(preamble: str, cases: list[Case]) -> str:
    out = [preamble.rstrip("\n") + "\n"]
    for case in cases:
        out.append(f"\n-- title: {case.title}\n{case.sql}\n")
        for dialect in DIALECTS:
            if dialect in case.expected:  # filled in one test at a time
                out.append(f"-- {dialect}:\n{case.expected[dialect]}\n")
    return "".join(out)


PREAMBLE, CASES = _parse(FIXTURES.read_text())


def test_every_case_has_a_title_and_one_golden_per_engine() -> None:
    assert len({c.title for c in CASES}) == len(CASES) >= 10
    if not UPDATE:
        assert all(set(c.expected) == set(DIALECTS) for c in CASES), \
            "run with DPSQL_UPDATE_GOLDENS=1 to fill in the goldens"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_the_rewrite_is_the_golden_one(case: Case, dialect: str, catalog: Catalog,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rewriter.distributed.fresh_salt", lambda: SALT)
    got = _rewrite(case.sql, catalog, dialect)
    if UPDATE:
        case.expected[dialect] = got
        FIXTURES.write_text(_format(PREAMBLE, CASES))
        return
    assert got == case.expected.get(dialect), (
        f"{case.title} ({dialect}) rewrites differently; if intended, regenerate with "
        "DPSQL_UPDATE_GOLDENS=1 and review the diff")
