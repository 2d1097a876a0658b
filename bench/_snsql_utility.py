"""Runs inside ``bench/.venv-snsql``: SmartNoise's side of ``bench/utility.py``.

Reads a JSON job on stdin: ``{"pums_dir", "epsilon", "delta", "trials",
"queries": [{"id", "dataset", "sql"}, ...]}``. For each query, with SmartNoise's
pandas reader on ``<dataset>.csv`` and the metadata ``<dataset>.yaml``: the
privacy cost SmartNoise's odometer charges (``get_privacy_cost``: every hidden
mechanism, e.g. the SUM and COUNT behind an AVG, charged the full ε), then
``trials`` noisy answers. Writes one JSON list of ``{"id", "epsilon", "delta",
"answers": [[row, ...], ...], "error"}`` to stdout (answers without the header).

Only the standard library, pandas and snsql are imported here: this file must
not import dpsql's packages, which live in the other virtualenv.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any


def _plain(value: Any) -> Any:
    """numpy scalars -> JSON numbers; NaN/inf -> None (a missing answer)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main() -> int:
    warnings.filterwarnings("ignore")
    import pandas as pd
    import snsql
    from snsql import Privacy

    job = json.load(sys.stdin)
    folder = Path(job["pums_dir"])
    readers: dict[str, Any] = {}
    out = []
    for q in job["queries"]:
        name = q["dataset"]
        if name not in readers:
            readers[name] = snsql.from_df(
                pd.read_csv(folder / f"{name}.csv"),
                privacy=Privacy(epsilon=job["epsilon"], delta=job["delta"]),
                metadata=str(folder / f"{name}.yaml"),
            )
        reader = readers[name]
        record: dict[str, Any] = {"id": q["id"], "epsilon": None, "delta": None,
                                  "answers": [], "error": None}
        try:
            epsilon, delta = reader.get_privacy_cost(q["sql"])
            record["epsilon"], record["delta"] = float(epsilon), float(delta)
            for _ in range(job["trials"]):
                rows = reader.execute(q["sql"])[1:]
                record["answers"].append([[_plain(v) for v in row] for row in rows])
        except Exception as exc:  # noqa: BLE001 - a refusal, reported per query
            record["answers"] = []
            record["error"] = f"{type(exc).__name__}: {exc}"[:300]
        out.append(record)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
