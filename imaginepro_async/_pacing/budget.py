"""Request budgets: how many requests may start, so that the client never trips a rate limit.

ImaginePro documents, per API key, 1 request per 3 s on job-creating and other general endpoints and
10 per second on the progress endpoint (doc, System Design page). We do not know how the server
counts; we assume the strictest reading, a sliding window over the times requests *arrive*.

**The proof.** A budget of ``N`` requests per ``W`` seconds hands out ``N`` permits. A request holds
its permit from before it is sent until ``W`` seconds after the latest moment it can have arrived:
by default the moment its answer came back (``permit.release()``), or an earlier bound when the
caller has one (``permit.release(arrived_by=t)``). Whatever the network latency, any ``N + 1``
requests that arrived within ``W`` of each other would have had to hold ``N + 1`` permits at once,
which cannot happen: so the server never sees more than ``N`` in any window of ``W``. The price is
that each permit is also held during its round trip. A permit returned with ``give_back()`` was
never used to send anything, so it can be handed on at once.

**A tighter bound for creates, from ``createdAt``.** The server stamps a job's ``createdAt`` when
it creates it, after its rate limiter let the request in: the request arrived by the time of that
stamp. The stamp is on the server's clock; ``ServerClock`` bounds that clock's offset from ours,
NTP-style, from the creates themselves. Let ``θ(t) = server − local`` at local time ``t``, and a
create sent at ``s`` and answered at ``a`` (local), stamped ``c`` (server, rounded *down* to the
millisecond, so ``c ≤ c_true``). It was processed at some ``t`` in ``[s, a]``, with ``c_true = t +
θ(t)``, so ``θ ≥ c − a``. Over all past creates ``θ_low = max(c_i − a_i)`` is a lower bound, aged
by the drift of the two clocks (``θ`` changes by at most ``drift`` per second). For create ``k``,
processed at ``t_k ≤ now``: its arrival ``≤ t_k = c_k,true − θ(t_k) ≤ c_k + resolution − (θ_low −
drift · (now − t_low))``. That bound is never later than ``a_k`` (the sample of ``k`` itself is in
``θ_low``), so the window proof above holds with it: the permit is held until one window after a
time the request had certainly arrived by. It is as tight as the fastest answer after a stamp
ever seen: with every answer held ``L`` seconds after processing, ``θ_low = θ − L`` and the bound
is ``a_k`` again (no gain is provable then: a server answering ``L`` late after processing cannot
be told from one whose clock is ``L`` behind and that processes ``L`` late).

It assumes one clock stamps every ``createdAt`` (or clocks that agree within ``margin``); stamps
from replicas whose clocks disagree by more would break it. When two samples contradict each other
(some ``c_i − a_i`` above another ``c_j − s_j``: no single clock explains both), the bound is
switched off for good and the safe rule (the answer's time) is used.

Waiters are served first come, first served; a waiter that is cancelled sends nothing. On a 429 the
whole budget pauses until the server's ``Retry-After`` has passed (``pause``). By the proof above a
429 is never of the budget's own making: someone else spends the key, so the budget also learns a
lower rate (``_pacing/aimd.py``: fewer permits out, each held at least a window), from how many of
its own requests the server had let in during the window before the 429, and probes upward every
``RateLimit.probe_every`` seconds to see the other consumer leave. Spending less than the limit
keeps the proof. Permits held back for a
window are kept as times in a heap, not as timers: nothing runs in the background, and the head
waiter sleeps until the earliest of them.

``Budget`` is the interface the client spends through; ``LocalBudget`` keeps it in this process. A
budget shared by several processes (held in Redis) implements the same interface.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import anyio
import attrs

from .aimd import RateLearner
from .clock import Clock

__all__ = [
    "Budget",
    "BudgetView",
    "Coordination",
    "LocalBudget",
    "Permit",
    "RateLimit",
    "ServerClock",
    "spend",
]

logger = logging.getLogger("imaginepro_async")

#: A hair over the window, so that timer resolution can never make a hold a hair under it.
_MARGIN = 1.01
_EPSILON = 1e-4


@attrs.frozen
class RateLimit:
    """At most ``requests`` requests in any window of ``per`` seconds.

    Args:
        requests: how many requests a window allows (at least 1).
        per: the window, in seconds (greater than 0).
        probe_every: when 429s showed that someone else spends the key, the budget spends less
            (the rate it learnt) and, every ``probe_every`` seconds, tries one more request per
            window to see whether they left. Shorter: the full limit is back sooner after they
            leave; longer: fewer 429s (about one per probe) while they stay. Seconds, > 0.
    """

    requests: int = attrs.field()
    per: float = attrs.field()
    probe_every: float = attrs.field(default=45.0, kw_only=True)

    @requests.validator
    def _check_requests(self, _: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"RateLimit.requests must be a whole number ≥ 1, got {value!r}")

    @per.validator
    def _check_per(self, _: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"RateLimit.per must be a number of seconds > 0, got {value!r}")

    @probe_every.validator
    def _check_probe_every(self, _: attrs.Attribute[float], value: float) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value < math.inf
        ):
            raise ValueError(
                f"RateLimit.probe_every must be a finite number of seconds > 0, got {value!r}"
            )

    @classmethod
    def imaginepro_create(cls) -> RateLimit:
        """ImaginePro's documented limit on job-creating and general endpoints: 1 per 3 s."""
        return cls(1, 3.0)

    @classmethod
    def imaginepro_progress(cls) -> RateLimit:
        """ImaginePro's documented limit on the progress endpoint: 10 per second."""
        return cls(10, 1.0)


