"""How long the suite's random searches and statistical audits run, read from the
environment in one place.

`make test` (and CI) runs every property on a short search and every audit at its CI
size. Each variable below lengthens one family, for a run on demand:

- ``DPSQL_FUZZ_EXAMPLES=N``: the totality and parity searches (`make fuzz`) draw N
  queries at random and report every distinct failure, instead of CI's derandomized
  search that stops at the first;
- ``DPSQL_SPARK_FULL=1``: those searches at full length on Spark too, and the whole
  end-to-end suite on Spark (`make test-spark`);
- ``DPSQL_BUDGET_EXAMPLES=N``: the budget properties (tests/e2e/test_budget_properties.py);
- ``DPSQL_AUDIT_LARGE=1``: the release audits (tests/audit/test_privacy_loss.py) with 20×
  the draws.

The Hypothesis profiles the searches use are registered in tests/conftest.py.
"""

from __future__ import annotations

import os

from hypothesis import settings

__all__ = ["AUDIT_LARGE", "BUDGET_LONG", "FUZZ_EXAMPLES", "FUZZ_LONG", "SPARK_FULL", "search"]


def _examples(variable: str) -> int | None:
    value = os.environ.get(variable)
    return None if value is None else int(value)


FUZZ_EXAMPLES = _examples("DPSQL_FUZZ_EXAMPLES")
FUZZ_LONG = FUZZ_EXAMPLES is not None
SPARK_FULL = bool(os.environ.get("DPSQL_SPARK_FULL"))
BUDGET_EXAMPLES = _examples("DPSQL_BUDGET_EXAMPLES")
BUDGET_LONG = BUDGET_EXAMPLES is not None
AUDIT_LARGE = os.environ.get("DPSQL_AUDIT_LARGE") == "1"


def search(examples: int, *, long: bool, **overrides: object) -> settings:
    """A property's search of `examples` examples: the "search" profile (derandomized:
    the same examples every run, stopping at the first failure) or, when `long`, the
    "long-search" profile (random, every distinct failure reported)."""
    profile = settings.get_profile("long-search" if long else "search")
    return settings(profile, max_examples=examples, **overrides)  # type: ignore[arg-type]
