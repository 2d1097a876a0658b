"""One list of error codes: the README's tables are checked against the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accountant.errors import AccountantError, BudgetExhausted, LedgerTampered
from accountant.errors import InvalidParameter as AccountantInvalid
from dpsql.errors import STARTUP_CODES, STATUS, DpsqlError
from proxy.config import ConfigError
from proxy.engines.base import EngineError, EngineTimeout
from proxy.errors import FailedAfterCharge, Forbidden, InvalidParameter, NotFound, Unauthenticated
from proxy.startup import StartupError
from proxy.trino.errors import TrinoError
from rewriter.errors import ParseError, QueryRefused, RewriteError
from tests.security.support import ERROR_CODES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _table_after(heading_text: str) -> list[list[str]]:
    """The rows of the first Markdown table after `heading_text`."""
    rest = README[README.index(heading_text):]
    rows: list[list[str]] = []
    for line in rest.splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return [row for row in rows[2:]]  # header and rule


def _code(cell: str) -> str:
    found = re.fullmatch(r"`([a-z_]+)`", cell)
    assert found, cell
    return found.group(1)


def test_the_readme_lists_every_http_code_with_its_status() -> None:
    rows = _table_after("Errors always look like")
    documented = {_code(code): int(status) for status, code, _ in rows}
    assert documented == STATUS


def test_the_readme_lists_every_start_up_code() -> None:
    rows = _table_after("shows the traceback and library log lines as well. The codes:")
    assert [_code(code) for code, _ in rows] == list(STARTUP_CODES)


def test_analysts_see_only_documented_codes() -> None:
    assert ERROR_CODES <= set(STATUS)


@pytest.mark.parametrize("error", [
    RewriteError, ParseError, QueryRefused, AccountantError, AccountantInvalid, BudgetExhausted,
    LedgerTampered, EngineError, EngineTimeout, ConfigError, StartupError, InvalidParameter,
    Unauthenticated, Forbidden, NotFound, FailedAfterCharge, TrinoError])
def test_every_error_has_the_one_root(error: type[Exception]) -> None:
    assert issubclass(error, DpsqlError)


def test_one_invalid_parameter_class() -> None:
    assert InvalidParameter is AccountantInvalid


@pytest.mark.parametrize(("error", "code"), [
    (ParseError, "parse_error"), (QueryRefused, "unsupported_query"),
    (AccountantInvalid, "invalid_parameter"), (BudgetExhausted, "budget_exhausted"),
    (LedgerTampered, "ledger_tampered"), (EngineError, "internal"), (EngineTimeout, "timeout"),
    (ConfigError, "config_error"), (Unauthenticated, "unauthenticated"),
    (Forbidden, "forbidden"), (NotFound, "not_found")])
def test_codes_are_unchanged(error: type[DpsqlError], code: str) -> None:
    assert error.code == code
    assert code in STATUS or code in STARTUP_CODES


class _Foreign(Exception):
    """A library's exception that happens to carry our attribute names."""

    code = "not_found"
    message = "row 17 of salaries: 'Alice Smith'"
    position = None


def test_errors_are_classified_by_class_not_by_their_attributes() -> None:
    from proxy.errors import INTERNAL_MESSAGE, InternalError, classify

    assert classify(_Foreign()).code == "internal"
    assert classify(_Foreign()).message == INTERNAL_MESSAGE
    assert classify(InternalError("the calibration disagrees")).message == INTERNAL_MESSAGE
    assert classify(EngineError()).message == EngineError.default_message
    seen = classify(QueryRefused("no"))
    assert (seen.status, seen.code, seen.message) == (400, "unsupported_query", "no")
    assert classify(ConfigError("x")).message == INTERNAL_MESSAGE  # not a client's code
