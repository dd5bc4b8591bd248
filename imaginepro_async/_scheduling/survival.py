"""Job durations as a distribution, censored observations included, and the admission risk built on it.

Pure code (no I/O, no clock), used by the planner's admission rule:

- ``Survival``: a Kaplan–Meier estimate of one kind's durations from *events* (durations seen
  whole: jobs seen DONE, and running jobs whose progress rate tells their whole duration) and
  *right-censored* observations (a running job with no rate yet has run at least its age, and at
  least what its progress implies: at ``p`` % after ``a`` seconds, ``100 a / (p + 1)``). Past the
  longest observation: when it is censored (or nothing was seen), an exponential tail with the
  largest of the prior, the events' mean and that observation's value (memoryless: a job that ran
  longer than anything seen is expected to run about that much more); when it is an event, from
  10 events on, a Lomax tail past the ``k`` ~ sqrt(n) longest with their mean excess (an
  exponential whose rate is known only from a few excesses: the longest of 50 durations is only
  about their 98th percentile). While fewer than 3 durations were seen whole, one more job is
  assumed to run at least as long as the longest seen (a censored pseudo-observation), so that a
  few quick jobs seen ending first do not make every job look quick. ``spread`` is how well the
  mean is known (the events' relative standard error, a Student t).
  ``sample_after(age, u)`` draws a remaining time conditional on having run ``age`` (inverse
  transform: a running job's remaining time is length-biased, not a fresh job's).
- ``queue_risk``: the probability that a new job, submitted now behind the jobs ahead of it,
  could have ended before its server-side timeout and yet does not: ``P(S + D > T, D <= T)`` with
  ``S`` its start (the account runs our jobs first in, first out, ``C`` at a time) and ``D`` its
  own run time. A job with ``D > T`` cannot be saved by waiting and does not count, when such
  durations were seen (a tail drawn past the longest seen counts as savable). It is a Monte
  Carlo estimate of the start's distribution over a fixed number of draws from a fixed seed (the
  same state always gives the same answer: table tests), stratified per job (Latin hypercube), in
  which every duration of a kind is scaled by one factor drawn from its mean's doubt (a queue of
  40 adds up the error of a mean learnt from 10; it does not average it out); given each drawn
  start, the probability over its own run time is exact from the curve. The cost is
  O(draws × jobs ahead), paid only when the scheduler judges a held submission (at most once per
  API second) or a submission arrives or leaves (not at every poll).
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
import statistics
from collections.abc import Iterable, Sequence

import attrs

__all__ = ["Risk", "Running", "Survival", "queue_risk"]


#: Below this many durations seen whole, the curve keeps a censored pseudo-observation at its end.
_FEW = 3
#: From this many durations seen whole, a curve that ends on the longest gets a tail past it (with
#: fewer, a tail of shape 1.5 from 2-3 excesses held the first bimodal submissions for a minute,
#: while the queue is too short for a tail to matter).
_TAIL_EVENTS = 10


class Survival:
    """A Kaplan–Meier survival curve with an exponential tail (see the module docstring).

    Args:
        events: durations seen whole.
        censored: durations known only to exceed these values (running jobs' ages).
        prior: the mean duration assumed where nothing was seen (API seconds).
        few: below this many events, the censored pseudo-observation at the end is added.
    """

    __slots__ = (
        "_derived",
        "_falls",
        "_surv",
        "_tail_mean",
        "_tail_shape",
        "_tail_start",
        "_tail_surv",
        "_times",
        "events",
        "freedom",
        "longest",
        "spread",
    )

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
        self.longest = max((t for t, flag in observed if flag), default=0.0)
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
        # How well the mean is known: the relative standard error of the events' mean and its
        # degrees of freedom (a Student t). With fewer than two events there is no spread to
        # measure: the prior's exponential tail (or the pseudo-observation's) is the whole doubt.
        seen = len(event_times)
        if seen >= 2 and mean > 0:
            var = sum((t - mean) ** 2 for t in event_times) / (seen - 1)
            self.spread = math.sqrt(var / seen) / mean
        else:
            self.spread = 0.0
        self.freedom = max(2, seen - 1)
        # Past the last observation: memoryless, with the events' mean (or the prior); when the
        # curve ends on a censored job, no less than that job's bound (a job known to run at
        # least t is not expected to end at once: nothing seen says how much longer).
        last = observed[-1] if observed else (0.0, 1)
        self._tail_mean = max(prior, mean, 0.0 if last[1] else last[0])
        self._tail_start = observed[-1][0] if observed else 0.0
        self._tail_surv = level
        self._tail_shape = math.inf  # exponential; a finite shape: Lomax (``_complete_tail``)
        self._derived: dict[object, object] = {}  # what the methods below computed once
        if level <= 0.0 and seen >= _TAIL_EVENTS:
            self._complete_tail(event_times)

    def _complete_tail(self, event_times: list[float]) -> None:
        """The curve ends on its longest duration seen: past the ``k`` longest (``k`` about the
        square root of the events) it goes on as an exponential tail whose rate is known only
        from their ``k`` excesses: with that doubt counted, a Lomax (Pareto II) tail of shape
        ``a`` and mean excess theirs, ``(1 + x / (a m)) ** -a``, with ``a = k / 2``. The
        durations longer than any seen yet keep a chance (the longest of 50 is only about the
        98th percentile; on lognormal durations an exponential tail read the 99.35 % point at
        half its probability, this one at 1-2.5 times it). Equal durations keep a hard end."""
        longest = sorted(event_times)
        k = max(2, round(math.sqrt(len(longest))))
        threshold = longest[-k - 1]
        excess = sum(t - threshold for t in longest[-k:]) / k
        if excess <= 0.0:
            return
        keep = bisect.bisect_right(self._times, threshold)
        level = self._surv[keep - 1] if keep else 1.0
        del self._times[keep:], self._surv[keep:], self._falls[keep:]
        self._tail_start, self._tail_surv, self._tail_mean = threshold, level, excess
        # Shape k / 2, not k: the excesses are few and the tail's shape is not known (a lognormal's
        # is heavier than any exponential's); k under-read lognormal's 99.35 % point by 3x in a
        # fifth of samples of 43, k / 2 in 9 %.
        self._tail_shape = max(1.5, k / 2)

    def survival(self, t: float) -> float:
        """P(duration > ``t``)."""
        if t >= self._tail_start:
            if self._tail_surv <= 0.0:
                return 0.0
            past = (t - self._tail_start) / self._tail_mean
            shape = self._tail_shape
            if shape == math.inf:
                return self._tail_surv * math.exp(-past)
            return self._tail_surv * math.pow(1.0 + past / shape, -shape)
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
        shape = self._tail_shape
        if shape == math.inf:
            return self._tail_start + self._tail_mean * math.log(self._tail_surv / level)
        return self._tail_start + self._tail_mean * shape * (
            math.pow(self._tail_surv / level, 1.0 / shape) - 1.0
        )

    def variance(self) -> float:
        """The variance of the duration, read on 200 quantiles (the tail past the 99.75 % one
        left out: it is for the spread of a sum, not its tail)."""
        known = self._derived.get("variance")
        if isinstance(known, float):
            return known
        values = [self.inverse(1.0 - (k + 0.5) / 200) for k in range(200)]
        mean = sum(values) / len(values)
        variance = self._derived["variance"] = sum((v - mean) ** 2 for v in values) / len(values)
        return variance

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0 < q < 1) of the duration."""
        return self.inverse(1.0 - q)

    def scales(self, seed: int, draws: int) -> list[float]:
        """One factor per draw for every duration of this kind: the mean is known only so well
        (``spread``, a Student t with ``freedom`` degrees), and a queue of many jobs adds that
        error up rather than averaging it out. Kept within [1/3, 3]. The same ``seed`` and
        ``draws`` give the same factors (computed once per curve)."""
        if self.spread <= 0.0:
            return [1.0] * draws
        known = self._derived.get(("scales", seed, draws))
        if isinstance(known, list):
            return known
        rng = random.Random(seed)
        freedom = self.freedom
        normal = statistics.NormalDist()
        factors = []
        for u in _strata(rng, draws):
            t = normal.inv_cdf(u) / math.sqrt(rng.gammavariate(freedom / 2, 2.0) / freedom)
            factors.append(min(3.0, max(1.0 / 3.0, 1.0 + self.spread * t)))
        self._derived["scales", seed, draws] = factors
        return factors

    def sample_after(self, age: float, u: float) -> float:
        """A remaining time for a job that has run ``age``, from a uniform draw ``u`` in (0, 1)."""
        alive = self.survival(age)
        if alive <= 0.0:
            # Older than every duration seen ended (the curve fell to 0 before): memoryless.
            return self._tail_mean * -math.log(u)
        return max(0.0, self.inverse(alive * u) - age)


#: Points of a standard normal, with their weights, the starts are also read on (``queue_risk``):
#: every 0.1 from -4 to 4.5, so that a tail of 0.1 % (z = 3.1) is resolved.
_NORMAL_Z = [-4.0 + 0.1 * k for k in range(86)]
_NORMAL_WEIGHTS = [statistics.NormalDist().pdf(z) * 0.1 for z in _NORMAL_Z]


def _strata(rng: random.Random, draws: int) -> list[float]:
    """``draws`` uniform values in (0, 1), one in each of ``draws`` equal strata, shuffled (Latin
    hypercube sampling: each job's draws cover its whole distribution, so that a sum over a
    queue, and the risk read from its tail, vary far less between states a step apart)."""
    values = [(k + rng.random()) / draws for k in range(draws)]
    rng.shuffle(values)
    return [min(max(v, 1e-12), 1.0 - 1e-12) for v in values]


#: Stratified columns drawn once per (seed, draws) and reused by every ``queue_risk`` call: the
#: same state gave the same answer before too (a fixed seed), now without drawing them again
#: (they were half of a call's time). Past ``_COLUMNS_KEPT`` jobs ahead, columns are reused
#: cyclically (two jobs 1,024 places apart then share their draws, which only widens the spread
#: of their sum: more holding, not less). At most ~8 MB for the refinement's 256 draws.
_COLUMNS: dict[tuple[int, int], tuple[random.Random, list[list[float]]]] = {}
_COLUMNS_KEPT = 1024


def _columns(seed: int, draws: int, count: int) -> list[list[float]]:
    """``count`` stratified columns of ``draws`` values each (see ``_strata``), always the same."""
    rng, kept = _COLUMNS.setdefault((seed, draws), (random.Random(seed), []))
    while len(kept) < min(count, _COLUMNS_KEPT):
        kept.append(_strata(rng, draws))
    if count <= len(kept):
        return kept[:count]
    return [kept[index % len(kept)] for index in range(count)]


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
    draws: int = 64,
    seed: int = 19,
    refine: bool = True,
    horizon: float | None = None,
) -> Risk:
    """The risk that a new job is queued past the point where it could still end in time.

    Args:
        concurrency: how many jobs the account runs at once.
        running: our jobs running now.
        queued: the durations of our jobs queued ahead of the new one, in order.
        own: the new job's durations.
        timeout: its server-side timeout, counted from its creation (now).
        allowed: the acceptable risk (e.g. 0.01): ``shift`` is computed against it.
        refine: a risk found under ``allowed`` but within a factor of 20 of it is computed again
            with four times the draws (the larger counts): near the line, the start's tail
            matters beyond what ``draws`` resolve.
        horizon: a median start past it settles the verdict (the submission waits anyway, see
            ``PollPolicy.queue_horizon``): no refinement then.
    """
    if refine:

        def once(count: int) -> Risk:
            return queue_risk(
                concurrency=concurrency,
                running=running,
                queued=queued,
                own=own,
                timeout=timeout,
                allowed=allowed,
                draws=count,
                seed=seed,
                refine=False,
            )

        first = once(draws)
        if not allowed / 20 < first.risk <= allowed:
            return first
        if horizon is not None and first.start_p50 > horizon:
            return first  # held on the horizon whatever the finer risk
        finer = once(4 * draws)
        return finer if finer.risk > first.risk else first
    # Each draw scales the durations of the jobs queued ahead by one factor per kind from how
    # well its mean is known (``Survival.scales``): a queue adds that error up. A running job's
    # remaining time and the new job's own run time are single draws: their curves' spread is
    # their doubt.
    factors: dict[int, list[float]] = {}
    for curve in queued:
        if id(curve) not in factors:  # each kind's factors drawn apart from the others'
            factors[id(curve)] = curve.scales(seed + 1 + len(factors), draws)
    starts: list[float] = []
    extra = max(0, len(running) - concurrency)
    free = max(0, concurrency - len(running))
    # One stratified column of uniform draws per job ahead (see ``_strata``).
    drawn = _columns(seed, draws, len(running) + len(queued))
    columns, queue_columns = drawn[: len(running)], drawn[len(running) :]
    for index in range(draws):
        slots = []
        for job, column in zip(running, columns, strict=True):
            if job.remaining is not None:
                slots.append(job.remaining)
            elif job.survival is None:
                slots.append(job.ahead)
            else:
                slots.append(job.ahead + job.survival.sample_after(job.age, column[index]))
        slots.extend([0.0] * free)
        heapq.heapify(slots)
        for _ in range(extra):
            heapq.heappop(slots)  # more seen running than the account runs: some ended unseen
        for survival, column in zip(queued, queue_columns, strict=True):
            # A fresh job: its whole duration (no condition on an age).
            k = factors[id(survival)][index]
            heapq.heapreplace(slots, slots[0] + k * survival.inverse(column[index]))
        starts.append(slots[0] if slots else 0.0)
    starts.sort()
    # Its own run time is not drawn: given a start S, P(T - S < D <= T) is exact from the curve,
    # which leaves only the draws' noise. Only durations seen past the timeout make a job
    # hopeless: a tail drawn past the longest seen may as well lie just under it (a job past its
    # timeout is never seen whole, so the curve cannot tell those from the savable ones).
    hopeless = own.survival(timeout) if own.longest > timeout else 0.0

    # The draws resolve the start's tail only to about 1 / draws; a risk of 0.1 % from a bounded
    # run time lives further out. So the starts are also read as a normal of their mean and
    # spread (a start sums many durations), on ``_NORMAL_Z``, and the larger of
    # the two risks counts.
    mean = sum(starts) / draws
    # The draws' own spread, or the one a sum of the queued durations has over ``concurrency``
    # slots, whichever is wider (a few draws can miss how a bimodal queue adds up).
    variances: dict[int, float] = {}
    for curve in queued:
        if id(curve) not in variances:
            variances[id(curve)] = curve.variance()
    queued_spread = math.sqrt(sum(variances[id(c)] for c in queued)) / max(1, concurrency)
    spread = max(math.sqrt(sum((s - mean) ** 2 for s in starts) / draws), queued_spread)
    normal = [max(0.0, mean + spread * z) for z in _NORMAL_Z]

    def at(start: float, shift: float) -> float:
        return max(0.0, own.survival(timeout - max(0.0, start - shift)) - hopeless)

    def risk_if_sooner(shift: float) -> float:
        drawn = sum(at(s, shift) for s in starts) / draws
        smooth = sum(w * at(s, shift) for s, w in zip(normal, _NORMAL_WEIGHTS, strict=True))
        return max(drawn, smooth)

    risk = risk_if_sooner(0.0)
    shift = 0.0
    if risk > allowed:
        low, high = 0.0, max(starts[-1], normal[-1])
        while high - low > 5.0:  # it only sets when to judge again (15 s at the soonest)
            mid = (low + high) / 2
            if risk_if_sooner(mid) > allowed:
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
