"""The endpoints beyond imagine and buttons, over real HTTP: success, bad input, jobs to DONE."""

from __future__ import annotations

from typing import Any

import pytest

from imaginepro_async import _costs

from .conftest import Api, text

pytestmark = pytest.mark.anyio
URL = "https://example.com/cat.png"
URL2 = "https://example.com/dog.png"

# path, body, endpoint name (cost key), what the DONE Message holds
CREATES: list[tuple[str, dict[str, Any], str, str]] = [
    ("/api/v1/midjourney/blend", {"urls": [URL, URL2]}, "blend", "grid"),
    ("/api/v1/nova/blend", {"urls": [URL, URL2, URL, URL2, URL]}, "blend", "grid"),
    ("/api/v1/nova/faceswap", {"source": URL, "target": URL2}, "faceswap", "one"),
    ("/api/v1/midjourney/faceswap", {"source": URL, "target": URL2}, "faceswap", "one"),
    ("/api/v1/nova/boost/imagine", {"prompt": "a fast cat"}, "boost_imagine", "grid"),
    ("/api/v1/flux/imagine", {"prompt": "a fox", "n": 3}, "flux_imagine", "three"),
    ("/api/v1/flux/upscale", {"image": URL, "scale": 2}, "flux_upscale", "one"),
    ("/api/v1/tools/remove-bg", {"image": URL}, "remove_bg", "one"),
    (
        "/api/v1/gemini/imagine",
        {"contents": [{"type": "image", "url": URL}, {"type": "text", "text": "add a hat"}]},
        "gemini_imagine",
        "one",
    ),
    (
        "/api/v1/universal/imagine",
        {"contents": [{"type": "text", "text": "a hat"}], "model": "nano-banana-2"},
        "universal_imagine",
        "one",
    ),
    (
        "/api/v1/video/mj/generate",
        {"prompt": "waves", "startFrameUrl": URL, "endFrameUrl": URL2},
        "video_generate",
        "video",
    ),
    ("/api/v1/nova/commands", {"cmd": "fast"}, "commands", "none"),
    ("/api/v1/midjourney/commands", {"cmd": "remix"}, "commands", "none"),
]


@pytest.mark.parametrize(("path", "body", "name", "shape"), CREATES)
async def test_each_endpoint_creates_a_paid_job_followed_to_done(
    api: Api, path: str, body: dict[str, Any], name: str, shape: str
) -> None:
    """Each job-creating endpoint answers the creation shape, charges its price, ends DONE."""
    before = api.sim.credits()
    status, answer = await api.post(path, {**body, "ref": "r1"})
    assert status == 200, answer
    assert set(answer) == {"success", "messageId", "createdAt"}
    assert api.sim.credits() == before - _costs.CREDITS[name]
    message = await api.done(answer["messageId"])
    assert message["status"] == "DONE"
    assert message["ref"] == "r1"
    assert api.sim.job(answer["messageId"]).endpoint == name
    images = message.get("images", [])
    expected = {"grid": 4, "one": 1, "three": 3, "video": 0, "none": 0}[shape]
    assert len(images) == expected
    assert ("videoUrl" in message) == (shape == "video")
    assert message["buttons"] == (
        ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"] if shape == "grid" else []
    )


BAD: list[tuple[str, dict[str, Any], list[str]]] = [
    ("/api/v1/midjourney/blend", {"urls": [URL]}, ["urls", "2 to 5"]),
    ("/api/v1/nova/blend", {"urls": [URL] * 6}, ["urls", "2 to 5"]),
    ("/api/v1/nova/blend", {"urls": [URL, "ftp://x/y.png"]}, ["urls[1]", "http"]),
    ("/api/v1/nova/blend", {}, ["urls", "required"]),
    ("/api/v1/nova/faceswap", {"source": URL}, ["target", "required"]),
    ("/api/v1/nova/faceswap", {"source": "cat.png", "target": URL}, ["source", "http"]),
    ("/api/v1/flux/imagine", {"prompt": "x", "n": 5}, ["n", "between 1 and 4"]),
    ("/api/v1/flux/imagine", {"prompt": "x", "width": 1001}, ["width", "multiple of 8"]),
    ("/api/v1/flux/imagine", {"prompt": "x", "aspect_ratio": "5:1"}, ["aspect_ratio", "1:1"]),
    ("/api/v1/flux/imagine", {"prompt": "x", "output_format": "bmp"}, ["output_format"]),
    ("/api/v1/flux/imagine", {"prompt": "x", "output_quality": 101}, ["output_quality"]),
    ("/api/v1/flux/imagine", {"prompt": "x", "model": "dalle"}, ["model", "flux-1.1-pro"]),
    ("/api/v1/flux/imagine", {"n": 2}, ["prompt", "required"]),
    ("/api/v1/flux/upscale", {"image": URL, "scale": 5}, ["scale", "between 2 and 4"]),
    ("/api/v1/flux/upscale", {"image": URL}, ["scale", "required"]),
    ("/api/v1/tools/remove-bg", {"image": 3}, ["image", "string"]),
    ("/api/v1/gemini/imagine", {"contents": []}, ["contents", "required"]),
    ("/api/v1/gemini/imagine", {"contents": [{"type": "audio"}]}, ["contents[0]", "type"]),
    (
        "/api/v1/universal/imagine",
        {"contents": [{"type": "text", "text": "x"}], "model": "gpt"},
        ["model", "nano-banana"],
    ),
    ("/api/v1/video/mj/generate", {"startFrameUrl": URL}, ["endFrameUrl", "required"]),
    ("/api/v1/video/mj/extend", {"messageId": "x"}, ["index", "required"]),
    ("/api/v1/nova/commands", {"cmd": "reboot"}, ["cmd", "relax"]),
    ("/api/v1/nova/commands", {}, ["cmd", "required"]),
    ("/api/v1/nova/boost/imagine", {}, ["prompt", "required"]),
]


