"""Hypothesis strategies for analyst SQL over the hostile tables, drawn from the whole
allow-list: every ROW_NODES kind (in WHERE, inside aggregates, in CASE, in GROUP BY and
in derived tables), every aggregate, post-processing over aggregates and keys (SELECT
arithmetic, HAVING, ORDER BY, LIMIT), joins with the public table and private tables
joined on the unit. Expressions are typed, so most queries plan; the constants lean
toward the edges (integers near 2^31 and 2^63/1e15, many decimals, odd dates, LIKE
patterns with backslashes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hypothesis import strategies as st


@dataclass(frozen=True)
class Col:
    sql: str
    type: str  # integer | float | text | boolean | date | timestamp
    bounded: bool = False
    keys: bool = False  # declared public keys


def people_cols(q: str = "") -> list[Col]:
    p = f"{q}." if q else ""
    return [Col(f"{p}i", "integer", True), Col(f"{p}big", "integer", True),
            Col(f"{p}n", "integer"), Col(f"{p}f", "float", True), Col(f"{p}g", "float"),
            Col(f"{p}t", "text"), Col(f"{p}k", "text", keys=True),
            Col(f"{p}city", "text", keys=True), Col(f"{p}b", "boolean"),
            Col(f"{p}d", "date"), Col(f"{p}ts", "timestamp")]


def events_cols(q: str) -> list[Col]:
    return [Col(f"{q}.amount", "float", True), Col(f"{q}.qty", "integer", True),
            Col(f"{q}.day", "date"), Col(f"{q}.tag", "text")]


PLACES = [Col("pl.code", "integer", True), Col("pl.region", "text"), Col("pl.name", "text")]

INT_LITERALS = ["0", "1", "2", "-1", "7", "100", "1000", "65536", "2147483647", "2147483648",
                "4294967296", "999999999999999", "1000000000000000", "123456789",
                # overflow a 32-bit year + c only for years beyond what Python can hold
                "2147480000", "-2147480000"]
FLOAT_LITERALS = ["0.5", "1.5", "-0.25", "1e-12", "1e15", "3.14159", "1.0", "2.5e3",
                  "0.000000000001", "1e-5"] * 2 + [
                  "0.1234567890123456789", "12345.678901234567890123", "99999999999999.99",
                  # DECIMAL(35, 34): four integer digits left for whatever meets it
                  "0.1234567890123456789012345678901234"]
TEXT_LITERALS = ["'a'", "''", "'%'", "'_'", "'a\\'", "'\\'", "'\\%'", "'%\\'", "'it''s'",
                 "'Oslo'", "'t1'", "'NaN'", "'x%'", "'%a%'", "'a_'", "'\\\\'", "'%\\_'"]
# Python's fromisoformat accepts all of these; the odd ones (one engine or the other
# rejects them) are a quarter of the draws, so that they do not mask every other failure
_PLAIN_DATES = ["'2024-01-01'", "'2020-06-15'", "'9999-12-31'", "'0001-01-01'",
                "'2024-02-29'", "'1000-01-01'"]
_ODD_DATES = ["'20240101'", "'2024-W01-1'", "'2024-01-01T10:00:00'",
              "'2024-01-01 00:00:00+14:00'", "'2024-01-01T00'", "'2024-01-01 10:00:00.5'"]
DATE_LITERALS = _PLAIN_DATES * 3 + _ODD_DATES
# text constants compared with numbers: read as numbers when they are ones
MISTYPED_NUMBERS = ["'8'", "'-2.5'", "' 1e3'", "'abc'", "'nan'", "'1e400'", "''"]


def st_typed_date(literal: str) -> str:
    """DATE 'x', TIMESTAMP 'x' or CAST('x' AS DATE), chosen by the literal's text."""
    kind = ["DATE {}", "TIMESTAMP {}", "CAST({} AS DATE)"][len(literal) % 3]
    return kind.format(literal)


DATE_PARTS = ["YEAR", "QUARTER", "MONTH", "DAY", "DOW", "DOY", "WEEK"]
TIME_PARTS = DATE_PARTS + ["HOUR", "MINUTE"]
DATE_FUNCS = ["YEAR", "MONTH", "DAY", "QUARTER", "DAYOFWEEK", "DAYOFYEAR", "WEEK"]
TRUNC_UNITS = ["year", "quarter", "month", "week", "day"]


