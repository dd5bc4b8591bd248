"""The shared poller: one per client, deciding which job's progress to fetch next.

Every live job sits in one heap keyed by the time its next poll is due; one dispatcher task takes a
permit from the progress budget (10 requests/s by default), pops the most urgent job and polls it.
Each poll costs O(log n) heap work, whatever the number of live jobs.

**The policy** (all durations in ``PollPolicy``, which documents each):

- *Queued jobs wait their turn.* ImaginePro runs each account's jobs first in, first out (doc), so a
  queued job cannot start before the jobs created before it. Only the oldest of this client's jobs that
  are not known to have started (the *head*) is polled, every ``queued_interval``; the others are
  parked and cost nothing. When one of our jobs is seen finished, a slot has freed: the head is presumed
  started at that moment and is first polled ``start_probe`` later. When a job is seen started, every
  job created before it has started too.
- *Running jobs are polled near their end.* From two points (a presumed start or an earlier poll, and
  the latest poll) the job's progress rate gives an estimated end. The next poll is at that end (plus
  ``finish_margin``) when the estimate extrapolates at most ``max_extrapolation`` times the span it is
  based on; otherwise halfway to it, to refine. Past its estimated end a job is polled every
  ``overdue_interval``, growing by half each time up to ``overdue_max``. No running job waits longer than
  ``max_interval``.
- *A job's server-side timeout is a deadline.* A job not seen ending by its timeout (the one given
  at submission, else the documented 900 s) is looked at once just after it, even while parked in the
  queue: a job that times out waiting is seen then, not when its turn would have come.
- *Throttling slows, it does not fail.* A 429 pauses the whole budget for ``Retry-After``. 5xx,
  connection errors and unreadable answers are retried with exponential backoff and full jitter; the
  job is not failed by a transient error (a job whose answers stay unreadable ``max_invalid`` times in a
  row is failed with ``ResponseValidationError``).
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math

import anyio
import attrs
from anyio.abc import TaskGroup

from ._budget import Budget, Permit
from ._clock import Clock
from ._endpoints import MESSAGE, Endpoint
from ._errors import (
    APIConnectionError,
    ClientClosedError,
    ImagineProError,
    NotFoundError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from ._jobs import JobState, closed_error
from ._models import Message, Status
from ._transport import Transport

__all__ = ["PollPolicy", "Scheduler"]

logger = logging.getLogger("imaginepro_async")

_POSITIVE = attrs.validators.gt(0.0)
_POSITIVE_COUNT = attrs.validators.gt(0)


@attrs.frozen(kw_only=True)
class PollPolicy:
    """When the scheduler polls a job. Seconds of real time (the client's ``time_scale`` divides them).

    Attributes:
        first_poll: after a submission, when the job is first looked at (if it heads the queue).
        queued_interval: how often the oldest queued job is looked at while no slot frees.
        start_probe: after a job is presumed started, when it is first looked at.
        probe_interval: a running job whose rate is not known yet is looked at this often.
        finish_margin: a job is looked at this long after its estimated end.
        max_extrapolation: an end estimate is trusted when the remaining time is at most this many
            times the span it was measured over; otherwise the next look is halfway to it.
        overdue_interval: the first wait after a job outlived its estimate; grows by half each time.
        overdue_max: the longest wait for an overdue job.
        max_interval: the longest any running job goes without a look.
        max_invalid: unreadable answers in a row before a job is failed.
        max_not_found: 404s in a row before a job is failed as unknown.
        retry_base: the first backoff ceiling after a transient error; doubles each time.
        retry_cap: the largest backoff ceiling.
    """

    first_poll: float = attrs.field(default=5.0, validator=_POSITIVE)
    queued_interval: float = attrs.field(default=20.0, validator=_POSITIVE)
    start_probe: float = attrs.field(default=20.0, validator=_POSITIVE)
    probe_interval: float = attrs.field(default=10.0, validator=_POSITIVE)
    finish_margin: float = attrs.field(default=0.3, validator=attrs.validators.ge(0))
    max_extrapolation: float = attrs.field(default=2.0, validator=_POSITIVE)
    overdue_interval: float = attrs.field(default=0.5, validator=_POSITIVE)
    overdue_max: float = attrs.field(default=10.0, validator=_POSITIVE)
    max_interval: float = attrs.field(default=60.0, validator=_POSITIVE)
    max_invalid: int = attrs.field(default=5, validator=_POSITIVE_COUNT)
    max_not_found: int = attrs.field(default=3, validator=_POSITIVE_COUNT)
    retry_base: float = attrs.field(default=0.5, validator=_POSITIVE)
    retry_cap: float = attrs.field(default=30.0, validator=_POSITIVE)

    def scaled(self, factor: float) -> PollPolicy:
        """The same policy with every duration multiplied by ``factor``."""
        counts = {"max_extrapolation", "max_invalid", "max_not_found"}
        return attrs.evolve(
            self,
            **{
                field.name: getattr(self, field.name) * factor
                for field in attrs.fields(PollPolicy)
                if field.name not in counts
            },
        )


class Scheduler:
    """Polls every live job of one client through one budget (see the module docstring)."""

    def __init__(
        self, *, transport: Transport, budget: Budget, policy: PollPolicy, clock: Clock
    ) -> None:
        self._clock = clock
        self._transport = transport
        self._budget = budget
        self._policy = policy
        self._states: dict[str, JobState] = {}
        self._heap: list[tuple[float, int, JobState]] = []
        self._queue: list[tuple[tuple[float, int], int, JobState]] = []
        self._entries = 0
        # Starts of our queued jobs that we saw directly (not presumed from a freed slot): each used
        # a slot freed by a completion we may not have seen yet, which then must not be counted twice.
        self._unpaid_starts = 0
        # Whether the account looked full at the last look at a queued job of ours.
        self._saturated = False
        self._wakeup = anyio.Event()
        self._sleeping_until = math.inf
        self._running = False
        self._closed = False

    # -- life cycle ------------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Raise unless the dispatcher runs (the client was entered and not closed)."""
        if self._closed:
            raise ClientClosedError("the client is closed; open a new one to follow jobs")
        if not self._running:
            raise ClientClosedError(
                "the client is not open: use `async with ImagineProClient(...) as client:`"
            )

    def open(self) -> None:
        """Accept waiters from now on (the client starts ``run`` right after)."""
        self._running = True

    async def run(self) -> None:
        """The dispatcher: runs until cancelled (when the client closes)."""
        try:
            async with anyio.create_task_group() as polls:
                await self._dispatch(polls)
        except Exception as exc:
            # A bug here must not leave waiters hanging: each gets an error naming it.
            logger.exception("the scheduler stopped on an unexpected error")
            self._running = False
            for state in list(self._states.values()):
                error = ImagineProError(f"the client's scheduler failed: {exc!r}; please report it")
                error.__cause__ = exc
                state.resolve(error)
            self._states.clear()
            raise

    def close(self) -> None:
        """Stop following jobs; their waiters get ``ClientClosedError``."""
        self._closed = True
        self._running = False
        for state in list(self._states.values()):
            state.resolve(closed_error(state.message_id))
        self._states.clear()
        self._heap.clear()
        self._queue.clear()

    # -- registration ----------------------------------------------------------------------------

    def track(
        self,
        message_id: str,
        *,
        submitted: bool,
        created_at: float | None = None,
        timeout: float | None = None,
        fetch: Endpoint | None = None,
    ) -> JobState:
        """The shared state of ``message_id``, followed from now on until it ends.

        ``timeout`` is the job's server-side timeout (in this process's seconds): a job not seen
        ending by then is looked at once just after it, even while it waits in the queue.
        ``fetch`` is the progress endpoint to poll it through (default: the Message one).
        """
        state = self._states.get(message_id)
        if state is not None:
            return state
        now = anyio.current_time()
        state = JobState(message_id, now=now, submitted=submitted)
        state.fetch = fetch
        if timeout is not None:
            state.deadline = now + timeout + self._policy.overdue_interval
        self._states[message_id] = state
        self._entries += 1
        state.fifo_key = (math.inf if created_at is None else created_at, self._entries)
        if submitted:
            # Not known to have started: it waits behind our older jobs (FIFO).
            self._enqueue(state)
            self._schedule_head()
        else:
            self._schedule(state, now)
        return state

    def tracked(self, message_id: str) -> JobState | None:
        """The state of ``message_id`` if it is being followed."""
        return self._states.get(message_id)

    def watch(self, state: JobState, every: float) -> None:
        """Poll ``state`` at least every ``every`` seconds while watched."""
        state.watchers.append(every)
        if state.due is not None and not state.in_flight:
            self._schedule(state, min(state.due, anyio.current_time() + every))
        elif state.due is None and not state.in_flight and not state.resolved:
            self._schedule(state, anyio.current_time())

    def unwatch(self, state: JobState, every: float) -> None:
        """Stop a ``watch``."""
        with contextlib.suppress(ValueError):
            state.watchers.remove(every)

    def poke(self, state: JobState) -> None:
        """Look at ``state`` soon (after a cancel, for example)."""
        if not state.resolved and not state.in_flight:
            self._schedule(state, anyio.current_time() + self._policy.overdue_interval)

    def observe(self, state: JobState, message: Message, at: float) -> None:
        """Take in a Message fetched outside the scheduler (``client.fetch``)."""
        if state.resolved:
            return
        self._apply(state, message, at)

    # -- the heap ----------------------------------------------------------------------------------

    def _schedule(self, state: JobState, when: float) -> None:
        if state.deadline is not None:
            when = min(when, state.deadline)
        if state.watchers:
            when = min(when, anyio.current_time() + min(state.watchers))
        self._entries += 1
        state.due = when
        state.entry = self._entries
        heapq.heappush(self._heap, (when, self._entries, state))
        if when < self._sleeping_until:
            self._wakeup.set()

    def _unschedule(self, state: JobState) -> None:
        state.due = None  # its heap entry goes stale and is skipped

    def _top(self) -> JobState | None:
        heap = self._heap
        while heap:
            _, entry, state = heap[0]
            if state.entry == entry and state.due is not None and not state.resolved:
                return state
            heapq.heappop(heap)
        return None

    async def _dispatch(self, polls: TaskGroup) -> None:
        while True:
            state = self._top()
            now = anyio.current_time()
            if state is None or state.due is None or state.due > now:
                self._sleeping_until = math.inf if state is None else (state.due or now)
                self._wakeup = anyio.Event()
                with anyio.move_on_after(self._sleeping_until - now):
                    await self._wakeup.wait()
                self._sleeping_until = -math.inf
                continue
            permit = await self._budget.acquire()
            state = self._top()
            if state is None or state.due is None or state.due > anyio.current_time():
                await permit.give_back()
                continue
            heapq.heappop(self._heap)
            state.due = None
            state.in_flight = True
            polls.start_soon(self._poll, state, permit)

    # -- one poll ----------------------------------------------------------------------------------

    async def _poll(self, state: JobState, permit: Permit) -> None:
        fetch = state.fetch or MESSAGE
        path = fetch.path_for(message_id=state.message_id)
        sent = anyio.current_time()
        state.polls += 1
        try:
            data = await self._transport.attempt("GET", path, self._budget, permit=permit)
            message: Message = self._transport.structure(data, fetch.answer, "GET", path)
            if message.message_id != state.message_id:
                raise ResponseValidationError(
                    f"asked for job {state.message_id} but the answer is about "
                    f"{message.message_id}",
                    body=str(data)[:500],
                    method="GET",
                    url=str(self._transport.url(path)),
                )
        except ImagineProError as exc:
            state.in_flight = False
            self._failed_poll(state, exc)
            return
        finally:
            state.in_flight = False
        state.errors_in_row = state.invalid_in_row = state.not_found_in_row = 0
        if state.deadline is not None and sent >= state.deadline:
            state.deadline = None  # looked at after its timeout: no special case any more
        if not state.resolved:
            self._apply(state, message, (sent + anyio.current_time()) / 2)

    def _failed_poll(self, state: JobState, exc: ImagineProError) -> None:
        if state.resolved:
            return
        state.errors_in_row += 1
        # Only unreadable answers and 404s can end a job, each after its own run of them: a
        # transient error (429, 5xx, connection) between them does not count towards either.
        transient = isinstance(exc, RateLimitError | ServerError | APIConnectionError)
        if isinstance(exc, ResponseValidationError):
            state.invalid_in_row += 1
            transient = state.invalid_in_row < self._policy.max_invalid
        elif isinstance(exc, NotFoundError):
            # The id came from the server, so a 404 may be a replica lagging: a few before giving up.
            state.not_found_in_row += 1
            transient = state.not_found_in_row < self._policy.max_not_found
        logger.debug("poll of %s failed (%s), transient=%s", state.message_id, exc, transient)
        if not transient:
            self._finish(state, exc)
            return
        if isinstance(exc, RateLimitError):
            delay = self._clock.local(self._budget.limit.per)  # the budget waits out Retry-After
        else:
            ceiling = min(
                self._policy.retry_cap, self._policy.retry_base * 2.0 ** (state.errors_in_row - 1)
            )
            delay = self._transport.rng.uniform(0.0, ceiling)
        self._schedule(state, anyio.current_time() + delay)

    def _finish(self, state: JobState, exc: ImagineProError | None = None) -> None:
        self._unschedule(state)
        self._states.pop(state.message_id, None)
        if state.in_queue:
            state.in_queue = False
            self._schedule_head()
        state.resolve(exc)

    # -- the policy --------------------------------------------------------------------------------

    def _apply(self, state: JobState, message: Message, at: float) -> None:
        previous = state.latest
        if previous is None or (previous.status, previous.progress) != (
            message.status,
            message.progress,
        ):
            state.publish(message)
        else:
            state.latest = message
        if state.fifo_key[0] == math.inf and message.created_at is not None:
            state.fifo_key = (message.created_at.timestamp(), state.fifo_key[1])
        state.last_poll_at = at
        status = message.status
        was_queued = state.in_queue and previous is not None and previous.status is Status.QUEUED
        if status.is_terminal:
            ran = (
                status is Status.DONE
                or (previous is not None and previous.status is Status.PROCESSING)
                or (previous is None and state.submitted)
            )
            if was_queued and ran:
                self._unpaid_starts += 1
            self._started_before(state)
            self._finish(state)
            if ran:
                # A slot freed at the latest now: presume the next job started then, which can only
                # make its end look earlier than it is (never later).
                self._slot_freed(at, state)
            return
        if status is Status.PROCESSING:
            if state.in_queue:
                # A queued job of ours seen running without a freed slot to explain it: the
                # account had room (or a slot freed that we have not seen yet).
                self._saturated = was_queued and self._saturated
                if was_queued:
                    self._unpaid_starts += 1
                self._dequeue(state)
            self._started_before(state)
            self._schedule(state, self._next_look(state, message, at))
            return
        if status is Status.QUEUED:
            self._saturated = True
            state.anchor_time = state.first_seen_time = None
            if not state.in_queue:
                self._enqueue(state)
            self._schedule_head()
            if state.watchers and state.due is None:
                self._schedule(state, at + min(state.watchers))  # someone watches it live
            return
        # An unknown status: not terminal, no rate to go by.
        self._schedule(state, at + self._policy.probe_interval)

    def _next_look(self, state: JobState, message: Message, at: float) -> float:
        """When to look at a running job next: at the earliest end its progress allows.

        Progress is reported rounded down, so at ``at`` the job is somewhere in [p, p + 1). Two
        anchors give a rate: the job's presumed start (progress 0, from a freed slot; a guess that
        can be wrong) and its first look while running (real). The fastest rate either implies
        gives the earliest plausible end: looking a little early costs one short extra poll, looking
        late costs detection lag. The end is trusted once the real looks span enough of the job.
        """
        policy = self._policy
        progress = float(message.progress)
        if state.first_seen_time is None:
            state.first_seen_time, state.first_seen_progress = at, progress
        rates = []
        real_span = at - state.first_seen_time
        if real_span > 0 and progress > state.first_seen_progress:
            rates.append((progress + 1.0 - state.first_seen_progress) / real_span)
        if state.anchor_time is not None and at > state.anchor_time and progress > 0:
            rates.append((progress + 1.0) / (at - state.anchor_time))
        if not rates:
            return at + policy.probe_interval  # nothing to measure a rate with yet
        remaining = max(0.0, (99.0 - progress) / max(rates))
        if remaining <= policy.finish_margin:
            # At or past its estimated end and still running: look again soon, then less often.
            wait = min(policy.overdue_max, policy.overdue_interval * 1.5**state.overdue_steps)
            state.overdue_steps += 1
        elif real_span <= 0:
            # One real look: the presumed start alone may be wrong; measure a real rate first.
            wait = min(remaining / 2, policy.probe_interval)
        elif remaining > policy.max_extrapolation * real_span:
            wait = remaining / 2  # the real looks span too little of the job: refine halfway
        else:
            wait = remaining + policy.finish_margin
        return at + min(wait, policy.max_interval)

    # -- the FIFO queue of jobs not known to have started ---------------------------------------

    def _enqueue(self, state: JobState) -> None:
        state.in_queue = True
        self._entries += 1
        state.queue_entry = self._entries
        heapq.heappush(self._queue, (state.fifo_key, self._entries, state))
        if state.deadline is not None and state.due is None and not state.in_flight:
            # Parked, but the server times it out at its deadline: one look just after.
            self._schedule(state, state.deadline)

    def _dequeue(self, state: JobState) -> None:
        state.in_queue = False
        self._schedule_head()

    def _head(self) -> JobState | None:
        queue = self._queue
        while queue:
            _, entry, state = queue[0]
            if state.in_queue and not state.resolved and entry == state.queue_entry:
                return state
            heapq.heappop(queue)
        return None

    def _schedule_head(self) -> None:
        head = self._head()
        if head is None or head.in_flight:
            return
        if head.latest is None:
            when = head.registered_at + self._policy.first_poll
            if self._saturated:
                # The last queue head we looked at was still waiting: this one waits for a slot too.
                when = max(when, anyio.current_time() + self._policy.queued_interval)
        else:
            when = (head.last_poll_at or anyio.current_time()) + self._policy.queued_interval
        if head.due is None or when < head.due:
            self._schedule(head, when)

    def _started_before(self, state: JobState) -> None:
        """``state`` has started: every job of ours created before it has started too (FIFO)."""
        while True:
            head = self._head()
            if head is None or head.fifo_key >= state.fifo_key:
                break
            heapq.heappop(self._queue)
            head.in_queue = False
            if head.latest is not None and head.latest.status is Status.QUEUED:
                self._unpaid_starts += 1
            if not head.in_flight:
                self._schedule(head, anyio.current_time())
        self._schedule_head()

    def _slot_freed(self, at: float, finished: JobState) -> None:
        if self._unpaid_starts > 0:
            # The slot went to a queued job we already saw start.
            self._unpaid_starts -= 1
            return
        head = self._head()
        if head is None:
            return
        heapq.heappop(self._queue)
        head.in_queue = False
        logger.debug(
            "%s ended by %.3f: %s presumed started", finished.message_id, at, head.message_id
        )
        head.anchor_time = at  # its presumed start, at progress 0
        if not head.in_flight:
            self._schedule(head, at + self._policy.start_probe)
        self._schedule_head()
