"""A budget that learns the key is shared: the learnt level as a table, a stranger simulated
against the server's sliding window, and the local budget using it.

Times are API seconds, passed in (no clock): the poll budget's 10 per second unless said.
"""

from __future__ import annotations

import heapq
import math
import random
from typing import Any

import pytest

from imaginepro_async import RateLimit
from imaginepro_async._pacing.aimd import RateLearner
from imaginepro_async._pacing.budget import LocalBudget
from imaginepro_async._pacing.clock import Clock
from imaginepro_async.testing._ratelimit import RateLimiter, SimulatedRateLimit

pytestmark = pytest.mark.anyio

# (rule, 429s as (time, ours let in during the window before it or None), then the level at a time)
LEVELS: list[tuple[str, list[tuple[float, int | None]], float, float]] = [
    ("no 429: the full limit", [], 100.0, 10.0),
    ("first 429, the stranger just came (9 of ours in): half at once", [(10.0, 9)], 10.0, 5.0),
    ("... then a request per clean window after the pause, to 8", [(10.0, 9)], 12.0, 6.0),
    ("... and no further than 8 (the count's 9, less the margin)", [(10.0, 9)], 40.0, 8.0),
    ("first 429, 6 of ours in: the stranger spends 4: learnt 5", [(10.0, 6)], 40.0, 5.0),
    ("the count unknown: the level halves", [(10.0, None)], 40.0, 5.0),
    (
        "429s in flight at the cut (until the pause ends) cut once",
        [(10.0, 9), (10.3, 9), (10.9, 9)],
        13.0,
        7.0,
    ),
    ("a 429 while climbing: learnt from the new count", [(10.0, 9), (13.0, 6)], 40.0, 5.0),
    ("... halving first, back to it a request per window", [(10.0, 9), (13.0, 6)], 15.0, 4.5),
    ("a stranger heavier than half: the count cuts deeper", [(10.0, 9), (13.0, 2)], 40.0, 3.5),
    ("the probe: 45 s after the cut, one request more", [(10.0, 6)], 55.0, 6.0),
    ("... and one more each clean window", [(10.0, 6)], 56.0, 7.0),
    ("stranger gone: the full limit 49 s after the cut", [(10.0, 6)], 59.0, 10.0),
    (
        "a probe that met the stranger: back to what the count leaves",
        [(10.0, 6), (56.0, 6)],
        70.0,
        5.0,
    ),
    ("... and the next probe 45 s after that one", [(10.0, 6), (56.0, 6)], 101.0, 6.0),
    (
        "a probe's count never lifts the learnt level (the stranger may have been the one refused)",
        [(10.0, 6), (58.0, 8)],
        80.0,
        5.0,
    ),
    ("nor a 429 within 45 s of the climb back (full at 59)", [(10.0, 6), (70.0, 8)], 90.0, 5.0),
    ("later, a new stranger is learnt afresh", [(10.0, 6), (110.0, 8)], 130.0, 7.0),
]


@pytest.mark.parametrize(("rule", "throttled", "at", "level"), LEVELS)
def test_the_learnt_level(
    rule: str, throttled: list[tuple[float, int | None]], at: float, level: float
) -> None:
    """Cut from the count (once per event), climb back to it, probe every 45 s."""
    learner = RateLearner(10, 1.0)
    for t, ours in throttled:
        learner.throttled(t, ours=ours, until=t + 1.0)
    assert learner.level(at) == pytest.approx(level)
    assert learner.rate(at) == pytest.approx(level)


def test_only_the_first_429_of_an_event_cuts() -> None:
    """``throttled`` says whether it cut: not for 429s before the pause and a window are over."""
    learner = RateLearner(10, 1.0)
    assert learner.throttled(10.0, ours=9, until=12.0)
    assert not learner.throttled(11.9, ours=9, until=13.0)
    assert learner.throttled(12.0, ours=4, until=13.0)


def test_the_level_is_not_cut_below_its_floor() -> None:
    """However many 429s, the level stays at 10 % of the limit or more."""
    learner = RateLearner(10, 1.0)
    for t in (0.0, 2.0, 4.0, 6.0, 8.0, 10.0):
        learner.throttled(t, ours=0, until=t + 1.0)
    assert learner.level(10.0) == pytest.approx(1.0)


# (rule, requests, per, 429 at 0 with this count (or no 429), at, permits out, windows held)
PERMITS: list[tuple[str, int, float, int | bool | None, float, tuple[int, float]]] = [
    ("the limit: every permit, one window", 10, 1.0, False, 0.0, (10, 1.0)),
    ("polls at 5/s: five permits, one window", 10, 1.0, 6, 0.0, (5, 1.0)),
    ("creates after a 429: one permit held two windows", 1, 3.0, 0, 0.0, (1, 2.0)),
    ("creates, the count says nothing: still halved", 1, 3.0, None, 10.0, (1, 2.0)),
    ("creates probe after 45 s: the full limit", 1, 3.0, 0, 45.0, (1, 1.0)),
    ("nothing of ours let in: still only halved", 10, 1.0, 0, 0.0, (5, 1.0)),
]


@pytest.mark.parametrize(("rule", "requests", "per", "cut", "at", "want"), PERMITS)
def test_the_learnt_level_as_permits(
    rule: str,
    requests: int,
    per: float,
    cut: int | bool | None,
    at: float,
    want: tuple[int, float],
) -> None:
    """The learnt level is spent as fewer permits, or permits held longer than a window."""
    learner = RateLearner(requests, per)
    if cut is not False:
        learner.throttled(0.0, ours=None if cut is None else int(cut), until=per)
    count, stretch = learner.permits(requests, at)
    assert count == want[0]
    assert stretch == pytest.approx(want[1])


