"""MIN, MAX and MEDIAN through HTTP on both engines land where the data is.

The demo's ages run from 18 to 70 (bounds [16, 100], 64 bins of 1.3125): the
old histogram read-out answered MAX(age) in the top bins of the bounds whatever
the data held; the selection must answer within a few bins of 70, and say its
interval is a number of rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.e2e.conftest import rich_budget

BIN = (100 - 16) / 64


@pytest.fixture(scope="module")
def exact_ages(demo_db: Path) -> dict[str, float]:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        low, high, median = con.execute(
            "SELECT MIN(age), MAX(age), MEDIAN(age) FROM employees").fetchone()
    return {"min": float(low), "max": float(high), "median": float(median)}


@pytest.mark.parametrize(("name", "below", "above"),
                         [("max", 4, 1), ("min", 1, 4), ("median", 2, 2)])
def test_max_min_and_median_answer_near_the_data(make_proxy: Any, exact_ages: dict[str, float],
                                                 name: str, below: int, above: int) -> None:
    """At ε = 1 on 3,000 people, each of 12 answers within a few bins of the truth
    (MAX aims about m rows inside the data, so it may sit a few bins below 70,
    never more than one bin above)."""
    proxy = make_proxy(rich_budget)
    assert exact_ages["max"] == 70
    function = {"max": "MAX", "min": "MIN", "median": "MEDIAN"}[name]
    truth = exact_ages[name]
    for i in range(12):
        # another alias each time: no answer comes from the cache
        body = proxy.query(f"SELECT {function}(age) AS a{i} FROM employees", epsilon=1.0).json()
        ((value,),) = body["rows"]
        assert truth - below * BIN <= value <= truth + above * BIN, (name, value, truth)
        (acc,) = body["accuracy"]
        assert acc["interval"] == "rank" and acc["mechanism"] == "exponential", acc
        assert acc["rank_halfwidth"] > 0 and "rows" in acc["words"], acc