class Permit(Protocol):
    """One request's right to be sent (see the module docstring)."""

    async def release(self, *, arrived_by: float | None = None) -> None:
        """The request is over: the permit comes back one window after it can have arrived.

        Args:
            arrived_by: the latest time (``Clock.now()`` units) the request can have reached the
                server, when the caller can bound it; default: now.
        """
        ...

    async def give_back(self) -> None:
        """Nothing was sent with this permit: it comes back at once."""
        ...


class BudgetView(Protocol):
    """What a user may read of a budget."""

    @property
    def limit(self) -> RateLimit:
        """The rate limit this budget keeps to."""
        ...

    @property
    def started(self) -> int:
        """How many requests this process has started through it."""
        ...

    @property
    def rate(self) -> float:
        """The requests per second it spends at now: the limit's, unless 429s it did not cause
        showed that someone else spends the key (then less; see ``_pacing/aimd.py``)."""
        ...


class Budget(BudgetView, Protocol):
    """A budget the client spends through (in this process, or shared through Redis)."""

    async def acquire(self) -> Permit:
        """Wait for a permit (first come, first served) and for any pause to pass."""
        ...

    async def pause(self, seconds: float) -> None:
        """Let nothing start for ``seconds`` from now (the server asked us to wait)."""
        ...


class Coordination(Protocol):
    """Where a client's budgets live: in this process (the default), or shared (Redis).

    The client calls ``budget`` once per kind when it is made, and ``aclose`` when it closes if it
    made the coordination itself (from a URL); one passed in is left open, like a session.
    """

    def budget(self, kind: str, limit: RateLimit, clock: Clock, *, key_id: str) -> Budget:
        """The budget of ``kind`` (``"create"`` or ``"poll"``) keeping to ``limit``.

        ``key_id`` names the API key without revealing it (the client passes the first 16 hex
        digits of its SHA-256): budgets of different keys never mix.
        """
        ...

    async def aclose(self) -> None:
        """Release what the budgets hold (connections, leases)."""
        ...


@asynccontextmanager
async def spend(budget: Budget) -> AsyncIterator[Permit]:
    """Hold one permit around one request; it is released (one window later) on leaving."""
    permit = await budget.acquire()
    try:
        yield permit
    finally:
        with anyio.CancelScope(shield=True):
            await permit.release()


