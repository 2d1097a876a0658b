"""Checking a ledger against itself: the chain, the tables derived from it, the
attempts log and the signed checkpoints.

:func:`verify_whole` rehashes every entry (what ``dpsql ledger verify`` and the
start-up of a small ledger do); :func:`verify_from_anchor` resumes from the
latest checkpoint that signed the verified chain state, so a large ledger
starts in well under a second (the whole chain is then rehashed in the
background). Both read one snapshot, the caller's read transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from accountant.composition import Accounting
from accountant.errors import LedgerTampered
from accountant.ledger.attempts import attempt_hash
from accountant.ledger.chain import head_problem, walk_chain
from accountant.ledger.checkpoints import Checkpoint, Notary, check_checkpoints
from accountant.ledger.records import VerifyReport
from accountant.ledger.state import (
    ChainState,
    registry_problem,
    spent_of,
    state_digest,
    totals_problem,
)


class Stream(Protocol):
    """How a backend streams rows: (conn, query with ? placeholders, params) -> rows."""

    def __call__(self, conn: Any, query: str, params: Sequence[Any] = ..., /
                 ) -> Iterable[dict[str, Any]]: ...


def verify_whole(
    conn: Any, stream: Stream, accounting: Accounting, notary: Notary | None,
    expect_entries: int | None, expect_head: str | None,
) -> tuple[VerifyReport, ChainState]:
    """Walk every entry and attempt in ``conn``'s snapshot; see :meth:`Ledger.verify`."""
    state = ChainState(accounting)
    head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
    size = conn.execute("SELECT COUNT(*) AS n FROM entries").fetchone()["n"]
    a_head = conn.execute("SELECT seq, hash FROM attempts_head WHERE id = 1").fetchone()
    a_size = conn.execute("SELECT COUNT(*) AS n FROM attempts").fetchone()["n"]
    stored = conn.execute("SELECT body, signature FROM checkpoints").fetchall()
    known = [("in the ledger", stored_checkpoint(row)) for row in stored]
    file_cps, file_problem = notary.from_file() if notary else ([], None)
    known += [(f"in {notary.file}", cp) for cp in file_cps] if notary else []
    wanted = {cp.entries for _, cp in known} | {expect_entries or 0}
    wanted_attempts = {cp.attempts for _, cp in known}
    hashes: dict[int, str] = {}
    attempt_hashes: dict[int, str] = {}

    def take(row: Mapping[str, Any]) -> None:
        state.apply(row)
        if row["seq"] in wanted:
            hashes[row["seq"]] = row["hash"]

    def take_attempt(row: Mapping[str, Any]) -> None:
        if row["seq"] in wanted_attempts:
            attempt_hashes[row["seq"]] = row["hash"]

    walk = walk_chain(stream(conn, "SELECT * FROM entries ORDER BY seq"),
                      on_row=take)
    a_walk = walk_chain(stream(conn, "SELECT * FROM attempts ORDER BY seq"),
                        hasher=attempt_hash, noun="attempt", on_row=take_attempt)
    totals, registry = _derived_tables(conn)
    head_known = expect_head is None or expect_entries is not None or (
        conn.execute("SELECT seq FROM entries WHERE hash = ?", (expect_head,))
        .fetchone() is not None)

    def report(first_bad: int | None, reason: str | None) -> tuple[VerifyReport, ChainState]:
        return VerifyReport(
            ok=reason is None, entries=size, head=walk.head, first_bad=first_bad,
            reason=reason, checked=walk.checked, attempts=a_size,
            attempts_head=a_walk.head, checkpoints=len(known),
        ), state

    if head is None or a_head is None:
        return report(1, "the ledger's head row is missing")
    if walk.reason is not None:
        return report(walk.first_bad, walk.reason)
    problem = head_problem(walk, head["seq"], head["hash"], walk.last_seq)
    if problem:
        return report(walk.last_seq + 1, problem)
    problem = _derived_or_attempts_problem(state, totals, registry, a_walk, a_head)
    if problem:
        return report(None, problem)
    if notary is not None:
        if file_problem:
            return report(None, file_problem)
        if stored and notary.file is not None and not file_cps:
            return report(None, f"the checkpoint file {notary.file} is missing or empty "
                                f"but the ledger holds {len(stored)} checkpoints; "
                                f"restore it from where it is kept")
        problem = check_checkpoints(known, notary, entries=walk.last_seq,
                                    attempts=a_walk.last_seq,
                                    entry_hash_at=hashes.get,
                                    attempt_hash_at=attempt_hashes.get)
        if problem:
            return report(None, problem)
    if expect_entries is not None and expect_entries > walk.last_seq:
        return report(None, f"the ledger was truncated: it holds {walk.last_seq} entries "
                            f"but your receipt says {expect_entries}")
    if expect_entries is not None and expect_head is not None and (
        hashes.get(expect_entries, "") != expect_head
    ):
        return report(None, f"entry {expect_entries} does not hash to the head of your "
                            f"receipt ({expect_head[:16]}…): the chain was rewritten")
    if not head_known and expect_head is not None:
        return report(None, f"no entry hashes to {expect_head[:16]}…, the head of your "
                            f"receipt: the chain was truncated or rewritten")
    return report(None, None)



