"""SQLAlchemy's trino dialect and pandas against the real server with TLS:
reflection lists schemas, tables and typed columns; `pandas.read_sql` gets a DP
answer; `SET SESSION dpsql.epsilon` changes what the next query is charged."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import types as satypes

from .conftest import KEYS, Server


@pytest.fixture(scope="module")
def engine(duck_server: Server) -> Iterator[sa.Engine]:
    url = f"trino://alice:{KEYS['alice']}@{duck_server.host}:{duck_server.port}/dpsql/public"
    engine = sa.create_engine(url, connect_args={"http_scheme": "https",
                                                 "verify": str(duck_server.certfile)})
    yield engine
    engine.dispose()


def test_inspect_lists_schemas_tables_and_typed_columns(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert set(inspector.get_schema_names()) == {"public", "dpsql", "information_schema"}
    assert inspector.get_table_names() == ["departments", "employees", "events", "visits"]
    assert inspector.get_view_names(schema="dpsql") == ["budget"]
    columns = {c["name"]: c for c in inspector.get_columns("employees")}
    assert isinstance(columns["age"]["type"], satypes.BIGINT)
    assert isinstance(columns["salary"]["type"], satypes.Float)  # the dialect's DOUBLE
    assert isinstance(columns["dept"]["type"], satypes.VARCHAR)
    assert isinstance(columns["hired"]["type"], satypes.DATE)
    assert "bounded [0" in columns["salary"]["comment"]
    assert inspector.has_table("employees") and not inspector.has_table("payroll")
    assert inspector.get_indexes("employees") == []  # `employees$partitions` does not exist
    assert "private table" in inspector.get_table_comment("employees")["text"]
    table = sa.Table("visits", sa.MetaData(), autoload_with=engine)
    assert [c.name for c in table.columns] == ["amount", "city", "person_id", "visit_date"]


def test_pandas_read_sql_returns_a_dp_answer(engine: sa.Engine, duck_server: Server) -> None:
    before = duck_server.budget()["spent"]["epsilon"]
    frame = pd.read_sql("SELECT city, COUNT(*) AS n, dp_ci95(n) AS n_ci95, "
                        "SUM(amount) AS total FROM visits GROUP BY city", engine)
    assert list(frame.columns) == ["city", "n", "n_ci95", "total"]
    assert len(frame) > 1 and (frame["n_ci95"] > 0).all()
    assert frame["n_ci95"].nunique() == 1  # one interval per column, the same in each row
    after = duck_server.budget()["spent"]["epsilon"]
    assert after == pytest.approx(before + 0.1)  # the deployment's default ε


def test_set_session_changes_what_the_next_query_is_charged(engine: sa.Engine,
                                                            duck_server: Server) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION dpsql.epsilon = 0.7")
        shown = {r[0]: r[1] for r in conn.exec_driver_sql("SHOW SESSION").fetchall()}
        assert shown["dpsql.epsilon"] == "0.7"
        before = duck_server.budget()["spent"]["epsilon"]
        conn.exec_driver_sql("SELECT COUNT(*) AS n FROM employees WHERE age < 30").fetchall()
        assert duck_server.budget()["spent"]["epsilon"] == pytest.approx(before + 0.7)
        budget = conn.exec_driver_sql(
            "SELECT remaining_epsilon, session_epsilon FROM dpsql.budget").fetchall()
        assert budget[0][1] == 0.7
        assert budget[0][0] == pytest.approx(duck_server.budget()["remaining"]["epsilon"])
        conn.exec_driver_sql("RESET SESSION dpsql.epsilon")
        shown = {r[0]: r[1] for r in conn.exec_driver_sql("SHOW SESSION").fetchall()}
        assert shown["dpsql.epsilon"] == "0.1"
        with pytest.raises(sa.exc.ProgrammingError, match="invalid_parameter"):
            conn.exec_driver_sql("SET SESSION dpsql.epsilon = -1")
