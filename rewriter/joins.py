"""JOIN … ON: which joins are answered, and how many public rows one private row may meet.

Public tables join the private table on declared columns; private tables join
each other only on their privacy units (SPEC §4.2). A join's fan-out is bounded
by the declared multiplicities of the public columns it equates.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlglot import exp

from .scope import Scope, Source, column_tree, source_of

# The most rows of public tables one row of the private table may match through all
# its joins: the product of the declared multiplicities of the columns the joins
# equate (SPEC §4.7: the work a query may cause is bounded before it runs).
MAX_JOIN_FANOUT = 1_000


class Joined(NamedTuple):
    joins: tuple[exp.Join, ...]
    fanout: int  # the most public rows one private row may match through all the joins


def join_conditions(select: exp.Select, ctx: Scope) -> Joined:
    """Rebuild each JOIN: INNER or LEFT, ON equalities of private and public columns,
    each public table on a column of bounded multiplicity (product ≤ MAX_JOIN_FANOUT)."""
    rebuilt: list[exp.Join] = []
    fanout = 1  # the most public rows one row of the first table may match so far
    # the private sources whose unit is equated, directly or through earlier joins, with
    # the first table's: on every joined row they all name the same person
    same_person = {id(ctx.sources[0])}
    for join, source in zip(select.args.get("joins") or [], ctx.sources[1:], strict=True):
        side, kind = (join.side or "").upper(), (join.kind or "").upper()
        if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER"):
            raise ctx.refuse(
                f"{(side + ' ' + kind).strip()} JOIN is not supported; use JOIN or LEFT JOIN "
                "with ON private.column = public.column",
                join,
            )
        if join.args.get("using") or join.args.get("on") is None:
            raise ctx.refuse(
                f"JOIN {source.name}: write the condition as ON private.column = public.column",
                join,
            )
        conditions: list[exp.Expr] = []
        units_equated = False
        matched: list[int] = []  # declared multiplicities of the public columns equated
        on = join.args["on"]
        parts = list(on.flatten()) if isinstance(on, exp.And) else [on]
        for part in parts:
            while isinstance(part, exp.Paren):
                part = part.this
            if not (isinstance(part, exp.EQ) and isinstance(part.this, exp.Column)
                    and isinstance(part.expression, exp.Column)):
                raise ctx.refuse(
                    f"JOIN … ON {part.sql()}: join on equalities of columns "
                    "(private.column = public.column), combined with AND",
                    part,
                )
            left, right = part.this, part.expression
            (ls, ln), (rs, rn) = source_of(left, ctx), source_of(right, ctx)
            if ls is rs:
                raise ctx.refuse(
                    f"JOIN … ON {part.sql()}: compare a column of {source.name} with one of "
                    "another table",
                    part,
                )
            lt, rt = ls.table.columns[ln].type, rs.table.columns[rn].type
            if lt != rt and {lt, rt} != {"integer", "float"}:
                raise ctx.refuse(
                    f"JOIN … ON {part.sql()}: {ln} is {lt} and {rn} is {rt}; join columns "
                    "of one type",
                    part,
                )
            conditions.append(exp.EQ(this=column_tree(left, ctx),
                                     expression=column_tree(right, ctx)))
            for side_source, side_name in ((ls, ln), (rs, rn)):
                declared = side_source.table.columns[side_name].multiplicity
                if side_source is source and source.table.public and declared is not None:
                    matched.append(declared)
            if ctx.is_unit(left) and ctx.is_unit(right) and (
                    (ls is source and id(rs) in same_person)
                    or (rs is source and id(ls) in same_person)):
                units_equated = True
        if units_equated:
            same_person.add(id(source))
        if source.table.public:
            fanout *= _public_multiplicity(source, matched, join, ctx)
            if fanout > MAX_JOIN_FANOUT:
                raise ctx.refuse(
                    f"JOIN {source.name}: through its joins with public tables one row may "
                    f"match up to {fanout} rows (the product of the declared multiplicities "
                    f"of the joined columns); the limit is {MAX_JOIN_FANOUT}. Join fewer "
                    "public tables, or on columns declared `unique`",
                    join,
                )
        if not source.table.public and not units_equated:
            unit, other = ctx.table.privacy_unit, source.table.privacy_unit
            first, this = min(ctx.sources[0].aliases), min(source.aliases)
            raise ctx.refuse(
                f"JOIN {source.name}: two private tables are joined only on their privacy "
                f"units, so every joined row still belongs to one person; add ON "
                f"{first}.{unit} = {this}.{other}",
                join,
            )
        table = exp.Table(this=exp.to_identifier(source.name, quoted=True),
                          alias=exp.TableAlias(this=exp.to_identifier(source.sql_alias,
                                                                      quoted=True)))
        rebuilt.append(exp.Join(this=table, on=exp.and_(*conditions),
                                side="LEFT" if side == "LEFT" else None))
    return Joined(tuple(rebuilt), fanout)


def _public_multiplicity(source: Source, matched: list[int], join: exp.Join, ctx: Scope) -> int:
    """How many rows of the public table `source` one joined row may match: the
    smallest declared multiplicity among its columns the ON clause equates.

    Refusing otherwise keeps the work of a join bounded by the metadata: joined on
    a column with repeated values, one person's rows would multiply without limit
    before any cap applies, and the running time would show it (SPEC §4.7).
    """
    if matched:
        return min(matched)
    alias = min(source.aliases)
    declared = [f"{alias}.{name}" for name, col in source.table.columns.items()
                if col.multiplicity is not None]
    if declared:
        hint = (f"equate one of its columns declared unique or with a maximum "
                       f"multiplicity: {', '.join(declared)}")
    else:
        hint = (f"the data owner must first declare one of its columns `unique: true` "
                       f"(or `max_multiplicity: k`) in the metadata of {source.name}")
    raise ctx.refuse(
        f"JOIN {source.name}: a public table is joined only on a column whose values are "
        f"unique, or repeat at most a declared number of times, so that a join cannot "
        f"multiply one person's rows; {hint}",
        join,
    )
