"""Fixtures for web backends: the simulator, a webhook receiver on a free port, servers of apps."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from imaginepro_async import ImagineProClient, RetryPolicy
from imaginepro_async.testing import Simulator
from imaginepro_async.webhooks import WebhookReceiver

#: Simulated seconds per real second: a 60 s job takes 0.1 s.
SCALE = 600.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator at SCALE with the documented rate limits and 30-90 s jobs."""
    async with Simulator(time_scale=SCALE, seed=3, concurrency=3) as simulator:
        yield simulator


def client_for(sim: Simulator, **options: Any) -> ImagineProClient:
    """A client for ``sim`` scaled to its clock."""
    options.setdefault("base_url", sim.url)
    options.setdefault("time_scale", sim.time_scale)
    options.setdefault("seed", 0)
    options.setdefault("retry", RetryPolicy(attempts=4, base=0.5, cap=5.0))
    return ImagineProClient(options.pop("api_key", sim.api_key), **options)


@asynccontextmanager
async def serve(app: web.Application, port: int) -> AsyncIterator[str]:
    """Serve an aiohttp app on 127.0.0.1:``port``; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def hooked_client(
    sim: Simulator, **options: Any
) -> AsyncIterator[tuple[ImagineProClient, WebhookReceiver, str]]:
    """An open client whose jobs carry its webhook URL, and the aiohttp route receiving them."""
    port = free_port()
    limit = options.pop("max_body_bytes", 64 * 1024)
    client = client_for(sim, webhook_base=f"http://127.0.0.1:{port}/hook", **options)
    receiver = WebhookReceiver(client, max_body_bytes=limit)
    app = web.Application()
    app.router.add_route("*", "/hook", receiver.aiohttp)
    async with serve(app, port) as url, client:
        yield client, receiver, url
