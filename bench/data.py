"""Deterministic synthetic data for the benchmark: a visits-like table per size.

``visits(person_id INTEGER, visit_date DATE, city VARCHAR, amount DOUBLE)``
holds 1–30 rows per person, skewed (a geometric number of visits, clipped), so
the row cap (``max_rows_per_unit``) binds for a real share of people. The city
is one of 200 names drawn from a Zipf-like distribution, so groups differ in
size by orders of magnitude; ``amount`` is gamma-distributed with a tail above
the declared upper bound, so clamping matters. ``cities(city, region)`` is a
public table with the same 200 names.

Files are cached as ``bench/data/visits_<rows>.duckdb`` and regenerated when
missing. The same ``rows`` and seed always give the same bytes of data.

    python -m bench.data --rows 1e6,1e7
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

from proxy.demo import write_duckdb

__all__ = ["CITIES", "DATA_DIR", "REGIONS", "database_path", "ensure_database", "parse_sizes"]

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20_240_611
CITIES: tuple[str, ...] = tuple(f"city_{i:03d}" for i in range(200))
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "centre")
_EPOCH = dt.date(2000, 1, 1)
_FIRST_DAY = (dt.date(2023, 1, 1) - _EPOCH).days
_LAST_DAY = (dt.date(2025, 12, 31) - _EPOCH).days
# mean of a geometric(p) clipped to [1, 30]: ~1/p, so people ≈ rows * p
_VISITS_P = 0.2


def parse_sizes(text: str) -> list[int]:
    """``"1e6,1e7"`` → ``[1000000, 10000000]``; rejects sizes below 1 000."""
    sizes = []
    for part in text.split(","):
        n = int(float(part.strip()))
        if n < 1_000:
            raise argparse.ArgumentTypeError(f"size {part!r}: at least 1000 rows, please")
        sizes.append(n)
    return sizes


def database_path(rows: int, data_dir: Path = DATA_DIR) -> Path:
    return data_dir / f"visits_{rows}.duckdb"


def _visits(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Exactly ``rows`` visit rows; the last person's count is trimmed to fit."""
    rng = np.random.default_rng(seed)
    people_guess = int(rows * _VISITS_P * 1.2) + 10
    per_person = np.clip(rng.geometric(_VISITS_P, people_guess), 1, 30)
    ends = np.cumsum(per_person)
    people = int(np.searchsorted(ends, rows)) + 1
    per_person = per_person[:people].copy()
    per_person[-1] -= int(ends[people - 1]) - rows
    # Zipf-like city popularity (s = 1.1) over the 200 names
    weights = 1.0 / np.arange(1, len(CITIES) + 1) ** 1.1
    city = rng.choice(len(CITIES), size=rows, p=weights / weights.sum()).astype(np.int16)
    return {
        "person_id": np.repeat(np.arange(1, people + 1, dtype=np.int32), per_person),
        "visit_date": rng.integers(_FIRST_DAY, _LAST_DAY + 1, rows).astype(np.int32),
        "city_ix": city,
        "amount": np.round(rng.gamma(2.0, 60.0, rows), 2),
    }


def _write(path: Path, rows: int, seed: int) -> None:
    city_names = {"city_ix": np.arange(len(CITIES), dtype=np.int16), "city": np.array(CITIES)}
    cities = {
        "city": np.array(CITIES),
        "region": np.array([REGIONS[i % len(REGIONS)] for i in range(len(CITIES))]),
    }
    write_duckdb(
        path,
        {"visits_np": _visits(rows, seed), "names_np": city_names, "cities_np": cities},
        [
            # rows stay in person order, as an application would append them
            "CREATE TABLE visits AS SELECT v.person_id, "
            "DATE '2000-01-01' + v.visit_date AS visit_date, "
            "n.city::VARCHAR AS city, v.amount "
            "FROM visits_np v JOIN names_np n USING (city_ix) ORDER BY v.person_id, v.visit_date",
            "CREATE TABLE cities AS SELECT city::VARCHAR AS city, region::VARCHAR AS region "
            "FROM cities_np",
        ],
    )


def ensure_database(rows: int, data_dir: Path = DATA_DIR, seed: int = SEED) -> Path:
    """The path of the DuckDB file for ``rows``, generating it if missing."""
    path = database_path(rows, data_dir)
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _write(path, rows, seed)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=parse_sizes, default=parse_sizes("1e6,1e7"))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    for rows in args.rows:
        print(ensure_database(rows, args.data_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
