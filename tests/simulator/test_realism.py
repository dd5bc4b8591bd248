"""Realism settings: image sizes, the mask rule, durations per kind, latency, rate limits."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest

from imaginepro_async.testing import Simulator, fixed_duration, make_mask

from .conftest import BUTTON, FROZEN, Api, text
from .test_more_endpoints import image_size

pytestmark = pytest.mark.anyio


@pytest.fixture
async def real() -> AsyncIterator[Api]:
    """A frozen-clock simulator with the default (realistic) sizes and durations, no limits."""
    async with (
        Simulator(
            time_scale=FROZEN, seed=3, general_rate_limit=None, progress_rate_limit=None
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        yield Api(sim, session)


async def test_default_sizes_are_midjourney_sizes(real: Api) -> None:
    """By default a grid is 2048x2048, each of its images and an upscale 1024x1024."""
    grid = await real.done(await real.imagine())
    assert await image_size(real, grid["uri"]) == (2048, 2048)
    assert await image_size(real, grid["images"][3]) == (1024, 1024)
    upscale = await real.done(await real.press(grid["messageId"], "U1"))
    assert await image_size(real, upscale["uri"]) == (1024, 1024)
    assert real.sim.grid_size == (2048, 2048)
    assert real.sim.image_size == (1024, 1024)


async def test_grid_and_image_sizes_are_settable() -> None:
    """image_size and grid_size set the served sizes."""
    async with (
        Simulator(
            time_scale=FROZEN, image_size=(512, 384), grid_size=(1024, 768), general_rate_limit=None
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        grid = await api.done(await api.imagine())
        assert await image_size(api, grid["uri"]) == (1024, 768)
        assert await image_size(api, grid["images"][0]) == (512, 384)


@pytest.mark.parametrize("size", [(1024, 1024), (512, 512), (100, 100), (2048, 2048)])
async def test_a_mask_with_the_image_aspect_ratio_is_accepted_at_any_size(
    real: Api, size: tuple[int, int]
) -> None:
    """A square mask fits a square upscale whatever its resolution (assumed rule)."""
    upscale = await real.upscaled()
    mask = base64.b64encode(make_mask(*size)).decode()
    await real.press(upscale, "Vary (Region)", mask=mask)


async def test_a_mask_of_another_aspect_ratio_is_refused_naming_both_sizes(real: Api) -> None:
    """A 1024x512 mask on a 1024x1024 image is refused with 400 naming both sizes."""
    upscale = await real.upscaled()
    mask = base64.b64encode(make_mask(1024, 512)).decode()
    status, answer = await real.post(
        BUTTON, {"messageId": upscale, "button": "Vary (Region)", "mask": mask}
    )
    assert status == 400
    assert "1024x512" in text(answer)
    assert "1024x1024" in text(answer)
    assert "aspect ratio" in text(answer)


async def test_job_kinds_have_their_own_default_durations(real: Api) -> None:
    """By default an upscale is quicker than an imagine, and a video much slower."""
    grid = await real.imagine()
    await real.done(grid)
    upscale = await real.press(grid, "U1")
    _, video = await real.post(
        "/api/v1/video/mj/generate",
        {"startFrameUrl": "https://e.com/a.png", "endFrameUrl": "https://e.com/b.png"},
    )
    for job in (upscale, video["messageId"]):
        await real.done(job)

    def took(message_id: str) -> float:
        job = real.sim.job(message_id)
        assert job.finished is not None
        assert job.started is not None
        return job.finished - job.started

    assert took(upscale) < took(grid) < took(video["messageId"])


async def test_durations_can_be_set_per_kind() -> None:
    """durations= overrides one kind; duration= sets the rest."""
    async with (
        Simulator(
            time_scale=FROZEN,
            duration=fixed_duration(50.0),
            durations={"upscale": fixed_duration(5.0)},
            general_rate_limit=None,
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        grid = await api.imagine()
        await api.done(grid)
        upscale = await api.press(grid, "U1")
        await api.done(upscale)
        timeline = sim.job(upscale)
        assert timeline.finished is not None
        assert timeline.started is not None
        assert timeline.finished - timeline.started == pytest.approx(5.0)
        first = sim.job(grid)
        assert first.finished is not None
        assert first.finished - first.created == pytest.approx(50.0)


async def test_latency_before_and_after_surround_the_job_creation() -> None:
    """createdAt is stamped after latency_before; the answer comes latency_after later."""
    async with (
        Simulator(time_scale=1000.0, latency_before=2.0, latency_after=3.0) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        sent = sim.now()
        message_id = await api.imagine()
        answered = sim.now()
        created = sim.job(message_id).created
        assert created >= sent + 2.0
        assert answered >= created + 3.0
        sim.latency_after = 0.0
        assert sim.latency_after == 0.0
        with pytest.raises(ValueError, match="latency_before"):
            sim.latency_before = -1.0


async def test_new_endpoints_share_the_general_rate_limit() -> None:
    """A flux create right after an imagine is refused with 429 (1 per 3 s, shared bucket)."""
    async with (
        Simulator(time_scale=FROZEN) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        await api.imagine()
        status, answer, headers = await api.request(
            "POST", "/api/v1/flux/imagine", {"prompt": "a fox"}
        )
        assert status == 429, answer
        assert headers["Retry-After"] == "3"
        assert sim.stats().jobs_created == 1
        sim.advance(3.0)
        status, _ = await api.post("/api/v1/tools/remove-bg", {"image": "https://e.com/a.png"})
        assert status == 200
