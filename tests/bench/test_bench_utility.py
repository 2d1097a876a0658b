"""The utility benchmark in miniature: a handful of PUMS queries, few trials.

The translation of SmartNoise's metadata and query text is checked everywhere;
the comparison itself needs SmartNoise (`bench/.venv-snsql`) and is skipped
where it is missing, as the CI machine may not have it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import smartnoise, utility

# COUNT, AVG (SmartNoise spends 3ε), GROUP BY via partition selection, TOP n,
# the pid dataset, T-SQL's VAR(age), PI()/RANDOM() (which SmartNoise fails on),
# and a SUM over no rows, whose NULL truth leaves nothing to measure
IDS = (0, 2, 19, 45, 53, 5, 9, 17)


def test_queries_are_translated_for_dpsql() -> None:
    queries = {q.id: q for q in utility.load_queries()}
    assert len(queries) == 59
    # dpsql reads the schema prefix as written; the exact run drops it
    assert queries[0].dpsql_sql == "SELECT COUNT(*) FROM PUMS.PUMS"
    assert queries[0].exact_sql == "SELECT COUNT(*) FROM PUMS"
    assert queries[5].exact_sql == "SELECT COUNT(*), VAR_SAMP(age) AS var_age FROM PUMS"
    assert queries[45].dpsql_sql.endswith("LIMIT 5") and queries[45].limit == 5
    assert "LIMIT" not in queries[45].unlimited_sql


def test_metadata_is_translated_from_the_smartnoise_yaml(tmp_path: Path) -> None:
    table, truths = utility._write_database(
        utility.PUMS_DIR, "PUMS", tmp_path / "p.duckdb", ["SELECT COUNT(*) FROM PUMS"])
    assert table.privacy_unit == utility.ROW_ID and table.max_rows_per_unit == 1
    assert (table.columns["income"].lower, table.columns["income"].upper) == (0, 500000)
    assert truths == {"SELECT COUNT(*) FROM PUMS": [(1000,)]}
    dup, _ = utility._write_database(utility.PUMS_DIR, "PUMS_dup", tmp_path / "d.duckdb", [])
    assert dup.privacy_unit == "pid" and dup.max_groups_per_unit == 1


@pytest.mark.skipif(not smartnoise.available(), reason="bench/.venv-snsql is missing")
def test_utility_compares_both_systems_at_the_same_spend() -> None:
    report = utility.run(trials=3, only=IDS)

    compared = {r["id"]: r for r in report["queries"]}
    assert set(compared) == set(IDS) - {9, 17}
    assert [r["id"] for r in report["not_compared"]] == [17]
    for r in compared.values():
        # the same ε; δ no more than SmartNoise (a pure query without partition
        # selection is charged δ = 0, SPEC §4.5)
        assert r["dpsql_charged"]["epsilon"] == r["smartnoise_spent"]["epsilon"], r
        assert r["dpsql_charged"]["delta"] <= r["smartnoise_spent"]["delta"], r
        for field in ("dpsql_median_rel_error", "smartnoise_median_rel_error"):
            assert math.isfinite(r[field]) and r[field] >= 0, r
        assert r["cells"] >= 1
    assert compared[2]["dpsql_charged"]["epsilon"] == 3.0  # AVG = SUM + COUNT, and a count
    assert compared[0]["dpsql_median_rel_error"] < 0.05  # 1 000 rows at ε = 1
    assert report["refused"]["dpsql"] == []  # every peer query is answered (#26)
    assert [r["id"] for r in report["refused"]["smartnoise"]] == [9]
    summary = report["summary"]
    assert summary["compared"] == len(compared) and summary["accepted"] == len(IDS)
    assert summary["dpsql_wins"] + summary["ties"] + summary["smartnoise_wins"] == len(compared)
    assert "pure" in report["accounting"]["dpsql"]
    assert "overall median relative error" in utility.format_table(report)
