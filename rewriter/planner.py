"""parse → inline CTEs and subqueries → validate → measures → bounding rewrite →
post-processing: the rewriter's one entry point."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from sqlglot import exp

from .bound import bounded_query
from .catalog import Catalog
from .errors import QueryRefused
from .google import DpOptions, split_dp_clause
from .inline import inline
from .limits import Limits, check_joins, check_noise_cells
from .measures import plan_measures
from .names import resolve_names
from .parse import parse, position_of
from .plan import Output, Plan
from .post import SLOT, dpsql_type, duck_type, post_query, run_post
from .shape import Shape
from .sugar import desugar
from .validate import validate

MAX_PROBE_GROUPS = 5_000


def normalize(sql: str, dialect: str | None = None) -> str:
    """A canonical text of the query: same meaning, same text (for the answer cache)."""
    text, options = split_dp_clause(sql, dialect)
    prefix = f"{options.text()} " if options is not None else ""
    return prefix + parse(text, dialect).sql(dialect="duckdb", comments=False, normalize=True)


def noisy_columns(values: tuple[Output, ...]) -> list[tuple[str, str]]:
    """The `__noisy` table's columns as (name, DuckDB type)."""
    columns = [(SLOT, "BIGINT")]
    for v in values:
        if v.kind == "key":
            columns.append((v.name, duck_type(v.type)))
        elif v.kind in ("count", "units") or (v.kind == "sum" and v.type == "integer"):
            columns.append((v.name, "BIGINT"))
        else:
            columns.append((v.name, "DOUBLE"))
    return columns


def plan_query(sql: str, catalog: Catalog, dialect: str | None = None,
               limits: Limits | None = None, diagnostics: Fraction | float = 0) -> Plan:
    """Plan a query, or raise a `RewriteError` that says why it is refused.

    `dialect` is the SQL dialect the analyst writes in (sqlglot's name); the plan
    can be generated for any engine dialect. `limits` bound the work (defaults:
    `Limits()`); every limit is checked before the plan is priced or charged,
    and before the expensive steps below (the dry run, the rewritten SQL).
    `diagnostics` is the share of the query's budget the bounding diagnostics
    spend (0: no diagnostics).
    """
    limits = limits or Limits()
    share = Fraction(str(diagnostics)) if isinstance(diagnostics, float) else Fraction(diagnostics)
    if not 0 <= share < 1:
        raise ValueError(f"the diagnostics share must be in [0, 1), got {diagnostics}")
    try:
        return _plan(sql, catalog, dialect, limits, share)
    except RecursionError:  # a backstop: the nesting limits keep trees shallow
        raise QueryRefused(
            "the query nests too deeply to be planned; the limit is "
            f"{limits.max_nesting_depth} levels (limits.max_nesting_depth)"
        ) from None


def _tightened(catalog: Catalog, options: DpOptions | None) -> Catalog:
    """The catalog with Google's max_groups_contributed as every private table's G;
    it may only lower the owner's cap."""
    if options is None or options.max_groups is None:
        return catalog
    tables = dict(catalog.tables)
    for name, table in catalog.tables.items():
        if not table.public:
            tables[name] = table.model_copy(update={
                "max_groups_per_unit": min(options.max_groups, table.max_groups_per_unit)})
    return replace(catalog, tables=tables)


def _check_options(options: DpOptions | None, shape: Shape, catalog: Catalog) -> None:
    """What the clause names must agree with the owner's metadata of the query's table."""
    if options is None:
        return
    if options.unit is not None and options.unit.lower() != shape.privacy_unit.lower():
        raise QueryRefused(
            f"WITH DIFFERENTIAL_PRIVACY OPTIONS: privacy_unit_column = {options.unit}, but the "
            f"data owner declared {shape.privacy_unit} as the privacy unit of {shape.table}; "
            f"write privacy_unit_column = {shape.privacy_unit}, or leave it out")
    cap = catalog.tables[shape.table].max_groups_per_unit
    if options.max_groups is not None and options.max_groups > cap:
        raise QueryRefused(
            f"WITH DIFFERENTIAL_PRIVACY OPTIONS: max_groups_contributed = {options.max_groups} "
            f"is above the data owner's cap for {shape.table} (max_groups_per_unit = {cap}); "
            f"ask for at most {cap}, or leave it out")


def _plan(sql: str, catalog: Catalog, dialect: str | None, limits: Limits,
          diagnostics: Fraction) -> Plan:
    sql, options = split_dp_clause(sql, dialect)
    owners = catalog
    catalog = _tightened(catalog, options)
    tree = desugar(resolve_names(parse(sql, dialect, limits), catalog, sql, dialect), sql)
    inlined = inline(tree, catalog, sql)
    check_joins(inlined, limits, " (with its CTEs and subqueries expanded)")
    shape = validate(inlined, catalog, sql)
    _check_options(options, shape, owners)
    key_types = shape.group_types
    measures, values = plan_measures(shape, key_types, diagnostics > 0)
    # diagnostics are summed over the groups before noise: not cells
    check_noise_cells(None if shape.selection else len(shape.group_keys),
                      sum(len(m.columns()) for m in measures if not m.diagnostic), limits)
    post = post_query(shape)
    # Type the outputs, and make sure the post-processing runs on the public keys,
    # before anything is charged: a dry run with every noisy value at zero.
    by_name = {v.name: v for v in values}
    direct = is_direct(shape)
    types = [by_name[i.value or ""].type for i in shape.items] if direct else \
        _probe(post, values, shape, tree, sql)
    outputs: list[Output] = []
    for item, typ in zip(shape.items, types, strict=True):
        source = by_name.get(item.value or "")
        if source is not None:
                outputs.append(replace(source, name=item.name, source=source.name))
        else:
            used = tuple(dict.fromkeys(
                m for c in item.expr.find_all(exp.Column) if c.name in by_name
                for m in by_name[c.name].measures
            ))
            outputs.append(Output(item.name, "expression", typ, measures=used))
    return Plan(
        shape=shape,
        measures=measures,
        outputs=tuple(outputs),
        key_types=key_types,
        normalized_sql=(f"{options.text()} " if options is not None else "")
        + tree.sql(dialect="duckdb", comments=False, normalize=True),
        tree=bounded_query(shape, measures, key_types),
        values=values,
        post=post,
        diagnostics_share=diagnostics,
        dp_options=options,
    )


def is_direct(shape: Shape) -> bool:
    """True when every output is a key or an aggregate unchanged, with no HAVING,
    ORDER BY or LIMIT: the noisy table is the answer, no post-processing runs."""
    return (all(i.value is not None for i in shape.items) and shape.having is None
            and not shape.order and shape.limit is None and shape.offset is None)


def _probe(post: exp.Select, values: tuple[Output, ...], shape: Shape, tree: exp.Expression,
           sql: str) -> list[str]:
    """Type the outputs, and make sure the post-processing runs on the public keys,
    before anything is charged: a dry run with every noisy value at zero."""
    columns = noisy_columns(values)
    n_keys = len(shape.group_columns)
    probe = [[slot, *keys, *([0] * (len(columns) - 1 - n_keys))]
             for slot, keys in enumerate(shape.group_keys[:MAX_PROBE_GROUPS])]
    # under partition selection no key is known before the run: type on an empty table
    try:
        types, _ = run_post(post, columns, probe)
    except Exception as err:  # a binder or conversion error on public keys only
        first = str(err).splitlines()[0][:200]
        raise QueryRefused(
            f"the expressions over aggregates cannot be evaluated ({first}); check the types "
            "of the values you combine",
            position_of(tree, sql),
        ) from None
    return [dpsql_type(t) for t in types]
