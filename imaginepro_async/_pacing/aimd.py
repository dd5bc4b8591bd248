"""The rate a budget learns when someone else spends the same API key.

A budget keeps to its limit by construction (the proof in ``budget.py``): a 429 it draws was not
caused by its own arithmetic, so another consumer of the key (a dashboard, a colleague's script, a
process without the shared budget) spends part of each window. ``RateLearner`` learns how much it
leaves, in pure code (times are passed in, API seconds). Its unit is the *level*: requests per
window, ``L`` (the limit's) when nobody else is seen.

- **Cut on a 429, from evidence.** The server refused a request at ``t``: it had already let ``L``
  in within the window before ``t``. The budget counts its own requests answered (not refused) in
  the window before the 429, ``k``: the stranger spent about ``L − k`` of it. The *learnt* level is
  what that leaves, less ``margin`` (a 4/s poller puts 4 in most 1 s windows and 5 in some):
  ``k − margin``, but never more than one request under the level that drew the 429 (every cut
  makes progress) and never less than half of it (one window's count can mislead). The rate drops
  at once to half the level that drew the 429 and climbs one request per window back to the learnt
  level, so that a count taken just as the stranger arrived (it had sent only one or two) costs one
  more 429, not a stream of them. Once a level is learnt, a later 429 (a probe's, or one up to
  ``probe_every`` after a probe reached the limit) lowers it and never raises it: climbing, the
  budget can fill windows the stranger then finds full (its requests refused, not ours), and the
  count then undercounts it. Never below ``floor`` of the limit. With ``L = 1`` (creates) the count says nothing, and each cut halves the rate.
- **One cut per event.** 429s that come back until the pause (``Retry-After``) is over, and at
  least a window, answer requests that were in flight when the rate was cut: they do not cut again.
- **Probe, to see the stranger leave.** No header tells how much of the key is spent, so the only
  evidence that the stranger left is a window above the learnt level answered cleanly. Every
  ``probe_every`` seconds after the last cut the level rises one request per window above the
  learnt one, up to the limit: if the stranger left, the full limit is back within ``probe_every``
  plus ``L − learnt`` windows; if it stays, the first window it does not fit in draws one 429
  (rarely two), which cuts back to the level the new count gives. So a stranger that stays costs
  about one 429 per ``probe_every``, and one that leaves is noticed within ``probe_every``: the
  trade-off is ``RateLimit.probe_every`` (45 s by default).

A budget alone never cuts: without a 429, the level is the limit's. ``level(now)`` is computed
from the last cut in O(1): nothing runs in the background. ``state``/``adopt`` let budgets in
several processes (Redis) share one learnt level.
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

__all__ = ["LearntState", "RateLearner"]

logger = logging.getLogger("imaginepro_async")


class LearntState(NamedTuple):
    """What a cut decided (times in the owner's API seconds; ``cut_at`` −inf: never cut)."""

    learnt: float  # requests per window the evidence leaves us
    cut_to: float  # requests per window right after the cut (it climbs to ``learnt``)
    cut_at: float
    quiet_until: float  # 429s before this answer requests sent before the cut


_NEVER = LearntState(math.inf, math.inf, -math.inf, -math.inf)


class RateLearner:
    """The learnt request level of one budget (see the module docstring).

    Args:
        requests: the limit's requests per window (``L``).
        per: the window (API seconds).
        probe_every: seconds after a cut before the level probes upward again.
        name: names the budget in log lines (never the API key).
        floor: the lowest share of the limit the level is cut to.
        margin: requests per window left to the stranger over what was counted (its jitter).
    """

    __slots__ = ("_floor", "_margin", "_reduced", "_state", "full", "name", "per", "probe_every")

    def __init__(
        self,
        requests: int,
        per: float,
        *,
        probe_every: float = 45.0,
        name: str = "budget",
        floor: float = 0.1,
        margin: float = 1.0,
    ) -> None:
        self.full = float(requests)
        self.per = per
        self.probe_every = probe_every
        self.name = name
        self._floor = floor * requests
        self._margin = margin
        self._state = _NEVER
        self._reduced = False  # below the limit at the last ``permits`` (to log the climb back)

    @property
    def state(self) -> LearntState:
        """The last cut (to share it with other processes)."""
        return self._state

    def adopt(self, state: LearntState) -> None:
        """Take a cut made elsewhere (another process on the key); ``cut_at`` −inf: none."""
        self._state = _NEVER if state.cut_at == -math.inf else state

    def level(self, now: float) -> float:
        """The requests per window to spend at ``now``."""
        learnt, cut_to, cut_at, quiet_until = self._state
        if cut_at == -math.inf:
            return self.full
        creep = cut_to + math.floor(max(0.0, now - quiet_until) / self.per)
        level = min(learnt, creep)
        probe_from = cut_at + self.probe_every
        if now >= probe_from:
            level = max(level, learnt + 1 + math.floor((now - probe_from) / self.per))
        return min(self.full, level)

    def rate(self, now: float) -> float:
        """The requests per second to spend at ``now``."""
        return self.level(now) / self.per

    def throttled(self, now: float, *, ours: int | None = None, until: float | None = None) -> bool:
        """A 429 came back at ``now``; returns whether it cut the level.

        Args:
            ours: this budget's requests answered (not refused) in the window before it; None if
                unknown (then the level halves).
            until: when the pause it asked for ends.
        """
        if now < self._state.quiet_until:
            return False  # requests in flight when the level was cut: already cut for them
        level = self.level(now)
        cut_to = max(self._floor, level / 2)
        evidence = -math.inf if ours is None else ours - self._margin
        # A level learnt (and up to ``probe_every`` after a probe climbed back to the limit): a
        # probe may have filled windows the stranger then found full (its requests refused, not
        # ours), so the count can undercount it. A 429 then lowers the learnt level, never
        # raises it.
        learnt_before, _, cut_at, _ = self._state
        full_at = cut_at + self.probe_every + max(0.0, self.full - learnt_before - 1) * self.per
        before = learnt_before if now < full_at + self.probe_every else math.inf
        learnt = max(cut_to, min(evidence, level - 1, before))
        quiet_until = max(now + self.per, now if until is None else until)
        self._state = LearntState(learnt, cut_to, now, quiet_until)
        stranger = "" if ours is None else f"; someone else spent about {self.full - ours:.3g}"
        message = (
            "%s: a 429 this budget did not cause%s of %g requests per %g s: rate cut from %.3g to "
            "%.3g requests/s, learnt %.3g (it probes upward every %g s)"
        )
        args = (self.name, stranger, self.full, self.per, level / self.per, cut_to / self.per,
                learnt / self.per, self.probe_every)  # fmt: skip
        # A probe that met the stranger again is expected; a new or heavier stranger is news.
        severity = logging.WARNING if learnt < before else logging.INFO
        logger.log(severity, message, *args)
        return True

    def permits(self, requests: int, now: float) -> tuple[int, float]:
        """How many of the limit's ``requests`` permits may be out at ``now``, and how long each
        is held (a multiple ≥ 1 of the window): together they give ``level(now)``."""
        level = self.level(now)
        if level >= self.full:
            if self._reduced:
                self._reduced = False
                logger.info("%s: back at the full limit (%g per %g s)", self.name, self.full,
                            self.per)  # fmt: skip
            return requests, 1.0
        self._reduced = True
        count = max(1, min(requests, math.floor(level)))
        # Never held less than a window: fewer permits, each held at least one (the proof).
        return count, max(1.0, count / level)
