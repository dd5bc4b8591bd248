"""Loading a mask for an image: ``load_mask`` reads any ``MaskInput`` in a worker thread, off the
event loop, and checks, fits or resizes it to the size of the image being edited.

The top of ``_masks``: it builds on ``Mask`` (``mask.py``), which does not know it.
"""

from __future__ import annotations

import functools

import anyio.to_thread

from .mask import Mask, MaskInput

__all__ = ["load_mask"]


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
