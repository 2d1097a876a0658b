"""A GROUP BY over seven columns with public keys: dpsql against SmartNoise SQL.

Issue #26 measured 38 s for dpsql against SmartNoise's 3 s on a query grouped by
seven columns whose declared keys multiply to 39,424 combinations. Here both
answer ``SELECT k1, …, k7, COUNT(*) … GROUP BY k1, …, k7`` over the same
deterministic rows (one per person, keys uniform over domains of 2, 2, 4, 4, 7,
11 and 8 values). dpsql declares the keys public, so it releases all 39,424
combinations, each noisy; SmartNoise has no public keys and releases the groups
that pass its threshold. dpsql runs its whole pipeline in process (plan, ledger
charge, engine, noise, release), a fresh analyst per repetition so the answer
cache never serves; SmartNoise runs its pandas reader in its own virtualenv.

    python -m bench.seven_keys [--rows 100000] [--reps 3]

writes ``bench/seven_keys.json`` and prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import yaml

from proxy.app import start_services
from proxy.config import parse_config
from proxy.schemas import QueryRequest

from . import smartnoise

HERE = Path(__file__).resolve().parent
RESULT = HERE / "seven_keys.json"
WORKER = HERE / "_snsql_seven_keys.py"
DOMAINS = (2, 2, 4, 4, 7, 11, 8)  # 39,424 combinations
KEYS = [f"k{i + 1}" for i in range(len(DOMAINS))]
SQL = f"SELECT {', '.join(KEYS)}, COUNT(*) AS n FROM people GROUP BY {', '.join(KEYS)}"
EPSILON, DELTA = 1.0, 1e-5


def _write(folder: Path, rows: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(26)
    columns = {"pid": np.arange(rows)}
    columns.update({k: rng.integers(0, d, rows) for k, d in zip(KEYS, DOMAINS, strict=True)})
    csv = folder / "people.csv"
    import pandas as pd

    pd.DataFrame(columns).to_csv(csv, index=False)
    database = folder / "people.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"CREATE TABLE people AS SELECT * FROM read_csv('{csv}', header = true)")
    return csv, database


def _smartnoise_yaml(folder: Path) -> Path:
    columns: dict[str, Any] = {"pid": {"type": "int", "private_id": True}}
    columns.update({k: {"type": "int"} for k in KEYS})
    document = {"Database": {"bench": {"people": {"rows": 0, "max_ids": 1, **columns}}}}
    path = folder / "people.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _dpsql(database: Path, folder: Path, reps: int) -> dict[str, Any]:
    huge = {"epsilon": 1e9, "delta": 0.5}
    columns: dict[str, Any] = {"pid": {"type": "integer"}}
    columns.update({k: {"type": "integer", "public_keys": list(range(d))}
                    for k, d in zip(KEYS, DOMAINS, strict=True)})
    document = {
        "engine": {"kind": "duckdb", "database": str(database), "statement_timeout_s": 600},
        "ledger": {"url": f"sqlite:///{folder / 'ledger.db'}"},
        "privacy": {"accounting": "pure", "max_query_epsilon": 10.0, "max_query_delta": 0.01,
                    "dataset_budget": huge},
        "tables": {"people": {"privacy_unit": "pid", "max_rows_per_unit": 1,
                              "max_groups_per_unit": 1, "columns": columns}},
        "analysts": {f"a{i}": {"role": "analyst", "api_key_sha256": f"{i:064x}",
                               "budget": huge} for i in range(reps + 1)},
    }
    services = start_services(parse_config(document))
    seconds, groups = [], []
    try:
        for i in range(reps + 1):  # the first is a warm-up
            began = time.perf_counter()
            answer = services.pipeline.query(f"a{i}", QueryRequest(sql=SQL, epsilon=EPSILON,
                                                                   delta=0))
            if i:
                seconds.append(time.perf_counter() - began)
                groups.append(len(answer.rows))
    finally:
        services.close()
    return {"seconds": seconds, "groups": groups}


def run(rows: int, reps: int, with_smartnoise: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv, database = _write(folder, rows)
        dpsql = _dpsql(database, folder, reps)
        sn = None
        if with_smartnoise and smartnoise.available():
            sn = smartnoise.worker({"csv": str(csv), "yaml": str(_smartnoise_yaml(folder)),
                                    "sql": SQL.replace("FROM people", "FROM bench.people"),
                                    "reps": reps, "epsilon": EPSILON, "delta": DELTA},
                                   worker=WORKER)
    report: dict[str, Any] = {
        "rows": rows, "reps": reps, "declared_groups": int(np.prod(DOMAINS)), "sql": SQL,
        "dpsql": {**dpsql, "median_s": statistics.median(dpsql["seconds"])},
        "smartnoise": None if sn is None else {**sn, "median_s": statistics.median(sn["seconds"])},
    }
    if sn is not None:
        report["ratio_dpsql_over_smartnoise"] = \
            report["dpsql"]["median_s"] / report["smartnoise"]["median_s"]
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seven_keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    if not smartnoise.available():
        print(f"bench.seven_keys: {smartnoise.VENV} is missing; dpsql alone "
              "(python -m bench.smartnoise --install)", file=sys.stderr)
    report = run(args.rows, args.reps)
    RESULT.write_text(json.dumps(report, indent=1) + "\n")
    d, s = report["dpsql"], report["smartnoise"]
    print(f"GROUP BY seven public-key columns ({report['declared_groups']:,} declared groups), "
          f"{args.rows:,} rows: dpsql {d['median_s']:.2f} s ({d['groups'][0]:,} groups)"
          + ("" if s is None else
             f", SmartNoise {s['median_s']:.2f} s ({s['groups'][0]:,} groups released); "
             f"dpsql / SmartNoise = {report['ratio_dpsql_over_smartnoise']:.2f} (target ≤ 2)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
