"""Partition selection: the threshold hides, with probability at least 1 − δ,
every group that only the added person creates; planning picks selection
exactly when a group key has no public keys."""

from __future__ import annotations

import math
from fractions import Fraction

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accountant import Accounting, cost_of, gaussian_threshold, rho_for
from accountant.mechanisms.sampler import float_scale_up
from proxy.calibrate import calibrate, price, selection_threshold
from proxy.engines.base import Result
from proxy.release import release
from rewriter import Catalog, plan_query
from tests.neighbours import Person, clopper_pearson, duckdb_database, duckdb_result, on_both

SELECTION_QUERIES = [
    "SELECT visit_date, COUNT(*) FROM visits GROUP BY visit_date",
    "SELECT city, EXTRACT(YEAR FROM visit_date) AS y, SUM(amount) FROM visits GROUP BY city, y",
    "SELECT remote, COUNT(*) FROM employees GROUP BY remote",
]


def _laplace_tail(b: float, k: int) -> float:
    """P(Z ≥ k) for the discrete Laplace of scale b, exactly: a^k / (1 + a)."""
    a = math.exp(-1 / b)
    return a**k / (1 + a)


def _gaussian_tail(sigma: float, k: int) -> float:
    """P(Z ≥ k) for the discrete Gaussian of scale σ, by summation."""
    span = int(40 * sigma) + 50
    weights = [math.exp(-(z * z) / (2 * sigma * sigma)) for z in range(-span, span + 1)]
    total = sum(weights)
    return sum(w for z, w in zip(range(-span, span + 1), weights, strict=True) if z >= k) / total


@settings(max_examples=60, deadline=None)
@given(
    sql=st.sampled_from(SELECTION_QUERIES),
    epsilon=st.sampled_from([Fraction(1, 10), Fraction(1, 2), Fraction(1), Fraction(3)]),
    delta=st.sampled_from([Fraction(1, 10**5), Fraction(1, 10**7), Fraction(1, 10**9)]),
    accounting=st.sampled_from([Accounting.PURE, Accounting.ZCDP]),
)
def test_a_group_of_one_passes_with_probability_at_most_delta_over_l0(
    catalog: Catalog, sql: str, epsilon: Fraction, delta: Fraction, accounting: Accounting
) -> None:
    plan = plan_query(sql, catalog)
    assert plan.selection
    cost = cost_of(accounting, epsilon, delta)
    calibrated = calibrate(plan, cost, accounting)
    tau = selection_threshold(plan, calibrated, accounting, delta)
    measure = plan.selection_measure()
    assert measure is not None
    scale = float(calibrated[measure.name].noise.scale)
    # a group only the added person creates holds at most `offset` in the count
    offset, groups = plan.selection_offset, plan.selection_groups
    tail = _laplace_tail if accounting is Accounting.PURE else _gaussian_tail
    assert tail(scale, tau - offset) * groups <= float(delta) * (1 + 1e-6)
    # and the threshold is tight: one less would break δ (the Laplace tail is
    # computed exactly; the Gaussian bound is within a few % of the true tail)
    slack = 1e-6 if accounting is Accounting.PURE else 0.1
    assert tail(scale, tau - 1 - offset) * groups > float(delta) * (1 - slack)


def test_selection_only_when_a_key_has_no_public_keys(catalog: Catalog) -> None:
    assert not plan_query("SELECT city, COUNT(*) FROM visits GROUP BY city", catalog).selection
    bucket = plan_query("SELECT CASE WHEN age < 40 THEN 'young' ELSE 'old' END AS b, COUNT(*) "
                        "FROM employees GROUP BY b", catalog)
    assert not bucket.selection
    assert bucket.group_keys == (("young",), ("old",))
    year = plan_query("SELECT YEAR(hired), COUNT(*) FROM employees GROUP BY YEAR(hired)", catalog)
    assert year.selection and year.group_keys == ()
    assert year.selection_measure() is not None


# -- zCDP: approximate zCDP pricing and a neighbouring-datasets audit ---------


def test_zcdp_selection_splits_delta_exactly_and_prices_rho_on_the_rest(catalog: Catalog) -> None:
    plan = plan_query("SELECT visit_date, COUNT(*) FROM visits GROUP BY visit_date", catalog)
    epsilon, delta = Fraction(1, 2), Fraction(1, 10**6)
    priced = price(plan, Accounting.ZCDP, epsilon, delta)
    selection = priced.selection
    assert selection is not None and selection.conversion_delta is not None
    assert selection.delta + selection.conversion_delta == delta
    assert 0 < selection.delta < delta
    assert priced.cost.delta_add == selection.delta and priced.cost.delta == delta
    assert priced.cost.rho == rho_for(epsilon, selection.conversion_delta)
    assert sum(c.share for c in priced.calibrated.values()) == priced.cost.rho
    measure = plan.selection_measure()
    assert measure is not None and plan.selection_groups == 2  # min(G, R) for visits
    sigma = Fraction(float_scale_up(priced.calibrated[measure.name].noise.scale))
    assert selection.threshold == gaussian_threshold(sigma, 2, selection.delta,
                                                     plan.selection_offset)
    # the split minimises the threshold: no other share of δ on the grid does better
    for k in (1, 8, 16, 48, 63):
        other = delta * k / 64
        cost = cost_of(Accounting.ZCDP, epsilon, delta, other)
        tau = selection_threshold(plan, calibrate(plan, cost, Accounting.ZCDP),
                                  Accounting.ZCDP, other)
        assert tau >= selection.threshold, k
    # pure accounting is unchanged: all of δ is δ_sel, no additive δ on the cost
    pure = price(plan, Accounting.PURE, epsilon, delta)
    assert pure.selection is not None and pure.selection.delta == delta
    assert pure.selection.conversion_delta is None
    assert pure.cost == cost_of(Accounting.PURE, epsilon, delta)


