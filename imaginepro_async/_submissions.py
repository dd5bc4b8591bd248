"""Submissions that return at once: ``client.enqueue(client.inpaint(...))`` and its handle.

A web handler cannot wait its turn for the create budget (1 request per 3 s): ``enqueue`` checks
the request at once (a bad one raises ``InvalidInputError`` in the caller, nothing sent), then hands
back a ``Submission`` while a task of the client's queue waits for the budget and sends it. The
rules of a direct call hold once it is sent: a request that may have been processed is never resent
(the handle ends with ``SubmissionUncertainError``).

Until it is sent a submission can be cancelled: nothing is sent, nothing is paid. When the client
closes, submissions not sent yet are not sent; their handles end with ``ClientClosedError``, while
those already on the wire finish (their answer is awaited, so that nothing is paid unseen).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import secrets
from collections import OrderedDict
from collections.abc import Coroutine, Generator
from contextvars import ContextVar
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._errors import ClientClosedError, ImagineProError, SubmissionCancelledError
from ._jobs import Job
from ._models import Message
from ._wire.sender import before_send

__all__ = ["Submission", "SubmissionQueue", "SubmissionState", "accepted"]

logger = logging.getLogger("imaginepro_async")

#: Ended submissions kept for ``client.submission(id)`` (the oldest are forgotten first).
_KEPT = 10_000

_CURRENT: ContextVar[Submission | None] = ContextVar("imaginepro_submission", default=None)


def accepted() -> None:
    """The request of this task's submission passed every check and now waits for its turn.

    Called by the client right before a job-creating request waits for the create budget.
    """
    submission = _CURRENT.get()
    if submission is not None:
        submission._accept()


class SubmissionState(enum.Enum):
    """Where a submission is: checked, waiting its turn, on the wire, then one of three ends."""

    CHECKING = "checking"  # its arguments are being checked (the mask loaded)
    WAITING = "waiting"  # in line for the create budget: can still be cancelled
    SENDING = "sending"  # on the wire: it may be paid for from now on
    SUBMITTED = "submitted"  # the server took it: ``job`` and ``message_id`` are known
    FAILED = "failed"  # refused, uncertain, or the client closed before it was sent
    CANCELLED = "cancelled"  # cancelled before it was sent: nothing sent, nothing paid


_CANCELLABLE = (SubmissionState.CHECKING, SubmissionState.WAITING)
_Item = tuple["Submission", Coroutine[Any, Any, Job]]


class Submission:
    """A job accepted by the client and sent when its turn comes (see ``client.enqueue``).

    ``id`` is a local, unguessable id an app can hand out (``202 Accepted``) before the job has a
    messageId. ``await submission`` waits for the final Message, like ``await job``.
    """

    def __init__(self, queue: SubmissionQueue) -> None:
        self.id = secrets.token_urlsafe(12)
        self.state = SubmissionState.CHECKING
        self.job: Job | None = None
        self.error: ImagineProError | None = None
        self._queue = queue
        self._scope = anyio.CancelScope()
        self._checked = anyio.Event()
        self._settled = anyio.Event()

    def __repr__(self) -> str:
        place = self.position
        where = self.message_id or (f"#{place} in line" if place else "")
        return f"<Submission {self.id} {self.state.value}{' ' + where if where else ''}>"

    @property
    def message_id(self) -> str | None:
        """The job's messageId once the server took it; None before."""
        return None if self.job is None else self.job.message_id

    @property
    def position(self) -> int | None:
        """Its place in this client's line of waiting submissions (1: sent next); None after."""
        return self._queue.position(self) if self.state is SubmissionState.WAITING else None

    def done(self) -> bool:
        """True once it was sent and answered, failed, or was cancelled."""
        return self._settled.is_set()

    async def submitted(self) -> Job:
        """Wait until the server took it, and return its ``Job`` (its ``message_id`` is known).

        Raises:
            SubmissionCancelledError: it was cancelled before it was sent.
            ClientClosedError: the client closed before it was sent (it was not sent).
            SubmissionUncertainError: it may have been processed, and was not resent.
            APIStatusError: the server refused it.
        """
        await self._settled.wait()
        if self.job is None:
            assert self.error is not None
            raise self.error
        return self.job

    async def wait(self) -> Message:
        """Wait until it is sent, then for the job's final Message (as ``await job``)."""
        job = await self.submitted()
        return await job

    def __await__(self) -> Generator[object, None, Message]:
        return self.wait().__await__()

    def cancel(self) -> bool:
        """Take it out of the line if it was not sent yet: then nothing is sent, nothing paid.

        Returns True if it was cancelled, False if it was already sent (cancel its ``job``
        instead, which presses Cancel Job on the server) or had ended.
        """
        if self.state not in _CANCELLABLE:
            return False
        self._end(SubmissionState.CANCELLED, SubmissionCancelledError(self.id))
        return True

    # -- what the queue's task does ----------------------------------------------------------------

    def _accept(self) -> None:
        if self.state is SubmissionState.CHECKING:
            self.state = SubmissionState.WAITING
            self._queue._line[self.id] = self
            self._checked.set()

    async def _sending(self) -> None:
        # The create permit is held and the request is about to leave: past this, no cancel.
        if self.state is not SubmissionState.WAITING:
            raise self.error or ClientClosedError(f"submission {self.id} cannot be sent")
        self.state = SubmissionState.SENDING
        self._queue._line.pop(self.id, None)

    def _end(
        self, state: SubmissionState, error: ImagineProError | None, job: Job | None = None
    ) -> None:
        if self._settled.is_set():
            return
        if self.state in _CANCELLABLE and _CURRENT.get() is not self:
            self._scope.cancel()  # stop its task wherever it waits: nothing was sent
        self.state, self.error, self.job = state, error, job
        self._queue._line.pop(self.id, None)
        self._checked.set()
        self._settled.set()


