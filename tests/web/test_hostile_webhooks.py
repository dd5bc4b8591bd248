"""Webhook receivers under hostile deliveries: 4xx or 200, never a 5xx, never a redirect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from imaginepro_async import PollPolicy, Status
from imaginepro_async.testing import Simulator
from imaginepro_async.webhooks import WebhookReceiver, asgi_app

from .conftest import client_for, free_port, serve

pytestmark = pytest.mark.anyio

JSON = "application/json"


def hostile_bodies(limit: int) -> list[tuple[str, bytes, str | None]]:
    """(name, body, content type) of deliveries only a broken or hostile sender would POST."""
    deep = 60_000 if limit >= 64 * 1024 else limit // 2
    nested = b'{"a":' * 5000 + b"1" + b"}" * 5000
    ok = b'{"messageId": "m-1", "status": "DONE"}'
    return [
        ("deep array", b"[" * deep, JSON),
        ("deep array, closed", b"[" * 5000 + b"]" * 5000, JSON),
        ("deep object inside a Message", b'{"messageId": "m", "x": ' + nested + b"}", JSON),
        ("70 levels", b'{"messageId": "m", "x": ' + b"[" * 70 + b"]" * 70 + b"}", JSON),
        ("int of 5,000 digits", b'{"messageId": "m", "progress": ' + b"9" * 5000 + b"}", JSON),
        ("int of 4,301 digits, bare", b"1" * 4301, JSON),
        ("float of 400 digits", b'{"messageId": "m", "progress": 1' + b"0" * 400 + b".5}", JSON),
        ("float 1e999999", b'{"messageId": "m", "progress": 1e999999}', JSON),
        ("NaN", b'{"messageId": "m", "progress": NaN}', JSON),
        ("-Infinity", b'{"messageId": "m", "progress": -Infinity, "status": "DONE"}', JSON),
        ("createdAt 1e400", b'{"messageId": "m", "createdAt": 1e400}', JSON),
        ("createdAt huge int", b'{"messageId": "m", "createdAt": ' + b"9" * 90 + b"}", JSON),
        ("huge string id", b'{"messageId": "' + b"a" * (limit - 100) + b'"}', JSON),
        ("over the size cap", b'{"messageId": "' + b"a" * limit + b'"}', JSON),
        ("many images", b'{"messageId": "m", "images": [' + b'"x",' * 5000 + b'"x"]}', JSON),
        ("invalid UTF-8", b'{"messageId": "\xff\xfe"}', JSON),
        ("overlong UTF-8", b'{"messageId": "\xc0\xaf"}', JSON),
        ("lone surrogate escaped", b'{"messageId": "\\ud800", "status": "DONE"}', JSON),
        ("lone surrogate raw", b'{"messageId": "\xed\xa0\x80", "status": "DONE"}', JSON),
        ("surrogate in ref", b'{"messageId": "m", "ref": "\\udfff"}', JSON),
        ("NUL in id", b'{"messageId": "a\\u0000b", "status": "DONE"}', JSON),
        ("UTF-16 with BOM", '{"messageId": "m-1"}'.encode("utf-16"), JSON),
        ("text/plain", ok, "text/plain"),
        ("form", b"messageId=m-1&status=DONE", "application/x-www-form-urlencoded"),
        ("multipart", b"--x\r\n\r\n" + ok + b"\r\n--x--", "multipart/form-data; boundary=x"),
        ("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"),
        ("no content type", ok, None),
        ("empty", b"", JSON),
        ("whitespace", b" \n\t ", JSON),
        ("truncated", b'{"messageId": "m", "sta', JSON),
        ("null", b"null", JSON),
        ("array", b"[1, 2]", JSON),
        ("string", b'"m-1"', JSON),
        ("id a number", b'{"messageId": 7, "status": "DONE"}', JSON),
        ("id a list", b'{"messageId": ["m"], "status": "DONE"}', JSON),
        ("id an object", b'{"messageId": {"$ne": null}}', JSON),
        ("id null", b'{"messageId": null}', JSON),
        ("status an object", b'{"messageId": "m", "status": {"a": 1}}', JSON),
        ("progress a list", b'{"messageId": "m", "progress": [1]}', JSON),
        ("buttons an object", b'{"messageId": "m", "buttons": {"U1": 1}}', JSON),
        ("duplicate keys", b'{"messageId": "a", "messageId": "b"}', JSON),
        ("path traversal id", b'{"messageId": "../../subscription/account-info"}', JSON),
        ("a valid delivery", ok, JSON),
    ]


async def deliver_all(url: str, limit: int) -> dict[str, int]:
    """POST every hostile body to ``url`` without following redirects; status by body name."""
    statuses: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        for name, body, content_type in hostile_bodies(limit):
            headers = {} if content_type is None else {"Content-Type": content_type}
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                statuses[name] = response.status
    return statuses


def assert_never_5xx(statuses: dict[str, int]) -> None:
    """Every answer is 200, 400 or 413: no 5xx, no redirect."""
    wrong = {name: status for name, status in statuses.items() if status not in (200, 400, 413)}
    assert not wrong, wrong
    assert statuses["over the size cap"] == 413 and statuses["a valid delivery"] == 200
    refused = ("deep array", "deep object inside a Message", "int of 5,000 digits", "empty")
    for name in (*refused, "lone surrogate escaped", "lone surrogate raw", "invalid UTF-8"):
        assert statuses[name] == 400, name


@asynccontextmanager
async def uvicorn_serving(app: Any, port: int) -> AsyncIterator[str]:
    """Serve an ASGI app with a real uvicorn on 127.0.0.1:``port``; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        for _ in range(1000):  # uvicorn has no event to wait for: look until it listens
            if server.started:
                break
            await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


