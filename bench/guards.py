"""The cost of the side-channel guards (issue #17): today's rewrite against a baseline's.

Each query of the suite (``bench.suite.QUERIES``, the pending ones the rewriter
now plans) and the guard-heavy ``GUARD_QUERIES`` is planned twice: by the
current worktree's rewriter and catalog, and by the baseline revision's own
``rewriter.plan_query`` and ``bench.suite.catalog()``, run in a subprocess
inside a temporary detached ``git worktree`` of that revision (removed
afterwards, also on failure). Both rewritten SQL texts are then timed on the
same engine and data, interleaved (the side that runs first alternates per
repetition) after one untimed warm-up each. A query either side refuses is
dropped and listed with the reason.

    python -m bench.guards --baseline 9ff5629 [--rows 1e6] [--reps 3]
                           [--engines duckdb,postgres] [--tiny]

Writes ``bench/guards.json`` and prints: query, engine, baseline ms, current
ms, current/baseline, and whether the two SQL texts differ at all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from proxy.config import PrivacyConfig
from proxy.engines import open_engine
from rewriter import RewriteError, plan_query

from . import pgdata
from .data import DATA_DIR, parse_sizes
from .measure import Timing
from .run import ENGINES, TINY_ROWS, Target, aligned, targets_for
from .suite import QUERIES, Query, catalog, split_pending

__all__ = [
    "DEFAULT_BASELINE", "GUARD_QUERIES", "GuardsError", "baseline_sql", "current_sql",
    "format_table", "main", "time_sides",
]

# what the proxy runs by default: the bounding diagnostics are part of the rewrite
DIAGNOSTICS = PrivacyConfig().diagnostics_share

DEFAULT_BASELINE = "9ff5629"  # the last commit before the guards of issue #17
RESULTS = Path(__file__).resolve().parent / "guards.json"
REPO = Path(__file__).resolve().parent.parent
SIDES = ("baseline", "current")

# Queries that exercise one guard each (the suite's queries barely touch them).
GUARD_QUERIES: tuple[Query, ...] = (
    # arithmetic over row values: DOUBLE casts, rounding, clamps, NULLIF on the divisor
    Query("guard_arith",
          "SELECT SUM(amount * 2 - 1) AS s FROM visits WHERE amount / 3 > 10", None),
    # a date part: clamped to its range
    Query("guard_date_part",
          "SELECT SUM(EXTRACT(MONTH FROM visit_date)) AS s FROM visits", None),
    # LIKE: an explicit ESCAPE (cities are city_000 … city_199)
    # a pattern with a backslash gets an explicit ESCAPE (one without is emitted as is)
    Query("guard_like",
          "SELECT COUNT(*) AS n FROM visits WHERE city LIKE 'city_01%' OR city LIKE '%\\%'",
          None),
    # partition selection on a column without public keys (~1 100 dates): domain filter
    Query("guard_selection",
          "SELECT visit_date, COUNT(*) AS n FROM visits GROUP BY visit_date", None),
    # a self-join on the unit: each side capped per person before the join
    Query("guard_self_join",
          "SELECT COUNT(*) AS n FROM visits AS a JOIN visits AS b "
          "ON a.person_id = b.person_id", None),
)

# Run in the baseline's worktree (cwd and PYTHONPATH): plan with ITS rewriter and catalog.
_BASELINE_PLANNER = r"""
import json, os, sys
root = os.path.realpath(os.getcwd())
import rewriter
from rewriter import plan_query
from bench.suite import catalog
where = os.path.realpath(rewriter.__file__)
if not where.startswith(root + os.sep):
    sys.exit(f"the baseline imported its rewriter from {where}, not from {root}")
queries = json.loads(sys.argv[1])
cat = catalog()
out = {}
for name, text in queries.items():
    try:
        plan = plan_query(text, cat)
        out[name] = {d: plan.sql(d) for d in ("duckdb", "postgres")}
    except Exception as exc:  # the baseline's own RewriteError, or anything it raised
        out[name] = {"refused": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


class GuardsError(Exception):
    """The baseline could not be planned (no git, unknown revision, its code failed)."""


def _git(*args: str, cwd: Path = REPO) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=False, timeout=300)
    except FileNotFoundError as exc:
        raise GuardsError("git is not installed; the baseline's SQL comes from its own "
                          "checkout") from exc
    if done.returncode != 0:
        why = done.stderr.strip() or f"exit status {done.returncode}"
        raise GuardsError(f"git {' '.join(args)} failed: {why}")
    return done.stdout.strip()


