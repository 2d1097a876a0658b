"""Which rows and groups the caps keep, in each ranking form of `rewriter.bound`.

The privacy argument only needs the caps to be exact and the choice to depend on
the person's own rows and fresh randomness; these tests also pin the
distribution each form promises (SPEC §4.2: chosen at random, not by data
order), on a real DuckDB, by reading the kept rows out of the rewrite's own
`__rows` step:

- groups: every G-subset of a person's groups equally likely (both forms);
- one pass (no COUNT(DISTINCT unit)): rows taken group by group, each group's
  rows in uniformly random order;
- two passes (COUNT(DISTINCT unit)): R rows uniform over the kept groups' rows,
  and each kept group with a kept row counts the person exactly once.

Each frequency test draws a few hundred queries and compares with a χ² bound
at p = 1e-6, so a correct form fails about once in a million runs.
"""

from __future__ import annotations

import itertools
from collections import Counter

import duckdb
import pytest
from scipy.stats import chi2
from sqlglot import exp

from rewriter import Catalog, Plan, Table, plan_query
from rewriter.naming import GROUP_NUMBER, ROW_NUMBER

CITIES = ["A", "B", "C", "D"]
R, G = 4, 2
DRAWS = 300


def _catalog() -> Catalog:
    return Catalog({"visits": Table.model_validate({
        "privacy_unit": "person_id", "max_rows_per_unit": R, "max_groups_per_unit": G,
        "columns": {
            "person_id": {"type": "integer"},
            "city": {"type": "text", "public_keys": CITIES},
            "amount": {"type": "float", "lower": 0, "upper": 1000},
        },
    })})


def _person(rows_per_city: dict[str, int], duplicates: bool = False) -> duckdb.DuckDBPyConnection:
    """One person (id 1): `rows_per_city[c]` rows in city c, amounts all distinct
    (the row's identity), or all equal when `duplicates`."""
    con = duckdb.connect()
    values = []
    for city, n in rows_per_city.items():
        for _ in range(n):
            values.append(f"(1, '{city}', {0 if duplicates else len(values)}.0)")
    con.execute("CREATE TABLE visits AS SELECT * FROM (VALUES " + ", ".join(values)
                + ") t(person_id, city, amount)")
    return con


def _kept(con: duckdb.DuckDBPyConnection, plan: Plan) -> list[tuple[str, int]]:
    """(city, amount) of every row the caps keep, read from the rewrite's `__rows`."""
    tree = plan.tree.copy()
    names = {cte.alias for cte in tree.args["with_"].expressions}
    conditions = [exp.LTE(this=exp.column(ROW_NUMBER, quoted=True),
                          expression=exp.Literal.number(R))]
    if "__ranked" not in names:  # one pass: __rows holds every group's rows
        conditions.append(exp.LTE(this=exp.column(GROUP_NUMBER, quoted=True),
                                  expression=exp.Literal.number(G)))
    total = next(m for m in plan.measures if m.kind == "sum")
    select = (exp.select(exp.column("__g0", quoted=True),
                         exp.column(f"__v_{total.name}", quoted=True))
              .from_(exp.Table(this=exp.to_identifier("__rows", quoted=True)))
              .where(exp.and_(*conditions)))
    select.set("with_", tree.args["with_"])
    return [(city, int(v / total.grid_scale))
            for city, v in con.execute(select.sql("duckdb")).fetchall()]


ONE_PASS = "SELECT city, COUNT(*), SUM(amount) FROM visits GROUP BY city"
TWO_PASSES = "SELECT city, COUNT(DISTINCT person_id), SUM(amount) FROM visits GROUP BY city"


def _chi2_ok(counts: Counter, cells: list, draws: int) -> bool:
    expected = draws / len(cells)
    statistic = sum((counts[c] - expected) ** 2 / expected for c in cells)
    return statistic < chi2.ppf(1 - 1e-6, len(cells) - 1)


