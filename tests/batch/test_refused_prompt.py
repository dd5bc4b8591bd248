"""A request whose prompt the service refuses is recorded as failed with the reason: refused,
nothing created or charged, never uncertain."""

from __future__ import annotations

import pytest

from imaginepro_async._batch.batch import Batch
from imaginepro_async._batch.journal import RequestState

from .conftest import World, client_for

pytestmark = pytest.mark.anyio


async def test_a_refused_prompt_is_failed_with_its_reason(world: World) -> None:
    """Of three requests, the one asking for a blocked word ends FAILED saying the prompt was
    refused; the others end DONE; no job and no charge for it."""
    requests = world.requests(3)
    requests[1]["prompt"] = "an nsfw boat"
    async with (
        client_for(world.sim) as client,
        Batch(client, requests, journal=world.tmp / "run.db") as batch,
    ):
        results = {result.key: result async for result in batch}
    refused = results["r1"]
    assert refused.state is RequestState.FAILED
    assert refused.message_id is None
    assert refused.error is not None
    assert "refused the prompt" in refused.error and "blocked words" in refused.error
    assert "\n" not in refused.error
    assert [results[key].state for key in ("r0", "r2")] == [RequestState.DONE] * 2
    assert world.sim.jobs_per_ref() == {"r0": 1, "r2": 1}
    assert world.sim.credits_spent()[world.sim.api_key] == 2 * 5
