"""The shared poller: one per client, polling each live job when the planner says.

Every live job sits in one heap keyed by the time its next poll is due; one dispatcher task takes a
permit from the progress budget (10 requests/s by default), pops the most urgent job and polls it.
Each poll costs O(log n) heap work, whatever the number of live jobs. *When* a job is polled is the
poll policy, in ``planner.py`` (pure code, no I/O); this module only sleeps, polls, and wakes each
job's waiters (``JobState``) with what it saw. It keeps its own record of every job it follows.

A shared budget whose store is away (Redis: ``CoordinationError``) is weather: the dispatcher waits
and tries again with backoff, failing no job. A dispatcher that stops on anything else (a bug)
fails every waiter at once and tells its owner (``on_failure``), which breaks the client.

Over 500 lines: the heap, the dispatcher, the polls and admission share the job records and the
planner, and one owner of them is simpler than a split that hands them across modules.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import heapq
import logging
import math
import random
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

from imaginepro_async._errors import (
    APIConnectionError,
    ClientClosedError,
    CoordinationError,
    ImagineProError,
    JobCancelledError,
    JobDeadlineError,
    JobFailedError,
    NotFoundError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from imaginepro_async._events.hooks import Emitter
from imaginepro_async._models import Message, Status
from imaginepro_async._pacing.budget import Budget, Permit
from imaginepro_async._pacing.clock import Clock
from imaginepro_async._pacing.retry import backoff
from imaginepro_async._wire.endpoints import Endpoint

from .admission import Admission, Admissions, BeforeSend, Held
from .job_state import JobState, closed_error
from .planner import Failure, PlannedJob, Planner, PollPolicy, Verdict
from .telemetry import JobEvents

__all__ = ["Admission", "Held", "PollPolicy", "Scheduler", "SchedulerState"]

logger = logging.getLogger("imaginepro_async")

#: The one message for a scheduler used while not running (the client has its own, more precise).
_NOT_OPEN = (
    "the client following this job is not open (not entered yet, or closed): use "
    "`async with ImagineProClient(...) as client:` and client.job(message_id)"
)


#: One poll of a job: its Message, fetched with the given permit of the progress budget, through
#: the job's progress endpoint (None: the Message one).
Fetcher = Callable[[str, Permit, Endpoint[None, Message] | None], Awaitable[Message]]
#: Told when the dispatcher stopped on an unexpected error (a bug): the client then breaks.
OnFailure = Callable[[Exception], None]

#: While the shared budget's store (Redis) cannot grant permits: backoff between tries, in API
#: seconds (each try itself waits the coordination's ``unreachable_timeout``).
_OUTAGE_BASE = 1.0
_OUTAGE_CAP = 15.0


class SchedulerState(enum.Enum):
    """Where a scheduler is in its life."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


def _crashed(exc: Exception, message_id: str) -> ImagineProError:
    error = ImagineProError(f"the client's scheduler failed: {exc!r}; please report it")
    error.__cause__ = exc
    return error


def _failure(exc: ImagineProError) -> Failure:
    if isinstance(exc, RateLimitError):
        return Failure.THROTTLED
    if isinstance(exc, ServerError | APIConnectionError):
        return Failure.TRANSIENT
    if isinstance(exc, ResponseValidationError):
        return Failure.INVALID
    if isinstance(exc, NotFoundError):
        return Failure.NOT_FOUND
    return Failure.FATAL


