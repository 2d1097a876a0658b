"""The client session, rebuilt from request headers on every request.

The Trino protocol keeps all session state in the client: catalog, schema,
session properties and prepared statements come back in headers with every
statement, and the server changes them only by answering `X-Trino-Set-*`
headers (notes/trino-protocol.md §2.2, §2.6). Legacy Presto clients send and
honour the same headers with the `X-Presto-` prefix (§2.9).

The JDBC driver sends one header line per property or prepared statement, the
Python client one comma-joined line: both are accepted, values URL-decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote_plus

from starlette.datastructures import Headers

CATALOG = "dpsql"  # the one catalog dpsql serves
SCHEMA = "public"  # the analyst's tables
DPSQL_SCHEMA = "dpsql"  # dpsql.budget and the accuracy functions' documentation
DEFAULT_TIME_ZONE = "UTC"


def _pairs(values: list[str]) -> dict[str, str]:
    """`a=1, b=x%2Cy` (one line or several) -> {"a": "1", "b": "x,y"}."""
    found: dict[str, str] = {}
    for line in values:
        for item in line.split(","):
            name, sep, value = item.strip().partition("=")
            if sep and name:
                found[unquote_plus(name)] = unquote_plus(value)
    return found


@dataclass(frozen=True)
class Session:
    prefix: str  # "X-Trino-" or "X-Presto-": what the client speaks and honours
    user: str | None
    catalog: str | None
    schema: str | None
    source: str | None
    time_zone: str
    properties: dict[str, str] = field(default_factory=dict)
    prepared: dict[str, str] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset()

    @property
    def parametric_datetime(self) -> bool:
        """Whether the client reads `timestamp(3)`; older clients and the JavaScript
        one expect plain `timestamp` (notes §2.5)."""
        return "PARAMETRIC_DATETIME" in self.capabilities

    @classmethod
    def from_headers(cls, headers: Headers) -> Session:
        prefix = "X-Trino-"
        if headers.get("x-trino-user") is None and headers.get("x-presto-user") is not None:
            prefix = "X-Presto-"

        def one(name: str) -> str | None:
            value = headers.get(prefix + name)
            return value.strip() if value and value.strip() else None

        return cls(
            prefix=prefix,
            user=one("User"),
            catalog=one("Catalog"),
            schema=one("Schema"),
            source=one("Source"),
            time_zone=one("Time-Zone") or DEFAULT_TIME_ZONE,
            properties=_pairs(headers.getlist(prefix + "Session")),
            prepared=_pairs(headers.getlist(prefix + "Prepared-Statement")),
            capabilities=frozenset(c.strip().upper() for line in headers.getlist(
                prefix + "Client-Capabilities") for c in line.split(",") if c.strip()),
        )


@dataclass
class Reply:
    """Response headers a statement asks the client to apply to its session."""

    prefix: str = "X-Trino-"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def _add(self, name: str, value: str) -> None:
        self.headers.append((self.prefix + name, value))

    def set_session(self, name: str, value: str) -> None:
        self._add("Set-Session", f"{name}={quote(value, safe='')}")

    def clear_session(self, name: str) -> None:
        self._add("Clear-Session", name)

    def set_catalog(self, catalog: str) -> None:
        self._add("Set-Catalog", catalog)

    def set_schema(self, schema: str) -> None:
        self._add("Set-Schema", schema)

    def added_prepare(self, name: str, sql: str) -> None:
        self._add("Added-Prepare", f"{quote(name, safe='')}={quote(sql, safe='')}")

    def deallocated_prepare(self, name: str) -> None:
        self._add("Deallocated-Prepare", quote(name, safe=""))

    def started_transaction(self, transaction_id: str) -> None:
        self._add("Started-Transaction-Id", transaction_id)

    def clear_transaction(self) -> None:
        self._add("Clear-Transaction-Id", "true")
