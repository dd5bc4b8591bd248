"""The rate a budget learns when someone else spends the same API key (AIMD).

A budget keeps to its limit by construction (the proof in ``budget.py``): a 429 it draws was not
caused by its own arithmetic, so another consumer of the key (a dashboard, a colleague's script, a
process without the shared budget) spends part of each window. ``RateLearner`` adapts the rate the
budget spends at, additive increase / multiplicative decrease, in pure code (times are passed in,
API seconds):

- **Cut on a 429**: the rate halves (not below ``floor`` of the limit), once per window: the other
  requests already in flight in that window are answered 429 too and must not cut it again. The
  rate at the 429 becomes the *ceiling*: what the stranger left was less than that.
- **Creep back while answers are clean**: one ``step`` of the limit per clean window up to 90 % of
  the ceiling (fast: the stranger took no more than before), then nothing more until ``forget``
  seconds passed without a 429; then the ceiling is forgotten and the rate climbs a step per window
  to the full limit (probing once: if the stranger is still there, one 429 cuts it again). So
  429s come at most once per ``forget`` while a steady stranger stays, and the full limit is back
  within ``forget`` plus a few windows after it leaves.

``rate(now)`` is computed from the last cut, in O(1): nothing runs in the background.
"""

from __future__ import annotations

import logging
import math

__all__ = ["RateLearner"]

logger = logging.getLogger("imaginepro_async")


class RateLearner:
    """The learnt request rate of one budget (see the module docstring).

    Args:
        requests: the limit's requests per window.
        per: the window (API seconds).
        name: names the budget in log lines.
        step: the share of the limit added per clean window.
        floor: the lowest share of the limit the rate is cut to.
        forget: clean seconds after which the ceiling found by the last 429 is forgotten.
    """

    __slots__ = (
        "_ceiling",
        "_cut_at",
        "_cut_to",
        "_floor",
        "_forget",
        "_step",
        "full",
        "name",
        "per",
    )

    def __init__(
        self,
        requests: int,
        per: float,
        *,
        name: str = "budget",
        step: float = 0.1,
        floor: float = 0.1,
        forget: float = 40.0,
    ) -> None:
        self.full = requests / per
        self.per = per
        self.name = name
        self._step = step * self.full
        self._floor = floor * self.full
        self._forget = forget
        self._cut_at = -math.inf
        self._cut_to = self.full
        self._ceiling = self.full

    def rate(self, now: float) -> float:
        """The requests per second to spend at ``now``."""
        elapsed = now - self._cut_at
        if elapsed == math.inf:
            return self.full
        climbed = self._cut_to + self._step * math.floor(elapsed / self.per)
        plateau = max(self._cut_to, 0.9 * self._ceiling)
        if elapsed < self._forget:
            return min(climbed, plateau)
        probing = plateau + self._step * (1 + math.floor((elapsed - self._forget) / self.per))
        return min(self.full, max(min(climbed, plateau), probing))

    def throttled(self, now: float) -> bool:
        """A 429 came back at ``now``: cut the rate (once per window). Returns whether it cut."""
        if now - self._cut_at < self.per / max(1e-9, self.rate(now) / self.full):
            return False  # the same window's requests in flight: already cut for them
        current = self.rate(now)
        self._ceiling = current
        self._cut_to = max(self._floor, current / 2)
        self._cut_at = now
        logger.warning(
            "%s: a 429 this budget did not cause (someone else spends the key?): rate cut from "
            "%.3g to %.3g requests/s (limit %.3g); it climbs back while answers are clean",
            self.name,
            current,
            self._cut_to,
            self.full,
        )
        return True

    def permits(self, requests: int, now: float) -> tuple[int, float]:
        """How many of the limit's ``requests`` permits may be out at ``now``, and how long each
        is held (a multiple ≥ 1 of the window): together they give ``rate(now)``."""
        rate = self.rate(now)
        if rate >= self.full:
            return requests, 1.0
        count = max(1, min(requests, math.floor(rate * self.per)))
        # Never held less than a window: fewer permits, each held at least one (the proof).
        return count, max(1.0, count / (rate * self.per))
