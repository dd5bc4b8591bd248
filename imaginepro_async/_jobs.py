"""Job handles: await a job for its final Message, follow its updates, cancel it.

A ``Job`` owns no task and keeps no bookkeeping: it reads the ``JobState`` the client's scheduler
writes, and asks its host (the client, through the small ``JobHost`` protocol) for everything else.
Several handles for the same messageId share one ``JobState`` (and so its polls).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Generator, Iterable
from typing import Literal, Protocol, overload

import anyio

from ._errors import ImagineProError, JobTimeoutError
from ._models import Message
from ._scheduling.job_state import JobState

__all__ = ["Job", "JobHost", "as_completed", "gather"]


class JobHost(Protocol):
    """What a ``Job`` asks of the client that follows it."""

    def ensure_open(self) -> None:
        """Raise ``ClientClosedError`` unless the client follows jobs."""

    def watch(self, state: JobState, every: float) -> None:
        """Poll the job at least every ``every`` real seconds while watched."""

    def unwatch(self, state: JobState, every: float) -> None:
        """Stop a ``watch``."""

    async def cancel_job(self, state: JobState) -> bool:
        """Press Cancel Job on the server (False: the job had already ended)."""


class Job:
    """A handle on one job, known by its messageId. Await it for the final ``Message``.

    ``await job`` returns the final Message when the job ends ``DONE`` and raises
    ``JobFailedError`` when it ends ``FAIL`` (``JobCancelledError`` after ``job.cancel()``). Any number
    of tasks may await the same job; they share its polls. The job owns no task: the client's
    scheduler polls it and wakes its waiters.
    """

    __slots__ = ("_host", "_state")

    def __init__(self, state: JobState, host: JobHost) -> None:
        self._state = state
        self._host = host

    def __repr__(self) -> str:
        latest = self._state.latest
        status = "unknown" if latest is None else f"{latest.status.value} {latest.progress}%"
        return f"<Job {self._state.message_id} {status}>"

    @property
    def message_id(self) -> str:
        """The job's messageId, known as soon as the server accepted the job."""
        return self._state.message_id

    @property
    def latest(self) -> Message | None:
        """The last Message seen for this job (None before its first poll)."""
        return self._state.latest

    @property
    def polls(self) -> int:
        """How many progress requests this client has made for this job."""
        return self._state.polls

    @property
    def cost(self) -> int | None:
        """The credits submitting this job cost: an **estimate** from the SDK's price table.

        The server does not report prices; only imagine (10) and buttons (5) have published ones,
        the others are assumed. None for a job this client did not submit (``client.job(id)``).
        """
        return self._state.cost

    def done(self) -> bool:
        """True when the job has ended (or can no longer be followed); ``result()`` then answers."""
        return self._state.resolved

    def result(self) -> Message:
        """The final Message of a finished job, without waiting.

        Raises:
            JobFailedError: the job ended FAIL.
            RuntimeError: the job has not finished yet (await it instead).
        """
        if not self._state.resolved:
            raise RuntimeError(f"job {self.message_id} has not finished yet; await it instead")
        return self._state.outcome()

    def __await__(self) -> Generator[object, None, Message]:
        return self.wait().__await__()

    async def wait(self, timeout: float | None = None) -> Message:
        """Wait for the job to end and return its final Message.

        Args:
            timeout: seconds to wait at most; None waits as long as it takes.

        Raises:
            JobFailedError: the job ended FAIL (``JobCancelledError`` if this client cancelled it).
            JobTimeoutError: ``timeout`` passed first; the job goes on and can be awaited again.
            JobDeadlineError: the server did not end the job by its own timeout (plus a grace).
            ClientClosedError: the client was closed while waiting.
        """
        state = self._state
        if not state.resolved:
            self._host.ensure_open()
            started = anyio.current_time()
            with anyio.move_on_after(math.inf if timeout is None else timeout):
                await state.wait()
            if not state.resolved:
                raise JobTimeoutError(
                    message_id=state.message_id,
                    message=state.latest,
                    elapsed=anyio.current_time() - started,
                    polls=state.polls,
                )
        return state.outcome()

    async def updates(self, *, every: float | None = None) -> AsyncIterator[Message]:
        """Yield the job's Message at each change of status or progress, ending with the final one.

        The current Message (if any) comes first. A slow consumer gets the latest Message, not a
        backlog. The final Message is yielded even when it is a FAIL; await the job to get the error.

        Args:
            every: while this iterator runs, poll the job at least this often (seconds), within the
                budget; by default the scheduler polls only as often as the job's end needs.

        Raises:
            ImagineProError: the job could not be followed (for example an unknown messageId).
        """
        state = self._state
        self._host.ensure_open()
        if every is not None:
            if not every > 0:
                raise ValueError(f"every must be a number of seconds > 0, got {every!r}")
            self._host.watch(state, every)
        seen = -1
        try:
            while True:
                changed = state.changed()
                latest = state.latest
                if latest is not None and state.version != seen:
                    seen = state.version
                    yield latest
                    if latest.is_terminal:
                        return
                    continue
                if state.resolved:
                    if state.exception is not None and (latest is None or not latest.is_terminal):
                        raise state.exception
                    return
                await changed.wait()
        finally:
            if every is not None:
                self._host.unwatch(state, every)

    async def cancel(self) -> bool:
        """Press ``Cancel Job`` on the server; the job then ends FAIL (``JobCancelledError``).

        Returns True once the server took the cancel, False if the job had already ended
        (nothing was sent, or the server refused because it ended meanwhile).
        """
        return await self._host.cancel_job(self._state)


