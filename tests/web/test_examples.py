"""The two example web backends, run as users run them, against the simulator over real sockets."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from imaginepro_async import ImagineProClient, Status
from imaginepro_async.testing import Simulator, make_mask

from .conftest import client_for, free_port
from .test_hostile_webhooks import assert_never_5xx, deliver_all

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
#: The webhook token the example apps are given (so that the tests can deliver with it).
TOKEN = "example-token-0123456789abcdef"
APPS = {
    "fastapi": [
        "-m",
        "uvicorn",
        "fastapi_app:app",
        "--app-dir",
        "examples",
        "--log-level",
        "info",  # the access log too: it must not show the webhook token
    ],
    "aiohttp": ["examples/aiohttp_app.py"],
}


@asynccontextmanager
async def running(
    name: str, sim: Simulator, log: Path, *, key: bool = True, ready: int = 404
) -> AsyncIterator[str]:
    """Start example ``name`` in a subprocess configured from the environment; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "IMAGINEPRO_API_KEY": sim.api_key,
        "IMAGINEPRO_BASE_URL": sim.url,
        "IMAGINEPRO_TIME_SCALE": str(sim.time_scale),
        "PUBLIC_URL": url,
        "IMAGINEPRO_WEBHOOK_TOKEN": TOKEN,
        "PORT": str(port),
    }
    if not key:
        del env["IMAGINEPRO_API_KEY"]
    extra = ["--port", str(port)] if name == "fastapi" else []
    with log.open("wb") as output:
        process = await anyio.open_process(
            [sys.executable, *APPS[name], *extra], cwd=ROOT, env=env, stdout=output, stderr=output
        )
        try:
            await wait_ready(url, process, log, ready)
            yield url
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()
            await process.aclose()


