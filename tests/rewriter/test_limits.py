"""Work limits (SPEC §4.7, issue #17 class 9): each is checked before any
charge, names its `limits.*` setting, and planning stays linear in the query's
size, so a refusal (which is free) cannot be made expensive."""

from __future__ import annotations

import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Callable

import pytest

from rewriter import Catalog, QueryRefused, RewriteError, plan_query
from rewriter.limits import Limits, tree_depth
from rewriter.parse import parse

COUNT = "SELECT COUNT(*) FROM employees"


def refusal(sql: str, catalog: Catalog, limits: Limits | None = None) -> RewriteError:
    with pytest.raises(RewriteError) as info:
        plan_query(sql, catalog, limits=limits)
    return info.value


def test_length_names_the_setting(catalog: Catalog) -> None:
    err = refusal(COUNT + " WHERE age > 1" * 10, catalog, Limits(max_sql_chars=40))
    assert err.code == "parse_error"
    assert "limits.max_sql_chars" in err.message and "the limit is 40" in err.message


@pytest.mark.parametrize("depth", [33, 3000, 20_000])
def test_nested_parentheses_are_refused_before_parsing(catalog: Catalog, depth: int) -> None:
    sql = COUNT + " WHERE " + "(" * depth + "age > 1" + ")" * depth
    err = refusal(sql, catalog)
    assert isinstance(err, QueryRefused)
    assert f"nests {depth} levels deep" in err.message
    assert "the limit is 32 (limits.max_nesting_depth)" in err.message


@pytest.mark.parametrize("sql", [
    COUNT + " WHERE " + "CASE WHEN age > 1 THEN " * 500 + "TRUE" + " ELSE FALSE END" * 500,
    COUNT + " WHERE " + "NOT " * 3000 + "age > 1",
    "SELECT SUM(" + "ABS(" * 3000 + "age" + ")" * 3000 + ") FROM employees",
    "SELECT COUNT(*) FROM " + "(SELECT * FROM " * 2000 + "employees" + ") AS t" * 2000,
])
def test_other_nesting_is_refused(catalog: Catalog, sql: str) -> None:
    assert "limits.max_nesting_depth" in refusal(sql, catalog).message


def test_nesting_within_the_limit_plans(catalog: Catalog) -> None:
    sql = "SELECT SUM(" + "(" * 30 + "age" + "+1)" * 30 + ") FROM employees"
    assert plan_query(sql, catalog).outputs


@pytest.mark.parametrize("op", [" + 1", " AND age > 1", " OR age > 1", " || 'x'"])
def test_long_flat_chains_are_refused_by_tree_depth(catalog: Catalog, op: str) -> None:
    """`a + b + … + z` parses without recursion into a tree one level per operator."""
    sql = COUNT + " WHERE age > 1" + op * 3000
    assert "limits.max_nesting_depth" in refusal(sql, catalog).message


def test_tree_depth_is_measured_without_recursion() -> None:
    tree = parse("SELECT 1" + " + 1" * 200, limits=Limits(max_nesting_depth=40))
    assert 200 < tree_depth(tree) < 210


def test_joins_are_counted_in_ctes_and_subqueries(catalog: Catalog) -> None:
    joins = " ".join(f"JOIN departments AS d{i} ON e.dept = d{i}.dept" for i in range(3))
    sql = (f"WITH t AS (SELECT e.dept FROM employees AS e {joins}) "
           "SELECT COUNT(*) FROM t")
    err = refusal(sql, catalog, Limits(max_joins=2))
    assert "has 3 joins; the limit is 2 (limits.max_joins)" in err.message
    err = refusal(f"SELECT COUNT(*) FROM employees AS e {joins}", catalog, Limits(max_joins=0))
    assert "limits.max_joins" in err.message


def test_noise_cells_count_histogram_bins(catalog: Catalog) -> None:
    """4 declared departments × (MEDIAN's 64 bins + its count) > 100 cells."""
    sql = "SELECT dept, MEDIAN(age) FROM employees GROUP BY dept"
    plan_query(sql, catalog, limits=Limits(max_noise_cells=10_000))
    err = refusal(sql, catalog, Limits(max_noise_cells=100))
    assert "4 groups ×" in err.message and "(limits.max_noise_cells)" in err.message


def test_noise_cells_per_group_bound_partition_selection(catalog: Catalog) -> None:
    """Under partition selection the groups come from the data: only the
    per-group work is refused, on text and metadata alone."""
    medians = ", ".join(f"MEDIAN(age + {i})" for i in range(8))
    sql = f"SELECT city, {medians} FROM employees GROUP BY city"
    err = refusal(sql, catalog, Limits(max_noise_cells_per_group=100))
    assert "(limits.max_noise_cells_per_group)" in err.message
    plan = plan_query(sql, catalog, limits=Limits(max_noise_cells=1))  # total: unknown, allowed
    assert plan.selection


def test_default_limits_are_the_documented_ones() -> None:
    assert Limits() == Limits(max_sql_chars=50_000, max_nesting_depth=32, max_joins=10,
                              max_noise_cells=500_000, max_noise_cells_per_group=1_024)
    with pytest.raises(ValueError, match="limits.max_joins"):
        Limits(max_joins=-1)