@pytest.mark.slow
def test_zcdp_a_person_alone_in_their_groups_is_released_at_most_delta_sel(
    catalog: Catalog,
) -> None:
    """Neighbours D (others only) and D' = D + one person whose two visit dates
    nobody else has. On D those dates never appear; on D' they may appear only
    through partition selection, with probability at most δ_sel. δ is large here
    so that the probability is measurable; the threshold is the one the proxy uses."""
    db = duckdb_database("""CREATE TABLE visits AS SELECT p AS person_id, 'Oslo' AS city,
        10.0 AS amount, DATE '2024-01-01' + (p % 2)::INT AS visit_date FROM range(400) t(p)""")
    person = Person(9999, {"visits": "person_id"}, statements=(
        """INSERT INTO visits VALUES (9999, 'Lima', 5.0, DATE '2030-05-01'),
        (9999, 'Lima', 5.0, DATE '2030-05-02')""",))
    plan = plan_query("SELECT visit_date, COUNT(*) AS n FROM visits GROUP BY visit_date",
                      catalog)
    priced = price(plan, Accounting.ZCDP, Fraction(1), Fraction(3, 10))
    selection = priced.selection
    assert selection is not None
    without, with_person = on_both(db, plan, person)
    alone = {"2030-05-01", "2030-05-02"}
    trials, released = 3000, 0
    for _ in range(trials):
        rows = release(plan, with_person, priced.calibrated, selection.threshold).rows
        released += any(str(row[0]) in alone for row in rows)
        rows = release(plan, without, priced.calibrated, selection.threshold).rows
        assert not any(str(row[0]) in alone for row in rows)
    measure = plan.selection_measure()
    assert measure is not None
    sigma = priced.calibrated[measure.name].noise.scale
    p = _gaussian_tail(float(sigma), selection.threshold - 1)  # one group, count 1
    exact = 1 - (1 - p) ** 2  # either of the two
    assert exact <= float(selection.delta)
    low, high = clopper_pearson(released, trials, 1e-4)
    assert low <= float(selection.delta), (released, trials, float(selection.delta))
    # the frequency matches the exact release probability (a sampler, a threshold
    # off by one or a wrong σ would move it out of the interval)
    assert low <= exact <= high, (released, trials, exact)


def test_measure_noise_is_drawn_only_for_released_groups(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The noise work follows the released groups, not the candidates the data
    holds: 500 one-person dates never pass, so their sums and histograms are never
    noised (only their distinct-person counts, which decide the selection)."""
    import proxy.release as release_module

    con = duckdb.connect()
    con.execute("""CREATE TABLE visits AS SELECT p AS person_id, 'Oslo' AS city, 10.0 AS amount,
        CASE WHEN p < 600 THEN DATE '2024-01-01' ELSE DATE '2025-01-01' + p::INT END
        AS visit_date FROM range(1100) t(p)""")
    plan = plan_query("SELECT visit_date, SUM(amount) AS s, MEDIAN(amount) AS m "
                      "FROM visits GROUP BY visit_date", catalog)
    priced = price(plan, Accounting.ZCDP, Fraction(1), Fraction(1, 10**6))
    assert priced.selection is not None
    result = duckdb_result(con, plan.sql("duckdb"))
    drawn: list[int] = []
    real = release_module.add_noise

    def counting(values: list[int], spec: object) -> list[int]:
        drawn.append(len(values))
        return real(values, spec)  # type: ignore[arg-type]

    monkeypatch.setattr(release_module, "add_noise", counting)
    rows = release(plan, result, priced.calibrated, priced.selection.threshold).rows
    assert [str(r[0]) for r in rows] == ["2024-01-01"]
    candidates = len(result.rows)
    assert candidates == 501
    # one draw per candidate for the selection; per released group: 1 sum + 64 bins
    # (plus the measures AVG/MEDIAN share) — never per candidate
    assert drawn[0] == candidates
    assert sum(drawn[1:]) <= 1 * (1 + 64 + 1)


def test_engine_groups_sharing_a_canonical_key_combine_by_maximum(catalog: Catalog) -> None:
    """DuckDB's client returns DATE 'infinity' as 9999-12-31: were such a row to
    reach release, it must neither replace nor add to the genuine group."""
    from proxy.release import true_vectors

    plan = plan_query("SELECT visit_date, COUNT(*) AS n FROM visits GROUP BY visit_date",
                      catalog)
    columns = ("__g0", *(c for m in plan.measures for c in m.columns()))
    import datetime as dt

    big = (dt.date(9999, 12, 31), *([500] * (len(columns) - 1)))
    one = (dt.date(9999, 12, 31), *([1] * (len(columns) - 1)))
    for rows in ([big, one], [one, big]):
        keys, vectors = true_vectors(plan, Result(columns, rows))
        assert keys == [("9999-12-31",)]
        assert all(v == [500] for v in vectors.values()), vectors
