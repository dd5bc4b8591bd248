"""Tests for the cheap header sniffing of PNG, JPEG and WebP images."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image

from imaginepro_async._errors import InvalidMaskError
from imaginepro_async._masks.imageinfo import ImageFormat, ImageInfo, looks_like_image, sniff_image


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def forged_png(width: int, height: int) -> bytes:
    """A PNG signature and a valid IHDR claiming any size, with no real pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )


def forged_jpeg(width: int, height: int) -> bytes:
    """A JPEG with an APP0 segment, then a baseline SOF claiming any size, and nothing more."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof


def forged_webp(width: int, height: int) -> bytes:
    """A WebP VP8X header claiming any canvas size, and nothing more."""
    vp8x = (
        b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(vp8x))
        + b"WEBP"
        + b"VP8X"
        + b"\x0a\x00\x00\x00"
        + vp8x
    )


@pytest.mark.parametrize(
    ("fmt", "options", "expected"),
    [
        ("PNG", {}, "png"),
        ("JPEG", {}, "jpeg"),
        ("JPEG", {"progressive": True}, "jpeg"),
        ("WEBP", {}, "webp"),
        ("WEBP", {"lossless": True}, "webp"),
    ],
)
def test_sniff_reads_format_and_size(
    fmt: str, options: dict[str, Any], expected: ImageFormat
) -> None:
    """PNG, baseline and progressive JPEG, lossy and lossless WebP give format and size."""
    data = _encode(Image.new("RGB", (321, 123), "white"), fmt, **options)
    assert sniff_image(data) == ImageInfo(expected, 321, 123)


def test_sniff_reads_extended_webp_with_alpha() -> None:
    """A WebP with transparency (a VP8X chunk) gives its canvas size."""
    image = Image.new("RGBA", (77, 55), (255, 255, 255, 0))
    image.putpixel((3, 3), (255, 255, 255, 255))
    data = _encode(image, "WEBP")
    assert data[12:16] == b"VP8X"
    assert sniff_image(data).size == (77, 55)


def test_sniff_walks_jpeg_markers_past_large_exif() -> None:
    """JPEG markers are walked past a large EXIF segment to the frame header."""
    data = _encode(Image.new("L", (40, 30)), "JPEG", exif=b"Exif\x00\x00" + b"x" * 30_000)
    assert sniff_image(data).size == (40, 30)


@pytest.mark.parametrize(
    "data", [forged_png(20000, 20000), forged_jpeg(20000, 20000), forged_webp(20000, 20000)]
)
def test_sniff_reads_forged_headers_without_pixels(data: bytes) -> None:
    """A header alone is enough: the claimed size is read without any pixel data."""
    info = sniff_image(data)
    assert info.size == (20000, 20000)
    assert info.pixels == 400_000_000


def test_image_info_properties() -> None:
    """ImageInfo offers size, pixel count and MIME type."""
    info = ImageInfo("webp", 4, 3)
    assert (info.size, info.pixels, info.media_type) == ((4, 3), 12, "image/webp")


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_sniff_names_unsupported_formats(fmt: str, name: str) -> None:
    """GIF, BMP and TIFF are refused by name, with a suggestion to save as PNG."""
    data = _encode(Image.new("RGB", (8, 8)), fmt)
    with pytest.raises(InvalidMaskError, match=rf"in {name} format, which is not supported.*PNG"):
        sniff_image(data)
    assert looks_like_image(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"hello, world", "not a PNG, WebP or JPEG image"),
        (b"iVBORw0KGgoAAAANSUhEUg", "looks like base64 text"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "RIFF file but not WebP"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00", "truncated PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "truncated JPEG"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "truncated WebP"),
    ],
)
def test_sniff_refuses_garbage_and_truncated_headers(data: bytes, message: str) -> None:
    """Garbage, base64 text, other RIFF files and cut headers are refused, saying which."""
    with pytest.raises(InvalidMaskError, match=message):
        sniff_image(data, name="the thing")


def test_sniff_refuses_corrupt_png_checksum() -> None:
    """A PNG header whose IHDR checksum does not match is refused as corrupt."""
    data = bytearray(forged_png(10, 10))
    data[20] ^= 0xFF
    with pytest.raises(InvalidMaskError, match=r"corrupt PNG.*checksum"):
        sniff_image(bytes(data))


def test_sniff_refuses_jpeg_without_frame_header() -> None:
    """A JPEG reaching its image data (SOS) before any frame header is refused."""
    with pytest.raises(InvalidMaskError, match=r"corrupt JPEG.*no frame header"):
        sniff_image(b"\xff\xd8\xff\xda\x00\x02")


def test_sniff_error_names_the_value() -> None:
    """The name given by the caller starts the error message."""
    with pytest.raises(InvalidMaskError, match=r"^mask file 'm\.gif' is in GIF format"):
        sniff_image(b"GIF89a" + b"\x00" * 10, name="mask file 'm.gif'")


def _riff(chunk: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (forged_png(10, 10)[:16] + bytes(17), "checksum"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIDAT" + bytes(17), "not a 13-byte IHDR"),
        (forged_png(0, 10), "impossible size 0x10"),
        (b"\xff\xd8\x00", "expected a marker at byte 2"),
        (b"\xff\xd8\xff\xff", "truncated JPEG"),
        (b"\xff\xd8\xff\xd0\xff\xe0\x00", "truncated JPEG"),
        (b"\xff\xd8\xff\xe0\x00\x01", "segment length 1"),
        (b"\xff\xd8\xff\xc0\x00\x11\x08\x00", "truncated JPEG"),
        (forged_jpeg(10, 0), "frame size 10x0"),
        (_riff(b"VP8 " + bytes(14)), "VP8 start code is missing"),
        (_riff(b"VP8 " + bytes(7) + b"\x9d\x01\x2a\x00\x00\x05\x00"), "frame size 0x5"),
        (_riff(b"VP8L" + bytes(10)), "VP8L signature is missing"),
        (_riff(b"VP8L" + bytes(2)), "truncated WebP"),
        (_riff(b"VP8X" + bytes(4)), "truncated WebP"),
        (_riff(b"ALPH" + bytes(10)), "unknown first chunk"),
    ],
)
def test_sniff_refuses_corrupt_headers(data: bytes, message: str) -> None:
    """Headers with impossible values or cut mid-way are refused as corrupt or truncated."""
    with pytest.raises(InvalidMaskError, match=message):
        sniff_image(data)


def test_looks_like_image_sees_supported_and_unsupported_signatures() -> None:
    """Signatures of supported and known unsupported formats count as images; text does not."""
    assert looks_like_image(forged_png(1, 1))
    assert looks_like_image(forged_webp(1, 1))
    assert looks_like_image(b"\xff\xd8\xff\xe0")
    assert looks_like_image(b"GIF89a")
    assert not looks_like_image(b"hello")