async def wait_ready(url: str, process: anyio.abc.Process, log: Path, ready: int = 404) -> None:
    """Wait until the app answers ``ready`` for an unknown job (404; 503 when not configured)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            if process.returncode is not None:
                raise AssertionError(f"the app exited: {await anyio.Path(log).read_text()}")
            try:
                async with session.get(f"{url}/jobs/none") as response:
                    if response.status == ready:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await anyio.sleep(0.05)
    raise AssertionError(f"the app did not start: {await anyio.Path(log).read_text()}")


@pytest.fixture
async def world() -> AsyncIterator[tuple[Simulator, str, str]]:
    """A simulator, an upscaled job to inpaint, and a mask of its size in base64."""
    async with Simulator(time_scale=600.0, seed=7, concurrency=3) as sim:
        async with client_for(sim) as client:
            parent = await upscaled(client)
        mask = base64.b64encode(make_mask(*sim.image_size)).decode()
        yield sim, parent, mask


async def upscaled(client: ImagineProClient) -> str:
    """The messageId of a finished upscale."""
    grid = await (await client.imagine("a harbour at dawn"))
    return (await (await client.upscale(grid, 1))).message_id


async def read_events(session: aiohttp.ClientSession, url: str) -> list[tuple[str, Any]]:
    """Every Server-Sent Event of ``url`` until the stream ends."""
    found: list[tuple[str, Any]] = []
    event = ""
    async with session.get(url) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                found.append((event, json.loads(line[len("data: ") :])))
    return found


@pytest.mark.parametrize("name", sorted(APPS))
async def test_fifty_submissions_answered_at_once_then_ended_by_webhooks(
    name: str, world: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    """50 concurrent POST /inpaint each get 202 and an id; all end DONE, woken by webhooks."""
    sim, parent, mask = world
    sim.reset_counters()
    async with running(name, sim, tmp_path / "app.log") as url, aiohttp.ClientSession() as http:
        answers: list[dict[str, Any]] = []

        async def submit(n: int) -> None:
            body = {"parent": parent, "mask": mask, "prompt": f"a red boat {n}"}
            async with http.post(f"{url}/inpaint", json=body) as response:
                assert response.status == 202
                answers.append(await response.json())

        async with anyio.create_task_group() as tasks:
            for n in range(50):
                tasks.start_soon(submit, n)
        assert len({answer["id"] for answer in answers}) == 50
        assert sum(answer["state"] == "waiting" for answer in answers) >= 45
        events = await read_events(http, f"{url}/jobs/{answers[-1]['id']}/events")
        assert events[-1][0] == "done" and events[-1][1]["status"] == "DONE"
        progress = [data["progress"] for event, data in events if event == "progress"]
        # How many intermediate looks the stream shows depends on the machine's speed at this time
        # scale; what it guarantees is order, and the final Message among them.
        assert progress and progress == sorted(progress) and progress[-1] == 100
        for answer in answers:
            async with http.get(f"{url}/jobs/{answer['id']}") as response:
                final = await response.json()
            while final["status"] != Status.DONE.value:  # the last few may still be running
                await anyio.sleep(0.05)
                async with http.get(f"{url}/jobs/{answer['id']}") as response:
                    final = await response.json()
            assert final["uri"] and final["message_id"]
    delivered = [attempt for attempt in sim.webhook_deliveries() if attempt.delivered]
    assert len({attempt.message_id for attempt in delivered}) == 50
    polls = [r for r in sim.requests() if r.endpoint == "fetch" and not r.path.endswith(parent)]
    assert len(polls) < 50 * 2  # woken by webhooks, not found by polling


@pytest.mark.parametrize("name", sorted(APPS))
async def test_bad_requests_get_404_or_422_and_forged_deliveries_403(
    name: str, world: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    """Unknown ids 404, bad bodies 422, forged deliveries 403, hostile ones 4xx; no token logged."""
    sim, parent, mask = world
    async with running(name, sim, tmp_path / "app.log") as url, aiohttp.ClientSession() as http:
        for path in ("/jobs/nope", "/jobs/..%2f..", "/jobs/nope/events", "/jobs/%00"):
            async with http.get(f"{url}{path}") as response:
                assert response.status == 404, path
        bad_bodies: list[Any] = [
            {"mask": mask},
            {"parent": parent, "mask": "not base64!"},
            {"parent": parent, "mask": base64.b64encode(b"not an image").decode()},
            {"parent": "bad id with spaces", "mask": mask},
            {"parent": parent, "mask": mask, "prompt": 7},
            [1, 2],
        ]
        for body in bad_bodies:
            async with http.post(f"{url}/inpaint", json=body) as response:
                assert response.status == 422, body
        async with http.post(f"{url}/inpaint", data=b"{oops") as response:
            assert response.status == 422
        if name == "fastapi":  # the parent is fetched before the 202
            unknown = {"parent": "no-such-job", "mask": mask}
            async with http.post(f"{url}/inpaint", json=unknown) as response:
                assert response.status == 422
                assert (await response.json())["detail"] == "no job no-such-job on this account"
        forged = {"messageId": "x", "status": "DONE"}
        for query in ("", "?token=forged-token-forged-token"):
            async with http.post(
                f"{url}/imaginepro/webhook{query}", json=forged, allow_redirects=False
            ) as response:
                assert response.status == 403
        statuses = await deliver_all(f"{url}/imaginepro/webhook?token={TOKEN}", 256 * 1024)
    assert_never_5xx(statuses)
    assert sim.stats().by_endpoint.get("button", 0) == 1  # only the upscale of the fixture
    log = (tmp_path / "app.log").read_text()
    assert TOKEN not in log and "token=********" in log  # access lines written, token blotted


async def test_the_fastapi_app_starts_without_a_key_and_says_what_to_set(
    world: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    """No IMAGINEPRO_API_KEY: the app starts, logs one line naming it, and answers 503 with it."""
    sim, parent, mask = world
    log = tmp_path / "app.log"
    async with (
        running("fastapi", sim, log, key=False, ready=503) as url,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(f"{url}/inpaint", json={"parent": parent, "mask": mask}) as response:
            assert response.status == 503
            detail = (await response.json())["detail"]
        async with http.get(f"{url}/jobs/any") as response:
            assert response.status == 503
    assert "set IMAGINEPRO_API_KEY" in detail
    text = log.read_text()
    assert "Traceback" not in text
    assert [line for line in text.splitlines() if "IMAGINEPRO_API_KEY" in line] == [
        f"ERROR:    {detail}"
    ]
    assert sim.stats().jobs_created == 2  # the fixture's grid and upscale only