@pytest.mark.parametrize("sql", [ONE_PASS, TWO_PASSES])
def test_every_g_subset_of_a_persons_groups_is_equally_likely(sql: str) -> None:
    plan = plan_query(sql, _catalog())
    con = _person(dict.fromkeys(CITIES, 3))
    seen: Counter = Counter()
    for _ in range(DRAWS):
        kept = _kept(con, plan)
        groups = frozenset(city for city, _ in kept)
        assert len(kept) <= R and len(groups) <= G
        # 3 rows a city and R = 4 > 3: both forms reach both kept groups
        assert len(groups) == G
        seen[groups] += 1
    pairs = [frozenset(p) for p in itertools.combinations(CITIES, G)]
    assert set(seen) <= set(pairs)
    assert _chi2_ok(seen, pairs, DRAWS), seen


def test_one_pass_takes_a_groups_rows_in_uniformly_random_order() -> None:
    """One city of 8 rows: which R of them are kept is a uniform R-subset, so each
    row is kept R/8 of the time; the other city fills what is left."""
    plan = plan_query(ONE_PASS, _catalog())
    assert "__ranked" not in plan.sql("duckdb")
    con = _person({"A": 8, "B": 8})
    first_rows: Counter = Counter()
    firsts = 0
    for _ in range(DRAWS):
        kept = _kept(con, plan)
        assert len(kept) == R
        # group by group: the R rows all come from the group ranked first (8 ≥ R)
        assert len({city for city, _ in kept}) == 1
        if kept[0][0] == "A":
            firsts += 1
            first_rows.update(amount for _, amount in kept)
    assert _chi2_ok(first_rows, list(range(8)), firsts * R), first_rows
    # and either city comes first about half of the time
    assert DRAWS / 4 < firsts < 3 * DRAWS / 4


def test_two_passes_draw_the_rows_uniformly_over_the_kept_groups() -> None:
    """Two cities of 6 rows, R = 4 < 12: each of the 12 rows is kept 1/3 of the
    time, whichever city it is in (the one-pass form would keep one city's rows)."""
    plan = plan_query(TWO_PASSES, _catalog())
    assert "__ranked" in plan.sql("duckdb")
    con = _person({"A": 6, "B": 6})
    rows: Counter = Counter()
    for _ in range(DRAWS):
        kept = _kept(con, plan)
        assert len(kept) == R
        rows.update(amount for _, amount in kept)
    assert _chi2_ok(rows, list(range(12)), DRAWS * R), rows


@pytest.mark.parametrize("sql", [ONE_PASS, TWO_PASSES])
def test_caps_hold_with_duplicate_rows(sql: str) -> None:
    """1,000 identical rows in each of the four cities: the rewrite counts exactly
    R rows in at most G cities, and with COUNT(DISTINCT) the person once in each
    city that kept a row."""
    plan = plan_query(sql, _catalog())
    con = _person(dict.fromkeys(CITIES, 1000), duplicates=True)
    for _ in range(20):
        result = con.execute(plan.sql("duckdb")).fetchall()
        counts = {row[0]: row[1] for row in result if row[1]}
        assert len(counts) <= G
        if "DISTINCT" in sql:
            # all R kept rows may fall in one of the two kept cities (1 in 8)
            assert set(counts.values()) == {1}
        else:
            assert sum(counts.values()) == R


@pytest.mark.parametrize("sql", [ONE_PASS, TWO_PASSES])
def test_postgres_keeps_every_g_subset_equally_often(sql: str) -> None:
    """PostgreSQL ranks groups with its own keyed hash (HASHTEXTEXTENDED): the same
    uniformity, read from which cities the rewritten query counts."""
    import psycopg

    from tests.pg import require_postgres, throwaway_database

    require_postgres()
    plan = plan_query(sql, _catalog())
    text = plan.sql("postgres")
    with throwaway_database() as (admin, _), psycopg.connect(admin) as con:
        con.execute("CREATE TABLE visits (person_id INTEGER, city TEXT, amount DOUBLE PRECISION)")
        con.execute("INSERT INTO visits SELECT 1, c, i FROM unnest(ARRAY['A','B','C','D']) c, "
                    "generate_series(1, 3) i")
        seen: Counter = Counter()
        for _ in range(DRAWS):
            counted = frozenset(row[0] for row in con.execute(text).fetchall() if row[1])
            assert len(counted) == G
            seen[counted] += 1
    pairs = [frozenset(p) for p in itertools.combinations(CITIES, G)]
    assert set(seen) <= set(pairs)
    assert _chi2_ok(seen, pairs, DRAWS), seen
