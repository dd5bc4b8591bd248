"""What the shared-jobs tests share: a simulator whose jobs all run at once, jobs made there."""

from __future__ import annotations

from imaginepro_async import ImagineProClient
from imaginepro_async.testing import Simulator, fixed_duration
from tests.redis._common import SCALE

LEADER_LEASE = 15.0  # API seconds (0.75 s real): takeovers stay quick


def simulator(seed: int) -> Simulator:
    """Jobs of 60 API seconds (3 s real), all running at once, no random failures."""
    return Simulator(time_scale=SCALE, seed=seed, concurrency=20, duration=fixed_duration(60))


async def make_jobs(sim: Simulator, count: int) -> list[str]:
    """Submit ``count`` imagine jobs with a plain client, which then forgets them."""
    async with ImagineProClient(sim.api_key, base_url=sim.url, time_scale=SCALE) as client:
        jobs = [await client.imagine(f"a harbour, take {n}") for n in range(count)]
    return [job.message_id for job in jobs]
