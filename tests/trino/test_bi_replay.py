"""Replays of what BI tools send on connect and browse (notes/trino-protocol.md §4,
from their source): Superset's Trino engine spec (through the trino Python
client, as Superset runs it), Metabase's Starburst driver (every statement as a
JDBC PreparedStatement) and the Trino JDBC driver's DatabaseMetaData (DBeaver,
Tableau). Every statement succeeds, except those a tool expects to fail, which
fail with the error the tool handles."""

from __future__ import annotations

import httpx
import pytest
from trino.exceptions import TrinoUserError

from .clients import JdbcLike, basic, connect
from .conftest import Server

NAMES = ["departments", "employees", "events", "visits"]


def test_superset_engine_spec(duck_server: Server) -> None:
    cur = connect(duck_server, source="Apache Superset").cursor()

    def rows(sql: str, params: list[object] | None = None) -> list[list[object]]:
        cur.execute(sql, params)
        return list(cur.fetchall())

    assert rows("SELECT 1") == [[1]]  # do_ping, test connection
    assert rows("SHOW CATALOGS") == [["dpsql"]]
    assert ["public"] in rows('SELECT "schema_name" FROM "information_schema"."schemata"')
    tables = rows('SELECT "table_name" FROM "information_schema"."tables" WHERE '
                  '"table_schema" = ? AND "table_type" = \'BASE TABLE\'', ["public"])
    assert [r[0] for r in tables] == NAMES
    assert rows('SELECT "table_name" FROM "information_schema"."tables" WHERE '
                '"table_schema" = ? AND "table_type" = \'VIEW\'', ["public"]) == []
    columns = rows('SELECT "column_name", "data_type", "column_default", UPPER("is_nullable") '
                   'AS "is_nullable", "comment" FROM "information_schema"."columns" WHERE '
                   '"table_schema" = ? AND "table_name" = ? ORDER BY "ordinal_position" ASC',
                   ["public", "employees"])
    assert ("salary", "double") in {(r[0], r[1]) for r in columns}
    assert {r[3] for r in columns} == {"YES"}
    with pytest.raises(TrinoUserError) as partitions:  # the spec catches it: no partitions
        rows('SELECT * FROM public."employees$partitions"')
    assert partitions.value.error_name == "TABLE_NOT_FOUND"
    assert rows('SELECT "comment" FROM "system"."metadata"."table_comments" WHERE '
                '"catalog_name" = ? AND "schema_name" = ? AND "table_name" = ?',
                ["dpsql", "public", "employees"])[0][0].startswith("private table")
    assert rows('SELECT "view_definition" FROM "information_schema"."views" WHERE '
                '"table_schema" = ? AND "table_name" = ?', ["dpsql", "budget"])
    functions = [r[0] for r in rows("SHOW FUNCTIONS")]
    assert {"count", "avg", "dp_ci95"} <= set(functions)
    with pytest.raises(TrinoUserError) as cost:  # cost estimate: Superset shows it as off
        rows("EXPLAIN (TYPE IO, FORMAT JSON) SELECT COUNT(*) FROM employees")
    assert cost.value.error_name == "NOT_SUPPORTED"
    # a chart: Superset wraps the metric, orders and limits it
    chart = rows('SELECT dept AS dept, COUNT(*) AS "count" FROM employees GROUP BY dept '
                 'ORDER BY "count" DESC LIMIT 10000')
    assert len(chart) == 6
    cur.execute("CALL system.runtime.kill_query(query_id => 'q_x', message => 'Query "
                "cancelled by Superset')")
    cur.fetchall()
    assert cur.update_type == "CALL"  # the "Stop" button: acknowledged
    with pytest.raises(TrinoUserError) as preview:  # the table preview in SQL Lab
        rows("SELECT * FROM employees LIMIT 100")
    assert preview.value.error_name == "NOT_SUPPORTED"
    assert "raw rows" in preview.value.message


