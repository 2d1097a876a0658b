"""The Spark engine suite: the end-to-end fixtures of tests/e2e with every test run on
Spark local mode. One JVM serves the whole test process (each engine has its own
session); the data is the e2e demo data exported to Parquet."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import (  # noqa: F401 - fixtures shared with tests/e2e
    demo_db,
    make_proxy,
    pg_demo,
    proxy,
    rich,
    spark_demo,
    truth,
)
from tests.sparkutil import require_spark


@pytest.fixture
def engine_kind() -> str:
    """Every test of this suite runs on Spark."""
    require_spark()
    return "spark"
