"""What the client learns of its account from what it sees, and the admission rule built on it.

Pure code (no I/O, no clock), used by the planner:

- ``Durations``: a running estimate of job durations per kind (endpoint and button), as quantiles
  over the latest samples; a kind with too few samples of its own borrows the pooled ones.
- ``hold_reason``: whether a new submission would wait in the account's queue past its server-side
  timeout. ImaginePro runs an account's jobs first in, first out, ``C`` at a time: with ``n`` jobs
  of ours ahead, a new job starts once ``n - C + 1`` of them have ended, one every ``mean / C`` on
  average, and ends one duration later. A job that would not end before its timeout (less a safety
  share, for the spread of that sum) costs credits for nothing (the server charges a queue timeout),
  so it is held until enough of the jobs ahead have ended.
"""

from __future__ import annotations

import bisect
from collections import deque

__all__ = ["Durations", "hold_reason"]

#: Samples of one kind before its own quantiles are used (else the pooled ones are).
_MIN_SAMPLES = 3
#: Samples before a learnt quantile may be lower than the prior: the first jobs seen ending are
#: the quickest ones (the long ones are still running), so early samples are biased short.
_TRUSTED_SAMPLES = 10


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

    def quantile(self, kind: str | None, q: float) -> float | None:
        """The ``q`` quantile (0..1) of ``kind``'s durations; None while too few were seen."""
        window = self._samples(kind)
        return None if window is None else window.quantile(q)

    def cautious(self, kind: str | None, q: float | None, prior: float) -> float:
        """The ``q`` quantile (None: the mean) of ``kind``'s durations, but not below ``prior``
        until enough samples make up for the early ones being the short ones."""
        window = self._samples(kind)
        if window is None:
            return prior
        learnt = window.mean() if q is None else window.quantile(q)
        return learnt if len(window.order) >= _TRUSTED_SAMPLES else max(learnt, prior)


def hold_reason(
    *, ahead: int, concurrency: int, mean: float, longest: float, timeout: float, safety: float
) -> str | None:
    """Why a new job should not be submitted now (None: it can finish in time; see the module).

    Args:
        ahead: jobs of ours on the account not known to have ended (queued or running).
        concurrency: how many jobs the account runs at once (estimated).
        mean: the mean duration of the jobs ahead.
        longest: a long duration for the new job (a high quantile).
        timeout: the new job's server-side timeout (it counts from creation, queue included).
        safety: the share of ``timeout`` kept free for the spread of the jobs ahead.
    """
    if ahead < concurrency:
        return None
    turns = ahead - concurrency + 1
    starts_in = turns * mean / concurrency
    if starts_in + longest <= timeout * (1.0 - safety):
        return None
    return (
        f"{ahead} jobs are ahead on an account that runs about {concurrency} at once (each "
        f"~{mean:.0f} s): a new job would start in ~{starts_in:.0f} s and could end after its "
        f"{timeout:.0f} s timeout"
    )
