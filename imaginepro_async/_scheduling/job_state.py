"""What a job's handles share: its latest Message, its outcome and its waiters (``JobState``).

The scheduler creates and writes it (it owns the job state it writes); ``Job`` handles read it and
wait on it. Events are created only when someone waits, so that a followed job costs few objects.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import anyio

from imaginepro_async._errors import ClientClosedError, ImagineProError
from imaginepro_async._models import Message

__all__ = ["JobState", "closed_error"]

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


def closed_error(message_id: str) -> ClientClosedError:
    """The error a waiter gets when the client closes under it."""
    return ClientClosedError(
        f"the client was closed while job {message_id} was being followed; the job goes on on "
        f"the server: open a client and use client.job({message_id!r})"
    )
