"""Optimisation experiments on dpsql's bounding rewrite (DuckDB).

Each experiment is an alternative formulation of the rewritten SQL, built by
editing the plan's sqlglot tree (CTE bodies replaced by hand-written ones), or
the same SQL on a connection with a different setting. All run on one file,
interleaved over repetitions; the report gives min and median, since the
machine may be shared (the min is the least disturbed run).

    python -m bench.experiments [--rows 1e6] [--reps 7]

Formulations (R = max_rows_per_unit, G = max_groups_per_unit):

    baseline          the rewriter's SQL as generated today
    topn_off          the same, with DuckDB's `top_n_window_elimination` disabled
                      (ROW_NUMBER() <= R is then a sorted window, not a top-n aggregate)
    qualify           the row cap as QUALIFY ROW_NUMBER() … <= R in __rows
    small_units_fast  units with ≤ R rows skip the random row choice (their rows are
                      all kept whatever the order); only larger units are ranked
    no_row_window     ungrouped COUNT(*) / COUNT(DISTINCT unit) only: the per-unit
                      count after a random choice of R rows is LEAST(n, R), and
                      a unit counts once whatever rows are kept, so no ranking is needed
    small_fast+topn_off  both of the above
    one_window        grouped queries: groups ranked by hash(unit, group, salt), rows by
                      (group rank, RANDOM()) in ONE window sort; keep gn <= G, rn <= R
    one_window_flat   the same, aggregating kept rows straight into groups (no
                      per-(unit, group) level; only when no COUNT(DISTINCT unit))
    no_key_filter     (diagnostic) the public-key IN filter removed
    no_group_cap      (diagnostic) the group cap removed
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
from sqlglot import exp, parse_one

from rewriter import plan_query

from .data import ensure_database, parse_sizes
from .suite import MAX_GROUPS_PER_UNIT, MAX_ROWS_PER_UNIT, QUERIES, catalog

R = MAX_ROWS_PER_UNIT
_TOPN = "top_n_window_elimination"


def _replace_cte(tree: exp.Expression, name: str, body: str) -> exp.Expression:
    tree = tree.copy()
    for cte in tree.find_all(exp.CTE):
        if cte.alias == name:
            cte.set("this", parse_one(body, dialect="duckdb"))
            return tree
    raise KeyError(name)


def _qualify(tree: exp.Expression) -> exp.Expression | None:
    out = _replace_cte(
        tree, "__rows",
        f'SELECT * FROM "__base" QUALIFY ROW_NUMBER() OVER (PARTITION BY "__unit" '
        f'ORDER BY "__r") <= {R}',
    )
    for cte in out.find_all(exp.CTE):
        if cte.alias == "__partial":
            cte.this.set("where", None)
    return out


def _small_units_fast(tree: exp.Expression) -> exp.Expression | None:
    return _replace_cte(
        tree, "__rows",
        'SELECT b.*, 1 AS "__rn" FROM "__base" AS b WHERE b."__unit" IN '
        f'(SELECT "__unit" FROM "__base" GROUP BY "__unit" HAVING COUNT(*) <= {R}) '
        'UNION ALL SELECT * FROM (SELECT b.*, ROW_NUMBER() OVER (PARTITION BY b."__unit" '
        'ORDER BY b."__r") AS "__rn" FROM "__base" AS b WHERE b."__unit" IN '
        f'(SELECT "__unit" FROM "__base" GROUP BY "__unit" HAVING COUNT(*) > {R}))',
    )


def _cte(tree: exp.Expression, name: str) -> exp.Select:
    return next(c.this for c in tree.find_all(exp.CTE) if c.alias == name)


def _no_row_window(tree: exp.Expression) -> exp.Expression | None:
    base, partial = _cte(tree, "__base"), _cte(tree, "__partial")
    if any(e.alias_or_name.startswith("__g") for e in base.expressions):
        return None  # grouped: which rows are kept decides which groups they count in
    if partial.find(exp.Sum) is not None or any(
        not isinstance(c.this, exp.Star) for c in partial.find_all(exp.Count)
    ):
        return None  # a sum or COUNT(column): which rows are kept changes the value
    count_item = f', LEAST(COUNT(*), {R}) AS "__m0"' if partial.find(exp.Count) else ""
    return _replace_cte(
        _replace_cte(tree, "__rows", 'SELECT * FROM "__base"'),
        "__partial",
        f'SELECT "__unit"{count_item} FROM "__base" GROUP BY "__unit"',
    )


def _no_key_filter(tree: exp.Expression) -> exp.Expression | None:
    out = tree.copy()
    ins = [n for n in out.find_all(exp.In) if n.find_ancestor(exp.CTE).alias == "__base"]
    if not ins:
        return None
    for n in ins:
        n.replace(exp.true())
    return out


def _no_group_cap(tree: exp.Expression) -> exp.Expression | None:
    sql = tree.sql(dialect="duckdb")
    if "__groups" not in sql:
        return None
    out = tree.copy()
    out.set("where", None)
    out.args["from_" if "from_" in out.args else "from"].this.set(
        "this", exp.to_identifier("__partial", quoted=True)
    )
    return out


def _one_window(tree: exp.Expression) -> exp.Expression | None:
    """Groups first, in the same sort as the rows: one window pass instead of two.

    Each unit ranks its groups by hash(unit, group, salt) (ties broken by the key
    itself, so DENSE_RANK can never merge two groups) and its rows by that group
    rank, then RANDOM(); keeping rank-in-groups <= G and row number <= R keeps
    the first R rows of the G chosen groups. Both caps hold exactly; the choice
    is random per query (the salt) and never follows data order.
    """
    if "__groups" not in tree.sql(dialect="duckdb"):
        return None
    base = _cte(tree, "__base")
    keys = [e.alias_or_name for e in base.expressions if e.alias_or_name.startswith("__g")]
    cols = ", ".join(f'"{k}"' for k in keys)
    salt = 0x5DEECE66D  # the rewriter would draw this per query
    by = f'hash("__unit", {cols}, {salt}), {cols}'
    out = _replace_cte(
        tree, "__rows",
        f'SELECT *, DENSE_RANK() OVER (PARTITION BY "__unit" ORDER BY {by}) AS "__gn", '
        f'ROW_NUMBER() OVER (PARTITION BY "__unit" ORDER BY {by}, "__r") AS "__rn" '
        'FROM "__base"',
    )
    partial = _cte(out, "__partial")
    partial.set("where", None)
    partial.where(f'"__rn" <= {R} AND "__gn" <= {MAX_GROUPS_PER_UNIT}', copy=False)
    out = _no_group_cap(out)
    assert out is not None
    with_ = out.args["with_" if "with_" in out.args else "with"]
    with_.set("expressions", [c for c in with_.expressions if c.alias != "__groups"])
    return out


def _one_window_flat(tree: exp.Expression) -> exp.Expression | None:
    """`one_window`, then aggregate the kept rows straight into groups.

    With both caps enforced on rows, per-(unit, group) partials are needed only
    for COUNT(DISTINCT unit); counts and sums can skip that level.
    """
    out = _one_window(tree)
    if out is None:
        return None
    partial = _cte(out, "__partial")
    keys = [e for e in partial.expressions if e.alias_or_name.startswith("__g")]
    aggs = [e for e in partial.expressions if e.alias_or_name.startswith("__m")]
    final_measures = [e.alias_or_name for e in out.expressions
                      if e.alias_or_name.startswith("__m")]
    if sorted(a.alias_or_name for a in aggs) != sorted(final_measures):
        return None  # a COUNT(DISTINCT unit) measure needs the per-unit level
    flat = (
        exp.select(*(k.copy() for k in keys), *(a.copy() for a in aggs))
        .from_(exp.Table(this=exp.to_identifier("__rows", quoted=True)))
        .where(partial.args["where"].this.copy())
        .group_by(*(k.copy() for k in keys))
    )
    with_ = out.args["with_" if "with_" in out.args else "with"].copy()
    with_.set("expressions", [c for c in with_.expressions if c.alias in ("__base", "__rows")])
    flat.set("with_" if "with_" in out.args else "with", with_)
    return flat


TREE_EXPERIMENTS: dict[str, Callable[[exp.Expression], exp.Expression | None]] = {
    "baseline": lambda t: t,
    "qualify": _qualify,
    "small_units_fast": _small_units_fast,
    "no_row_window": _no_row_window,
    "no_key_filter": _no_key_filter,
    "no_group_cap": _no_group_cap,
    "one_window": _one_window,
    "one_window_flat": _one_window_flat,
}


def run(path: Path, reps: int) -> dict[tuple[str, str], list[float]]:
    con = duckdb.connect(str(path), read_only=True)
    jobs: list[tuple[str, str, str, str]] = []  # query, formulation, disabled optimizers, SQL
    for q in QUERIES:
        tree = plan_query(q.sql, catalog()).tree
        jobs.append((q.name, "floor", "", q.floor_sql))
        for name, edit in TREE_EXPERIMENTS.items():
            try:
                edited = edit(tree)
            except (KeyError, StopIteration):  # the rewrite's CTEs changed shape
                print(f"{q.name}: {name} does not apply to today's rewrite; skipped")
                continue
            if edited is not None:
                jobs.append((q.name, name, "", edited.sql(dialect="duckdb")))
        jobs.append((q.name, "topn_off", _TOPN, tree.sql(dialect="duckdb")))
        try:
            fast = _small_units_fast(tree)
        except KeyError:
            fast = None
        if fast is not None:
            jobs.append((q.name, "small_fast+topn_off", _TOPN, fast.sql(dialect="duckdb")))
    times: dict[tuple[str, str], list[float]] = {(j[0], j[1]): [] for j in jobs}
    for _, _, disabled, sql in jobs:
        con.execute("SET disabled_optimizers = ?", [disabled])
        con.execute(sql).fetchall()
    for rep in range(reps):
        shift = rep % len(jobs)
        for query, name, disabled, sql in jobs[shift:] + jobs[:shift]:
            con.execute("SET disabled_optimizers = ?", [disabled])
            start = time.perf_counter()
            con.execute(sql).fetchall()
            times[query, name].append(time.perf_counter() - start)
    con.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.experiments")
    parser.add_argument("--rows", type=parse_sizes, default=parse_sizes("1e6"))
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    for rows in args.rows:
        times = run(ensure_database(rows), args.reps)
        print(f"{'query':22} {'formulation':19} {'min ms':>8} {'median ms':>10} "
              f"{'min/floor':>9} {'min/baseline':>12}")
        for (query, name), xs in times.items():
            floor, base = min(times[query, "floor"]), min(times[query, "baseline"])
            print(f"{query:22} {name:19} {1000 * min(xs):8.1f} "
                  f"{1000 * statistics.median(xs):10.1f} {min(xs) / floor:9.2f} "
                  f"{min(xs) / base:12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
