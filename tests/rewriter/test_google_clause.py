"""Google's `WITH DIFFERENTIAL_PRIVACY OPTIONS(…)` and per-aggregate bounds (issue #26):
taken out on the tokens, mapped onto the same plan, never loosening the owner's."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rewriter import Catalog, QueryRefused, plan_query
from rewriter.google import DpOptions, split_dp_clause


def test_the_clause_is_taken_out_and_read() -> None:
    text, options = split_dp_clause(
        "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=0.5, delta=1e-7, "
        "max_groups_contributed=2, privacy_unit_column=id) dept, COUNT(*) FROM t GROUP BY dept")
    assert text == "SELECT dept, COUNT(*) FROM t GROUP BY dept"
    assert options == DpOptions(Fraction(1, 2), Fraction(1, 10**7), 2, "id")
    text, options = split_dp_clause("SELECT SUM(x, contribution_bounds_per_group => (-1, 2.5)) "
                                    "FROM t")
    assert text == "SELECT SUM(LEAST(GREATEST(x, -1), 2.5)) FROM t" and options == DpOptions()
    assert split_dp_clause("SELECT 1") == ("SELECT 1", None)
    # a string that merely contains the words is left alone
    assert split_dp_clause("SELECT COUNT(*) FROM t WHERE s = 'differential_privacy'")[1] is None


@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELECT COUNT(*) FROM (SELECT WITH DIFFERENTIAL_PRIVACY x FROM t) s",
     "DIFFERENTIAL_PRIVACY"),
    ("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1, epsilon=2) COUNT(*) FROM t", "twice"),
    ("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(max_groups_contributed=0.5) COUNT(*) FROM t",
     "whole number"),
    ("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1 COUNT(*) FROM t", "not"),
    ("SELECT SUM(x, contribution_bounds_per_group => (5, 1)) FROM t", "above the upper"),
])
def test_malformed_clauses_are_refused(sql: str, fragment: str) -> None:
    with pytest.raises(QueryRefused, match=fragment):
        split_dp_clause(sql)


def test_it_can_only_tighten_the_owner(catalog: Catalog) -> None:
    plan = plan_query("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(max_groups_contributed=1) "
                      "city, COUNT(*) FROM visits GROUP BY city", catalog)  # owner: G = 2
    assert plan.shape.max_groups_per_unit == 1
    with pytest.raises(QueryRefused, match="above the data owner's cap"):
        plan_query("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(max_groups_contributed=3) "
                   "city, COUNT(*) FROM visits GROUP BY city", catalog)
    # bounds intersect the declared ones ([16, 100]): looser bounds change nothing
    loose = plan_query("SELECT SUM(age, contribution_bounds_per_group => (0, 1000)) "
                       "FROM employees", catalog)
    tight = plan_query("SELECT SUM(age, contribution_bounds_per_group => (20, 60)) "
                       "FROM employees", catalog)
    (lm,), (tm,) = loose.output_measures, tight.output_measures
    assert (lm.lower, lm.upper) == (16, 100) and (tm.lower, tm.upper) == (20, 60)
    assert plan.normalized_sql.startswith("WITH DIFFERENTIAL_PRIVACY OPTIONS(")
