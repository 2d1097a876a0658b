"""Demo data and a matching ``dpsql.yaml`` so that ``dpsql demo`` works offline.

The data is generated in code from a fixed seed, so every install shows the same
numbers, and shaped like real records (skewed departments, lognormal salaries
with a tail above the declared 250 000 bound, a varying number of visits per
person) so that clamping and contribution bounding visibly matter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import yaml

__all__ = ["CITIES", "DEPARTMENTS", "build_demo_database", "demo_config_yaml", "write_demo_config"]

# name -> (share of staff, median salary, floor, budget code)
DEPARTMENTS: dict[str, tuple[float, float, int, str]] = {
    "Engineering": (0.34, 118_000, 3, "ENG-100"),
    "Sales": (0.24, 78_000, 1, "SAL-200"),
    "Marketing": (0.13, 74_000, 2, "MKT-300"),
    "Finance": (0.11, 92_000, 4, "FIN-400"),
    "HR": (0.08, 66_000, 4, "HR-500"),
    "Legal": (0.10, 135_000, 5, "LEG-600"),
}
CITIES: tuple[str, ...] = (
    "Berlin", "Paris", "Madrid", "Rome", "Amsterdam", "Vienna", "Lisbon", "Prague",
)  # fmt: skip
_CITY_SHARES = (0.24, 0.2, 0.14, 0.12, 0.1, 0.09, 0.06, 0.05)
_FIRST = (
    "Anna", "Ben", "Chloé", "David", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Kira", "Luca", "Maria", "Noah", "Olga", "Pablo", "Qiu", "Rosa", "Sven", "Tara",
    "Umar", "Vera", "Wim", "Yara", "Zoe", "Aiko", "Bruno", "Carla", "Dmitri", "Emma",
)  # fmt: skip
_LAST = (
    "Müller", "Schmidt", "Dubois", "Martin", "García", "Rossi", "Jansen", "Novak",
    "Silva", "Kowalski", "Nielsen", "Yilmaz", "Papadopoulos", "Horvat", "Costa",
    "Bauer", "Lefèvre", "Fernández", "Bianchi", "de Vries", "Svoboda", "Pereira",
    "Nowak", "Larsen", "Demir", "Wagner", "Moreau", "López", "Romano", "Berg",
)  # fmt: skip
_EPOCH = dt.date(2000, 1, 1)


def _days(date: dt.date) -> int:
    return (date - _EPOCH).days


def _employees(rng: np.random.Generator, people: int) -> dict[str, np.ndarray]:
    names = list(DEPARTMENTS)
    shares = np.array([DEPARTMENTS[d][0] for d in names])
    dept = rng.choice(len(names), size=people, p=shares / shares.sum())
    median = np.array([DEPARTMENTS[d][1] for d in names])[dept]
    salary = np.clip(median * rng.lognormal(0.0, 0.38, people), 20_000, 400_000).round(-2)
    first = rng.integers(0, len(_FIRST), people)
    last = rng.integers(0, len(_LAST), people)
    full = np.char.add(np.char.add(np.array(_FIRST)[first], " "), np.array(_LAST)[last])
    return {
        "id": np.arange(1, people + 1, dtype=np.int32),
        "name": full,
        "dept": np.array(names)[dept],
        "salary": salary.astype(np.float64),
        "age": np.clip(rng.normal(41, 11, people).round(), 18, 70).astype(np.int32),
        "hired": rng.integers(0, _days(dt.date(2026, 12, 31)) + 1, people).astype(np.int32),
    }


def _visits(rng: np.random.Generator, people: int) -> dict[str, np.ndarray]:
    per_person = np.clip(rng.geometric(0.2, people), 1, 30)
    total = int(per_person.sum())
    shares = np.array(_CITY_SHARES)
    first, last = _days(dt.date(2023, 1, 1)), _days(dt.date(2025, 12, 31))
    return {
        "person_id": np.repeat(np.arange(1, people + 1, dtype=np.int32), per_person),
        "visit_date": rng.integers(first, last + 1, total).astype(np.int32),
        "city": np.array(CITIES)[rng.choice(len(CITIES), size=total, p=shares / shares.sum())],
        "amount": np.clip(rng.gamma(2.0, 35.0, total), 0, 500).round(2),
    }


def _departments() -> dict[str, np.ndarray]:
    return {
        "dept": np.array(list(DEPARTMENTS)),
        "floor": np.array([v[2] for v in DEPARTMENTS.values()], dtype=np.int32),
        "budget_code": np.array([v[3] for v in DEPARTMENTS.values()]),
    }


def build_demo_database(path: str | Path, *, people: int = 100_000, seed: int = 7) -> None:
    """Write the demo DuckDB file at ``path``, replacing it atomically.

    DuckDB reads the numpy columns directly (no pandas); strings arrive as ENUM
    and dates as day offsets, so both are cast in SQL.
    """
    if people < 1:
        raise ValueError(f"people must be at least 1, got {people}")
    path = Path(path)
    rng = np.random.default_rng(seed)
    employees, visits, departments = _employees(rng, people), _visits(rng, people), _departments()
    write_duckdb(
        path,
        {"employees_np": employees, "visits_np": visits, "departments_np": departments},
        [
            "CREATE TABLE employees AS SELECT id, name::VARCHAR AS name, "
            "dept::VARCHAR AS dept, salary, age, DATE '2000-01-01' + hired AS hired "
            "FROM employees_np ORDER BY id",
            "CREATE TABLE visits AS SELECT person_id, "
            "DATE '2000-01-01' + visit_date AS visit_date, city::VARCHAR AS city, amount "
            "FROM visits_np",
            "CREATE TABLE departments AS SELECT dept::VARCHAR AS dept, floor, "
            "budget_code::VARCHAR AS budget_code FROM departments_np",
        ],
    )


def write_duckdb(
    path: Path, columns: dict[str, dict[str, np.ndarray]], statements: list[str]
) -> None:
    """Create a DuckDB file from numpy columns, replacing ``path`` atomically.

    Each mapping in ``columns`` is registered under its name (DuckDB reads numpy
    directly, no pandas) for ``statements`` to shape into tables; a reader
    never sees a half-written file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            for name, frame in columns.items():
                con.register(name, frame)
            for statement in statements:
                con.execute(statement)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _demo_document(
    database_path: str, ledger_path: str, keys: dict[str, str], dsn: str | None = None
) -> dict[str, Any]:
    hashes = {name: _sha256(key) for name, key in keys.items()}
    engine: dict[str, Any] = (
        {"kind": "postgres", "dsn": dsn} if dsn else {"kind": "duckdb", "database": database_path}
    )
    return {
        "engine": {**engine, "statement_timeout_s": 30},
        "ledger": {"url": f"sqlite:///{ledger_path}"},
        "privacy": {
            "accounting": "zcdp",
            "default_query_epsilon": 0.1,
            "default_query_delta": 1.0e-7,
            "max_query_epsilon": 1.0,
            "max_query_delta": 1.0e-6,
            "dataset_budget": {"epsilon": 10.0, "delta": 1.0e-5},
        },
        "tables": {
            "employees": {
                "privacy_unit": "id",
                "max_rows_per_unit": 1,
                "max_groups_per_unit": 1,
                "columns": {
                    "id": {"type": "integer"},
                    "name": {"type": "text", "groupable": False},
                    "dept": {
                        "type": "text",
                        "public_keys": {"table": "departments", "column": "dept"},
                    },
                    "salary": {"type": "float", "lower": 0, "upper": 250000},
                    "age": {"type": "integer", "lower": 16, "upper": 100},
                    "hired": {"type": "date"},
                },
            },
            "visits": {
                "privacy_unit": "person_id",
                "max_rows_per_unit": 10,
                "max_groups_per_unit": 3,
                "columns": {
                    "person_id": {"type": "integer"},
                    "visit_date": {"type": "date"},
                    "city": {"type": "text", "public_keys": list(CITIES)},
                    "amount": {"type": "float", "lower": 0, "upper": 500},
                },
            },
            "departments": {
                "public": True,
                "columns": {
                    # one row per department: joins on it match at most one row
                    "dept": {"type": "text", "unique": True},
                    "floor": {"type": "integer"},
                    "budget_code": {"type": "text"},
                },
            },
        },
        "analysts": {name: _analyst(name, digest) for name, digest in hashes.items()},
    }


