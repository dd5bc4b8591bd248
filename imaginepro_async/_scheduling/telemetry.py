"""What the scheduler tells the client's hooks: polls, ends (with detection lag), held submissions.

The scheduler asks ``JobEvents.polls`` / ``.ends`` / ``.holds`` first and skips all of this when
nobody listens. With listeners, it remembers per followed job when it last saw it unfinished, so
that a job's end reports how long it can have gone unseen.
"""

from __future__ import annotations

import time

from imaginepro_async._errors import ImagineProError
from imaginepro_async._events.hooks import Emitter
from imaginepro_async._events.records import (
    BudgetWaited,
    JobEnded,
    JobPolled,
    SubmissionHeld,
    SubmissionResumed,
)
from imaginepro_async._models import Message
from imaginepro_async._pacing.budget import Budget, Permit
from imaginepro_async._pacing.clock import Clock

from .job_state import JobState
from .plan import PlannedJob

__all__ = ["JobEvents"]


class JobEvents:
    """The scheduler's side of the client's ``Emitter`` (see the module)."""

    __slots__ = ("_clock", "_emitter", "_lags", "_running_seen", "ends", "holds", "polls", "waits")

    def __init__(self, emitter: Emitter, clock: Clock) -> None:
        self._emitter = emitter
        self._clock = clock
        self.polls = emitter.job_polled is not None
        self.ends = emitter.job_ended is not None
        self.waits = emitter.budget_wait is not None
        self.holds = emitter.submission_held is not None or emitter.submission_resumed is not None
        self._running_seen: dict[str, float] = {}  # messageId → when last seen unfinished (API s)
        self._lags: dict[
            str, float
        ] = {}  # messageId → API s from then to the look that saw its end

    async def acquire(self, budget: Budget) -> Permit:
        """A permit of the poll budget, the wait reported."""
        started = time.perf_counter()
        permit = await budget.acquire()
        if self._emitter.budget_wait is not None:
            wait = time.perf_counter() - started
            self._emitter.budget_wait(BudgetWaited(budget="poll", wait=wait))
        return permit

    def polled(
        self,
        state: JobState,
        message: Message | None,
        error: ImagineProError | None,
        *,
        sent: float,
    ) -> None:
        """A poll of ``state``'s job sent at ``sent`` (API s) answered ``message`` or failed."""
        if self._emitter.job_polled is None:
            return
        self._emitter.job_polled(
            JobPolled(
                message_id=state.message_id,
                poll=state.polls,
                status=None if message is None else str(message.status),
                progress=None if message is None else message.progress,
                duration=self._clock.local(self._clock.now() - sent),
                error=None if error is None else type(error).__name__,
            )
        )

    def seen(self, message: Message, *, at: float) -> None:
        """A look at a job, around API time ``at``."""
        if not message.is_terminal:
            self._running_seen[message.message_id] = at
        elif message.message_id in self._running_seen:
            self._lags[message.message_id] = at - self._running_seen.pop(message.message_id)

    def ended(self, record: PlannedJob, state: JobState, error: ImagineProError | None) -> None:
        """The scheduler stopped following ``record``'s job."""
        self._running_seen.pop(record.message_id, None)
        lag = self._lags.pop(record.message_id, None)
        if self._emitter.job_ended is None:
            return
        latest = state.latest
        final = latest is not None and latest.is_terminal
        self._emitter.job_ended(
            JobEnded(
                message_id=record.message_id,
                status=str(latest.status) if final and latest is not None else None,
                error=None if error is None else type(error).__name__,
                polls=state.polls,
                duration=self._clock.local(self._clock.now() - record.registered_at),
                detection_lag=None if lag is None else self._clock.local(lag),
                credits=state.cost,
            )
        )

    def held(self, kind: str | None, reason: str) -> None:
        """A submission of ``kind`` waits (``reason``)."""
        if self._emitter.submission_held is not None:
            self._emitter.submission_held(SubmissionHeld(kind=kind, reason=reason))

    def resumed(self, kind: str | None, since: float) -> None:
        """A held submission goes on; it waited since API time ``since``."""
        if self._emitter.submission_resumed is not None:
            waited = self._clock.local(self._clock.now() - since)
            self._emitter.submission_resumed(SubmissionResumed(kind=kind, waited=waited))
