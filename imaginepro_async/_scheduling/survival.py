"""Job durations as a distribution, censored observations included, and the admission risk built on it.

Pure code (no I/O, no clock), used by the planner's admission rule:

- ``Survival``: a Kaplan–Meier estimate of one kind's durations from *events* (durations seen
  whole: jobs seen DONE, and running jobs whose progress rate tells their whole duration) and
  *right-censored* observations (a running job with no rate yet has run at least its age, and at
  least what its progress implies: at ``p`` % after ``a`` seconds, ``100 a / (p + 1)``). Past the
  longest observation the curve goes on as an exponential tail with the largest of the prior, the
  events' mean and, when that observation is censored, its value (memoryless: a job that ran
  longer than anything seen is expected to run about that much more). While fewer than 3
  durations were seen whole, one more job is assumed to run at least as long as the longest seen
  (a censored pseudo-observation), so that a few quick jobs seen ending first do not make every
  job look quick.
  ``sample_after(age, u)`` draws a remaining time conditional on having run ``age`` (inverse
  transform: a running job's remaining time is length-biased, not a fresh job's).
- ``queue_risk``: the probability that a new job, submitted now behind the jobs ahead of it,
  could have ended before its server-side timeout and yet does not: ``P(S + D > T, D <= T)`` with
  ``S`` its start (the account runs our jobs first in, first out, ``C`` at a time) and ``D`` its
  own run time. A job with ``D > T`` cannot be saved by waiting and does not count. It is a Monte
  Carlo estimate of the start's distribution over a fixed number of draws from a fixed seed (the
  same state always gives the same answer: table tests); given each drawn start, the probability
  over its own run time is exact from the curve. The cost is O(draws × jobs ahead), paid only when
  the scheduler judges a held submission (not at every poll).
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Iterable, Sequence

import attrs

__all__ = ["Risk", "Running", "Survival", "queue_risk"]


#: Below this many durations seen whole, the curve keeps a censored pseudo-observation at its end.
_FEW = 3


class Survival:
    """A Kaplan–Meier survival curve with an exponential tail (see the module docstring).

    Args:
        events: durations seen whole.
        censored: durations known only to exceed these values (running jobs' ages).
        prior: the mean duration assumed where nothing was seen (API seconds).
        few: below this many events, the censored pseudo-observation at the end is added.
    """

    __slots__ = ("_falls", "_surv", "_tail_mean", "_tail_start", "_tail_surv", "_times", "events")

    def __init__(
        self, events: Iterable[float], censored: Iterable[float], prior: float, *, few: int = _FEW
    ) -> None:
        observed = sorted(
            [(t, 1) for t in events if t > 0] + [(t, 0) for t in censored if t > 0],
            key=lambda item: (item[0], -item[1]),  # events before censorings at the same time
        )
        if observed and sum(flag for _, flag in observed) < few:
            # Few seen whole: one more job is assumed to run at least as long as the longest
            # seen, so that the curve does not fall to 0 there (one quick job seen ending must
            # not make every job quick); the tail past it is then the prior's or longer.
            observed.append((observed[-1][0], 0))
        self.events = sum(flag for _, flag in observed)
        times: list[float] = []
        surv: list[float] = []
        at_risk = len(observed)
        level = 1.0
        index = 0
        while index < len(observed):
            t = observed[index][0]
            ended = leaving = 0
            while index < len(observed) and observed[index][0] == t:
                ended += observed[index][1]
                leaving += 1
                index += 1
            if ended:
                level *= 1.0 - ended / at_risk
                times.append(t)
                surv.append(level)
            at_risk -= leaving
        self._times = times
        self._surv = surv
        self._falls = [-level for level in surv]  # ascending, for ``bisect``
        event_times = [t for t, flag in observed if flag]
        mean = sum(event_times) / len(event_times) if event_times else 0.0
        # Past the last observation: memoryless, with the events' mean (or the prior); when the
        # curve ends on a censored job, no less than that job's bound (a job known to run at
        # least t is not expected to end at once: nothing seen says how much longer).
        last = observed[-1] if observed else (0.0, 1)
        self._tail_mean = max(prior, mean, 0.0 if last[1] else last[0])
        self._tail_start = observed[-1][0] if observed else 0.0
        self._tail_surv = level

    def survival(self, t: float) -> float:
        """P(duration > ``t``)."""
        if t >= self._tail_start:
            if self._tail_surv <= 0.0:
                return 0.0
            return self._tail_surv * math.exp(-(t - self._tail_start) / self._tail_mean)
        index = bisect.bisect_right(self._times, t)
        return 1.0 if index == 0 else self._surv[index - 1]

    def inverse(self, level: float) -> float:
        """The smallest duration ``t`` with ``survival(t) <= level`` (0 < level < 1)."""
        surv = self._surv
        if surv and surv[-1] <= level:
            # The first step at or under ``level`` (the steps only go down).
            return self._times[bisect.bisect_left(self._falls, -level)]
        if self._tail_surv <= 0.0:
            return self._tail_start
        return self._tail_start + self._tail_mean * math.log(self._tail_surv / level)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0 < q < 1) of the duration."""
        return self.inverse(1.0 - q)

    def sample_after(self, age: float, u: float) -> float:
        """A remaining time for a job that has run ``age``, from a uniform draw ``u`` in (0, 1)."""
        alive = self.survival(age)
        if alive <= 0.0:
            # Older than every duration seen ended (the curve fell to 0 before): memoryless.
            return self._tail_mean * -math.log(u)
        return max(0.0, self.inverse(alive * u) - age)


@attrs.frozen
class Running:
    """One running job ahead: its remaining time if its progress tells it, else a lower bound on
    its duration (``age``: what it ran, or what its progress implies) and its kind's survival: its
    remaining time is drawn conditional on that bound, plus ``ahead`` (the bound less its age)."""

    remaining: float | None
    age: float = 0.0
    survival: Survival | None = None
    ahead: float = 0.0


@attrs.frozen
class Risk:
    """What ``queue_risk`` found: the risk, the new job's start (median, 99 %), and how much
    earlier every start would have to come for the risk to be acceptable (0: it is)."""

    risk: float
    start_p50: float
    start_p99: float
    shift: float


def queue_risk(
    *,
    concurrency: int,
    running: Sequence[Running],
    queued: Sequence[Survival],
    own: Survival,
    timeout: float,
    allowed: float,
    draws: int = 96,
    seed: int = 19,
) -> Risk:
    """The risk that a new job is queued past the point where it could still end in time.

    Args:
        concurrency: how many jobs the account runs at once.
        running: our jobs running now.
        queued: the durations of our jobs queued ahead of the new one, in order.
        own: the new job's durations.
        timeout: its server-side timeout, counted from its creation (now).
        allowed: the acceptable risk (e.g. 0.01): ``shift`` is computed against it.
    """
    rng = random.Random(seed)
    draw = rng.random
    starts: list[float] = []
    extra = max(0, len(running) - concurrency)
    free = max(0, concurrency - len(running))
    for _ in range(draws):
        slots = [
            job.remaining
            if job.remaining is not None
            else job.ahead
            + (job.survival.sample_after(job.age, 1.0 - draw()) if job.survival else 0.0)
            for job in running
        ]
        slots.extend([0.0] * free)
        heapq.heapify(slots)
        for _ in range(extra):
            heapq.heappop(slots)  # more seen running than the account runs: some ended unseen
        for survival in queued:
            # A fresh job: its whole duration (no condition on an age).
            heapq.heapreplace(slots, slots[0] + survival.inverse(1.0 - draw()))
        starts.append(slots[0] if slots else 0.0)
    starts.sort()
    # Its own run time is not drawn: given a start S, P(T - S < D <= T) is exact from the curve,
    # which leaves only the starts' sampling noise in the estimate.
    hopeless = own.survival(timeout)

    def risk_if_sooner(shift: float) -> float:
        return sum(max(0.0, own.survival(timeout - max(0.0, s - shift)) - hopeless) for s in starts)

    risk = risk_if_sooner(0.0) / draws
    shift = 0.0
    if risk > allowed:
        low, high = 0.0, starts[-1]
        while high - low > 0.5:
            mid = (low + high) / 2
            if risk_if_sooner(mid) / draws > allowed:
                low = mid
            else:
                high = mid
        shift = high
    return Risk(
        risk=risk,
        start_p50=starts[len(starts) // 2],
        start_p99=starts[min(len(starts) - 1, int(0.99 * len(starts)))],
        shift=shift,
    )
