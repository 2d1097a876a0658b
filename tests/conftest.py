"""Suite-wide settings: the Hypothesis profiles of the random searches, and the markers.

Hypothesis profiles (selected per property through `tests.search.search`):

- ``search``: CI's short search: derandomized (the same examples on every run and every
  machine, so a red CI reproduces), no deadline, no health checks (the examples run
  whole queries on real engines), stopping at the first failure, whose reproduction
  blob is printed;
- ``long-search``: the same at random, reporting every distinct failure (`make fuzz`).

Tests that set their own `@settings` keep them. When ``CI`` is set, Hypothesis loads
its own ``ci`` profile (derandomized, no example database) as the default for them.

Markers are declared in pyproject.toml (``--strict-markers``): ``slow`` marks the long
statistical tests and properties; `make test` runs them, `make test-fast` does not.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "search", deadline=None, derandomize=True, report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck), print_blob=True,
)
settings.register_profile(
    "long-search", settings.get_profile("search"), derandomize=False,
    report_multiple_bugs=True,
)
