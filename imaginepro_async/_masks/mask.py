"""Inpainting masks: read, draw, check and preview the region that ``Vary (Region)`` redraws.

A mask is an image the size of the picture being edited: **white where the picture is redrawn,
black where it is kept**. The API receives it as base64 of an image file (no ``data:`` prefix).

Pillow does the image work and is optional (``pip install 'imaginepro-async[masks]'``). Without it,
ready-made image bytes, files and base64 text still pass through after a cheap check of their
signature and size header; drawing, combining, resizing and previewing ask for the extra.

Coordinates of drawn shapes are **pixels** by default (``(left, top, right, bottom)``, right and
bottom exclusive, so ``(0, 0, 512, 512)`` covers exactly 512x512 pixels). With ``relative=True``
every coordinate is a **fraction of the size** in ``[0, 1]`` (``(0, 0, 0.5, 0.5)`` is the top-left
quarter). The flag is explicit because a number alone cannot say which is meant (is ``1`` one pixel
or the whole width?).
"""

from __future__ import annotations

import base64
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias, Union

import anyio.to_thread
import attrs

from imaginepro_async._errors import ExtraNotInstalledError, InvalidMaskError

from .codec import (
    MASK_THRESHOLD,
    MAX_MASK_BYTES,
    MAX_MASK_PIXELS,
    binarize,
    check_bytes,
    check_pixels,
    check_size_arg,
    decode_base64,
    decode_image,
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
from .draw import Box, MaskDrawing, Point
from .imageinfo import ImageFormat, ImageInfo, sniff_image

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
    "load_mask",
    "read_mask_text",
    "same_aspect",
]

MaskInput: TypeAlias = Union[
    "Mask", bytes, bytearray, memoryview, str, "os.PathLike[str]", "PILImage.Image"
]
"""What :func:`load_mask` and :meth:`Mask.coerce` accept."""


