"""Reported 95 % intervals hold: over many noisy answers, about 95 % fall
within ± ci95_halfwidth of the exact value, under both mechanisms."""

from __future__ import annotations

from typing import Any

import pytest

RUNS = 150  # × 6 departments = 900 intervals per mechanism


def _tweak(accounting: str) -> Any:
    def tweak(doc: dict[str, Any]) -> None:
        doc["privacy"]["accounting"] = accounting
        doc["privacy"].pop("dataset_budget", None)
        doc["analysts"]["alice"]["budget"] = {"epsilon": 10_000, "delta": 0.5}
    return tweak


@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_intervals_cover_about_95_percent(make_proxy: Any, truth: Any, accounting: str) -> None:
    exact = truth["count_by_dept"]
    proxy = make_proxy(_tweak(accounting))
    inside = total = 0
    for i in range(RUNS):
        # a different (always true) filter each time, so no answer comes from the cache
        body = proxy.query(f"SELECT dept, COUNT(*) FROM employees WHERE age > {-i} GROUP BY dept",
                           epsilon=0.05, delta=1e-7 if accounting == "zcdp" else 0).json()
        half = body["accuracy"][0]["ci95_halfwidth"]
        for dept, noisy in body["rows"]:
            total += 1
            inside += abs(noisy - exact.get(dept, 0)) <= half
    coverage = inside / total
    print(f"{accounting}: coverage {coverage:.3f} over {total} intervals")
    # Binomial sd at n=900, p=0.95 is 0.0073: these limits are > 4 sd away.
    assert 0.915 <= coverage <= 0.985, coverage
