"""Contribution bounding that stays correct on a distributed engine (Spark).

`bound.py` numbers each person's rows (and groups) in the order of a RANDOM()
column and keeps the first R (G). On one machine that draw happens once per row.
On Spark it need not: a failed task is re-run, a lost shuffle block makes a whole
stage run again, and a CTE named twice is computed twice; each re-evaluation of
RAND() can give a row another number. A stage that re-ran could then hand the
window a different random order than the rows already shuffled, and a per-row
draw cannot be relied on to be the same value wherever it is read.

:func:`keyed_selection` rewrites the bounded tree for Spark so that no step
depends on a non-deterministic function:

* every per-row random key becomes ``xxhash64(<the row's columns>, salt)``, and
  the group key ``xxhash64(unit, group keys, salt)``, where ``salt`` is a fresh
  63-bit secret the proxy draws for this query (``secrets``) and binds as a
  literal. The key is a pure function of (row content, salt): every evaluation,
  retry or duplicate of any part of the plan computes the same value for the
  same row, on any partitioning.
* sums of grid values run in DECIMAL(38, 0), as DuckDB (HUGEINT) and PostgreSQL
  (NUMERIC) sum 64-bit integers without overflow; Spark's SUM(BIGINT) would wrap
  (ANSI off) or fail (ANSI on) past 2**63. Counts stay BIGINT: they add at most one
  per row.

Why the caps hold: ROW_NUMBER() OVER (PARTITION BY unit ORDER BY key) gives the
rows of one unit the distinct numbers 1…n in every evaluation, whatever the key
and however its ties are broken (a window's partition is computed whole by one
task), so ``__rn <= R`` keeps at most R rows per unit and DENSE_RANK ``<= G`` at
most G groups. Ties occur only between rows whose hashed columns are equal, i.e.
rows the rest of the query cannot tell apart (the hashed columns are all it
reads), so which of them is kept cannot change any answer.

Why the choice is private: a unit's kept rows depend only on that unit's own rows
and the salt, never on other people's rows, so neighbouring databases stay
neighbours after bounding and the sensitivity argument of SPEC §4.2 is unchanged
(it needs only "at most R rows and G groups per unit", which holds for every
choice). Why it is not chosen by the data: the salt is drawn per query, secret
and independent of the data, and a 64-bit hash keyed with it orders a unit's
distinct rows in an order no analyst can predict or steer, different at every
query; nothing but the salt's own draw is random.
"""

from __future__ import annotations

import secrets

from sqlglot import exp

from .naming import MEASURE_PREFIX

__all__ = ["HASH", "fresh_salt", "keyed_selection"]

HASH = "XXHASH64"


def fresh_salt() -> int:
    """A secret per-query salt: 63 bits from the operating system's CSPRNG."""
    return secrets.randbits(63)


def _hash(parts: list[exp.Expr], salt: int) -> exp.Expr:
    return exp.Anonymous(this=HASH, expressions=[*parts, exp.Literal.number(salt)])


def keyed_selection(tree: exp.Select, salt: int | None = None) -> exp.Select:
    """The bounded tree with every RANDOM() replaced by a keyed hash (see above)
    and every SUM computed in DECIMAL(38, 0). `salt` is for tests; a query draws
    its own."""
    salt = fresh_salt() if salt is None else salt
    for rand in list(tree.find_all(exp.Rand)):
        select = rand.find_ancestor(exp.Select)
        assert select is not None
        alias = rand.parent
        if not (isinstance(alias, exp.Alias) and alias.parent is select):
            # the group ranking's salt, CAST(FLOOR(RAND() * 2**52) AS BIGINT) in __salt
            scaled = rand.find_ancestor(exp.Cast) or rand
            scaled.replace(exp.Literal.number(salt))
            continue
        others = [e for e in select.expressions if e is not alias]
        if any(isinstance(e, exp.Star) for e in others):
            # a capped source's `__pr`: SELECT *, RAND() FROM t AS __t<i>: hash t's whole row
            source = select.args["from_"].this
            rand.replace(_hash([exp.Column(this=exp.Star(),
                                           table=exp.to_identifier(source.alias, quoted=True))],
                               salt))
            continue
        # __base's `__r`: the windows that order by it order by a hash of every column
        # __base hands on (the unit, the group keys and the values: all the query reads);
        # the key is read by window orderings only
        name = alias.alias
        key = _hash([exp.column(e.alias_or_name, quoted=True) for e in others], salt)
        alias.pop()
        for window in list(tree.find_all(exp.Window)):
            for column in list(window.find_all(exp.Column)):
                if column.name == name and not column.table:
                    column.replace(key.copy())
    for total in list(tree.find_all(exp.Sum)):
        # only a sum of grid values can pass 2**63 (≤ 2**21 per row); counts and
        # indicators add at most one per row, and Spark counts rows in 64 bits anyway.
        # DECIMAL arithmetic costs several times BIGINT's, so it is kept to those.
        if isinstance(total.this, exp.Column) and total.this.name.startswith(MEASURE_PREFIX):
            total.set("this", exp.cast(total.this, exp.DataType.build("DECIMAL(38, 0)")))
    return tree
