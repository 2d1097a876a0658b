"""Group commit: the charges that arrive while one is being written go in the next
transaction together, so many concurrent charges share one lock and one fsync.

Guarantee
---------
Batching changes how many transactions carry the charges, not what a charge
promises:

- *Atomic check-and-charge*: a batch is one write transaction holding the
  ledger's write lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL's head row ``FOR
  UPDATE``) from its first statement; inside it the charges are checked and
  appended one after the other, each against the totals the ones before it left,
  exactly as if they had come one at a time. Other proxies wait on the same lock.
- *Durable before any answer*: a caller gets its receipt (or its refusal) only
  after the batch's commit returned, which is after the disk flush; until then
  it waits, so it cannot answer.
- *kill -9 loses nothing answered*: a batch that had not committed when the
  process died answered nobody.
- A refusal (``BudgetExhausted``) is one charge's outcome and does not abort the
  batch. Any other error rolls the whole batch back; then every charge of it is
  tried again alone, so an error is reported to the charge that caused it, and a
  rolled-back charge was never counted (nothing is charged twice, nothing is
  refunded, since nothing of a rolled-back batch was committed).

One :class:`GroupCommit` per ledger object: batching happens among the threads
of one process; across processes the write lock orders the batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommit", "Pending"]

T = TypeVar("T")


class Pending(Generic[T]):
    """One submitted request and, once its batch committed, its outcome."""

    def __init__(self, request: T) -> None:
        self.request = request
        self.done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def succeed(self, value: Any) -> None:
        self._value, self.done = value, True

    def fail(self, error: BaseException) -> None:
        self._error, self.done = error, True

    def outcome(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


class GroupCommit(Generic[T]):
    """Flat combining: the first caller to find the writer idle writes every request
    waiting at that moment (its own included) in one batch; callers arriving
    meanwhile wait, and the next of them writes the next batch.

    ``run`` gets the batch's requests and must settle each (``succeed`` or
    ``fail``) before returning, and only once what it wrote is committed. If it
    raises, nothing of the batch may have been committed: each request it left
    unsettled is then run again alone, so an error reaches the request that caused
    it; a request still unsettled fails with the error, or an internal error.
    """

    def __init__(self, run: Callable[[Sequence[Pending[T]]], None]) -> None:
        self._run = run
        self._cv = threading.Condition()
        self._queue: list[Pending[T]] = []
        self._writing = False
        self.batches = 0  # how many batches were written (for tests and benchmarks)

    def submit(self, request: T) -> Any:
        """Write ``request`` (in some batch) and return its outcome, or raise its error.

        A batch holds every request waiting when it starts, so at most one per
        thread of the process.
        """
        pending = Pending(request)
        with self._cv:
            self._queue.append(pending)
            while self._writing and not pending.done:
                self._cv.wait()
            if pending.done:
                return pending.outcome()
            # the writer is idle and this request still waits: it is in the queue,
            # and this thread writes the whole queue
            self._writing = True
            batch, self._queue = self._queue, []
        try:
            self._write(batch)
        finally:
            with self._cv:
                self._writing = False
                self._cv.notify_all()
        return pending.outcome()

    def _write(self, batch: list[Pending[T]]) -> None:
        self.batches += 1
        try:
            self._run(batch)
        except Exception as exc:
            if len(batch) == 1:
                _fail_unsettled(batch, exc)
            for p in batch:  # nothing of the batch was committed: each alone
                if not p.done:
                    try:
                        self._run([p])
                    except Exception as alone:  # noqa: BLE001 - this request's own outcome
                        _fail_unsettled([p], alone)
        except BaseException as exc:  # noqa: BLE001 - settled here, re-raised per caller
            _fail_unsettled(batch, exc)
        _fail_unsettled(batch, RuntimeError("group commit: a request was left without an outcome"))


def _fail_unsettled(batch: Sequence[Pending[T]], error: BaseException) -> None:
    for p in batch:
        if not p.done:
            p.fail(error)
