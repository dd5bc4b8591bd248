"""Job handles: the latest Message, the outcome and waiters, woken by the client's scheduler.

A job owns no task; the scheduler's own bookkeeping lives in the scheduler.

Several ``Job`` handles for the same messageId share one ``JobState`` (and so its polls).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from typing import TYPE_CHECKING, Literal, overload

import anyio

from ._errors import (
    ClientClosedError,
    ImagineProError,
    JobTimeoutError,
)
from ._models import Message

if TYPE_CHECKING:
    from ._scheduling.scheduler import Scheduler

__all__ = ["Job", "JobState", "as_completed", "gather"]

logger = logging.getLogger("imaginepro_async")


class JobState:
    """What a job's handles share: its latest Message, its outcome and its waiters.

    Written by the scheduler (which keeps its own bookkeeping elsewhere). Events are created only
    when someone waits, so that a followed job costs few objects.
    """

    __slots__ = (
        "_callbacks",
        "_changed",
        "_done",
        "cost",
        "exception",
        "latest",
        "message_id",
        "polls",
        "resolved",
        "version",
    )

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.latest: Message | None = None
        self.exception: ImagineProError | None = None
        self.resolved = False  # True once the job has a final Message or an error
        self.version = 0  # counts published Messages, for ``updates()``
        self.polls = 0
        self._done: anyio.Event | None = None
        self._changed: anyio.Event | None = None
        self._callbacks: list[Callable[[JobState], None]] | None = None
        # What submitting it cost, in credits (an estimate; None: not submitted by this client).
        self.cost: int | None = None

    def changed(self) -> anyio.Event:
        """An event set at the next new Message or at the end."""
        if self._changed is None:
            self._changed = anyio.Event()
        return self._changed

    @property
    def followed_live(self) -> bool:
        """True while someone waits for its next change (an ``updates()`` iterator)."""
        return self._changed is not None

    async def wait(self) -> None:
        """Wait until the job is resolved."""
        if self.resolved:
            return
        if self._done is None:
            self._done = anyio.Event()
        await self._done.wait()

    def _wake(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    def publish(self, message: Message) -> None:
        """Record a new Message and wake whoever watches the job's updates."""
        self.latest = message
        self.version += 1
        self._wake()

    def resolve(self, exception: ImagineProError | None = None) -> None:
        """Mark the job finished (with the latest Message, or an error) and wake its waiters."""
        if self.resolved:
            return
        self.exception = exception
        self.resolved = True
        if self._done is not None:
            self._done.set()
        self._wake()
        callbacks, self._callbacks = self._callbacks or [], None
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                # One listener's failure must not stop the others, or the scheduler.
                logger.exception("a done callback of job %s failed", self.message_id)

    def add_done_callback(self, callback: Callable[[JobState], None]) -> None:
        """Call ``callback(state)`` once the job is resolved (at once if it already is)."""
        if self.resolved:
            callback(self)
        elif self._callbacks is None:
            self._callbacks = [callback]
        else:
            self._callbacks.append(callback)

    def remove_done_callback(self, callback: Callable[[JobState], None]) -> None:
        """Forget ``callback`` (no error if it is not registered)."""
        if self._callbacks is not None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

    def outcome(self) -> Message:
        """The final Message, or raise the job's error. Only for a resolved job."""
        if self.exception is not None:
            raise self.exception
        assert self.latest is not None
        return self.latest


class Job:
    """A handle on one job, known by its messageId. Await it for the final ``Message``.

    ``await job`` returns the final Message when the job ends ``DONE`` and raises
    ``JobFailedError`` when it ends ``FAIL`` (``JobCancelledError`` after ``job.cancel()``). Any number
    of tasks may await the same job; they share its polls. The job owns no task: the client's
    scheduler polls it and wakes its waiters.
    """

    __slots__ = ("_scheduler", "_state")

    def __init__(self, state: JobState, scheduler: Scheduler) -> None:
        self._state = state
        self._scheduler = scheduler

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
            self._scheduler.ensure_open()
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
        self._scheduler.ensure_open()
        if every is not None:
            if not every > 0:
                raise ValueError(f"every must be a number of seconds > 0, got {every!r}")
            self._scheduler.watch(state, every)
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
                self._scheduler.unwatch(state, every)

    async def cancel(self) -> None:
        """Press ``Cancel Job`` on the server; the job then ends FAIL (``JobCancelledError``).

        Raises:
            InvalidInputError: the job has already ended.
        """
        await self._scheduler.cancel(self._state.message_id)


def _states(jobs: Iterable[Job]) -> list[JobState]:
    states = []
    for job in jobs:
        if not isinstance(job, Job):
            raise TypeError(f"expected Job handles, got {type(job).__name__}: {job!r}")
        job._scheduler.ensure_open()
        states.append(job._state)
    return states


async def as_completed(jobs: Iterable[Job], *, timeout: float | None = None) -> AsyncIterator[Job]:
    """Yield each job as it ends, first finished first (failed ones too: check ``job.result()``).

    Args:
        jobs: the jobs to follow (from one client or several).
        timeout: seconds to wait for all of them at most; when it passes, ``TimeoutError`` is
            raised (the jobs go on; await them again).
    """
    handles = list(jobs)
    by_state = {id(state): job for state, job in zip(_states(handles), handles, strict=True)}
    send, receive = anyio.create_memory_object_stream[Job](max_buffer_size=len(handles) or 1)

    def deliver(state: JobState) -> None:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            send.send_nowait(by_state[id(state)])

    deadline = math.inf if timeout is None else anyio.current_time() + timeout
    try:
        with send, receive:
            for job in handles:
                job._state.add_done_callback(deliver)
            for _ in range(len(handles)):
                finished: Job | None = None
                with anyio.move_on_after(deadline - anyio.current_time()):
                    finished = await receive.receive()
                if finished is None:
                    pending = sum(1 for job in handles if not job.done())
                    raise TimeoutError(
                        f"{pending} of {len(handles)} jobs had not finished after {timeout} s; "
                        "they go on: await them again"
                    )
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
        timeout: seconds to wait for all of them at most (``TimeoutError`` after that).
    """
    states = _states(jobs)
    with anyio.fail_after(timeout):
        for state in states:
            await state.wait()
    outcomes: list[Message | ImagineProError] = []
    for state in states:
        outcomes.append(state.exception if state.exception is not None else state.outcome())
    if return_exceptions:
        return outcomes
    errors = [outcome for outcome in outcomes if isinstance(outcome, ImagineProError)]
    if errors:
        raise ExceptionGroup(f"{len(errors)} of {len(states)} jobs failed", errors)
    return [outcome for outcome in outcomes if isinstance(outcome, Message)]


def closed_error(message_id: str) -> ClientClosedError:
    """The error a waiter gets when the client closes under it."""
    return ClientClosedError(
        f"the client was closed while job {message_id} was being followed; the job goes on on "
        f"the server: open a client and use client.job({message_id!r})"
    )
