"""SELECTs over the analyst's tables: through the same pipeline as `/v1/query`.

Before the pipeline, the Trino text is brought to what it expects: catalog and
schema qualifiers (`dpsql.public.t`) are dropped, and the accuracy functions
(`dp_ci95(n)`, `dp_lower(n)`, `dp_upper(n)`) are taken out of the select list
and filled in afterwards from the answer's reported intervals. Three shapes are
answered without the pipeline, from the metadata alone and free:

- result-shape probes (`… LIMIT 0`, `… WHERE 1=0`): the planner types the
  outputs, nothing runs (Tableau, JDBC `getMetaData`);
- `SELECT DISTINCT c FROM t` (or `GROUP BY c` without aggregates) of a column
  with declared public keys: the keys (Metabase's field-value scans);
- raw-row previews are refused by the pipeline; they get `NOT_SUPPORTED`, which
  BI tools show as "feature not supported".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlglot import exp

from rewriter import RewriteError, plan_query
from rewriter.aggregates import is_aggregate

from ..attempts import answered, explained, recorded
from ..schemas import QueryRequest, QueryResponse
from . import types
from .context import Context, Outcome
from .errors import NOT_SUPPORTED, QUERY_REJECTED, TABLE_NOT_FOUND, TrinoError
from .session import CATALOG, SCHEMA

ACCURACY = ("dp_ci95", "dp_lower", "dp_upper")


@dataclass(frozen=True)
class AccuracyItem:
    position: int  # where the column goes in the answer
    kind: str  # dp_ci95 | dp_lower | dp_upper
    target: int  # the output it describes, among the select items left for the pipeline
    name: str


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def local_names(tree: exp.Expression) -> exp.Expression:
    """Drop `dpsql.public.` from table and column names; other catalogs and schemas
    hold nothing dpsql serves."""
    ctes = _cte_names(tree)
    for table in tree.find_all(exp.Table):
        if table.name.lower() in ctes and not table.db:
            continue
        catalog, db = table.catalog.lower(), table.db.lower()
        if catalog not in ("", CATALOG) or db not in ("", SCHEMA):
            raise TrinoError("unsupported_query", f"table {table.sql(dialect='trino')} does "
                             f"not exist; dpsql serves {CATALOG}.{SCHEMA}.<table> (see SHOW "
                             "TABLES)", TABLE_NOT_FOUND)
        table.set("catalog", None)
        table.set("db", None)
    for column in tree.find_all(exp.Column):
        column.set("catalog", None)
        column.set("db", None)
    return tree


def _is_accuracy(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() in ACCURACY


def split_accuracy(select: exp.Select) -> list[AccuracyItem]:
    """Take the accuracy functions out of the select list (changing `select`)."""
    items = list(select.expressions)
    kept = [item for item in items if not _is_accuracy(item.unalias())]
    found: list[AccuracyItem] = []
    for position, item in enumerate(items):
        call = item.unalias()
        if not _is_accuracy(call):
            continue
        kind = call.name.lower()
        if len(call.expressions) != 1:
            raise TrinoError("unsupported_query", f"{kind} takes one argument: an output "
                             "column of the same SELECT", QUERY_REJECTED)
        arg = call.expressions[0]
        target = None
        if isinstance(arg, exp.Column) and not arg.table:
            target = next((i for i, k in enumerate(kept) if k.alias_or_name == arg.name
                           and isinstance(k, exp.Alias)), None)
        if target is None:
            text = arg.sql()
            target = next((i for i, k in enumerate(kept) if k.unalias().sql() == text), None)
        if target is None:
            raise TrinoError("unsupported_query", f"{kind}({arg.sql(dialect='trino')}): name "
                             "another column of this SELECT by its alias, or repeat its "
                             "expression, e.g. SELECT COUNT(*) AS n, dp_ci95(n) …",
                             QUERY_REJECTED)
        name = item.alias if isinstance(item, exp.Alias) else f"_col{position}"
        found.append(AccuracyItem(position, kind, target, name))
    if found:
        if not kept:
            raise TrinoError("unsupported_query", "the SELECT holds only accuracy functions; "
                             "add the outputs they describe", QUERY_REJECTED)
        select.set("expressions", kept)
    stray = next((n for n in select.find_all(exp.Anonymous) if _is_accuracy(n)), None)
    if stray is not None:
        raise TrinoError("unsupported_query", f"{stray.name}(…) may appear only as a column of "
                         "the select list, e.g. SELECT COUNT(*) AS n, dp_ci95(n) …",
                         QUERY_REJECTED)
    return found


def _fill_accuracy(items: list[AccuracyItem], answer: QueryResponse,
                   columns: list[tuple[str, str]], rows: list[list[Any]]) -> None:
    """Insert the accuracy columns at their places (changing `columns` and `rows`);
    each is computed from the pipeline's own row, whose indices `target` names."""
    # per answer row: AVG, VAR and STDDEV intervals depend on each group's size
    per_row = {a.column: a.ci95_halfwidths for a in answer.accuracy if a.ci95_halfwidths}
    ordered = sorted(items, key=lambda i: i.position)
    names = [answer.columns[item.target].name for item in ordered]
    for item in ordered:
        columns.insert(item.position, (item.name, "double"))
    for r, row in enumerate(rows):
        original = list(row)
        widths = [(per_row.get(n) or [None] * (r + 1))[r] for n in names]
        for item, width in zip(ordered, widths, strict=True):
            value = original[item.target]
            cell: float | None = None
            if width is not None and item.kind == "dp_ci95":
                cell = width
            elif width is not None and isinstance(value, int | float):
                cell = value - width if item.kind == "dp_lower" else value + width
            row.insert(item.position, cell)
        rows[r] = row


