"""Every name dpsql makes up, in one place.

The rewritten SQL and the noisy table use internal column names that start with
two underscores (`validate` refuses analysts' names that do: SPEC §4.1); outputs
the analyst did not alias are named as DuckDB names them.
"""

from __future__ import annotations

from sqlglot import exp

# the noisy table that post-processing reads: one row per released group
NOISY = "__noisy"
SLOT = "__slot"  # the group's position among the released groups

# the rewritten query's columns (rewriter/bound.py)
UNIT = "__unit"  # the privacy unit of a row
RANDOM = "__r"  # the row's random rank within its person
ROW_NUMBER = "__rn"
GROUP_NUMBER = "__gn"
SALT = "__s"
PRE_RANDOM = "__pr"
PRE_ROW_NUMBER = "__prn"
UNIT_ROWS = "__n"
GROUP_FIRST = "__gf"
GROUP_ORDER = "__go"


def key_column(i: int) -> str:
    """The i-th group key, in the rewritten query and in the noisy table."""
    return f"__g{i}"


def value_column(j: int) -> str:
    """The j-th aggregate's value column of the noisy table."""
    return f"__a{j}"


MEASURE_PREFIX = "__v_"


def measure_column(measure: str) -> str:
    """A measure's per-row value in the rewritten query (a SUM's clamped grid value,
    a histogram's bin, a COUNT's argument)."""
    return f"{MEASURE_PREFIX}{measure}"


def table_alias(i: int) -> str:
    """The i-th table of a join in the rewritten query."""
    return f"__t{i}"


def default_name(node: exp.Expr) -> str:
    """Name an unaliased output after its text, as DuckDB does: `count(*)`."""
    text = node.sql(comments=False)
    name, _, rest = text.partition("(")
    return f"{name.lower()}({rest}" if rest else text


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`, … : the first not in `taken` (lower-cased names)."""
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate
