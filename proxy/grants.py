"""One validation of analysts and their grants for the CLI and the owner API
(issue #19): the same names, the same expiry rules, the same roles that hold budgets.

A change of budget keeps the grant's expiry unless the request names a new one
(or `never`): raising a budget must not also remove its end date, a loosening
nobody asked for.
"""

from __future__ import annotations

import datetime as dt
import re

from accountant import Ledger

from .config import ANALYST_NAME_PATTERN as NAME_PATTERN
from .config import parse_expiry
from .errors import InvalidParameter

__all__ = ["NAME_PATTERN", "KEEP", "check_grant", "check_name", "expiry_of", "resolve_expiry"]

_NAME = re.compile(NAME_PATTERN)
NEVER = "never"


class _Keep:
    """The request says nothing about the expiry: keep the grant's."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidParameter(
            f"name {name!r}: an analyst's name starts with a letter and holds up to 64 "
            "letters, digits, '_', '.' or '-'")
    return name


def expiry_of(text: str | None) -> dt.datetime | None:
    """An expiry as typed: an ISO date (through that day, UTC), a date-time, or `never`."""
    if text is None or text == NEVER:
        return None
    try:
        return parse_expiry(text)
    except ValueError:
        raise InvalidParameter(
            f"expires: {text!r} is not an ISO date such as 2027-06-30 (the grant ends after "
            "that day, UTC), a date-time, or `never`") from None


def check_grant(role: str, expires: dt.datetime | None | _Keep, now: dt.datetime) -> None:
    """Refuse a budget for a role that spends none, or one that has already ended."""
    if role != "analyst":
        raise InvalidParameter(
            f"a {role} asks no queries and holds no budget; budgets are for analysts")
    if isinstance(expires, dt.datetime) and expires <= now:
        raise InvalidParameter(
            f"expires: {expires.isoformat()} is not in the future; a grant that has already "
            "ended spends nothing (give a later date, or `never`)")


def resolve_expiry(ledger: Ledger, name: str, expires: dt.datetime | None | _Keep,
                   now: dt.datetime) -> dt.datetime | None:
    """The expiry to record: the requested one, or the grant's current one."""
    if isinstance(expires, _Keep):
        return ledger.status(name, now).expires
    return expires
