"""The fuzz suite shares the adversarial suites' fixtures (tests/security/conftest.py):
one proxy per engine per module, and the end-to-end fixtures behind it."""

from __future__ import annotations

from tests.security.conftest import (  # noqa: F401 - fixtures shared with tests/security
    demo_db,
    engine_kind,
    make_proxy,
    pg_demo,
    private_values,
    proxy,
    shared_proxy,
    truth,
)
