"""Bad input: the right status and a NestJS body whose message names the problem; never 500."""

from __future__ import annotations

import base64
import io
from typing import Any

import aiohttp
import pytest
from PIL import Image

from imaginepro_async.testing import Simulator, make_mask, make_png

from .conftest import BUTTON, DESCRIBE, IMAGINE, PROMPT_CHECK, Api, mask_b64, text

pytestmark = pytest.mark.anyio


def assert_nestjs(status: int, body: Any, expected: int, *needles: str) -> None:
    """The answer has status ``expected`` and a NestJS body mentioning every needle."""
    assert status == expected, body
    assert set(body) == {"message", "error", "statusCode"}
    assert body["statusCode"] == expected
    for needle in needles:
        assert needle.lower() in text(body).lower(), (needle, body)


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ({}, ["prompt", "required"]),
        ({"prompt": ""}, ["prompt", "empty"]),
        ({"prompt": "   "}, ["prompt", "empty"]),
        ({"prompt": 42}, ["prompt", "string"]),
        ({"prompt": ["a"]}, ["prompt", "string"]),
        ({"prompt": "x", "timeout": 5}, ["timeout", "between 10 and 900"]),
        ({"prompt": "x", "timeout": 901}, ["timeout", "between 10 and 900"]),
        ({"prompt": "x", "timeout": "60"}, ["timeout", "integer"]),
        ({"prompt": "x", "timeout": 60.5}, ["timeout", "integer"]),
        ({"prompt": "x", "timeout": True}, ["timeout", "integer"]),
        ({"prompt": "x", "ref": 7}, ["ref", "string"]),
        ({"prompt": "x", "webhookOverride": "not a url"}, ["webhookOverride", "URL"]),
        ({"prompt": "x", "webhookOverride": "ftp://h/x"}, ["webhookOverride", "URL"]),
        ({"prompt": "x", "disableCdn": "yes"}, ["disableCdn", "boolean"]),
    ],
)
async def test_imagine_field_problems_are_400(
    api: Api, body: dict[str, Any], needles: list[str]
) -> None:
    """Missing and wrong-typed imagine fields answer 400 naming the field; nothing is charged."""
    status, answer = await api.post(IMAGINE, body)
    assert_nestjs(status, answer, 400, *needles)
    assert isinstance(answer["message"], list)
    assert api.sim.jobs() == []


async def test_several_problems_are_all_listed(api: Api) -> None:
    """Validation lists every problem at once (NestJS ValidationPipe style)."""
    status, answer = await api.post(IMAGINE, {"timeout": 1, "disableCdn": 0})
    assert_nestjs(status, answer, 400, "prompt", "timeout", "disableCdn")
    assert len(answer["message"]) == 3


async def test_integral_float_timeout_is_accepted(api: Api) -> None:
    """timeout 60.0 is the same JSON number as 60 and is accepted."""
    status, _ = await api.post(IMAGINE, {"prompt": "x", "timeout": 60.0})
    assert status == 200


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"prompt": "x"', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"just a string"', "JSON object"),
        (b"null", "JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
async def test_non_json_bodies_are_400(api: Api, raw: bytes, needle: str) -> None:
    """A body that is not a JSON object answers 400 saying so."""
    status, answer, _ = await api.request(
        "POST",
        IMAGINE,
        data=raw,
        headers={**api.headers(None), "Content-Type": "application/json"},
    )
    assert_nestjs(status, answer, 400, needle)


async def test_empty_body_counts_as_empty_object(api: Api) -> None:
    """An empty body is read as {} and so names the missing prompt."""
    status, answer, _ = await api.request("POST", IMAGINE, data=b"", headers=api.headers(None))
    assert_nestjs(status, answer, 400, "prompt")


async def test_oversized_body_is_413() -> None:
    """A body over max_body_bytes answers 413 naming the limit, declared or chunked."""
    async with (
        Simulator(max_body_bytes=2000, general_rate_limit=None) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        status, answer = await api.post(IMAGINE, {"prompt": "x" * 5000})
        assert_nestjs(status, answer, 413, "2000 bytes")

        async def chunks() -> Any:
            for _ in range(10):
                yield b" " * 500

        status, answer, _ = await api.request(
            "POST",
            IMAGINE,
            data=chunks(),
            headers=api.headers(None),
        )
        assert_nestjs(status, answer, 413, "2000 bytes")
        assert sim.jobs() == []


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ({"button": "U1"}, ["messageId", "required"]),
        ({"messageId": "x"}, ["button", "required"]),
        ({"messageId": 5, "button": "U1"}, ["messageId", "string"]),
        ({"messageId": "x", "button": 1}, ["button", "string"]),
        ({"messageId": "x", "button": "U1", "mask": 3}, ["mask", "string"]),
        ({"messageId": "x", "button": "Press me"}, ["Unknown button", "Press me"]),
    ],
)
async def test_button_field_problems_are_400(
    api: Api, body: dict[str, Any], needles: list[str]
) -> None:
    """Missing, wrong-typed and unknown button fields answer 400 naming the problem."""
    status, answer = await api.post(BUTTON, body)
    assert_nestjs(status, answer, 400, *needles)


