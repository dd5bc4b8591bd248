"""Every endpoint of the contract, over real HTTP: wire shapes and happy paths."""

from __future__ import annotations

import io
import re
import uuid

import aiohttp
import pytest
from PIL import Image

from imaginepro_async.testing import Simulator

from .conftest import (
    ACCOUNT_INFO,
    DESCRIBE,
    FETCH,
    FETCH_LEGACY,
    IMAGES,
    PROMPT_CHECK,
    Api,
    text,
)

pytestmark = pytest.mark.anyio
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_imagine_answers_the_creation_shape(api: Api) -> None:
    """POST imagine answers 200 with success, a UUID messageId and an ISO createdAt."""
    status, body = await api.post("/api/v1/nova/imagine", {"prompt": "a red fox"})
    assert status == 200
    assert set(body) == {"success", "messageId", "createdAt"}
    assert body["success"] is True
    assert uuid.UUID(body["messageId"]).version == 4
    assert ISO.match(body["createdAt"])


async def test_fetch_paths_serve_the_same_message(api: Api) -> None:
    """The fetch path and the legacy midjourney path answer the same Message, camelCase."""
    message_id = await api.imagine("a red fox", ref="order-1")
    _, new = await api.get(FETCH.format(message_id))
    _, legacy = await api.get(FETCH_LEGACY.format(message_id))
    assert new == legacy
    assert new["messageId"] == message_id
    assert new["prompt"] == "a red fox"
    assert new["ref"] == "order-1"
    assert new["status"] == "PROCESSING"
    assert new["buttons"] == []
    assert new["error"] is None
    assert ISO.match(new["createdAt"])
    assert ISO.match(new["updatedAt"])
    assert "originatingMessageId" not in new
    assert "uri" not in new


async def test_done_message_has_results_and_grid_buttons(api: Api) -> None:
    """A DONE imagine carries progress 100, the grid buttons, uri and four images on the sim."""
    message = await api.done(await api.imagine())
    assert message["status"] == "DONE"
    assert message["progress"] == 100
    assert message["buttons"] == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
    assert message["uri"].startswith(api.sim.url + "/cdn/")
    assert len(message["images"]) == 4
    assert all(url.startswith(api.sim.url + "/cdn/") for url in message["images"])
    assert message["originalUrl"].startswith(api.sim.url)
    assert message["ref"] == ""


async def test_cdn_serves_distinct_valid_pngs_without_auth(api: Api) -> None:
    """Result URLs serve valid PNGs of image_size, different per job, with no key needed."""
    first = await api.done(await api.imagine())
    second = await api.done(await api.imagine())
    seen = set()
    for url in [first["uri"], *first["images"], second["images"][0], first["originalUrl"]]:
        async with api.session.get(url) as response:
            assert response.status == 200
            assert response.content_type == "image/png"
            data = await response.read()
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"
            assert image.size == (256, 256)
        seen.add(data)
    assert len(seen) == 7


async def test_cdn_refuses_unknown_and_unfinished_images(api: Api) -> None:
    """The CDN answers 404 for an unknown job, an unknown file, or a job not DONE yet."""
    running = await api.imagine()
    for path in [f"/cdn/{running}/0.png", "/cdn/nope/0.png"]:
        async with api.session.get(api.sim.url + path) as response:
            assert response.status == 404
    done = await api.done(await api.imagine())
    async with api.session.get(done["uri"].replace("grid.png", "9.png")) as response:
        assert response.status == 404


