"""Inpainting masks: ``Mask``, the region that ``Vary (Region)`` redraws, to read, draw, combine,
fit and preview.

A mask is an image the size of the picture being edited: **white where the picture is redrawn,
black where it is kept**. The API receives it as base64 of an image file (no ``data:`` prefix).

Pillow does the image work and is optional (``pip install 'imaginepro-async[masks]'``). Without it,
ready-made image bytes, files and base64 text still pass through after a cheap check of their
signature and size header; drawing, combining, resizing and previewing ask for the extra.

Coordinates of drawn shapes are **pixels** by default, or **fractions of the size** with
``relative=True`` (see ``draw.py``).

``Mask`` is the public face of checked contents: reading each input kind is in ``content.py``,
drawing in ``draw.py``, decoding and combining pixels in ``pixels.py``; ``load_mask`` (loading off
the event loop) is in ``load.py``, above this module.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias, Union

import attrs

from imaginepro_async._errors import ExtraNotInstalledError, InvalidMaskError

from . import pixels
from .codec import (
    MASK_THRESHOLD,
    MAX_MASK_BYTES,
    MAX_MASK_PIXELS,
    check_size_arg,
    encode_png,
    has_pillow,
    is_pillow_image,
    preview_size,
    read_mask_text,
    require_pillow,
    same_aspect,
    short_text,
    size_text,
    tint_region,
)
from .content import MaskContent, from_encoded, read_base64, read_file, read_image, read_text
from .draw import Box, Point, draw_box, draw_polygon
from .imageinfo import ImageFormat

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "MASK_THRESHOLD",
    "MAX_MASK_BYTES",
    "MAX_MASK_PIXELS",
    "Box",
    "ExtraNotInstalledError",
    "Mask",
    "MaskInput",
    "Point",
    "read_mask_text",
    "same_aspect",
]

MaskInput: TypeAlias = Union[
    "Mask", bytes, bytearray, memoryview, str, "os.PathLike[str]", "PILImage.Image"
]
"""What :func:`load_mask` and :meth:`Mask.coerce` accept."""


@attrs.frozen(init=False)
class Mask:
    """An inpainting mask: white where the image is redrawn, black where it is kept.

    A ``Mask`` is immutable, and once verified always sendable: it selects something, but not
    everything, and is pure black and white. Build
    one from what you have (:meth:`from_file`, :meth:`from_bytes`, :meth:`from_base64`,
    :meth:`from_image`, or :meth:`coerce` for any of those) or draw one (:meth:`rectangle`,
    :meth:`ellipse`, :meth:`polygon`), and combine masks with ``|`` (union), ``&``
    (intersection), ``-`` (difference) and ``~`` / :meth:`invert`.

    With Pillow installed, every mask is decoded, thresholded to pure black and white (luminance
    at least 128 is white; transparent counts as black), checked and re-encoded as PNG. Without
    it, ready-made images pass through unchanged after a header check (:attr:`verified` is False).

    Example::

        mask = Mask.ellipse((1024, 1024), (0.25, 0.25, 0.75, 0.75), relative=True)
        mask |= Mask.rectangle((1024, 1024), (0, 900, 1024, 1024))
        Path("check.png").write_bytes(mask.preview(Path("image.png").read_bytes()))

    Attributes:
        format: the encoding of :meth:`to_base64`'s bytes: ``"png"``, or the original format of a
            mask passed through unverified.
        size: ``(width, height)`` in pixels.
        coverage: the fraction of the pixels selected (white), or None when not verified.
        thresholded_pixels: how many pixels of the source images were not pure black or white and
            were rounded to one of them (0: the mask was sent as drawn); None when not verified.
    """

    _data: bytes = attrs.field(repr=False)
    format: ImageFormat
    size: tuple[int, int]
    coverage: float | None
    thresholded_pixels: int | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "Mask() is not called directly: use Mask.from_file(), Mask.from_bytes(), "
            "Mask.from_base64(), Mask.from_image(), Mask.coerce(), or draw one with "
            "Mask.rectangle(), Mask.ellipse() or Mask.polygon()"
        )

    @classmethod
    def _wrap(cls, content: MaskContent) -> Mask:
        mask = object.__new__(cls)
        mask.__attrs_init__(*attrs.astuple(content, recurse=False))
        return mask

    # -- reading -------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Mask:
        """Read a mask from a PNG, WebP or JPEG file.

        Args:
            path: the file's path.

        Returns:
            The mask.

        Raises:
            InvalidMaskError: the file cannot be read, is too large, is not a supported image, or
                selects nothing or everything.
        """
        return cls._wrap(read_file(path))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Mask:
        """Read a mask from the bytes of a PNG, WebP or JPEG file.

        Args:
            data: the encoded image.

        Returns:
            The mask.

        Raises:
            InvalidMaskError: the bytes are too large, not a supported image, truncated, or select
                nothing or everything.
        """
        return cls._wrap(from_encoded(bytes(data), "the mask data"))

    @classmethod
    def from_base64(cls, text: str) -> Mask:
        """Read a mask from base64 text of a PNG, WebP or JPEG file.

        A ``data:image/...;base64,`` prefix is stripped; whitespace and line breaks, missing
        padding and the URL-safe alphabet are tolerated.

        Args:
            text: the base64 text.

        Returns:
            The mask.

        Raises:
            InvalidMaskError: the text is not base64 of a supported image, is too large, or the
                image selects nothing or everything.
        """
        return cls._wrap(read_base64(text))

    @classmethod
    def from_image(cls, image: PILImage.Image) -> Mask:
        """Make a mask from a Pillow image, in any mode.

        Args:
            image: the image; white (luminance at least 128) is selected, and transparent pixels
                count as black. It is not modified.

        Returns:
            The mask.

        Raises:
            InvalidMaskError: the image is over 100 megapixels, or selects nothing or everything.
        """
        return cls._wrap(read_image(image))

    @classmethod
    def coerce(cls, value: MaskInput) -> Mask:
        """Make a mask from any supported input, choosing the constructor by type.

        - a ``Mask`` is returned as is;
        - ``bytes`` (or ``bytearray``, ``memoryview``): :meth:`from_bytes`;
        - ``os.PathLike`` (``pathlib.Path``): :meth:`from_file`;
        - a Pillow image: :meth:`from_image`;
        - ``str``: base64 if it has a ``data:`` prefix or decodes to a PNG, WebP or JPEG; else a
          file path if such a file exists; else refused, explaining both readings. Pass a
          ``pathlib.Path`` to say "file" without doubt.

        This reads files and decodes images: in async code use :func:`load_mask`.

        Args:
            value: the mask, in any form above.

        Returns:
            The mask.

        Raises:
            InvalidMaskError: the value is not a usable mask (the message says why).
            TypeError: the value is of another type.
        """
        if isinstance(value, Mask):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return cls.from_bytes(value)
        if isinstance(value, str):
            return cls._wrap(read_text(value))
        if isinstance(value, os.PathLike):
            return cls.from_file(value)
        if is_pillow_image(value):
            return cls.from_image(value)
        raise TypeError(
            f"a mask must be a Mask, bytes, base64 text (str), a path or a Pillow image; got "
            f"{type(value).__name__}: {short_text(repr(value))}"
        )

    # -- drawing -------------------------------------------------------------------------------

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
        return cls._wrap(draw_box("rectangle", size, box, relative))

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
        return cls._wrap(draw_box("ellipse", size, box, relative))

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
        return cls._wrap(draw_polygon(size, points, relative))

    # -- combining -----------------------------------------------------------------------------

    def invert(self) -> Mask:
        """Swap selected and kept: the result selects exactly what this mask does not.

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
        """
        return self._wrap(pixels.invert(self._content, str(self)))

    def __invert__(self) -> Mask:
        """``~mask``: same as :meth:`invert`."""
        return self.invert()

    def __or__(self, other: Mask) -> Mask:
        """``a | b``: the union, selecting what either mask selects (sizes must match)."""
        if not isinstance(other, Mask):
            return NotImplemented
        return self._combine(other, "union")

    def __and__(self, other: Mask) -> Mask:
        """``a & b``: the intersection, selecting what both masks select (sizes must match)."""
        if not isinstance(other, Mask):
            return NotImplemented
        return self._combine(other, "intersection")

    def __sub__(self, other: Mask) -> Mask:
        """``a - b``: the difference, selecting what ``a`` selects and ``b`` does not."""
        if not isinstance(other, Mask):
            return NotImplemented
        return self._combine(other, "difference")

    def _combine(self, other: Mask, operation: pixels.Operation) -> Mask:
        return self._wrap(
            pixels.combine(operation, self._content, str(self), other._content, str(other))
        )

    @property
    def _content(self) -> MaskContent:
        return MaskContent(
            self._data, self.format, self.size, self.coverage, self.thresholded_pixels
        )

    def _pixels(self, purpose: str) -> tuple[PILImage.Image, int]:
        """Decode to a 0/255 "L" image, with the count of pixels rounded on the way here."""
        return pixels.decode(self._content, str(self), purpose)

    # -- size ----------------------------------------------------------------------------------

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.size[0]

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.size[1]

    @property
    def verified(self) -> bool:
        """True when the pixels were decoded, thresholded and checked (Pillow was available)."""
        return self.coverage is not None

    @property
    def thresholded(self) -> bool:
        """True when some grey, coloured or translucent pixels were rounded to black or white."""
        return bool(self.thresholded_pixels)

    def check_size(self, size: tuple[int, int]) -> None:
        """Refuse this mask unless it has the given size (that of the image being edited).

        Args:
            size: the expected ``(width, height)`` in pixels.

        Raises:
            InvalidMaskError: the sizes differ; the message gives both.
        """
        expected = check_size_arg(size, "the expected size")
        if self.size == expected:
            return
        stretch = ""
        if self.width * expected[1] != self.height * expected[0]:
            stretch = " (the aspect ratios differ: resizing would stretch the mask)"
        raise InvalidMaskError(
            f"the mask is {size_text(self.size)} but the image is {size_text(expected)}"
            f"{stretch}; pass resize=True, or call mask.resized({expected!r}) first"
        )

    def fitted(self, size: tuple[int, int]) -> Mask:
        """Return this mask fitted to an image of ``size``: scaled if it has the image's aspect ratio.

        A mask with the image's aspect ratio (to one pixel of rounding) is accepted at any
        resolution: scaled nearest-neighbour to ``size`` when Pillow is installed, otherwise
        returned as it is (the service scales it). A mask of another aspect ratio is refused.

        Args:
            size: the ``(width, height)`` of the image being edited.

        Raises:
            InvalidMaskError: the aspect ratios differ (the message gives both sizes), or the
                selection vanished when scaled.
        """
        expected = check_size_arg(size, "the image size")
        if self.size == expected:
            return self
        if not same_aspect(self.size, expected):
            raise InvalidMaskError(
                f"the mask is {size_text(self.size)} but the image is {size_text(expected)}: "
                "their aspect ratios differ, so the mask cannot be scaled onto the image. Draw it "
                f"at {size_text(expected)} (or any size of that aspect ratio), or pass "
                "resize_mask=True to stretch it"
            )
        return self.resized(expected) if has_pillow() else self

    def resized(self, size: tuple[int, int]) -> Mask:
        """Return this mask scaled to another size, nearest-neighbour so it stays black and white.

        The aspect ratio is not kept: the mask is stretched to fill ``size``.

        Args:
            size: the new ``(width, height)`` in pixels.

        Returns:
            The resized mask (this one if the size is already right).

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
            InvalidMaskError: bad size, or the selection vanished (or filled everything) when
                resized.
        """
        target = check_size_arg(size, "the new size")
        if target == self.size:
            return self
        return self._wrap(pixels.resize(self._content, str(self), target))

    # -- output --------------------------------------------------------------------------------

    def to_base64(self) -> str:
        """Return what the API receives: base64 of the image file, without a ``data:`` prefix.

        A verified mask is a pure black-and-white PNG; an unverified one (no Pillow) is the
        original file's bytes.
        """
        return base64.b64encode(self._data).decode("ascii")

    def to_png(self) -> bytes:
        """Return the mask as PNG bytes (those of :meth:`to_base64` when :attr:`format` is png).

        Raises:
            ExtraNotInstalledError: the mask was passed through as WebP or JPEG without Pillow,
                and Pillow is still missing.
        """
        if self.format == "png":
            return self._data
        image, _ = self._pixels("converting a mask to PNG")
        return encode_png(image)

    def to_image(self) -> PILImage.Image:
        """Return the mask as a new Pillow image, mode ``"L"``, every pixel 0 or 255.

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
        """
        image, _ = self._pixels("converting a mask to an image")
        return image

    def preview(
        self,
        source: bytes | PILImage.Image,
        *,
        resize: bool = False,
        color: tuple[int, int, int] = (255, 0, 0),
        opacity: float = 0.5,
        outline: bool = True,
    ) -> bytes:
        """Draw the source image with the selected region tinted, to check before paying.

        This decodes and encodes full-size images (about a second for 4096x4096): in async code,
        call it through ``anyio.to_thread.run_sync``.

        Args:
            source: the image being edited (its file's bytes, or a Pillow image).
            resize: if the sizes differ, resize the mask to the image for the preview (as
                ``resized`` would before sending) instead of refusing.
            color: the tint, ``(red, green, blue)``.
            opacity: how strongly the region is tinted, from 0 (not at all) to 1 (solid).
            outline: also draw the region's edge in the solid colour.

        Returns:
            PNG bytes of the preview (RGB, the size of the source).

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
            InvalidMaskError: the source is not a usable image, or the sizes differ and
                ``resize`` is False.
            InvalidInputError: bad ``color`` or ``opacity``.
        """
        require_pillow("previewing a mask")
        region, _ = self._pixels("previewing a mask")
        size = preview_size(source)
        if region.size != size and not resize:
            self.check_size(size)
        return tint_region(source, region, color=color, opacity=opacity, outline=outline)

    def __str__(self) -> str:
        selected = "unverified" if self.coverage is None else f"{self.coverage:.1%} selected"
        return f"{size_text(self.size)} {self.format} mask ({selected})"
