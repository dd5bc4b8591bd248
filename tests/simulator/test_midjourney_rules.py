"""Midjourney's rules in the simulator (issue #20): ``--ar`` shapes a job and its descendants, every
button of the contract is offered somewhere and pressing it gives a plausible result."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from imaginepro_async.testing import Simulator, make_mask
from imaginepro_async.testing import _contract as c
from imaginepro_async.testing._midjourney import image_size, mask_fits, prompt_params

from .conftest import BUTTON, FROZEN, IMAGINE, PROMPT_CHECK, Api, mask_b64, text
from .test_more_endpoints import image_size as served_size

pytestmark = pytest.mark.anyio


@pytest.fixture
async def real() -> AsyncIterator[Api]:
    """A frozen-clock simulator with the default (Midjourney) sizes, no rate limits."""
    async with (
        Simulator(
            time_scale=FROZEN, seed=4, general_rate_limit=None, progress_rate_limit=None
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        yield Api(sim, session)


async def upscale_of(api: Api, prompt: str) -> str:
    """Imagine ``prompt``, press U1, and return the upscale's id once DONE."""
    grid = await api.imagine(prompt)
    await api.done(grid)
    upscale = await api.press(grid, "U1")
    await api.done(upscale)
    return upscale


async def pressed(api: Api, parent: str, *buttons: str) -> str:
    """Press ``buttons`` one after the other from ``parent``; the last job's id, DONE."""
    for button in buttons:
        parent = await api.press(parent, button)
        await api.done(parent)
    return parent


# -- the rules, without a server ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect", "size"),
    [
        ((1, 1), (1024, 1024)),
        ((16, 9), (1456, 816)),
        ((9, 16), (816, 1456)),
        ((4, 3), (1216, 912)),
        ((3, 2), (1312, 880)),
        ((1000, 1), (8192, 80)),
    ],
)
def test_image_sizes_follow_midjourney_near_its_own(
    aspect: tuple[int, int], size: tuple[int, int]
) -> None:
    """Sizes by aspect ratio are the ones the contract lists (16:9 is Midjourney's 1456x816);
    extreme ratios are clamped to MAX_SIDE (contract: ASPECT_EXPONENT, MAX_SIDE)."""
    assert image_size(aspect, c.IMAGE_SIZE) == size


@pytest.mark.parametrize(
    ("prompt", "aspect", "version"),
    [
        ("a cat", (1, 1), None),
        ("a cat --ar 16:9", (16, 9), None),
        ("a cat --AR 32:18 --v 5.2", (16, 9), "5.2"),
        ("a cat --aspect 2:3 --version 5", (2, 3), "5"),
        ("a cat --ar 3:2 --ar 1:1", (1, 1), None),
        ("a cat --v 6.1 --stylize 100", (1, 1), "6.1"),
    ],
)
def test_prompt_parameters_are_read(
    prompt: str, aspect: tuple[int, int], version: str | None
) -> None:
    """--ar/--aspect (reduced, the last wins) and --v/--version are read from the prompt."""
    assert prompt_params(prompt) == (aspect, version)


def test_a_mask_fits_the_pixels_or_the_aspect_ratio_asked_for() -> None:
    """A 16:9 mask fits Midjourney's 1456x816 (not exactly 16:9); a square one does not
    (contract: MASK_ASPECT_SLACK_PX)."""
    image, asked = (1456, 816), (16, 9)
    assert mask_fits((728, 408), image, asked)
    assert mask_fits((1920, 1080), image, asked)
    assert mask_fits((1000, 563), image, asked)
    assert not mask_fits((1024, 1024), image, asked)
    assert not mask_fits((1920, 1080), (1024, 1024), (1, 1))


# -- aspect ratios over HTTP ----------------------------------------------------------------------


async def test_an_aspect_ratio_shapes_the_grid_and_its_upscale(real: Api) -> None:
    """`--ar 16:9` gives 1456x816 images, a 2912x1632 grid and a 1456x816 upscale that offers
    Make Square (contract: ASPECT_PARAMS, ASPECT_EXPONENT)."""
    grid = await real.done(await real.imagine("a wide landscape --ar 16:9"))
    assert await served_size(real, grid["uri"]) == (2912, 1632)
    assert await served_size(real, grid["images"][0]) == (1456, 816)
    upscale = await real.done(await real.press(grid["messageId"], "U2"))
    assert await served_size(real, upscale["uri"]) == (1456, 816)
    assert "Make Square" in upscale["buttons"]


