"""Statistical audit of the whole noisy pipeline (plan → calibrate → release).

For each mechanism (discrete Laplace under pure accounting, discrete Gaussian
under zCDP, and the exponential mechanism for quantiles under both) and each
aggregate (COUNT, SUM, AVG, COUNT DISTINCT unit, MEDIAN, MIN, MAX), on two
neighbouring databases D and D' = D + one extreme person, we draw many releases
and estimate, for threshold events S = {answer ≥ t} and {answer < t},

    ε̂(S) = ln((p_low − δ) / p'_high)

with one-sided Clopper–Pearson bounds (Bonferroni over all events and both
directions). The claim is broken if any ε̂ exceeds the query's ε (under zCDP,
the ε the charged ρ implies at the query's δ). The exact engine result does not
change between draws: the neighbour's rows are built so that bounding keeps a
worst case whatever rows it picks, so each database is queried once.

A chi-square test also checks the sampler's raw output against the exact
discrete Laplace and discrete Gaussian pmfs.

CI size runs in seconds; `DPSQL_AUDIT_LARGE=1` (or `-m slow`) draws 20× more.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import pytest
from scipy import stats

from accountant import Accounting, add_noise, cost_of, gaussian_for, laplace_for
from proxy.calibrate import calibrate
from proxy.engines.base import Result
from proxy.release import release
from rewriter import Catalog, Table, plan_query
from tests.neighbours import Database, Person, duckdb_database, epsilon_lower_bound, on_both
from tests.search import AUDIT_LARGE

LARGE = AUDIT_LARGE
DRAWS = 20_000 if LARGE else 1_200
ALPHA = 1e-3  # family-wise error of the whole audit of one case

VISITS = {
    "privacy_unit": "person_id", "max_rows_per_unit": 3, "max_groups_per_unit": 1,
    "columns": {
        "person_id": {"type": "integer"},
        "amount": {"type": "float", "lower": 0, "upper": 8},
    },
}
CATALOG = Catalog({"visits": Table.model_validate(VISITS)})
NEIGHBOUR_ROWS = [(999, 1e9)] * 10  # > R rows, all clamped to the upper bound

CASES = {
    "count": "SELECT COUNT(*) FROM visits",
    "sum": "SELECT SUM(amount) FROM visits",
    "avg": "SELECT AVG(amount) FROM visits",
    "units": "SELECT COUNT(DISTINCT person_id) FROM visits",
    # quantiles: the exponential mechanism over histogram edges (OpenDP's noisy max)
    "median": "SELECT MEDIAN(amount) FROM visits",
    "max": "SELECT MAX(amount) FROM visits",
    "min": "SELECT MIN(amount) FROM visits",
}
SETTINGS = {
    # accounting: (ε, δ) of each audited query
    Accounting.PURE: (Fraction(1), Fraction(0)),
    Accounting.ZCDP: (Fraction(1), Fraction(1, 10**6)),
}


NEIGHBOUR = Person(999, {"visits": "person_id"}, rows={"visits": NEIGHBOUR_ROWS})


@cache
def _database() -> Database:
    """D: 40 people with 1–3 visits of small amounts, within every bound."""
    return duckdb_database(tables={"visits": ("person_id INTEGER, amount DOUBLE", [
        (p, float(p % 3)) for p in range(40) for _ in range(1 + p % 3)])})


def _draws(plan: Any, result: Result, calibrated: Any, n: int) -> np.ndarray:
    return np.array([float(release(plan, result, calibrated).rows[0][0]) for _ in range(n)])


@pytest.mark.parametrize("accounting", list(SETTINGS), ids=lambda a: a.value)
@pytest.mark.parametrize("kind", list(CASES))
def test_observed_privacy_loss_stays_below_the_claim(accounting: Accounting, kind: str) -> None:
    epsilon, delta = SETTINGS[accounting]
    plan = plan_query(CASES[kind], CATALOG)
    cost = cost_of(accounting, epsilon, delta)
    calibrated = calibrate(plan, cost, accounting)
    d, d_prime = on_both(_database(), plan, NEIGHBOUR)
    assert d.rows != d_prime.rows, "the neighbour must change the exact measures"
    a = _draws(plan, d, calibrated, DRAWS)
    b = _draws(plan, d_prime, calibrated, DRAWS)
    assert len(np.unique(a)) > 1 and len(np.unique(b)) > 1, "the answers carry no noise"
    observed = epsilon_lower_bound(a, b, float(delta), ALPHA)
    assert observed <= float(epsilon), (
        f"{kind} under {accounting.value}: the observed privacy loss is at least "
        f"{observed:.3f} > ε = {float(epsilon)} (draws: {DRAWS})")


@pytest.mark.slow
# MIN and MAX are the same selection as MEDIAN with another score; the CI-size audit
# above covers them
@pytest.mark.parametrize("kind", [k for k in CASES if k not in ("min", "max")])
def test_observed_privacy_loss_large(kind: str) -> None:
    """The same audit with 20 000 draws per database (minutes, not seconds)."""
    global DRAWS
    saved, DRAWS = DRAWS, 20_000
    try:
        for accounting in SETTINGS:
            test_observed_privacy_loss_stays_below_the_claim(accounting, kind)
    finally:
        DRAWS = saved


# -- goodness of fit of the exact sampler ------------------------------------

def _laplace_pmf(k: np.ndarray, b: float) -> np.ndarray:
    a = math.exp(-1 / b)
    return (1 - a) / (1 + a) * np.power(a, np.abs(k))


def _gaussian_pmf(k: np.ndarray, sigma: float) -> np.ndarray:
    support = np.arange(-int(40 * sigma) - 40, int(40 * sigma) + 41)
    norm = np.exp(-(support.astype(float) ** 2) / (2 * sigma * sigma)).sum()
    return np.exp(-(k.astype(float) ** 2) / (2 * sigma * sigma)) / norm


SPECS = [
    ("laplace-b1", laplace_for(1, Fraction(1)), _laplace_pmf),
    ("laplace-b3.5", laplace_for(7, Fraction(2)), _laplace_pmf),
    ("gaussian-s1", gaussian_for(1, Fraction(1, 2)), _gaussian_pmf),
    ("gaussian-s4", gaussian_for(4, Fraction(1, 2)), _gaussian_pmf),
]


@pytest.mark.parametrize(("spec", "pmf"), [(s, p) for _, s, p in SPECS],
                         ids=[i for i, _, _ in SPECS])
def test_sampler_matches_the_discrete_distribution(spec: Any, pmf: Any) -> None:
    n = 200_000 if LARGE else 20_000
    samples = add_noise([0] * n, spec)
    assert all(type(z) is int for z in samples[:1000]), "noise must be exact integers"
    z = np.array(samples)
    scale = float(spec.scale)
    edge = max(2, int(math.ceil(3 * scale)))
    support = np.arange(-edge, edge + 1)
    probs = pmf(support, scale)
    observed = np.array([(z == k).sum() for k in support], dtype=float)
    tails = np.array([(z < -edge).sum(), (z > edge).sum()], dtype=float)
    tail_p = (1 - probs.sum()) / 2
    observed = np.concatenate([observed, tails])
    expected = np.concatenate([probs, [tail_p, tail_p]]) * n
    result = stats.chisquare(observed, expected)
    assert result.pvalue > 1e-4, (spec, result)
    # symmetric, centred on zero
    assert abs(z.mean()) < 6 * z.std() / math.sqrt(n)
