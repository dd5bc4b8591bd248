"""Issue #20's other differences: blocked prompts refused at creation (free), Gemini's documented
models, a ``Date`` header on the simulated clock, CORS for loopback origins, form bodies."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest

from imaginepro_async.testing import Simulator
from imaginepro_async.testing import _contract as c

from .conftest import BUTTON, DESCRIBE, IMAGINE, PROMPT_CHECK, Api, text

pytestmark = pytest.mark.anyio

URL = "https://example.com/nsfw-cat.png"
TEXT = {"type": "text", "text": "an nsfw cat"}


# -- blocked prompts ------------------------------------------------------------------------------


async def test_a_blocked_prompt_is_refused_at_creation_and_costs_nothing(api: Api) -> None:
    """imagine('nsfw cat') is 400 with the known wording, no messageId, no job, no charge
    (contract: DEFAULT_BANNED_WORDS, BLOCKED_STATUS, BLOCKED_ERROR)."""
    before = api.sim.credits()
    status, body = await api.post(IMAGINE, {"prompt": "nsfw cat", "ref": "blocked"})
    assert status == 400
    assert set(body) == {"message", "error", "statusCode"}
    assert body["message"].startswith("forbidden: The prompt has blocked words")
    assert "'nsfw'" in body["message"]
    assert api.sim.credits() == before
    assert api.sim.jobs() == []
    assert api.sim.jobs_per_ref() == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/nova/boost/imagine", {"prompt": "NSFW art"}),
        ("/api/v1/flux/imagine", {"prompt": "an nsfw fox"}),
        ("/api/v1/gemini/imagine", {"contents": [{"type": "image", "url": URL}, TEXT]}),
        ("/api/v1/universal/imagine", {"contents": [TEXT]}),
        (
            "/api/v1/video/mj/generate",
            {"prompt": "nsfw waves", "startFrameUrl": URL, "endFrameUrl": URL},
        ),
    ],
)
async def test_every_prompt_the_request_sends_is_screened(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    """Boost, Flux, Gemini and universal text parts, and a video's prompt are screened too."""
    before = api.sim.credits()
    status, answer = await api.post(path, body)
    assert status == 400, answer
    assert "blocked words" in text(answer)
    assert api.sim.credits() == before


async def test_a_button_prompt_is_screened_but_urls_are_not(api: Api) -> None:
    """A Vary (Region) prompt with a blocked word is refused; a URL with one is not a prompt."""
    upscale = await api.upscaled()
    status, body = await api.post(
        BUTTON,
        {"messageId": upscale, "button": "Vary (Strong)", "prompt": "an nsfw boat"},
    )
    assert status == 400
    assert "blocked words" in text(body)
    status, _ = await api.post(DESCRIBE, {"url": URL})
    assert status == 200


async def test_the_prompt_check_flags_blocked_and_moderated_words(api: Api) -> None:
    """prompt-check says FAIL for either list, with the message the job would get."""
    _, blocked = await api.post(PROMPT_CHECK, {"prompt": "nsfw"})
    _, moderated = await api.post(PROMPT_CHECK, {"prompt": "gore"})
    assert blocked == {"status": "FAIL", "message": c.BLOCKED_ERROR.format(word="nsfw")}
    assert moderated == {"status": "FAIL", "message": c.MODERATED_ERROR.format(word="gore")}


# -- Gemini ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", c.GEMINI_MODELS)
async def test_gemini_accepts_every_documented_model(api: Api, model: str) -> None:
    """The JS SDK's default, flux-1.1-pro (its README) and the universal models (its type) are
    accepted by Gemini (contract: GEMINI_MODELS)."""
    body = {"contents": [{"type": "text", "text": "a hat"}], "model": model}
    status, answer = await api.post("/api/v1/gemini/imagine", body)
    assert status == 200, answer
    assert (await api.done(answer["messageId"]))["status"] == "DONE"


async def test_gemini_refuses_an_unknown_model_naming_the_documented_ones(api: Api) -> None:
    """Another model is 400 listing the accepted ones."""
    body = {"contents": [{"type": "text", "text": "a hat"}], "model": "gpt-image-1"}
    status, answer = await api.post("/api/v1/gemini/imagine", body)
    assert status == 400
    assert "flux-1.1-pro" in text(answer)


# -- the Date header ------------------------------------------------------------------------------


async def test_the_date_header_runs_on_the_simulated_clock() -> None:
    """At time_scale=1000 the Date header agrees with createdAt (ours: the simulated wall clock),
    after an hour of simulated time."""
    async with (
        Simulator(time_scale=1000.0, general_rate_limit=None) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        sim.advance(3600)
        status, body, headers = await api.request("POST", IMAGINE, {"prompt": "a clock"})
        assert status == 200
        created = datetime.fromisoformat(body["createdAt"])
        dated = parsedate_to_datetime(headers["Date"])
        assert abs((created - dated).total_seconds()) <= 5


# -- CORS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8000"]
)
async def test_a_loopback_origin_gets_its_preflight_and_cors_headers(api: Api, origin: str) -> None:
    """A preflight from a loopback origin is 204 allowing it (no key needed, not logged); the
    answer then carries Access-Control-Allow-Origin (ours: CORS_METHODS, CORS_MAX_AGE)."""
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    status, _, headers = await api.request("OPTIONS", IMAGINE, headers=preflight)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert api.sim.requests() == []
    status, _, headers = await api.request(
        "POST", IMAGINE, {"prompt": "a cat"}, headers={**api.headers(None), "Origin": origin}
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == origin
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]


async def test_another_origin_gets_no_cors_headers(api: Api) -> None:
    """An origin that is not loopback gets neither a preflight answer nor CORS headers."""
    preflight = {"Origin": "https://example.com", "Access-Control-Request-Method": "POST"}
    status, _, headers = await api.request("OPTIONS", IMAGINE, headers=preflight)
    assert status == 404
    assert "Access-Control-Allow-Origin" not in headers
    status, _, headers = await api.request(
        "POST",
        IMAGINE,
        {"prompt": "a cat"},
        headers={**api.headers(None), "Origin": "https://localhost.example.com"},
    )
    assert status == 200
    assert "Access-Control-Allow-Origin" not in headers


# -- form bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/x-www-form-urlencoded", b"prompt=a+cat&timeout=60"),
        ("text/plain", b"prompt=a+cat"),
    ],
)
async def test_a_form_body_is_refused_saying_the_api_takes_json(
    api: Api, content_type: str, raw: bytes
) -> None:
    """A form-encoded body is 400 saying it is a form and the API takes JSON (contract:
    FORM_BODY_ERROR), not 'not valid JSON'."""
    status, body, _ = await api.request(
        "POST", IMAGINE, data=raw, headers={**api.headers(None), "Content-Type": content_type}
    )
    assert status == 400
    assert "form-encoded" in text(body)
    assert "Content-Type: application/json" in text(body)
