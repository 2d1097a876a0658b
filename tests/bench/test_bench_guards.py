"""`python -m bench.guards --tiny`: the guards' cost against the baseline, in miniature.

It needs git and the baseline commit (a fresh clone has both; a shallow one does
not, and then this fails with the tool's message rather than being skipped).
Everything it creates lives in pytest's temp dirs: the data, the output, the
baseline's worktree, which must be gone afterwards from the repository's list.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import guards, pgdata
from bench.run import TINY_ROWS
from bench.suite import QUERIES, catalog, split_pending
from tests.pg import ADMIN_DSN, require_postgres

REPO = guards.REPO


def _left_behind(work: Path) -> list[str]:
    """Worktrees of the repository under ``work``, and files left in ``work``.

    Other worktrees of the repository may come and go meanwhile; only ours count.
    """
    out = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    trees = [line for line in out.splitlines()
             if line.startswith("worktree ") and str(work.resolve()) in line]
    return trees + [str(p) for p in work.iterdir()]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guards-data")


@pytest.fixture(scope="module")
def pg_prefix() -> Iterator[str]:
    require_postgres()
    prefix = f"dpsql_guards_test_{secrets.token_hex(4)}"
    yield prefix
    pgdata.drop_postgres([TINY_ROWS], ADMIN_DSN, prefix)


def _run(tmp_path: Path, data_dir: Path, *extra: str) -> dict:
    out = tmp_path / "guards.json"
    work = tmp_path / "work"
    work.mkdir()
    rc = guards.main(["--tiny", "--out", str(out), "--data-dir", str(data_dir),
                      "--work-dir", str(work), *extra])
    assert rc == 0
    assert _left_behind(work) == [], "the baseline's worktree was left behind"
    return json.loads(out.read_text(encoding="utf-8"))


def _check(report: dict, engines: set[str], printed: str) -> None:
    planned, _ = split_pending(catalog())
    expected = {q.name for q in (*QUERIES, *planned, *guards.GUARD_QUERIES)}
    dropped = {d["query"] for d in report["dropped"]}
    rows = report["comparisons"]
    assert {(r["query"], r["engine"]) for r in rows} == {
        (name, e) for name in expected - dropped for e in engines}
    assert len(rows) == len(expected - dropped) * len(engines)  # one row per query
    for r in rows:
        assert r["rows"] == TINY_ROWS
        assert r["baseline_median_s"] > 0 and r["current_median_s"] > 0, r
        assert r["ratio"] == pytest.approx(r["current_median_s"] / r["baseline_median_s"])
    # the guards change the SQL of the guard queries, or the comparison measures nothing
    changed = {r["query"] for r in rows if not r["same_sql"]}
    assert {q.name for q in guards.GUARD_QUERIES} - dropped <= changed
    assert len(report["baseline"]) == 40
    assert "current/baseline" in printed
    for r in rows:
        assert any(line.startswith(r["query"] + " ") and f" {r['engine']} " in line
                   for line in printed.splitlines())


def test_tiny_guards_comparison_on_duckdb(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _run(tmp_path, data_dir, "--engines", "duckdb")
    _check(report, {"duckdb"}, capsys.readouterr().out)


def test_tiny_guards_comparison_on_postgres(
    tmp_path: Path, data_dir: Path, pg_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _run(tmp_path, data_dir, "--engines", "postgres", "--pg-dsn", ADMIN_DSN,
                  "--pg-prefix", pg_prefix)
    _check(report, {"postgres"}, capsys.readouterr().out)


def test_an_unknown_baseline_exits_with_a_message_and_leaves_nothing(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rc = guards.main(["--tiny", "--engines", "duckdb", "--baseline", "no-such-revision",
                      "--out", str(tmp_path / "guards.json"), "--data-dir", str(data_dir),
                      "--work-dir", str(work)])
    assert rc == 2
    assert "'no-such-revision' is not a commit" in capsys.readouterr().err
    assert not (tmp_path / "guards.json").exists()
    assert _left_behind(work) == []


def test_the_baseline_worktree_is_removed_when_its_planner_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setattr(guards, "_BASELINE_PLANNER", "raise SystemExit('planner broke')")
    with pytest.raises(guards.GuardsError, match="planner broke"):
        guards.baseline_sql(guards.DEFAULT_BASELINE, QUERIES[:1], work_dir=work)
    assert _left_behind(work) == []
