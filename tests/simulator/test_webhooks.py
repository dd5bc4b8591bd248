"""Webhooks: the Message POSTed at the end (and on progress), retried when the receiver fails."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from imaginepro_async.testing import Simulator, WebhookFaults, fixed_duration

from .conftest import FROZEN, Api

pytestmark = pytest.mark.anyio


class Receiver:
    """A small webhook receiver on 127.0.0.1 that can fail its first N deliveries."""

    def __init__(self) -> None:
        self.fail_first = 0
        self.attempts = 0
        self.received: list[dict[str, Any]] = []
        self.got_one = anyio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        assert request.content_type == "application/json"
        if self.attempts <= self.fail_first:
            return web.Response(status=500)
        self.received.append(await request.json())
        self.got_one.set()
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A running receiver; its URL is ``receiver.url``."""
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    hook.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:
        yield hook
    finally:
        await runner.cleanup()


async def test_final_webhook_carries_the_message(api: Api, receiver: Receiver) -> None:
    """At the end, the Message (same JSON as the fetch endpoint) is POSTed; ref is echoed."""
    message_id = await api.imagine(webhookOverride=receiver.url, ref="order-9")
    api.sim.advance(100)
    await api.sim.wait_webhooks()
    assert len(receiver.received) == 1
    payload = receiver.received[0]
    assert payload == await api.fetch(message_id)
    assert payload["status"] == "DONE"
    assert payload["ref"] == "order-9"
    deliveries = api.sim.webhook_deliveries()
    assert [(d.event, d.attempt, d.status, d.delivered) for d in deliveries] == [
        ("final", 1, 204, True)
    ]
    assert deliveries[0].message_id == message_id
    assert deliveries[0].url == receiver.url


