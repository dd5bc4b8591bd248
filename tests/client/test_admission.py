"""Submissions wait while a new job could not end before its server-side timeout."""

from __future__ import annotations

import anyio
import pytest

from imaginepro_async import ImagineProClient, InvalidInputError, Status
from imaginepro_async.testing import Simulator, fixed_duration

from .conftest import client_for

pytestmark = pytest.mark.anyio


async def test_a_submission_that_would_time_out_in_the_queue_waits_its_turn() -> None:
    """On a one-slot account, a 100 s job behind a 60 s one is created only once a slot frees."""
    async with (
        Simulator(time_scale=100, seed=3, concurrency=1, duration=fixed_duration(60.0)) as sim,
        client_for(sim) as client,
    ):
        first = await client.imagine("runs 60 s")
        assert client.submission_hold is None
        reasons: list[str | None] = []
        async with anyio.create_task_group() as tg:

            async def watch_hold() -> None:
                while not reasons or reasons[-1] is None:
                    reasons.append(client.submission_hold)
                    await anyio.sleep(0.01)

            tg.start_soon(watch_hold)
            second = await client.imagine("must end within 100 s", job_timeout=100)
            reasons.append("submitted")
        assert any(r is not None and "jobs are ahead" in r for r in reasons)
        assert (await second).status is Status.DONE
        assert (await first).status is Status.DONE
        finished = sim.job(first.message_id).finished
        assert finished is not None and sim.job(second.message_id).created >= finished
        assert client.submission_hold is None


async def test_account_concurrency_must_be_a_positive_whole_number() -> None:
    """account_concurrency= refuses a bad value before anything is sent."""
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(InvalidInputError, match="account_concurrency"):
            ImagineProClient("sk-test", account_concurrency=bad)  # type: ignore[arg-type]


async def test_poll_pacing_must_be_answer_or_send() -> None:
    """poll_pacing= refuses anything but "answer" and "send"."""
    with pytest.raises(InvalidInputError, match="poll_pacing"):
        ImagineProClient("sk-test", poll_pacing="fast")  # type: ignore[arg-type]


async def test_polls_paced_by_send_time_still_see_every_job_end(sim: Simulator) -> None:
    """With poll_pacing="send", jobs are followed to their end like with the default."""
    async with client_for(sim, poll_pacing="send") as client:
        jobs = [await client.imagine(f"paced {n}") for n in range(3)]
        for job in jobs:
            assert (await job).status is Status.DONE