@attrs.frozen(init=False)
class Mask(MaskDrawing):
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
    def _create(
        cls,
        data: bytes,
        format: ImageFormat,
        size: tuple[int, int],
        coverage: float | None,
        thresholded_pixels: int | None,
    ) -> Mask:
        mask = object.__new__(cls)
        mask.__attrs_init__(data, format, size, coverage, thresholded_pixels)
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
        name = f"mask file {os.fspath(path)!r}"
        try:
            with open(path, "rb") as file:
                check_bytes(os.fstat(file.fileno()).st_size, name)
                # Read one byte over the limit: the size may change, or be 0 for special files.
                data = file.read(MAX_MASK_BYTES + 1)
        except OSError as exc:
            raise InvalidMaskError(
                f"cannot read {name}: {exc.strerror or exc}; check the path"
            ) from exc
        return cls._from_encoded(data, name)

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
        return cls._from_encoded(bytes(data), "the mask data")

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
        name = f"the mask's base64 text {short_text(text)}"
        return cls._from_encoded(decode_base64(text, name), name)

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
        name = f"the mask image ({image.mode} {size_text(image.size)})"
        check_pixels(ImageInfo("png", *image.size), name)
        binary, changed = binarize(image)
        return cls._from_binary(binary, changed, name)

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
            return cls._from_str(value)
        if isinstance(value, os.PathLike):
            return cls.from_file(value)
        if is_pillow_image(value):
            return cls.from_image(value)
        raise TypeError(
            f"a mask must be a Mask, bytes, base64 text (str), a path or a Pillow image; got "
            f"{type(value).__name__}: {short_text(repr(value))}"
        )

    @classmethod
    def _from_str(cls, value: str) -> Mask:
        source = read_mask_text(value)
        if isinstance(source, Path):
            return cls.from_file(source)
        return cls._from_encoded(source, f"the mask's base64 text {short_text(value)}")

    @classmethod
    def _from_encoded(cls, data: bytes, name: str) -> Mask:
        check_bytes(len(data), name)
        info = sniff_image(data, name=name)
        check_pixels(info, name)
        if not has_pillow():
            return cls._create(data, info.format, info.size, None, None)
        binary, changed = binarize(decode_image(data, info, name))
        return cls._from_binary(binary, changed, name)

    @classmethod
    def _from_binary(
        cls, binary: PILImage.Image, thresholded: int, name: str, empty_hint: str = ""
    ) -> Mask:
        """Check a 0/255 "L" image selects something but not everything, and wrap it."""
        total = binary.width * binary.height
        selected = binary.histogram()[255]
        rounded = (
            f" after rounding {thresholded} grey, coloured or translucent pixels at "
            f"{MASK_THRESHOLD}"
            if thresholded
            else ""
        )
        if selected == 0:
            raise InvalidMaskError(
                f"{name} selects nothing: every pixel is black{rounded}{empty_hint}. White "
                f"marks the region to redraw (transparent counts as black): paint it white on black"
            )
        if selected == total:
            raise InvalidMaskError(
                f"{name} selects the whole {size_text(binary.size)} image: every pixel is "
                f"white{rounded}. Inpainting redraws part of an image: keep what must stay "
                f"black (to redraw everything, use a variation instead)"
            )
        return cls._create(encode_png(binary), "png", binary.size, selected / total, thresholded)

    # -- combining -----------------------------------------------------------------------------

    def invert(self) -> Mask:
        """Swap selected and kept: the result selects exactly what this mask does not.

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
        """
        pixels, thresholded = self._pixels("inverting a mask")
        from PIL import ImageChops

        return self._from_binary(ImageChops.invert(pixels), thresholded, f"the inverse of {self}")

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

    def _combine(
        self, other: Mask, operation: Literal["union", "intersection", "difference"]
    ) -> Mask:
        if self.size != other.size:
            raise InvalidMaskError(
                f"cannot take the {operation} of a {size_text(self.size)} mask and a "
                f"{size_text(other.size)} mask: sizes differ; resize one with mask.resized(...)"
            )
        mine, mine_rounded = self._pixels(f"the {operation} of masks")
        theirs, their_rounded = other._pixels(f"the {operation} of masks")
        from PIL import ImageChops

        functions = {
            "union": ImageChops.lighter,
            "intersection": ImageChops.darker,
            "difference": ImageChops.subtract,
        }
        return self._from_binary(
            functions[operation](mine, theirs),
            mine_rounded + their_rounded,
            f"the {operation} of {self} and {other}",
        )

    def _pixels(self, purpose: str) -> tuple[PILImage.Image, int]:
        """Decode to a 0/255 "L" image, with the count of pixels rounded on the way here."""
        require_pillow(purpose)
        name = f"the {self}"
        image = decode_image(self._data, ImageInfo(self.format, *self.size), name)
        binary, changed = binarize(image)
        return binary, changed if self.thresholded_pixels is None else self.thresholded_pixels

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
        pixels, thresholded = self._pixels("resizing a mask")
        from PIL import Image

        return self._from_binary(
            pixels.resize(target, Image.Resampling.NEAREST),
            thresholded,
            f"the {self} resized to {size_text(target)}",
            " (thin parts of the selection may vanish when shrinking)",
        )

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
        pixels, _ = self._pixels("converting a mask to PNG")
        return encode_png(pixels)

    def to_image(self) -> PILImage.Image:
        """Return the mask as a new Pillow image, mode ``"L"``, every pixel 0 or 255.

        Raises:
            ExtraNotInstalledError: Pillow is not installed.
        """
        pixels, _ = self._pixels("converting a mask to an image")
        return pixels

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


def _load(value: MaskInput, expected_size: tuple[int, int] | None, resize: bool, fit: bool) -> Mask:
    mask = Mask.coerce(value)
    if expected_size is not None:
        if resize:
            return mask.resized(expected_size)
        if fit:
            return mask.fitted(expected_size)
        mask.check_size(expected_size)
    return mask


async def load_mask(
    value: MaskInput,
    *,
    expected_size: tuple[int, int] | None = None,
    resize: bool = False,
    fit: bool = False,
) -> Mask:
    """Make a mask from any supported input, off the event loop, and check its size.

    Reading files and decoding images runs in a worker thread. ``str`` values are read as in
    :meth:`Mask.coerce`: base64 (with or without a ``data:`` prefix) first, then a file path.

    Args:
        value: a ``Mask``, image bytes, base64 text, a path, or a Pillow image.
        expected_size: the ``(width, height)`` of the image being edited, if known.
        resize: when the size differs from ``expected_size``, resize the mask
            (nearest-neighbour) instead of refusing it.
        fit: when the size differs, accept a mask of the same aspect ratio (see
            :meth:`Mask.fitted`) and refuse only another aspect ratio.

    Returns:
        The mask, of ``expected_size`` when given.

    Raises:
        InvalidMaskError: the value is not a usable mask, or has another size than
            ``expected_size`` and ``resize`` is False.
        ExtraNotInstalledError: resizing was needed and Pillow is not installed.
        TypeError: the value is of an unsupported type.
    """
    if isinstance(value, Mask) and (expected_size is None or value.size == expected_size):
        return value
    load = functools.partial(_load, value, expected_size, resize, fit)
    return await anyio.to_thread.run_sync(load)
