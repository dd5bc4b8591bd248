"""A budget that learns the key is shared: the AIMD rule as a table, and the local budget using it.

Times are API seconds, passed in (no clock): the poll budget's 10 per second throughout.
"""

from __future__ import annotations

from typing import Any

import pytest

from imaginepro_async import RateLimit
from imaginepro_async._pacing.aimd import RateLearner
from imaginepro_async._pacing.budget import LocalBudget
from imaginepro_async._pacing.clock import Clock

pytestmark = pytest.mark.anyio

# (rule, 429s at these times, then the rate at this time)
AIMD: list[tuple[str, list[float], float, float]] = [
    ("no 429: the full limit", [], 100.0, 10.0),
    ("a 429 halves the rate", [10.0], 10.0, 5.0),
    ("more 429s in the same window (requests in flight) cut once", [10.0, 10.3, 10.9], 10.9, 5.0),
    ("a 429 windows later cuts what it had climbed back to", [10.0, 12.5], 12.5, 3.5),
    ("clean windows: one step (1/s) per window up to 90 % of the ceiling", [10.0], 13.0, 8.0),
    ("up to 90 % of the rate that drew the 429, no further", [10.0], 40.0, 9.0),
    ("clean for 40 s: the ceiling is forgotten, the rate probes upward", [10.0], 50.0, 10.0),
    ("a stranger seen twice: the plateau sits under the second ceiling", [10.0, 20.0], 30.0, 8.1),
]


@pytest.mark.parametrize(("rule", "throttled", "at", "rate"), AIMD)
def test_the_learnt_rate(rule: str, throttled: list[float], at: float, rate: float) -> None:
    """Cut on a 429 (once per window), creep back while clean, forget the ceiling after 40 s."""
    learner = RateLearner(10, 1.0)
    for t in throttled:
        learner.throttled(t)
    assert learner.rate(at) == pytest.approx(rate)


def test_the_rate_is_not_cut_below_its_floor() -> None:
    """However many 429s, the rate stays at 10 % of the limit or more."""
    learner = RateLearner(10, 1.0, step=0.0)
    for t in (0.0, 2.0, 6.0, 14.0, 30.0, 60.0):
        learner.throttled(t)
    assert learner.rate(60.0) == pytest.approx(1.0)


# (rule, requests, per, 429 at 0?, at, permits out, windows each is held)
PERMITS: list[tuple[str, int, float, bool, float, tuple[int, float]]] = [
    ("the limit: every permit, one window", 10, 1.0, False, 0.0, (10, 1.0)),
    ("polls at 5/s: five permits, one window", 10, 1.0, True, 0.0, (5, 1.0)),
    ("creates at half their limit: one permit held two windows", 1, 3.0, True, 0.0, (1, 2.0)),
    ("polls at 7.5/s: seven permits, never held under a window", 10, 1.0, True, 2.5, (7, 1.0)),
]


@pytest.mark.parametrize(("rule", "requests", "per", "cut", "at", "want"), PERMITS)
def test_the_learnt_rate_as_permits(
    rule: str, requests: int, per: float, cut: bool, at: float, want: tuple[int, float]
) -> None:
    """The learnt rate is spent as fewer permits, or permits held longer than a window."""
    learner = RateLearner(requests, per)
    if cut:
        learner.throttled(0.0)
    count, stretch = learner.permits(requests, at)
    assert count == want[0]
    assert stretch == pytest.approx(want[1])


async def test_a_local_budget_shows_and_spends_its_learnt_rate(caplog: Any) -> None:
    """After a 429 the budget's view shows the cut rate and a log line says why."""
    budget = LocalBudget(RateLimit(10, 1.0), clock=Clock(1000.0), name="poll budget")
    assert budget.rate == 10.0
    with caplog.at_level("WARNING", logger="imaginepro_async"):
        await budget.pause(0.0)
    assert budget.rate == pytest.approx(5.0)
    assert any("poll budget" in r.message and "rate cut" in r.message for r in caplog.records)
    permits = [await budget.acquire() for _ in range(5)]  # five go at once, the sixth waits
    assert budget.started == 5
    for permit in permits:
        await permit.give_back()
