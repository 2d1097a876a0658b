"""D and its extreme neighbours for the catalog of tests/rewriter/conftest.py, on DuckDB
(tests/neighbours.py): people who respect every bound, so bounding keeps all of their
rows, and one person far outside every bound, in every group."""

from __future__ import annotations

from tests.neighbours import Database, Person, duckdb_database

TABLES = (
    """
    CREATE TABLE employees AS SELECT
        i AS id, 'n' || i AS name,
        ['Engineering', 'HR', 'Legal', 'Sales', 'Other'][i % 5 + 1] AS dept,
        (i * 7919 % 250000)::DOUBLE AS salary, 16 + i % 80 AS age,
        DATE '2010-01-01' + (i % 4000)::INT AS hired, i % 2 = 0 AS remote, 'x' AS city
    FROM range(2000) t(i)
    """,
    # each person: up to 5 visits in at most 2 cities, amounts inside the bounds
    """
    CREATE TABLE visits AS SELECT
        p AS person_id, ['Oslo', 'Lima', 'Pune'][(p + v % 2) % 3 + 1] AS city,
        ((p * 31 + v * 17) % 550 - 50)::DOUBLE AS amount,
        DATE '2024-01-01' + v::INT AS visit_date
    FROM range(500) a(p), range(5) b(v) WHERE v <= p % 5
    """,
    # a public table (duplicated keys are covered by the hypothesis property test)
    """CREATE TABLE departments AS SELECT * FROM (VALUES ('HR', 1, 'a', 1),
        ('Engineering', 2, 'b', 2), ('Sales', 3, 'c', 3), ('Legal', 4, 'd', 4))
        t(dept, floor, budget_code, id)""",
)

UNITS = {"employees": "id", "visits": "person_id"}

#: one person with 1,000 rows per table, extreme values, in every group
EXTREME = Person(999999, UNITS, statements=(
    """
    INSERT INTO employees SELECT 999999, 'z',
        ['Engineering', 'HR', 'Legal', 'Sales'][i % 4 + 1], 1e12, 1000000,
        DATE '2020-01-01', true, 'x' FROM range(1000) t(i)
    """,
    """
    INSERT INTO visits SELECT 999999, ['Oslo', 'Lima', 'Pune'][i % 3 + 1],
        CASE WHEN i % 2 = 0 THEN 1e15 ELSE -1e15 END, DATE '2024-01-01' FROM range(1000) t(i)
    """,
))

#: the extreme person with 40 rows per table: three private tables joined on the unit
#: give 40³ rows, not 1000³
SMALL_EXTREME = Person(999999, UNITS, statements=(
    "INSERT INTO employees SELECT 999999, 'z', 'HR', 1e12, 1000000, "
    "DATE '2020-01-01', true, 'x' FROM range(40)",
    "INSERT INTO visits SELECT 999999, ['Oslo', 'Lima', 'Pune'][i % 3 + 1], 1e15, "
    "DATE '2024-01-01' FROM range(40) t(i)",
))


def database() -> Database:
    """D: 2,000 employees, 500 people's visits, and the public departments."""
    return duckdb_database(*TABLES)