class Grammar:
    """Typed expression strategies over one scope of columns."""

    def __init__(self, cols: list[Col]) -> None:
        self.cols = cols
        # every strategy is built once per depth: rebuilding them per call grows the tree
        # exponentially (and hypothesis warns about the repr)
        for name in ("num", "date_part", "any_num", "text", "date_like", "pred", "aggregate"):
            setattr(self, name, cache(getattr(self, name)))

    def _cols(self, *types: str, bounded: bool | None = None) -> list[Col]:
        return [c for c in self.cols if c.type in types
                and (bounded is None or c.bounded == bounded)]

    # -- numbers: bounded, usable in arithmetic and aggregates --------------

    def num(self, depth: int = 3) -> st.SearchStrategy[str]:
        leaves = [st.sampled_from([c.sql for c in self._cols("integer", "float", bounded=True)]),
                  st.sampled_from(INT_LITERALS), st.sampled_from(FLOAT_LITERALS),
                  self.date_part()]
        if depth <= 0:
            return st.one_of(*leaves)
        sub = st.deferred(lambda: self.num(depth - 1))
        columns = st.sampled_from([c.sql for c in self._cols("integer", "float", bounded=True)])
        return st.one_of(
            *leaves,
            # the shapes of issue #17's first two classes, drawn directly: integer arithmetic
            # over date parts and constants, and NULLIF passing a raw column through
            st.tuples(self.date_part(), st.sampled_from(["+", "-"]),
                      st.sampled_from(INT_LITERALS)).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(columns, st.sampled_from(INT_LITERALS + FLOAT_LITERALS)).map(
                lambda t: f"NULLIF({t[0]}, {t[1]})"),
            # the analyst's clamp of an unbounded column (#26): bounded by its constants
            st.tuples(st.sampled_from([c.sql for c in self._cols("integer", "float",
                                                                 bounded=False)]),
                      st.sampled_from(INT_LITERALS[:8] + FLOAT_LITERALS[:4]),
                      st.sampled_from(INT_LITERALS[:8] + FLOAT_LITERALS[:4])).map(
                lambda t: f"LEAST(GREATEST({t[0]}, {t[1]}), {t[2]})"),
            st.tuples(sub, st.sampled_from(["+", "-", "*", "/"]), sub).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            sub.map(lambda x: f"-({x})"),
            st.tuples(st.sampled_from(["ABS", "ROUND", "FLOOR", "CEIL"]), sub).map(
                lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["LEAST", "GREATEST"]), sub, sub).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            st.tuples(self.pred(depth - 1), sub, st.none() | sub).map(_case),
            st.tuples(self.pred(depth - 1), sub, sub).map(lambda t: f"IF({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(sub, sub).map(lambda t: f"COALESCE({t[0]}, {t[1]})"),
            st.tuples(sub, sub).map(lambda t: f"NULLIF({t[0]}, {t[1]})"),
            st.tuples(sub, st.sampled_from(["INTEGER", "BIGINT", "SMALLINT", "DOUBLE", "FLOAT",
                                            "DECIMAL"])).map(lambda t: f"CAST({t[0]} AS {t[1]})"),
        )

    def date_part(self) -> st.SearchStrategy[str]:
        def extract(kind: str, parts: list[str]) -> st.SearchStrategy[str]:
            return st.tuples(st.sampled_from(parts), self.date_like(kind)).map(
                lambda t: f"EXTRACT({t[0]} FROM {t[1]})")
        return st.one_of(
            extract("date", DATE_PARTS), extract("timestamp", TIME_PARTS),
            st.tuples(st.sampled_from(DATE_FUNCS), self.date_like()).map(
                lambda t: f"{t[0]}({t[1]})"),
        )

    def any_num(self, depth: int = 2) -> st.SearchStrategy[str]:
        """Numbers for comparisons and COUNT: unbounded columns allowed too."""
        return st.one_of(self.num(depth),
                         st.sampled_from([c.sql for c in self._cols("integer", "float")]))

    # -- other types ---------------------------------------------------------

    def text(self, depth: int = 2) -> st.SearchStrategy[str]:
        leaves = st.one_of(st.sampled_from([c.sql for c in self._cols("text")]),
                           st.sampled_from(TEXT_LITERALS))
        if depth <= 0:
            return leaves
        sub = st.deferred(lambda: self.text(depth - 1))
        castable = st.sampled_from(
            [c.sql for c in self._cols("integer", "boolean", "date", "text")]
            + INT_LITERALS[:4] + ["EXTRACT(YEAR FROM " + self._cols("date")[0].sql + ")"])
        return st.one_of(
            leaves, leaves,
            castable.map(lambda x: f"CAST({x} AS VARCHAR)"),
            st.tuples(sub, sub).map(lambda t: f"COALESCE({t[0]}, {t[1]})"),
            st.tuples(sub, sub).map(lambda t: f"NULLIF({t[0]}, {t[1]})"),
            st.tuples(self.pred(depth - 1), sub, st.none() | sub).map(_case),
        )

    def date_like(self, kind: str | None = None) -> st.SearchStrategy[str]:
        """A date (or timestamp) expression: columns, CAST … AS DATE, COALESCE, NULLIF, CASE."""
        if kind is None:
            return st.one_of(self.date_like("date"), self.date_like("timestamp"))
        base = st.sampled_from([c.sql for c in self._cols(kind)])
        options = [base, base,
                   st.tuples(base, base).map(lambda t: f"COALESCE({t[0]}, {t[1]})"),
                   st.tuples(base, st.sampled_from(DATE_LITERALS)).map(
                       lambda t: f"NULLIF({t[0]}, {t[1]})"),
                   # a leaf condition: pred() would recurse back into date parts
                   st.tuples(st.sampled_from([c.sql for c in self._cols("boolean")]), base,
                             base).map(_case)]
        options.append(st.tuples(st.sampled_from(TRUNC_UNITS), base).map(
            lambda t: f"DATE_TRUNC('{t[0]}', {t[1]})"))
        if kind == "date":
            stamps = st.sampled_from([c.sql for c in self._cols("timestamp")])
            options.append(st.one_of(base, stamps).map(lambda x: f"CAST({x} AS DATE)"))
        return st.one_of(*options)

    def pred(self, depth: int = 2) -> st.SearchStrategy[str]:
        op = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])
        num = self.any_num(max(depth - 1, 0))
        text = self.text(max(depth - 1, 0))
        dates = self.date_like()
        same_dates = st.sampled_from(["date", "timestamp"]).flatmap(
            lambda k: st.tuples(self.date_like(k), op, self.date_like(k)).map(" ".join))
        lit_list = st.lists(st.sampled_from(INT_LITERALS + FLOAT_LITERALS), min_size=1,
                            max_size=3).map(", ".join)
        pattern = st.sampled_from(TEXT_LITERALS)
        leaves = st.one_of(
            st.tuples(num, op, num).map(" ".join),
            st.tuples(text, op, text).map(" ".join),
            st.tuples(dates, op, st.sampled_from(DATE_LITERALS)).map(" ".join),
            same_dates,
            st.tuples(text, st.sampled_from(["LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"]),
                      pattern).map(" ".join),
            st.tuples(text, st.sampled_from(["LIKE", "ILIKE"]), text).map(" ".join),
            st.tuples(st.one_of(num, text, dates), st.sampled_from(["IS NULL", "IS NOT NULL"]))
            .map(" ".join),
            st.tuples(num, lit_list).map(lambda t: f"{t[0]} IN ({t[1]})"),
            st.tuples(text, st.lists(st.sampled_from(TEXT_LITERALS), min_size=1, max_size=3))
            .map(lambda t: f"{t[0]} NOT IN ({', '.join(t[1])})"),
            st.tuples(num, num, num).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
            st.tuples(dates, st.sampled_from(DATE_LITERALS), st.sampled_from(DATE_LITERALS))
            .map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
            st.sampled_from([c.sql for c in self._cols("boolean")] + ["TRUE", "FALSE"]),
            # constants written in another type than what they meet (#26): read as that
            # type at plan time, or refused from the text alone
            st.tuples(num, op, st.sampled_from(MISTYPED_NUMBERS)).map(" ".join),
            st.tuples(text, lit_list).map(lambda t: f"{t[0]} IN ({t[1]})"),
            st.tuples(st.sampled_from([c.sql for c in self._cols("boolean")]), op,
                      st.sampled_from(["0", "1", "2", "'t'", "'false'"])).map(" ".join),
            st.tuples(num, op, st.sampled_from(["TRUE", "FALSE"])).map(" ".join),
            st.tuples(dates, op, st.sampled_from(_PLAIN_DATES + _ODD_DATES)).map(
                lambda t: f"{t[0]} {t[1]} " + st_typed_date(t[2])),
        )
        if depth <= 0:
            return leaves
        sub = st.deferred(lambda: self.pred(depth - 1))
        return st.one_of(
            leaves, leaves,
            st.tuples(sub, st.sampled_from(["AND", "OR"]), sub).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            sub.map(lambda x: f"NOT ({x})"),
        )

    # -- aggregates ------------------------------------------------------------

    def aggregate(self, unit: str) -> st.SearchStrategy[str]:
        num = self.num(2)
        anything = st.one_of(self.any_num(1), self.text(1), self.date_like(), self.pred(1))
        fn = st.sampled_from(["SUM", "AVG", "VARIANCE", "VAR_POP", "VAR_SAMP", "STDDEV",
                              "STDDEV_POP", "STDDEV_SAMP", "MEDIAN", "MIN", "MAX",
                              "VAR", "STD", "STDEV", "VARP", "STDEVP"])
        q = st.sampled_from(["0", "0.25", "0.5", "0.9", "1"])
        return st.one_of(
            st.just("COUNT(*)"), st.just(f"COUNT(DISTINCT {unit})"),
            anything.map(lambda x: f"COUNT({x})"),
            anything.map(lambda x: f"COUNT(DISTINCT {x})"),
            # FILTER (WHERE …) (#26): the condition moves inside a CASE
            st.tuples(st.one_of(st.just("COUNT(*)"), st.tuples(fn, num).map(
                lambda t: f"{t[0]}({t[1]})")), self.pred(1)).map(
                lambda t: f"{t[0]} FILTER (WHERE {t[1]})"),
            st.tuples(fn, num).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(fn, num).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(num, q).map(lambda t: f"QUANTILE_CONT({t[0]}, {t[1]})"),
            st.tuples(q, num, st.sampled_from(["", " DESC"])).map(
                lambda t: f"PERCENTILE_CONT({t[0]}) WITHIN GROUP (ORDER BY {t[1]}{t[2]})"),
        )


def _case(t: tuple[str, str, str | None]) -> str:
    cond, then, other = t
    return f"CASE WHEN {cond} THEN {then}" + (f" ELSE {other}" if other else "") + " END"
