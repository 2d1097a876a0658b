"""Runs inside ``bench/.venv-snsql``: SmartNoise's side of ``bench/seven_keys.py``.

Reads a JSON job on stdin (``csv``, ``yaml``, ``sql``, ``reps``, ``epsilon``,
``delta``), times ``reps`` answers of SmartNoise's pandas reader and writes
``{"seconds": [...], "groups": [...]}`` (released groups per answer) to stdout.
Imports no dpsql package: they live in the other virtualenv.
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def main() -> int:
    warnings.filterwarnings("ignore")
    import pandas as pd
    import snsql
    from snsql import Privacy

    job = json.load(sys.stdin)
    reader = snsql.from_df(pd.read_csv(job["csv"]), metadata=job["yaml"],
                           privacy=Privacy(epsilon=job["epsilon"], delta=job["delta"]))
    seconds, groups = [], []
    for _ in range(job["reps"]):
        began = time.perf_counter()
        rows = reader.execute(job["sql"])
        seconds.append(time.perf_counter() - began)
        groups.append(len(rows) - 1)
    json.dump({"seconds": seconds, "groups": groups}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
