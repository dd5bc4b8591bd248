"""The official `imaginepro` SDK (sync, requests-based) runs its own flow against the simulator."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest
from imaginepro import (
    ImagineParams,
    ImagineProSDK,
    ImagineProSDKOptions,
    InpaintingParams,
    UpscaleParams,
)

from imaginepro_async.testing import Simulator, make_mask, uniform_duration

pytestmark = pytest.mark.anyio


def official_flow(url: str, key: str, mask: str) -> list[dict[str, Any]]:
    """imagine → wait → U1 → wait → inpainting with a mask → wait, as the SDK's README does."""
    sdk = ImagineProSDK(
        ImagineProSDKOptions(api_key=key, base_url=url, default_timeout=60, fetch_interval=0.02)
    )
    created = sdk.imagine(ImagineParams(prompt="a lighthouse at dusk", negative_prompt="fog"))
    grid = sdk.fetch_message(created["messageId"])
    upscale = sdk.fetch_message(
        sdk.upscale(UpscaleParams(message_id=grid["messageId"], index=1))["messageId"]
    )
    inpainted = sdk.fetch_message(
        sdk.inpainting(
            InpaintingParams(message_id=upscale["messageId"], mask=mask, prompt="a seagull")
        )["messageId"]
    )
    return [grid, upscale, inpainted]


async def test_official_sdk_flow_runs_against_the_simulator() -> None:
    """The official SDK's imagine, upscale and inpainting all end DONE, documented limits on."""
    async with Simulator(time_scale=1000.0, seed=5, duration=uniform_duration(30, 60)) as sim:
        mask = base64.b64encode(make_mask(*sim.image_size)).decode()
        grid, upscale, inpainted = await anyio.to_thread.run_sync(
            official_flow, sim.url, sim.api_key, mask
        )
        assert [m["status"] for m in (grid, upscale, inpainted)] == ["DONE"] * 3
        assert upscale["originatingMessageId"] == grid["messageId"]
        assert inpainted["originatingMessageId"] == upscale["messageId"]
        assert inpainted["prompt"] == "a seagull"
        assert "Vary (Region)" in upscale["buttons"]
        assert sim.credits_spent()[sim.api_key] == 20
        assert sim.stats().rate_limited == 0


async def test_official_sdk_flow_with_a_smaller_mask_of_the_same_aspect_ratio() -> None:
    """The official SDK's inpainting with a mask a quarter of the image's size ends DONE."""
    async with Simulator(time_scale=1000.0, seed=6, duration=uniform_duration(30, 60)) as sim:
        width, height = sim.image_size
        mask = base64.b64encode(make_mask(width // 4, height // 4)).decode()
        *_, inpainted = await anyio.to_thread.run_sync(official_flow, sim.url, sim.api_key, mask)
        assert inpainted["status"] == "DONE"
        assert sim.stats().by_status.get(400) is None
