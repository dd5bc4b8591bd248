"""A mask's checked contents (``MaskContent``), and reading them from each kind of input.

``Mask`` wraps a ``MaskContent``. This module makes one from 0/255 pixels (checking that they
select something but not everything, then encoding them as PNG), and reads the input kinds a mask
comes in: image files, image bytes, base64 text, strings that are either, and Pillow images.
Without Pillow, an image file's bytes pass through after a check of their header (``coverage`` and
``thresholded_pixels`` are then None).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from imaginepro_async._errors import InvalidMaskError

from .codec import (
    MASK_THRESHOLD,
    MAX_MASK_BYTES,
    binarize,
    check_bytes,
    check_pixels,
    decode_base64,
    decode_image,
    encode_png,
    has_pillow,
    read_mask_text,
    short_text,
    size_text,
)
from .imageinfo import ImageFormat, ImageInfo, sniff_image

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "MaskContent",
    "from_encoded",
    "from_pixels",
    "read_base64",
    "read_file",
    "read_image",
    "read_text",
]


@attrs.frozen
class MaskContent:
    """What a ``Mask`` holds: the encoded image and what was learnt checking it.

    Attributes:
        data: the image file's bytes (PNG once verified).
        format: their encoding.
        size: ``(width, height)`` in pixels.
        coverage: the fraction of the pixels selected, or None when not verified (no Pillow).
        thresholded_pixels: how many pixels were rounded to black or white; None when not verified.
    """

    data: bytes = attrs.field(repr=False)
    format: ImageFormat
    size: tuple[int, int]
    coverage: float | None
    thresholded_pixels: int | None


def from_pixels(
    binary: PILImage.Image, thresholded: int, name: str, empty_hint: str = ""
) -> MaskContent:
    """Check a 0/255 "L" image selects something but not everything, and encode it as PNG."""
    total = binary.width * binary.height
    selected = binary.histogram()[255]
    rounded = (
        f" after rounding {thresholded} grey, coloured or translucent pixels at {MASK_THRESHOLD}"
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
    return MaskContent(encode_png(binary), "png", binary.size, selected / total, thresholded)


def from_encoded(data: bytes, name: str) -> MaskContent:
    """Check an image file's bytes; decode and threshold them when Pillow is there."""
    check_bytes(len(data), name)
    info = sniff_image(data, name=name)
    check_pixels(info, name)
    if not has_pillow():
        return MaskContent(data, info.format, info.size, None, None)
    binary, changed = binarize(decode_image(data, info, name))
    return from_pixels(binary, changed, name)


def read_file(path: str | os.PathLike[str]) -> MaskContent:
    """Read a mask from a PNG, WebP or JPEG file (``Mask.from_file``)."""
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
    return from_encoded(data, name)


def read_base64(text: str) -> MaskContent:
    """Read a mask from base64 text of an image file (``Mask.from_base64``)."""
    name = f"the mask's base64 text {short_text(text)}"
    return from_encoded(decode_base64(text, name), name)


def read_image(image: PILImage.Image) -> MaskContent:
    """Make a mask from a Pillow image, in any mode (``Mask.from_image``)."""
    name = f"the mask image ({image.mode} {size_text(image.size)})"
    check_pixels(ImageInfo("png", *image.size), name)
    binary, changed = binarize(image)
    return from_pixels(binary, changed, name)


def read_text(value: str) -> MaskContent:
    """Read a mask from text: base64 of an image, else the path of a file (``Mask.coerce``)."""
    source = read_mask_text(value)
    if isinstance(source, Path):
        return read_file(source)
    return from_encoded(source, f"the mask's base64 text {short_text(value)}")
