"""A batch run's books: journal writes and the counts they move, progress, and the results stream.

``Batch`` owns one ``Ledger`` and hands it to its submitting side (``submit.py``) and its following
side (``follow.py``): each writes a request's new state through it (journal first, then counts and
progress), and reports each ``BatchResult`` through it. It knows nothing of the client.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from .journal import Journal, RequestState, Row
from .results import ACTIVE_STATES, BatchProgress, BatchResult

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream

__all__ = ["Ledger"]


class Ledger:
    """The counts and records of one batch run, shared by ``Batch`` and its two sides.

    Attributes:
        counts: requests per state (every state present).
        finished_this_run: requests that ended (done or failed) in this run.
        download_errors: results reported with a download error.
        started: when the run started (``anyio.current_time()``), or 0 before.
        halted: why submitting stopped early (set by the submitting side), or None.
    """

    def __init__(
        self,
        send: MemoryObjectSendStream[BatchResult],
        on_progress: Callable[[BatchProgress], None] | None,
    ) -> None:
        self.counts = dict.fromkeys(RequestState, 0)
        self.finished_this_run = 0
        self.download_errors = 0
        self.started = 0.0
        self.halted: str | None = None
        self._send = send
        self._on_progress = on_progress
        self._journal: Journal | None = None

    def open(self, journal: Journal) -> None:
        """Start writing to ``journal`` (once the intake is done)."""
        self._journal = journal

    @property
    def journal(self) -> Journal:
        """The open journal (only while the batch runs)."""
        assert self._journal is not None
        return self._journal

    async def record(self, row: Row, old: RequestState, state: RequestState, **fields: Any) -> None:
        """Write a request's new state to the journal, then count it."""
        await self.journal.update(row.key, state, row=row, **fields)
        self._move(old, state, finished=state in (RequestState.DONE, RequestState.FAILED))

    async def record_files(
        self, key: str, files: Sequence[str] | None, download_error: str | None
    ) -> None:
        """Write where a request's images were saved (or why they could not be)."""
        await self.journal.record_files(key, files, download_error)

    def _move(self, old: RequestState, new: RequestState, *, finished: bool = False) -> None:
        self.counts[old] -= 1
        self.counts[new] += 1
        if finished:
            self.finished_this_run += 1
        if self._on_progress is not None:
            self._on_progress(self.snapshot())

    async def emit(self, result: BatchResult) -> None:
        """Report a result to the batch's reader."""
        if result.download_error is not None:
            self.download_errors += 1
        # Nobody reading any more is fine: the journal has it.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._send.send(result)

    def snapshot(self) -> BatchProgress:
        """The progress now: counts per state, throughput and ETA."""
        counts = dict(self.counts)
        elapsed = max(anyio.current_time() - self.started, 1e-9) if self.started else 0.0
        rate = self.finished_this_run / elapsed if self.finished_this_run else None
        remaining = sum(counts[s] for s in ACTIVE_STATES)
        eta = (remaining / rate if rate else None) if remaining else 0.0
        return BatchProgress(
            total=sum(counts.values()),
            counts=counts,
            finished_this_run=self.finished_this_run,
            elapsed=elapsed,
            throughput=rate,
            eta=eta,
            halted=self.halted,
        )
