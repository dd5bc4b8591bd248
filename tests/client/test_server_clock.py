"""The server-clock bound behind early create permits: sound from stamps, off when they disagree."""

from __future__ import annotations

import pytest

from imaginepro_async._pacing.budget import ServerClock

# (rule, samples (sent, answered, stamp) with the server's clock 1000 s ahead, stamp, now, bound)
BOUNDS: list[tuple[str, list[tuple[float, float, float]], float, float, float | None]] = [
    ("no sample: no bound", [], 1010.0, 11.0, None),
    (
        "answers 1 s after processing: no better than the answer",
        [(10.0, 11.0, 1010.0)],
        1010.0,
        11.0,
        11.0,
    ),
    (
        "one quick answer bounds the offset: a slow one's arrival is its stamp",
        [(0.0, 0.01, 1000.0), (10.0, 11.0, 1010.0)],
        1010.0,
        11.0,
        10.0 + 0.01 + 0.001 + 0.005 + 1e-4 * 11.0,
    ),
]


@pytest.mark.parametrize(("rule", "samples", "stamp", "now", "bound"), BOUNDS)
def test_a_create_arrived_by_its_stamp_on_the_bounded_server_clock(
    rule: str, samples: list[tuple[float, float, float]], stamp: float, now: float, bound: float
) -> None:
    """The latest arrival of a stamped request is as the row says, never after its answer."""
    clock = ServerClock()
    for sent, answered, stamped in samples:
        clock.stamped(sent=sent, answered=answered, stamp=stamped)
    got = clock.arrived_by(stamp, now=now)
    assert got == (None if bound is None else pytest.approx(bound))


def test_stamps_no_single_clock_explains_switch_the_bound_off() -> None:
    """Stamps from clocks that disagree (replicas) switch the bound off: the safe rule stays."""
    clock = ServerClock()
    clock.stamped(sent=0.0, answered=0.01, stamp=1000.0)
    clock.stamped(sent=10.0, answered=10.01, stamp=1005.0)  # a clock 5 s behind the first
    assert not clock.consistent
    assert clock.arrived_by(1010.0, now=11.0) is None