def verify_from_anchor(
    conn: Any, stream: Stream, accounting: Accounting, notary: Notary
) -> tuple[VerifyReport | None, ChainState | None]:
    """Verification resumed from the latest signed chain state (None, None: there
    is none to resume from, so the whole chain must be walked); see
    :meth:`SqlLedger.start_guarded` for what it checks."""
    head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
    a_head = conn.execute("SELECT seq, hash FROM attempts_head WHERE id = 1").fetchone()
    size = head["seq"]
    stored = conn.execute("SELECT body, signature, state FROM checkpoints").fetchall()
    file_cps, file_problem = notary.from_file()
    known = [("in the ledger", stored_checkpoint(row)) for row in stored]
    known += [(f"in {notary.file}", cp) for cp in file_cps]
    anchors = sorted(
        ((cp, row["state"]) for (_, cp), row in zip(known, stored, strict=False)
         if row["state"] is not None and notary.signed_by_me(cp)
         and cp.body.get("state_sha256") == state_digest(row["state"])
         and 0 < cp.entries <= size),
        key=lambda pair: pair[0].entries)
    if not anchors:
        return None, None
    anchor, state_text = anchors[-1]
    state = ChainState.from_json(state_text, accounting)
    n, a_n = anchor.entries, anchor.attempts

    entry_hashes = _hashes_at(conn, "entries", {cp.entries for _, cp in known})
    attempt_hashes = _hashes_at(conn, "attempts", {cp.attempts for _, cp in known})

    below = conn.execute("SELECT COUNT(*) AS n FROM entries WHERE seq BETWEEN 1 AND ?",
                         (n,)).fetchone()["n"]
    a_below = conn.execute(
        "SELECT COUNT(*) AS n FROM attempts WHERE seq BETWEEN 1 AND ?",
        (a_n,)).fetchone()["n"]
    walk = walk_chain(_stream_after(stream, conn, "entries", n), start_seq=n + 1,
                      prev=anchor.head, on_row=state.apply)
    a_walk = walk_chain(_stream_after(stream, conn, "attempts", a_n), start_seq=a_n + 1,
                        prev=anchor.attempts_head, hasher=attempt_hash,
                        noun="attempt")
    last, a_last = walk.last_seq, a_walk.last_seq
    problem = file_problem or (
        f"entries up to {n}, covered by the checkpoint signed at "
        f"{anchor.body['time']}, number {below} instead of {n}: some were removed"
        if below != n else None) or (
        f"attempts up to {a_n} number {a_below} instead of {a_n}: some were removed"
        if a_below != a_n else None) or check_checkpoints(
        known, notary, entries=last if walk.reason is None else size,
        attempts=a_last if a_walk.reason is None else a_head["seq"],
        entry_hash_at=entry_hashes.get, attempt_hash_at=attempt_hashes.get)
    totals, registry = _derived_tables(conn)

    def report(first_bad: int | None, reason: str | None
               ) -> tuple[VerifyReport, ChainState]:
        return VerifyReport(
            ok=reason is None, entries=size, head=walk.head, first_bad=first_bad,
            reason=reason, checked=walk.checked, attempts=a_head["seq"],
            attempts_head=a_walk.head, checkpoints=len(known),
        ), state

    if walk.reason is not None:
        return report(walk.first_bad, walk.reason)
    problem = problem or head_problem(walk, head["seq"], head["hash"], last)
    if problem:
        return report(None, problem)
    problem = _derived_or_attempts_problem(state, totals, registry, a_walk, a_head)
    if problem:
        return report(None, problem)
    return report(None, None)


def _derived_tables(conn: Any) -> tuple[dict[Any, Any], dict[str, Any]]:
    """The tables derived from the chain, as stored: running totals and the registry."""
    totals = {(t["scope"], t["name"]): spent_of(t)
              for t in conn.execute("SELECT * FROM totals").fetchall()}
    registry = {r["name"]: (r["role"], r["key_sha256"], bool(r["disabled"]))
                for r in conn.execute("SELECT * FROM analysts").fetchall()}
    return totals, registry


def _derived_or_attempts_problem(state: ChainState, totals: dict[Any, Any],
                                 registry: dict[str, Any], a_walk: Any,
                                 a_head: dict[str, Any]) -> str | None:
    """What is wrong with the derived tables (against the replayed chain) or the
    attempts log's chain and head, in that order; None when nothing is."""
    try:
        problem = totals_problem(state, totals) or registry_problem(state, registry)
    except LedgerTampered as exc:
        problem = exc.message
    if problem:
        return problem
    if a_walk.reason is not None:
        return f"the attempts log does not verify: {a_walk.reason}"
    problem = head_problem(a_walk, a_head["seq"], a_head["hash"], a_walk.last_seq,
                           noun="attempt")
    return f"the attempts log does not verify: {problem}" if problem else None


def _stream_after(stream: Stream, conn: Any, table: str, seq: int
                  ) -> Iterable[dict[str, Any]]:
    assert table in ("entries", "attempts")
    return stream(conn, f"SELECT * FROM {table} WHERE seq > ? ORDER BY seq", (seq,))


def _hashes_at(conn: Any, table: str, seqs: set[int]) -> dict[int, str]:
    """The hashes of the rows at these seqs, a thousand per query."""
    assert table in ("entries", "attempts")
    wanted, found = sorted(seqs), {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        rows = conn.execute(f"SELECT seq, hash FROM {table} WHERE seq IN ("
                            + ", ".join("?" for _ in chunk) + ")", chunk).fetchall()
        found.update({row["seq"]: row["hash"] for row in rows})
    return found


def stored_checkpoint(row: dict[str, Any]) -> Checkpoint:
    """A stored checkpoint; one that cannot be read back counts as forged (its
    placeholder body carries no valid signature)."""
    try:
        return Checkpoint.parse({"checkpoint": json.loads(row["body"]),
                                 "signature": row["signature"]})
    except ValueError:
        return Checkpoint({"entries": 0, "head": "", "attempts": 0, "attempts_head": "",
                           "time": "(unreadable)", "key_id": "", "state_sha256": None}, "")
