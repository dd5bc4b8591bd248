"""Seams with real deployments: leftover test settings, a user's session, clocks, a failed start."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web

from imaginepro_async import (
    ClientClosedError,
    ClientState,
    ImagineProClient,
    InvalidInputError,
    PollPolicy,
    RateLimit,
    RetryPolicy,
    Status,
)
from imaginepro_async._scheduling.scheduler import Scheduler

from .test_wire import KEY, serve

pytestmark = pytest.mark.anyio

REAL = "https://api.imaginepro.ai"


# -- a time scale meant for the simulator ---------------------------------------------------------


def test_a_time_scale_from_the_environment_is_refused_against_the_real_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IMAGINEPRO_TIME_SCALE=50 with the real base URL: InvalidInputError naming the variable."""
    monkeypatch.setenv("IMAGINEPRO_TIME_SCALE", "50")
    monkeypatch.delenv("IMAGINEPRO_BASE_URL", raising=False)
    with pytest.raises(InvalidInputError, match=r"IMAGINEPRO_TIME_SCALE=50 .*unset"):
        ImagineProClient(KEY)
    with pytest.raises(InvalidInputError, match=r"IMAGINEPRO_TIME_SCALE=50"):
        ImagineProClient(KEY, base_url="https://192.0.2.7:8080")


def test_a_time_scale_argument_is_refused_off_loopback_and_allowed_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """time_scale=50 is refused for a remote base URL, allowed for 127.0.0.1, ::1 and localhost."""
    monkeypatch.delenv("IMAGINEPRO_TIME_SCALE", raising=False)
    with pytest.raises(InvalidInputError, match=r"time_scale=50 .*leave time_scale out"):
        ImagineProClient(KEY, base_url=REAL, time_scale=50)
    for url in ("http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080"):
        assert ImagineProClient(KEY, base_url=url, time_scale=50).time_scale == 50
    assert ImagineProClient(KEY, base_url=REAL, time_scale=1).time_scale == 1


# -- a user's session and stale keep-alive connections --------------------------------------------


class StaleKeepAlive:
    """A server that keeps connections alive, then resets one as soon as a second request comes.

    What a server (or its load balancer) does when it closes an idle keep-alive connection at the
    moment the client reuses it: the request may have arrived, no answer ever comes.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.resets = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                if answered:  # a reused connection: reset it, unanswered
                    self.resets += 1
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.close()
                    return
                self.requests.append(lines[0])
                writer.write(self.answer(lines[0]))
                await writer.drain()
                answered = True
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @staticmethod
    def answer(request_line: str) -> bytes:
        method, path, _ = request_line.split(" ")
        if method == "POST":
            body = {"success": True, "messageId": "m-new", "createdAt": "2026-01-01T00:00:00Z"}
        else:
            message_id = path.rsplit("/", 1)[-1]
            body = {"messageId": message_id, "status": "DONE", "progress": 100}
        data = json.dumps(body).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: keep-alive\r\n\r\n"
        )
        return head.encode() + data


@asynccontextmanager
async def stale_keep_alive() -> AsyncIterator[tuple[StaleKeepAlive, str]]:
    """A StaleKeepAlive server on a free loopback port, and its URL."""
    behaviour = StaleKeepAlive()
    server = await asyncio.start_server(behaviour.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield behaviour, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_users_session_still_sends_each_create_over_a_fresh_connection() -> None:
    """With session=, a create never reuses a pooled connection: a stale one cannot make it uncertain."""
    async with stale_keep_alive() as (server, url), aiohttp.ClientSession() as session:
        async with ImagineProClient(
            KEY,
            base_url=url,
            session=session,
            time_scale=600.0,
            retry=RetryPolicy(attempts=3, base=0.001, cap=0.01),
        ) as client:
            assert (await client.fetch("m-old")).status is Status.DONE  # pools a connection
            job = await client.imagine("a harbour")  # over that connection, it would be reset
            assert job.message_id == "m-new"
            assert (await job).status is Status.DONE
        assert not session.closed  # the user's session is left open
    assert [line.split(" ")[0] for line in server.requests].count("POST") == 1


# -- one createdAt rule ---------------------------------------------------------------------------


def stamped() -> web.Application:
    """A server stamping creates with the time of their arrival: with Z, then without (naive UTC)."""
    calls: list[int] = []

    async def create(_: web.Request) -> web.Response:
        calls.append(1)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        stamp = now.replace("+00:00", "Z" if len(calls) % 2 else "")
        body = {"success": True, "messageId": f"m-{len(calls)}", "createdAt": stamp}
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/api/v1/nova/imagine", create)
    return app


@pytest.fixture
def far_timezone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set to UTC+05:30 (restored after the test)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_timezone")
async def test_a_naive_created_at_is_utc_for_the_sender_as_for_the_converter() -> None:
    """createdAt with Z, then naive: the sender reads both as UTC, as the converter does."""
    async with (
        serve(stamped()) as url,
        ImagineProClient(KEY, base_url=url, create_limit=RateLimit(100, 0.01)) as client,
    ):
        for n in range(4):
            await client.imagine(f"a harbour {n}")
        assert client._core._sender is not None
        assert client._core._sender.server_clock.consistent  # naive read as local time: not


# -- a start that fails ---------------------------------------------------------------------------


async def test_a_client_whose_start_fails_closes_what_it_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """__aenter__ raising (the scheduler's start): sessions closed, state CLOSED, not reusable."""

    def broken(self: Scheduler) -> None:
        raise RuntimeError("the scheduler could not start")

    monkeypatch.setattr(Scheduler, "start", broken)
    client = ImagineProClient(KEY, base_url="http://127.0.0.1:9", poll_policy=PollPolicy())
    with pytest.raises(RuntimeError, match="could not start"):
        await client.__aenter__()
    core = client._core
    assert core._session is not None and core._session.closed
    assert core._create_session is not None and core._create_session.closed
    assert client.state is ClientState.CLOSED
    with pytest.raises(ClientClosedError):
        await client.fetch("m-1")
