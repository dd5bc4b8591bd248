"""Submissions held while a new job could not end in time, and let through one at a time.

``Admissions`` keeps the held submissions first in, first out. Only the first is judged, and only
when what the admission rule (``Planner.hold``) depends on changed enough to change its verdict:
an end, a start seen, a place given back (``signal``), or the running jobs having advanced by the
shift the rule asked for (one timer). Judging costs O(draws × jobs ahead) but happens once per
such event, whatever the number of held submissions: a poll that changes nothing costs nothing
here. Each submission let through reserves its place among the jobs ahead
(``Planner.reserved``), so the next one is judged behind it; its ``Admission`` gives the place
back when the request was answered (or not sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable

from imaginepro_async._pacing.clock import Clock

from .planner import Hold, Planner
from .telemetry import JobEvents

__all__ = ["Admission", "Admissions", "BeforeSend", "Held"]

logger = logging.getLogger("imaginepro_async")

#: The soonest and latest re-judgement of a held submission without an event (API seconds): each
#: one draws the whole queue ahead, so not more often than this.
_RECHECK_MIN = 15.0
_RECHECK_MAX = 60.0
#: A held submission is judged again at most this often (API seconds), however many events come:
#: a judgement costs milliseconds, and a burst of ends and starts must not stall the event loop.
_JUDGE_EVERY = 3.0

#: Submissions let through and not answered yet, at most: more would only wait for the create
#: budget (one per window), each judged again at its gate; judging a long line at once stalls the
#: event loop (a burst of 20 judgements delayed every poll by 7 API s at scale 20).
_PACE = 2

#: What runs right before a job-creating request leaves (its create permit held); raising refuses it.
BeforeSend = Callable[[], Awaitable[None]]


class Held(Exception):
    """A submission about to leave is held after all (the account filled up meanwhile): nothing
    was sent; ask for ``admission`` again."""


class Admission:
    """One submission let through by ``Admissions.wait``, its place among the jobs ahead
    reserved: ``gate`` runs right before its request leaves (its create permit held) and checks
    the rule again; ``close`` ends it."""

    __slots__ = ("_admissions", "_before", "_kind", "_reserved", "_timeout")

    def __init__(
        self, admissions: Admissions, timeout: float, kind: str | None, before: BeforeSend | None
    ) -> None:
        self._admissions = admissions
        self._timeout = timeout
        self._kind = kind
        self._before = before
        self._reserved = True  # by the scheduler, when it let this submission through

    async def gate(self) -> None:
        """Raise ``Held`` if the account filled up meanwhile (the reserved place is given back);
        else run the caller's own last step (``before``, e.g. a journal write)."""
        # Judged closely when it was let through; here only whether the account filled up.
        hold = self._admissions.judge(self._timeout, self._kind, own=1, refine=False)
        if hold is not None:
            self.close()
            raise Held
        if self._before is not None:
            await self._before()

    def close(self) -> None:
        """The request was answered (or not sent): give the reserved place back."""
        if self._reserved:
            self._reserved = False
            self._admissions.release()


class _Waiter:
    """A held submission: what the rule needs to judge it, and the future that lets it go
    (True: a place was reserved for it; False: the client closed)."""

    __slots__ = ("future", "kind", "timeout")

    def __init__(self, timeout: float, kind: str | None, future: asyncio.Future[bool]) -> None:
        self.timeout = timeout
        self.kind = kind
        self.future = future


