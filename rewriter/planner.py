"""The rewriter's one entry point: planning as an ordered list of passes.

    split the DP clause → parse → resolve names → desugar → inline CTEs and
    subqueries → validate → measures → post-processing → type the outputs

Each pass takes the planning state and returns it with one more part filled
in (`PASSES`, in the manner of sqlglot's `optimizer.RULES`); every refusal
raises a `RewriteError` from the pass that finds it, before anything is priced
or charged. `plan_query` runs them and assembles the `Plan`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import partial

from sqlglot import exp

from .bound import bounded_query
from .catalog import Catalog
from .errors import QueryRefused
from .finish import dpsql_type, is_direct, noisy_columns, run_post
from .google import DpOptions, check_options, split_dp_clause, tightened
from .inline import inline
from .limits import Limits, check_joins, check_noise_cells
from .measures import plan_measures
from .names import resolve_names
from .parse import parse, position_of
from .plan import Measure, Output, Plan
from .post import post_query
from .shape import Shape
from .sugar import desugar
from .validate import validate

MAX_PROBE_GROUPS = 5_000


@dataclass(frozen=True)
class Planning:
    """What the passes know so far; each pass fills in the next part."""

    sql: str  # the query text refusals point into (the DP clause split off)
    dialect: str | None
    owners: Catalog  # the data owner's catalog
    catalog: Catalog  # as the query sees it (the DP clause may lower G)
    limits: Limits
    diagnostics: Fraction
    options: DpOptions | None = None
    tree: exp.Expr | None = None  # the analyst's query, names resolved, sugar removed
    inlined: exp.Expr | None = None  # … with CTEs and derived tables inlined
    shape: Shape | None = None
    measures: tuple[Measure, ...] = ()
    values: tuple[Output, ...] = ()  # the noisy table's columns
    post: exp.Select | None = None
    outputs: tuple[Output, ...] = ()  # what the analyst sees


Pass = Callable[[Planning], Planning]


def split_clause(p: Planning) -> Planning:
    """Google's `WITH DIFFERENTIAL_PRIVACY OPTIONS(…)`: split off, and its cap applied."""
    sql, options = split_dp_clause(p.sql, p.dialect)
    return replace(p, sql=sql, options=options, catalog=tightened(p.catalog, options))


def read(p: Planning) -> Planning:
    """Parse (within the limits), resolve qualified names, rewrite sugar to plain forms."""
    tree = resolve_names(parse(p.sql, p.dialect, p.limits), p.catalog, p.sql, p.dialect)
    return replace(p, tree=desugar(tree, p.sql))


def inline_derived(p: Planning) -> Planning:
    assert p.tree is not None
    inlined = inline(p.tree, p.catalog, p.sql)
    check_joins(inlined, p.limits, " (with its CTEs and subqueries expanded)")
    return replace(p, inlined=inlined)


def check(p: Planning) -> Planning:
    assert p.inlined is not None
    shape = validate(p.inlined, p.catalog, p.sql)
    check_options(p.options, shape, p.owners)
    return replace(p, shape=shape)


def measure(p: Planning) -> Planning:
    assert p.shape is not None
    measures, values = plan_measures(p.shape, p.shape.group_types, p.diagnostics > 0)
    # diagnostics are summed over the groups before noise: not cells
    check_noise_cells(None if p.shape.selection else len(p.shape.group_keys),
                      sum(len(m.columns()) for m in measures if not m.diagnostic), p.limits)
    return replace(p, measures=measures, values=values, post=post_query(p.shape))


def type_outputs(p: Planning) -> Planning:
    """Type the outputs, and make sure the post-processing runs on the public keys,
    before anything is charged: a dry run with every noisy value at zero."""
    assert p.shape is not None
    by_name = {v.name: v for v in p.values}
    types = [by_name[i.value or ""].type for i in p.shape.items] if is_direct(p.shape) else \
        _probe(p)
    outputs: list[Output] = []
    for item, typ in zip(p.shape.items, types, strict=True):
        source = by_name.get(item.value or "")
        if source is not None:
            outputs.append(replace(source, name=item.name, source=source.name))
        else:
            used = tuple(dict.fromkeys(
                m for c in item.expr.find_all(exp.Column) if c.name in by_name
                for m in by_name[c.name].measures
            ))
            outputs.append(Output(item.name, "expression", typ, measures=used))
    return replace(p, outputs=tuple(outputs))


PASSES: tuple[Pass, ...] = (split_clause, read, inline_derived, check, measure, type_outputs)


def normalize(sql: str, dialect: str | None = None) -> str:
    """A canonical text of the query: same meaning, same text (for the answer cache)."""
    text, options = split_dp_clause(sql, dialect)
    prefix = f"{options.text()} " if options is not None else ""
    return prefix + parse(text, dialect).sql(dialect="duckdb", comments=False, normalize=True)


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
    state = Planning(sql, dialect, catalog, catalog, limits, share)
    try:
        for step in PASSES:
            state = step(state)
    except RecursionError:  # a backstop: the nesting limits keep trees shallow
        raise QueryRefused(
            "the query nests too deeply to be planned; the limit is "
            f"{limits.max_nesting_depth} levels (limits.max_nesting_depth)"
        ) from None
    return _assemble(state)


def _assemble(p: Planning) -> Plan:
    assert p.shape is not None and p.tree is not None
    prefix = f"{p.options.text()} " if p.options is not None else ""
    return Plan(
        shape=p.shape,
        measures=p.measures,
        outputs=p.outputs,
        key_types=p.shape.group_types,
        normalized_sql=prefix + p.tree.sql(dialect="duckdb", comments=False, normalize=True),
        tree=bounded_query(p.shape, p.measures, p.shape.group_types),
        values=p.values,
        post=p.post,
        diagnostics_share=p.diagnostics,
        dp_options=p.options,
        build=partial(bounded_query, p.shape, p.measures, p.shape.group_types),
    )


def _probe(p: Planning) -> list[str]:
    assert p.shape is not None and p.post is not None and p.tree is not None
    columns = noisy_columns(p.values)
    n_keys = len(p.shape.group_columns)
    probe = [[slot, *keys, *([0] * (len(columns) - 1 - n_keys))]
             for slot, keys in enumerate(p.shape.group_keys[:MAX_PROBE_GROUPS])]
    # under partition selection no key is known before the run: type on an empty table
    try:
        types, _ = run_post(p.post, columns, probe)
    except Exception as err:  # a binder or conversion error on public keys only
        first = str(err).splitlines()[0][:200]
        raise QueryRefused(
            f"the expressions over aggregates cannot be evaluated ({first}); check the types "
            "of the values you combine",
            position_of(p.tree, p.sql),
        ) from None
    return [dpsql_type(t) for t in types]
