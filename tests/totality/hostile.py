"""The hostile deployment: metadata whose bounds the stored values violate, and one
person holding, for every column type, the nastiest values each engine can store.

Benign people stay within every declared bound. The hostile person (`HOSTILE_PID`, itself
the largest BIGINT) has `HOSTILE_ROWS` rows in `people` and in `events`; row r holds the
r-th hostile value of each column (cyclically), so every value appears at least once.
The caps (`max_rows_per_unit`, `max_groups_per_unit`) are at least `HOSTILE_ROWS`, so
contribution bounding keeps all of them and a failure never depends on the random pick.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import yaml
from fastapi.testclient import TestClient

from proxy.app import create_app
from proxy.config import load_config
from proxy.demo import demo_config_yaml

HOSTILE_PID = 9223372036854775807
HOSTILE_ROWS = 24
BENIGN = 40
CITIES = ["Oslo", "Lima", "Pune"]
K_KEYS = ["a", "b", "%", "it's", "a\\"]

TABLES: dict[str, Any] = {
    "people": {
        "privacy_unit": "pid", "max_rows_per_unit": 32, "max_groups_per_unit": 32,
        "columns": {
            "pid": {"type": "integer"},
            "i": {"type": "integer", "lower": -100, "upper": 100},
            "big": {"type": "integer", "lower": 0, "upper": 1000},
            "n": {"type": "integer"},  # unbounded: comparisons, COUNT, GROUP BY only
            "f": {"type": "float", "lower": -1, "upper": 1},
            "g": {"type": "float"},
            "t": {"type": "text"},  # no public keys: partition selection
            "k": {"type": "text", "public_keys": K_KEYS},
            "city": {"type": "text", "public_keys": {"table": "places", "column": "name"}},
            "b": {"type": "boolean"},
            "d": {"type": "date"},
            "ts": {"type": "timestamp"},
        },
    },
    "events": {
        "privacy_unit": "pid", "max_rows_per_unit": 32, "max_groups_per_unit": 32,
        "columns": {
            "pid": {"type": "integer"},
            "amount": {"type": "float", "lower": 0, "upper": 500},
            "qty": {"type": "integer", "lower": 0, "upper": 10},
            "day": {"type": "date"},
            "tag": {"type": "text"},
        },
    },
    "places": {
        "public": True,
        "columns": {
            # declared unique, as a public join needs (#19); without it every public join
            # the grammar draws was refused and never reached an engine
            "name": {"type": "text", "unique": True},
            "code": {"type": "integer", "lower": 0, "upper": 10},
            "region": {"type": "text"},
        },
    },
}

DDL = {
    "people": "pid BIGINT, i INTEGER, big BIGINT, n INTEGER, f DOUBLE PRECISION, "
              "g DOUBLE PRECISION, t TEXT, k TEXT, city TEXT, b BOOLEAN, d DATE, ts TIMESTAMP",
    "events": "pid BIGINT, amount DOUBLE PRECISION, qty INTEGER, day DATE, tag TEXT",
    "places": "name TEXT, code INTEGER, region TEXT",
}

I32 = ["NULL", "-2147483648", "2147483647", "0", "-1", "101", "-101", "2147483646"]
I64 = ["NULL", "-9223372036854775808", "9223372036854775807", "0", "1001", "-1"]
FLOATS = ["NULL", "'NaN'", "'Infinity'", "'-Infinity'", "'-0.0'", "5e-324", "-5e-324",
          "1e308", "-1e308", "1.7976931348623157e308", "2.2250738585072014e-308", "1e-310",
          "0.5", "-2", "123456789.123"]
_STRINGS = ["", "'", "''", "\\", "a\\", "\\%", "%", "_", "a%b_c", "a\\b", "x" * 5000,
            "é😀", "NaN", "infinity", "2024-13-45", "1e308", "-0", "a", "it's", "Oslo",
            " ", "%\\"]
_DUCK_ONLY_STRINGS = ["\x00", "a\x00b"]
# (duckdb literal, postgres literal); BC years are spelt differently
DATES = [("NULL", "NULL"), ("'infinity'", "'infinity'"), ("'-infinity'", "'-infinity'"),
         ("'9999-12-31'", "'9999-12-31'"), ("'0001-01-01'", "'0001-01-01'"),
         ("'10000-01-01'", "'10000-01-01'"), ("'294276-01-01'", "'294276-01-01'"),
         ("'5881580-07-10'", "'5874897-12-31'"), ("'0044-03-15 (BC)'", "'0044-03-15 BC'"),
         ("'4713-01-01 (BC)'", "'4713-01-01 BC'"), ("'2024-02-29'", "'2024-02-29'")]
TIMESTAMPS = [("NULL", "NULL"), ("'infinity'", "'infinity'"), ("'-infinity'", "'-infinity'"),
              ("'9999-12-31 23:59:59.999999'", "'9999-12-31 23:59:59.999999'"),
              ("'0001-01-01 00:00:00'", "'0001-01-01 00:00:00'"),
              ("'10000-01-01 00:00:00'", "'10000-01-01 00:00:00'"),
              ("'294246-12-31 23:59:59'", "'294276-12-31 23:59:59'"),
              ("'4713-01-01 (BC) 00:00:00'", "'4713-01-01 00:00:00 BC'"),
              ("'2024-02-29 12:34:56.5'", "'2024-02-29 12:34:56.5'")]
BOOLS = ["NULL", "true", "false"]


def _text(value: str, duck: bool) -> str:
    if duck and "\x00" in value:
        return " || ".join("chr(0)" if part == "\x00" else "'" + part.replace("'", "''") + "'"
                           for part in _split_nul(value))
    return "'" + value.replace("'", "''") + "'"


def _split_nul(value: str) -> list[str]:
    out: list[str] = []
    for part in value.split("\x00"):
        out.extend([part, "\x00"])
    return [p for p in out[:-1] if p != ""]


def strings(duck: bool) -> list[str]:
    return ["NULL"] + [_text(s, duck) for s in _STRINGS + (_DUCK_ONLY_STRINGS if duck else [])]


def _pick(values: list[Any], r: int) -> Any:
    return values[r % len(values)]


def _rows(duck: bool, hostile: bool) -> dict[str, list[str]]:
    """Each table's rows as SQL value lists."""
    side = 0 if duck else 1
    day0 = dt.date(2020, 1, 1)
    people, events = [], []
    for p in range(1, BENIGN + 1):
        day = day0 + dt.timedelta(days=p * 11)
        people.append(
            f"{p}, {(p * 7) % 201 - 100}, {(p * 13) % 1001}, {p}, {((p % 21) - 10) / 10}, "
            f"{p * 1.5}, 't{p % 5}', {_text(K_KEYS[p % 4], duck)}, '{CITIES[p % 3]}', "
            f"{'true' if p % 2 else 'false'}, '{day}', '{day} 0{p % 10}:30:00'")
        for v in range(3):
            events.append(f"{p}, {(p * 17 + v) % 501}, {(p + v) % 11}, '{day}', 'g{v}'")
    if hostile:
        texts = strings(duck)
        for r in range(HOSTILE_ROWS):
            people.append(
                f"{HOSTILE_PID}, {_pick(I32, r)}, {_pick(I64, r)}, {_pick(I32, r + 3)}, "
                f"{_pick(FLOATS, r)}, {_pick(FLOATS, r + 5)}, {_pick(texts, r)}, "
                f"{_pick(texts, r + 7)}, {_pick(texts, r + 11)}, {_pick(BOOLS, r)}, "
                f"{_pick(DATES, r)[side]}, {_pick(TIMESTAMPS, r)[side]}")
            events.append(f"{HOSTILE_PID}, {_pick(FLOATS, r + 2)}, {_pick(I32, r + 1)}, "
                          f"{_pick(DATES, r + 4)[side]}, {_pick(texts, r + 3)}")
    places = [f"'{c}', {n}, '{r}'" for n, (c, r) in
              enumerate(zip(CITIES, ["north", "south", "east"], strict=True), 1)]
    return {"people": people, "events": events, "places": places}


