"""Webhooks as hints: authenticated deliveries wake jobs through one fetch, forgeries cost little."""

from __future__ import annotations

import json

import aiohttp
import anyio
import pytest

from imaginepro_async import (
    PollPolicy,
    RateLimit,
    ResponseValidationError,
    Status,
    SubmissionUncertainError,
)
from imaginepro_async.testing import Endpoint, FaultKind, Simulator, WebhookFaults, fixed_duration
from imaginepro_async.webhooks import asgi_app, parse_webhook

from .conftest import client_for, free_port, hooked_client

pytestmark = pytest.mark.anyio


def forged(message_id: str, status: str = "DONE", **extra: object) -> dict[str, object]:
    """A delivery body claiming ``message_id`` has ``status``."""
    return {"messageId": message_id, "status": status, "progress": 100, **extra}


async def post(url: str, body: object, *, raw: bytes | None = None) -> tuple[int, str]:
    """POST a delivery to ``url``; the receiver's status and text."""
    data = raw if raw is not None else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session, session.post(url, data=data) as response:
        return response.status, await response.text()


def test_parse_webhook_is_as_lenient_as_the_progress_endpoint() -> None:
    """A body with a string progress and a lower-case status parses into a Message."""
    message = parse_webhook(b'{"messageId": "m-1", "status": "processing", "progress": "42"}')
    assert message.message_id == "m-1"
    assert message.status is Status.PROCESSING and message.progress == 42
    assert parse_webhook({"messageId": "m-2", "status": "DONE", "extra": 1}).is_terminal


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"status": "DONE"}', b"\xff\xfe"])
def test_parse_webhook_refuses_what_is_not_a_message(body: bytes) -> None:
    """Bodies that are not JSON or have no messageId raise ResponseValidationError."""
    with pytest.raises(ResponseValidationError):
        parse_webhook(body)


async def test_deliveries_resolve_jobs_with_one_fetch_each(sim: Simulator) -> None:
    """Jobs made with the client's webhook URL end through deliveries, one poll each."""
    async with hooked_client(sim) as (client, receiver, _):
        jobs = [await client.imagine(f"a harbour {n}") for n in range(6)]
        results = [await job for job in jobs]
        assert all(message.status is Status.DONE for message in results)
        assert [job.polls for job in jobs] == [1] * 6
        assert receiver.stats.fetched == 6
        token_url = client.webhook_url()
        delivered_to = {attempt.url for attempt in sim.webhook_deliveries()}
        assert delivered_to == {token_url}
        assert "token=" in token_url and sim.api_key not in token_url


async def test_tokenless_and_forged_token_deliveries_get_403_and_cost_nothing() -> None:
    """Without the client's token a delivery is refused before its body is read: no poll."""
    async with (
        Simulator(time_scale=60, seed=4, duration=fixed_duration(600)) as slow,
        hooked_client(slow) as (client, receiver, url),
    ):
        job = await client.imagine("a slow lighthouse")
        polls = job.polls
        for target in (f"{url}/hook", f"{url}/hook?token=guess-guess-guess-guess"):
            status, _ = await post(target, forged(job.message_id))
            assert status == 403
        assert receiver.stats.refused == 2
        assert job.polls == polls and not job.done()


async def test_a_forged_delivery_costs_at_most_one_poll_and_decides_nothing() -> None:
    """A valid-token delivery claiming DONE for a running job: one fetch, the job goes on."""
    # One hint per job per 300 API s (5 s here): the ten deliveries fit in it even on a busy
    # machine (at the default 5 API s, 83 ms here, a slow machine let a second fetch through).
    async with (
        Simulator(time_scale=60, seed=4, duration=fixed_duration(600)) as slow,
        hooked_client(slow, poll_policy=PollPolicy(hint_interval=300.0)) as (client, receiver, _),
    ):
        job = await client.imagine("a slow lighthouse")
        polls = job.polls
        for _ in range(10):
            status, _ = await post(client.webhook_url(), forged(job.message_id))
            assert status == 200
        assert not job.done()
        stats = receiver.stats
        assert stats.fetched == 1 and stats.limited == 9
        assert job.polls <= polls + 1


async def test_the_total_rate_of_fetches_for_deliveries_is_capped() -> None:
    """Forged DONE deliveries about many jobs are fetched only up to the client's hint limit."""
    # Four jobs that all run at once: none is held back as queued work (queue_horizon).
    async with Simulator(
        time_scale=60, seed=4, duration=fixed_duration(600), concurrency=4
    ) as slow:
        limit = RateLimit(2, 600.0)
        options = {"webhook_hint_limit": limit, "account_concurrency": 4}
        async with hooked_client(slow, **options) as (client, receiver, _):
            jobs = [await client.imagine(f"a slow lighthouse {n}") for n in range(4)]
            for job in jobs:
                await post(client.webhook_url(), forged(job.message_id))
            stats = receiver.stats
            assert (stats.fetched, stats.limited) == (2, 2)
            assert not any(job.done() for job in jobs)


