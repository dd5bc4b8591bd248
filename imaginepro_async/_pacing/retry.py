"""Retries: one backoff function (full jitter) for every retry the SDK makes.

Reads, polls, safe resends of submissions, downloads and the batch's downloads all wait
``backoff(attempt, ...)`` API seconds between tries (``attempt`` counts from 0). Full jitter spreads
the retries of many clients over the whole interval, as the AWS architecture blog recommends.
"""

from __future__ import annotations

import random

import attrs

__all__ = ["RetryPolicy", "backoff"]


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): uniform in [0, ceiling].

    The ceiling is ``base * 2**attempt``, at most ``cap``.
    """
    return rng.uniform(0.0, min(cap, base * 2.0 ** min(attempt, 64)))


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be a number > 0, got {value!r}")


def _count(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"RetryPolicy.{attribute.name} must be a whole number ≥ 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How transient failures are retried: exponential backoff with full jitter.

    Attributes:
        attempts: how many times a read is tried in all (the scheduler's polls retry without end).
        base: the first backoff ceiling, in API seconds.
        cap: the largest backoff ceiling, in API seconds.
    """

    attempts: int = attrs.field(default=5, validator=_count)
    base: float = attrs.field(default=0.5, validator=_positive)
    cap: float = attrs.field(default=30.0, validator=_positive)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based); see ``backoff``."""
        return backoff(attempt, base=self.base, cap=self.cap, rng=rng)
