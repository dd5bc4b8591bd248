"""Mask bytes and pixels: limits, base64 and mask text, Pillow helpers (decode, threshold, encode).

The pieces masks are built from (by ``content.py``, ``draw.py`` and ``mask.py``), and the preview's
tinting, kept apart so that ``mask.py`` reads as the mask's API.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
import struct
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from imaginepro_async._errors import ExtraNotInstalledError, InvalidInputError, InvalidMaskError

from .imageinfo import ImageInfo, looks_like_image, sniff_image

if TYPE_CHECKING:
    from PIL import Image as PILImage

MAX_MASK_BYTES: Final = 20 * 1024 * 1024
"""Encoded masks larger than this (20 MiB) are refused before they are decoded."""

MAX_MASK_PIXELS: Final = 100_000_000
"""Images with more pixels than this (100 megapixels, read from the header) are never decoded."""

MASK_THRESHOLD: Final = 128
"""Pixels whose luminance (after compositing over black) is at least this become white."""

_MIB: Final = 1024 * 1024
# A little over 4/3 of the byte limit, so that line breaks every 76 characters still fit.
_MAX_BASE64_CHARS: Final = MAX_MASK_BYTES * 3 // 2
_SHORT: Final = 40
_MAX_PATH_CHARS: Final = 4096
_BINARY_LUT: Final = [0] * MASK_THRESHOLD + [255] * (256 - MASK_THRESHOLD)
ONLY_WHITE_LUT: Final = [0] * 255 + [255]
_ALPHA_MODES: Final = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_SIXTEEN_BIT_MODES: Final = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_DATA_URI: Final = re.compile(r"data:(?P<type>[^,;]*)(?P<params>(?:;[^,;]*)*),", re.IGNORECASE)
_WHITESPACE: Final = re.compile(r"\s+")


def require_pillow(purpose: str) -> None:
    try:
        import PIL.Image  # noqa: F401
    except ImportError as exc:
        raise ExtraNotInstalledError(purpose) from exc


def has_pillow() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def is_pillow_image(value: object) -> bool:
    # Looked up, not imported: a Pillow image can only exist if Pillow was imported already.
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(value, module.Image)


def short_text(text: str) -> str:
    if len(text) <= _SHORT:
        return repr(text)
    return f"{text[:_SHORT]!r}... ({len(text)} chars)"


def size_text(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def check_size_arg(size: object, what: str) -> tuple[int, int]:
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise InvalidMaskError(
            f"{what} must be (width, height) in pixels, two positive ints; got {size!r}"
        )
    width, height = size
    if width * height > MAX_MASK_PIXELS:
        raise InvalidMaskError(
            f"{what} {width}x{height} is {width * height / 1e6:.0f} megapixels, over the limit "
            f"of {MAX_MASK_PIXELS // 1_000_000}; use the size of the image being edited"
        )
    return (width, height)


def check_pixels(info: ImageInfo, name: str) -> None:
    if info.pixels > MAX_MASK_PIXELS:
        raise InvalidMaskError(
            f"{name} is {info.width}x{info.height} ({info.pixels / 1e6:.0f} megapixels), over "
            f"the limit of {MAX_MASK_PIXELS // 1_000_000} megapixels; it was not decoded (a "
            f"guard against decompression bombs). Use an image the size of the one being edited"
        )


def check_bytes(length: int, name: str) -> None:
    if length > MAX_MASK_BYTES:
        raise InvalidMaskError(
            f"{name} is {length / _MIB:.1f} MiB, over the {MAX_MASK_BYTES // _MIB} MiB limit for "
            f"a mask; save it as a black-and-white PNG (which compresses well) at the size of "
            f"the image being edited"
        )


def decode_base64(text: str, name: str) -> bytes:
    """Decode base64 text, tolerating a ``data:`` prefix, whitespace, missing padding, URL-safe."""
    if len(text) > 2 * _MAX_BASE64_CHARS:
        check_bytes(len(text) * 3 // 4, name)
    body = text.strip()
    match = _DATA_URI.match(body)
    if match:
        media_type = match["type"].strip().lower()
        params = [p.strip().lower() for p in match["params"].split(";")[1:]]
        if "base64" not in params:
            raise InvalidMaskError(
                f"{name} is a data: URI that is not base64-encoded; pass "
                f"'data:image/png;base64,...' or the bare base64 text"
            )
        if media_type and not media_type.startswith("image/"):
            raise InvalidMaskError(
                f"{name} is a data: URI of {media_type!r}, not an image; pass the base64 text of "
                f"a PNG, WebP or JPEG"
            )
        body = body[match.end() :]
    compact = _WHITESPACE.sub("", body)
    if len(compact) > _MAX_BASE64_CHARS:
        check_bytes(len(compact) * 3 // 4, name)
    if not compact:
        raise InvalidMaskError(f"{name} is empty: pass the base64 text of a PNG, WebP or JPEG")
    compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except ValueError as exc:
        raise InvalidMaskError(
            f"{name} is not valid base64 ({exc}); pass the base64 text of a PNG, WebP or JPEG "
            f"(a 'data:image/...;base64,' prefix is fine)"
        ) from exc


def _extreme(image: PILImage.Image) -> float:
    _, high = image.getextrema()
    assert isinstance(high, int | float)
    return high


def binarize(image: PILImage.Image) -> tuple[PILImage.Image, int]:
    """Threshold any image to pure 0/255 "L"; also count the pixels that were not 0 or 255."""
    from PIL import ImageChops

    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _ALPHA_MODES:
        # Transparent means "not selected": composite over black, so alpha scales the luminance.
        rgba = image.convert("RGBA")
        grey = ImageChops.multiply(rgba.convert("L"), rgba.getchannel("A"))
    elif image.mode in _SIXTEEN_BIT_MODES or (image.mode == "I" and _extreme(image) > 255):
        # A plain conversion clips 16-bit values at 255; scale them instead. Mode "I" is also
        # what older Pillows make of 16-bit PNGs, and what convert("I") makes of 8-bit images.
        grey = image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    else:
        grey = image.convert("L")
    histogram = grey.histogram()
    changed = grey.width * grey.height - histogram[0] - histogram[255]
    return grey.point(_BINARY_LUT), changed


def encode_png(image: PILImage.Image) -> bytes:
    buffer = io.BytesIO()
    # 8-bit greyscale rather than 1-bit: some decoders turn 1-bit images into 0/1 booleans, which
    # a naive "> 127" test on the server would read as an empty mask. Flat areas compress alike.
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def decode_image(data: bytes, info: ImageInfo, name: str) -> PILImage.Image:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data), formats=[info.format.upper()])
        # Pillow parses the header itself: hold its reading to the same limit before loading.
        check_pixels(ImageInfo(info.format, *image.size), name)
        image.load()
    except InvalidMaskError:
        raise
    # Pillow's decoders raise a variety of types for bad data; all mean "cannot be decoded".
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        struct.error,
        zlib.error,
        Image.DecompressionBombError,
    ) as exc:
        raise InvalidMaskError(
            f"{name} cannot be decoded as {info.format.upper()} (truncated or corrupt: {exc}); "
            f"re-export it as PNG and pass the complete file"
        ) from exc
    return image


def rounded(value: float) -> int:
    # Half up, not Python's half-to-even, so that equal fractions give equal edges everywhere.
    return math.floor(value + 0.5)


def scale_points(
    values: Sequence[float], size: tuple[int, int], *, relative: bool, what: str
) -> list[float]:
    """Turn alternating x, y coordinates into pixels, checking fractions are within [0, 1]."""
    scaled: list[float] = []
    for index, raw in enumerate(values):
        value = float(raw)
        if not math.isfinite(value):
            raise InvalidMaskError(f"{what}: coordinate {raw!r} is not a finite number")
        if relative:
            if not 0.0 <= value <= 1.0:
                raise InvalidMaskError(
                    f"{what}: coordinate {raw!r} is outside [0, 1]; with relative=True "
                    f"coordinates are fractions of the size (0.5 is the middle); pass "
                    f"relative=False for pixels"
                )
            value *= size[index % 2]
        scaled.append(value)
    return scaled


def refuse_fractions_as_pixels(values: Sequence[float], relative: bool, what: str) -> None:
    # Pixel coordinates all within [0, 1], some fractional, would draw inside the first pixel:
    # these are fractions given without relative=True, not a one-pixel shape.
    if not relative and all(0 <= v <= 1 for v in values) and any(v != int(v) for v in values):
        raise InvalidMaskError(
            f"{what}: the coordinates look like fractions of the size, but they are read as "
            f"pixels; pass relative=True (or give pixels)"
        )


def _is_supported_image(data: bytes) -> bool:
    try:
        sniff_image(data)
    except InvalidMaskError:
        return False
    return True


def read_mask_text(text: str, *, base_dir: Path | None = None) -> bytes | Path:
    """Read mask text the one way the SDK does: the decoded base64 bytes, or the file path it names.

    Base64 is recognised by content (a ``data:`` prefix, a length no path has, or bytes that decode
    to a PNG, WebP or JPEG); otherwise an existing file (relative paths start at ``base_dir``,
    default the current directory); otherwise refused, naming both readings. Files are not read.

    Raises:
        InvalidMaskError: the text is neither base64 of an image nor the path of a file.
    """
    b64_name = f"the mask's base64 text {short_text(text)}"
    # No path is that long, and base64 of any real image is longer: report base64 problems.
    if _DATA_URI.match(text.strip()) or len(text) > _MAX_PATH_CHARS:
        return decode_base64(text, b64_name)
    try:
        decoded: bytes | None = decode_base64(text, b64_name)
    except InvalidMaskError:
        decoded = None
    # A supported image's signature (8, 3 or 12 bytes) does not come out of a path by chance.
    if decoded is not None and _is_supported_image(decoded):
        return decoded
    path = Path(text).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        if path.is_file():
            return path
    except OSError:
        pass  # a name too long, say: not a file
    if decoded is not None and looks_like_image(decoded):
        return decoded  # base64 of a GIF or BMP, say: let the refusal name the format
    base64_reading = (
        "it is not valid base64"
        if decoded is None
        else f"it decodes to {len(decoded)} bytes that are not a PNG, WebP or JPEG"
    )
    raise InvalidMaskError(
        f"the mask {short_text(text)} is neither base64 of an image ({base64_reading}) nor the "
        f"path of an existing file (no file at {os.path.abspath(path)!r}); pass a "
        f"pathlib.Path to read a file, or the base64 text of a PNG, WebP or JPEG"
    )


#: How far apart two aspect ratios may be and still count as the same. Midjourney rounds the sides
#: of its images to multiples of 16 pixels, so its "16:9" image is 1456×816, 0.4 % off 16:9: a mask
#: drawn at 1920×1080 must fit it. Scaling by that little moves an edge by under 1 % of the side.
ASPECT_TOLERANCE = 0.01


def same_aspect(mask: tuple[int, int], image: tuple[int, int]) -> bool:
    """True when ``mask`` has the aspect ratio of ``image``: to one pixel of rounding, or within
    ``ASPECT_TOLERANCE`` (1 %)."""
    (mask_w, mask_h), (image_w, image_h) = mask, image
    cross = abs(mask_h * image_w - mask_w * image_h)
    return cross <= image_w or cross <= ASPECT_TOLERANCE * mask_w * image_h


def _source_image(source: bytes | PILImage.Image) -> PILImage.Image:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        info = sniff_image(data, name="the preview's source image")
        check_pixels(info, "the preview's source image")
        return decode_image(data, info, "the preview's source image")
    check_pixels(ImageInfo("png", *source.size), "the preview's source image")
    return source


def preview_size(source: bytes | PILImage.Image) -> tuple[int, int]:
    """The size of a preview's source image (from its header, for bytes)."""
    if isinstance(source, bytes | bytearray | memoryview):
        info = sniff_image(bytes(source), name="the preview's source image")
        return info.width, info.height
    width, height = source.size
    return width, height