class Scheduler:
    """Polls every live job of one client through one budget (see the module docstring).

    Args:
        fetcher: one poll: fetches a job's Message with a permit of ``budget`` (the client's).
        budget: the progress budget the polls spend.
        rng: the jitter of retries.
        policy: the poll policy's durations (API seconds).
        clock: the client's clock.
        account_concurrency: how many jobs the account runs at once, if known (else learnt).
        events: the client's hooks (polls, ends, held submissions).
        on_failure: told when the dispatcher stops on an unexpected error (else each waiter gets
            an ``ImagineProError`` naming it).
    """

    def __init__(
        self,
        *,
        fetcher: Fetcher,
        budget: Budget,
        rng: random.Random,
        policy: PollPolicy,
        clock: Clock,
        account_concurrency: int | None = None,
        events: Emitter | None = None,
        on_failure: OnFailure | None = None,
    ) -> None:
        self._clock = clock
        self._events = JobEvents(events or Emitter(), clock)
        self._rng = rng
        self._on_failure = on_failure
        self._outage = 0  # failed tries of the budget in a row (its coordination is away)
        self._fetcher = fetcher
        self._budget = budget
        limit = budget.limit
        self._planner = Planner(
            policy,
            schedule=self._push,
            rng=rng,
            throttle_wait=limit.per,
            poll_rate=limit.requests / limit.per,
            account_concurrency=account_concurrency,
        )
        self._admissions = Admissions(self._planner, clock, self._events)
        self._changes = 0  # the planner's ``changes`` when held submissions were last judged
        self._jobs: dict[str, tuple[PlannedJob, JobState]] = {}
        self._routes: dict[
            str, Endpoint[None, Message]
        ] = {}  # jobs polled through another progress endpoint
        # (due, entry, messageId): no reference to the record, so that an entry (a new one at
        # every poll) is a tuple the garbage collector stops tracking at once (see ``_take``).
        self._heap: list[tuple[float, int, str]] = []
        self._entries = 0
        self._wakeup = anyio.Event()
        self._sleeping_until = math.inf
        self._state = SchedulerState.NEW
        self._task: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------------------

    @property
    def state(self) -> SchedulerState:
        """NEW, OPEN (polling) or CLOSED."""
        return self._state

    def ensure_open(self) -> None:
        """Raise ``ClientClosedError`` unless the scheduler runs."""
        if self._state is not SchedulerState.OPEN:
            raise ClientClosedError(_NOT_OPEN)

    def start(self) -> None:
        """Start the dispatcher, in a task this scheduler owns until ``aclose``."""
        if self._state is not SchedulerState.NEW:
            raise ClientClosedError(_NOT_OPEN)
        self._state = SchedulerState.OPEN
        # A task owned here (cancelled and awaited by aclose), not a task group held open across
        # the caller's code: that would tie the client to the cancel scopes of the task that
        # entered it, and closing from another task or scope would break.
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="imaginepro-async scheduler"
        )

    async def aclose(self) -> None:
        """Stop following jobs; their waiters get ``ClientClosedError``. Safe to repeat."""
        if self._state is not SchedulerState.CLOSED:
            self._state = SchedulerState.CLOSED
            self._resolve_all(closed_error)
            self._admissions.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # asyncio.wait does not raise the task's cancellation into us, but ours still comes.
            await asyncio.wait([task])
            if not task.cancelled() and (exc := task.exception()) is not None:
                logger.error("closing a client whose scheduler had failed: %r", exc)

    def fail(self, error: Callable[[str], ImagineProError]) -> None:
        """Stop at once (the client broke): each waiter gets ``error(message_id)``."""
        if self._state is SchedulerState.CLOSED:
            return
        self._state = SchedulerState.CLOSED
        self._resolve_all(error)
        self._signal_room()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _run(self) -> None:
        try:
            async with anyio.create_task_group() as polls:
                await self._dispatch(polls)
        except Exception as exc:
            # A bug here must not leave waiters hanging: each gets an error naming it at once.
            logger.exception("the scheduler stopped on an unexpected error")
            if self._on_failure is not None:
                self._on_failure(exc)
            self.fail(functools.partial(_crashed, exc))
            raise

    def _resolve_all(self, error: Callable[[str], ImagineProError]) -> None:
        jobs, self._jobs = self._jobs, {}
        self._routes.clear()
        for record, state in jobs.values():
            self._planner.drop(record)
            exc = error(record.message_id)
            if self._events.ends:
                self._events.ended(record, state, exc)
            state.resolve(exc)
        self._heap.clear()
        self._planner.clear()

    # -- what the client and the handles ask -----------------------------------------------------

    def route(self, message_id: str) -> Endpoint[None, Message] | None:
        """The progress endpoint ``message_id`` is polled through, if not the Message one."""
        return self._routes.get(message_id)

    def track(
        self,
        message_id: str,
        *,
        submitted: bool,
        created_at: float | None = None,
        timeout: float | None = None,
        fetch: Endpoint[None, Message] | None = None,
        webhook: bool = False,
        kind: str | None = None,
    ) -> JobState:
        """The shared state of ``message_id``, followed from now on until it ends.

        ``timeout`` is the job's server-side timeout (API seconds): a job not seen ending by then is
        looked at once just after it, even while it waits in the queue. ``fetch`` is the progress
        endpoint it is polled through (None: the Message one), handed back to the fetcher.
        ``webhook``: the job was created with the client's webhook URL, so deliveries are
        expected (it is polled far less).
        ``kind`` names its endpoint and button (durations are learnt per kind).
        """
        self.ensure_open()
        known = self._jobs.get(message_id)
        if known is not None:
            return known[1]
        state = JobState(message_id)
        # Registered before the planner schedules it: its first look may be pushed at once.
        record = self._planner.track(
            message_id,
            now=self._clock.now(),
            submitted=submitted,
            created_at=created_at,
            timeout=timeout,
            kind=kind,
        )
        self._jobs[message_id] = (record, state)
        if fetch is not None:
            self._routes[message_id] = fetch
        if webhook:
            self._planner.expect_webhooks(record, now=self._clock.now())
        return state

    def follows(self, message_id: str) -> bool:
        """True while ``message_id`` is followed (not ended, client open)."""
        return message_id in self._jobs

    def hint(
        self, message_id: str, *, final: bool, allow: Callable[[], bool] = lambda: True
    ) -> bool | None:
        """A webhook delivery about ``message_id`` arrived (``final``: it claims the job ended).

        The delivery is not believed: at most it makes the job be fetched at once (within the poll
        budget, if ``allow()``; a progress delivery only while someone follows the job's
        ``updates()``), and the fetched Message is what waiters see. Returns None for a
        job not followed, else whether a fetch was scheduled.
        """
        known = self._jobs.get(message_id)
        if known is None:
            return None
        record, state = known
        live = final or state.followed_live  # someone follows its progress: show it
        return self._planner.heard(record, now=self._clock.now(), look_now=live, allow=allow)

    @property
    def hold_reason(self) -> str | None:
        """Why submissions wait right now (None: none waits)."""
        return self._admissions.reason

    @property
    def held(self) -> int:
        """How many submissions wait."""
        return self._admissions.held

    async def admission(
        self, *, timeout: float, kind: str | None, before: BeforeSend | None = None
    ) -> Admission:
        """Wait until a new job of ``kind`` could end before its server-side ``timeout`` (API
        seconds), then let one submission through, its place among the jobs ahead reserved.

        The rule is checked again in the returned ``Admission``'s gate, right before the request
        leaves with the create permit held: submissions that waited for the permit are judged on
        what is known when they would be sent, not when they asked. A gate that raises ``Held``
        sends nothing; the caller asks again. ``before`` (the caller's own last step) runs in the
        gate once the rule passed.
        """
        self.ensure_open()
        await self._admissions.wait(timeout, kind)
        self.ensure_open()
        return Admission(self._admissions, timeout, kind, before)

    def _signal_room(self) -> None:
        self._admissions.signal()

    def watch(self, state: JobState, every: float) -> None:
        """Poll ``state`` at least every ``every`` seconds of this process while watched."""
        known = self._jobs.get(state.message_id)
        if known is not None:
            self._planner.watch(known[0], self._clock.api(every), now=self._clock.now())

    def unwatch(self, state: JobState, every: float) -> None:
        """Stop a ``watch``."""
        known = self._jobs.get(state.message_id)
        if known is not None:
            self._planner.unwatch(known[0], self._clock.api(every))

    def cancel_sent(self, message_id: str) -> None:
        """The server took Cancel Job for ``message_id``: look at it soon; it ends cancelled."""
        known = self._jobs.get(message_id)
        if known is not None:
            record = known[0]
            record.cancel_requested = True
            self._planner.poke(record, now=self._clock.now())

    def poke(self, message_id: str) -> None:
        """Look at a followed job soon, within the budget (a webhook said it changed)."""
        known = self._jobs.get(message_id)
        if known is not None:
            self._planner.poke(known[0], now=self._clock.now())

    def observe(self, message: Message, *, sent: float) -> None:
        """Take in a Message fetched outside the scheduler (``client.fetch``, sent at ``sent``)."""
        known = self._jobs.get(message.message_id)
        if known is not None:
            now = self._clock.now()
            self._take(*known, message, at=(sent + now) / 2, now=now)

    # -- the heap ----------------------------------------------------------------------------------

    def _push(self, record: PlannedJob) -> None:
        when = record.due
        assert when is not None
        self._entries += 1
        record.entry = self._entries
        heapq.heappush(self._heap, (when, self._entries, record.message_id))
        if when < self._sleeping_until:
            self._wakeup.set()

    def _top(self) -> tuple[PlannedJob, JobState] | None:
        heap = self._heap
        while heap:
            _, entry, message_id = heap[0]
            known = self._jobs.get(message_id)
            if known is not None:
                record = known[0]
                if record.entry == entry and record.due is not None and not record.ended:
                    return known
            heapq.heappop(heap)
        return None

    async def _dispatch(self, polls: TaskGroup) -> None:
        clock = self._clock
        while True:
            top = self._top()
            record = None if top is None else top[0]
            now = clock.now()
            if record is None or record.due is None or record.due > now:
                self._sleeping_until = math.inf if record is None else (record.due or now)
                self._wakeup = anyio.Event()
                with clock.move_on_after(self._sleeping_until - now):
                    await self._wakeup.wait()
                self._sleeping_until = -math.inf
                continue
            budget, events = self._budget, self._events
            try:
                permit = await (events.acquire(budget) if events.waits else budget.acquire())
            except CoordinationError as exc:
                await self._wait_out_outage(exc)
                continue
            if self._outage:
                logger.warning("the shared budget answers again: polling resumes")
                self._outage = 0
            top = self._top()
            if top is None or top[0].due is None or top[0].due > clock.now():
                await permit.give_back()
                continue
            heapq.heappop(self._heap)
            record, state = top
            record.due = None
            record.in_flight = True
            polls.start_soon(self._poll, record, state, permit)

    async def _wait_out_outage(self, exc: CoordinationError) -> None:
        """The shared budget's store (Redis) is away: weather, not death. No job is failed for it;
        polls wait and the dispatcher tries again with backoff, for as long as it takes."""
        if not self._outage:
            logger.warning("polls wait for the shared budget (%s); retrying until it is back", exc)
        else:
            logger.debug("the shared budget is still away (%s)", exc)
        wait = backoff(self._outage, base=_OUTAGE_BASE, cap=_OUTAGE_CAP, rng=self._rng)
        self._outage += 1
        await self._clock.sleep(wait)

    # -- one poll ----------------------------------------------------------------------------------

    async def _poll(self, record: PlannedJob, state: JobState, permit: Permit) -> None:
        sent = self._clock.now()
        state.polls += 1
        try:
            message = await self._fetcher(
                record.message_id, permit, self._routes.get(record.message_id)
            )
        except ImagineProError as exc:
            record.in_flight = False
            if self._events.polls:
                self._events.polled(state, None, exc, sent=sent)
            verdict = self._planner.poll_failed(record, _failure(exc), now=self._clock.now())
            logger.debug("poll of %s failed (%s): %s", record.message_id, exc, verdict.value)
            if verdict is Verdict.GIVE_UP:
                self._resolve(record, state, exc)
            return
        finally:
            record.in_flight = False
        now = self._clock.now()
        if self._events.polls:
            self._events.polled(state, message, None, sent=sent)
        self._take(record, state, message, at=(sent + now) / 2, now=now, sent=sent)

    def _take(
        self,
        record: PlannedJob,
        state: JobState,
        message: Message,
        *,
        at: float,
        now: float,
        sent: float | None = None,
    ) -> None:
        if record.ended:
            return
        if self._events.ends:
            self._events.seen(message, at=at)
        previous = state.latest
        if previous is None or (previous.status, previous.progress) != (
            message.status,
            message.progress,
        ):
            state.publish(message)
        elif previous != message:
            state.latest = message
        # else the Message seen before is kept: a new, equal one would live until the job's next
        # poll, long enough to reach the collector's oldest generation, and what is promoted there
        # paces the full collections (each one walks every live job's objects).
        verdict = self._planner.observe(
            record,
            message.status,
            message.progress,
            at=at,
            now=now,
            created_at=None if message.created_at is None else message.created_at.timestamp(),
            updated_at=None if message.updated_at is None else message.updated_at.timestamp(),
            sent=sent,
        )
        if verdict is Verdict.ENDED:
            self._resolve(record, state)
        elif verdict is Verdict.DEADLINE:
            waited = now - record.registered_at
            error = JobDeadlineError(message_id=record.message_id, message=message, waited=waited)
            self._resolve(record, state, error)
        elif self._planner.changes != self._changes:
            # A start seen (or more of the account's concurrency): held submissions may go.
            self._changes = self._planner.changes
            self._signal_room()

    def _resolve(
        self, record: PlannedJob, state: JobState, error: ImagineProError | None = None
    ) -> None:
        """End the job: its waiters get the final Message, or ``error``."""
        self._jobs.pop(record.message_id, None)
        self._routes.pop(record.message_id, None)
        self._planner.drop(record)
        self._signal_room()
        latest = state.latest
        if error is None and latest is not None and latest.status is Status.FAIL:
            cls = JobCancelledError if record.cancel_requested else JobFailedError
            error = cls(message_id=record.message_id, message=latest)
        if self._events.ends:
            self._events.ended(record, state, error)
        state.resolve(error)
