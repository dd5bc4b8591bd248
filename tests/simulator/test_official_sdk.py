"""Conformance: the official Python SDK (``imaginepro`` 0.1.0, sync, requests-based) runs every public
method, and the flows of its README, against the simulator with the documented rate limits on.

The SDK is synchronous: each flow runs in a worker thread while the simulator serves on the event
loop. What the SDK itself gets wrong (its README's dict forms, showing ``body.error``) is pinned
here too, so that a simulator change that hides or fakes it is noticed.
"""

from __future__ import annotations

import ast
import base64
import inspect
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
import imaginepro.constants
import pytest
import requests
from aiohttp import web
from imaginepro import (
    ButtonPressParams,
    ImagineParams,
    ImagineProSDK,
    ImagineProSDKOptions,
    InpaintingParams,
    RerollParams,
    UpscaleParams,
    VariantParams,
)

from imaginepro_async.testing import Simulator, make_mask, uniform_duration
from imaginepro_async.testing import _contract as c

pytestmark = pytest.mark.anyio

T = TypeVar("T")
Message = dict[str, Any]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator at time_scale=1000 (30-60 s jobs take 30-60 ms), documented limits on."""
    async with Simulator(time_scale=1000.0, seed=5, duration=uniform_duration(30, 60)) as server:
        yield server


def sdk_for(sim: Simulator) -> ImagineProSDK:
    """The official SDK pointed at ``sim``, polling every 20 ms (20 simulated seconds)."""
    return ImagineProSDK(
        ImagineProSDKOptions(
            api_key=sim.api_key, base_url=sim.url, default_timeout=60, fetch_interval=0.02
        )
    )


async def in_thread(func: Callable[[], T]) -> T:
    """Run a blocking SDK flow off the event loop, so that the simulator can answer it."""
    return await anyio.to_thread.run_sync(func)


def b64_mask(width: int, height: int) -> str:
    """A mask of ``width`` x ``height`` as the SDK sends it: base64 text."""
    return base64.b64encode(make_mask(width, height)).decode()


def png_size(url: str) -> tuple[int, int]:
    """The size of a served PNG, from its header (blocking: call it in a thread)."""
    data = requests.get(url, timeout=10).content
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def upscaled(sdk: ImagineProSDK, prompt: str, index: int = 1) -> tuple[Message, Message]:
    """imagine → wait → U<index> → wait, as the README does: (grid, upscale)."""
    grid = sdk.fetch_message(sdk.imagine(ImagineParams(prompt=prompt))["messageId"])
    answer = sdk.upscale(UpscaleParams(message_id=grid["messageId"], index=index))
    return grid, sdk.fetch_message(answer["messageId"])


def sdk_button_enum() -> list[str]:
    """The values of the SDK's button enum (``constants.py`` defines it, then shadows it with a
    smaller class of the same name, so it is read from the source)."""
    tree = ast.parse(inspect.getsource(imaginepro.constants))
    enum = next(node for node in tree.body if isinstance(node, ast.ClassDef))
    return [
        str(node.value.value)
        for node in enum.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    ]


# -- every method -----------------------------------------------------------------------------------


async def test_every_public_method_runs_against_the_simulator(sim: Simulator) -> None:
    """imagine, fetch_message_once, fetch_message, upscale, variant, reroll, press_button and
    inpainting each get the documented answer, and their jobs end DONE where the contract says."""
    mask = b64_mask(*sim.image_size)

    def flow() -> dict[str, Message]:
        sdk = sdk_for(sim)
        created = sdk.imagine(ImagineParams(prompt="a lighthouse at dusk", negative_prompt="fog"))
        first = sdk.fetch_message_once(created["messageId"])
        grid = sdk.fetch_message(created["messageId"], interval=0.01, timeout=30)
        up = sdk.fetch_message(
            sdk.upscale(UpscaleParams(message_id=grid["messageId"], index=2))["messageId"]
        )
        out: dict[str, Message] = {"created": created, "first": first, "grid": grid, "up": up}
        out["variant"] = sdk.fetch_message(
            sdk.variant(VariantParams(message_id=grid["messageId"], index=3))["messageId"]
        )
        out["reroll"] = sdk.fetch_message(
            sdk.reroll(RerollParams(message_id=grid["messageId"], ref="again"))["messageId"]
        )
        out["zoom"] = sdk.fetch_message(
            sdk.press_button(ButtonPressParams(message_id=up["messageId"], button="Zoom Out 2x"))[
                "messageId"
            ]
        )
        out["inpainted"] = sdk.fetch_message(
            sdk.inpainting(
                InpaintingParams(message_id=up["messageId"], mask=mask, prompt="a seagull")
            )["messageId"]
        )
        return out

    got = await in_thread(flow)
    assert set(got["created"]) == {"success", "messageId", "createdAt"}
    assert got["first"]["status"] in ("QUEUED", "PROCESSING")
    grid, up = got["grid"], got["up"]
    assert grid["buttons"] == list(c.GRID_BUTTONS)
    assert up["buttons"] == list(c.UPSCALED_BUTTONS)
    for name in ("up", "variant", "reroll"):
        assert got[name]["originatingMessageId"] == grid["messageId"], name
    for name in ("zoom", "inpainted"):
        assert got[name]["originatingMessageId"] == up["messageId"], name
    for name in ("grid", "up", "variant", "reroll", "zoom", "inpainted"):
        assert got[name]["status"] == "DONE", name
    assert got["reroll"]["ref"] == "again"
    assert got["inpainted"]["prompt"] == "a seagull"
    assert sim.credits_spent()[sim.api_key] == 10 + 5 * 5
    assert sim.stats().rate_limited == 0


def test_the_contract_has_every_button_of_the_sdk_enum() -> None:
    """Every value of the SDK's Button enum is a button of the contract (Make Square, Upscale
    (2x)/(4x) included), so each can be offered by some simulated situation."""
    values = sdk_button_enum()
    assert {"Make Square", "Upscale (2x)", "Upscale (4x)", "Cancel Job"} <= set(values)
    assert set(values) <= set(c.ALL_BUTTONS)


# -- the flows of its README ------------------------------------------------------------------------


async def test_readme_quick_start_with_a_dict(sim: Simulator) -> None:
    """The quick start's dict form is sent as it is; the answer carries ``messageId`` (the
    README's ``result["message_id"]`` is a slip: the documented answer is camelCase)."""

    def flow() -> tuple[Message, Message]:
        sdk = sdk_for(sim)
        result = sdk.imagine({"prompt": "a pretty cat playing with a puppy"})
        return result, sdk.fetch_message(result["messageId"])

    result, message = await in_thread(flow)
    assert "messageId" in result and "message_id" not in result
    assert message["status"] == "DONE"
    assert message["prompt"] == "a pretty cat playing with a puppy"


