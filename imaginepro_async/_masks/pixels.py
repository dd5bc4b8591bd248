"""A mask's pixels: decoded back from its contents, and the operations that make new masks of them.

Inverting, combining (union, intersection, difference) and resizing each decode the contents to a
0/255 "L" image (Pillow required), work on it, and check the result again like any mask (it must
select something, not everything). ``Mask.invert``, ``|``, ``&``, ``-`` and ``Mask.resized`` call
these; ``name`` is the mask's description (``str(mask)``), for messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

from imaginepro_async._errors import InvalidMaskError

from .codec import binarize, decode_image, require_pillow, size_text
from .content import MaskContent, from_pixels
from .imageinfo import ImageInfo

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["Operation", "combine", "decode", "invert", "resize"]

Operation: TypeAlias = Literal["union", "intersection", "difference"]


def decode(content: MaskContent, name: str, purpose: str) -> tuple[PILImage.Image, int]:
    """Decode to a 0/255 "L" image, with the count of pixels rounded on the way here."""
    require_pillow(purpose)
    image = decode_image(content.data, ImageInfo(content.format, *content.size), f"the {name}")
    binary, changed = binarize(image)
    earlier = content.thresholded_pixels
    return binary, changed if earlier is None else earlier


def invert(content: MaskContent, name: str) -> MaskContent:
    """The inverse: selects exactly what ``content`` does not."""
    pixels, thresholded = decode(content, name, "inverting a mask")
    from PIL import ImageChops

    return from_pixels(ImageChops.invert(pixels), thresholded, f"the inverse of {name}")


def combine(
    operation: Operation, mine: MaskContent, my_name: str, theirs: MaskContent, their_name: str
) -> MaskContent:
    """The union, intersection or difference of two masks of the same size."""
    if mine.size != theirs.size:
        raise InvalidMaskError(
            f"cannot take the {operation} of a {size_text(mine.size)} mask and a "
            f"{size_text(theirs.size)} mask: sizes differ; resize one with mask.resized(...)"
        )
    my_pixels, my_rounded = decode(mine, my_name, f"the {operation} of masks")
    their_pixels, their_rounded = decode(theirs, their_name, f"the {operation} of masks")
    from PIL import ImageChops

    functions = {
        "union": ImageChops.lighter,
        "intersection": ImageChops.darker,
        "difference": ImageChops.subtract,
    }
    return from_pixels(
        functions[operation](my_pixels, their_pixels),
        my_rounded + their_rounded,
        f"the {operation} of {my_name} and {their_name}",
    )


def resize(content: MaskContent, name: str, target: tuple[int, int]) -> MaskContent:
    """Scaled to ``target``, nearest-neighbour so that it stays black and white."""
    pixels, thresholded = decode(content, name, "resizing a mask")
    from PIL import Image

    return from_pixels(
        pixels.resize(target, Image.Resampling.NEAREST),
        thresholded,
        f"the {name} resized to {size_text(target)}",
        " (thin parts of the selection may vanish when shrinking)",
    )
