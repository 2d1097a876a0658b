"""Demo data: deterministic, realistic ranges, and a config that loads."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from proxy.config import load_config
from proxy.demo import CITIES, DEPARTMENTS, build_demo_database, write_demo_config
from proxy.engines import open_engine


def checksum(path: Path) -> str:
    """Hash of every row in a fixed order (the file's bytes need not be stable)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        digest = hashlib.sha256()
        for table, order in (("employees", "id"), ("visits", "ALL"), ("departments", "dept")):
            rows = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            digest.update(repr(rows).encode())
        return digest.hexdigest()
    finally:
        con.close()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo_database(path, people=2000)
    return path


def test_deterministic(small: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.duckdb"
    build_demo_database(again, people=2000)
    assert checksum(again) == checksum(small)
    other = tmp_path / "other.duckdb"
    build_demo_database(other, people=2000, seed=8)
    assert checksum(other) != checksum(small)


def test_shapes_and_ranges(small: Path) -> None:
    con = duckdb.connect(str(small), read_only=True)
    try:
        one = con.execute
        assert one(
            "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM employees"
        ).fetchone() == (
            2000,
            2000,
            1,
            2000,
        )
        lo, hi, above = one(
            "SELECT min(salary), max(salary), count(*) FILTER (WHERE salary > 250000) "
            "FROM employees"
        ).fetchone()  # type: ignore[misc]
        assert 20_000 <= lo and hi <= 400_000 and above > 0
        assert one("SELECT min(age) >= 18 AND max(age) <= 70 FROM employees").fetchone() == (True,)
        first, last = one("SELECT min(hired), max(hired) FROM employees").fetchone()  # type: ignore[misc]
        assert dt.date(2000, 1, 1) <= first and last <= dt.date(2026, 12, 31)
        depts = dict(one("SELECT dept, count(*) FROM employees GROUP BY dept").fetchall())
        assert set(depts) == set(DEPARTMENTS)
        assert depts["Engineering"] > 2 * depts["HR"]  # skewed
        assert one("SELECT count(*) FROM employees WHERE name NOT LIKE '% %'").fetchone() == (0,)

        per = one(
            "SELECT min(n), max(n), count(*) FROM "
            "(SELECT person_id, count(*) AS n FROM visits GROUP BY person_id)"
        ).fetchone()
        assert per is not None and per[0] >= 1 and per[1] <= 30 and per[1] > 10 and per[2] == 2000
        assert {r[0] for r in one("SELECT DISTINCT city FROM visits").fetchall()} == set(CITIES)
        assert one("SELECT min(amount) >= 0 AND max(amount) <= 500 FROM visits").fetchone() == (
            True,
        )
        assert one("SELECT count(*) FROM departments").fetchone() == (len(DEPARTMENTS),)
        types = dict(
            one(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'employees'"
            ).fetchall()
        )
        assert types == {
            "id": "INTEGER",
            "name": "VARCHAR",
            "dept": "VARCHAR",
            "salary": "DOUBLE",
            "age": "INTEGER",
            "hired": "DATE",
        }
    finally:
        con.close()


def test_replaces_existing_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    path.write_bytes(b"not a database")
    build_demo_database(path, people=50)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.duckdb"]
    assert checksum(path)


def test_full_size_is_fast(tmp_path: Path) -> None:
    start = time.monotonic()
    build_demo_database(tmp_path / "big.duckdb")
    assert time.monotonic() - start < 20


def test_demo_config_loads_and_matches_data(small: Path, tmp_path: Path) -> None:
    keys = write_demo_config(tmp_path, small)
    assert keys is not None and set(keys) == {"alice", "olivia", "carl"}
    assert all(k.startswith("dpsql_") and len(k) > 40 for k in keys.values())
    text = (tmp_path / "dpsql.yaml").read_text(encoding="utf-8")
    assert not any(k in text for k in keys.values())

    config = load_config(tmp_path / "dpsql.yaml")
    assert config.engine.database == small.resolve()
    assert config.ledger.url == f"sqlite:///{small.resolve().parent / 'dpsql-ledger.db'}"
    for name, key in keys.items():
        assert config.analysts[name].api_key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert {n: a.role for n, a in config.analysts.items()} == {
        "alice": "analyst",
        "olivia": "owner",
        "carl": "compliance",
    }
    alice = config.analysts["alice"].budget
    assert alice is not None
    assert (alice.epsilon, alice.delta) == (Decimal("3.0"), Decimal("1e-6"))
    assert config.tables["departments"].public

    engine = open_engine(config.engine)
    try:
        for name, table in config.tables.items():
            cols = engine.execute(f"SELECT * FROM {name} LIMIT 0").columns
            assert set(cols) == set(table.columns), name
    finally:
        engine.close()


def test_existing_config_is_kept(small: Path, tmp_path: Path) -> None:
    (tmp_path / "dpsql.yaml").write_text("mine\n", encoding="utf-8")
    assert write_demo_config(tmp_path, small) is None
    assert (tmp_path / "dpsql.yaml").read_text(encoding="utf-8") == "mine\n"
