"""Whole queries over the hostile tables: FROM (plain, public join, private join on the
unit, CTE or subquery with rebuilt columns), WHERE, GROUP BY (public keys, CASE buckets,
or partition selection over columns and expressions of every type), SELECT of keys,
aggregates and post-processing over them, HAVING, ORDER BY, LIMIT."""

from __future__ import annotations

from functools import cache

from hypothesis import strategies as st

from .grammar import PLACES, Grammar, events_cols, people_cols

NUM_TYPES = ("integer", "float")
PEOPLE = Grammar(people_cols())
PUBLIC_JOIN = Grammar(people_cols("p") + PLACES)
PRIVATE_JOIN = Grammar(people_cols("p") + events_cols("e"))


@st.composite
def from_clause(draw: st.DrawFn) -> tuple[str, Grammar, str, str]:
    """(FROM text, grammar over its columns, unit column, WITH prefix)."""
    kind = draw(st.sampled_from(["plain", "plain", "public", "private", "derived", "cte"]))
    if kind == "public":
        side = draw(st.sampled_from(["JOIN", "LEFT JOIN"]))
        return (f"people AS p {side} places AS pl ON p.city = pl.name",
                PUBLIC_JOIN, "p.pid", "")
    if kind == "private":
        return ("people AS p JOIN events AS e ON p.pid = e.pid",
                PRIVATE_JOIN, "p.pid", "")
    if kind in ("derived", "cte"):
        inner = PEOPLE
        i = draw(st.one_of(st.just("i"), inner.num(2)))
        f = draw(st.one_of(st.just("f"), inner.num(2)))
        t = draw(st.one_of(st.just("t"), inner.text(2)))
        body = f"SELECT pid, {i} AS i, big, n, {f} AS f, g, {t} AS t, k, city, b, d, ts FROM people"
        if draw(st.booleans()):
            body += f" WHERE {draw(inner.pred(2))}"
        if kind == "cte":
            return "w AS people", PEOPLE, "pid", f"WITH w AS ({body}) "
        if draw(st.integers(0, 3)) == 0:
            return f"({body})", PEOPLE, "pid", ""  # no alias (#26)
        return f"({body}) AS people", PEOPLE, "pid", ""
    # schema- and catalog-qualified names (#26) name the same table
    name = draw(st.sampled_from(["people", "people", "main.people", "public.people",
                                 "dpsql.public.people", "(people)", "((people)) AS people"]))
    return name, PEOPLE, "pid", ""


def _q(grammar: Grammar, name: str) -> str:
    return next(c.sql for c in grammar.cols if c.sql.split(".")[-1] == name)


