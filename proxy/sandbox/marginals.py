"""A better twin, at a price the owner chooses: DP marginals of the real data.

The owner spends ε once (`POST /v1/admin/sandbox/marginals`); dpsql asks, per
private table, through the ordinary pipeline (the vetted mechanisms, the ledger,
the dataset-wide budget):

* the number of people: ``COUNT(DISTINCT <unit>)``;
* per column with public keys: ``COUNT(*)`` per key;
* per bounded number: ``COUNT(*)`` in each of BINS equal-width bins over
  ``[lower, upper]`` (a CASE bucket, so the groups are declared, not selected).

What it reveals: exactly these noisy counts, which every analyst of the sandbox
can then read off the twin (its shares per key and per bin, its size). They are
differentially private at the ε spent, like any answer. Rows per person are not
measured: the twin keeps its geometric shape under the declared caps.

The queries run as the analyst :data:`ANALYST` (registered with a key nobody
holds, granted the ε the owner spends), so compliance sees every charge under
that name. Asking again at the same ε costs nothing: the ledger's answer cache
returns the same noisy counts, also after a restart.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sqlglot import exp

from accountant import Budget, to_fraction
from rewriter import Catalog, Table
from rewriter.keys import json_key

from ..pipeline import Pipeline
from ..schemas import QueryRequest

__all__ = ["ANALYST", "BINS", "TableMarginals", "measure_marginals", "marginal_queries"]

ANALYST = "dpsql-sandbox"
BINS = 10


@dataclass(frozen=True)
class TableMarginals:
    people: int | None = None
    keys: dict[str, list[float]] = field(default_factory=dict)  # column -> weight per key
    bins: dict[str, list[float]] = field(default_factory=dict)  # column -> weight per bin


def _bucket(column: str, lower: float, upper: float) -> exp.Expression:
    case = exp.Case()
    width = (upper - lower) / BINS
    for k in range(BINS - 1):
        case = case.when(exp.LT(this=exp.column(column, quoted=True),
                                expression=exp.Literal.number(repr(lower + width * (k + 1)))),
                         exp.Literal.number(k))
    return case.else_(exp.Literal.number(BINS - 1))


def marginal_queries(name: str, table: Table) -> list[tuple[str, str | None, str]]:
    """(kind, column, SQL) per marginal of one private table."""
    source = exp.Table(this=exp.to_identifier(name, quoted=True))
    n = exp.alias_(exp.Count(this=exp.Star()), "n")
    unit = exp.Count(this=exp.Distinct(expressions=[
        exp.column(table.privacy_unit or "", quoted=True)]))
    people = exp.select(exp.alias_(unit, "n")).from_(source).sql()
    out: list[tuple[str, str | None, str]] = [("people", None, people)]
    for col_name, col in table.columns.items():
        if col_name == table.privacy_unit:
            continue
        if col.public_keys is not None:
            key = exp.column(col_name, quoted=True)
            out.append(("keys", col_name, exp.select(key, n.copy()).from_(source.copy())
                        .group_by(key.copy()).sql()))
        elif col.lower is not None and col.upper is not None and col.upper > col.lower:
            bucket = exp.alias_(_bucket(col_name, float(col.lower), float(col.upper)), "bucket")
            out.append(("bins", col_name, exp.select(bucket, n.copy()).from_(source.copy())
                        .group_by(exp.column("bucket")).sql()))
    return out


def _ensure_analyst(pipeline: Pipeline, epsilon: Fraction, delta: Fraction, actor: str,
                    reason: str, clock_now: Any) -> None:
    """Register the sandbox's analyst (a key nobody holds) and grant it what is spent."""
    ledger = pipeline.ledger
    if not any(r.name == ANALYST for r in ledger.analysts()):
        digest = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
        ledger.register_analyst(ANALYST, "analyst", digest, actor=actor, reason=reason)
    status = ledger.status(ANALYST, clock_now)
    granted = status.granted or Budget.zero()
    # enough for this round on top of what was spent; a repeat is answered from the cache
    wanted = Budget.of(max(granted.epsilon, status.spent.epsilon + epsilon),
                       max(granted.delta, status.spent.delta + delta))
    ledger.set_grant(ANALYST, wanted, None, actor=actor, reason=reason)


def measure_marginals(pipeline: Pipeline, epsilon: Fraction, delta: Fraction | None, *,
                      actor: str, reason: str = "sandbox twin from DP marginals"
                      ) -> tuple[dict[str, TableMarginals], list[str]]:
    """Ask every marginal at an equal share of ε and δ (δ None: each query gets the
    deployment's default δ, which zCDP needs to convert ρ).

    Returns the marginals and the query ids charged (empty when all were cached)."""
    catalog: Catalog = pipeline.catalog
    plans = {name: marginal_queries(name, t) for name, t in catalog.tables.items()
             if not t.public}
    count = sum(len(q) for q in plans.values())
    if count == 0:
        return {}, []
    # a share written in nine decimals, rounded down, so the shares never exceed ε
    each = Fraction(math.floor(epsilon / count * 10**9), 10**9)
    if delta is None:  # the deployment's default δ per query
        each_delta = to_fraction(pipeline.privacy.default_delta)
        delta = each_delta * count
    else:
        each_delta = Fraction(math.floor(delta / count * 10**18), 10**18)
    _ensure_analyst(pipeline, epsilon, delta, actor, reason, pipeline.clock())
    result: dict[str, TableMarginals] = {}
    charged: list[str] = []
    for name, queries in plans.items():
        people: int | None = None
        keys: dict[str, list[float]] = {}
        bins: dict[str, list[float]] = {}
        for kind, column, sql in queries:
            answer = pipeline.query(ANALYST, QueryRequest(
                sql=sql, epsilon=float(each), delta=float(each_delta)), catalog)
            if not answer.cached:
                charged.append(answer.query_id)
            if kind == "people":
                people = max(1, int(answer.rows[0][0]))
            elif kind == "keys" and column is not None:
                declared = catalog.public_keys(name, column) or ()
                counts = {json.dumps(row[0]): row[1] for row in answer.rows}
                keys[column] = [max(0, counts.get(json.dumps(json_key(k)), 0)) + 1
                                for k in declared]
            elif column is not None:
                by_bin = {row[0]: row[1] for row in answer.rows}
                bins[column] = [max(0, by_bin.get(k, 0)) + 1 for k in range(BINS)]
        result[name] = TableMarginals(people, keys, bins)
    return result, charged