# --- linear planning ---------------------------------------------------------------

def _terms(n: int, term: Callable[[int], str], sep: str) -> str:
    return sep.join(term(i) for i in range(n))


# Each shape grows with n and stays within the nesting limits (chains are kept
# short and repeated), so what is measured is the planner's work, refused or not.
SHAPES: dict[str, Callable[[int], str]] = {
    "in_list": lambda n: COUNT + " WHERE age IN (" + _terms(n, str, ", ") + ")",
    "or_groups": lambda n: COUNT + " WHERE " + _terms(
        n // 4, lambda i: f"(age = {i} OR age = {i + 1} OR age = {i + 2} OR age = {i + 3})",
        " AND "),
    "case": lambda n: "SELECT SUM(CASE " + _terms(n, lambda i: f"WHEN age = {i} THEN {i}", " ")
    + " ELSE 0 END) FROM employees",
    "aggregates": lambda n: "SELECT " + _terms(n // 8, lambda i: f"SUM(age + {i})", ", ")
    + " FROM employees",
    "select_list": lambda n: "SELECT dept, " + _terms(n // 2, lambda i: f"COUNT(*) + {i} AS c{i}",
                                                      ", ") + " FROM employees GROUP BY dept",
    "having": lambda n: "SELECT dept, COUNT(*) FROM employees GROUP BY dept HAVING "
    + _terms(n // 4, lambda i: f"(COUNT(*) > {i} OR COUNT(*) < {-i})", " AND "),
    "raw_refused": lambda n: "SELECT " + _terms(n, lambda i: "age", ", ") + ", name FROM employees",
    "unknown_refused": lambda n: COUNT + " WHERE age IN (" + _terms(n, str, ", ")
    + ") AND nope = 1",
}


def _calls(sql: str, catalog: Catalog) -> int:
    """Python function calls made planning `sql`: the work, whatever the machine's load."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        plan_query(sql, catalog)
    except RewriteError:
        pass
    finally:
        profile.disable()
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_planning_is_linear_in_the_query_size(catalog: Catalog, shape: str) -> None:
    """Doubling the query at most about doubles the planner's work (< 2.5×;
    quadratic work, as generating SQL text for every node walked once was,
    gives 4×). Counted in function calls, as timings on a loaded machine are not
    reliable; `test_a_50_kb_query_is_refused_within_a_second` keeps the clock."""
    make = SHAPES[shape]
    n = 100
    while len(make(n)) < 4_000:
        n += 100
    small, large = _calls(make(n), catalog), _calls(make(2 * n), catalog)
    assert large < 2.5 * small, (shape, len(make(n)), small, large)


def _wide_having(terms: int) -> str:
    """A HAVING of `terms` OR'd comparisons, each over a 30-term sum: deep and wide."""
    wide = " + ".join(f"(dept = 'x{i}')::int * {i}" for i in range(30)) + " + COUNT(*)"
    return ("SELECT dept, COUNT(*) FROM employees GROUP BY dept HAVING "
            + " OR ".join(f"({wide}) > {j}" for j in range(terms)))


def test_post_processing_work_per_character_is_bounded(catalog: Catalog) -> None:
    """Post-processing once generated SQL text for, and copied, the whole subtree
    at each level it walked: ~800 calls per character of this 24 KB query and
    ~10 s (issue #17). Each level now looks at a bounded part of its subtree."""
    sql = _wide_having(30)
    assert len(sql) > 20_000
    assert _calls(sql, catalog) < 100 * len(sql)


def test_a_50_kb_query_is_refused_within_a_second(catalog: Catalog) -> None:
    sql = SHAPES["having"](5000)
    assert len(sql) > 50_000
    # this process's CPU time: the suite shares two cores with other work
    began = time.process_time()
    with pytest.raises(RewriteError):  # planned, not refused for its length
        plan_query(sql + " AND nope > 1", catalog, limits=Limits(max_sql_chars=100_000))
    assert time.process_time() - began < 1.0


def test_refusing_costs_work_linear_in_the_query_length(catalog: Catalog) -> None:
    """A ratio of CPU time, not a time (the suite shares two cores): ten times the
    text may cost about ten times the planning work, not a hundred. The collector
    is paused while timing: a full collection, whose cost is the whole heap's, lands
    on whichever call crosses its threshold."""
    def planning_s(items: int) -> float:
        sql = ("SELECT COUNT(*) FROM employees WHERE age IN ("
               + ", ".join(str(i) for i in range(items)) + ") AND nope = 1")
        gc.collect()
        gc.disable()
        try:
            began = time.process_time()
            with pytest.raises(QueryRefused, match="nope"):
                plan_query(sql, catalog)
            return time.process_time() - began
        finally:
            gc.enable()

    planning_s(500), planning_s(5000)  # warm-up
    small, large = [], []
    for _ in range(5):  # interleaved, so a busy moment hits both
        small.append(planning_s(500))
        large.append(planning_s(5000))
    assert statistics.median(large) / statistics.median(small) < 40, (small, large)
