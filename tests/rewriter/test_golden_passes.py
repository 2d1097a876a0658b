"""Golden passes: what each planning pass makes of a titled query, in
tests/rewriter/fixtures/passes.sql (in the manner of sqlglot's
tests/fixtures/optimizer). The file documents the planner pass by pass; this
test keeps it true. With DPSQL_UPDATE_GOLDENS=1 it writes the file anew."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import sqlglot

from rewriter import Catalog
from rewriter.limits import Limits
from rewriter.planner import PASSES, Planning

from .goldens import UPDATE, Case, format_cases, parse

FIXTURES = Path(__file__).parent / "fixtures" / "passes.sql"
SHOWN = ("read", "inline_derived", "measure")


def _pretty(tree: sqlglot.exp.Expr) -> str:
    return tree.sql(dialect="duckdb", pretty=True, comments=False)


def _passes(sql: str, catalog: Catalog) -> dict[str, str]:
    """Each shown pass's output as text."""
    state = Planning(sql, None, catalog, catalog, Limits(), Fraction(1, 20))
    out: dict[str, str] = {}
    for step in PASSES:
        state = step(state)
        if step.__name__ == "read":
            assert state.tree is not None
            out["read"] = _pretty(state.tree)
        elif step.__name__ == "inline_derived":
            assert state.inlined is not None
            out["inline_derived"] = _pretty(state.inlined)
        elif step.__name__ == "measure":
            lines = [f"{m.name} {m.kind}{' distinct' if m.distinct else ''} of "
                     f"{m.column or '*'}: L1 {m.l1}, L2² {m.l2_squared}, grid ×{m.grid_scale}"
                     + (" (diagnostic)" if m.diagnostic else "") for m in state.measures]
            lines += [f"{v.name} = {v.kind} {v.type} of {', '.join(v.measures) or 'the key'}"
                      for v in state.values]
            assert state.post is not None
            out["measure"] = "\n".join(lines) + "\n" + _pretty(state.post)
    return out


PREAMBLE, CASES = parse(FIXTURES.read_text())


def test_every_pass_shown_is_a_pass() -> None:
    assert set(SHOWN) <= {p.__name__ for p in PASSES}
    assert len({c.title for c in CASES}) == len(CASES) >= 10
    if not UPDATE:
        assert all(set(c.expected) == set(SHOWN) for c in CASES), \
            "run with DPSQL_UPDATE_GOLDENS=1 to fill in the goldens"


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_each_pass_is_the_golden_one(case: Case, catalog: Catalog) -> None:
    got = _passes(case.sql, catalog)
    if UPDATE:
        case.expected = got
        FIXTURES.write_text(format_cases(PREAMBLE, CASES, SHOWN))
        return
    for name in SHOWN:
        assert got[name] == case.expected.get(name), (
            f"{case.title}: the {name} pass differs; if intended, regenerate with "
            "DPSQL_UPDATE_GOLDENS=1 and review the diff")