def _simulate(
    stranger: tuple[float, float, float] | None, *, seconds: float, probe_every: float = 45.0
) -> dict[str, Any]:
    """Our budget (always wanting more than the limit) and a stranger polling at ``rate`` per
    second from ``arrive`` to ``leave`` (jittered ±40 ms), against the server's sliding window.

    Requests arrive at once; a permit is held one window (as stretched) and up to 100 ms more
    (its answer), a 429 pauses us for its Retry-After. Returns our 429 times and the levels."""
    limit = RateLimit(10, 1.0)
    server = RateLimiter(general=None, progress=SimulatedRateLimit(10, 1.0))
    learner = RateLearner(10, 1.0, probe_every=probe_every)
    rng = random.Random(19)
    held: list[float] = []
    answered: list[float] = []
    refused: list[float] = []
    ours_429: list[float] = []
    theirs: list[float] = []
    if stranger is not None:
        rate, arrive, leave = stranger
        theirs = [
            arrive + n / rate + rng.uniform(-0.04, 0.04)
            for n in range(math.ceil((leave - arrive) * rate))
        ]
    paused_until = -math.inf
    levels: list[tuple[float, float]] = []
    tick = 0
    while (t := tick * 0.01) < seconds:
        tick += 1
        while theirs and theirs[0] <= t:
            server.acquire("progress", "key", theirs.pop(0))
        while held and held[0] <= t:
            heapq.heappop(held)
        if tick % 50 == 0:
            levels.append((t, learner.level(t)))
        allowed, stretch = learner.permits(limit.requests, t)
        while paused_until <= t and len(held) < allowed:
            # Answers take 0–100 ms more or less: the permits do not come back in one burst.
            heapq.heappush(held, t + limit.per * stretch * 1.01 + rng.uniform(0.0, 0.1))
            wait = server.acquire("progress", "key", t)
            answered.append(t)  # a 429 is answered too: the budget tells them apart by pauses
            if wait is None:
                continue
            ours_429.append(t)
            refused.append(t)
            paused_until = t + wait
            ours = sum(1 for a in answered if a > t - 1.0) - sum(1 for r in refused if r > t - 1.0)
            learner.throttled(t, ours=ours, until=paused_until)
    return {"429": ours_429, "levels": levels}


def test_a_budget_alone_never_cuts() -> None:
    """No stranger: no 429 of our own making, and the level stays the limit's."""
    run = _simulate(None, seconds=120.0)
    assert run["429"] == []
    assert {level for _, level in run["levels"]} == {10.0}


def test_a_stranger_at_4_per_second_is_learnt_and_left_behind() -> None:
    """The issue's case: the cuts cost a few 429s in the first 30 s, then only the probes (one
    each per 45 s) until the stranger leaves; the full limit is back within a minute."""
    arrive, leave = 60.0, 300.0
    run = _simulate((4.0, arrive, leave), seconds=420.0)
    first = [t for t in run["429"] if t < arrive + 30]
    after = [t for t in run["429"] if arrive + 30 <= t]
    assert all(arrive <= t < leave for t in run["429"])
    assert 1 <= len(first) <= 4
    assert len(after) <= math.ceil((leave - arrive - 30) / 45) + 1
    back = next(t for t, level in run["levels"] if t > leave and level == 10.0)
    assert back - leave < 60.0


def test_a_longer_probe_interval_trades_429s_for_a_slower_climb() -> None:
    """probe_every=120: fewer 429s while the stranger stays, the limit back later."""
    arrive, leave = 60.0, 300.0
    run = _simulate((4.0, arrive, leave), seconds=540.0, probe_every=120.0)
    assert len([t for t in run["429"] if arrive + 30 <= t]) <= 2
    back = next(t for t, level in run["levels"] if t > leave and level == 10.0)
    assert back - leave < 130.0


async def test_a_local_budget_shows_and_spends_its_learnt_rate(caplog: Any) -> None:
    """After a 429 the budget's view shows the cut rate and a warning names the budget, the
    stranger's estimated share and the learnt rate."""
    budget = LocalBudget(RateLimit(10, 1.0), clock=Clock(1000.0), name="poll budget")
    assert budget.rate == 10.0
    with caplog.at_level("WARNING", logger="imaginepro_async"):
        await budget.pause(0.0)
    assert budget.rate == pytest.approx(5.0)
    [record] = [r for r in caplog.records if "poll budget" in r.message]
    assert record.levelname == "WARNING"
    assert "someone else spent about 10" in record.message
    assert "rate cut from 10 to 5" in record.message
    permits = [await budget.acquire() for _ in range(5)]  # five go at once, the sixth waits
    assert budget.started == 5
    for permit in permits:
        await permit.give_back()


async def test_a_local_budget_counts_its_answers_before_a_429() -> None:
    """Six answered in the window before the 429: the stranger spent about 4, learnt 5/s."""
    budget = LocalBudget(RateLimit(10, 1.0), clock=Clock(1.0), name="poll budget")
    for _ in range(7):
        await (await budget.acquire()).release()  # the seventh is the one refused
    await budget.pause(1.0)
    learner = budget._learner
    assert learner.state.learnt == pytest.approx(5.0)
