"""What the client learns of its account's job durations from the jobs seen ending.

Pure code (no I/O, no clock), used by the planner:

- ``Durations``: the latest durations per kind (endpoint and button), as quantiles over the latest
  samples; a kind with too few samples of its own borrows the pooled ones. The admission rule
  builds its survival curves on these and on the running jobs (``survival.py``).
- ``FailurePoints``: where, in progress, the jobs seen running failed, against how many jobs
  reached each stretch of progress (the hazard per tenth of progress), and from it how far apart
  the fresh looks of a running job go: Keller's optimal checking schedule (1974) looks at a
  density proportional to the square root of the hazard, so a stretch where jobs fail more is
  looked at more often and one where none failed less, for the same number of looks per job.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

__all__ = ["Durations", "FailurePoints"]

#: Samples of one kind before its own quantiles are used (else the pooled ones are).
_MIN_SAMPLES = 3


class _Window:
    """The latest ``size`` samples, kept sorted too (quantiles in O(1), updates in O(size))."""

    __slots__ = ("order", "size", "sorted")

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[float] = deque()
        self.sorted: list[float] = []

    def add(self, value: float) -> None:
        if len(self.order) == self.size:
            old = self.order.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]
        self.order.append(value)
        bisect.insort(self.sorted, value)

    def mean(self) -> float:
        return sum(self.order) / len(self.order)

    def quantile(self, q: float) -> float:
        values = self.sorted
        rank = (len(values) - 1) * q
        low = int(rank)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (rank - low)


class Durations:
    """Job durations seen, per kind (API seconds), as running quantiles over the latest samples.

    Args:
        window: samples kept per kind (and pooled).
    """

    def __init__(self, window: int = 64) -> None:
        self._window = window
        self._kinds: dict[str, _Window] = {}
        self._pooled = _Window(window)

    def add(self, kind: str | None, seconds: float) -> None:
        """One job of ``kind`` ran ``seconds``; a job of unknown kind (followed by id, maybe not
        even this client's) is not pooled with the jobs this client submits."""
        if not seconds > 0:
            return
        if kind is not None:
            self._pooled.add(seconds)
        self._kinds.setdefault(kind or "", _Window(self._window)).add(seconds)

    def count(self) -> int:
        """How many durations (of any kind) are kept."""
        return len(self._pooled.order)

    def mean(self) -> float:
        """The mean of the durations kept, any kind (0.0 when none)."""
        return self._pooled.mean() if self._pooled.order else 0.0

    def _samples(self, kind: str | None) -> _Window | None:
        own = self._kinds.get(kind or "")
        if own is not None and len(own.order) >= _MIN_SAMPLES:
            return own
        return self._pooled if len(self._pooled.order) >= _MIN_SAMPLES else None

    def samples(self, kind: str | None) -> tuple[tuple[float, ...], bool]:
        """The durations kept of ``kind``, or the pooled ones while it has too few (maybe none),
        and whether they are its own."""
        own = self._kinds.get(kind or "")
        if own is not None and len(own.order) >= _MIN_SAMPLES:
            return tuple(own.order), True
        return tuple(self._pooled.order), False

    def quantile(self, kind: str | None, q: float) -> float | None:
        """The ``q`` quantile (0..1) of ``kind``'s durations; None while too few were seen."""
        window = self._samples(kind)
        return None if window is None else window.quantile(q)


class FailurePoints:
    """The hazard of failing per tenth of progress, and the spacing of fresh looks it gives.

    Args:
        least: failures seen before the spacing departs from even (below: factor 1).
        low: the smallest factor (the most often a stretch is looked at, relative to even).
        high: the largest factor (a stretch where no job failed is still looked at).
    """

    __slots__ = ("_factors", "_failed", "_reached", "failures", "high", "least", "low")

    BINS = 10

    def __init__(self, *, least: int = 5, low: float = 0.5, high: float = 1.5) -> None:
        self.least = least
        self.low = low
        self.high = high
        self.failures = 0
        self._failed = [0] * self.BINS
        self._reached = [0] * self.BINS
        self._factors: list[float] | None = None

    def ended(self, last_progress: float, *, failed: bool) -> None:
        """A job seen running ended: DONE (it went through every stretch) or FAIL after it was
        last seen at ``last_progress`` (it failed in that stretch or just after)."""
        top = self.BINS if not failed else min(self.BINS - 1, int(last_progress) // 10) + 1
        for index in range(top):
            self._reached[index] += 1
        if failed:
            self._failed[top - 1] += 1
            self.failures += 1
        self._factors = None

    def factor(self, progress: float) -> float:
        """How far apart the fresh looks of a job at ``progress`` go, relative to even: the mean
        of the square roots of the hazards over that of its stretch (Keller), within [low, high];
        1 until ``least`` failures were seen."""
        if self.failures < self.least:
            return 1.0
        factors = self._factors
        if factors is None:
            # Half a failure spread over the stretches: none is taken as certain never to fail.
            spread = 0.5 / self.BINS
            # Each failure counted half in its tenth, a quarter in each neighbour: a job last
            # seen in one tenth may have failed in the next, and a dozen failures over ten
            # tenths leave each estimate noisy (unsmoothed, FAIL lag p99 was 2.8-2.9 s on the
            # frontier's failpart over 8 seeds; smoothed 2.2 s, the mean the same).
            counts = self._failed
            last = len(counts) - 1
            smooth = [
                0.5 * counts[i] + 0.25 * counts[max(0, i - 1)] + 0.25 * counts[min(last, i + 1)]
                for i in range(len(counts))
            ]
            roots = [
                math.sqrt((failed + spread) / max(1, reached))
                for failed, reached in zip(smooth, self._reached, strict=True)
            ]
            mean = sum(roots) / len(roots)
            factors = [min(self.high, max(self.low, mean / r)) for r in roots]
            # Clipped, the factors no longer average out (a quiet stretch held at 1.5 instead of
            # 5 is looked at more often than Keller's): scale them until the looks per job are
            # those of even looks again, within the clip. Each tenth of progress takes the same
            # time, so that is the mean of 1 / factor.
            for _ in range(8):
                density = sum(1.0 / f for f in factors) / len(factors)
                if abs(density - 1.0) < 1e-3:
                    break
                factors = [min(self.high, max(self.low, f * density)) for f in factors]
            self._factors = factors
        return factors[min(self.BINS - 1, max(0, int(progress) // 10))]

    def gap(self, progress: float, rate: float | None, even: float) -> float:
        """How long until the next fresh look at a job at ``progress`` that advances ``rate``
        points of progress per second (None: not known), were the looks ``even`` apart without
        failures: one look's worth of the density ``1 / (even * factor)`` along the progress it
        will go through. A job about to enter the stretches where jobs fail is looked at as
        those stretches ask, not as the quiet one it is leaving (a look spaced from the quiet
        stretch's factor alone jumped over the first tenth where jobs fail)."""
        if self.failures < self.least:
            return even
        if rate is None or rate <= 0.0:
            return even * self.factor(progress)
        left = 1.0  # of one look
        spent = 0.0
        at = min(max(progress, 0.0), 100.0)
        while True:
            span = even * self.factor(at)  # seconds per look here
            edge = (min(self.BINS - 1, int(at) // 10) + 1) * 10.0
            if edge >= 100.0:
                return spent + left * span
            crossing = (edge - at) / rate
            if crossing >= left * span:
                return spent + left * span
            left -= crossing / span
            spent += crossing
            at = edge