def statements(duck: bool, hostile: bool) -> list[str]:
    out = []
    for table, ddl in DDL.items():
        out.append(f"CREATE TABLE {table} ({ddl})")
        out.extend(f"INSERT INTO {table} VALUES ({row})" for row in _rows(duck, hostile)[table])
    return out


def build_duckdb(path: Path, hostile: bool) -> None:
    with duckdb.connect(str(path)) as con:
        for statement in statements(duck=True, hostile=hostile):
            con.execute(statement)


def load_postgres(admin_dsn: str, hostile: bool) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as con:
        for statement in statements(duck=False, hostile=hostile):
            con.execute(statement)


KEY = "dpsql_alice_key"


def hostile_app(folder: Path, engine: dict[str, Any]) -> TestClient:
    """The real app over the hostile tables on `engine`, with its own ledger in
    `folder` and budgets no run can exhaust (the caller enters and exits it)."""
    document = yaml.safe_load(demo_config_yaml("unused.duckdb", {"alice": KEY},
                                               ledger_path=str(folder / "ledger.db")))
    document["engine"] = {**engine, "statement_timeout_s": 30}
    document["tables"] = TABLES
    document["privacy"].update({"max_query_epsilon": 1000.0, "max_query_delta": 1e-3,
                                "dataset_budget": {"epsilon": 1e9, "delta": 0.5}})
    document["analysts"]["alice"]["budget"] = {"epsilon": 1e8, "delta": 0.4}
    (folder / "dpsql.yaml").write_text(yaml.safe_dump(document))
    clock = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    return TestClient(create_app(load_config(folder / "dpsql.yaml"), clock=lambda: clock),
                      raise_server_exceptions=False)