def group_keys(g: Grammar) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Lists of (key SQL, kind) where kind is num | text | other."""
    return _group_keys(id(g))


@cache
def _group_keys(grammar_id: int) -> st.SearchStrategy[list[tuple[str, str]]]:
    g = next(x for x in (PEOPLE, PUBLIC_JOIN, PRIVATE_JOIN) if id(x) == grammar_id)
    public = st.one_of(
        st.sampled_from([(_q(g, "k"), "text"), (_q(g, "city"), "text")]),
        g.pred(1).map(lambda p: (f"CASE WHEN {p} THEN 'x' ELSE 'y' END", "text")),
        st.tuples(g.pred(1), g.pred(1)).map(
            lambda t: (f"CASE WHEN {t[0]} THEN 1 WHEN {t[1]} THEN 2 END", "num")),
    )
    columns = [(c.sql, "num" if c.type in NUM_TYPES else
                "text" if c.type == "text" else "other")
               for c in g.cols if not c.keys]
    selected = st.one_of(
        st.sampled_from(columns), st.sampled_from(columns),
        g.num(1).map(lambda x: (x, "num")), g.date_part().map(lambda x: (x, "num")),
        # YEAR(d) and the like are the numeric keys that pass selection (many people share
        # them), so post-processing computes over them
        g.date_part().map(lambda x: (x, "num")),
        g.text(1).map(lambda x: (x, "text")), g.date_like().map(lambda x: (x, "other")),
    )
    return st.one_of(
        st.just([]), st.just([]), public.map(lambda k: [k]), selected.map(lambda k: [k]),
        selected.map(lambda k: [k]),
        st.tuples(st.one_of(public, selected), selected).map(
            lambda t: list(t) if t[0][0] != t[1][0] else [t[0]]))


# Post-processing templates are built once (strategies rebuilt per example grow huge
# reprs); `@A<j>` stands for the j-th aggregate, `@N` a numeric key, `@T` a text key.
_POST_LITERALS = ["1", "2", "0", "1000000", "2147483647", "1e308", "9223372036854775807",
                  "0.1234567890123456789"]


@cache
def post_num(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(st.sampled_from(["@A0", "@A1", "@A2"]), st.just("@A0"), st.just("@N"),
                       st.sampled_from(_POST_LITERALS))
    if depth <= 0:
        return leaves
    sub = post_num(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "%"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["ABS", "ROUND", "FLOOR", "CEIL", "SQRT", "-", "LN", "EXP",
                                   "LOG", "SIGN", "CBRT"]), sub).map(
            lambda t: f"{t[0]}({t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"POWER({t[0]}, {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"LOG({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(["LEAST", "GREATEST", "COALESCE", "NULLIF"]), sub, sub).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(sub, st.sampled_from(["INTEGER", "BIGINT", "DOUBLE", "DECIMAL(38, 10)"]))
        .map(lambda t: f"CAST({t[0]} AS {t[1]})"),
        st.tuples(post_pred(depth - 1), sub, sub).map(
            lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
    )


@cache
def post_pred(depth: int) -> st.SearchStrategy[str]:
    num = post_num(max(depth - 1, 0))
    leaves = st.one_of(
        st.tuples(num, st.sampled_from(["=", "<>", "<", ">", ">=", "<="]), num).map(" ".join),
        num.map(lambda x: f"{x} IS NOT NULL"),
        st.tuples(num, num, num).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
        st.sampled_from(["LIKE 'a%'", "LIKE '%\\'", "IN ('a', 'x')", "= 'b'", "ILIKE '\\%'"])
        .map(lambda x: f"@T {x}"),
    )
    if depth <= 0:
        return leaves
    sub = post_pred(depth - 1)
    return st.one_of(leaves, st.tuples(sub, st.sampled_from(["AND", "OR"]), sub).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"), sub.map(lambda x: f"NOT ({x})"))


def fill(template: str, aggs: list[str], keys: list[tuple[str, str]]) -> str:
    nums = [k for k, kind in keys if kind == "num"]
    texts = [k for k, kind in keys if kind == "text"]
    out = template.replace("@N", nums[0] if nums else "@A1")
    out = out.replace("@T", texts[0] if texts else "CAST(@A0 AS VARCHAR)")
    for j in range(3):
        out = out.replace(f"@A{j}", aggs[j % len(aggs)])
    return out


def _bounded(item: str) -> str:
    """`SUM(x)` as `SUM(x, contribution_bounds_per_group => (-5, 1e6))` (Google's form),
    when the item is one plain SUM or AVG call."""
    for fn in ("SUM(", "AVG("):
        if item.startswith(fn) and item.endswith(")") and item.count("(") == item.count(")"):
            return f"{item[:-1]}, contribution_bounds_per_group => (-5, 1000000))"
    return item


@st.composite
def queries(draw: st.DrawFn) -> str:
    source, g, unit, prefix = draw(from_clause())
    keys = draw(group_keys(g))
    # dict.fromkeys, not unique=True: its filtered retries repr the whole strategy
    aggs = list(dict.fromkeys(draw(st.lists(g.aggregate(unit), min_size=1, max_size=3))))
    items = [k for k, _ in keys if draw(st.integers(0, 3)) > 0]
    texts = [k for k, kind in keys if kind == "text"]
    for agg in aggs:
        if draw(st.integers(0, 2)) == 0:
            items.append(fill(draw(post_num(2)), aggs, keys))
        else:
            items.append(agg)
    nums = [k for k, kind in keys if kind == "num"]
    if nums and draw(st.integers(0, 2)) == 0:
        # arithmetic over a released key: the in-memory DuckDB of post-processing
        items.append(f"({draw(st.sampled_from(nums))} {draw(st.sampled_from(['+', '-', '*']))} "
                     f"{draw(st.sampled_from(_POST_LITERALS))})")
    if texts and draw(st.integers(0, 4)) == 0:
        items.append(f"{draw(st.sampled_from(texts))} || '!'")
    if items == [] or draw(st.integers(0, 5)) == 0:
        items.append(draw(st.sampled_from(["PI()", "RANDOM()"])))
    # keys only (#26): GROUP BY keys, or SELECT DISTINCT of them, releases the keys
    keys_only = bool(keys) and draw(st.integers(0, 5)) == 0
    distinct = keys_only and draw(st.booleans())
    if keys_only:
        items = [k for k, _ in keys]
    # Google's clause (#26), with per-aggregate bounds on the numeric aggregates
    google = draw(st.sampled_from(["", "", "", "WITH DIFFERENTIAL_PRIVACY ",
                                   "WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, "
                                   "max_groups_contributed = 1) "]))
    if google and draw(st.booleans()):
        items = [_bounded(i) for i in items]
    sql = (f"{prefix}SELECT {google}{'DISTINCT ' if distinct else ''}{', '.join(items)} "
           f"FROM {source}")
    if draw(st.booleans()):
        sql += f" WHERE {draw(g.pred(3))}"
    if keys and not distinct:
        sql += " GROUP BY " + ", ".join(k for k, _ in keys)
        if draw(st.integers(0, 3)) == 0:
            sql += f" HAVING {fill(draw(post_pred(1)), aggs, keys)}"
    if draw(st.integers(0, 3)) == 0:
        # a bare number would name an output position
        # a bare number would name an output position (no .filter: its retries repr the
        # whole strategy, which hypothesis warns about)
        order = draw(st.one_of(st.sampled_from(aggs), post_num(1).map(
            lambda x: fill("@A0" if x[:1].isdigit() else x, aggs, keys)),
            *([st.sampled_from([k for k, _ in keys])] if keys else [])))
        sql += f" ORDER BY {order}{draw(st.sampled_from(['', ' DESC']))}"
        if draw(st.booleans()):
            sql += f" LIMIT {draw(st.sampled_from(['0', '1', '3', '1000000']))}"
    return sql
