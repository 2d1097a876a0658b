"""Sugar: spellings of the same query that peers and BI tools write, brought to the
form the later passes read. Each rewrite here keeps the query's meaning exactly,
depends on the text alone, and builds only nodes the validation then checks like
any others, so no rewrite can make an unsafe query answerable:

* `FROM (t)`, `FROM ((t))`, `FROM (a JOIN b ON …)`: the parentheses dropped;
* `FROM (SELECT …)` without an alias: the derived table named `__d<i>` (its
  columns can only be referred to unqualified, so the name is never read);
* `a JOIN b USING (c, …)`: `ON a.c = b.c AND …`, and every unqualified `c` of
  the outer query read as `a.c` (for an inner join the two are equal; for a
  LEFT JOIN the USING column is `a.c` on every row, as the left row exists);
* `AGG(x) FILTER (WHERE p)`: `AGG(CASE WHEN p THEN x END)` (every aggregate
  dpsql answers skips NULLs), `COUNT(*) FILTER (WHERE p)`:
  `COUNT(CASE WHEN p THEN 1 END)`. The bounds of the CASE are those of x, so
  the sensitivity is the aggregate's own.
"""

from __future__ import annotations

from sqlglot import exp

from .errors import QueryRefused
from .parse import position_of

__all__ = ["desugar"]


def desugar(tree: exp.Expr, sql: str) -> exp.Expr:
    """`tree` with the spellings above rewritten (a copy when anything changes)."""
    if not _needs(tree):
        return tree
    tree = tree.copy()
    for select in list(tree.find_all(exp.Select)):
        _parenthesised_from(select)
        _unnamed_derived(select)
        _using(select, sql)
    for node in list(tree.find_all(exp.Filter)):
        _filter(node, sql)
    return tree


def _needs(tree: exp.Expr) -> bool:
    for node in tree.walk():
        if isinstance(node, exp.Filter):
            return True
        if isinstance(node, exp.Join) and node.args.get("using"):
            return True
        if isinstance(node, exp.Subquery) and (
                not node.alias or isinstance(node.this, (exp.Table, exp.Subquery))):
            return True
    return False


def _sources(select: exp.Select) -> list[tuple[str, exp.Expr]]:
    """(arg, node) for the FROM item and every join's item."""
    out: list[tuple[str, exp.Expr]] = []
    source = select.args.get("from") or select.args.get("from_")
    if source is not None:
        out.append(("from", source))
    out += [("join", j) for j in select.args.get("joins") or []]
    return out


def _parenthesised_from(select: exp.Select) -> None:
    for _, holder in _sources(select):
        item = holder.this
        alias = None  # the outermost alias given to the parentheses, if any
        while isinstance(item, exp.Subquery) and isinstance(item.this, (exp.Table,
                                                                         exp.Subquery)):
            if item.alias:
                if alias is not None:
                    break  # `((t) AS a) AS b`: leave it to validation
                alias = item.args.get("alias")
            item = item.this
        if item is holder.this:
            continue
        if alias is not None:
            if not isinstance(item, exp.Table) or item.alias:
                continue  # `(t AS a) AS b`: leave it to validation
            item.set("alias", alias)
        if isinstance(item, exp.Table) and item.args.get("joins"):
            if not isinstance(holder, exp.From):
                continue  # `JOIN (b JOIN c …)`: nesting changes the meaning; validation refuses
            # `FROM (a JOIN b ON …)`: the same joins, written on the SELECT
            nested = item.args["joins"]
            item.set("joins", None)
            holder.set("this", item)
            select.set("joins", [*nested, *(select.args.get("joins") or [])])
            continue
        holder.set("this", item)


def _unnamed_derived(select: exp.Select) -> None:
    for i, (_, holder) in enumerate(_sources(select)):
        item = holder.this
        if isinstance(item, exp.Subquery) and isinstance(item.this, exp.Select) \
                and not item.alias:
            item.set("alias", exp.TableAlias(this=exp.to_identifier(f"__d{i}")))


def _name_of(item: exp.Expr) -> str | None:
    if isinstance(item, (exp.Table, exp.Subquery)):
        return item.alias_or_name or None
    return None


def _using(select: exp.Select, sql: str) -> None:
    joins = select.args.get("joins") or []
    if not any(j.args.get("using") for j in joins):
        return
    source = select.args.get("from") or select.args.get("from_")
    left = _name_of(source.this) if source is not None else None
    merged: dict[str, str] = {}  # USING column -> the left table's name
    for join in joins:
        using = join.args.get("using")
        if not using:
            continue
        right = _name_of(join.this)
        if left is None or right is None or join.args.get("on") is not None:
            raise QueryRefused("JOIN … USING: name both tables (FROM a JOIN b USING (c)), or "
                               "write ON a.c = b.c", position_of(join, sql))
        if (join.side or "").upper() not in ("", "LEFT"):
            continue  # RIGHT/FULL: refused by validation as they are
        conditions = []
        for ident in using:
            name = ident.name if isinstance(ident, (exp.Identifier, exp.Column)) else None
            if not name:
                raise QueryRefused("JOIN … USING (…): list column names",
                                   position_of(join, sql))
            conditions.append(exp.EQ(this=exp.column(name, table=left),
                                     expression=exp.column(name, table=right)))
            merged.setdefault(name.lower(), left)
        join.set("using", None)
        join.set("on", exp.and_(*conditions))
    # unqualified references to a USING column, outside derived tables and the ONs
    for column in list(select.find_all(exp.Column)):
        if column.table or column.name.lower() not in merged:
            continue
        if column.find_ancestor(exp.Select) is not select:
            continue
        if column.find_ancestor(exp.Join) is not None:
            continue
        column.set("table", exp.to_identifier(merged[column.name.lower()]))


def _filter(node: exp.Filter, sql: str) -> None:
    agg = node.this
    where = node.expression
    condition = where.this if isinstance(where, exp.Where) else where
    if not isinstance(agg, exp.AggFunc) or condition is None:
        raise QueryRefused("FILTER (WHERE …) applies to an aggregate, such as "
                           "COUNT(*) FILTER (WHERE age > 30)", position_of(node, sql))
    arg = agg.this
    if isinstance(agg, exp.Count) and isinstance(arg, exp.Star):
        new_arg: exp.Expr = exp.Literal.number(1)
        agg = agg.copy()
        agg.set("this", exp.Case(ifs=[exp.If(this=condition.copy(), true=new_arg)]))
    elif isinstance(arg, exp.Distinct) and len(arg.expressions) == 1:
        agg = agg.copy()
        inner = exp.Case(ifs=[exp.If(this=condition.copy(), true=arg.expressions[0].copy())])
        agg.set("this", exp.Distinct(expressions=[inner]))
    elif isinstance(arg, exp.Expr) and not isinstance(arg, (exp.Star, exp.Distinct)) \
            and not any(isinstance(v, exp.Expr) for k, v in agg.args.items()
                        if k != "this"):
        agg = agg.copy()
        agg.set("this", exp.Case(ifs=[exp.If(this=condition.copy(), true=arg.copy())]))
    else:
        raise QueryRefused(
            f"{node.sql()}: FILTER applies to one-argument aggregates here; write the "
            "condition inside, e.g. SUM(CASE WHEN p THEN x END)", position_of(node, sql))
    if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
        # an unnamed select item keeps the name its text gives it
        text = node.sql(comments=False)
        name, _, rest = text.partition("(")
        node.replace(exp.alias_(agg, f"{name.lower()}({rest}", quoted=True))
        return
    node.replace(agg)
