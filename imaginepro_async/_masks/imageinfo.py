"""Cheap image header sniffing: format and size from the first bytes, without decoding pixels.

Used before any decoding so that oversized images (decompression bombs) are refused from their
header alone, and so that ready-made masks can be checked without Pillow. Pure stdlib.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final, Literal

import attrs

from imaginepro_async._errors import InvalidMaskError

__all__ = ["ImageFormat", "ImageInfo", "looks_like_image", "sniff_image"]

ImageFormat = Literal["png", "jpeg", "webp"]

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
# Signature, IHDR length and type, 13 bytes of IHDR data and its CRC.
_PNG_HEADER_LEN: Final = 8 + 8 + 13 + 4
_PNG_MAX_DIMENSION: Final = 2**31 - 1

# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_JPEG_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and RST0..RST7 (SOI is handled as a stray marker too).
_JPEG_STANDALONE_MARKERS: Final = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})
_JPEG_EOI: Final = 0xD9
_JPEG_SOS: Final = 0xDA

# Formats we recognise only to name them in the refusal: (signature, offset, name).
_UNSUPPORTED_SIGNATURES: Final = (
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"ftypavif", 4, "AVIF"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"8BPS", 0, "PSD"),
    (b"%PDF", 0, "PDF"),
    (b"<svg", 0, "SVG"),
    (b"<?xml", 0, "SVG/XML"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
)
# How base64 text of each supported format begins: bytes that look like this were not decoded.
_BASE64_PREFIXES: Final = (b"data:", b"iVBORw0KGgo", b"/9j/", b"UklGR")

_SHOWN_BYTES: Final = 16


@attrs.frozen
class ImageInfo:
    """What an image's header says: its format and size in pixels.

    Attributes:
        format: ``"png"``, ``"jpeg"`` or ``"webp"``.
        width: width in pixels (positive).
        height: height in pixels (positive).
    """

    format: ImageFormat
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return (self.width, self.height)

    @property
    def pixels(self) -> int:
        """The number of pixels, ``width * height``."""
        return self.width * self.height

    @property
    def media_type(self) -> str:
        """The MIME type, such as ``"image/png"``."""
        return f"image/{self.format}"


def sniff_image(data: bytes, *, name: str = "image") -> ImageInfo:
    """Read an image's format and size from its signature and header, without decoding it.

    Only the first bytes are looked at (for JPEG, the markers up to the frame header), so this is
    cheap even for large files. The pixel data is not checked: a file whose header is intact but
    whose body is truncated passes.

    Args:
        data: the encoded image (the file's bytes).
        name: how to call the value in error messages, e.g. ``"mask 'mask.png'"``.

    Returns:
        The format and size in pixels.

    Raises:
        InvalidMaskError: the bytes are not an image, are an unsupported format (GIF, BMP, ...),
            or their header is truncated or corrupt.
    """
    if data.startswith(_PNG_SIGNATURE):
        return _sniff_png(data, name)
    if data.startswith(b"\xff\xd8"):
        return _sniff_jpeg(data, name)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _sniff_webp(data, name)
    raise _not_an_image(data, name)


def looks_like_image(data: bytes) -> bool:
    """Tell whether ``data`` starts with the signature of an image format, supported or not.

    Used to decide whether text that happens to be valid base64 was meant as an image.
    """
    if data.startswith((_PNG_SIGNATURE, b"\xff\xd8\xff")):
        return True
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return True
    return any(
        data[offset : offset + len(signature)] == signature
        for signature, offset, _ in _UNSUPPORTED_SIGNATURES
    )


def _shown(data: bytes) -> str:
    head = bytes(data[:_SHOWN_BYTES])
    more = "..." if len(data) > _SHOWN_BYTES else ""
    return f"{head!r}{more} ({len(data)} bytes)"


def _not_an_image(data: bytes, name: str) -> InvalidMaskError:
    for signature, offset, fmt in _UNSUPPORTED_SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return InvalidMaskError(
                f"{name} is in {fmt} format, which is not supported: save it as PNG "
                f"(or WebP or JPEG); the data starts {_shown(data)}"
            )
    if not data:
        return InvalidMaskError(f"{name} is empty (0 bytes): pass the bytes of a PNG, WebP or JPEG")
    if data.lstrip().startswith(_BASE64_PREFIXES):
        return InvalidMaskError(
            f"{name} looks like base64 text, not image bytes: pass it as a str "
            f"(or decode it first); the data starts {_shown(data)}"
        )
    if data.startswith(b"RIFF"):
        return InvalidMaskError(
            f"{name} is a RIFF file but not WebP (perhaps audio or video): pass a PNG, WebP or "
            f"JPEG image; the data starts {_shown(data)}"
        )
    return InvalidMaskError(
        f"{name} is not a PNG, WebP or JPEG image (unknown signature): pass the bytes of an "
        f"image file; the data starts {_shown(data)}"
    )


def _truncated(fmt: str, data: bytes, needed: int, name: str) -> InvalidMaskError:
    return InvalidMaskError(
        f"{name} is a truncated {fmt}: its header needs at least {needed} bytes, got "
        f"{len(data)}; pass the complete file"
    )


def _corrupt(fmt: str, reason: str, name: str) -> InvalidMaskError:
    return InvalidMaskError(
        f"{name} is a corrupt {fmt} ({reason}); re-export it as PNG and pass the new file"
    )


def _sniff_png(data: bytes, name: str) -> ImageInfo:
    if len(data) < _PNG_HEADER_LEN:
        raise _truncated("PNG", data, _PNG_HEADER_LEN, name)
    length, chunk_type = struct.unpack_from(">I4s", data, 8)
    if chunk_type != b"IHDR" or length != 13:
        raise _corrupt("PNG", "the first chunk is not a 13-byte IHDR", name)
    (crc,) = struct.unpack_from(">I", data, 29)
    if zlib.crc32(data[12:29]) != crc:
        raise _corrupt("PNG", "the IHDR checksum does not match", name)
    width, height = struct.unpack_from(">II", data, 16)
    if not (0 < width <= _PNG_MAX_DIMENSION and 0 < height <= _PNG_MAX_DIMENSION):
        raise _corrupt("PNG", f"impossible size {width}x{height}", name)
    return ImageInfo("png", width, height)


def _sniff_jpeg(data: bytes, name: str) -> ImageInfo:
    pos = 2
    end = len(data)
    while True:
        if pos >= end:
            raise _truncated("JPEG", data, pos + 1, name)
        if data[pos] != 0xFF:
            raise _corrupt("JPEG", f"expected a marker at byte {pos}", name)
        # Any number of 0xFF fill bytes may precede a marker.
        while pos < end and data[pos] == 0xFF:
            pos += 1
        if pos >= end:
            raise _truncated("JPEG", data, pos + 1, name)
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE_MARKERS:
            continue
        if marker in (_JPEG_EOI, _JPEG_SOS, 0x00):
            raise _corrupt("JPEG", "no frame header (SOF) before the image data", name)
        if pos + 2 > end:
            raise _truncated("JPEG", data, pos + 2, name)
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            raise _corrupt("JPEG", f"segment length {length} at byte {pos}", name)
        if marker in _JPEG_SOF_MARKERS:
            if pos + 7 > end:
                raise _truncated("JPEG", data, pos + 7, name)
            # Length (2), sample precision (1), then height and width.
            height, width = struct.unpack_from(">HH", data, pos + 3)
            if width == 0 or height == 0:
                # Height 0 defers the size to a DNL marker after the scan: too rare to support.
                raise _corrupt("JPEG", f"frame size {width}x{height}", name)
            return ImageInfo("jpeg", width, height)
        pos += length


def _sniff_webp(data: bytes, name: str) -> ImageInfo:
    if len(data) < 20:
        raise _truncated("WebP", data, 20, name)
    chunk = data[12:16]
    if chunk == b"VP8 ":
        # Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
        if len(data) < 30:
            raise _truncated("WebP", data, 30, name)
        if data[23:26] != b"\x9d\x01\x2a":
            raise _corrupt("WebP", "the VP8 start code is missing", name)
        width, height = struct.unpack_from("<HH", data, 26)
        width &= 0x3FFF
        height &= 0x3FFF
    elif chunk == b"VP8L":
        # Lossless: signature byte 0x2F, then width-1 and height-1 packed in 14 bits each.
        if len(data) < 25:
            raise _truncated("WebP", data, 25, name)
        if data[20] != 0x2F:
            raise _corrupt("WebP", "the VP8L signature is missing", name)
        (bits,) = struct.unpack_from("<I", data, 21)
        width = (bits & 0x3FFF) + 1
        height = ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X":
        # Extended: flags and reserved (4 bytes), then canvas width-1 and height-1 in 24 bits.
        if len(data) < 30:
            raise _truncated("WebP", data, 30, name)
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    else:
        raise _corrupt("WebP", f"unknown first chunk {bytes(chunk)!r}", name)
    if width == 0 or height == 0:
        raise _corrupt("WebP", f"frame size {width}x{height}", name)
    return ImageInfo("webp", width, height)
