"""Midjourney's rules as the simulator models them: what a prompt asks for (``--ar``, ``--v``), the
size of a job's images, which buttons a finished job offers, and what pressing one makes.

Pure functions of their arguments (no engine state, no HTTP), so every rule is a table in
``_contract`` and can be tested without a server. ``base`` is the configured size of one 1:1
image (``Simulator(image_size=...)``, 1024x1024 by default).
"""

from __future__ import annotations

import math
import re
from typing import Final

import attrs

from . import _contract as c
from ._engine import RESULT_GRID, RESULT_REUPSCALED, RESULT_UPSCALED, Job

Size = tuple[int, int]
Aspect = tuple[int, int]

_PARAM: Final = re.compile(r"(?:^|\s)(--[A-Za-z]+)(?:\s+([^\s-][^\s]*))?")
_RATIO: Final = re.compile(r"([0-9]+):([0-9]+)")
_VERSION: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class InvalidParameterError(ValueError):
    """A Midjourney parameter in a prompt has a value the simulator refuses (400)."""


@attrs.frozen(kw_only=True)
class Look:
    """What a Midjourney job makes: its result kind, duration kind, images and buttons."""

    result: int
    kind: str
    aspect: Aspect
    size: Size
    version: str | None
    offers: tuple[str, ...]


def prompt_params(prompt: str) -> tuple[Aspect, str | None]:
    """The aspect ratio (reduced; 1:1 by default) and the version a prompt asks for.

    Raises:
        InvalidParameterError: ``--ar``/``--aspect`` is not two positive whole numbers.
    """
    aspect: Aspect = (1, 1)
    version = None
    for param, value in _PARAM.findall(prompt):
        name = param.lower()
        if name in c.ASPECT_PARAMS:
            found = _RATIO.fullmatch(value)
            if found is None or not int(found[1]) or not int(found[2]):
                shown = repr(value) if value else "without a value"
                raise InvalidParameterError(c.INVALID_ASPECT.format(param=name, value=shown))
            aspect = reduced(int(found[1]), int(found[2]))
        elif name in c.VERSION_PARAMS and _VERSION.fullmatch(value):
            version = value
    return aspect, version


def reduced(width: int, height: int) -> Aspect:
    """``width:height`` in lowest terms."""
    divisor = math.gcd(width, height)
    return width // divisor, height // divisor


def is_v5(version: str | None) -> bool:
    """True for the versions whose upscales offer Upscale (2x)/(4x) (5, 5.0, 5.1, 5.2)."""
    return version is not None and version.split(".")[0] == c.V5_MAJOR


def image_size(aspect: Aspect, base: Size) -> Size:
    """The pixel size of one image of ``aspect`` (see ``_contract.ASPECT_EXPONENT``)."""
    width, height = aspect
    if width == height:
        return base
    ratio = max(width, height) / min(width, height)
    long = ratio**c.ASPECT_EXPONENT
    short = long / ratio
    scale_w, scale_h = (long, short) if width > height else (short, long)
    unit = c.IMAGE_SIZE
    return (
        _round(base[0] * scale_w, c.ASPECT_STEP * base[0] / unit[0]),
        _round(base[1] * scale_h, c.ASPECT_STEP * base[1] / unit[1]),
    )


def _round(value: float, step: float) -> int:
    """``value`` to the nearest multiple of ``step`` (at least one step, at most MAX_SIDE)."""
    unit = max(1, round(step))
    return min(c.MAX_SIDE, max(unit, int(value / unit + 0.5) * unit))


def offers(result: int, aspect: Aspect, version: str | None, button: str | None) -> tuple[str, ...]:
    """The buttons a finished Midjourney job offers (``button``: what made it, if pressed)."""
    if result == RESULT_GRID:
        return c.GRID_BUTTONS
    if result == RESULT_UPSCALED:
        found = c.V5_UPSCALED_BUTTONS if is_v5(version) else c.UPSCALED_BUTTONS
        if aspect[0] == aspect[1]:
            return found
        at = found.index("Zoom Out 1.5x") + 1
        return (*found[:at], c.MAKE_SQUARE, *found[at:])
    if result == RESULT_REUPSCALED:
        redo = c.REDO_OF.get(button or "")
        return c.REUPSCALED_BUTTONS if redo is None else (redo, *c.REUPSCALED_BUTTONS)
    return ()


def imagine_look(prompt: str, base: Size) -> Look:
    """What an imagine job makes: a grid shaped by the prompt's parameters.

    Raises:
        InvalidParameterError: a parameter the simulator refuses.
    """
    aspect, version = prompt_params(prompt)
    return grid_look(aspect, image_size(aspect, base), version, kind="imagine")


def grid_look(aspect: Aspect, size: Size, version: str | None, *, kind: str) -> Look:
    """A grid of images of ``size``."""
    return Look(
        result=RESULT_GRID,
        kind=kind,
        aspect=aspect,
        size=size,
        version=version,
        offers=offers(RESULT_GRID, aspect, version, None),
    )


def press_look(button: str, parent: Job, base: Size) -> Look:
    """What pressing ``button`` (offered by ``parent``; not Cancel Job) makes."""
    aspect, size, version = parent.aspect, parent.size, parent.version
    if button in c.UPSCALES:
        result = RESULT_UPSCALED
    elif button in c.SECOND_UPSCALES:
        result = RESULT_REUPSCALED
        factor = c.UPSCALE_FACTORS[button]
        size = (min(c.MAX_SIDE, size[0] * factor), min(c.MAX_SIDE, size[1] * factor))
    else:
        if button == c.MAKE_SQUARE:
            aspect, size = (1, 1), base
        elif button in (c.PAN_LEFT, c.PAN_RIGHT, c.PAN_UP, c.PAN_DOWN):
            aspect, size = _panned(button, aspect, size)
        return grid_look(aspect, size, version, kind="button")
    return Look(
        result=result,
        kind="upscale",
        aspect=aspect,
        size=size,
        version=version,
        offers=offers(result, aspect, version, button),
    )


def _panned(button: str, aspect: Aspect, size: Size) -> tuple[Aspect, Size]:
    grow, by = c.PAN_FACTOR
    if button in (c.PAN_LEFT, c.PAN_RIGHT):
        return reduced(aspect[0] * grow, aspect[1] * by), (
            min(c.MAX_SIDE, size[0] * grow // by),
            size[1],
        )
    return reduced(aspect[0] * by, aspect[1] * grow), (
        size[0],
        min(c.MAX_SIDE, size[1] * grow // by),
    )


def mask_fits(mask: Size, image: Size, aspect: Aspect) -> bool:
    """True when a mask of size ``mask`` has the aspect ratio of the image's pixels, or the one its
    prompt asked for if not 1:1 (``_contract.MASK_ASPECT_SLACK_PX`` of rounding)."""
    width, height = mask
    slack = c.MASK_ASPECT_SLACK_PX
    shapes = (image,) if aspect == (1, 1) else (image, aspect)
    return any(abs(height * w - width * h) <= slack * w for w, h in shapes)
