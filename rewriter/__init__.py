"""Pure query rewriting: metadata, parsing, validation, contribution bounding, plans.

No I/O happens here; the proxy hands in the catalog and runs the generated SQL.
"""

from .catalog import Catalog
from .errors import ParseError, Position, QueryRefused, RewriteError
from .metadata import Column, PublicKeysRef, Table
from .plan import Measure, Output, Plan
from .planner import normalize, plan_query

__all__ = [
    "Catalog",
    "Column",
    "Measure",
    "Output",
    "ParseError",
    "Plan",
    "Position",
    "PublicKeysRef",
    "QueryRefused",
    "RewriteError",
    "Table",
    "normalize",
    "plan_query",
]
