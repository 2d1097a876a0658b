"""The end-to-end HTTP tests of tests/e2e, run again on Spark local mode: the same
app, the same assertions, the demo data read from Parquet by Spark.

Importing a test function collects it again in this module, where tests/spark's
`engine_kind` makes every proxy a Spark one."""

from __future__ import annotations

from tests.e2e.test_query_api import *  # noqa: F403
from tests.e2e.test_surface_queries import *  # noqa: F403
