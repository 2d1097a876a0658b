"""Pure query rewriting: metadata, parsing, validation, contribution bounding, plans.

No I/O happens here; the proxy hands in the catalog and runs the generated SQL.
The stages, in the order a query meets them (each module imports only earlier
ones; tests/test_layering.py checks it):

    naming, keys, metadata, catalog, limits, errors   what every stage shares
    parse, google, sugar, names                       reading the text
    typed, row_scalars, row_casts, row_predicates,
    expressions                                       row expressions: compilers, the checker
    shape, plan, kinds                                plain data, the aggregate kinds
    scope                                             name resolution, once
    aggregates, joins, rowclauses, groups, post       the checks of each clause
    inline, public, validate                          derived tables; public-only queries; a Shape
    measures, bound, distributed                      measures and their sensitivity; the SQL
    finish                                            the noisy table and the answer, after noise
    planner                                           the passes, in order
"""

from .catalog import Catalog
from .errors import ParseError, Position, QueryRefused, RewriteError
from .finish import answer_rows, noisy_table
from .keys import UNREPRESENTABLE, canonical_key, json_key
from .kinds import KINDS, Kind, Noisy, value_kind
from .metadata import Column, PublicKeysRef, Table
from .plan import Measure, Output, Plan
from .planner import normalize, plan_query

__all__ = [
    "KINDS",
    "UNREPRESENTABLE",
    "Catalog",
    "Column",
    "Kind",
    "Measure",
    "Noisy",
    "Output",
    "ParseError",
    "Plan",
    "Position",
    "PublicKeysRef",
    "QueryRefused",
    "RewriteError",
    "Table",
    "answer_rows",
    "canonical_key",
    "json_key",
    "noisy_table",
    "normalize",
    "plan_query",
    "value_kind",
]
