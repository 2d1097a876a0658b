"""Helpers shared by the Trino client tests: connections with the real clients,
and a raw-protocol client that sends headers as the JDBC driver does."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx
import requests
import trino
from trino.auth import BasicAuthentication, JWTAuthentication

from .conftest import KEYS, Server


class HopCounter:
    """A requests session that counts GETs on `nextUri` (paging hops)."""

    def __init__(self, server: Server) -> None:
        self.session = requests.Session()
        self.session.verify = str(server.certfile)  # the client leaves a given session as is
        server.opened.append(self.session)
        self.gets = 0
        self.session.hooks["response"].append(self._count)

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.request.method == "GET" and "/v1/statement/executing/" in (
                response.request.url or ""):
            self.gets += 1


def connect(server: Server, who: str = "alice", *, bearer: bool = False,
            **options: Any) -> trino.dbapi.Connection:
    auth = JWTAuthentication(KEYS[who]) if bearer else BasicAuthentication(who, KEYS[who])
    connection = trino.dbapi.connect(host=server.host, port=server.port, user=who,
                                     http_scheme="https", auth=auth, catalog="dpsql",
                                     schema="public", verify=str(server.certfile), **options)
    server.opened.append(connection)
    return connection


def basic(who: str = "alice") -> str:
    return "Basic " + base64.b64encode(f"{who}:{KEYS[who]}".encode()).decode()


@dataclass
class JdbcLike:
    """Speaks the protocol the way the Trino JDBC driver does: one header line per
    session property and prepared statement, every nextUri followed, the
    `X-Trino-Set-*`/`Added-Prepare` answers kept like cookies."""

    server: Server
    who: str = "alice"
    source: str = "trino-jdbc"
    catalog: str = "dpsql"
    schema: str = "public"
    properties: dict[str, str] = field(default_factory=dict)
    prepared: dict[str, str] = field(default_factory=dict)
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(verify=self.server.tls(), timeout=60)
        self.server.opened.append(self.client)

    def _headers(self) -> list[tuple[str, str]]:
        headers = [("X-Trino-User", self.who), ("X-Trino-Source", self.source),
                   ("X-Trino-Catalog", self.catalog), ("X-Trino-Schema", self.schema),
                   ("X-Trino-Time-Zone", "Europe/Paris"), ("Authorization", basic(self.who)),
                   ("Content-Type", "text/plain; charset=utf-8")]
        headers += [("X-Trino-Session", f"{k}={quote(v)}") for k, v in self.properties.items()]
        headers += [("X-Trino-Prepared-Statement", f"{k}={quote(v)}")
                    for k, v in self.prepared.items()]
        return headers

    def run(self, sql: str) -> dict[str, Any]:
        """POST, follow every nextUri; the whole answer: columns, rows, error, update."""
        response = self.client.post(f"{self.server.url}/v1/statement", content=sql.encode(),
                                    headers=self._headers())
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        self._apply(response.headers)
        document = response.json()
        columns, rows = document.get("columns"), list(document.get("data") or [])
        while document.get("nextUri"):
            response = self.client.get(document["nextUri"], headers=self._headers())
            assert response.status_code == 200, response.text
            document = response.json()
            columns = document.get("columns") or columns
            rows += document.get("data") or []
        return {"columns": columns, "rows": rows, "error": document.get("error"),
                "update": document.get("updateType"), "id": document["id"],
                "state": document["stats"]["state"]}

    def ok(self, sql: str) -> dict[str, Any]:
        answer = self.run(sql)
        assert answer["error"] is None, (sql, answer["error"])
        assert answer["state"] == "FINISHED", sql
        return answer

    def _apply(self, headers: httpx.Headers) -> None:
        for value in headers.get_list("X-Trino-Set-Session"):
            name, _, setting = value.partition("=")
            self.properties[name] = unquote(setting)
        for name in headers.get_list("X-Trino-Clear-Session"):
            self.properties.pop(name, None)
        for value in headers.get_list("X-Trino-Added-Prepare"):
            name, _, statement = value.partition("=")
            self.prepared[unquote(name)] = unquote(statement)
        for name in headers.get_list("X-Trino-Deallocated-Prepare"):
            self.prepared.pop(unquote(name), None)
        if "X-Trino-Set-Schema" in headers:
            self.schema = headers["X-Trino-Set-Schema"]
        if "X-Trino-Set-Catalog" in headers:
            self.catalog = headers["X-Trino-Set-Catalog"]

    def prepared_run(self, sql: str, name: str = "statement1") -> dict[str, Any]:
        """JDBC's PreparedStatement: PREPARE, DESCRIBE OUTPUT, EXECUTE, DEALLOCATE."""
        assert self.ok(f"PREPARE {name} FROM {sql}")["update"] == "PREPARE"
        self.ok(f"DESCRIBE OUTPUT {name}")
        answer = self.ok(f"EXECUTE {name}")
        self.ok(f"DEALLOCATE PREPARE {name}")
        assert name not in self.prepared
        return answer
