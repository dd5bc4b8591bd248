"""Fixtures for the simulator tests: a running simulator and a small HTTP helper around it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from imaginepro_async.testing import Simulator, fixed_duration, make_mask, pytest_plugin

IMAGINE = "/api/v1/nova/imagine"
BUTTON = "/api/v1/nova/button"
DESCRIBE = "/api/v1/nova/describe"
FETCH = "/api/v1/message/fetch/{}"
FETCH_LEGACY = "/api/v1/midjourney/message/{}"
ACCOUNT_INFO = "/api/v1/subscription/account-info"
IMAGES = "/api/v1/nova/images"
PROMPT_CHECK = "/api/v1/nova/prompt-check"
FROZEN = 1e-6
"""A time scale at which real time barely moves the clock: tests drive it with ``advance``."""


def pytest_configure(config: pytest.Config) -> None:
    """Load our pytest plugin when the installed package has not registered it (an editable
    install made before its ``pytest11`` entry point existed)."""
    manager = config.pluginmanager
    if not manager.has_plugin("imaginepro_async") and not manager.is_registered(pytest_plugin):
        manager.register(pytest_plugin, "imaginepro_async")


class Api:
    """Sends requests to a simulator over real HTTP and returns (status, JSON body, headers)."""

    def __init__(self, sim: Simulator, session: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.session = session
        self.key = sim.api_key

    def headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = self.headers(key) if headers is None else headers
        async with self.session.request(
            method, self.sim.url + path, json=body, data=data, headers=sent
        ) as response:
            raw = await response.read()
            parsed: Any = None
            if response.content_type == "application/json" and raw:
                parsed = await response.json()
            return response.status, parsed, dict(response.headers)

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, parsed, _ = await self.request("POST", path, body, **kw)
        return status, parsed

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        status, parsed, _ = await self.request("GET", path, **kw)
        return status, parsed

    async def imagine(self, prompt: str = "a cat on the grass", **fields: Any) -> str:
        status, body = await self.post(IMAGINE, {"prompt": prompt, **fields})
        assert status == 200, body
        return str(body["messageId"])

    async def press(self, message_id: str, button: str, **fields: Any) -> str:
        status, body = await self.post(
            BUTTON, {"messageId": message_id, "button": button, **fields}
        )
        assert status == 200, body
        return str(body["messageId"])

    async def fetch(self, message_id: str, **kw: Any) -> dict[str, Any]:
        status, body = await self.get(FETCH.format(message_id), **kw)
        assert status == 200, body
        assert isinstance(body, dict)
        return body

    async def done(self, message_id: str) -> dict[str, Any]:
        """Advance simulated time until the job has ended; return its Message."""
        for _ in range(100):
            message = await self.fetch(message_id)
            if message["status"] in ("DONE", "FAIL"):
                return message
            self.sim.advance(100)
        raise AssertionError(f"{message_id} never ended")

    async def upscaled(self) -> str:
        """Create a grid, upscale U1, and return the upscale's id (DONE)."""
        grid = await self.imagine()
        await self.done(grid)
        upscale = await self.press(grid, "U1")
        await self.done(upscale)
        return upscale


def mask_b64(width: int = 256, height: int = 256) -> str:
    """A valid mask for the default image size, as base64 text."""
    return base64.b64encode(make_mask(width, height)).decode()


def text(body: dict[str, Any]) -> str:
    """A NestJS error ``message`` as one string (it may be a list of strings)."""
    message = body["message"]
    return " | ".join(message) if isinstance(message, list) else str(message)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator whose clock only ``advance`` moves (nearly frozen), 60 s jobs, no limits,
    small 256x256 images (grids too) and webhooks only when a job ends."""
    async with Simulator(
        time_scale=FROZEN,
        seed=7,
        duration=fixed_duration(60.0),
        general_rate_limit=None,
        progress_rate_limit=None,
        image_size=(256, 256),
        grid_size=(256, 256),
        webhook_progress_interval=None,
    ) as simulator:
        yield simulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def api(sim: Simulator, session: aiohttp.ClientSession) -> Api:
    """The HTTP helper bound to ``sim``."""
    return Api(sim, session)