@pytest.mark.parametrize(
    ("mask", "needles"),
    [
        (None, ["mask", "required"]),
        ("", ["mask", "required"]),
        ("data:image/png;base64," + mask_b64(), ["data:", "prefix"]),
        ("%%%not base64%%%", ["mask", "base64"]),
        ("abc", ["mask", "base64"]),
        (base64.b64encode(b"hello, I am not an image").decode(), ["not an image"]),
        (base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 4).decode(), ["not an image"]),
        (mask_b64(100, 80), ["100x80", "256x256"]),
    ],
)
async def test_mask_problems_are_400(api: Api, mask: str | None, needles: list[str]) -> None:
    """Vary (Region) refuses a missing, prefixed, non-base64, non-image or wrong-size mask."""
    upscale = await api.upscaled()
    body: dict[str, Any] = {"messageId": upscale, "button": "Vary (Region)"}
    if mask is not None:
        body["mask"] = mask
    jobs_before = len(api.sim.jobs())
    status, answer = await api.post(BUTTON, body)
    assert_nestjs(status, answer, 400, *needles)
    assert len(api.sim.jobs()) == jobs_before


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "WEBP-lossless"])
async def test_masks_in_every_accepted_format(api: Api, fmt: str) -> None:
    """PNG, JPEG and WebP (lossy and lossless) masks of the right size are accepted."""
    upscale = await api.upscaled()
    buffer = io.BytesIO()
    image = Image.new("L", (256, 256), 0)
    image.paste(255, (64, 64, 192, 192))
    if fmt == "WEBP-lossless":
        image.save(buffer, "WEBP", lossless=True)
    else:
        image.save(buffer, fmt)
    mask = base64.b64encode(buffer.getvalue()).decode()
    wrapped = "\n".join(mask[i : i + 76] for i in range(0, len(mask), 76))
    await api.press(upscale, "Vary (Region)", mask=wrapped)


async def test_mask_size_check_can_be_switched_off() -> None:
    """With check_mask_size=False a mask of any size is accepted."""
    async with (
        Simulator(check_mask_size=False, general_rate_limit=None) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        upscale = await api.upscaled()
        mask = base64.b64encode(make_png(10, 10)).decode()
        await api.press(upscale, "Vary (Region)", mask=mask)


async def test_mask_must_match_the_configured_image_size() -> None:
    """The expected mask size follows image_size."""
    async with (
        Simulator(image_size=(128, 64), general_rate_limit=None) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        upscale = await api.upscaled()
        status, answer = await api.post(
            BUTTON, {"messageId": upscale, "button": "Vary (Region)", "mask": mask_b64()}
        )
        assert_nestjs(status, answer, 400, "256x256", "128x64")
        mask = base64.b64encode(make_mask(128, 64)).decode()
        await api.press(upscale, "Vary (Region)", mask=mask)


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ({}, ["url", "required"]),
        ({"url": 3}, ["url", "string"]),
        ({"url": "not-a-url"}, ["url", "URL"]),
        ({"url": "https://x/y.png", "timeout": 0}, ["timeout"]),
    ],
)
async def test_describe_field_problems_are_400(
    api: Api, body: dict[str, Any], needles: list[str]
) -> None:
    """describe refuses a missing or bad url and bad common fields."""
    status, answer = await api.post(DESCRIBE, body)
    assert_nestjs(status, answer, 400, *needles)


async def test_prompt_check_needs_a_prompt(api: Api) -> None:
    """prompt-check without a prompt is 400."""
    status, answer = await api.post(PROMPT_CHECK, {})
    assert_nestjs(status, answer, 400, "prompt")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "sk-nobearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic x"},
    ],
)
async def test_missing_key_is_401(api: Api, headers: dict[str, str]) -> None:
    """No key, or not a Bearer key, answers 401 saying how to send it."""
    status, answer, _ = await api.request("POST", IMAGINE, {"prompt": "x"}, headers=headers)
    assert_nestjs(status, answer, 401, "Authorization: Bearer")


async def test_wrong_key_is_401(api: Api) -> None:
    """An unknown key answers 401 on every API endpoint."""
    for method, path in [("POST", IMAGINE), ("GET", "/api/v1/message/fetch/x"),
                         ("GET", "/api/v1/subscription/account-info")]:  # fmt: skip
        status, answer, _ = await api.request(method, path, {}, key="sk-wrong")
        assert_nestjs(status, answer, 401, "Invalid API key")


async def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    """'bearer sk-...' works like 'Bearer sk-...'."""
    status, _, _ = await api.request(
        "POST", IMAGINE, {"prompt": "x"}, headers={"Authorization": f"bearer {api.key}"}
    )
    assert status == 200


async def test_no_bad_input_gives_500(api: Api) -> None:
    """A battery of odd requests never gets a 5xx."""
    upscale = await api.upscaled()
    odd: list[tuple[str, str, Any]] = [
        ("POST", IMAGINE, {"prompt": "x", "timeout": 1e309}),
        ("POST", IMAGINE, {"prompt": "x", "timeout": -0.0}),
        ("POST", IMAGINE, {"prompt": "\u0000\ud7ff"}),
        ("POST", BUTTON, {"messageId": upscale, "button": "Vary (Region)", "mask": "===="}),
        ("POST", BUTTON, {"messageId": upscale, "button": "Vary (Region)", "mask": "/9j/"}),
        ("POST", BUTTON, {"messageId": upscale, "button": "Vary (Region)", "mask": "UklGRg=="}),
        ("POST", BUTTON, {"messageId": {"a": 1}, "button": None}),
        ("GET", "/api/v1/message/fetch/%00", None),
        ("GET", "/api/v1/nova/images?page=99999999999999999999", None),
        ("DELETE", IMAGINE, None),
    ]
    for method, path, body in odd:
        status, _, _ = await api.request(method, path, body)
        assert status < 500, (method, path, body, status)
    for raw in [
        b"NaN",
        b'{"prompt": "x", "timeout": NaN}',
        b'{"prompt": "x", "timeout": Infinity}',
    ]:
        status, _, _ = await api.request("POST", IMAGINE, data=raw, headers=api.headers(None))
        assert status < 500, raw