async def test_the_aiohttp_handler_answers_hostile_bodies_with_4xx(sim: Simulator) -> None:
    """aiohttp_handler on a real aiohttp server: deep, huge, broken bodies get 400/413, never 5xx."""
    port = free_port()
    async with client_for(sim, webhook_base=f"http://127.0.0.1:{port}/hook") as client:
        receiver = WebhookReceiver(client)
        app = web.Application()
        app.router.add_route("*", "/hook", receiver.aiohttp)
        async with serve(app, port):
            statuses = await deliver_all(client.webhook_url(), receiver.max_body_bytes)
    assert_never_5xx(statuses)
    assert receiver.stats.invalid >= 20


async def test_the_asgi_app_under_uvicorn_answers_hostile_bodies_with_4xx(sim: Simulator) -> None:
    """asgi_app served alone by uvicorn: the same hostile bodies get 400/413, never 5xx."""
    port = free_port()
    async with client_for(sim, webhook_base=f"http://127.0.0.1:{port}/") as client:
        app = asgi_app(client)
        async with uvicorn_serving(app, port):
            statuses = await deliver_all(client.webhook_url(), app.receiver.max_body_bytes)
    assert_never_5xx(statuses)


async def test_the_documented_fastapi_route_answers_without_a_redirect(sim: Simulator) -> None:
    """The documented FastAPI form (docs/guides/web.md): 403 without a token, 200 with it, 4xx to hostile bodies, no 307."""
    from fastapi import FastAPI

    port = free_port()
    base = f"http://127.0.0.1:{port}/imaginepro/webhook"
    async with client_for(sim, webhook_base=base) as client:
        app = FastAPI()
        receiving = asgi_app(client)
        # Starlette's stubs type request handlers only; an ASGI app is served as is (its Route).
        app.add_route("/imaginepro/webhook", receiving, methods=["POST"])  # type: ignore[arg-type]
        async with uvicorn_serving(app, port), aiohttp.ClientSession() as session:
            for url, expected in ((base, 403), (f"{base}?token=forged-forged-forged", 403)):
                async with session.post(url, json={}, allow_redirects=False) as response:
                    assert response.status == expected
            statuses = await deliver_all(client.webhook_url(), receiving.receiver.max_body_bytes)
            jobs = [await client.imagine(f"a harbour {n}") for n in range(2)]
            assert [(await job).status for job in jobs] == [Status.DONE] * 2
    assert_never_5xx(statuses)
    assert receiving.receiver.stats.fetched == 2  # the simulator's deliveries arrived directly


async def test_the_simulator_does_not_follow_a_receivers_redirect() -> None:
    """A receiver answering 307 (Starlette's mount) loses the delivery: logged as failed, polled."""
    received: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"/hook/?{request.query_string}")

    async def slash(request: web.Request) -> web.Response:
        received.append(await request.text())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", redirect)
    app.router.add_post("/hook/", slash)
    port = free_port()
    policy = PollPolicy(webhook_silence=60.0)
    async with (
        Simulator(time_scale=600, seed=6, webhook_retries=0) as sim,
        serve(app, port),
        client_for(sim, webhook_base=f"http://127.0.0.1:{port}/hook", poll_policy=policy) as client,
    ):
        job = await client.imagine("a quiet sea")
        assert (await job).status is Status.DONE
        await sim.wait_webhooks()
        attempts = sim.webhook_deliveries()
    assert attempts and not any(attempt.delivered for attempt in attempts)
    assert {attempt.status for attempt in attempts} == {307}
    assert received == []
