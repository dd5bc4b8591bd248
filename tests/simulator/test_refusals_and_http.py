"""Issue #20's other differences: blocked prompts refused at creation (free), Gemini's documented
models."""

from __future__ import annotations

from typing import Any

import pytest

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
