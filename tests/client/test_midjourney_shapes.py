"""Our client against the simulator's Midjourney shapes: a `--ar 16:9` upscale, its mask rule and
Make Square; a v5 upscale's Upscale (2x)."""

from __future__ import annotations

import pytest

from imaginepro_async import Button, ImagineProClient, InvalidMaskError
from imaginepro_async.testing import Simulator, make_mask

pytestmark = pytest.mark.anyio


async def test_inpaint_and_make_square_on_a_wide_upscale(
    sim: Simulator, client: ImagineProClient
) -> None:
    """A 16:9 mask at half size is fitted to the 1456x816 upscale and the job ends DONE; a square
    mask is refused before sending; Make Square ends DONE with a grid."""
    grid = await (await client.imagine("a wide harbour --ar 16:9"))
    up = await (await client.upscale(grid, 1))
    assert Button.MAKE_SQUARE in up.buttons
    inpainted = await (await client.inpaint(up, make_mask(728, 408), prompt="a red boat"))
    assert inpainted.status.value == "DONE"
    # A mask drawn at true 16:9 (Midjourney's "16:9" is 1456x816, rounded to 16 px) fits too.
    true_ratio = await (await client.inpaint(up, make_mask(1920, 1080), prompt="a blue boat"))
    assert true_ratio.status.value == "DONE"
    with pytest.raises(InvalidMaskError, match="1456x816"):
        await client.inpaint(up, make_mask(512, 512))
    square = await (await client.press(up, Button.MAKE_SQUARE))
    assert square.status.value == "DONE"
    assert square.originating_message_id == up.message_id
    assert sim.stats().by_status.get(400) is None


async def test_upscale_2x_on_a_v5_upscale(client: ImagineProClient) -> None:
    """A `--v 5.2` upscale offers Upscale (2x); its result offers Redo Upscale (2x)."""
    grid = await (await client.imagine("a cat --v 5.2"))
    up = await (await client.upscale(grid, 2))
    doubled = await (await client.press(up, Button.UPSCALE_2X))
    assert doubled.buttons[0] == Button.REDO_UPSCALE_2X
