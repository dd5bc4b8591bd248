"""Small valid PNGs made with zlib and struct, and image-size sniffing for masks."""

from __future__ import annotations

import hashlib
import struct
import zlib
from functools import lru_cache

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Color = tuple[int, int, int]
Box = tuple[int, int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _check_size(width: int, height: int) -> None:
    if not (0 < width <= 16384 and 0 < height <= 16384):
        raise ValueError(f"image size must be 1..16384 pixels each way, got {width}x{height}")


def make_png(
    width: int,
    height: int,
    color: Color = (0, 0, 0),
    *,
    box: Box | None = None,
    box_color: Color = (255, 255, 255),
) -> bytes:
    """Return an RGB PNG of ``width`` x ``height`` filled with ``color``.

    Args:
        width: Width in pixels.
        height: Height in pixels.
        color: The background colour.
        box: ``(left, top, right, bottom)``, right and bottom exclusive: a rectangle painted
            ``box_color``.
        box_color: The rectangle's colour.
    """
    _check_size(width, height)
    plain = b"\x00" + bytes(color) * width
    rows = [plain] * height
    if box is not None:
        left, top, right, bottom = (max(v, 0) for v in box)
        left, right = min(left, width), min(right, width)
        top, bottom = min(top, height), min(bottom, height)
        if left < right and top < bottom:
            boxed = (
                b"\x00"
                + bytes(color) * left
                + bytes(box_color) * (right - left)
                + bytes(color) * (width - right)
            )
            rows[top:bottom] = [boxed] * (bottom - top)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)),
            _chunk(b"IEND", b""),
        )
    )


def make_mask(width: int, height: int, box: Box | None = None) -> bytes:
    """Return a mask PNG as ImaginePro wants it (doc): black background, white = region to redraw.

    Args:
        width: Width in pixels; must match the image being edited.
        height: Height in pixels.
        box: ``(left, top, right, bottom)`` of the white region; default: the middle quarter.
    """
    if box is None:
        box = (width // 4, height // 4, width * 3 // 4, height * 3 // 4)
    return make_png(width, height, (0, 0, 0), box=box, box_color=(255, 255, 255))


@lru_cache(maxsize=64)
def _bands_idat(width: int, height: int) -> bytes:
    """The compressed pixels of a two-band 1-bit palette image (cached per size: the colours of
    each job live in its palette, so one compression serves every job of that size)."""
    row_bytes = (width + 7) // 8
    top, bottom = b"\x00" + b"\x00" * row_bytes, b"\x00" + b"\xff" * row_bytes
    half = height // 2
    return zlib.compress(top * half + bottom * (height - half), 9)


def result_png(message_id: str, name: str, width: int, height: int) -> bytes:
    """The deterministic result image ``name`` of job ``message_id`` (two colour bands).

    Cheap at any size (a 2048x2048 grid costs one cached compression per size, then a few
    hundred bytes of work per job): a 1-bit palette PNG whose two colours come from the job.
    """
    _check_size(width, height)
    digest = hashlib.sha256(f"{message_id}/{name}".encode()).digest()
    header = struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", digest[:6]),
            _chunk(b"IDAT", _bands_idat(width, height)),
            _chunk(b"IEND", b""),
        )
    )


def sniff_image(data: bytes) -> tuple[str, int, int] | None:
    """Return ``(format, width, height)`` for PNG, JPEG and WebP data, or None if not one of them."""
    try:
        if data.startswith(_PNG_SIGNATURE):
            return _sniff_png(data)
        if data.startswith(b"\xff\xd8"):
            return _sniff_jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _sniff_webp(data)
    except (struct.error, IndexError):
        return None
    return None


def _sniff_png(data: bytes) -> tuple[str, int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return ("PNG", width, height) if width and height else None


# Start-of-frame markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _sniff_jpeg(data: bytes) -> tuple[str, int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header found
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ("JPEG", width, height) if width and height else None
        pos += 2 + length
    return None


def _sniff_webp(data: bytes) -> tuple[str, int, int] | None:
    kind = data[12:16]
    payload = data[20:]
    if len(payload) < 10:
        return None
    if kind == b"VP8 ":
        if payload[3:6] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", payload[6:10])
        width, height = width & 0x3FFF, height & 0x3FFF
    elif kind == b"VP8L":
        if payload[0] != 0x2F:
            return None
        bits = int.from_bytes(payload[1:5], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif kind == b"VP8X":
        width = int.from_bytes(payload[4:7], "little") + 1
        height = int.from_bytes(payload[7:10], "little") + 1
    else:
        return None
    return ("WebP", width, height) if width and height else None
