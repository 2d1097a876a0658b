"""`python -m bench.ledger_startup` in miniature (2,000 entries, both backends), so that
`make bench` never rots: the ledger it writes verifies, and every figure is there."""

from __future__ import annotations

from bench import ledger_startup
from tests.pg import require_postgres


def test_tiny_ledger_startup_bench() -> None:
    require_postgres()
    results = ledger_startup.run(2_000, ["sqlite", "postgres"], charges=5)
    assert [r["backend"] for r in results] == ["sqlite", "postgres"]
    for result in results:
        assert result["entries"] == 2_000
        for name in ("first_start_s", "restart_s", "background_check_s",
                     "charge_ms_unguarded", "charge_ms_guarded"):
            assert isinstance(result[name], float) and result[name] > 0, (name, result)