class Turn:
    """A waiter's place at the head of a ``Line``: it sleeps until woken or a timeout."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = anyio.Event()

    async def sleep(self, seconds: float) -> None:
        """Wait up to ``seconds`` (event-loop seconds), or until the line wakes its head."""
        self.event = anyio.Event()
        with anyio.move_on_after(max(0.0, seconds)):
            await self.event.wait()


class Line:
    """First come, first served: waiters queue up, only the head tries its luck, and whoever
    leaves the head (served, cancelled, failed) wakes the next. Used by every budget."""

    __slots__ = ("_turns",)

    def __init__(self) -> None:
        self._turns: deque[Turn] = deque()

    def __len__(self) -> int:
        return len(self._turns)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[Turn]:
        """Wait to head the line; the block runs at the head, and leaving it wakes the next."""
        turn = Turn()
        self._turns.append(turn)
        try:
            while self._turns[0] is not turn:
                await turn.sleep(math.inf)
            yield turn
        finally:
            was_head = self._turns[0] is turn
            self._turns.remove(turn)
            if was_head:
                self.wake_head()

    def wake_head(self) -> None:
        """Wake the head (something it waits for may have changed)."""
        if self._turns:
            self._turns[0].event.set()


class _LocalPermit:
    __slots__ = ("_budget", "_used")

    def __init__(self, budget: LocalBudget) -> None:
        self._budget = budget
        self._used = False

    async def release(self, *, arrived_by: float | None = None) -> None:
        if not self._used:
            self._used = True
            self._budget._hold(arrived_by)

    async def give_back(self) -> None:
        if not self._used:
            self._used = True
            self._budget._return_unused()


class LocalBudget:
    """A budget kept in this process (see the module docstring)."""

    def __init__(
        self, limit: RateLimit, *, clock: Clock | None = None, name: str = "budget"
    ) -> None:
        self._limit = limit
        self._clock = clock or Clock()
        self._learner = RateLearner(
            limit.requests, limit.per, probe_every=limit.probe_every, name=name
        )
        # When requests were answered, and when 429s came (the evidence of a cut), one window back.
        self._answered: deque[float] = deque()
        self._refused: deque[float] = deque()
        self._stretch = 1.0  # how many windows a permit is held (≥ 1 while the rate is cut)
        self._free = limit.requests
        self._returns: list[float] = []  # when permits held back for a window come free
        self._line = Line()
        self._paused_until = -math.inf
        self._started = 0

    def __repr__(self) -> str:
        return (
            f"<LocalBudget {self._limit.requests} per {self._limit.per} s, {self._free} free, "
            f"{len(self._line)} waiting>"
        )

    @property
    def limit(self) -> RateLimit:
        """The rate limit this budget keeps to."""
        return self._limit

    @property
    def started(self) -> int:
        """How many requests have started through this budget."""
        return self._started

    @property
    def rate(self) -> float:
        """The requests per second it spends at now (see ``BudgetView.rate``)."""
        return self._learner.rate(self._clock.now())

    async def pause(self, seconds: float) -> None:
        """Let nothing start for ``seconds`` (API seconds) from now: the server answered 429,
        which this budget did not cause, so the rate it spends at is cut too.

        The client calls it right after releasing the refused request's permit."""
        now = self._clock.now()
        self._paused_until = max(self._paused_until, now + seconds)
        self._refused.append(now)
        window = now - self._limit.per
        for times in (self._answered, self._refused):
            while times and times[0] <= window:
                times.popleft()
        # Ours the server let in during the window before the 429 (answered, less the refused).
        ours = max(0, len(self._answered) - len(self._refused))
        self._learner.throttled(now, ours=ours, until=self._paused_until)

    async def acquire(self) -> Permit:
        """Wait for a permit (first come, first served) and for any pause to pass."""
        async with self._line.turn() as turn:
            while True:
                now = self._clock.now()
                self._reclaim(now)
                until = self._paused_until
                # Permits beyond the learnt rate's share stay withheld (all of them at the limit).
                allowed, self._stretch = self._learner.permits(self._limit.requests, now)
                if self._free <= self._limit.requests - allowed:
                    soonest = self._returns[0] if self._returns else now + self._limit.per
                    until = max(until, min(soonest, now + self._limit.per))
                if until <= now:
                    break
                await turn.sleep(self._clock.local(until - now))
            self._free -= 1
            self._started += 1
        return _LocalPermit(self)

    def _reclaim(self, now: float) -> None:
        returns = self._returns
        while returns and returns[0] <= now:
            heapq.heappop(returns)
            self._free += 1

    def _hold(self, arrived_by: float | None) -> None:
        now = self._clock.now()
        start = now if arrived_by is None else min(now, arrived_by)
        hold = self._limit.per * self._stretch
        answered = self._answered
        answered.append(now)
        while answered[0] <= now - self._limit.per:
            answered.popleft()
        heapq.heappush(self._returns, start + hold * _MARGIN + _EPSILON)
        self._line.wake_head()

    def _return_unused(self) -> None:
        self._started -= 1
        self._free += 1
        self._line.wake_head()


class ServerClock:
    """Bounds the server's clock from the stamps of the requests it answered (see the module).

    Args:
        resolution: how much a stamp can be below the true time (ImaginePro: milliseconds).
        drift: how fast the two clocks can drift apart, seconds per second.
        margin: slack for clocks of several server replicas agreeing only roughly.
    """

    def __init__(
        self, *, resolution: float = 0.001, drift: float = 1e-4, margin: float = 0.005
    ) -> None:
        self._resolution = resolution
        self._drift = drift
        self._margin = margin
        self._low = -math.inf  # θ ≥ _low at local time _low_at
        self._low_at = 0.0
        self._high = math.inf  # θ ≤ _high at local time _high_at (only to catch contradictions)
        self._high_at = 0.0
        self.consistent = True

    def stamped(self, *, sent: float, answered: float, stamp: float) -> None:
        """A request sent at ``sent`` and answered at ``answered`` (local) was stamped ``stamp``."""
        if stamp - answered >= self._aged_low(answered):
            self._low, self._low_at = stamp - answered, answered
        ceiling = stamp + self._resolution - sent
        if ceiling <= self._aged_high(sent):
            self._high, self._high_at = ceiling, sent
        if self._aged_low(answered) > self._aged_high(answered) + self._margin:
            self.consistent = False  # no single clock explains every stamp: stop using them

    def arrived_by(self, stamp: float, *, now: float) -> float | None:
        """The latest local time a request stamped ``stamp`` can have arrived (None: unknown)."""
        if not self.consistent or self._low == -math.inf:
            return None
        return min(now, stamp + self._resolution + self._margin - self._aged_low(now))

    def _aged_low(self, at: float) -> float:
        return self._low - self._drift * abs(at - self._low_at)

    def _aged_high(self, at: float) -> float:
        return self._high + self._drift * abs(at - self._high_at)
