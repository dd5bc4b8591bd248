"""Drawing masks: rectangles, ellipses and polygons on a black canvas (``Mask`` inherits them).

Coordinates are pixels by default, or fractions of the size with ``relative=True`` (see
``_masks.py``). A drawn shape is checked like any mask: it must select something, not everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

from imaginepro_async._errors import InvalidMaskError

from .codec import (
    OFF_CANVAS_HINT,
    check_size_arg,
    refuse_fractions_as_pixels,
    require_pillow,
    rounded,
    scale_points,
    size_text,
)

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from .mask import Mask

__all__ = ["Box", "MaskDrawing", "Point"]

Box: TypeAlias = tuple[float, float, float, float]
"""``(left, top, right, bottom)``; right and bottom are exclusive."""

Point: TypeAlias = tuple[float, float]
"""``(x, y)``."""


class MaskDrawing:
    """The constructors of ``Mask`` that draw a shape."""

    __slots__ = ()

    if TYPE_CHECKING:

        @classmethod
        def _from_binary(
            cls, binary: PILImage.Image, thresholded: int, name: str, empty_hint: str = ""
        ) -> Mask: ...

    @classmethod
    def rectangle(cls, size: tuple[int, int], box: Box, *, relative: bool = False) -> Mask:
        """Draw a mask selecting one rectangle on a black canvas.

        Args:
            size: the canvas ``(width, height)`` in pixels: the size of the image being edited.
            box: ``(left, top, right, bottom)``, right and bottom exclusive; parts off the
                canvas are clipped.
            relative: False (default): ``box`` is in pixels. True: every coordinate is a fraction
                of the size, in ``[0, 1]``.

        Returns:
            The mask.

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
            InvalidMaskError: bad size or box, or the rectangle covers no pixel or every pixel.
        """
        return cls._draw_box("rectangle", size, box, relative)

    @classmethod
    def ellipse(cls, size: tuple[int, int], box: Box, *, relative: bool = False) -> Mask:
        """Draw a mask selecting the ellipse inscribed in a box, on a black canvas.

        Args:
            size: the canvas ``(width, height)`` in pixels: the size of the image being edited.
            box: the bounding box ``(left, top, right, bottom)``, right and bottom exclusive.
            relative: False (default): ``box`` is in pixels. True: every coordinate is a fraction
                of the size, in ``[0, 1]``.

        Returns:
            The mask.

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
            InvalidMaskError: bad size or box, or the ellipse covers no pixel or every pixel.
        """
        return cls._draw_box("ellipse", size, box, relative)

    @classmethod
    def polygon(
        cls, size: tuple[int, int], points: Sequence[Point], *, relative: bool = False
    ) -> Mask:
        """Draw a mask selecting a filled polygon on a black canvas.

        Args:
            size: the canvas ``(width, height)`` in pixels: the size of the image being edited.
            points: three or more ``(x, y)`` vertices, in order.
            relative: False (default): the points are in pixels. True: every coordinate is a
                fraction of the size, in ``[0, 1]``.

        Returns:
            The mask.

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
            InvalidMaskError: bad size or points, or the polygon covers no pixel or every pixel.
        """
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
        return cls._from_binary(image, 0, name, OFF_CANVAS_HINT)

    @classmethod
    def _draw_box(cls, kind: str, size: tuple[int, int], box: Box, relative: bool) -> Mask:
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
        return cls._from_binary(image, 0, name, OFF_CANVAS_HINT)
