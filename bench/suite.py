"""The fixed query suite, as data, and the metadata the benchmark declares.

Each query has the analyst's SQL (run as is for the ``raw`` variant and planned
by dpsql for the others) and a *floor* SQL: per-unit partial aggregation with
clamping but no row or group caps and no key filter — the least work any
user-level DP rewrite must do before noise. The ratio dpsql/floor is therefore
the cost of dpsql's caps (random row choice and group choice), not of DP itself.

Queries of the issue's suite that dpsql did not answer when this was written
are in ``PENDING`` with the reason. At run time ``split_pending`` asks the
rewriter again: those it now plans are timed like the others, the rest are
reported as "not supported yet" instead of faked.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewriter import Catalog, Column, RewriteError, Table, plan_query

from .data import CITIES

__all__ = [
    "AMOUNT_LOWER", "AMOUNT_UPPER", "PENDING", "QUERIES", "Query", "catalog", "split_pending",
]

AMOUNT_LOWER, AMOUNT_UPPER = 0, 500
MAX_ROWS_PER_UNIT = 10
MAX_GROUPS_PER_UNIT = 3


@dataclass(frozen=True)
class Query:
    name: str
    sql: str  # what the analyst sends
    floor_sql: str | None  # per-unit partial aggregation + clamping, no caps
    note: str = ""


_CLAMP = f"LEAST(GREATEST(amount, {AMOUNT_LOWER}), {AMOUNT_UPPER})"

QUERIES: tuple[Query, ...] = (
    Query(
        "count_all",
        "SELECT COUNT(*) AS n FROM visits",
        "WITH p AS (SELECT person_id, COUNT(*) AS n FROM visits GROUP BY person_id) "
        "SELECT SUM(n) AS n FROM p",
    ),
    Query(
        "group_count_sum",
        "SELECT city, COUNT(*) AS n, SUM(amount) AS total FROM visits GROUP BY city",
        f"WITH p AS (SELECT person_id, city, COUNT(*) AS n, SUM({_CLAMP}) AS s "
        "FROM visits GROUP BY person_id, city) "
        "SELECT city, SUM(n) AS n, SUM(s) AS total FROM p GROUP BY city",
    ),
    Query(
        "group_avg",
        "SELECT city, AVG(amount) AS avg_amount FROM visits GROUP BY city",
        f"WITH p AS (SELECT person_id, city, COUNT(amount) AS n, SUM({_CLAMP}) AS s "
        "FROM visits GROUP BY person_id, city) "
        "SELECT city, SUM(s) / SUM(n) AS avg_amount FROM p GROUP BY city",
        note="~200 groups",
    ),
    Query(
        "distinct_units_where",
        "SELECT COUNT(DISTINCT person_id) AS people FROM visits WHERE amount > 100",
        "WITH p AS (SELECT person_id FROM visits WHERE amount > 100 GROUP BY person_id) "
        "SELECT COUNT(*) AS people FROM p",
    ),
)

# Queries of the suite that the rewriter refused when this was written.
PENDING: tuple[Query, ...] = (
    Query(
        "join_public",
        "SELECT c.region, COUNT(*) AS n FROM visits AS v JOIN cities AS c ON v.city = c.city "
        "GROUP BY c.region",
        "WITH p AS (SELECT v.person_id, c.region, COUNT(*) AS n FROM visits AS v "
        "JOIN cities AS c ON v.city = c.city GROUP BY v.person_id, c.region) "
        "SELECT region, SUM(n) AS n FROM p GROUP BY region",
        note="not supported yet: JOIN with a public table",
    ),
    Query(
        "quantile",
        "SELECT QUANTILE_CONT(amount, 0.5) AS median_amount FROM visits",
        None,  # a DP quantile's least work is not a per-unit aggregate; no floor yet
        note="not supported yet: quantiles",
    ),
)


def split_pending(cat: Catalog) -> tuple[tuple[Query, ...], tuple[Query, ...]]:
    """(pending queries the rewriter now plans, those it still refuses)."""
    accepted, refused = [], []
    for q in PENDING:
        try:
            plan_query(q.sql, cat)
        except RewriteError:
            refused.append(q)
        else:
            accepted.append(q)
    return tuple(accepted), tuple(refused)


def catalog(
    max_rows_per_unit: int = MAX_ROWS_PER_UNIT, max_groups_per_unit: int = MAX_GROUPS_PER_UNIT
) -> Catalog:
    """The metadata the data owner would declare for the benchmark tables."""
    visits = Table(
        privacy_unit="person_id",
        max_rows_per_unit=max_rows_per_unit,
        max_groups_per_unit=max_groups_per_unit,
        columns={
            "person_id": Column(type="integer"),
            "visit_date": Column(type="date"),
            "city": Column(type="text", public_keys=CITIES),
            "amount": Column(type="float", lower=AMOUNT_LOWER, upper=AMOUNT_UPPER),
        },
    )
    cities = Table(
        public=True,
        columns={"city": Column(type="text", unique=True), "region": Column(type="text")},
    )
    return Catalog(tables={"visits": visits, "cities": cities})