class SubmissionQueue:
    """The client's line of submissions and the task that sends them (owned by the client)."""

    def __init__(self) -> None:
        self._line: OrderedDict[str, Submission] = OrderedDict()  # waiting, in order
        self._known: OrderedDict[str, Submission] = OrderedDict()
        self._send: MemoryObjectSendStream[_Item] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Start the task that sends submissions (cancelled and awaited by ``aclose``)."""
        self._send, receive = anyio.create_memory_object_stream[_Item](max_buffer_size=math.inf)
        self._task = asyncio.get_running_loop().create_task(
            self._run(receive), name="imaginepro-async submissions"
        )

    def position(self, submission: Submission) -> int | None:
        """``submission``'s place among the waiting ones, from 1."""
        for place, waiting in enumerate(self._line.values(), start=1):
            if waiting is submission:
                return place
        return None

    def get(self, submission_id: str) -> Submission | None:
        """A submission of this queue by its id (recent ended ones included)."""
        return self._known.get(submission_id)

    async def put(self, request: Coroutine[Any, Any, Job]) -> Submission:
        """Check ``request`` (a call such as ``client.inpaint(...)``), queue it, return its handle."""
        if self._closed or self._send is None:
            request.close()
            raise ClientClosedError("the client is not open: submissions are accepted while it is")
        submission = Submission(self)
        self._remember(submission)
        self._send.send_nowait((submission, request))
        try:
            await submission._checked.wait()
        except BaseException:
            submission.cancel()  # the caller gave up while it was being checked
            raise
        if submission.state in (SubmissionState.FAILED, SubmissionState.CANCELLED):
            assert submission.error is not None
            raise submission.error  # refused before it was queued: nothing was sent
        return submission

    def _remember(self, submission: Submission) -> None:
        self._known[submission.id] = submission
        while len(self._known) > _KEPT:
            oldest = next(iter(self._known.values()))
            if not oldest.done():
                break
            self._known.popitem(last=False)

    async def aclose(self) -> None:
        """Send nothing more: submissions not sent end with ``ClientClosedError``; wait for the
        ones on the wire to be answered."""
        if self._closed:
            return
        self._closed = True
        for submission in list(self._known.values()):
            if submission.state in _CANCELLABLE:
                submission._end(
                    SubmissionState.FAILED,
                    ClientClosedError(
                        f"the client was closed before submission {submission.id} was sent; it "
                        "was not sent (nothing paid): submit it again with an open client"
                    ),
                )
        if self._send is not None:
            self._send.close()
        if self._task is not None:
            await asyncio.wait([self._task])

    async def _run(self, receive: MemoryObjectReceiveStream[_Item]) -> None:
        async with receive, anyio.create_task_group() as tasks:
            async for submission, request in receive:
                tasks.start_soon(self._one, submission, request)

    async def _one(self, submission: Submission, request: Coroutine[Any, Any, Job]) -> None:
        _CURRENT.set(submission)  # this task's own context: seen by ``accepted``
        with submission._scope, before_send(submission._sending):
            if submission.done():  # cancelled, or the client closed, before its task ran
                request.close()
                return
            try:
                job = await request
            except ImagineProError as exc:
                submission._end(SubmissionState.FAILED, exc)
            except Exception as exc:
                logger.exception("submission %s failed unexpectedly", submission.id)
                error = ImagineProError(f"submission {submission.id} failed: {exc!r}")
                error.__cause__ = exc
                submission._end(SubmissionState.FAILED, error)
            else:
                submission._end(SubmissionState.SUBMITTED, None, job)