# --- answered from the metadata ------------------------------------------------------


def _single_table(select: exp.Select) -> str | None:
    source = select.args.get("from_") or select.args.get("from")
    if source is None or select.args.get("joins") or not isinstance(source.this, exp.Table):
        return None
    return source.this.name


def _is_false(condition: exp.Expression) -> bool:
    if isinstance(condition, exp.Boolean):
        return not condition.this
    if isinstance(condition, exp.EQ | exp.NEQ) and isinstance(condition.this, exp.Literal) \
            and isinstance(condition.expression, exp.Literal):
        same = condition.this == condition.expression
        return not same if isinstance(condition, exp.EQ) else same
    return False


def probe_of(select: exp.Select) -> exp.Select | None:
    """The query a result-shape probe asks about, or None if it is not one."""
    limit = select.args.get("limit")
    where = select.args.get("where")
    if limit is not None and isinstance(limit.expression, exp.Literal) \
            and limit.expression.name == "0":
        inner = select.copy()
        inner.set("limit", None)
        return inner
    if where is not None and _is_false(where.this):
        inner = select.copy()
        inner.set("where", None)
        return inner
    return None


def _raw_columns(ctx: Context, select: exp.Select) -> list[tuple[str, str]] | None:
    """The columns of a plain projection of one table (no aggregates): its shape
    is the table's declared schema, which the analyst may see anyway."""
    name = _single_table(select)
    found = ctx.catalog.table(name) if name else None
    if found is None or select.args.get("group") or any(
            is_aggregate(n) for n in select.find_all(exp.Expression)):
        return None
    table = found[1]
    columns: list[tuple[str, str]] = []
    for item in select.expressions:
        if isinstance(item, exp.Star):
            columns += [(c, types.from_dpsql(col.type)) for c, col in table.columns.items()]
            continue
        inner = item.unalias()
        col = table.column(inner.name) if isinstance(inner, exp.Column) else None
        if col is None:
            return None
        columns.append((item.alias_or_name, types.from_dpsql(col.type)))
    return columns


def shape(ctx: Context, select: exp.Expression) -> list[tuple[str, str]]:
    """Output names and types, from the planner alone: nothing runs or is charged."""
    pipeline = ctx.svc.pipeline
    keys = distinct_keys(ctx, select) if isinstance(select, exp.Select) else None
    if keys is not None:
        return keys.columns
    try:
        plan = plan_query(select.sql(), ctx.catalog, pipeline.input_dialect,
                          pipeline.limits)
    except RewriteError as err:
        raw = _raw_columns(ctx, select) if isinstance(select, exp.Select) else None
        if raw is not None:
            return raw
        raise _refusal(err, select, ctx) from None
    return [(o.name, types.from_dpsql(o.type)) for o in plan.outputs]


