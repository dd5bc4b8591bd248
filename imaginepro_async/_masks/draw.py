"""Drawing masks: rectangles, ellipses and polygons on a black canvas, as checked mask contents.

``Mask.rectangle``, ``Mask.ellipse`` and ``Mask.polygon`` call these; a drawn shape is checked like
any mask (it must select something, not everything).

Coordinates are **pixels** by default (``(left, top, right, bottom)``, right and bottom exclusive,
so ``(0, 0, 512, 512)`` covers exactly 512x512 pixels). With ``relative=True`` every coordinate is
a **fraction of the size** in ``[0, 1]`` (``(0, 0, 0.5, 0.5)`` is the top-left quarter). The flag
is explicit because a number alone cannot say which is meant (is ``1`` one pixel or the whole
width?).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, TypeAlias

from imaginepro_async._errors import InvalidMaskError

from .codec import (
    check_size_arg,
    refuse_fractions_as_pixels,
    require_pillow,
    rounded,
    scale_points,
    size_text,
)
from .content import MaskContent, from_pixels

__all__ = ["Box", "Point", "draw_box", "draw_polygon"]

Box: TypeAlias = tuple[float, float, float, float]
"""``(left, top, right, bottom)``; right and bottom are exclusive."""

Point: TypeAlias = tuple[float, float]
"""``(x, y)``."""

_OFF_CANVAS_HINT: Final = " (is the shape off the canvas, or thinner than a pixel?)"


def draw_polygon(size: tuple[int, int], points: Sequence[Point], relative: bool) -> MaskContent:
    """A filled polygon on a black canvas (``Mask.polygon``)."""
    require_pillow("drawing a mask")
    from PIL import Image, ImageDraw

    what = f"polygon {list(points)!r}{' (relative)' if relative else ''}"
    canvas = check_size_arg(size, f"the canvas size of {what}")
    if len(points) < 3 or not all(len(p) == 2 for p in points):
        raise InvalidMaskError(f"{what} needs three or more (x, y) points")
    flat = [v for p in points for v in p]
    scaled = scale_points(flat, canvas, relative=relative, what=what)
    refuse_fractions_as_pixels(flat, relative, what)
    image = Image.new("L", canvas, 0)
    ImageDraw.Draw(image).polygon(list(zip(scaled[::2], scaled[1::2], strict=True)), fill=255)
    name = f"the {what} on a {size_text(canvas)} canvas"
    return from_pixels(image, 0, name, _OFF_CANVAS_HINT)


def draw_box(
    kind: Literal["rectangle", "ellipse"], size: tuple[int, int], box: Box, relative: bool
) -> MaskContent:
    """A rectangle, or the ellipse inscribed in it, on a black canvas (``Mask.rectangle``...)."""
    require_pillow("drawing a mask")
    from PIL import Image, ImageDraw

    what = f"{kind} {tuple(box)!r}{' (relative)' if relative else ''}"
    canvas = check_size_arg(size, f"the canvas size of {what}")
    if len(box) != 4:
        raise InvalidMaskError(f"{what}: a box is (left, top, right, bottom), four numbers")
    left, top, right, bottom = (
        rounded(v) for v in scale_points(box, canvas, relative=relative, what=what)
    )
    if box[0] >= box[2] or box[1] >= box[3]:
        raise InvalidMaskError(
            f"{what}: a box is (left, top, right, bottom) with left < right and top < bottom"
        )
    refuse_fractions_as_pixels(box, relative, what)
    image = Image.new("L", canvas, 0)
    if left < right and top < bottom:
        draw = ImageDraw.Draw(image)
        # Pillow's boxes include their right and bottom edges; ours exclude them.
        xy = (left, top, right - 1, bottom - 1)
        if kind == "ellipse":
            draw.ellipse(xy, fill=255)
        else:
            draw.rectangle(xy, fill=255)
    name = f"the {what} on a {size_text(canvas)} canvas"
    return from_pixels(image, 0, name, _OFF_CANVAS_HINT)
