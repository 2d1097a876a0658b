"""A peer worker's timings become results.json records; its errors are said, not timed."""

from __future__ import annotations

import pytest

from bench.measure import peer_records


def test_timings_become_records_and_errors_are_left_out(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    results = [
        {"query": "count_all", "seconds": [0.3, 0.1, 0.2], "peak_rss_mb": 101.26, "error": None},
        {"query": "join", "seconds": [1.0], "rewrite_seconds": [0.01, 0.03], "peak_rss_mb": 9.0,
         "error": None},
        {"query": "quantile", "error": "not yet implemented"},
    ]
    records = peer_records(results, engine="postgres", rows=1000, variant="qrlew_postgres")
    assert [r["query"] for r in records] == ["count_all", "join"]
    assert records[0] == {"query": "count_all", "engine": "postgres", "rows": 1000,
                          "variant": "qrlew_postgres", "median_s": 0.2, "min_s": 0.1,
                          "max_s": 0.3, "peak_rss_mb": 101.3, "reps": 3}
    assert records[1]["rewrite_s"] == 0.02
    assert "qrlew_postgres quantile: not yet implemented" in capsys.readouterr().err