def distinct_keys(ctx: Context, select: exp.Select) -> Outcome | None:
    """`SELECT DISTINCT c FROM t [ORDER BY c] [LIMIT n]` (or `GROUP BY c` without an
    aggregate) of a column with public keys: the declared keys, which are public."""
    if len(select.expressions) != 1 or select.args.get("where") or select.args.get("having"):
        return None
    item = select.expressions[0]
    column = item.unalias()
    name = _single_table(select)
    group = select.args.get("group")
    grouped = group is not None and len(group.expressions) == 1 and \
        group.expressions[0].unalias().sql() == column.sql()
    if not isinstance(column, exp.Column) or name is None or \
            not (bool(select.args.get("distinct")) ^ grouped):
        return None
    found = ctx.catalog.table(name)
    if found is None or found[1].public:
        return None
    canonical = found[1].canonical(column.name)
    if canonical is None or found[1].columns[canonical].public_keys is None:
        return None
    keys = list(ctx.catalog.public_keys(found[0], canonical) or ())
    descending = False
    order = select.args.get("order")
    if order is not None:
        if len(order.expressions) != 1:
            return None
        descending = bool(order.expressions[0].args.get("desc"))
    keys.sort(key=lambda k: (str(type(k)), k), reverse=descending)
    limit = select.args.get("limit")
    if limit is not None:
        if not (isinstance(limit.expression, exp.Literal) and limit.expression.is_int):
            return None
        keys = keys[: int(limit.expression.name)]
    typ = types.from_dpsql(found[1].columns[canonical].type)
    return Outcome([(item.alias_or_name, typ)], [[k] for k in keys],
                   warnings=[f"dpsql: the declared public keys of {found[0]}.{canonical}, "
                             "not read from the data; free"])


# --- through the pipeline -------------------------------------------------------------


def _is_raw(tree: exp.Expression) -> bool:
    return isinstance(tree, exp.Select) and not tree.args.get("group") and not any(
        is_aggregate(n) for n in tree.find_all(exp.Expression))


def _refusal(exc: BaseException, tree: exp.Expression, ctx: Context) -> TrinoError:
    err = TrinoError.of(exc, log_details=ctx.svc.pipeline.log_details)
    if err.code == "unsupported_query" and _is_raw(tree):
        err.trino = NOT_SUPPORTED  # a table preview: BI tools show "not supported"
    return err


def _request(ctx: Context, tree: exp.Expression) -> QueryRequest:
    epsilon, delta = ctx.privacy()
    try:
        return QueryRequest(sql=tree.sql(), epsilon=epsilon, delta=delta)
    except ValidationError as err:
        problem = err.errors()[0].get("msg", "invalid")
        raise TrinoError("invalid_parameter", f"the query cannot be sent: {problem}",
                         QUERY_REJECTED) from None


def _notes(answer: QueryResponse) -> str:
    charged, left = answer.charged, answer.remaining
    text = (f"dpsql: charged ε={charged.epsilon:g}, δ={charged.delta:g}; remaining "
            f"ε={left.epsilon:g}, δ={left.delta:g}")
    if answer.cached:
        text += "; the same query's earlier answer, free"
    widths = ", ".join(f"{a.column} ±{a.ci95_halfwidth:.4g}" for a in answer.accuracy)
    return text + (f"; 95 % intervals: {widths}" if widths else "")


def query(ctx: Context, tree: exp.Expression) -> Outcome:
    """A data SELECT: answered from the metadata when it can be, else by the pipeline."""
    tree = local_names(tree)
    items: list[AccuracyItem] = []
    if isinstance(tree, exp.Select):
        items = split_accuracy(tree)
        keys = None if items else distinct_keys(ctx, tree)
        if keys is not None:
            return keys
        probe = probe_of(tree)
        if probe is not None:
            columns = shape(ctx, probe)
            for item in sorted(items, key=lambda i: i.position):
                columns.insert(item.position, (item.name, "double"))
            return Outcome(columns, [])
    request = _request(ctx, tree)
    try:
        # on the attempts log like /v1/query, under the endpoint the client used
        answer = recorded(ctx.svc.ledger, ctx.analyst, "/v1/statement", request.sql,
                          lambda: ctx.svc.pipeline.query(ctx.analyst, request, ctx.catalog),
                          answered)
    except Exception as exc:  # noqa: BLE001 - every error leaves as our code and message
        raise _refusal(exc, tree, ctx) from None
    columns = [(c.name, types.from_dpsql(c.type)) for c in answer.columns]
    rows = [list(r) for r in answer.rows]
    _fill_accuracy(items, answer, columns, rows)
    return Outcome(columns, rows, query_id=answer.query_id, charged=answer.charged.epsilon,
                   warnings=[_notes(answer)])


def explain(ctx: Context, tree: exp.Expression) -> Outcome:
    """`EXPLAIN <select>`: dpsql's plan (rewritten SQL, noise, cost), free."""
    tree = local_names(tree)
    if isinstance(tree, exp.Select):
        split_accuracy(tree)
    try:
        request = _request(ctx, tree)
        plan = recorded(ctx.svc.ledger, ctx.analyst, "/v1/statement", request.sql,
                        lambda: ctx.svc.pipeline.explain(ctx.analyst, request, ctx.catalog),
                        explained)
    except Exception as exc:  # noqa: BLE001
        raise _refusal(exc, tree, ctx) from None
    return Outcome([("Query Plan", "varchar")],
                   [[json.dumps(plan.model_dump(mode="json"), indent=2, ensure_ascii=False)]])
