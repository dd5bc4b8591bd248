"""A simulator for ``benchmarks.workloads``, configured by one JSON argument (any durations).

``python -m benchmarks._simserve '{"seed": 1, ...}'`` prints the same ``listening on`` and
``API key:`` lines as ``python -m imaginepro_async.testing``, and serves until SIGTERM.

Keys: ``time_scale``, ``seed``, ``concurrency``, ``durations`` (``["uniform", low, high]`` or
``["bimodal", short, long, share_short]`` or ``["lognormal", median, sigma, cap]`` or
``["slowdown", count, low, high, later_low, later_high]``: the first ``count`` jobs uniform in
[low, high], every later one in [later_low, later_high]), ``failure_rate``, ``latency_before``,
``latency_after``, ``rate_limits`` (bool).
"""

from __future__ import annotations

import json
import math
import random
import signal
import sys
from typing import Any

import anyio

from imaginepro_async.testing import Simulator, uniform_duration
from imaginepro_async.testing._engine import DurationFn
from imaginepro_async.testing._simulator import DEFAULT_GENERAL_LIMIT, DEFAULT_PROGRESS_LIMIT


def durations(spec: list[Any]) -> DurationFn:
    """The duration distribution a spec names."""
    if spec[0] == "uniform":
        return uniform_duration(float(spec[1]), float(spec[2]))
    if spec[0] == "bimodal":
        short, long, share = float(spec[1]), float(spec[2]), float(spec[3])

        def draw(rng: random.Random) -> float:
            return short if rng.random() < share else long

        return draw
    if spec[0] == "lognormal":
        median, sigma, cap = float(spec[1]), float(spec[2]), float(spec[3])

        def draw_lognormal(rng: random.Random) -> float:
            return min(cap, rng.lognormvariate(math.log(median), sigma))

        return draw_lognormal
    if spec[0] == "slowdown":
        count = int(spec[1])
        first, later = (
            uniform_duration(*map(float, spec[2:4])),
            uniform_duration(*map(float, spec[4:6])),
        )
        drawn = 0

        def draw_slowing(rng: random.Random) -> float:
            nonlocal drawn
            drawn += 1
            return (first if drawn <= count else later)(rng)

        return draw_slowing
    raise ValueError(f"unknown durations {spec!r}")


async def serve(config: dict[str, Any]) -> None:
    """Serve until SIGTERM or SIGINT."""
    limits = config.get("rate_limits", True)
    async with Simulator(
        port=0,
        time_scale=float(config["time_scale"]),
        seed=int(config["seed"]),
        concurrency=int(config["concurrency"]),
        duration=durations(config.get("durations", ["uniform", 30, 90])),
        failure_rate=float(config.get("failure_rate", 0.0)),
        general_rate_limit=DEFAULT_GENERAL_LIMIT if limits else None,
        progress_rate_limit=DEFAULT_PROGRESS_LIMIT if limits else None,
        latency_before=float(config.get("latency_before", 0.0)),
        latency_after=float(config.get("latency_after", 0.0)),
        credits=10**9,
    ) as sim:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            print(f"listening on {sim.url}", flush=True)
            print(f"API key: {sim.api_key}", flush=True)
            async for _ in signals:
                break


if __name__ == "__main__":
    anyio.run(serve, json.loads(sys.argv[1]), backend="asyncio")
