"""Utility: dpsql's and SmartNoise SQL's errors on SmartNoise's own PUMS queries.

``python -m bench.utility`` (run by ``make bench``) writes ``bench/utility.json``
and prints a table. Method (``bench/README.md`` says more):

1. Data and queries are SmartNoise's PUMS peers (``bench/pums/``, MIT): three
   CSV files with their YAML metadata and ``queries.json``; only the queries
   marked ``accept`` are used.
2. dpsql gets metadata translated from each YAML: the same bounds; privacy unit
   ``pid`` (``private_id``) or, for ``row_privacy``, a generated ``row_id``;
   ``max_rows_per_unit`` = ``max_groups_per_unit`` = ``max_ids`` (SmartNoise's
   default 1). No public keys: like SmartNoise, dpsql releases groups only
   through partition selection. Column types come from the data (the YAML calls
   sex/educ/race/married strings; the CSVs, and SmartNoise's pandas reader,
   hold integers). dpsql reads the queries as written, ``FROM PUMS.PUMS``
   included (the deployment declares the schema name ``PUMS``, `names.schemas`),
   except that ``TOP n`` is written ``LIMIT n`` and the entry's ``duckdb_sql`` is
   used where SmartNoise's name resolution differs; the exact DuckDB run drops
   the schema prefix (the table lives in DuckDB's ``main``).
3. Each system answers a query or refuses it; refusals are listed with reasons.
   A query both answer is asked ``--trials`` times of each at the same
   privacy cost: SmartNoise's odometer (``get_privacy_cost``) says what it
   really spends (every hidden mechanism charged the full ε: its "ε = 1" AVG
   costs 3), and dpsql is asked for exactly that (ε, δ) under pure accounting
   (discrete Laplace; δ buys partition selection where a GROUP BY needs it).
   dpsql runs through the real pipeline (plan, ledger charge, engine, noise);
   each trial is a fresh analyst, as the answer cache would otherwise repeat.
4. Error per cell: |noisy − true| / max(|true|, 1), where the truth is the
   query run exactly on the raw table (DuckDB). Cells are the true answer's
   aggregate columns; rows are matched by their group key, and a group the
   system did not release (thresholding, HAVING or LIMIT on noisy values)
   counts as answered 0. Where the keys are not in the output, the values of
   each column are paired in sorted order. Per query: the median over cells
   and trials; overall: the median over queries.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml
from sqlglot import exp, parse_one

from proxy.app import start_services
from proxy.config import parse_config
from proxy.deps import Services
from proxy.schemas import QueryRequest
from rewriter import Column, Plan, RewriteError, Table, plan_query

from . import smartnoise

__all__ = ["PUMS_DIR", "UTILITY", "PumsQuery", "dpsql_sql", "load_queries", "main", "run"]

HERE = Path(__file__).resolve().parent
PUMS_DIR = HERE / "pums"
UTILITY = HERE / "utility.json"
WORKER = HERE / "_snsql_utility.py"
DATASETS = ("PUMS", "PUMS_pid", "PUMS_dup")
ROW_ID = "row_id"  # the privacy unit dpsql is given for SmartNoise's row_privacy
EPSILON, DELTA = 1.0, 1e-5  # SmartNoise's Privacy(); dpsql is asked for what it spends
_TYPES = {"BIGINT": "integer", "INTEGER": "integer", "DOUBLE": "float", "VARCHAR": "text"}


@dataclass(frozen=True)
class PumsQuery:
    id: int  # the position in queries.json
    dataset: str
    sql: str  # SmartNoise's text
    dpsql_sql: str  # the same query as dpsql reads it (schema prefix kept)

    @property
    def exact_sql(self) -> str:
        """The query the exact DuckDB run answers: the schema prefix dropped."""
        tree = parse_one(self.dpsql_sql, dialect="duckdb")
        for table in tree.find_all(exp.Table):
            table.set("db", None)
        # T-SQL's VAR and STD (sample forms, as dpsql reads them) in DuckDB's words
        for call in list(tree.find_all(exp.Anonymous)):
            name = {"var": "VAR_SAMP", "std": "STDDEV_SAMP"}.get(call.name.lower())
            if name is not None:
                call.set("this", name)
        return tree.sql(dialect="duckdb")

    @property
    def limit(self) -> int | None:
        limit = parse_one(self.dpsql_sql, dialect="duckdb").args.get("limit")
        return int(limit.expression.name) if limit is not None else None

    @property
    def unlimited_sql(self) -> str:
        """The query without its LIMIT: the true values of every group."""
        tree = parse_one(self.exact_sql, dialect="duckdb")
        tree.set("limit", None)
        return tree.sql(dialect="duckdb")


def dpsql_sql(entry: dict[str, Any]) -> str:
    """The query for dpsql: as written, ``TOP n`` as ``LIMIT n``."""
    text = entry.get("duckdb_sql", entry["sql"])
    dialect = "tsql" if re.search(r"\bTOP\s+\d", text, re.IGNORECASE) else "duckdb"
    return parse_one(text, dialect=dialect).sql(dialect="duckdb")


def load_queries(pums_dir: Path = PUMS_DIR) -> list[PumsQuery]:
    """The ``accept`` queries of ``queries.json`` on the datasets shipped here."""
    entries = json.loads((pums_dir / "queries.json").read_text(encoding="utf-8"))
    return [PumsQuery(i, e["dataset"], e["sql"], dpsql_sql(e))
            for i, e in enumerate(entries)
            if e["expect"] == "accept" and e["dataset"] in DATASETS]


def _smartnoise_table(yaml_path: Path) -> dict[str, Any]:
    document = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    (schemas,) = document.values()
    (tables,) = schemas.values()
    (table,) = tables.values()
    return dict(table)


def _write_database(
    pums_dir: Path, dataset: str, path: Path, sqls: Sequence[str]
) -> tuple[Table, dict[str, list[tuple[Any, ...]]]]:
    """DuckDB table ``PUMS`` from the CSV; its dpsql metadata from the YAML; the
    exact answers of ``sqls`` (those DuckDB runs)."""
    meta = _smartnoise_table(pums_dir / f"{dataset}.yaml")
    row_level = bool(meta.get("row_privacy", False))
    con = duckdb.connect(str(path))
    try:
        csv = str(pums_dir / f"{dataset}.csv").replace("'", "''")
        extra = f", row_number() OVER () AS {ROW_ID}" if row_level else ""
        con.execute(f"CREATE TABLE PUMS AS SELECT *{extra} FROM read_csv('{csv}', header = true)")
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'PUMS'").fetchall())
        truths = {}
        for sql in sqls:
            try:
                truths[sql] = con.execute(sql).fetchall()
            except duckdb.Error:
                continue  # dpsql refuses these too (checked in run)
    finally:
        con.close()
    unit = ROW_ID if row_level else next(
        name for name, m in meta.items() if isinstance(m, dict) and m.get("private_id"))
    columns = {}
    for name, kind in types.items():
        m = meta.get(name, {})
        bounds = {"lower": m["lower"], "upper": m["upper"]} if "upper" in m else {}
        columns[name] = Column(type=_TYPES[kind], **bounds)  # type: ignore[arg-type]
    max_ids = 1 if row_level else int(meta.get("max_ids", 1))
    table = Table(privacy_unit=unit, max_rows_per_unit=max_ids, max_groups_per_unit=max_ids,
                  columns=columns)
    return table, truths


def _analyst(i: int) -> str:
    return f"trial_{i:04d}"


@contextmanager
def dpsql_services(
    pums_dir: Path, dataset: str, folder: Path, trials: int, sqls: Sequence[str]
) -> Iterator[tuple[Services, dict[str, list[tuple[Any, ...]]]]]:
    """dpsql's pipeline over one dataset, with one analyst per trial; and the
    exact answers of ``sqls``, computed before the engine seals the file."""
    database = folder / f"{dataset}.duckdb"
    table, truths = _write_database(pums_dir, dataset, database, sqls)
    huge = {"epsilon": 1e9, "delta": 0.5}
    document = {
        "engine": {"kind": "duckdb", "database": str(database), "statement_timeout_s": 60},
        "ledger": {"url": f"sqlite:///{folder / f'{dataset}-ledger.db'}"},
        "privacy": {"accounting": "pure", "default_query_epsilon": 1.0,
                    "default_query_delta": 0.0, "max_query_epsilon": 1000.0,
                    "max_query_delta": 0.01, "dataset_budget": huge},
        "names": {"schemas": ["PUMS"]},  # SmartNoise's queries say FROM PUMS.PUMS
        "tables": {"PUMS": table.model_dump(mode="json", exclude_defaults=True)},
        "analysts": {_analyst(i): {"role": "analyst", "api_key_sha256": f"{i:064x}",
                                   "budget": huge} for i in range(trials)},
    }
    services = start_services(parse_config(document))
    try:
        yield services, truths
    finally:
        services.close()


# --- errors ---------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _key(values: Sequence[Any]) -> tuple[str, ...]:
    """Group keys compared as text: SmartNoise returns string-typed keys as '1'."""
    out = []
    for v in values:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(str(v))
    return tuple(out)


def _errors(
    plan: Plan, truth: list[Sequence[Any]], answer: list[Sequence[Any]],
    limit: int | None = None, unlimited: list[Sequence[Any]] | None = None,
) -> list[float]:
    """Relative error of every cell of ``truth`` in one noisy ``answer``.

    Under a LIMIT, which groups make the cut depends on noise (or on nothing,
    without ORDER BY): the released rows are compared with the true values of
    the same groups (``unlimited``), and each row short of the limit counts as
    answered 0 (error 1 per cell).
    """
    cells = [i for i, o in enumerate(plan.outputs) if o.measures]
    keys = [i for i, o in enumerate(plan.outputs) if o.kind == "key"]
    errors: list[float] = []

    def rel(noisy: Any, true: float) -> float:
        return abs((_number(noisy) or 0.0) - true) / max(abs(true), 1.0)

    keyed = len(keys) == len(plan.shape.group_columns)  # every key is in the output
    if keyed and limit is not None and unlimited is not None:
        true_by_key = {_key([row[i] for i in keys]): row for row in unlimited}
        for row in answer:
            true_row = true_by_key.get(_key([row[i] for i in keys]))
            for i in cells:
                true = _number(true_row[i]) if true_row is not None else 0.0
                if true is not None:
                    errors.append(rel(row[i], true))
        short = max(0, min(limit, len(unlimited)) - len(answer))
        return errors + [1.0] * (short * len(cells))
    if keyed:
        by_key = {_key([row[i] for i in keys]): row for row in answer}
        for row in truth:
            got = by_key.get(_key([row[i] for i in keys]))
            for i in cells:
                true = _number(row[i])
                if true is not None:
                    errors.append(rel(got[i] if got is not None else None, true))
        return errors
    for i in cells:  # keys not shown: pair each column's values, largest first
        true_values = sorted((t for row in truth if (t := _number(row[i])) is not None),
                             reverse=True)
        noisy = sorted((_number(row[i]) or 0.0 for row in answer), reverse=True)
        noisy = (noisy + [0.0] * len(true_values))[:len(true_values)]  # unreleased: 0
        errors += [rel(n, t) for n, t in zip(noisy, true_values, strict=True)]
    return errors


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


# --- the run --------------------------------------------------------------


def _smartnoise_answers(
    pums_dir: Path, queries: Sequence[PumsQuery], trials: int
) -> dict[int, dict[str, Any]]:
    job = {"pums_dir": str(pums_dir), "epsilon": EPSILON, "delta": DELTA, "trials": trials,
           "queries": [{"id": q.id, "dataset": q.dataset, "sql": q.sql} for q in queries]}
    return {r["id"]: r for r in smartnoise.worker(job, worker=WORKER)}


def run(
    trials: int = 100, pums_dir: Path = PUMS_DIR, only: Sequence[int] | None = None
) -> dict[str, Any]:
    """Everything ``utility.json`` holds; ``only`` restricts to those query ids."""
    queries = [q for q in load_queries(pums_dir) if only is None or q.id in only]
    sn = _smartnoise_answers(pums_dir, queries, trials)
    results: list[dict[str, Any]] = []
    refused: dict[str, list[dict[str, Any]]] = {"dpsql": [], "smartnoise": []}
    not_compared: list[dict[str, Any]] = []  # answered by both, but nothing to measure
    with tempfile.TemporaryDirectory(prefix="dpsql-utility-") as tmp, ExitStack() as stack:
        services: dict[str, tuple[Services, dict[str, list[tuple[Any, ...]]]]] = {}
        for dataset in sorted({q.dataset for q in queries}):
            sqls = [s for q in queries if q.dataset == dataset
                    for s in (q.exact_sql, q.unlimited_sql)]
            services[dataset] = stack.enter_context(
                dpsql_services(pums_dir, dataset, Path(tmp), trials, sqls))
        for q in queries:
            pipeline, truths = services[q.dataset][0].pipeline, services[q.dataset][1]
            snq = sn[q.id]
            if snq["error"] is not None:
                refused["smartnoise"].append({"id": q.id, "sql": q.sql, "reason": snq["error"]})
            try:
                plan: Plan | None = plan_query(q.dpsql_sql, pipeline.catalog)
            except RewriteError as exc:
                plan = None
                refused["dpsql"].append({"id": q.id, "sql": q.dpsql_sql, "reason": exc.message})
            if plan is None or snq["error"] is not None:
                continue
            epsilon, delta = snq["epsilon"], snq["delta"]
            truth, unlimited = truths[q.exact_sql], truths[q.unlimited_sql]
            dp_errors: list[float] = []
            charged: set[tuple[float, float]] = set()
            try:
                for i in range(trials):
                    answer = pipeline.query(_analyst(i), QueryRequest(
                        sql=q.dpsql_sql, epsilon=epsilon, delta=delta))
                    charged.add((answer.charged.epsilon, answer.charged.delta))
                    dp_errors += _errors(plan, truth, answer.rows, q.limit, unlimited)
            except RewriteError as exc:  # e.g. a refusal only the pipeline makes
                refused["dpsql"].append({"id": q.id, "sql": q.dpsql_sql, "reason": exc.message})
                continue
            sn_errors = [e for a in snq["answers"]
                         for e in _errors(plan, truth, a, q.limit, unlimited)]
            if not dp_errors:  # e.g. a SUM over no rows: the truth is NULL
                not_compared.append({"id": q.id, "sql": q.sql,
                                     "reason": "the true answer has no numeric cell"})
                continue
            (dp_eps, dp_delta), = charged
            results.append({
                "id": q.id, "dataset": q.dataset, "sql": q.sql, "dpsql_sql": q.dpsql_sql,
                "smartnoise_spent": {"epsilon": epsilon, "delta": delta},
                "dpsql_charged": {"epsilon": dp_eps, "delta": dp_delta},
                "cells": len(dp_errors) // trials,  # per trial (on average, under LIMIT)
                "dpsql_median_rel_error": _median(dp_errors),
                "smartnoise_median_rel_error": _median(sn_errors),
            })
    dp_medians = [r["dpsql_median_rel_error"] for r in results]
    sn_medians = [r["smartnoise_median_rel_error"] for r in results]
    wins = sum(d < s for d, s in zip(dp_medians, sn_medians, strict=True))
    ties = sum(d == s for d, s in zip(dp_medians, sn_medians, strict=True))
    return {
        "method": "median over cells and trials of |noisy - true| / max(|true|, 1); "
                  "a group not released counts as 0; see bench/utility.py",
        "trials": trials,
        "accounting": {
            "dpsql": "pure (epsilon, delta): discrete Laplace, delta only for partition "
                     "selection; asked for exactly what SmartNoise's odometer spends",
            "smartnoise": f"snsql 1.0.10 Privacy(epsilon={EPSILON}, delta={DELTA}); "
                          "get_privacy_cost per query (each mechanism charged in full)",
        },
        "queries": results,
        "refused": refused,
        "not_compared": not_compared,
        "summary": {
            "accepted": len(queries), "compared": len(results),
            "refused_by_dpsql": len(refused["dpsql"]),
            "refused_by_smartnoise": len(refused["smartnoise"]),
            "not_compared": len(not_compared),
            "dpsql_median_rel_error": _median(dp_medians),
            "smartnoise_median_rel_error": _median(sn_medians),
            "dpsql_wins": wins, "ties": ties, "smartnoise_wins": len(results) - wins - ties,
        },
    }


def format_table(report: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.2f}%"

    rows = [("id", "ε", "cells", "dpsql err", "sn err", "query")]
    for r in report["queries"]:
        rows.append((str(r["id"]), f"{r['dpsql_charged']['epsilon']:g}", str(r["cells"]),
                     pct(r["dpsql_median_rel_error"]), pct(r["smartnoise_median_rel_error"]),
                     r["sql"][:70]))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join([*(c.rjust(w) for c, w in zip(row[:5], widths, strict=True)), row[5]])
             for row in rows]
    s = report["summary"]
    lines.append(
        f"{s['compared']} of {s['accepted']} accepted queries compared ({report['trials']} "
        f"trials each); overall median relative error: dpsql {pct(s['dpsql_median_rel_error'])}"
        f", SmartNoise {pct(s['smartnoise_median_rel_error'])}; dpsql more accurate on "
        f"{s['dpsql_wins']}, SmartNoise on {s['smartnoise_wins']}, ties {s['ties']}")
    lines.append(f"refused by dpsql: {s['refused_by_dpsql']}, by SmartNoise: "
                 f"{s['refused_by_smartnoise']}; answered but nothing to measure: "
                 f"{s['not_compared']} (reasons in utility.json)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.utility",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--only", default=None,
                        help="comma-separated query ids (positions in queries.json)")
    parser.add_argument("--pums-dir", type=Path, default=PUMS_DIR)
    parser.add_argument("--out", type=Path, default=UTILITY)
    args = parser.parse_args(argv)
    if not (args.pums_dir / "queries.json").exists():
        print(f"bench.utility: {args.pums_dir}/queries.json is missing; the PUMS files "
              "ship in bench/pums/", file=sys.stderr)
        return 1
    if not smartnoise.available():
        print(f"bench.utility: skipped, {smartnoise.VENV} is missing "
              "(python -m bench.smartnoise --install)", file=sys.stderr)
        return 0
    only = [int(x) for x in args.only.split(",")] if args.only else None
    report = run(args.trials, args.pums_dir, only)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(report))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