def test_metabase_starburst_driver(duck_server: Server) -> None:
    jdbc = JdbcLike(duck_server, source="Starburst Metabase 5.0.0")
    assert jdbc.prepared_run("SELECT 1")["rows"] == [[1]]
    schemas = jdbc.prepared_run('SHOW SCHEMAS FROM "dpsql"')["rows"]
    assert ["public"] in schemas
    assert [r[0] for r in jdbc.prepared_run('SHOW TABLES FROM "dpsql"."public"')["rows"]] == NAMES
    assert jdbc.prepared_run("SHOW TABLES FROM \"public\" LIKE 'employees'")["rows"] == [
        ["employees"]]
    described = jdbc.prepared_run('DESCRIBE "dpsql"."public"."employees"')
    assert [c["name"] for c in described["columns"]][:2] == ["Column", "Type"]
    assert ["salary", "double"] in [r[:2] for r in described["rows"]]
    assert jdbc.prepared_run('SELECT current_timezone() as "time-zone"')["rows"] == [
        ["Europe/Paris"]]
    # field values: answered from the declared public keys, free
    values = jdbc.prepared_run(
        'SELECT "public"."employees"."dept" AS "dept" FROM "public"."employees" GROUP BY '
        '"public"."employees"."dept" ORDER BY "public"."employees"."dept" ASC LIMIT 1000')
    assert [r[0] for r in values["rows"]] == sorted(r[0] for r in values["rows"])
    assert len(values["rows"]) == 6
    distinct = jdbc.prepared_run('SELECT DISTINCT "city" FROM "visits" ORDER BY "city" DESC')
    assert distinct["rows"] == sorted(distinct["rows"], reverse=True) and distinct["rows"]
    # a question from the query builder
    answer = jdbc.prepared_run(
        'SELECT "public"."employees"."dept" AS "dept", count(*) AS "count" FROM '
        '"public"."employees" GROUP BY "public"."employees"."dept" ORDER BY '
        '"public"."employees"."dept" ASC')
    assert len(answer["rows"]) == 6 and answer["columns"][1]["type"] == "bigint"
    # fingerprinting reads raw rows: refused cleanly, the sync goes on
    jdbc.ok('PREPARE statement9 FROM SELECT "public"."employees"."age" AS "age" FROM '
            '"public"."employees" LIMIT 10000')
    refused = jdbc.run("EXECUTE statement9")
    assert refused["error"]["errorName"] == "NOT_SUPPORTED"
    assert refused["error"]["message"].startswith("unsupported_query: ")


