"""Fixtures: a fast simulator and a client whose budgets follow its time scale."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from imaginepro_async import ImagineProClient, PollPolicy, RetryPolicy
from imaginepro_async.testing import Simulator, fixed_duration

#: Simulated seconds per real second in these tests: a 60 s job takes 0.1 s.
SCALE = 600.0

ClientFactory = Callable[..., AbstractAsyncContextManager[ImagineProClient]]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator at SCALE with the documented rate limits and 30-90 s jobs."""
    async with Simulator(time_scale=SCALE, seed=1, concurrency=3) as simulator:
        yield simulator


def client_for(sim: Simulator, **options: Any) -> ImagineProClient:
    """A client for ``sim`` with default budgets and policy, scaled to its clock."""
    options.setdefault("base_url", sim.url)
    options.setdefault("time_scale", sim.time_scale)
    options.setdefault("seed", 0)
    options.setdefault("retry", RetryPolicy(attempts=4, base=0.5, cap=5.0))
    return ImagineProClient(options.pop("api_key", sim.api_key), **options)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ImagineProClient]:
    """An open client for ``sim``."""
    async with client_for(sim) as opened:
        yield opened


__all__ = ["SCALE", "PollPolicy", "client_for", "fixed_duration"]
