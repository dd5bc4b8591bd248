"""The poll policy: when to look at each job, decided without I/O and without reading a clock.

Every method takes the time (``now``, in API seconds, from ``Clock.now()``) as an argument and only
updates records; the scheduler around it sleeps, polls and wakes waiters. Each rule below has a
table-driven test in ``tests/client/test_planner.py``.

It is over 500 lines on purpose: the rules interact (a start seen frees the head, a webhook slows
the schedule, the budget's spare share buys fresh looks) and are read, reviewed and tested together
against this docstring; what they keep per job (``plan.py``), what they learn (``estimates.py``) and
their settings (``policy.py``) are already apart.

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
- *Free budget is spent, not saved.* While the running jobs need less than ``budget_share`` of the
  poll budget, none goes longer than ``fresh_interval`` without a look (a FAIL is not foretold by
  progress), and a job past its estimated end is looked at every ``overdue_interval``. Once a few
  jobs failed, that interval follows where in their progress jobs fail (``FailurePoints``:
  Keller's schedule, looks denser where the hazard is higher, from half to 1.5 times it). When the
  budget binds, every wait stretches to the fair share (running jobs over the share's rate).
- *Durations are learnt per kind* (endpoint and button, ``_estimates.Durations``): the first look
  after a presumed start is at the kind's 10 % quantile instead of ``start_probe``.
- *Submissions wait while they could not end in time* (``hold``): the account's concurrency
  is learnt from the jobs seen running together (capped by looks that found it full), the
  distribution of durations per kind from the jobs seen DONE, the running ones whose rate tells
  their duration, and the running ones without a rate (censored at their age); a new job waits
  while the risk that it could have ended in time but stays queued too long exceeds
  ``queue_risk`` (see ``survival.py``), and, once a look found the account full, while its
  median start is more than ``queue_horizon`` away: the work queued keeps the account busy, and
  what waits in the client is not paid for and cannot time out in the queue when the jobs ahead
  turn out slower.
- *A running job without a rate is looked at again soon*: within the fresh-look cap while the
  budget is free, and no later than the end its kind's shortest durations foretell. A new job of
  a kind learnt to be shorter than ``first_poll`` is first looked at near its shortest durations.
  *When the budget binds*, a running job without a rate is looked at just after the latest end
  its stamps allow (within the fresh-look cap): it
  reached ``p`` % at ``updatedAt`` having run at most since ``createdAt``, so it ends at most
  ``(100 - p) / p * (updatedAt - createdAt)`` after that moment, itself before the answer (one
  difference of two server stamps: no clock offset needed). Exact for a job that never queued: one
  more look, not a probe and then one at the end.
- *First looks of jobs followed by id are booked at the budget's rate* (a window's worth at once),
  and a look at a stamped end takes the slot of a first look booked after it: that look is not
  queued behind a backlog of first looks whose jobs may still be running, and each first look that
  waits meanwhile is likelier to find its job ended.
- *A job's server-side timeout is a deadline.* A job not seen ending by its timeout (the one given
  at submission, else the documented 900 s) is looked at once just after it, even while parked in the
  queue: a job that times out waiting is seen then, not when its turn would have come. The server
  ends every job by then; one still not ended ``deadline_grace`` after its timeout (an unknown status
  that never changes, say) is given up with ``JobDeadlineError``, so that no wait is endless. A job
  followed by id (``client.job``), whose timeout is unknown, gets the longest one (900 s) from the
  moment it was first followed.
- *Throttling slows, it does not fail.* A 429 pauses the whole budget for ``Retry-After``; the job is
  looked at again one budget window later. 5xx, connection errors and unreadable answers are retried
  with exponential backoff and full jitter (``retry.backoff``); the job is not failed by a transient
  error (a job whose answers stay unreadable ``max_invalid`` times in a row is given up, and one the
  server does not know ``max_not_found`` times in a row).
- *Webhooks are hints.* A job created with this client's webhook URL expects deliveries: no look
  is planned before ``webhook_silence`` after the last delivery heard (or its creation), except
  the one just after its deadline (the safety net). A delivery saying the job ended is looked at
  at once (at most once per ``hint_interval``); so is any delivery of a job someone watches live.
  When deliveries stop (the receiver is unreachable), the silence runs out and the rules above
  take over.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable

from imaginepro_async._models import Status
from imaginepro_async._pacing.retry import backoff
from imaginepro_async._validation import JOB_TIMEOUT_RANGE

from .estimates import Durations, FailurePoints
from .plan import Failure, PlannedJob, Verdict
from .policy import PollPolicy
from .survival import Running, Survival, queue_risk

__all__ = ["Failure", "Hold", "PlannedJob", "Planner", "PollPolicy", "Verdict"]

#: The longest server-side timeout a job can have (doc): the deadline of a job followed by id.
LONGEST_TIMEOUT = float(JOB_TIMEOUT_RANGE[1])


def _ends_by(
    progress: float, created_at: float | None, updated_at: float | None, now: float
) -> float | None:
    """The latest a running job seen at ``progress`` % (answered at ``now``) can end, from its
    stamps: it had that progress at ``updated_at``, after running at most since ``created_at``
    (None: a stamp missing, or no progress to tell a rate by)."""
    if created_at is None or updated_at is None or progress < 1 or updated_at < created_at:
        return None
    return now + (100.0 - progress) / progress * (updated_at - created_at)


class Hold:
    """Why a submission waits (``reason``), and when the rule could pass without any event:
    ``retry_in`` API seconds, the time the starts ahead must come earlier by (the running jobs
    advance), or None when only an event (an end, a start seen) can change the verdict."""

    __slots__ = ("reason", "retry_in")

    def __init__(self, reason: str, retry_in: float | None) -> None:
        self.reason = reason
        self.retry_in = retry_in

    def __repr__(self) -> str:
        return f"<Hold {self.reason!r} retry_in={self.retry_in}>"


class Planner:
    """The poll policy over every followed job (see the module docstring). No I/O, no clock.

    Args:
        policy: the durations and counts.
        schedule: called with a record each time its ``due`` was set (the scheduler's heap push).
        rng: the jitter of retry backoffs.
        throttle_wait: after a 429, when the job is looked at again (the budget's window).
        poll_rate: the poll budget's requests per second (None: the fresh-look rule is off).
        account_concurrency: how many jobs the account runs at once, if the user knows (a floor
            under what is observed).
    """

    def __init__(
        self,
        policy: PollPolicy,
        *,
        schedule: Callable[[PlannedJob], None],
        rng: random.Random,
        throttle_wait: float,
        poll_rate: float | None = None,
        account_concurrency: int | None = None,
    ) -> None:
        self.policy = policy
        self._schedule = schedule
        self._rng = rng
        self._throttle_wait = throttle_wait
        self._poll_rate = poll_rate
        self._queue: list[tuple[tuple[float, int], int, PlannedJob]] = []
        self._entries = 0
        self.durations = Durations()
        self.failures = FailurePoints()
        self._concurrency_hint = account_concurrency or 1
        self.concurrency_seen = 0  # the most jobs of ours seen running at once
        # Jobs of ours running (as far as we know) at the latest looks that found our oldest
        # queued job still waiting: the account was full then, so it runs at most that many.
        self._full_at: deque[int] = deque(maxlen=5)
        self.reserved = 0  # submissions admitted but not tracked yet
        # Our live records (the admission rule reads the running and queued ones), and a count
        # of what the rule depends on changing: an end, a start seen (the scheduler re-evaluates
        # held submissions only when it moved, not at every look).
        self._ours: dict[str, PlannedJob] = {}
        self.changes = 0
        self._live = 0  # followed records not ended ...
        self._live_ours = 0  # ... of which submitted by this client
        self._in_queue = 0  # records in the FIFO queue ...
        self._queued_ours = 0  # ... of which submitted by this client
        # Starts of our queued jobs that we saw directly (not presumed from a freed slot): each used
        # a slot freed by a completion we may not have seen yet, which then must not be counted twice.
        self.unpaid_starts = 0
        # Whether the account looked full at the last look at a queued job of ours.
        self.saturated = False
        self._first_looks = -math.inf  # when the next first look of a job followed by id is booked

    # -- registration ----------------------------------------------------------------------------

    def track(
        self,
        message_id: str,
        *,
        now: float,
        submitted: bool,
        created_at: float | None = None,
        timeout: float | None = None,
        kind: str | None = None,
    ) -> PlannedJob:
        """A new record for ``message_id``, with its first look scheduled.

        ``timeout`` is the job's server-side timeout (API seconds; None: unknown, the longest);
        ``kind`` its endpoint and button (its durations are learnt apart from other kinds').
        """
        self._entries += 1
        key = (math.inf if created_at is None else created_at, self._entries)
        record = PlannedJob(message_id, now=now, submitted=submitted, fifo_key=key)
        record.kind = kind
        self._live += 1
        self._live_ours += submitted
        if submitted:
            self._ours[message_id] = record
        policy = self.policy
        limit = LONGEST_TIMEOUT if timeout is None else timeout
        record.give_up = now + limit + max(policy.deadline_grace, policy.overdue_interval)
        # One look just after the server's timeout; a job followed by id, whose timeout is not
        # known, is looked at only when it would be given up.
        record.deadline = now + limit + policy.overdue_interval if submitted else record.give_up
        if submitted:
            # Not known to have started: it waits behind our older jobs (FIFO).
            self._enqueue(record, now)
            self._schedule_head(now)
        else:
            self._look(record, self._book_first_look(now), now)
        return record

    def _book_first_look(self, now: float) -> float:
        """When a job followed by id is first looked at: at the budget's rate after the first
        looks booked before it, a window's worth of them at once (now, if the rate is unknown)."""
        if self._poll_rate is None:
            return now
        due = max(now, self._first_looks - self._throttle_wait)
        self._first_looks = max(now, self._first_looks) + 1.0 / self._poll_rate
        return due

    def watch(self, record: PlannedJob, every: float, *, now: float) -> None:
        """Look at ``record`` at least every ``every`` seconds until ``unwatch``."""
        record.watchers += (every,)
        if record.in_flight or record.ended:
            return
        self._look(record, now if record.due is None else min(record.due, now + every), now)

    def unwatch(self, record: PlannedJob, every: float) -> None:
        """Stop one ``watch``."""
        watchers = record.watchers
        if every in watchers:
            index = watchers.index(every)
            record.watchers = watchers[:index] + watchers[index + 1 :]

    def poke(self, record: PlannedJob, *, now: float) -> None:
        """Look at ``record`` soon (after a cancel, for example)."""
        if not record.ended and not record.in_flight:
            self._look(record, now + self.policy.overdue_interval, now)

    def expect_webhooks(self, record: PlannedJob, *, now: float) -> None:
        """``record`` was created with the client's webhook URL: its looks wait for deliveries."""
        record.heard_at = now
        self._relook(record, now)

    def heard(
        self,
        record: PlannedJob,
        *,
        now: float,
        look_now: bool,
        allow: Callable[[], bool] = lambda: True,
    ) -> bool:
        """A webhook delivery about ``record`` arrived; with ``look_now``, look at it at once.

        Returns whether a look was scheduled now: not more than once per ``hint_interval``, and
        only if ``allow()`` (asked last: a total rate limit) says yes.
        """
        if record.ended:
            return False
        if record.heard_at is not None:
            record.heard_at = max(record.heard_at, now)
        look_now = look_now or bool(record.watchers)
        recent = record.hinted_at is not None and now - record.hinted_at < self.policy.hint_interval
        if not look_now or recent or record.in_flight or not allow():
            self._relook(record, now)
            return False
        record.hinted_at = now
        record.due = now
        self._schedule(record)
        return True

    def _relook(self, record: PlannedJob, now: float) -> None:
        if record.due is not None and not record.in_flight and not record.ended:
            self._look(record, record.due, now)

    def drop(self, record: PlannedJob) -> None:
        """Stop following ``record`` (the job ended outside the policy, or the client closed)."""
        if not record.ended:
            self._live -= 1
            self._live_ours -= record.submitted
            if record.submitted:
                self._ours.pop(record.message_id, None)
                self.changes += 1
        record.ended = True
        record.due = None
        self._set_queued(record, False)
        self._expect(record, None)

    # -- observations ------------------------------------------------------------------------------

    def observe(
        self,
        record: PlannedJob,
        status: Status,
        progress: float,
        *,
        at: float,
        now: float,
        created_at: float | None = None,
        updated_at: float | None = None,
        sent: float | None = None,
    ) -> Verdict:
        """Take in what a look saw; ``sent`` is when our own poll was sent (None: a ``fetch``).

        ``at`` is the moment the job was in that state (the middle of the round trip);
        ``created_at`` and ``updated_at`` are the Message's stamps (server clock, seconds).
        """
        if sent is not None:
            record.errors_in_row = record.invalid_in_row = record.not_found_in_row = 0
            if record.give_up is not None and sent >= record.give_up and not status.is_terminal:
                record.status = status
                self._end(record, now)
                return Verdict.DEADLINE
            if record.deadline is not None and sent >= record.deadline:
                # Looked at after its timeout: the next forced look is when it would be given up.
                later = record.give_up is not None and record.give_up > record.deadline
                record.deadline = record.give_up if later else None
        previous = record.status
        if status.is_terminal and previous is Status.PROCESSING:
            self.failures.ended(record.progress, failed=status is not Status.DONE)
        if record.fifo_key[0] == math.inf and created_at is not None:
            record.fifo_key = (created_at, record.fifo_key[1])
        looked_before = record.last_poll_at
        record.last_poll_at = at
        record.status = status
        record.progress = float(progress)
        was_queued = record.in_queue and previous is Status.QUEUED
        if status.is_terminal:
            if status is Status.DONE:
                # It ended between the last look that saw it running and this one (interval
                # censored): its end is taken at the middle of that interval.
                ran_until = at
                if previous is Status.PROCESSING and looked_before is not None:
                    ran_until = (looked_before + at) / 2
                self._learn(record, ran_until)
            self._ended(record, status, previous, was_queued, at=at, now=now)
            return Verdict.ENDED
        if status is Status.PROCESSING:
            record.ends_by = _ends_by(record.progress, created_at, updated_at, now)
            self._running(record, progress, was_queued, at=at, now=now)
        elif status is Status.QUEUED:
            self._queued(record, at=at, now=now)
        else:
            # An unknown status: not terminal, no rate to go by.
            self._look(record, at + min(self.policy.probe_interval, self.fresh_cap(record)), now)
        concurrency = max(self.concurrency_seen, self._running_ours())
        if concurrency != self.concurrency_seen:
            self.concurrency_seen = concurrency
            self.changes += 1
        return Verdict.GOES_ON

    def poll_failed(self, record: PlannedJob, failure: Failure, *, now: float) -> Verdict:
        """A poll of ``record`` failed: when to try again, or ``GIVE_UP``."""
        if record.ended:
            return Verdict.GOES_ON
        policy = self.policy
        record.errors_in_row += 1
        # Only unreadable answers and 404s can end a job, each after its own run of them: a
        # transient error (429, 5xx, connection) between them does not count towards either.
        transient = failure in (Failure.THROTTLED, Failure.TRANSIENT)
        if failure is Failure.INVALID:
            record.invalid_in_row += 1
            transient = record.invalid_in_row < policy.max_invalid
        elif failure is Failure.NOT_FOUND:
            # The id came from the server, so a 404 may be a replica lagging: a few before giving up.
            record.not_found_in_row += 1
            transient = record.not_found_in_row < policy.max_not_found
        if not transient:
            self._end(record, now)
            return Verdict.GIVE_UP
        if failure is Failure.THROTTLED:
            delay = self._throttle_wait  # the budget waits out Retry-After
        else:
            attempt = record.errors_in_row - 1
            delay = backoff(attempt, base=policy.retry_base, cap=policy.retry_cap, rng=self._rng)
        self._look(record, now + delay, now)
        return Verdict.GOES_ON

    # -- what each status means --------------------------------------------------------------------

    def _ended(
        self,
        record: PlannedJob,
        status: Status,
        previous: Status | None,
        was_queued: bool,
        *,
        at: float,
        now: float,
    ) -> None:
        ran = (
            status is Status.DONE
            or previous is Status.PROCESSING
            or (previous is None and record.submitted)
        )
        if was_queued and ran:
            self.unpaid_starts += 1
        self._started_before(record, now)
        self._end(record, now)
        if ran:
            # A slot freed at the latest now: presume the next job started then, which can only
            # make its end look earlier than it is (never later).
            self._slot_freed(at, now)

    def _running(
        self, record: PlannedJob, progress: float, was_queued: bool, *, at: float, now: float
    ) -> None:
        if record.in_queue:
            # A queued job of ours seen running without a freed slot to explain it: the
            # account had room (or a slot freed that we have not seen yet).
            self.saturated = was_queued and self.saturated
            if was_queued:
                self.unpaid_starts += 1
            self._set_queued(record, False)
            self.changes += 1
            self._schedule_head(now)
        self._started_before(record, now)
        self._look(record, self.next_look(record, progress, at), now)

    def _queued(self, record: PlannedJob, *, at: float, now: float) -> None:
        self.saturated = True
        record.anchor_time = record.first_seen_time = None
        if not record.in_queue:
            self._enqueue(record, now)
        if record.submitted and record is self.head():
            self._full_at.append(self._running_ours())
        self._schedule_head(now)
        if record.watchers and record.due is None:
            self._look(record, at + min(record.watchers), now)  # someone watches it live

    def next_look(self, record: PlannedJob, progress: float, at: float) -> float:
        """When to look at a running job next: at the earliest end its progress allows.

        Progress is reported rounded down, so at ``at`` the job is somewhere in [p, p + 1). Two
        anchors give a rate: the job's presumed start (progress 0, from a freed slot; a guess that
        can be wrong) and its first look while running (real). The fastest rate either implies
        gives the earliest plausible end: looking a little early costs one short extra poll, looking
        late costs detection lag. The end is trusted once the real looks span enough of the job.
        """
        policy = self.policy
        progress = float(progress)
        if record.first_seen_time is None:
            record.first_seen_time, record.first_seen_progress = at, progress
        rates = []
        real_span = at - record.first_seen_time
        if real_span > 0 and progress > record.first_seen_progress:
            rates.append((progress + 1.0 - record.first_seen_progress) / real_span)
        if record.anchor_time is not None and at > record.anchor_time and progress > 0:
            rates.append((progress + 1.0) / (at - record.anchor_time))
        if not rates:
            # Nothing to measure a rate with yet: look again soon (within the fresh-look cap
            # while the budget is free), and no later than the shortest durations of its kind.
            cap = self.fresh_cap(record)
            binds = self._poll_rate is not None and self._fair_share() > policy.fresh_interval
            if binds and record.ends_by is not None:
                # Its stamps bound its end: one look just after it (see the module docstring),
                # which takes the slot of a first look booked after it.
                when = min(record.ends_by + policy.finish_margin, at + cap)
                if self._poll_rate is not None and when < self._first_looks:
                    self._first_looks += 1.0 / self._poll_rate
                return when
            wait = min(policy.probe_interval, cap)
            shortest = self.durations.quantile(record.kind, 0.1)
            if shortest is not None:
                wait = min(
                    wait, max(shortest - (progress / 100.0) * shortest, policy.overdue_interval)
                )
            return at + wait
        if record.submitted and progress - record.first_seen_progress >= 2 and real_span > 0:
            # Its whole duration (for admission), as soon as two points of progress were seen
            # (within a factor of 1.5 then: a rough duration beats a bound with an open tail),
            # refined at every look.
            self._expect(record, 100.0 * real_span / (progress - record.first_seen_progress))
        remaining = max(0.0, (99.0 - progress) / max(rates))
        if remaining <= policy.finish_margin:
            # At or past its estimated end and still running: look again soon, then less often.
            # When the budget binds, the overdue wait stretches to the fair share too: a crowd of
            # overdue jobs must not take every poll from new jobs' first looks.
            # While the budget is free, the end is near: keep looking every overdue_interval.
            fair = self._fair_share()
            longest = max(policy.overdue_max, fair)
            # (Not for a job that expects deliveries: they will tell of its end.)
            free = self._poll_rate is not None and fair <= policy.fresh_interval
            if free and record.heard_at is None:
                longest = policy.overdue_interval
            wait = min(longest, policy.overdue_interval * 1.5**record.overdue_steps)
            record.overdue_steps += 1
        elif real_span <= 0:
            # One real look: the presumed start alone may be wrong; measure a real rate first.
            wait = min(remaining / 2, policy.probe_interval)
        elif remaining > policy.max_extrapolation * real_span:
            wait = remaining / 2  # the real looks span too little of the job: refine halfway
        else:
            wait = remaining + policy.finish_margin
        return at + min(wait, self.fresh_cap(record))

    # -- what is learnt: durations, concurrency, and the admission of new jobs -------------------

    def _fair_share(self) -> float:
        """How often each running job can be looked at with ``budget_share`` of the budget."""
        if self._poll_rate is None:
            return 0.0
        return (self._live - self._in_queue) / (self.policy.budget_share * self._poll_rate)

    def fresh_cap(self, record: PlannedJob | None = None) -> float:
        """The longest a running job goes without a look: ``fresh_interval`` while the budget is
        free (``max_interval`` when the budget's rate is not known, or for a ``record`` that
        expects webhook deliveries: they tell of its changes); once the running jobs would need
        more than ``budget_share`` of it, their number over that share: every job still gets its
        turn, and the end estimates place the other looks."""
        policy = self.policy
        if self._poll_rate is None or (record is not None and record.heard_at is not None):
            return policy.max_interval
        even = max(min(policy.fresh_interval, policy.max_interval), self._fair_share())
        if record is None or record.status is not Status.PROCESSING:
            return even
        # Where jobs fail, more often; elsewhere less, the same looks per job on average. Around
        # the fair share too when the budget binds: clipped at it, the factor only took looks
        # away from the stretches where jobs fail.
        rate = None if record.expected is None else 100.0 / record.expected
        return min(self.failures.gap(record.progress, rate, even), max(even, policy.max_interval))

    def first_look(self, kind: str | None) -> float:
        """After a presumed start, when to look first: near the shortest durations seen of
        ``kind`` (their 10 % quantile), else ``start_probe``; never later than ``max_interval``
        or ``fresh_cap``."""
        shortest = self.durations.quantile(kind, 0.1)
        wait = self.policy.start_probe if shortest is None else shortest
        return min(wait, self.fresh_cap())

    def _expect(self, record: PlannedJob, duration: float | None) -> None:
        if record.expected is None and duration is not None:
            self.changes += 1  # a duration learnt: held submissions are judged again
        record.expected = duration

    def _running_ours(self) -> int:
        """Our jobs running as far as we know (a job that ended unseen still counts)."""
        return self._live_ours - self._queued_ours - self.unpaid_starts

    @property
    def concurrency(self) -> int:
        """How many jobs the account runs at once: the most of ours seen running together, but
        no more than were running at the recent looks that found the account full (a count can
        be one high while an end is unseen); the user's hint is a floor."""
        seen = self.concurrency_seen
        if self._full_at:
            seen = min(seen, min(self._full_at))
        return max(self._concurrency_hint, seen)

    def survival(self, kind: str | None, now: float) -> Survival:
        """``kind``'s durations as a survival curve: the latest seen DONE (those of all our kinds
        while it has too few), the running jobs of ours whose rate tells their whole duration
        (events), and the running ones without a rate yet (censored at their age)."""
        seen, own = self.durations.samples(kind)
        events = list(seen)
        pooled = not own
        censored = []
        for record in self._ours.values():
            if record.in_queue or (not pooled and record.kind != kind):
                continue
            if record.expected is not None:
                events.append(record.expected)
            else:
                censored.append(self._runs_at_least(record, now))
        return Survival(events, censored, self.policy.expected_duration)

    @staticmethod
    def _started_at(record: PlannedJob, now: float) -> float:
        """When a running job started, at the latest (its age is a lower bound)."""
        if record.anchor_time is not None:
            return record.anchor_time
        return now if record.first_seen_time is None else record.first_seen_time

    @staticmethod
    def _runs_at_least(record: PlannedJob, now: float) -> float:
        """A lower bound on a running job's whole duration: its age, or what its progress says
        of it (progress is rounded down: at ``p`` % it had done less than ``p + 1`` %)."""
        started = Planner._started_at(record, now)
        age = now - started
        if record.last_poll_at is None or record.status is not Status.PROCESSING:
            return age  # not seen running yet: its progress says nothing
        seen_age = record.last_poll_at - started
        return max(age, seen_age * 100.0 / min(100.0, record.progress + 1.0))

    def admission_state(self) -> tuple[int, int]:
        """What the admission rule's verdict depends on, apart from time: the events seen (ends,
        starts, concurrency) and the jobs ahead. Equal states a moment apart give one verdict."""
        return self.changes, self._live_ours + self.reserved

    def hold(
        self, *, timeout: float, kind: str | None, now: float, own: int = 0, refine: bool = True
    ) -> Hold | None:
        """Whether a new job of ``kind`` with this server-side ``timeout`` should wait (None: it
        can start in time): the admission rule, see ``survival.queue_risk``. ``own``: places
        already reserved for this very submission (not ahead of it); ``refine``: draw more near
        the line (the admission itself does; the check again at its gate need not)."""
        ahead = self._live_ours + self.reserved - own
        concurrency = self.concurrency
        if ahead < concurrency:
            return None
        curves: dict[str | None, Survival] = {}

        def curve(of: str | None) -> Survival:
            known = curves.get(of)
            if known is None:
                known = curves[of] = self.survival(of, now)
            return known

        running: list[Running] = []
        queued: list[tuple[tuple[float, int], Survival]] = []
        for record in self._ours.values():
            if record.in_queue:
                queued.append((record.fifo_key, curve(record.kind)))
            elif record.expected is not None and record.first_seen_time is not None:
                start = record.first_seen_time - record.first_seen_progress / 100 * record.expected
                running.append(Running(max(0.0, start + record.expected - now)))
            else:
                # Drawn conditional on what it has run at least; it ends that much later.
                least = self._runs_at_least(record, now)
                age = now - self._started_at(record, now)
                running.append(Running(None, least, curve(record.kind), max(0.0, least - age)))
        queued.sort(key=lambda item: item[0])
        # Only once a look found the account full: until then the concurrency is only the most
        # seen running, a floor, and a new job may well start at once (held on that floor, a
        # queue of long jobs would keep the account from ever being seen fuller).
        horizon = self.policy.queue_horizon if self._full_at else None
        mine = curve(kind)
        ahead_curves = [c for _, c in queued] + [mine] * (ahead - len(running) - len(queued))
        risk = queue_risk(
            concurrency=concurrency,
            running=running,
            queued=ahead_curves,
            own=mine,
            timeout=timeout,
            allowed=self.policy.queue_risk,
            refine=refine,
            horizon=horizon,
        )
        beyond = 0.0 if horizon is None else risk.start_p50 - horizon
        if risk.shift <= 0.0 and beyond <= 0.0:
            return None
        opening = (
            f"{ahead} jobs are ahead on an account that runs about {concurrency} at once: a new "
            f"job would start in ~{risk.start_p50:.0f} s ({risk.start_p99:.0f} s at 99 %)"
        )
        if risk.shift > 0.0:
            reason = (
                f"{opening} and, running up to {mine.quantile(0.99):.0f} s (99 % of its kind), "
                f"would still be running past its {timeout:.0f} s timeout with a risk of "
                f"{risk.risk:.1%} (more than {self.policy.queue_risk:.1%})"
            )
        else:
            reason = (
                f"{opening}; the queued jobs keep the account busy, and it waits here, unpaid, "
                f"until it would start within {horizon:.0f} s (queue_horizon): were the jobs "
                f"ahead slower than learnt, it could not time out in the account's queue"
            )
        # Without any event, the starts come earlier only as the running jobs advance.
        return Hold(reason, max(risk.shift, beyond) if running else None)

    def hold_reason(self, *, timeout: float, kind: str | None, now: float = 0.0) -> str | None:
        """Why a new job of ``kind`` should wait now (None: it can end in time); see ``hold``."""
        hold = self.hold(timeout=timeout, kind=kind, now=now)
        return None if hold is None else hold.reason

    def _learn(self, record: PlannedJob, at: float) -> None:
        """A job seen DONE at ``at``: how long it ran, from its first look while running (its
        progress then dates its start) or else its presumed start."""
        seen, progress = record.first_seen_time, record.first_seen_progress
        if seen is not None and at > seen:
            start = seen - progress / (100.0 - progress) * (at - seen) if progress < 100 else seen
        elif record.anchor_time is not None:
            start = record.anchor_time
        else:
            return
        self.durations.add(record.kind, at - start)

    # -- scheduling --------------------------------------------------------------------------------

    def _look(self, record: PlannedJob, when: float, now: float) -> None:
        if record.heard_at is not None:
            # Deliveries are expected: only the deadline's safety net looks before the silence ends.
            when = max(when, record.heard_at + self.policy.webhook_silence)
        if record.deadline is not None:
            when = min(when, record.deadline)
        if record.watchers:
            when = min(when, now + min(record.watchers))
        record.due = when
        self._schedule(record)

    def _end(self, record: PlannedJob, now: float) -> None:
        was_queued = record.in_queue
        self.drop(record)
        if was_queued:
            self._schedule_head(now)

    # -- the FIFO queue of jobs not known to have started ---------------------------------------

    def _set_queued(self, record: PlannedJob, queued: bool) -> None:
        if record.in_queue is not queued:
            step = 1 if queued else -1
            self._in_queue += step
            self._queued_ours += step if record.submitted else 0
            record.in_queue = queued

    def _enqueue(self, record: PlannedJob, now: float) -> None:
        self._set_queued(record, True)
        self._entries += 1
        record.queue_entry = self._entries
        heapq.heappush(self._queue, (record.fifo_key, self._entries, record))
        if record.deadline is not None and record.due is None and not record.in_flight:
            # Parked, but the server times it out at its deadline: one look just after.
            self._look(record, record.deadline, now)

    def head(self) -> PlannedJob | None:
        """The oldest of our jobs not known to have started, if any."""
        queue = self._queue
        while queue:
            _, entry, record = queue[0]
            if record.in_queue and not record.ended and entry == record.queue_entry:
                return record
            heapq.heappop(queue)
        return None

    def _schedule_head(self, now: float) -> None:
        head = self.head()
        if head is None or head.in_flight:
            return
        if head.status is None or head.last_poll_at is None:
            # First looked at ``first_poll`` after its creation, or sooner for a kind learnt to
            # be shorter: near its shortest durations (a 3 s job is not seen 5 s late).
            first = self.policy.first_poll
            shortest = self.durations.quantile(head.kind, 0.1)
            if shortest is not None:
                first = min(first, max(shortest, self.policy.overdue_interval))
            when = head.registered_at + first
            full = self._full_at and self._running_ours() >= min(self._full_at)
            if self.saturated and (full or not self._full_at):
                # The last queue head we looked at was still waiting, and no fewer of ours run
                # now than when a look found the account full: this one waits for a slot too.
                # (With fewer running, it may start at once: a short job parked a
                # queued_interval was seen 14 s late.)
                when = max(when, now + self.policy.queued_interval)
        else:
            when = head.last_poll_at + min(self.policy.queued_interval, self.fresh_cap(head))
        if head.due is None or when < head.due:
            self._look(head, when, now)

    def _started_before(self, record: PlannedJob, now: float) -> None:
        """``record`` has started: every job of ours created before it has started too (FIFO)."""
        while True:
            head = self.head()
            if head is None or head.fifo_key >= record.fifo_key:
                break
            heapq.heappop(self._queue)
            self._set_queued(head, False)
            if head.status is Status.QUEUED:
                self.unpaid_starts += 1
            if not head.in_flight:
                self._look(head, now, now)
        self._schedule_head(now)

    def _slot_freed(self, at: float, now: float) -> None:
        if self.unpaid_starts > 0:
            # The slot went to a queued job we already saw start.
            self.unpaid_starts -= 1
            return
        head = self.head()
        if head is None:
            return
        heapq.heappop(self._queue)
        self._set_queued(head, False)
        # Its presumed start, at progress 0: when the slot freed, or when it was created if that
        # came later (a start at the latest: the duration bounds in ``_runs_at_least`` rely on it).
        head.anchor_time = max(at, head.registered_at)
        if not head.in_flight:
            self._look(head, at + self.first_look(head.kind), now)
        self._schedule_head(now)

    def clear(self) -> None:
        """Forget the queue (the client closed)."""
        self._queue.clear()
