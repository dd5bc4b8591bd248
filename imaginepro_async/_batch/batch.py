"""Batch pipelines: thousands of inpaints through one client, resumable, never paid for twice.

``Batch`` sits on the public client API (``client.inpaint``, ``client.job``, ``await job``,
``client.download``) and adds only what it owns: the journal (``journal.py``), the input
(``intake.py``), downloads of the result images, and progress snapshots. It holds the life cycle,
the intake and the dispatch of each journal row; the work is done by parts it owns and hands what
they need: a ``Ledger`` (``ledger.py``: journal writes, counts, results), a ``Submitter``
(``submit.py``) and a ``Follower`` (``follow.py``).

The input is read once, streamed, into the journal (all or nothing); the run then reads the journal
a page at a time, so memory stays bounded whatever the input's size. Resume rules:

- ``done``: skipped (its result is reported again; missing downloads are fetched).
- ``submitted``: re-attached by messageId (``client.job``) and awaited; it counts in flight.
- ``pending``, and ``failed`` before any job was created: submitted.
- ``submitting`` (the process died between sending and hearing back) and ``uncertain``
  (``SubmissionUncertainError``): reconciled first (``reconcile.py``): looked up in the account's
  history, a job found is adopted and followed, a request proven never created is sent again, and
  the others stay uncertain, reported with the candidates. Requests that become uncertain during
  the run are reconciled once their send window has closed, at the end of the run (and reported
  again). ``resubmit_uncertain=True`` resends them all without looking.
- ``failed`` with a job (the job ended FAIL): reported again; resent with ``retry_failed=True``.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

import anyio
import anyio.to_thread
from anyio import AsyncContextManagerMixin

from imaginepro_async._costs import cost_of
from imaginepro_async._errors import (
    BatchInputError,
    CreditLimitError,
    InvalidInputError,
    JournalWriteError,
)

from .follow import Follower
from .intake import InpaintRequest, InputItem, InputProblem, JsonlInput, chunks, read_jsonl
from .journal import Journal, RequestState, Row
from .ledger import Ledger
from .reconcile import Reconciler, Reconciliation
from .results import (
    BatchProgress,
    BatchResult,
    BatchState,
    BatchSummary,
    clean_part_files,
    files_present,
)
from .submit import Submitter

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from imaginepro_async._client import ImagineProClient

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "Batch",
    "BatchProgress",
    "BatchResult",
    "BatchState",
    "BatchSummary",
    "InpaintRequest",
    "InputProblem",
    "JsonlInput",
    "RequestState",
    "read_jsonl",
]

DEFAULT_MAX_DOWNLOAD_BYTES: Final = 50 * 1024 * 1024
"""Result images larger than this (50 MiB) are refused."""

_INTAKE_CHUNK: Final = 64
_RESULTS_BUFFER: Final = 64
# Shown by repr even at zero; the other states only when some request is in them.
_SHOWN_STATES: Final = (
    RequestState.PENDING, RequestState.SUBMITTED, RequestState.DONE, RequestState.FAILED,
)  # fmt: skip


class Batch(AsyncContextManagerMixin):
    """Run many inpainting requests through one client, with a journal to resume from.

    Use it as ``async with Batch(client, requests, journal="run.db") as batch:`` and iterate over
    it for each ``BatchResult`` as it finishes (failures included), or ``await batch.wait()``.
    Entering reads the whole input into the journal (streamed; nothing is sent until it is all
    checked). Requests already ended in an earlier run are reported first (``resumed=True``) and
    not submitted again. Leaving the block, or ``aclose()``, stops the batch cleanly: no new
    submission starts, the one in flight is finished and recorded, and the jobs already submitted
    go on on the server (the next run re-attaches them).

    Args:
        client: an open ``ImagineProClient``.
        requests: ``InpaintRequest`` objects, JSON-like mappings or ``InputProblem`` entries, as an
            iterable or async iterable; or a ``JsonlInput`` (a JSONL file read line by line).
        journal: the SQLite journal's path; created if no file is there, resumed if it is one.
        download_dir: save each result's images there (``<key>.png``, or ``<key>-1.png`` ...).
        max_download_bytes: refuse larger images.
        resubmit_uncertain: send again the requests whose submission is uncertain (they may
            then be paid for twice).
        retry_failed: send again the requests whose job ended FAIL.
        strict: refuse to start (``BatchInputError``) when any request is invalid.
        max_in_flight: at most this many jobs submitted and not yet ended at once (re-attached
            jobs of an earlier run included).
        on_progress: called with a ``BatchProgress`` at each change of a request's state.
        source: a name for the input, kept in the journal for error messages.
        max_credits: refuse to start when the requests to submit would cost more (an estimate
            from the SDK's price table); with it set, the account's balance is checked too
            (one account request) and a batch it cannot pay for does not start.
        reconcile_only: look the uncertain requests up in the account's history, record and
            report each verdict (adopted: ``submitted``; never created: ``pending``; else still
            ``uncertain``, with the candidates), and send or follow nothing.

    Raises:
        BatchInputError: ``strict`` and some requests are invalid (on entering).
        CreditLimitError: the batch needs more than ``max_credits``, or than the account has
            (on entering; nothing was submitted).
        JournalMismatchError: a request the journal already sent has changed, or is gone from the
            input (on entering).
        JournalBusyError: another process runs this journal (on entering).
        NotAJournalError: the journal path holds a file that is not a journal (on entering).
        JournalWriteError: the journal could not be written (on leaving; the batch stopped).
        JournalLostError: the journal's file was deleted, moved, replaced or overwritten while
            the batch ran (on leaving; it stopped at once; the message says how to resume).
    """

    def __init__(
        self,
        client: ImagineProClient,
        requests: Iterable[InputItem] | AsyncIterable[InputItem],
        *,
        journal: str | os.PathLike[str],
        download_dir: str | os.PathLike[str] | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        resubmit_uncertain: bool = False,
        retry_failed: bool = False,
        strict: bool = False,
        max_in_flight: int = 100,
        on_progress: Callable[[BatchProgress], None] | None = None,
        source: str | None = None,
        max_credits: int | None = None,
        reconcile_only: bool = False,
    ) -> None:
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int):
            raise InvalidInputError(f"max_in_flight must be a whole number, got {max_in_flight!r}")
        if max_in_flight < 1:
            raise InvalidInputError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
        self.state = BatchState.NEW
        if max_credits is not None and (
            isinstance(max_credits, bool) or not isinstance(max_credits, int) or max_credits < 0
        ):
            raise InvalidInputError(
                f"max_credits must be a whole number of credits ≥ 0, got {max_credits!r}"
            )
        self._max_credits = max_credits
        self._client = client
        self._requests = requests
        self._journal_path = Path(journal)
        self._download_dir = None if download_dir is None else Path(download_dir)
        self._resubmit_uncertain = resubmit_uncertain
        self._reconcile_only = reconcile_only
        self._retry_failed = retry_failed
        self._strict = strict
        self._source = source or str(requests if isinstance(requests, JsonlInput) else journal)
        self._run_id = secrets.token_hex(8)
        self._journal: Journal | None = None
        self._problems: list[InputProblem] = []
        self._failure: JournalWriteError | None = None
        self._stopping = False
        self._scope = anyio.CancelScope()
        self._finished = anyio.Event()
        self._send, self._receive = anyio.create_memory_object_stream[BatchResult](_RESULTS_BUFFER)
        self._ledger = Ledger(self._send, on_progress)
        slots = anyio.Semaphore(max_in_flight)
        self._follower = Follower(
            client,
            self._ledger,
            slots=slots,
            guarded=self._guarded,
            download_dir=self._download_dir,
            max_download_bytes=max_download_bytes,
        )
        self._submitter = Submitter(client, self._ledger, self._follower, slots=slots)
        self._reconciliation = Reconciliation(
            Reconciler(client, taken_over=time.time()),
            self._ledger,
            self._follower,
            self._submitter,
            run=self._run_id,
        )

    # -- life cycle ------------------------------------------------------------------------------

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self]:
        if self.state is not BatchState.NEW:
            raise RuntimeError("a Batch runs once; create a new one to run again")
        self.state = BatchState.RUNNING
        try:
            async with Journal(self._journal_path) as journal:
                # Sends of an earlier run on this journal ended before now.
                self._reconciliation.reconciler.taken_over = time.time()
                await self._intake(journal)
                if self._max_credits is not None:
                    await self._check_credits(self._max_credits)
                self._journal = journal
                self._ledger.open(journal)
                await self._prepare_downloads()
                self._ledger.started = anyio.current_time()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._run)
                    try:
                        yield self
                    finally:
                        self._close_results()
        finally:
            self.state = BatchState.CLOSED
            self._send.close()
            self._receive.close()
            self._finished.set()
        if self._failure is not None:
            raise self._failure

    async def aclose(self) -> None:
        """Stop the batch and wait until its work has ended; closing twice is harmless.

        The ``async with`` block still has to be left (which raises ``JournalWriteError`` if the
        journal could not be written).
        """
        self._close_results()
        if self.state is BatchState.RUNNING:
            await self._finished.wait()

    def _close_results(self) -> None:
        if not self._finished.is_set():
            self.stop()
        self._receive.close()

    async def _intake(self, journal: Journal) -> None:
        source = self._requests
        async with journal.intake(self._run_id, source=self._source) as intake:
            async for prepared in chunks(source, _INTAKE_CHUNK):
                entries = [e for e in prepared if not isinstance(e, InputProblem)]
                self._problems.extend(e for e in prepared if isinstance(e, InputProblem))
                for entry, reason in await intake.add(entries):
                    self._problems.append(
                        InputProblem(line=entry.line, reason=reason, ref=entry.key)
                    )
            if self._strict and self._problems:
                raise BatchInputError(sorted(self._problems, key=lambda p: p.line or 0))
        counts = self._ledger.counts = await journal.counts(self._run_id)
        counts[RequestState.INVALID] = len(self._problems)

    async def _prepare_downloads(self) -> None:
        directory = self._download_dir
        if directory is not None:
            await anyio.to_thread.run_sync(clean_part_files, directory)

    async def _check_credits(self, cap: int) -> None:
        """Refuse to start a batch that would cost more than ``cap`` or than the account has."""
        price = cost_of("button", button="Vary (Region)")
        counts = self._ledger.counts
        count = counts[RequestState.PENDING] + counts[RequestState.FAILED]  # at most
        if self._resubmit_uncertain:
            count += counts[RequestState.SUBMITTING] + counts[RequestState.UNCERTAIN]
        needed = count * price
        if needed > cap:
            raise CreditLimitError(
                f"this batch needs about {needed} credits ({count} requests at {price}), over "
                f"max_credits={cap}: raise the cap or split the batch",
                needed=needed,
                available=cap,
            )
        info = await self._client.account()
        balance = (info.credits or 0) + (info.credits_extra or 0)
        if info.credits is not None and needed > balance:
            raise CreditLimitError(
                f"this batch needs about {needed} credits ({count} requests at {price}); the "
                f"account has {balance}: add credits or split the batch",
                needed=needed,
                available=balance,
            )

    def stop(self, *, force: bool = False) -> None:
        """Stop the batch cleanly: submit nothing more, stop following the jobs.

        The submission in flight, if any, is finished and recorded (unless ``force``: it is then
        abandoned, and reported as uncertain by the next run). Jobs already submitted go on on
        the server; the next run with the same journal re-attaches them.
        """
        self._stopping = True
        self._scope.cancel()
        self._submitter.stop(force=force)

    def __repr__(self) -> str:
        parts = [self.state.value]
        if self._stopping and self.state is BatchState.RUNNING:
            parts.append("stopping")
        if self._ledger.halted is not None:
            parts.append("halted")
        parts.append(f"journal={str(self._journal_path)!r}")
        if self._journal is not None:  # the counts are known once the input is read
            counts = self._ledger.counts
            parts += [f"{s.value}={n}" for s, n in counts.items() if n or s in _SHOWN_STATES]
        return f"<Batch {' '.join(parts)}>"

    # -- results and progress ------------------------------------------------------------------

    @property
    def problems(self) -> tuple[InputProblem, ...]:
        """The input entries that are not valid requests."""
        return tuple(self._problems)

    @property
    def journal_path(self) -> Path:
        """The journal's path."""
        return self._journal_path

    @property
    def journal_commits(self) -> int:
        """How many commits this run made to the journal (for benchmarks)."""
        return 0 if self._journal is None else self._journal.commits

    def __aiter__(self) -> AsyncIterator[BatchResult]:
        return self._results()

    async def _results(self) -> AsyncIterator[BatchResult]:
        try:
            async for result in self._receive:
                yield result
        except anyio.ClosedResourceError:
            return

    async def wait(self) -> BatchSummary:
        """Wait for the batch to end (reading and dropping the results not read yet)."""
        async for _ in self._results():
            pass
        await self._finished.wait()
        return self.summary()

    def summary(self) -> BatchSummary:
        """How the run stands (or ended)."""
        return BatchSummary(
            progress=self.snapshot(),
            download_errors=self._ledger.download_errors,
            stopped=self._stopping,
        )

    def snapshot(self) -> BatchProgress:
        """The batch's progress now: counts per state, throughput and ETA."""
        return self._ledger.snapshot()

    async def progress(self, *, every: float = 1.0) -> AsyncIterator[BatchProgress]:
        """Yield a progress snapshot now, then every ``every`` seconds, and a last one at the end."""
        if not every > 0:
            raise ValueError(f"every must be a number of seconds > 0, got {every!r}")
        while True:
            finished = self._finished.is_set()
            yield self.snapshot()
            if finished:
                return
            with anyio.move_on_after(every):
                await self._finished.wait()

    # -- the run ---------------------------------------------------------------------------------

    async def _guarded(self, work: Callable[..., Any], *args: Any) -> None:
        """Run one piece of the batch; a failed journal write stops the batch, cleanly."""
        try:
            await work(*args)
        except JournalWriteError as exc:
            if self._failure is None:
                self._failure = exc
            elif self._failure.message_id is None:
                # A later write failed on a job just created: the error raised names that job.
                self._failure.message_id = exc.message_id
            self.stop()

    async def _run(self) -> None:
        try:
            with self._scope:
                for problem in self._problems:
                    await self._ledger.emit(
                        BatchResult(
                            key=problem.ref, line=problem.line, state=RequestState.INVALID,
                            error=problem.reason,
                        )
                    )  # fmt: skip
                async with anyio.create_task_group() as tg:
                    await self._guarded(self._reconcile_and_dispatch, tg)
        finally:
            self._send.close()
            self._finished.set()

    async def _reconcile_and_dispatch(self, tg: TaskGroup) -> None:
        reconciliation = self._reconciliation
        if self._reconcile_only:
            await reconciliation.only(stopping=lambda: self._stopping)
            return
        if not self._resubmit_uncertain:
            await reconciliation.first(tg)
        await self._dispatch_all(tg)
        if not self._resubmit_uncertain:
            await reconciliation.last(tg, stopping=lambda: self._stopping)

    async def _dispatch_all(self, tg: TaskGroup) -> None:
        after = -1
        while not self._stopping:
            rows = await self._ledger.journal.page(self._run_id, after=after)
            if not rows:
                return
            for row in rows:
                after = row.seq
                await self._dispatch(tg, row)

    async def _dispatch(self, tg: TaskGroup, row: Row) -> None:
        state = row.state
        submitter, follower = self._submitter, self._follower
        if state is RequestState.DONE:
            if self._download_dir is not None and not await files_present(row.files):
                await follower.redownload(tg, row)
            else:
                await self._ledger.emit(follower.from_row(row))
        elif state is RequestState.FAILED:
            # With a final Message the job itself ended FAIL; without one, only following it
            # failed (unreadable answers, say) and the job may be fine: look at it again.
            ended_fail = row.result is not None
            if row.message_id is None or (self._retry_failed and ended_fail):
                await submitter.submit(tg, row)
            elif not ended_fail:
                await follower.reattach(tg, row)
            else:
                await self._ledger.emit(follower.from_row(row))
        elif state is RequestState.SUBMITTED:
            await follower.reattach(tg, row)
        elif state in (RequestState.SUBMITTING, RequestState.UNCERTAIN):
            if self._resubmit_uncertain:
                await submitter.submit(tg, row)
            elif row.key not in self._reconciliation.later:  # else looked up again at the end
                await self._report_uncertain(row)
        else:
            await submitter.submit(tg, row)

    async def _report_uncertain(self, row: Row) -> None:
        error = row.error
        if row.state is RequestState.SUBMITTING:
            error = (
                "the process stopped between sending this request and hearing back: the job may "
                "exist (and may have been charged). Check the account's recent jobs (ref "
                f"{row.key!r}); resubmit it with --resubmit-uncertain"
            )
            await self._ledger.record(row, row.state, RequestState.UNCERTAIN, error=error)
        await self._ledger.emit(
            BatchResult(
                key=row.key, line=row.line, state=RequestState.UNCERTAIN, error=error,
                resumed=True,
            )
        )  # fmt: skip