def resolve(rev: str, repo: Path = REPO) -> str:
    """The full commit id of ``rev``, or a GuardsError saying how to get it."""
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=repo)
    except GuardsError as exc:
        raise GuardsError(
            f"baseline {rev!r} is not a commit of {repo} ({exc}); in a shallow clone "
            "run `git fetch --unshallow`, or pass --baseline <rev>") from exc


def baseline_sql(
    rev: str, queries: Sequence[Query], repo: Path = REPO, work_dir: Path | None = None,
) -> dict[str, dict[str, str]]:
    """{name: {"duckdb": sql, "postgres": sql} or {"refused": reason}} from ``rev``'s code.

    The revision is checked out in a temporary detached worktree under
    ``work_dir`` (default: the system's temp dir); it is removed, and the
    repository's worktree list pruned, whatever happens.
    """
    commit = resolve(rev, repo)
    tmp = Path(tempfile.mkdtemp(prefix="dpsql-guards-", dir=work_dir))
    tree = tmp / "baseline"
    try:
        _git("worktree", "add", "--detach", str(tree), commit, cwd=repo)
        env = {**os.environ, "PYTHONPATH": str(tree)}
        payload = json.dumps({q.name: q.sql for q in queries})
        try:
            done = subprocess.run(
                [sys.executable, "-", payload], input=_BASELINE_PLANNER, cwd=tree, env=env,
                capture_output=True, text=True, check=False, timeout=600)
        except subprocess.TimeoutExpired as exc:
            raise GuardsError(f"planning with baseline {rev} took over {exc.timeout} s") from exc
        if done.returncode != 0:
            raise GuardsError(f"planning with baseline {rev} failed:\n{done.stderr.strip()}")
        return json.loads(done.stdout)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=repo,
                       capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True, check=False)


def current_sql(queries: Sequence[Query]) -> dict[str, dict[str, str]]:
    """The same mapping as ``baseline_sql``, from this checkout's rewriter and catalog."""
    cat = catalog()
    out: dict[str, dict[str, str]] = {}
    for q in queries:
        try:
            plan = plan_query(q.sql, cat, diagnostics=DIAGNOSTICS)
            out[q.name] = {d: plan.sql(d) for d in ("duckdb", "postgres")}
        except RewriteError as exc:
            out[q.name] = {"refused": f"{type(exc).__name__}: {exc}"}
    return out


def time_sides(
    target: Target, sql: dict[str, dict[str, str]], reps: int,
) -> list[Timing]:
    """Time each query's baseline and current SQL on ``target``, interleaved.

    ``sql`` maps query name → {"baseline": text, "current": text} in the
    target's dialect. Each repetition visits every query; which side of a query
    runs first alternates per repetition, so neither side always finds the
    other's pages warm.
    """
    with ExitStack() as stack:
        engine = open_engine(target.config)
        stack.callback(engine.close)
        timings = {(name, side): Timing(name, target.engine, target.rows, side)
                   for name in sql for side in SIDES}
        for texts in sql.values():  # warm-up, and a check that both run at all
            for side in SIDES:
                engine.execute(texts[side])
        for rep in range(reps):
            order = SIDES if rep % 2 == 0 else SIDES[::-1]
            for name, texts in sql.items():
                for side in order:
                    timings[name, side].measure(
                        lambda text=texts[side]: engine.execute(text))
        return list(timings.values())


def _ms(x: float) -> str:
    return f"{1000 * x:.1f}"


