"""Shared fixtures for the adversarial suites: one proxy per engine per module.

Starting the app costs a fraction of a second; the adversarial and fuzz suites
send hundreds of requests, so they share one app per engine per module, with a
budget large enough that no test starves another. Tests that need their own
ledger (budget, cache) use `make_proxy` from the end-to-end fixtures.
"""

from __future__ import annotations

from tests.e2e.conftest import demo_db, engine_kind, make_proxy, pg_demo, proxy, truth  # noqa: F401
from tests.security.support import private_values, shared_proxy  # noqa: F401