def _states(jobs: Iterable[Job]) -> list[JobState]:
    states = []
    for job in jobs:
        if not isinstance(job, Job):
            raise TypeError(f"expected Job handles, got {type(job).__name__}: {job!r}")
        job._host.ensure_open()
        states.append(job._state)
    return states


async def as_completed(jobs: Iterable[Job], *, timeout: float | None = None) -> AsyncIterator[Job]:
    """Yield each job as it ends, first finished first (failed ones too: check ``job.result()``).

    Args:
        jobs: the jobs to follow (from one client or several).
        timeout: seconds to wait for all of them at most; when it passes, ``JobTimeoutError`` is
            raised (the jobs go on; await them again).
    """
    handles = list(jobs)
    by_state = {id(state): job for state, job in zip(_states(handles), handles, strict=True)}
    send, receive = anyio.create_memory_object_stream[Job](max_buffer_size=len(handles) or 1)

    def deliver(state: JobState) -> None:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            send.send_nowait(by_state[id(state)])

    started = anyio.current_time()
    deadline = math.inf if timeout is None else started + timeout
    try:
        with send, receive:
            for job in handles:
                job._state.add_done_callback(deliver)
            for _ in range(len(handles)):
                finished: Job | None = None
                with anyio.move_on_after(deadline - anyio.current_time()):
                    finished = await receive.receive()
                if finished is None:
                    try:  # a job that ended while the consumer held the last one is no timeout
                        finished = receive.receive_nowait()
                    except anyio.WouldBlock:
                        raise _timed_out(handles, started) from None
                # Yielded outside the cancel scope: the consumer's code must not run inside it.
                yield finished
    finally:
        # Leaving early (break, timeout, error) must leave nothing behind in the jobs.
        for job in handles:
            job._state.remove_done_callback(deliver)


@overload
async def gather(
    *jobs: Job, return_exceptions: Literal[False] = False, timeout: float | None = None
) -> list[Message]: ...
@overload
async def gather(
    *jobs: Job, return_exceptions: Literal[True], timeout: float | None = None
) -> list[Message | ImagineProError]: ...
async def gather(
    *jobs: Job, return_exceptions: bool = False, timeout: float | None = None
) -> list[Message] | list[Message | ImagineProError]:
    """Wait for every job and return their final Messages, in the order given.

    Unlike ``asyncio.gather``, a failure does not stop the wait: every job is waited for, then all
    failures are raised together as an ``ExceptionGroup`` (use ``except* JobFailedError``).

    Args:
        jobs: the jobs.
        return_exceptions: return each failure in place of its Message instead of raising.
        timeout: seconds to wait for all of them at most (``JobTimeoutError`` after that; the
            jobs go on).
    """
    states = _states(jobs)
    started = anyio.current_time()
    with anyio.move_on_after(math.inf if timeout is None else timeout):
        for state in states:
            await state.wait()
    if not all(state.resolved for state in states):
        raise _timed_out(jobs, started)
    outcomes: list[Message | ImagineProError] = []
    for state in states:
        outcomes.append(state.exception if state.exception is not None else state.outcome())
    if return_exceptions:
        return outcomes
    errors = [outcome for outcome in outcomes if isinstance(outcome, ImagineProError)]
    if errors:
        raise ExceptionGroup(f"{len(errors)} of {len(states)} jobs failed", errors)
    return [outcome for outcome in outcomes if isinstance(outcome, Message)]


def _timed_out(jobs: Iterable[Job], started: float) -> JobTimeoutError:
    handles = list(jobs)
    pending = [job for job in handles if not job.done()]
    first = pending[0]
    return JobTimeoutError(
        message_id=first.message_id,
        message=first.latest,
        elapsed=anyio.current_time() - started,
        polls=first.polls,
        pending=[job.message_id for job in pending],
        waited_for=len(handles),
    )
