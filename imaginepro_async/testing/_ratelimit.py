"""Per-key sliding-window rate limits, in simulated seconds."""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

import attrs

Bucket = Literal["general", "progress"]


@attrs.frozen
class SimulatedRateLimit:
    """At most ``requests`` requests per ``per`` simulated seconds, per API key.

    The numbers of the real service (doc, System Design page): 1 per 3 s on general endpoints,
    10 per 1 s on the progress endpoint. The sliding-window log is our assumption.
    """

    requests: int
    per: float

    def __attrs_post_init__(self) -> None:
        if self.requests < 1 or not self.per > 0:
            raise ValueError(
                f"a rate limit needs requests >= 1 and per > 0, got {self.requests} per {self.per}"
            )


@attrs.define
class RateLimiter:
    """The two buckets of the real service; set either to None to switch it off.

    ``general`` covers imagine, button, describe, account-info, images and prompt-check;
    ``progress`` covers both message-fetch paths. A refused request uses no budget (assumed).
    """

    general: SimulatedRateLimit | None
    progress: SimulatedRateLimit | None
    _logs: dict[tuple[Bucket, str], deque[float]] = attrs.field(factory=dict, init=False)

    def acquire(self, bucket: Bucket, key: str, now: float) -> int | None:
        """Take a slot; return None if granted, else the whole seconds until one frees (>= 1)."""
        limit = self.general if bucket == "general" else self.progress
        if limit is None:
            return None
        log = self._logs.get((bucket, key))
        if log is None:
            log = self._logs[(bucket, key)] = deque()
        cutoff = now - limit.per
        while log and log[0] <= cutoff:
            log.popleft()
        if len(log) < limit.requests:
            log.append(now)
            return None
        # The slot frees when the oldest entry still needed leaves the window.
        frees_at = log[len(log) - limit.requests] + limit.per
        return max(1, math.ceil(frees_at - now))

    def reset(self) -> None:
        """Forget every request seen so far."""
        self._logs.clear()