async def test_bad_bodies_get_400_413_and_unknown_jobs_200(sim: Simulator) -> None:
    """Not JSON: 400; over the size cap: 413; a job nobody follows: 200, counted as unknown."""
    async with hooked_client(sim, max_body_bytes=1024) as (client, receiver, _url):
        hook = client.webhook_url()
        assert (await post(hook, None, raw=b"{oops"))[0] == 400
        assert (await post(hook, {"no": "id"}))[0] == 400
        assert (await post(hook, None, raw=b"x" * 5000))[0] == 413
        assert (await post(hook, forged("no-such-job")))[0] == 200
        async with aiohttp.ClientSession() as session, session.get(hook) as response:
            assert response.status == 405
        stats = receiver.stats
        assert (stats.invalid, stats.too_large, stats.unknown) == (2, 1, 1)


async def test_a_delivery_with_an_unknown_id_reaches_the_job_by_its_ref() -> None:
    """A delivery whose messageId is unknown but whose ref is a followed job's is routed by ref."""
    async with (
        Simulator(time_scale=60, seed=4, duration=fixed_duration(600)) as slow,
        hooked_client(slow) as (client, receiver, _),
    ):
        job = await client.imagine("a slow lighthouse", ref="order-17")
        await post(client.webhook_url(), forged("some-other-id", ref="order-17"))
        assert receiver.stats.fetched == 1 and not job.done()


async def test_duplicate_late_and_out_of_order_deliveries_are_harmless() -> None:
    """Deliveries doubled, delayed and reordered: every job ends DONE, progress never goes back."""
    faults = WebhookFaults(duplicate=0.5, late=0.5, late_by=(1.0, 40.0))
    async with (
        Simulator(time_scale=600, seed=5, webhook_faults=faults) as sim,
        hooked_client(sim) as (client, _, _),
    ):
        jobs = [await client.imagine(f"a storm {n}") for n in range(5)]
        for job in jobs:
            seen = [message async for message in job.updates()]
            assert seen[-1].status is Status.DONE
            progress = [message.progress for message in seen]
            assert progress == sorted(progress)
        assert any(attempt.duplicate for attempt in sim.webhook_deliveries())


async def test_polling_takes_over_when_deliveries_stop() -> None:
    """Every delivery failing: jobs still end, by polls once the webhook silence ran out."""
    faults = WebhookFaults(fail=1.0)
    policy = PollPolicy(webhook_silence=60.0)
    async with (
        Simulator(time_scale=600, seed=6, webhook_faults=faults, webhook_retries=0) as sim,
        hooked_client(sim, poll_policy=policy) as (client, receiver, _),
    ):
        jobs = [await client.imagine(f"a quiet sea {n}") for n in range(3)]
        results = [await job for job in jobs]
        assert all(message.status is Status.DONE for message in results)
        assert receiver.stats.fetched == 0
        assert all(job.polls >= 1 for job in jobs)


async def test_the_plain_asgi_app_served_alone_wakes_jobs(sim: Simulator) -> None:
    """asgi_app(client) under uvicorn, no framework: deliveries end jobs; tokenless gets 403."""
    import uvicorn

    port = free_port()
    async with client_for(sim, webhook_base=f"http://127.0.0.1:{port}/") as client:
        app = asgi_app(client)
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve)
            for _ in range(1000):  # uvicorn has no event to wait for: look until it listens
                if server.started:
                    break
                await anyio.sleep(0.01)
            assert (await post(f"http://127.0.0.1:{port}/", forged("x")))[0] == 403
            jobs = [await client.imagine(f"a harbour {n}") for n in range(3)]
            assert [(await job).status for job in jobs] == [Status.DONE] * 3
            assert [job.polls for job in jobs] == [1, 1, 1]
            async with aiohttp.ClientSession() as session, session.get(client.webhook_url()) as got:
                assert got.status == 405
            server.should_exit = True
    assert app.receiver.stats.fetched == 3 and app.receiver.stats.refused == 1


async def test_an_uncertain_submission_does_not_show_the_webhook_token(sim: Simulator) -> None:
    """SubmissionUncertainError quotes the request with the webhook token blotted out."""
    sim.faults.add(kind=FaultKind.DROP_AFTER, endpoint=Endpoint.IMAGINE, times=1)
    async with client_for(sim, webhook_base="http://127.0.0.1:9/hook") as client:
        with pytest.raises(SubmissionUncertainError) as caught:
            await client.imagine("a quay")
        token = client.webhook_url().split("token=")[1]
        assert token not in str(caught.value) and "token=********" in str(caught.value)
