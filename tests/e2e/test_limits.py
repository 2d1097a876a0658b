"""Issue #17 through the HTTP app on both engines: work limits refuse before any
charge (class 9), and failures after the charge leak no stored value to the
client or to any log (class 10)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from proxy.engines.base import Result

from .conftest import Proxy

SECRET = "secret-7731-Alice"


def refused(response: Any, setting: str) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_query"
    assert setting in error["message"]
    return str(error["message"])


def spent(proxy: Proxy) -> float:
    return float(proxy.client.get("/v1/budget", headers=proxy.headers()).json()["spent"]["epsilon"])


def test_3000_nested_parentheses_are_refused_not_a_crash(proxy: Proxy) -> None:
    sql = "SELECT COUNT(*) FROM employees WHERE " + "(" * 3000 + "age > 30" + ")" * 3000
    message = refused(proxy.query(sql), "limits.max_nesting_depth")
    assert "nests 3000 levels deep; the limit is 32" in message
    refused(proxy.explain(sql), "limits.max_nesting_depth")
    assert spent(proxy) == 0


def test_a_long_flat_chain_is_refused(proxy: Proxy) -> None:
    sql = "SELECT SUM(age" + " + 1" * 3000 + ") FROM employees"
    refused(proxy.query(sql), "limits.max_nesting_depth")


def _in_list(items: int) -> str:
    return ("SELECT COUNT(*) FROM employees WHERE age IN ("
            + ", ".join(str(i) for i in range(items)) + ") AND nope = 1")


def test_a_20_kb_query_is_refused_with_its_reason(proxy: Proxy) -> None:
    sql = _in_list(5000)
    assert len(sql) > 20_000
    response = proxy.query(sql)
    assert response.status_code == 400 and "nope" in response.json()["error"]["message"]


def test_too_many_joins_are_refused(proxy: Proxy) -> None:
    joins = " ".join(f"JOIN departments AS d{i} ON e.dept = d{i}.dept" for i in range(11))
    sql = f"SELECT COUNT(*) FROM employees AS e {joins}"
    message = refused(proxy.query(sql), "limits.max_joins")
    assert "11 joins; the limit is 10" in message


def test_the_limits_come_from_dpsql_yaml(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy(lambda doc: doc.update(limits={"max_joins": 0, "max_sql_chars": 200}))
    refused(proxy.query("SELECT COUNT(*) FROM employees AS e JOIN departments AS d "
                        "ON e.dept = d.dept"), "the limit is 0 (limits.max_joins)")
    response = proxy.query("SELECT COUNT(*) FROM employees WHERE " + "age > 1 AND " * 30 + "TRUE")
    assert response.status_code == 400 and "limits.max_sql_chars" in response.text


def many_keys(doc: dict[str, Any]) -> None:
    doc["tables"]["employees"]["columns"]["age"]["public_keys"] = list(range(100_000))


@pytest.mark.slow
def test_1e5_groups_times_8_medians_are_refused_before_any_charge(
    make_proxy: Callable[..., Proxy],
) -> None:
    proxy = make_proxy(many_keys)
    medians = ", ".join(f"MEDIAN(salary + {i})" for i in range(8))
    sql = f"SELECT age, {medians} FROM employees GROUP BY age"
    for response in (proxy.explain(sql), proxy.query(sql)):
        message = refused(response, "limits.max_noise_cells")
        assert "100000 groups ×" in message
    assert spent(proxy) == 0


# --- failures after the charge --------------------------------------------------------

class _Failing:
    """An engine that fails with a message quoting a stored value."""

    def __init__(self, real: Any, fail: Callable[[Any], Result]) -> None:
        self.dialect = real.dialect
        self._real, self._fail = real, fail

    def execute(self, sql: str, *, timeout_s: float | None = None) -> Result:
        return self._fail(self._real)

    def close(self) -> None:
        pass


def _python_error(_: Any) -> Result:
    raise ValueError(f"could not convert {SECRET!r}")


def _driver_error(real: Any) -> Result:  # a real driver message quoting a value
    return real.execute(f"SELECT CAST('{SECRET}' AS INTEGER)")  # type: ignore[no-any-return]


def _all_logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records)


@pytest.mark.parametrize("fail", [_python_error, _driver_error], ids=["python", "driver"])
def test_failure_after_charge_names_query_and_charge_and_logs_no_value(
    proxy: Proxy, caplog: pytest.LogCaptureFixture, fail: Callable[[Any], Result],
) -> None:
    pipeline = proxy.client.app.state.services.pipeline  # type: ignore[attr-defined]
    pipeline.engine = _Failing(pipeline.engine, fail)
    with caplog.at_level(logging.DEBUG):
        response = proxy.query("SELECT COUNT(*) FROM employees", epsilon=0.1)
    assert response.status_code == 500, response.text
    error = response.json()["error"]
    assert error["code"] == "internal"
    assert "q_" in error["message"] and "ε = 0.1, δ = " in error["message"]
    assert SECRET not in response.text
    assert spent(proxy) > 0  # the charge stands (composed under zCDP)
    logged = _all_logged(caplog)
    assert SECRET not in logged
    found = re.search(r"\(query (q_[0-9a-f]+),", error["message"])
    assert found is not None
    query_id = found.group(1)
    assert query_id in logged  # the operator can find the charge in the ledger


def test_owner_may_log_engine_messages(
    make_proxy: Callable[..., Proxy], caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = make_proxy(lambda doc: doc.update(logging={"engine_errors": True}))
    pipeline = proxy.client.app.state.services.pipeline  # type: ignore[attr-defined]
    pipeline.engine = _Failing(pipeline.engine, _python_error)
    with caplog.at_level(logging.DEBUG):
        response = proxy.query("SELECT COUNT(*) FROM employees", epsilon=0.1)
    assert response.status_code == 500 and SECRET not in response.text
    assert SECRET in _all_logged(caplog)


def test_last_resort_handler_logs_no_exception_text(
    proxy: Proxy, caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = proxy.client.app.state.services.pipeline  # type: ignore[attr-defined]

    def broken(*_: Any, **__: Any) -> Any:
        raise ValueError(f"cannot format {SECRET}")

    pipeline.explain = broken
    with caplog.at_level(logging.DEBUG):
        response = proxy.explain("SELECT COUNT(*) FROM employees")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal"
    logged = _all_logged(caplog)
    assert "ValueError" in logged and SECRET not in logged
