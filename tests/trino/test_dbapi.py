"""The trino DB-API client (from PyPI) against the real server with TLS, on DuckDB
and PostgreSQL: both kinds of credentials, paging, a DP query charged as the
ledger says, refusals as TrinoUserError with dpsql's message, bound parameters."""

from __future__ import annotations

import httpx
import pytest
import trino
from trino.exceptions import HttpError, TrinoUserError

from .clients import HopCounter, basic, connect
from .conftest import DAYS, KEYS, Server


def _entry(server: Server, query_id: str) -> dict[str, object]:
    return next(e for e in server.ledger() if e["query_id"] == query_id)


@pytest.mark.parametrize("bearer", [False, True], ids=["basic", "bearer"])
def test_connects_with_basic_auth_and_bearer_token(server: Server, bearer: bool) -> None:
    cur = connect(server, bearer=bearer).cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall() == [[1]]
    cur.execute("SHOW TABLES")
    assert [r[0] for r in cur.fetchall()] == ["departments", "employees", "events", "visits"]


def test_wrong_or_foreign_credentials_are_http_401(server: Server) -> None:
    wrong = trino.dbapi.connect(
        host=server.host, port=server.port, user="alice", http_scheme="https",
        auth=trino.auth.BasicAuthentication("alice", "dpsql_not_a_key"),
        verify=str(server.certfile))
    server.opened.append(wrong)
    with pytest.raises(HttpError, match="401"):
        wrong.cursor().execute("SELECT 1")
    # bob's key cannot speak as alice
    with httpx.Client(verify=server.tls()) as client:
        response = client.post(f"{server.url}/v1/statement", content=b"SELECT 1",
                               headers={"X-Trino-User": "alice", "Authorization": basic("bob")})
        assert response.status_code == 401
        assert "belongs to bob" in response.json()["error"]["message"]
        assert response.headers["www-authenticate"].startswith("Basic")
        assert client.head(f"{server.url}/v1/statement").status_code == 401
        assert client.head(f"{server.url}/v1/statement",
                           headers={"Authorization": f"Bearer {KEYS['alice']}"}).status_code == 200
        assert client.get(f"{server.url}/v1/info").json()["nodeVersion"]["version"]


def test_a_long_result_pages_through_several_next_uri_hops(server: Server) -> None:
    hops = HopCounter(server)
    cur = connect(server, http_session=hops.session).cursor()
    cur.execute("SELECT day, COUNT(*) AS n FROM events GROUP BY day")
    rows = cur.fetchall()
    assert [r[0] for r in rows] == list(range(DAYS))  # every declared key, in order
    assert hops.gets >= 3  # 1,200 rows at 500 a page
    assert [d[0] for d in cur.description] == ["day", "n"]
    assert [d[1] for d in cur.description] == ["bigint", "bigint"]


def test_a_dp_query_is_charged_as_the_ledger_records(server: Server) -> None:
    before = server.budget()["spent"]["epsilon"]
    cur = connect(server, session_properties={"dpsql.epsilon": "0.5"}).cursor()
    cur.execute("SELECT dept, COUNT(*) AS n, AVG(salary) AS pay FROM employees GROUP BY dept")
    rows = cur.fetchall()
    assert len(rows) == 6 and all(isinstance(r[1], int) for r in rows)
    entry = _entry(server, cur.query_id)
    assert entry["analyst"] == "alice" and entry["epsilon"] == "0.5"  # exact, as written
    assert server.budget()["spent"]["epsilon"] == pytest.approx(before + 0.5)
    assert "charged ε=0.5" in cur.warnings[0]["message"]
    # the same query again: the first answer, free
    again = connect(server, session_properties={"dpsql.epsilon": "0.5"}).cursor()
    again.execute("SELECT dept, COUNT(*) AS n, AVG(salary) AS pay FROM employees GROUP BY dept")
    assert again.fetchall() == rows
    assert server.budget()["spent"]["epsilon"] == pytest.approx(before + 0.5)
    assert "earlier answer, free" in again.warnings[0]["message"]


