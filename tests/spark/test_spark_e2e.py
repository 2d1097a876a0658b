"""The end-to-end HTTP tests of tests/e2e, run again on Spark local mode: the same
app, the same assertions, the demo data read from Parquet by Spark.

Importing a test function collects it again in this module, where tests/spark's
`engine_kind` makes every proxy a Spark one. Each Spark proxy takes seconds to start,
so `make test` runs a cross-section (answers near the truth, the cache, budgets that
never refund, explain, joins, partition selection, quantiles, half the peer queries
through one proxy); `make test-spark` (DPSQL_SPARK_FULL=1) runs every e2e module listed below."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Proxy
from tests.e2e.test_query_api import (  # noqa: F401
    test_a_charge_is_never_refunded_and_survives_restart,
    test_explain_reads_no_data_and_charges_nothing,
    test_grouped_answer_has_every_public_key_and_its_accuracy,
    test_repeated_query_returns_the_first_answer_free,
    test_ten_queries_at_a_tenth_fit_a_budget_of_one_and_no_more,
)
from tests.e2e.test_surface_groups import (  # noqa: F401
    test_groups_of_a_few_people_are_hidden,
    test_year_of_a_date_goes_through_partition_selection,
)
from tests.e2e.test_surface_joins import (  # noqa: F401
    test_join_keys_and_counts_are_near_the_truth,
    test_private_join_private_on_units_runs,
)
from tests.e2e.test_surface_queries import (  # noqa: F401
    PEERS,
    test_having_order_limit_run_on_noisy_values,
    test_quantiles_and_variance_are_near_theexact_answers,
)
from tests.search import SPARK_FULL

if SPARK_FULL:
    from tests.e2e.test_public_tables import *  # noqa: F403
    from tests.e2e.test_quantile_answers import *  # noqa: F403
    from tests.e2e.test_query_api import *  # noqa: F403
    from tests.e2e.test_suggest import owner_proxy, test_the_assistant_on_the_demo_data  # noqa: F401
    from tests.e2e.test_surface_derived import *  # noqa: F403
    from tests.e2e.test_surface_groups import *  # noqa: F403
    from tests.e2e.test_surface_joins import *  # noqa: F403
    from tests.e2e.test_surface_queries import *  # noqa: F403

    # its query, CAST(dept AS INTEGER) over a public table, fails on DuckDB and
    # PostgreSQL; Spark runs with ANSI mode off (no value may fail a statement) and
    # answers NULLs, exactly and free, as for any public-only query
    del test_an_engine_failure_over_public_tables_is_one_clear_error  # noqa: F821
else:
    @pytest.mark.slow
    def test_peer_queries_run_through_one_proxy(rich: Proxy) -> None:
        """test_peer_query_runs's assertions, every other peer query, one Spark proxy."""
        for sql in PEERS[::2]:
            response = rich.query(sql, epsilon=1.0)
            assert response.status_code == 200, (sql, response.text)
            body = response.json()
            assert all(len(row) == len(body["columns"]) for row in body["rows"])
            explained = rich.explain(sql, epsilon=1.0)
            assert explained.status_code == 200, explained.text