class Admissions:
    """The held submissions of one client (see the module docstring).

    Args:
        planner: whose rule (``hold``) and reservations (``reserved``) decide.
        clock: the client's clock.
        events: told of each submission held and resumed.
    """

    def __init__(self, planner: Planner, clock: Clock, events: JobEvents) -> None:
        self._planner = planner
        self._clock = clock
        self._events = events
        self._waiters: deque[_Waiter] = deque()
        self._reason: str | None = None
        self._pump_soon = False
        self._judged_at = -math.inf  # when a held submission was last judged (API seconds)
        self._recheck: asyncio.TimerHandle | None = None
        # The planner's admission state when the first held submission was last held, and until
        # when that verdict stands without an event (a job created in place of a reserved one
        # changes neither: it is not judged again for it).
        self._held_state: tuple[int, int] | None = None
        self._held_until = -math.inf

    @property
    def reason(self) -> str | None:
        """Why submissions wait right now (None: none waits)."""
        return self._reason if self._waiters else None

    @property
    def held(self) -> int:
        """How many submissions wait."""
        return len(self._waiters)

    def judge(
        self, timeout: float, kind: str | None, *, own: int = 0, refine: bool = True
    ) -> Hold | None:
        """The rule for a new job now (``own``: places already reserved for it)."""
        now = self._clock.now()
        return self._planner.hold(timeout=timeout, kind=kind, now=now, own=own, refine=refine)

    def release(self) -> None:
        """A reserved place is given back."""
        self._planner.reserved -= 1
        self.signal()

    async def wait(self, timeout: float, kind: str | None) -> None:
        """Return once a new job of ``kind`` could end before its ``timeout``, its place reserved
        (or once ``close`` was called: the caller checks it is still open)."""
        planner = self._planner
        if not self._waiters and planner.reserved < _PACE:
            hold = self.judge(timeout, kind)
            if hold is None:
                planner.reserved += 1
                return
            self._held_on(hold)
            logger.info("submission held: %s", hold.reason)
        since = self._clock.now()
        held = self._reason is not None  # not only paced behind the ones let through
        if held and self._events.holds:
            self._events.held(kind, self._reason or "")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(timeout, kind, future)
        self._waiters.append(waiter)
        try:
            reserved = await future
        except BaseException:
            if future.done() and not future.cancelled() and future.result():
                self.release()  # let through, but cancelled before it could go
            elif self._waiters and self._waiters[0] is waiter:
                self._waiters.popleft()
                self._held_state = None  # the next one may ask for another timeout or kind
                self.signal()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        finally:
            if held and self._events.holds:
                self._events.resumed(kind, since)
        if reserved and not self._waiters:
            logger.info("submission resumed")

    def close(self) -> None:
        """Let every held submission go (the client closed: they find it closed)."""
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_result(False)
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None

    def signal(self) -> None:
        """What the rule depends on changed: judge the first held submission again, once, after
        the current step (so that a job created meanwhile is tracked first), and not sooner than
        ``_JUDGE_EVERY`` after the last judgement."""
        if self._waiters and not self._pump_soon:
            self._pump_soon = True
            loop = asyncio.get_running_loop()
            wait = self._judged_at + _JUDGE_EVERY - self._clock.now()
            if wait > 0:
                loop.call_later(self._clock.local(wait), self._pump)
            else:
                loop.call_soon(self._pump)

    def _held_on(self, hold: Hold) -> None:
        """The first held submission is held for ``hold``: say why, and judge it again when the
        running jobs have advanced enough (if no event comes first)."""
        self._reason = hold.reason
        self._held_state = self._planner.admission_state()
        self._held_until = math.inf
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        if hold.retry_in is not None:
            wait = min(max(hold.retry_in, _RECHECK_MIN), _RECHECK_MAX)
            # Half the wait: the timer (at the full wait) always finds the verdict stale.
            self._held_until = self._clock.now() + wait / 2
            delay = self._clock.local(wait)
            self._recheck = asyncio.get_running_loop().call_later(delay, self.signal)

    def _pump(self) -> None:
        """Let held submissions through, first in first out, while the rule passes, one per turn
        of the event loop; each one let through reserves its place, so the next is judged behind
        it."""
        self._pump_soon = False
        waiters = self._waiters
        while waiters:
            waiter = waiters[0]
            if waiter.future.done():
                waiters.popleft()
                self._held_state = None  # the next one may ask for another timeout or kind
                continue
            if self._planner.reserved >= _PACE:
                return  # paced: a place given back signals again
            if (
                self._planner.admission_state() == self._held_state
                and self._clock.now() < self._held_until
            ):
                return  # nothing it depends on moved since it was held
            self._judged_at = self._clock.now()
            hold = self.judge(waiter.timeout, waiter.kind)
            if hold is not None:
                self._held_on(hold)
                return
            waiters.popleft()
            self._planner.reserved += 1
            waiter.future.set_result(True)
            if waiters:
                # The next one after the loop's other callbacks (polls, answers): judging a
                # long line in one go would stall them (each judgement costs milliseconds).
                self._pump_soon = True
                asyncio.get_running_loop().call_soon(self._pump)
                return
        self._reason = None
        self._held_state = None