_ROLES = {"alice": "analyst", "olivia": "owner", "carl": "compliance"}


def _analyst(name: str, digest: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": _ROLES.get(name, "analyst"), "api_key_sha256": digest}
    if entry["role"] == "analyst":
        entry["budget"] = {"epsilon": 3.0, "delta": 1.0e-6}
    return entry


def demo_config_yaml(
    database_path: str, keys: dict[str, str], *, ledger_path: str = "dpsql-ledger.db",
    dsn: str | None = None,
) -> str:
    """The demo ``dpsql.yaml``. ``keys`` maps analyst name to raw API key; only
    the keys' SHA-256 hashes are written. alice is an analyst, olivia an owner,
    carl compliance; any other name becomes an analyst with alice's budget."""
    header = (
        "# dpsql demo deployment, generated by `dpsql demo`.\n"
        "# API keys are stored only as SHA-256 hashes; the keys were shown once.\n"
    )
    document = _demo_document(database_path, ledger_path, keys, dsn)
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def write_demo_config(
    dir: Path, database: Path, *, dsn: str | None = None
) -> dict[str, str] | None:
    """Create ``dir/dpsql.yaml`` with fresh keys and return them (name -> key),
    or return None and leave an existing file untouched. With ``dsn`` the
    config serves the demo from PostgreSQL instead of the DuckDB file."""
    target = Path(dir) / "dpsql.yaml"
    if target.exists():
        return None
    keys = {name: "dpsql_" + secrets.token_urlsafe(32) for name in _ROLES}
    folder = Path(dir).resolve()
    database = Path(database).resolve()
    ledger = database.parent / "dpsql-ledger.db"
    text = demo_config_yaml(
        _relative(database, folder), keys, ledger_path=_relative(ledger, folder), dsn=dsn
    )
    try:
        # "x" refuses to overwrite a file another process created meanwhile
        with target.open("x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        return None
    return keys


def retarget_demo_config(dir: Path, database: Path, *, dsn: str | None = None) -> str | None:
    """Point an existing demo ``dpsql.yaml`` at the engine asked for (keys unchanged):
    `dpsql demo --engine postgres` after a DuckDB demo must serve PostgreSQL.
    Returns the engine it switched from, or None when it already matched."""
    target = Path(dir) / "dpsql.yaml"
    text = target.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    current = document.get("engine", {})
    wanted: dict[str, Any] = (
        {"kind": "postgres", "dsn": dsn} if dsn else
        {"kind": "duckdb",
         "database": _relative(Path(database).resolve(), Path(dir).resolve())})
    if all(current.get(k) == v for k, v in wanted.items()):
        return None
    document["engine"] = {**wanted, "statement_timeout_s": current.get("statement_timeout_s", 30)}
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    target.write_text(header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                      encoding="utf-8")
    return str(current.get("kind", "?"))


def _relative(path: Path, folder: Path) -> str:
    """A path relative to the config's folder when inside it, else absolute."""
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)
