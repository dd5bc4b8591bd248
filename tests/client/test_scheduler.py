"""The scheduler end to end against a small server whose jobs never end: no wait is endless."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from imaginepro_async import ImagineProClient, JobDeadlineError, JobError, PollPolicy

pytestmark = pytest.mark.anyio
KEY = "sk-scheduler-test-key-0123456789"
POLLS = web.AppKey("polls", list[str])
#: API seconds per real second: a 900 s server-side timeout passes in 0.09 s.
SCALE = 10_000.0


def never_ending(status: str) -> web.Application:
    """A server that creates jobs and answers ``status`` for every one of them, forever."""
    polls: list[str] = []

    async def create(_: web.Request) -> web.Response:
        return web.json_response({"success": True, "messageId": "stuck-1"})

    async def fetch(request: web.Request) -> web.Response:
        polls.append(request.match_info["id"])
        body = {"messageId": request.match_info["id"], "status": status, "progress": 0}
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/api/v1/nova/imagine", create)
    app.router.add_get("/api/v1/message/fetch/{id}", fetch)
    app[POLLS] = polls
    return app


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("status", ["WEIRD", "QUEUED", "PROCESSING"])
async def test_a_submitted_job_that_never_ends_is_given_up_after_its_timeout(status: str) -> None:
    """A job still not ended after its server-side timeout and the grace ends JobDeadlineError."""
    app = never_ending(status)
    async with (
        serve(app) as url,
        ImagineProClient(KEY, base_url=url, time_scale=SCALE, seed=0) as client,
    ):
        job = await client.imagine("stuck", job_timeout=10)
        with pytest.raises(JobDeadlineError) as caught:
            await job
    assert isinstance(caught.value, JobError)
    assert caught.value.message_id == "stuck-1"
    assert caught.value.message is not None and caught.value.message.status.value == status
    assert caught.value.waited >= 10 + PollPolicy().deadline_grace
    assert 1 <= len(app[POLLS]) <= 10  # a few looks, not a poll loop


async def test_a_job_followed_by_id_that_never_ends_is_given_up_too() -> None:
    """client.job(id) on a job stuck in an unknown status ends after the longest timeout."""
    app = never_ending("WEIRD")
    async with (
        serve(app) as url,
        ImagineProClient(KEY, base_url=url, time_scale=SCALE, seed=0) as client,
    ):
        with pytest.raises(JobDeadlineError, match="no longer followed"):
            await client.job("stuck-2")
    polls = app[POLLS]
    assert polls and set(polls) == {"stuck-2"}


async def test_the_scheduler_opens_with_the_client_and_closes_once() -> None:
    """The scheduler is OPEN inside the client, CLOSED after; closing again is harmless."""
    from imaginepro_async import ClientClosedError
    from imaginepro_async._scheduling.scheduler import SchedulerState

    async with (
        serve(never_ending("WEIRD")) as url,
        ImagineProClient(KEY, base_url=url, time_scale=SCALE, seed=0) as client,
    ):
        scheduler = client._core._scheduler
        assert scheduler is not None
        opened = scheduler.state
        assert opened is SchedulerState.OPEN
        job = client.job("stuck-4")
    assert scheduler.state is SchedulerState.CLOSED
    await scheduler.aclose()
    with pytest.raises(ClientClosedError, match="not open"):
        scheduler.track("stuck-5", submitted=False)
    with pytest.raises(ClientClosedError, match="stuck-4"):
        await job