async def test_descendants_keep_the_aspect_ratio(api: Api) -> None:
    """Variations, rerolls, zooms and Vary (Region) keep the prompt's aspect ratio, even when a
    new prompt is given."""
    grid = await api.imagine("a tall tower --ar 9:16")
    await api.done(grid)
    for path in (["V1"], ["🔄"], ["U1", "Zoom Out 2x"], ["U1", "Vary (Strong)", "U3"]):
        message = await api.done(await pressed(api, grid, *path))
        assert await served_size(api, message["images"][0]) == (204, 364), path
    upscale = await pressed(api, grid, "U1")
    inpainted = await api.press(upscale, "Vary (Region)", mask=mask_b64(9, 16), prompt="a bird")
    message = await api.done(inpainted)
    assert await served_size(api, message["images"][0]) == (204, 364)


@pytest.mark.parametrize("size", [(1456, 816), (728, 408), (1920, 1080), (160, 90)])
async def test_a_mask_of_the_aspect_ratio_is_accepted_at_any_resolution(
    real: Api, size: tuple[int, int]
) -> None:
    """On a `--ar 16:9` upscale a mask of the image's size, or of 16:9 at any resolution, is
    accepted (contract: MASK_ASPECT_SLACK_PX and the aspect rule)."""
    upscale = await upscale_of(real, "a harbour --ar 16:9")
    mask = base64.b64encode(make_mask(*size)).decode()
    await real.done(await real.press(upscale, "Vary (Region)", mask=mask))


async def test_a_square_mask_on_a_wide_image_is_refused_naming_both(real: Api) -> None:
    """A 1024x1024 mask on a 1456x816 upscale is 400 naming the sizes and the ratio asked for."""
    upscale = await upscale_of(real, "a harbour --ar 16:9")
    mask = base64.b64encode(make_mask(1024, 1024)).decode()
    status, body = await real.post(
        BUTTON, {"messageId": upscale, "button": "Vary (Region)", "mask": mask}
    )
    assert status == 400
    assert all(needle in text(body) for needle in ("1024x1024", "1456x816", "16:9"))


@pytest.mark.parametrize("prompt", ["x --ar 1.5:1", "x --ar", "x --aspect 0:9", "x --ar wide"])
async def test_an_invalid_aspect_ratio_is_refused_and_costs_nothing(api: Api, prompt: str) -> None:
    """A `--ar` that is not two positive whole numbers is 400 at creation, nothing charged;
    the prompt check says FAIL (contract: INVALID_ASPECT)."""
    before = api.sim.credits()
    status, body = await api.post(IMAGINE, {"prompt": prompt})
    assert status == 400
    assert "aspect ratio" in text(body)
    assert api.sim.credits() == before
    status, verdict = await api.post(PROMPT_CHECK, {"prompt": prompt})
    assert (status, verdict["status"]) == (200, "FAIL")


# -- every button -----------------------------------------------------------------------------------


async def _grid(api: Api) -> str:
    grid = await api.imagine("a cat")
    await api.done(grid)
    return grid


async def _upscale(api: Api) -> str:
    return await upscale_of(api, "a cat")


async def _wide_upscale(api: Api) -> str:
    return await upscale_of(api, "a cat --ar 16:9")


async def _v5_upscale(api: Api) -> str:
    return await upscale_of(api, "a cat --v 5.2")


async def _v5_2x(api: Api) -> str:
    return await pressed(api, await _v5_upscale(api), "Upscale (2x)")


async def _v5_4x(api: Api) -> str:
    return await pressed(api, await _v5_upscale(api), "Upscale (4x)")


async def _running(api: Api) -> str:
    return await api.imagine("a cat")


#: Where each button of the contract is offered (Cancel Job: accepted while a job runs, never listed).
SITUATIONS: dict[str, Callable[[Api], Awaitable[str]]] = {
    **dict.fromkeys(c.GRID_BUTTONS, _grid),
    **dict.fromkeys(c.UPSCALED_BUTTONS, _upscale),
    "Make Square": _wide_upscale,
    "Upscale (2x)": _v5_upscale,
    "Upscale (4x)": _v5_upscale,
    "Redo Upscale (2x)": _v5_2x,
    "Redo Upscale (4x)": _v5_4x,
    "Cancel Job": _running,
}


def test_the_table_covers_every_button_of_the_contract() -> None:
    """The situations below name every button of the contract's list, and only those."""
    assert set(SITUATIONS) == set(c.ALL_BUTTONS)


