"""The endpoints beyond imagine and the buttons, end to end against the simulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from imaginepro_async import (
    AuthenticationError,
    BadRequestError,
    ImagePart,
    ImagineProClient,
    InvalidInputError,
    NotFoundError,
    Status,
    TextPart,
    VideoMessage,
)
from imaginepro_async._costs import CREDITS
from imaginepro_async.testing import Simulator

pytestmark = pytest.mark.anyio

IMG = "https://example.com/a.png"
IMG2 = "https://example.com/b.png"

Call = Callable[[ImagineProClient], Awaitable[Any]]

#: (simulator endpoint, call): each creates one job.
JOBS: list[tuple[str, Call]] = [
    ("describe", lambda c: c.describe(IMG)),
    ("blend", lambda c: c.blend([IMG, IMG2])),
    ("faceswap", lambda c: c.face_swap(IMG, IMG2)),
    ("boost_imagine", lambda c: c.imagine("a fast fox", boost=True)),
    (
        "flux_imagine",
        lambda c: c.flux.imagine("a fox", n=2, width=512, height=256, output_format="webp"),
    ),
    ("flux_upscale", lambda c: c.flux.upscale(IMG, 2)),
    ("remove_bg", lambda c: c.tools.remove_background(IMG)),
    ("gemini_imagine", lambda c: c.gemini.imagine(["make it blue", ImagePart(IMG)])),
    ("universal_imagine", lambda c: c.universal.imagine("a fox", model="nano-banana-2")),
    ("video_generate", lambda c: c.video.generate(IMG, IMG2, prompt="a walk")),
    ("commands", lambda c: c.diy.command("relax")),
]

#: Bad calls, each refused before anything is sent.
BAD: list[tuple[str, Call]] = [
    ("image must be an http", lambda c: c.describe("ftp://example.com/a.png")),
    ("2 to 5", lambda c: c.blend([IMG])),
    ("2 to 5", lambda c: c.blend([IMG] * 6)),
    ("images must be a list", lambda c: c.blend(IMG)),
    (r"images\[1\]", lambda c: c.blend([IMG, "not a url"])),
    ("source_image", lambda c: c.face_swap("face.png", IMG2)),
    ("target_image", lambda c: c.face_swap(IMG, "/tmp/face.png")),
    ("boost", lambda c: c.imagine("a fox", boost="yes")),  # type: ignore[arg-type]
    ("n must", lambda c: c.flux.imagine("a fox", n=5)),
    ("multiple of 8", lambda c: c.flux.imagine("a fox", width=1020)),
    ("height", lambda c: c.flux.imagine("a fox", height=4096)),
    ("aspect_ratio", lambda c: c.flux.imagine("a fox", aspect_ratio="5:1")),
    ("output_format", lambda c: c.flux.imagine("a fox", output_format="gif")),
    ("output_quality", lambda c: c.flux.imagine("a fox", output_quality=101)),
    ("model", lambda c: c.flux.imagine("a fox", model="flux-42")),
    ("prompt", lambda c: c.flux.imagine("  ")),
    ("scale", lambda c: c.flux.upscale(IMG, 8)),
    ("image", lambda c: c.tools.remove_background("example.com/a.png")),
    ("contents", lambda c: c.gemini.imagine([])),
    (r"contents\[0\]", lambda c: c.gemini.imagine([TextPart("")])),
    (r"contents\[1\]\.url", lambda c: c.universal.imagine(["x", ImagePart("data:abc")])),
    ("model", lambda c: c.universal.imagine("a fox", model="dall-e")),
    ("start_image", lambda c: c.video.generate("nope", IMG2)),
    ("end_image", lambda c: c.video.generate(IMG, "nope")),
    ("index", lambda c: c.video.extend("abc-123", 4)),
    ("name", lambda c: c.diy.command("reboot")),
    ("job_timeout", lambda c: c.describe(IMG, job_timeout=5)),
    ("webhook_override", lambda c: c.blend([IMG, IMG2], webhook_override="nowhere")),
    ("token_id", lambda c: c.diy.token("../tokens")),
    ("active", lambda c: c.diy.set_token_active("abc", active=1)),  # type: ignore[arg-type]
    ("message_id", lambda c: c.diy.trace("a/b")),
]


@pytest.mark.parametrize(("endpoint", "call"), JOBS)
async def test_each_endpoint_creates_a_job_followed_to_done(
    sim: Simulator, client: ImagineProClient, endpoint: str, call: Call
) -> None:
    """Each job-creating method returns a Job that ends DONE; its cost is the table's."""
    job = await call(client)
    message = await job
    assert message.status is Status.DONE
    assert sim.stats().by_endpoint[endpoint] == 1
    assert job.cost == CREDITS[endpoint] == client.credits_spent
    assert sim.credits_spent()[sim.api_key] == job.cost