def test_a_refused_query_raises_trino_user_error_with_our_message(server: Server) -> None:
    cur = connect(server).cursor()
    before = server.budget()["spent"]["epsilon"]
    with pytest.raises(TrinoUserError) as info:
        cur.execute("SELECT SUM(name) FROM employees")
    assert info.value.error_name == "QUERY_REJECTED"
    assert info.value.message.startswith("unsupported_query: ")
    with pytest.raises(TrinoUserError) as preview:
        cur.execute("SELECT * FROM employees LIMIT 100")  # a BI tool's table preview
    assert preview.value.error_name == "NOT_SUPPORTED"
    assert "raw rows" in preview.value.message
    with pytest.raises(TrinoUserError) as parse:
        cur.execute("SELECT COUNT(* FROM employees")
    assert parse.value.error_name == "SYNTAX_ERROR"
    assert parse.value.message.startswith("parse_error: ")
    with pytest.raises(TrinoUserError) as budget:
        connect(server, session_properties={"dpsql.epsilon": "50"}).cursor().execute(
            "SELECT COUNT(*) FROM employees")
    assert budget.value.message.startswith("invalid_parameter: ")
    assert server.budget()["spent"]["epsilon"] == before  # refusals are free


def test_an_exhausted_budget_is_refused_with_our_code(server: Server) -> None:
    cur = connect(server, "dora", session_properties={"dpsql.epsilon": "0.2"}).cursor()
    cur.execute("SELECT COUNT(*) AS n FROM employees WHERE age > 50")
    cur.fetchall()
    with pytest.raises(TrinoUserError) as info:
        cur.execute("SELECT COUNT(*) AS n FROM employees WHERE age > 60")
    assert info.value.error_name == "QUERY_REJECTED"
    assert info.value.message.startswith("budget_exhausted: ")
    assert server.budget("dora")["spent"]["epsilon"] == pytest.approx(0.2)


@pytest.mark.parametrize("legacy", [False, True], ids=["execute-immediate", "prepare-execute"])
def test_bound_parameters_in_qmark_style(server: Server, legacy: bool) -> None:
    cur = connect(server, legacy_prepared_statements=legacy).cursor()
    cur.execute("SELECT COUNT(*) AS n FROM employees WHERE age > ? AND dept = ?", [40, "HR"])
    assert isinstance(cur.fetchall()[0][0], int)
    assert "40" in str(_entry(server, cur.query_id)["sql"])
    assert "'HR'" in str(_entry(server, cur.query_id)["sql"])
    # and a catalog query with parameters, as SQLAlchemy sends them
    cur.execute('SELECT "table_name" FROM "information_schema"."tables" '
                'WHERE "table_schema" = ? AND "table_name" = ?', ["public", "employees"])
    assert cur.fetchall() == [["employees"]]


def test_describe_gives_the_result_shape_for_free(server: Server) -> None:
    before = server.budget()["spent"]["epsilon"]
    described = connect(server).cursor().describe(
        "SELECT dept, COUNT(*) AS n, dp_ci95(n) AS n_ci FROM employees GROUP BY dept")
    assert [(d.name, d.type) for d in described] == [
        ("dept", "varchar"), ("n", "bigint"), ("n_ci", "double")]
    assert server.budget()["spent"]["epsilon"] == before


def test_pages_belong_to_their_analyst_and_get_is_idempotent(server: Server) -> None:
    with httpx.Client(verify=server.tls()) as client:
        first = client.post(f"{server.url}/v1/statement", headers={
            "X-Trino-User": "alice", "Authorization": basic("alice")},
            content=b"SELECT day, COUNT(*) AS n FROM events GROUP BY day").json()
        assert first["stats"]["state"] == "QUEUED"
        uri = first["nextUri"]
        assert uri.startswith("https://") and len(uri.rsplit("/", 2)[-2]) >= 32
        assert client.get(uri, headers={"Authorization": basic("bob")}).status_code == 404
        page = client.get(uri, headers={"Authorization": basic("alice")}).json()
        assert client.get(uri, headers={"Authorization": basic("alice")}).json() == page
        assert len(page["data"]) == 500 and page["columns"][0]["name"] == "day"
        assert client.delete(uri, headers={"Authorization": basic("alice")}).status_code == 204
        assert client.get(uri, headers={"Authorization": basic("alice")}).status_code == 404
        assert client.delete(uri, headers={"Authorization": basic("alice")}).status_code == 204
