"""The PNG maker and the image sniffer used for masks (checked against Pillow)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imaginepro_async.testing import make_mask, make_png
from imaginepro_async.testing._png import sniff_image


def test_make_png_is_a_valid_png_of_the_right_size_and_colour() -> None:
    """make_png writes an RGB PNG Pillow can read, with the asked colour and box."""
    data = make_png(40, 30, (10, 20, 30), box=(5, 5, 10, 10), box_color=(200, 100, 0))
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size, image.mode) == ("PNG", (40, 30), "RGB")
        assert image.getpixel((0, 0)) == (10, 20, 30)
        assert image.getpixel((7, 7)) == (200, 100, 0)


def test_make_mask_is_black_with_a_white_region() -> None:
    """make_mask: black background, white box in the middle by default."""
    with Image.open(io.BytesIO(make_mask(100, 100))) as image:
        assert image.getpixel((0, 0)) == (0, 0, 0)
        assert image.getpixel((50, 50)) == (255, 255, 255)


def test_make_png_refuses_silly_sizes() -> None:
    """Zero or huge sizes are a ValueError."""
    with pytest.raises(ValueError, match="image size"):
        make_png(0, 10)


@pytest.mark.parametrize(
    ("fmt", "options", "name"),
    [
        ("PNG", {}, "PNG"),
        ("JPEG", {}, "JPEG"),
        ("JPEG", {"progressive": True}, "JPEG"),
        ("WEBP", {}, "WebP"),
        ("WEBP", {"lossless": True}, "WebP"),
        ("WEBP", {"exif": b"Exif\x00\x00"}, "WebP"),
    ],
)
def test_sniff_image_reads_sizes(fmt: str, options: dict[str, object], name: str) -> None:
    """sniff_image finds the format and size of PNG, JPEG (baseline, progressive), WebP."""
    buffer = io.BytesIO()
    Image.new("RGB", (123, 45), (255, 255, 255)).save(buffer, fmt, **options)
    assert sniff_image(buffer.getvalue()) == (name, 123, 45)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"GIF89a",
    ],
)
def test_sniff_image_rejects_non_images(data: bytes) -> None:
    """Truncated or other data is not recognised."""
    assert sniff_image(data) is None