@pytest.mark.parametrize(("endpoint", "call"), [job for job in JOBS if CREDITS[job[0]]])
async def test_the_server_refusing_a_job_is_a_typed_error(
    sim: Simulator, client: ImagineProClient, endpoint: str, call: Call
) -> None:
    """With no credits left the server refuses (401): AuthenticationError, nothing counted."""
    sim.set_credits(None, 0)
    with pytest.raises(AuthenticationError, match=r"(?i)credits"):
        await call(client)
    assert client.credits_spent == 0


@pytest.mark.parametrize(("match", "call"), BAD)
async def test_bad_input_is_refused_before_anything_is_sent(
    sim: Simulator, client: ImagineProClient, match: str, call: Call
) -> None:
    """A bad argument raises InvalidInputError naming it; the simulator sees no request."""
    with pytest.raises(InvalidInputError, match=match):
        await call(client)
    assert sim.requests() == []


async def test_boost_presses_buttons_through_the_boost_endpoint(
    sim: Simulator, client: ImagineProClient
) -> None:
    """upscale(..., boost=True) goes to /nova/boost/button and costs a button's price."""
    grid = await (await client.imagine("a grid"))
    up = await client.upscale(grid, 1, boost=True)
    assert (await up).status is Status.DONE
    assert sim.stats().by_endpoint["boost_button"] == 1
    assert client.credits_spent == CREDITS["imagine"] + CREDITS["boost_button"]


async def test_flux_images_hold_every_output(sim: Simulator, client: ImagineProClient) -> None:
    """A Flux job of n images ends with n entries in ``images``."""
    message = await (await client.flux.imagine("three foxes", n=3, aspect_ratio="16:9"))
    assert len(message.images) == 3
    assert message.image_urls == message.images


async def test_a_video_job_is_followed_through_the_video_progress_endpoint(
    sim: Simulator, client: ImagineProClient
) -> None:
    """video.generate's job is polled on /video/mj/fetch and ends with a VideoMessage; extend works."""
    job = await client.video.generate(IMG, IMG2)
    assert isinstance(await client.fetch(job.message_id), VideoMessage)  # while followed
    video = await job
    assert isinstance(video, VideoMessage)
    assert video.video_url and [r.index for r in video.results] == [0, 1, 2, 3]
    stats = sim.stats().by_endpoint
    assert stats["video_fetch"] >= 1 and "fetch" not in stats
    extended = await (await client.video.extend(video, 2, animate_mode="manual"))
    assert isinstance(extended, VideoMessage) and extended.video_url
    again = await client.job(video.message_id, video=True)
    assert isinstance(again, VideoMessage) and again.results == video.results


async def test_extending_what_is_not_a_video_is_refused(
    sim: Simulator, client: ImagineProClient
) -> None:
    """A finished non-video job is refused by the server (400); a bad index by the client."""
    grid = await (await client.imagine("a grid"))
    with pytest.raises(BadRequestError, match="not a finished video"):
        await client.video.extend(grid.message_id, 0)
    video = VideoMessage(message_id="v-1", status=Status.DONE, results=())
    with pytest.raises(InvalidInputError, match="index"):
        await client.video.extend(video, -1)
    queued = VideoMessage(message_id="v-2", status=Status.QUEUED)
    with pytest.raises(InvalidInputError, match="QUEUED"):
        await client.video.extend(queued, 0)


async def test_diy_endpoints_list_show_toggle_and_trace(
    sim: Simulator, client: ImagineProClient
) -> None:
    """Linked tokens are listed, shown, switched off and on; a trace names the token of a job."""
    (token,) = await client.diy.tokens()
    assert token.is_active and token.status == "FAST"
    assert await client.diy.token(token.id) == token
    off = await client.diy.set_token_active(token.id, active=False)
    assert off.is_active is False and (await client.diy.token(token.id)).is_active is False
    assert (await client.diy.set_token_active(token.id, active=True)).is_active
    job = await client.diy.command("relax")
    await job
    assert (await client.diy.token(token.id)).status == "RELAX"
    trace = await client.diy.trace(job.message_id)
    assert trace.token_id == token.id
    with pytest.raises(NotFoundError):
        await client.diy.token("0" * 24)


async def test_a_job_followed_by_id_has_no_cost(sim: Simulator, client: ImagineProClient) -> None:
    """client.job(id) does not know what the job cost: cost is None and the total is unchanged."""
    job = await client.describe(IMG)
    other = client.job(job.message_id)
    assert other.cost == CREDITS["describe"]  # the same job, shared state
    await job
    async with _second_client(sim) as fresh:
        assert fresh.job(job.message_id).cost is None
        assert fresh.credits_spent == 0


def _second_client(sim: Simulator) -> ImagineProClient:
    from .conftest import client_for

    return client_for(sim)