async def test_readme_dict_forms_of_the_button_helpers_fail_in_the_sdk(sim: Simulator) -> None:
    """The README's dict forms of press_button send snake_case keys, which the service refuses
    (400; the SDK shows only "Bad Request"); upscale/variant/reroll/inpainting fail inside the
    SDK (they read attributes of a dict) before anything is sent."""

    def flow() -> tuple[str, list[str]]:
        sdk = sdk_for(sim)
        grid = sdk.fetch_message(sdk.imagine(ImagineParams(prompt="a cat"))["messageId"])
        with pytest.raises(Exception) as pressed:  # noqa: PT011 - the SDK raises Exception
            sdk.press_button({"message_id": grid["messageId"], "button": "U1"})
        failures = []
        for method, body in (
            (sdk.upscale, {"message_id": grid["messageId"], "index": 1}),
            (sdk.variant, {"message_id": grid["messageId"], "index": 1}),
            (sdk.reroll, {"message_id": grid["messageId"]}),
            (sdk.inpainting, {"message_id": grid["messageId"], "mask": "xxx"}),
        ):
            with pytest.raises(AttributeError):
                method(body)
            failures.append(method.__name__)
        return str(pressed.value), failures

    shown, failures = await in_thread(flow)
    assert shown == "Bad Request"
    assert failures == ["upscale", "variant", "reroll", "inpainting"]
    refused = [r for r in sim.requests() if r.status == 400]
    assert [r.endpoint for r in refused] == ["button"]