async def test_webhook_fires_without_any_request(receiver: Receiver) -> None:
    """The simulator's own timer sends the webhook when the job ends, with nobody polling."""
    async with (
        Simulator(
            time_scale=1000.0, webhook_progress_interval=None, duration=fixed_duration(30.0)
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        await Api(sim, session).imagine(webhookOverride=receiver.url)
        with anyio.fail_after(20):
            await receiver.got_one.wait()
        assert receiver.received[0]["status"] == "DONE"


async def test_failed_deliveries_are_retried(receiver: Receiver) -> None:
    """A receiver answering 500 twice gets the webhook on the third attempt."""
    receiver.fail_first = 2
    async with (
        Simulator(
            time_scale=1000.0,
            webhook_progress_interval=None,
            duration=fixed_duration(30.0),
            webhook_backoff=1.0,
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        await Api(sim, session).imagine(webhookOverride=receiver.url)
        sim.advance(31)
        with anyio.fail_after(20):
            await sim.wait_webhooks()
        attempts = sim.webhook_deliveries()
        assert [(a.attempt, a.status, a.delivered) for a in attempts] == [
            (1, 500, False),
            (2, 500, False),
            (3, 204, True),
        ]
        assert "500" in (attempts[0].error or "")
        assert len(receiver.received) == 1


async def test_deliveries_give_up_after_the_retries(receiver: Receiver) -> None:
    """With webhook_retries=1 a receiver that always fails gets two attempts, then none."""
    receiver.fail_first = 100
    async with (
        Simulator(
            time_scale=1000.0,
            webhook_progress_interval=None,
            webhook_retries=1,
            webhook_backoff=1.0,
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        await Api(sim, session).imagine(webhookOverride=receiver.url)
        sim.advance(100)
        with anyio.fail_after(20):
            await sim.wait_webhooks()
        assert [a.delivered for a in sim.webhook_deliveries()] == [False, False]
        assert receiver.attempts == 2


async def test_unreachable_receivers_are_logged() -> None:
    """A receiver that refuses connections is logged with an error and no status."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with Simulator(
        time_scale=1000.0, webhook_progress_interval=None, webhook_retries=0
    ) as sim:
        async with aiohttp.ClientSession() as session:
            await Api(sim, session).imagine(webhookOverride=f"http://127.0.0.1:{port}/x")
        sim.advance(100)
        with anyio.fail_after(20):
            await sim.wait_webhooks()
        (attempt,) = sim.webhook_deliveries()
        assert attempt.status is None
        assert attempt.error
        assert not attempt.delivered


async def test_progress_webhooks_when_configured(receiver: Receiver) -> None:
    """With webhook_progress_interval the Message is also sent at start and while it runs."""
    async with (
        Simulator(
            time_scale=FROZEN, duration=fixed_duration(100.0), webhook_progress_interval=30.0
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        await Api(sim, session).imagine(webhookOverride=receiver.url)
        sim.advance(200)
        await sim.wait_webhooks()
        events = [(a.event, a.payload["status"], a.payload["progress"]) for a in
                  sim.webhook_deliveries()]  # fmt: skip
        assert sorted(events, key=lambda e: e[2]) == [
            ("progress", "PROCESSING", 0),
            ("progress", "PROCESSING", 30),
            ("progress", "PROCESSING", 60),
            ("progress", "PROCESSING", 90),
            ("final", "DONE", 100),
        ]


async def test_cancelled_and_failed_jobs_send_their_final_webhook(
    api: Api, receiver: Receiver
) -> None:
    """A cancelled job's webhook says FAIL with the cancel error; a moderated prompt's too."""
    target = await api.imagine(webhookOverride=receiver.url)
    await api.press(target, "Cancel Job")
    await api.imagine("gore", webhookOverride=receiver.url)
    await api.sim.wait_webhooks()
    statuses = sorted((p["status"], p["error"]) for p in receiver.received)
    assert [s for s, _ in statuses] == ["FAIL", "FAIL"]
    assert any("cancel" in e.lower() for _, e in statuses)
    assert any("gore" in e.lower() for _, e in statuses)


async def test_timer_wakes_for_a_job_started_by_a_cancel(receiver: Receiver) -> None:
    """A webhook job that a cancel lets start early still gets its webhook on time, unpolled."""
    async with (
        Simulator(
            time_scale=20.0,
            concurrency=1,
            duration=fixed_duration(600.0),
            describe_duration=fixed_duration(10.0),
            general_rate_limit=None,
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        blocker = await api.imagine()
        status, body = await api.post(
            "/api/v1/nova/describe",
            {"url": "https://example.com/a.png", "webhookOverride": receiver.url},
        )
        assert status == 200
        await api.press(blocker, "Cancel Job")
        with anyio.fail_after(15):  # due after 0.5 s of real time; the blocker would take 30 s
            await receiver.got_one.wait()
        assert receiver.received[0]["messageId"] == body["messageId"]


async def test_progress_deliveries_are_the_default_and_carry_a_preview(receiver: Receiver) -> None:
    """By default a running job also POSTs PROCESSING Messages with a served preview uri."""
    async with (
        Simulator(time_scale=FROZEN, duration=fixed_duration(40.0)) as sim,
        aiohttp.ClientSession() as session,
    ):
        await Api(sim, session).imagine(webhookOverride=receiver.url)
        sim.advance(100)
        with anyio.fail_after(20):
            await sim.wait_webhooks()
        events = [(a.event, a.payload["status"]) for a in sim.webhook_deliveries()]
        assert events[0] == ("progress", "PROCESSING")
        assert events[-1] == ("final", "DONE")
        assert len(events) == 4  # at 0, 15 and 30 s, then the end at 40 s
        preview = sim.webhook_deliveries()[1].payload["uri"]
        assert preview.endswith("/preview.png")
        async with session.get(preview) as response:
            assert response.status == 200
            assert response.content_type == "image/png"


async def run_with_faults(receiver: Receiver, faults: WebhookFaults) -> Simulator:
    """Run one 60 s job with progress deliveries every 10 s under ``faults``; return the sim."""
    async with (
        Simulator(
            time_scale=1000.0,
            seed=5,
            duration=fixed_duration(60.0),
            webhook_progress_interval=10.0,
            webhook_backoff=1.0,
            webhook_faults=faults,
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        await Api(sim, session).imagine(webhookOverride=receiver.url)
        sim.advance(61)
        with anyio.fail_after(20):
            await sim.wait_webhooks()
        return sim


async def test_failing_deliveries_are_retried(receiver: Receiver) -> None:
    """fail=0.5 makes some attempts fail without reaching the receiver; they are retried."""
    sim = await run_with_faults(receiver, WebhookFaults(fail=0.5))
    attempts = sim.webhook_deliveries()
    failed = [a for a in attempts if not a.delivered]
    assert failed
    assert all("webhook fault" in (a.error or "") for a in failed)
    assert any(a.attempt > 1 and a.delivered for a in attempts)
    assert len(receiver.received) == len([a for a in attempts if a.delivered])


async def test_duplicate_deliveries_arrive_twice(receiver: Receiver) -> None:
    """duplicate=1 delivers every webhook a second, identical time."""
    sim = await run_with_faults(receiver, WebhookFaults(duplicate=1.0))
    attempts = sim.webhook_deliveries()
    copies = [a for a in attempts if a.duplicate]
    assert len(copies) * 2 == len(attempts)
    assert len(receiver.received) == len(attempts)
    finals = [p for p in receiver.received if p["status"] == "DONE"]
    assert len(finals) == 2
    assert finals[0] == finals[1]


async def test_late_deliveries_arrive_out_of_order(receiver: Receiver) -> None:
    """late=1 holds deliveries back at random: some arrive after a later one (out of order)."""
    await run_with_faults(receiver, WebhookFaults(late=1.0, late_by=(0.0, 200.0)))
    progress = [p["progress"] for p in receiver.received]
    assert len(progress) == 7  # at 0, 10, ..., 50 s while running, then the final one
    assert progress != sorted(progress)


def test_webhook_faults_are_validated() -> None:
    """Probabilities outside 0..1 and a reversed late_by are refused."""
    with pytest.raises(ValueError, match="duplicate"):
        WebhookFaults(duplicate=1.5)
    with pytest.raises(ValueError, match="late_by"):
        WebhookFaults(late_by=(10.0, 1.0))