JDBC_METADATA = [
    ("SELECT TABLE_CAT\nFROM system.jdbc.catalogs\nORDER BY TABLE_CAT", [["dpsql"]]),
    ("SELECT TABLE_SCHEM, TABLE_CATALOG\nFROM system.jdbc.schemas\nWHERE TABLE_CATALOG = 'dpsql'"
     " AND TABLE_SCHEM LIKE 'p%' ESCAPE '\\'\nORDER BY TABLE_CATALOG, TABLE_SCHEM",
     [["public", "dpsql"]]),
    ("SELECT TABLE_CAT, TABLE_SCHEM, TABLE_NAME, TABLE_TYPE, REMARKS,\n  TYPE_CAT, TYPE_SCHEM, "
     "TYPE_NAME,   SELF_REFERENCING_COL_NAME, REF_GENERATION\nFROM system.jdbc.tables\nWHERE "
     "TABLE_CAT = 'dpsql' AND TABLE_SCHEM LIKE 'public' ESCAPE '\\' AND TABLE_NAME LIKE '%' "
     "ESCAPE '\\' AND TABLE_TYPE IN ('TABLE', 'VIEW')\nORDER BY TABLE_TYPE, TABLE_CAT, "
     "TABLE_SCHEM, TABLE_NAME", len(NAMES)),
    ("SELECT TABLE_CAT, TABLE_SCHEM, TABLE_NAME, COLUMN_NAME, DATA_TYPE,\n  TYPE_NAME, "
     "COLUMN_SIZE, BUFFER_LENGTH, DECIMAL_DIGITS, NUM_PREC_RADIX,\n  NULLABLE, REMARKS, "
     "COLUMN_DEF, SQL_DATA_TYPE, SQL_DATETIME_SUB,\n  CHAR_OCTET_LENGTH, ORDINAL_POSITION, "
     "IS_NULLABLE,\n  SCOPE_CATALOG, SCOPE_SCHEMA, SCOPE_TABLE,\n  SOURCE_DATA_TYPE, "
     "IS_AUTOINCREMENT, IS_GENERATEDCOLUMN\nFROM system.jdbc.columns\nWHERE TABLE_CAT = 'dpsql' "
     "AND TABLE_SCHEM LIKE 'public' ESCAPE '\\' AND TABLE_NAME LIKE 'employees' ESCAPE '\\'\n"
     "ORDER BY TABLE_CAT, TABLE_SCHEM, TABLE_NAME, ORDINAL_POSITION", 6),
    ("SELECT TABLE_TYPE\nFROM system.jdbc.table_types\nORDER BY TABLE_TYPE", [["TABLE"], ["VIEW"]]),
    ("SELECT TYPE_NAME, DATA_TYPE, PRECISION, LITERAL_PREFIX, LITERAL_SUFFIX,\nCREATE_PARAMS, "
     "NULLABLE, CASE_SENSITIVE, SEARCHABLE, UNSIGNED_ATTRIBUTE,\nFIXED_PREC_SCALE, "
     "AUTO_INCREMENT, LOCAL_TYPE_NAME, MINIMUM_SCALE, MAXIMUM_SCALE,\nSQL_DATA_TYPE, "
     "SQL_DATETIME_SUB, NUM_PREC_RADIX\nFROM system.jdbc.types\nORDER BY DATA_TYPE", 7),
    ("SELECT  CAST(NULL AS varchar) TABLE_CAT,  CAST(NULL AS varchar) TABLE_SCHEM,  CAST(NULL AS "
     "varchar) TABLE_NAME,  CAST(NULL AS varchar) COLUMN_NAME,  CAST(NULL AS smallint) KEY_SEQ, "
     " CAST(NULL AS varchar) PK_NAME WHERE false", []),
    ("SELECT PROCEDURE_CAT, PROCEDURE_SCHEM, PROCEDURE_NAME,\n   null, null, null, REMARKS, "
     "PROCEDURE_TYPE, SPECIFIC_NAME\nFROM system.jdbc.procedures\nORDER BY PROCEDURE_CAT, "
     "PROCEDURE_SCHEM, PROCEDURE_NAME, SPECIFIC_NAME LIMIT 0", []),
    ("SELECT PROCEDURE_CAT, PROCEDURE_SCHEM, PROCEDURE_NAME,   COLUMN_NAME, COLUMN_TYPE, "
     "DATA_TYPE, TYPE_NAME,\n  PRECISION, LENGTH, SCALE, RADIX,\n  NULLABLE, REMARKS, COLUMN_DEF,"
     " SQL_DATA_TYPE, SQL_DATETIME_SUB,\n  CHAR_OCTET_LENGTH, ORDINAL_POSITION, IS_NULLABLE, "
     "SPECIFIC_NAME\nFROM system.jdbc.procedure_columns\nORDER BY PROCEDURE_CAT, PROCEDURE_SCHEM,"
     " PROCEDURE_NAME, SPECIFIC_NAME, COLUMN_NAME LIMIT 0", []),
    ("SELECT TYPE_CAT, TYPE_SCHEM, TYPE_NAME,\n  CLASS_NAME, DATA_TYPE, REMARKS, BASE_TYPE\n"
     "FROM system.jdbc.udts\nORDER BY DATA_TYPE, TYPE_CAT, TYPE_SCHEM, TYPE_NAME LIMIT 0", []),
    ("SELECT TYPE_CAT, TYPE_SCHEM, TYPE_NAME,\n  SUPERTYPE_CAT, SUPERTYPE_SCHEM, SUPERTYPE_NAME\n"
     "FROM system.jdbc.super_types\nORDER BY TYPE_CAT, TYPE_SCHEM, TYPE_NAME LIMIT 0", []),
    ("SELECT TABLE_CAT, TABLE_SCHEM, TABLE_NAME, SUPERTABLE_NAME\nFROM system.jdbc.super_tables\n"
     "ORDER BY TABLE_CAT, TABLE_SCHEM, TABLE_NAME LIMIT 0", []),
    ("SELECT TYPE_CAT, TYPE_SCHEM, TYPE_NAME, ATTR_NAME, DATA_TYPE,\n  ATTR_TYPE_NAME, ATTR_SIZE, "
     "DECIMAL_DIGITS, NUM_PREC_RADIX, NULLABLE,\n  REMARKS, ATTR_DEF, SQL_DATA_TYPE, "
     "SQL_DATETIME_SUB, CHAR_OCTET_LENGTH,\n  ORDINAL_POSITION, IS_NULLABLE, SCOPE_CATALOG, "
     "SCOPE_SCHEMA, SCOPE_TABLE,\nSOURCE_DATA_TYPE\nFROM system.jdbc.attributes\nORDER BY "
     "TYPE_CAT, TYPE_SCHEM, TYPE_NAME, ORDINAL_POSITION LIMIT 0", []),
    ("SELECT TABLE_CAT, TABLE_SCHEM, TABLE_NAME, COLUMN_NAME, DATA_TYPE,\n  COLUMN_SIZE, "
     "DECIMAL_DIGITS, NUM_PREC_RADIX, COLUMN_USAGE, REMARKS,\n  CHAR_OCTET_LENGTH, IS_NULLABLE\n"
     "FROM system.jdbc.pseudo_columns\nORDER BY TABLE_CAT, table_SCHEM, TABLE_NAME, COLUMN_NAME "
     "LIMIT 0", []),
    ("SELECT version()", [["476"]]),
]