def format_table(rows: Sequence[dict[str, Any]], dropped: Sequence[dict[str, str]]) -> str:
    header = ("query", "engine", "rows", "baseline ms", "current ms", "current/baseline", "sql")
    table = [header] + [
        (r["query"], r["engine"], str(r["rows"]), _ms(r["baseline_median_s"]),
         _ms(r["current_median_s"]), f"{r['ratio']:.2f}",
         "same" if r["same_sql"] else "changed")
        for r in rows
    ]
    lines = aligned(table)
    for d in dropped:
        lines.append(f"dropped {d['query']}: the {d['side']} refuses it ({d['reason']})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guards",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE,
                        help=f"the revision to compare with (default {DEFAULT_BASELINE})")
    parser.add_argument("--rows", type=parse_sizes, default=None,
                        help="comma-separated sizes (default 1e6)")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions (default 3)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated subset of {','.join(ENGINES)} (default: both; "
                        "postgres is skipped with a message when the server is unreachable)")
    parser.add_argument("--pg-dsn", default=pgdata.ADMIN_DSN,
                        help="PostgreSQL admin DSN (as for bench.run)")
    parser.add_argument("--pg-prefix", default=pgdata.PREFIX,
                        help="PostgreSQL databases are <prefix>_<rows> (shared with bench.run)")
    parser.add_argument("--tiny", action="store_true",
                        help=f"{TINY_ROWS} rows, 1 repetition: the smoke test inside `make test`")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the baseline's temporary worktree goes (default: $TMPDIR)")
    args = parser.parse_args(argv)

    sizes = args.rows or ([TINY_ROWS] if args.tiny else parse_sizes("1e6"))
    reps = args.reps or (1 if args.tiny else 3)
    engines = args.engines.split(",")
    if set(engines) - set(ENGINES):
        parser.error(f"--engines {args.engines}: choose from {','.join(ENGINES)}")
    if "postgres" in engines:
        reason = pgdata.unreachable_reason(args.pg_dsn)
        if reason is not None:
            engines.remove("postgres")
            print(f"guards: PostgreSQL is not reachable ({reason}); skipping it. Start it, "
                  "or pass --engines duckdb.", file=sys.stderr)

    now_planned, _ = split_pending(catalog())
    queries = (*QUERIES, *now_planned, *GUARD_QUERIES)
    print(f"guards: planning {len(queries)} queries with baseline {args.baseline}",
          file=sys.stderr)
    try:
        commit = resolve(args.baseline)
        # what is measured is the code as it is now; edits made during the run do not count
        head = _git("rev-parse", "HEAD")
        # the results file itself does not make the measured code uncommitted
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".",
                          ":!bench/guards.json"))
        sides = {"baseline": baseline_sql(commit, queries, work_dir=args.work_dir),
                 "current": current_sql(queries)}
    except GuardsError as exc:
        print(f"guards: {exc}", file=sys.stderr)
        return 2
    dropped: list[dict[str, str]] = []
    kept: list[str] = []
    for q in queries:
        refusals = [(side, sides[side][q.name]["refused"]) for side in SIDES
                    if "refused" in sides[side][q.name]]
        if refusals:
            dropped += [{"query": q.name, "side": s, "reason": r} for s, r in refusals]
        else:
            kept.append(q.name)

    rows_out: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for rows in sizes:
        _, targets = targets_for(rows, engines, args.data_dir, args.pg_dsn, args.pg_prefix)
        for target in targets:
            print(f"guards: {target.engine}, {rows} rows, {reps} reps", file=sys.stderr)
            texts = {name: {side: sides[side][name][target.dialect] for side in SIDES}
                     for name in kept}
            timings = time_sides(target, texts, reps)
            med = {(t.query, t.variant): t.record() for t in timings}
            records += [t.record() for t in timings]
            for name in kept:
                b, c = med[name, "baseline"]["median_s"], med[name, "current"]["median_s"]
                rows_out.append({"query": name, "engine": target.engine, "rows": rows,
                                 "baseline_median_s": b, "current_median_s": c,
                                 "ratio": c / b,
                                 "same_sql": texts[name]["baseline"] == texts[name]["current"]})

    report = {
        "baseline": commit, "current": head + ("+uncommitted" if dirty else ""),
        "reps": reps, "comparisons": rows_out, "dropped": dropped, "timings": records,
        "queries": {q.name: q.sql for q in queries},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(rows_out, dropped))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