async def test_image_size_is_configurable() -> None:
    """image_size sets the size of every result image."""
    async with (
        Simulator(time_scale=1.0, image_size=(64, 48), general_rate_limit=None) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        message = await api.done(await api.imagine())
        async with session.get(message["images"][2]) as response:
            data = await response.read()
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (64, 48)


async def test_disable_cdn_leaves_out_uri_and_images(api: Api) -> None:
    """With disableCdn the DONE Message has no uri or images, only originalUrl."""
    message = await api.done(await api.imagine(disableCdn=True))
    assert message["status"] == "DONE"
    assert "uri" not in message
    assert "images" not in message
    assert "originalUrl" in message


async def test_unknown_request_fields_are_ignored(api: Api) -> None:
    """Extra fields (like the official SDK's negativePrompt) do not make a request fail."""
    message_id = await api.imagine("a fox", negativePrompt="blurry", width=512, style=None)
    assert (await api.fetch(message_id))["prompt"] == "a fox"


async def test_account_info_reports_the_balance(api: Api) -> None:
    """account-info has the documented keys; credits fall by 10 per imagine."""
    status, before = await api.get(ACCOUNT_INFO)
    assert status == 200
    assert set(before) == {"type", "creditsQuota", "credits", "creditsExtra", "expiredAt", "email"}
    await api.imagine()
    _, after = await api.get(ACCOUNT_INFO)
    assert after["credits"] == before["credits"] - 10
    assert after["creditsQuota"] == before["creditsQuota"]
    assert ISO.match(after["expiredAt"])


async def test_images_lists_recent_done_jobs_newest_first(api: Api) -> None:
    """images lists DONE jobs of the last 24 h, newest first, paginated by page and size."""
    ids = [await api.imagine(f"picture {n}") for n in range(3)]
    api.sim.advance(1000)
    status, body = await api.get(IMAGES + "?page=1&size=2")
    assert status == 200
    assert [item["id"] for item in body["images"]] == [ids[2], ids[1]]
    item = body["images"][0]
    assert set(item) == {"id", "type", "button", "prompt", "uri", "createdAt"}
    assert item["type"] == "imagine"
    assert item["button"] is None
    assert item["prompt"] == "picture 2"
    _, page2 = await api.get(IMAGES + "?page=2&size=2")
    assert [item["id"] for item in page2["images"]] == [ids[0]]
    api.sim.advance(25 * 3600)
    _, later = await api.get(IMAGES)
    assert later["images"] == []


@pytest.mark.parametrize("query", ["?page=0", "?size=0", "?size=101", "?page=x", "?size=1.5"])
async def test_images_refuses_bad_pagination(api: Api, query: str) -> None:
    """images answers 400 naming the bad query parameter."""
    status, body = await api.get(IMAGES + query)
    assert status == 400
    assert query[1:5] in text(body)


async def test_prompt_check_flags_banned_words(api: Api) -> None:
    """prompt-check answers SUCCESS for a clean prompt and FAIL with a message otherwise."""
    status, ok = await api.post(PROMPT_CHECK, {"prompt": "a quiet lake"})
    assert (status, ok) == (200, {"status": "SUCCESS"})
    status, bad = await api.post(PROMPT_CHECK, {"prompt": "a NSFW lake"})
    assert status == 200
    assert bad["status"] == "FAIL"
    assert "nsfw" in bad["message"].lower()


async def test_describe_creates_a_job_that_ends_with_prompts(api: Api) -> None:
    """describe answers the creation shape; its job ends DONE with four prompts, no buttons."""
    status, body = await api.post(DESCRIBE, {"url": "https://example.com/red-fox.png", "ref": "d"})
    assert status == 200
    assert body["success"] is True
    message = await api.done(body["messageId"])
    assert message["status"] == "DONE"
    assert message["buttons"] == []
    assert message["prompt"].count("red fox") == 4
    assert message["ref"] == "d"
    assert "uri" not in message


async def test_unknown_routes_get_a_nestjs_404(api: Api) -> None:
    """Unknown paths and wrong methods answer 404 with NestJS's 'Cannot METHOD path' body."""
    status, body = await api.get("/api/v1/nova/nothing")
    assert status == 404
    assert body == {
        "message": "Cannot GET /api/v1/nova/nothing",
        "error": "Not Found",
        "statusCode": 404,
    }
    status, body = await api.get("/api/v1/nova/imagine")
    assert status == 404
    assert body["message"] == "Cannot GET /api/v1/nova/imagine"


async def test_unknown_message_id_is_404(api: Api) -> None:
    """Fetching an unknown id answers 404 with a NestJS body naming the id."""
    for path in (FETCH, FETCH_LEGACY):
        status, body = await api.get(path.format("no-such-id"))
        assert status == 404
        assert body["statusCode"] == 404
        assert "no-such-id" in text(body)


async def test_messages_belong_to_their_account(api: Api) -> None:
    """Another key cannot see a job: 404 (assumed)."""
    message_id = await api.imagine()
    other = api.sim.add_account(credits=100)
    status, _ = await api.get(FETCH.format(message_id), key=other)
    assert status == 404


async def test_sim_url_and_key_shape(sim: Simulator) -> None:
    """sim.url has no trailing slash and points at 127.0.0.1; the key looks like sk-..."""
    assert sim.url.startswith("http://127.0.0.1:")
    assert not sim.url.endswith("/")
    assert sim.api_key.startswith("sk-")
    assert sim.port > 0