@pytest.mark.parametrize("button", c.ALL_BUTTONS)
async def test_every_button_is_offered_somewhere_and_pressing_it_succeeds(
    api: Api, button: str
) -> None:
    """Each button of the contract is offered by a simulated situation, and pressing it there
    makes a job that ends DONE (Cancel Job: the running target ends FAIL, cancelled)."""
    parent = await SITUATIONS[button](api)
    extra = {"mask": mask_b64(*api.sim.image_size)} if button == c.VARY_REGION else {}
    if button == c.CANCEL_JOB:
        await api.press(parent, button)
        message = await api.fetch(parent)
        assert (message["status"], message["error"]) == ("FAIL", c.CANCELLED_ERROR)
        return
    assert button in (await api.fetch(parent))["buttons"]
    message = await api.done(await api.press(parent, button, **extra))
    assert message["status"] == "DONE"
    assert message["originatingMessageId"] == parent


@pytest.mark.parametrize(
    ("prompt", "path", "size"),
    [
        ("a cat --ar 16:9", ["U1"], (364, 204)),
        ("a cat --ar 16:9", ["U1", "Make Square"], (256, 256)),
        ("a cat --ar 16:9", ["U1", "Make Square", "U2"], (256, 256)),
        ("a cat --v 5", ["U1", "Upscale (2x)"], (512, 512)),
        ("a cat --v 5", ["U1", "Upscale (4x)"], (1024, 1024)),
        ("a cat --v 5", ["U1", "Upscale (2x)", "Redo Upscale (2x)"], (512, 512)),
        ("a cat --v 5.1 --ar 16:9", ["U4", "Upscale (2x)"], (728, 408)),
        ("a cat", ["U1", "Upscale (Subtle)"], (512, 512)),
        ("a cat", ["U1", "Upscale (Creative)"], (512, 512)),
        ("a cat", ["U1", "⬅️"], (384, 256)),
        ("a cat", ["U1", "⬇️"], (256, 384)),
        ("a cat", ["U1", "Zoom Out 1.5x"], (256, 256)),
    ],
)
async def test_each_press_gives_a_plausible_size(
    api: Api, prompt: str, path: list[str], size: tuple[int, int]
) -> None:
    """Make Square makes square images, Upscale 2x/4x (and Subtle/Creative) multiply the size,
    a redo keeps it, a pan widens or heightens by half, a zoom keeps it (contract:
    UPSCALE_FACTORS, PAN_FACTOR, MAKE_SQUARE)."""
    grid = await api.imagine(prompt)
    await api.done(grid)
    message = await api.done(await pressed(api, grid, *path))
    assert await served_size(api, message["images"][0]) == size


@pytest.mark.parametrize(
    ("prompt", "path", "first", "square"),
    [
        ("a cat", ["U1"], "Upscale (Subtle)", False),
        ("a cat --ar 16:9", ["U1"], "Upscale (Subtle)", True),
        ("a cat --v 5.2", ["U1"], "Upscale (2x)", False),
        ("a cat --v 5 --ar 2:3", ["U1"], "Upscale (2x)", True),
        ("a cat --ar 16:9", ["U1", "Make Square", "U1"], "Upscale (Subtle)", False),
        ("a cat", ["U1", "➡️", "U1"], "Upscale (Subtle)", True),
        ("a cat --v 5", ["U1", "Upscale (4x)"], "Redo Upscale (4x)", False),
        ("a cat --v 5", ["U1", "Upscale (2x)", "Redo Upscale (2x)"], "Redo Upscale (2x)", False),
        ("a cat", ["U1", "Upscale (Creative)"], "Vary (Subtle)", False),
    ],
)
async def test_the_buttons_offered_follow_version_shape_and_maker(
    api: Api, prompt: str, path: list[str], first: str, square: bool
) -> None:
    """v5 upscales offer 2x/4x, others Subtle/Creative; a non-square upscale offers Make Square
    after the zooms; a 2x/4x result offers its redo first (contract: V5_UPSCALED_BUTTONS,
    REDO_OF)."""
    grid = await api.imagine(prompt)
    await api.done(grid)
    buttons = (await api.done(await pressed(api, grid, *path)))["buttons"]
    assert buttons[0] == first
    assert ("Make Square" in buttons) is square
    if square:
        assert buttons[buttons.index("Zoom Out 1.5x") + 1] == "Make Square"
