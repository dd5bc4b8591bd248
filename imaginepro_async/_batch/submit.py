"""A batch's submitting side: send one request, record it before and after, never pay twice.

``Batch`` owns one ``Submitter``, given what it uses: the client, the run's ``Ledger``, the
in-flight slots, and the following side (``Follower``), to which each job it creates is handed.
``Batch.stop`` stops it through ``stop``: the submission in flight is finished and recorded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio

from imaginepro_async._calls import SubmitOptions, steps
from imaginepro_async._errors import (
    AuthenticationError,
    ImagineProError,
    InvalidInputError,
    JournalWriteError,
    SubmissionUncertainError,
)
from imaginepro_async._masks.load import load_mask
from imaginepro_async._masks.mask import Mask

from .intake import stored_digest
from .journal import RequestState, Row, StoredRequest
from .results import BatchResult, row_result

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from anyio.abc import TaskGroup

    from imaginepro_async._client import ImagineProClient
    from imaginepro_async._jobs import Job
    from imaginepro_async._models import Message

    from .follow import Follower
    from .ledger import Ledger

__all__ = ["Submitter"]

logger = logging.getLogger("imaginepro_async")

_MAX_PARENTS: Final = 256


async def _load_mask(request: StoredRequest, digest: str) -> Mask:
    if request.mask_path is not None:
        path = Path(request.mask_path)
        data = await anyio.Path(path).read_bytes()
        if stored_digest(request, data) != digest:
            raise InvalidInputError(
                f"the mask file {path} changed after the batch read it (its bytes are not those "
                "the journal recorded); this request was not sent. Put the file back as it was, "
                "or give the changed request a new ref to send it as a new request"
            )
        return await load_mask(data)  # the bytes checked, not the file read again
    if request.mask_data is None:
        raise InvalidInputError("the journal does not hold this request's mask: give it again")
    return await load_mask(request.mask_data)


class Submitter:
    """Submitting the requests of a batch, one recorded step at a time."""

    def __init__(
        self,
        client: ImagineProClient,
        ledger: Ledger,
        follower: Follower,
        *,
        slots: anyio.Semaphore,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._follower = follower
        self._slots = slots
        self._parents: dict[str, Message] = {}
        self._stopping = False
        self._critical: anyio.CancelScope | None = None
        self._sending = False  # the submission in flight has started to be sent

    def stop(self, *, force: bool = False) -> None:
        """Submit nothing more; stop the submission in flight unless it is being sent (or ``force``)."""
        self._stopping = True
        if self._critical is not None and (force or not self._sending):
            # Not yet sending (waiting for its mask or its create permit): nothing to finish.
            self._critical.shield = False
            self._critical.cancel()

    async def submit(self, tg: TaskGroup, row: Row) -> None:
        """Send ``row``'s request, once a slot is free; its job is then followed in ``tg``."""
        if self._stopping or self._ledger.halted is not None:
            return
        await self._slots.acquire()
        job: Job | None = None
        try:
            job = await self._submit_one(row)
        finally:
            if job is None:
                self._slots.release()
        if job is not None:
            self._follower.start(tg, row, RequestState.SUBMITTED, job)

    async def _submit_one(self, row: Row) -> Job | None:
        assert row.request is not None
        try:
            mask = await _load_mask(row.request, row.digest)
        except (InvalidInputError, OSError) as exc:
            await self._emit_some(await self._failed_to_send(row, row.state, exc))
            return None
        state = row.state
        job: Job | None = None
        report: BatchResult | None = None
        unrecorded: JournalWriteError | None = None
        # Shielded: once the journal says "submitting", hear the answer and record it, so that a
        # clean stop never leaves an uncertain request behind.
        with anyio.CancelScope(shield=True) as self._critical:
            try:
                if self._stopping:
                    return None

                async def on_send() -> None:
                    nonlocal state
                    self._sending = True
                    await self._ledger.record(
                        row, state, RequestState.SUBMITTING, count_attempt=True, clear_error=True
                    )
                    state = RequestState.SUBMITTING

                outcome = await self._inpaint(row, mask, on_send)
                if isinstance(outcome, Exception):
                    report = await self._failed_to_send(row, state, outcome)
                else:
                    job = outcome
                    await self._ledger.record(
                        row, state, RequestState.SUBMITTED, message_id=job.message_id
                    )
            except JournalWriteError as exc:
                unrecorded = exc
            finally:
                self._critical = None
                self._sending = False
        if unrecorded is not None:
            if job is not None:
                # Shielded too: the batch is being stopped (often by this same full disk, hit
                # by a job being followed first), and this result is the only place left that
                # holds the job's messageId.
                with anyio.CancelScope(shield=True):
                    await self._unrecorded(row, job, unrecorded)
            raise unrecorded
        await self._emit_some(report)
        return job

    async def _inpaint(
        self, row: Row, mask: Mask, on_send: Callable[[], Awaitable[None]]
    ) -> Job | Exception:
        request = row.request
        assert request is not None
        try:
            parent = await self._parent(request.parent)
            prepare, submit = steps(
                self._client.inpaint(
                    parent,
                    mask,
                    prompt=request.prompt,
                    ref=row.key,
                    job_timeout=request.timeout,
                    webhook_override=request.webhook_override,
                )
            )
            # The journal says "submitting" right before the request leaves, permit held.
            return await submit(await prepare(), SubmitOptions(before_send=on_send))
        except JournalWriteError:
            raise  # "submitting" could not be recorded: nothing was sent
        except (ImagineProError, OSError, ValueError, TypeError) as exc:
            return exc

    async def _parent(self, message_id: str) -> Message | str:
        """The parent's Message, fetched once, so that the client checks the mask against its image.

        If it cannot be fetched, the messageId is sent as it is (the server checks the mask).
        """
        parent = self._parents.get(message_id)
        if parent is None:
            try:
                parent = await self._client.fetch(message_id)
            except ImagineProError as exc:
                logger.warning("could not fetch parent %s (%s); mask not checked", message_id, exc)
                return message_id
            if len(self._parents) >= _MAX_PARENTS:
                self._parents.clear()
            self._parents[message_id] = parent
        return parent

    async def _unrecorded(self, row: Row, job: Job, exc: JournalWriteError) -> None:
        """The job exists but the journal does not know it: its messageId must not be lost."""
        exc.message_id = job.message_id
        await self._ledger.emit(
            BatchResult(
                key=row.key, line=row.line, state=RequestState.SUBMITTED,
                message_id=job.message_id,
                error=f"the job {job.message_id} was created but the journal could not record "
                "it; the next run reports this request as uncertain",
            )
        )  # fmt: skip

    async def _emit_some(self, result: BatchResult | None) -> None:
        if result is not None:
            await self._ledger.emit(result)

    async def _failed_to_send(
        self, row: Row, old: RequestState, exc: Exception
    ) -> BatchResult | None:
        """Record why a submission gave no job (uncertain, halted, or refused); the result."""
        if isinstance(exc, AuthenticationError):
            # Nothing was created; every later submission would fail alike. Stop here.
            self._ledger.halted = str(exc)
            await self._ledger.record(row, old, RequestState.PENDING, error=str(exc))
            return None
        if isinstance(exc, SubmissionUncertainError):
            # A lost answer, or a 5xx other than 503, does not prove that no job was created:
            # never resend it on its own.
            error = (
                f"the request may have been processed, but no answer came ({exc.reason}); it was "
                "not resent, to avoid paying twice. Check the account's recent jobs, then resend "
                "it with --resubmit-uncertain."
            )
            await self._ledger.record(row, old, RequestState.UNCERTAIN, error=error)
            return row_result(row, RequestState.UNCERTAIN, error=error)
        # Refused before a job was created: costs nothing, tried again on resume.
        await self._ledger.record(row, old, RequestState.FAILED, error=str(exc))
        return row_result(row, RequestState.FAILED, error=str(exc))