async def test_readme_fetch_message_gives_up_after_its_timeout(sim: Simulator) -> None:
    """fetch_message(interval=, timeout=) raises TimeoutError while the job still runs."""

    def flow() -> None:
        sdk = sdk_for(sim)
        created = sdk.imagine(ImagineParams(prompt="a slow one"))
        with pytest.raises(TimeoutError, match="Timeout exceeded"):
            sdk.fetch_message(created["messageId"], interval=0, timeout=0)

    await in_thread(flow)


async def test_readme_webhook_payload_is_the_fetched_message(sim: Simulator) -> None:
    """With ref and webhook_override, the final webhook is exactly what fetch_message returns."""
    received: list[Message] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:

        def flow() -> Message:
            sdk = sdk_for(sim)
            params = ImagineParams(
                prompt="a serene mountain landscape",
                ref="custom-reference-id",
                webhook_override=url,
            )
            message: Message = sdk.fetch_message(sdk.imagine(params)["messageId"])
            return message

        message = await in_thread(flow)
        await sim.wait_webhooks()
    finally:
        await runner.cleanup()
    final = [m for m in received if m["status"] == "DONE"]
    assert final == [message]
    assert message["ref"] == "custom-reference-id"


async def test_a_blocked_prompt_is_refused_by_the_sdk_and_costs_nothing(sim: Simulator) -> None:
    """imagine('nsfw cat') raises at once (the SDK shows "Bad Request"); nothing is charged."""

    def flow() -> str:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - the SDK raises Exception
            sdk_for(sim).imagine(ImagineParams(prompt="nsfw cat"))
        return str(caught.value)

    assert await in_thread(flow) == "Bad Request"
    assert sim.credits_spent()[sim.api_key] == 0
    assert sim.jobs() == []


# -- aspect ratios, Make Square, v5 upscales ---------------------------------------------------------


@pytest.mark.parametrize("mask_size", [(1456, 816), (728, 408), (1920, 1080)])
async def test_inpainting_on_a_wide_upscale(sim: Simulator, mask_size: tuple[int, int]) -> None:
    """On a `--ar 16:9` upscale (1456x816) the SDK's inpainting with a 16:9 mask ends DONE."""

    def flow() -> tuple[Message, Message, tuple[int, int]]:
        sdk = sdk_for(sim)
        _, up = upscaled(sdk, "a wide landscape --ar 16:9")
        params = InpaintingParams(
            message_id=up["messageId"], mask=b64_mask(*mask_size), prompt="a red kite"
        )
        return up, sdk.fetch_message(sdk.inpainting(params)["messageId"]), png_size(up["uri"])

    up, inpainted, size = await in_thread(flow)
    assert size == (1456, 816)
    assert inpainted["status"] == "DONE"
    assert inpainted["originatingMessageId"] == up["messageId"]
    assert sim.stats().by_status.get(400) is None


async def test_make_square_on_a_wide_upscale(sim: Simulator) -> None:
    """A `--ar 16:9` upscale offers Make Square; pressing it makes a grid of square images."""

    def flow() -> tuple[Message, Message, tuple[int, int]]:
        sdk = sdk_for(sim)
        _, up = upscaled(sdk, "a wide landscape --ar 16:9", index=3)
        params = ButtonPressParams(message_id=up["messageId"], button="Make Square")
        square = sdk.fetch_message(sdk.press_button(params)["messageId"])
        return up, square, png_size(square["images"][0])

    up, square, size = await in_thread(flow)
    assert "Make Square" in up["buttons"]
    assert square["status"] == "DONE"
    assert square["buttons"] == list(c.GRID_BUTTONS)
    assert size == (1024, 1024)


async def test_v5_upscale_buttons(sim: Simulator) -> None:
    """A `--v 5.2` upscale offers Upscale (2x)/(4x); 2x doubles the image and offers its redo."""

    def flow() -> tuple[Message, Message, tuple[int, int]]:
        sdk = sdk_for(sim)
        _, up = upscaled(sdk, "a cat --v 5.2")
        params = ButtonPressParams(message_id=up["messageId"], button="Upscale (2x)")
        doubled = sdk.fetch_message(sdk.press_button(params)["messageId"])
        return up, doubled, png_size(doubled["uri"])

    up, doubled, size = await in_thread(flow)
    assert up["buttons"][:2] == ["Upscale (2x)", "Upscale (4x)"]
    assert doubled["buttons"][0] == "Redo Upscale (2x)"
    assert size == (2048, 2048)