@pytest.mark.parametrize(("path", "body", "needles"), BAD)
async def test_bad_input_is_a_nestjs_400_and_costs_nothing(
    api: Api, path: str, body: dict[str, Any], needles: list[str]
) -> None:
    """Bad fields get 400 with a NestJS body naming the field; nothing is created or charged."""
    before = api.sim.credits()
    status, answer = await api.post(path, body)
    assert status == 400, answer
    assert set(answer) == {"message", "error", "statusCode"}
    assert answer["error"] == "Bad Request"
    for needle in needles:
        assert needle.lower() in text(answer).lower(), (needle, answer)
    assert api.sim.credits() == before
    assert api.sim.stats().jobs_created == 0


async def test_boost_button_presses_like_a_button(api: Api) -> None:
    """Boost button upscales a grid like the button endpoint, at the boost price."""
    grid = await api.imagine()
    await api.done(grid)
    before = api.sim.credits()
    status, answer = await api.post(
        "/api/v1/nova/boost/button", {"messageId": grid, "button": "U2"}
    )
    assert status == 200, answer
    assert api.sim.credits() == before - _costs.CREDITS["boost_button"]
    message = await api.done(answer["messageId"])
    assert message["originatingMessageId"] == grid
    assert "Vary (Region)" in message["buttons"]


async def test_flux_sizes_follow_width_height_or_aspect_ratio(api: Api) -> None:
    """Flux images have width x height, or a size from aspect_ratio; every output is served."""
    _, made = await api.post("/api/v1/flux/imagine", {"prompt": "a", "n": 2, "width": 512})
    _, wide = await api.post("/api/v1/flux/imagine", {"prompt": "b", "aspect_ratio": "16:9"})
    first = await api.done(made["messageId"])
    second = await api.done(wide["messageId"])
    assert api.sim.job(made["messageId"]).endpoint == "flux_imagine"
    assert await image_size(api, first["images"][1]) == (512, 1024)
    width, height = await image_size(api, second["images"][0])
    assert width > height
    assert width % 8 == 0
    assert height % 8 == 0


async def test_video_is_followed_through_its_own_progress_endpoint(api: Api) -> None:
    """A video job reaches DONE on the video fetch path with videoUrl and four results."""
    _, made = await api.post(
        "/api/v1/video/mj/generate", {"startFrameUrl": URL, "endFrameUrl": URL2}
    )
    video_id = made["messageId"]
    path = f"/api/v1/video/mj/fetch/{video_id}"
    for _ in range(20):
        status, message = await api.get(path)
        assert status == 200
        if message["status"] == "DONE":
            break
        api.sim.advance(100)
    assert message["videoUrl"] == message["results"][0]["url"]
    assert [r["index"] for r in message["results"]] == [0, 1, 2, 3]
    async with api.session.get(message["videoUrl"]) as response:
        assert response.status == 200
        assert response.content_type == "video/mp4"
    status, extended = await api.post(
        "/api/v1/video/mj/extend", {"messageId": video_id, "index": 2, "animateMode": "auto"}
    )
    assert status == 200, extended
    done = await api.done(extended["messageId"])
    assert done["originatingMessageId"] == video_id
    assert len(done["results"]) == 4


async def test_extend_refuses_what_is_not_a_finished_video(api: Api) -> None:
    """Extend takes only a DONE video job: an image job or an unknown id is refused."""
    grid = await api.imagine()
    status, answer = await api.post("/api/v1/video/mj/extend", {"messageId": grid, "index": 0})
    assert status == 400
    assert "not a finished video" in text(answer)
    status, _ = await api.post("/api/v1/video/mj/extend", {"messageId": "nope", "index": 0})
    assert status == 404


async def test_discord_tokens_can_be_listed_read_and_toggled(api: Api) -> None:
    """The DIY token endpoints list, show and toggle the account's linked token."""
    status, tokens = await api.get("/api/v1/discord/tokens")
    assert status == 200
    (token,) = tokens
    assert set(token) == {
        "id", "token", "channelId", "serverId", "isActive", "status", "info", "concurrency",
    }  # fmt: skip
    assert token["isActive"] is True
    path = f"/api/v1/discord/token/{token['id']}"
    assert (await api.get(path))[1] == token
    status, updated, _ = await api.request("PUT", path, {"isActive": False})
    assert status == 200
    assert updated["isActive"] is False
    status, answer, _ = await api.request("PUT", path, {"isActive": "no"})
    assert status == 400
    assert "isActive" in text(answer)
    assert (await api.get("/api/v1/discord/token/000"))[0] == 404


async def test_commands_switch_the_token_mode_and_trace_names_the_token(api: Api) -> None:
    """relax sets the linked token to RELAX, fast back to FAST; a trace names the token."""
    _, tokens = await api.get("/api/v1/discord/tokens")
    await api.post("/api/v1/nova/commands", {"cmd": "relax"})
    assert (await api.get("/api/v1/discord/tokens"))[1][0]["status"] == "RELAX"
    _, made = await api.post("/api/v1/midjourney/commands", {"cmd": "fast"})
    assert (await api.get("/api/v1/discord/tokens"))[1][0]["status"] == "FAST"
    status, trace = await api.get(f"/api/v1/message/trace/{made['messageId']}")
    assert status == 200
    assert trace["tokenId"] == tokens[0]["id"]
    assert (await api.get("/api/v1/message/trace/nope"))[0] == 404


async def image_size(api: Api, url: str) -> tuple[int, int]:
    """The pixel size of a served PNG, read from its header."""
    async with api.session.get(url) as response:
        assert response.status == 200
        data = await response.read()
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
