"""Submissions that return at once: ``client.enqueue(client.inpaint(...))`` and its handle.

A web handler cannot wait its turn for the create budget (1 request per 3 s): ``enqueue`` checks
the request at once, in the caller's task (a bad one raises ``InvalidInputError`` there, nothing
sent), then hands back a ``Submission`` while a task of the client's queue waits for the budget
and sends it, in a copy of the caller's context (a trace id set by the caller travels with it).
What the submission needs below (its last step before the request leaves) is passed down
explicitly as ``SubmitOptions``. The
rules of a direct call hold once it is sent: a request that may have been processed is never resent
(the handle ends with ``SubmissionUncertainError``).

Until it is sent a submission can be cancelled: nothing is sent, nothing is paid. When the client
closes, submissions not sent yet are not sent; their handles end with ``ClientClosedError``, while
those already on the wire finish (their answer is awaited, so that nothing is paid unseen).
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import math
import secrets
from collections import OrderedDict
from collections.abc import Generator
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._calls import JobCall, Prepared, Submit, SubmitOptions, steps
from ._errors import ClientClosedError, ImagineProError, SubmissionCancelledError
from ._jobs import Job
from ._models import Message

__all__ = ["Submission", "SubmissionQueue", "SubmissionState"]

logger = logging.getLogger("imaginepro_async")

#: Ended submissions kept for ``client.submission(id)`` (the oldest are forgotten first).
_KEPT = 10_000


class SubmissionState(enum.Enum):
    """Where a submission is: waiting its turn, on the wire, then one of three ends."""

    WAITING = "waiting"  # in line for the create budget: can still be cancelled
    SENDING = "sending"  # on the wire: it may be paid for from now on
    SUBMITTED = "submitted"  # the server took it: ``job`` and ``message_id`` are known
    FAILED = "failed"  # refused, uncertain, or the client closed before it was sent
    CANCELLED = "cancelled"  # cancelled before it was sent: nothing sent, nothing paid


_CANCELLABLE = (SubmissionState.WAITING,)
_Item = tuple["Submission", Prepared[Any], Submit, contextvars.Context]


class Submission:
    """A job accepted by the client and sent when its turn comes (see ``client.enqueue``).

    ``id`` is a local, unguessable id an app can hand out (``202 Accepted``) before the job has a
    messageId. ``await submission`` waits for the final Message, like ``await job``.
    """

    def __init__(self, queue: SubmissionQueue) -> None:
        self.id = secrets.token_urlsafe(12)
        self.state = SubmissionState.WAITING
        self.job: Job | None = None
        self.error: ImagineProError | None = None
        self._queue = queue
        self._scope = anyio.CancelScope()
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

    async def cancel(self) -> bool:
        """Cancel it, wherever it is: out of the line if it was not sent yet (nothing sent,
        nothing paid), or its job on the server (Cancel Job) if the server already took it.

        Returns True if it was cancelled either way; False if it is on the wire right now (cancel
        its ``job`` once ``submitted()`` returns), or had already ended.
        """
        if self.state in _CANCELLABLE:
            self._end(SubmissionState.CANCELLED, SubmissionCancelledError(self.id))
            return True
        if self.state is SubmissionState.SUBMITTED and self.job is not None:
            return await self.job.cancel()
        return False

    # -- what the queue's task does ----------------------------------------------------------------

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
        if self.state in _CANCELLABLE:
            self._scope.cancel()  # stop its task wherever it waits: nothing was sent
        self.state, self.error, self.job = state, error, job
        self._queue._line.pop(self.id, None)
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

    async def put(self, call: JobCall) -> Submission:
        """Check ``call`` (such as ``client.inpaint(...)``) in this task, queue it, return its
        handle; it is sent later in a copy of this task's context."""
        prepare, submit = steps(call)
        if self._closed or self._send is None:
            raise ClientClosedError("the client is not open: submissions are accepted while it is")
        prepared = await prepare()  # a bad argument raises here: nothing queued, nothing sent
        if self._closed:
            raise ClientClosedError("the client closed while the submission was being checked")
        submission = Submission(self)
        self._remember(submission)
        self._line[submission.id] = submission
        context = contextvars.copy_context()
        self._send.send_nowait((submission, prepared, submit, context))
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
            async for submission, prepared, submit, context in receive:
                # Started in the caller's context: its task copies it, not the queue's.
                context.run(tasks.start_soon, self._one, submission, prepared, submit)

    async def _one(self, submission: Submission, prepared: Prepared[Any], submit: Submit) -> None:
        with submission._scope:
            if submission.done():  # cancelled, or the client closed, before its task ran
                return
            try:
                job = await submit(prepared, SubmitOptions(before_send=submission._sending))
            except ImagineProError as exc:
                submission._end(SubmissionState.FAILED, exc)
            except Exception as exc:
                logger.exception("submission %s failed unexpectedly", submission.id)
                error = ImagineProError(f"submission {submission.id} failed: {exc!r}")
                error.__cause__ = exc
                submission._end(SubmissionState.FAILED, error)
            else:
                submission._end(SubmissionState.SUBMITTED, None, job)