def test_jdbc_database_metadata(duck_server: Server) -> None:
    jdbc = JdbcLike(duck_server, source="DBeaver 25.1 - Main")
    for sql, expected in JDBC_METADATA:
        answer = jdbc.ok(sql)
        assert answer["columns"], sql  # even an empty result has its columns
        if isinstance(expected, int):
            assert len(answer["rows"]) == expected, sql
        else:
            assert answer["rows"] == expected, sql
    columns = jdbc.ok(JDBC_METADATA[3][0])
    salary = next(r for r in columns["rows"] if r[3] == "salary")
    assert (salary[4], salary[5]) == (8, "double")  # java.sql.Types.DOUBLE
    # a JDBC session: transaction, PreparedStatement.getMetaData(), DBeaver's DDL tab
    assert jdbc.ok("START TRANSACTION READ ONLY")["update"] == "START TRANSACTION"
    jdbc.ok("PREPARE statement2 FROM SELECT city, AVG(amount) AS mean FROM visits GROUP BY city")
    shape = jdbc.ok("DESCRIBE OUTPUT statement2")
    assert [(r[0], r[4]) for r in shape["rows"]] == [("city", "varchar"), ("mean", "double")]
    assert jdbc.ok("COMMIT")["update"] == "COMMIT"
    ddl = jdbc.ok("SHOW CREATE TABLE dpsql.public.employees")["rows"][0][0]
    assert ddl.startswith('CREATE TABLE dpsql.public."employees"') and '"salary" double' in ddl
    # Tableau's result-shape probes: typed columns, no rows, nothing charged
    before = duck_server.budget()["spent"]["epsilon"]
    probe = jdbc.ok('SELECT * FROM "dpsql"."public"."employees" WHERE 1=0')
    assert [c["name"] for c in probe["columns"]] == ["age", "dept", "hired", "id", "name",
                                                     "salary"] and probe["rows"] == []
    custom = jdbc.ok("SELECT dept, SUM(salary) AS total FROM employees GROUP BY dept LIMIT 0")
    assert [(c["name"], c["type"]) for c in custom["columns"]] == [("dept", "varchar"),
                                                                   ("total", "double")]
    assert duck_server.budget()["spent"]["epsilon"] == before
    preview = jdbc.run("SELECT * FROM dpsql.public.employees LIMIT 200")  # DBeaver's data tab
    assert preview["error"]["errorName"] == "NOT_SUPPORTED"
    with httpx.Client(verify=duck_server.tls()) as client:
        assert client.head(f"{duck_server.url}/v1/statement",
                           headers={"Authorization": basic()}).status_code == 200
        assert client.get(f"{duck_server.url}/v1/info").json()["coordinator"] is True


def test_legacy_presto_headers_are_read_and_answered(duck_server: Server) -> None:
    with httpx.Client(verify=duck_server.tls()) as client:
        response = client.post(f"{duck_server.url}/v1/statement",
                               content=b"SET SESSION dpsql.epsilon = 0.25",
                               headers={"X-Presto-User": "alice", "Authorization": basic()})
        done = client.get(response.json()["nextUri"], headers={"Authorization": basic()})
        assert done.json()["updateType"] == "SET SESSION"
        assert response.headers["X-Presto-Set-Session"] == "dpsql.epsilon=0.25"
        assert "X-Trino-Set-Session" not in response.headers