def tint_region(
    source: bytes | PILImage.Image,
    region: PILImage.Image,
    *,
    color: tuple[int, int, int],
    opacity: float,
    outline: bool,
) -> bytes:
    """PNG bytes of ``source`` with the white pixels of ``region`` tinted (``Mask.preview``)."""
    from PIL import Image, ImageChops, ImageFilter

    if not 0.0 <= opacity <= 1.0:
        raise InvalidInputError(f"opacity must be between 0 and 1; got {opacity!r}")
    if len(color) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in color):
        raise InvalidInputError(f"color must be (red, green, blue), ints 0..255; got {color!r}")
    base = _source_image(source).convert("RGB")
    if region.size != base.size:
        region = region.resize(base.size, Image.Resampling.NEAREST)
    tint = Image.new("RGB", base.size, color)
    result = Image.composite(Image.blend(base, tint, opacity), base, region)
    if outline:
        # A pixel-wide edge vanishes on large images once scaled down in a viewer.
        radius = max(1, min(base.size) // 512)
        # Erosion as "the box blur is still pure white": a MinFilter of that size is 40x slower.
        eroded = region.filter(ImageFilter.BoxBlur(radius)).point(ONLY_WHITE_LUT)
        result.paste(color, None, ImageChops.subtract(region, eroded))
    buffer = io.BytesIO()
    # A preview is looked at once: favour speed over size (photos compress poorly anyway).
    result.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
