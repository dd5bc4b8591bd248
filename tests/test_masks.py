"""Tests for inpainting masks: reading, drawing, thresholding, checks, preview and loading."""

from __future__ import annotations

import base64
import io
import math
import pickle
import sys
from pathlib import Path
from typing import Any, NoReturn

import attrs
import pytest
from PIL import Image

from imaginepro_async._errors import ImagineProError, InvalidInputError, InvalidMaskError
from imaginepro_async._masks.load import load_mask
from imaginepro_async._masks.mask import (
    MAX_MASK_BYTES,
    ExtraNotInstalledError,
    Mask,
    same_aspect,
)

from .test_imageinfo import forged_jpeg, forged_png, forged_webp

SIZE = (64, 48)
BOX = (16, 12, 48, 36)  # a 32x24 rectangle: a quarter of the canvas


def encode(image: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    """Encode a Pillow image in memory."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def drawn(size: tuple[int, int] = SIZE, box: tuple[int, int, int, int] = BOX) -> Image.Image:
    """A black "L" image with one white rectangle (right and bottom exclusive)."""
    image = Image.new("L", size, 0)
    image.paste(255, box)
    return image


def pixel_values(mask: Mask) -> set[int]:
    """The distinct values of the PNG the API would receive."""
    return set(Image.open(io.BytesIO(base64.b64decode(mask.to_base64()))).convert("L").tobytes())


def decoded(mask: Mask) -> Image.Image:
    """The image the API would receive, decoded."""
    return Image.open(io.BytesIO(base64.b64decode(mask.to_base64())))


@pytest.fixture
def no_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import PIL`` fail, as on a machine without the [masks] extra."""
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)


# Encoded up front: the tests without Pillow cannot make images.
WEBP_MASK = encode(drawn(), "WEBP")
LOSSLESS_WEBP_MASK = encode(drawn(), "WEBP", lossless=True)


# -- reading ---------------------------------------------------------------------------------------


def test_from_file_reads_a_png(tmp_path: Path) -> None:
    """A PNG file becomes a verified black-and-white PNG mask with its size and coverage."""
    path = tmp_path / "mask.png"
    path.write_bytes(encode(drawn()))
    mask = Mask.from_file(path)
    assert (mask.size, mask.format, mask.coverage, mask.verified) == (SIZE, "png", 0.25, True)
    assert Mask.from_file(str(path)) == mask


@pytest.mark.parametrize(("fmt", "options"), [("PNG", {}), ("WEBP", {"lossless": True})])
def test_from_bytes_reads_lossless_formats_exactly(fmt: str, options: dict[str, Any]) -> None:
    """PNG and lossless WebP bytes are read without any thresholding."""
    mask = Mask.from_bytes(encode(drawn(), fmt, **options))
    assert (mask.coverage, mask.thresholded_pixels, mask.thresholded) == (0.25, 0, False)
    assert decoded(mask).tobytes() == drawn().tobytes()


def test_from_bytes_thresholds_jpeg_noise() -> None:
    """A JPEG's compression noise is thresholded away, and the result says so."""
    mask = Mask.from_bytes(encode(drawn().convert("RGB"), "JPEG", quality=60))
    assert mask.thresholded
    assert mask.thresholded_pixels is not None
    assert mask.thresholded_pixels > 0
    assert mask.coverage == pytest.approx(0.25, abs=0.02)
    assert pixel_values(mask) == {0, 255}
    assert "thresholded_pixels=" in repr(mask)


def test_from_bytes_accepts_bytearray_and_memoryview() -> None:
    """bytearray and memoryview are read like bytes."""
    data = encode(drawn())
    assert (
        Mask.from_bytes(bytearray(data))
        == Mask.from_bytes(memoryview(data))
        == Mask.from_bytes(data)
    )


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b64: b64,
        lambda b64: "data:image/png;base64," + b64,
        lambda b64: "  DATA:image/png;charset=x;base64," + b64 + "\n",
        lambda b64: "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)),
        lambda b64: b64.rstrip("="),
        lambda b64: b64.replace("+", "-").replace("/", "_"),
    ],
    ids=["plain", "data-uri", "data-uri-params", "line-breaks", "no-padding", "url-safe"],
)
def test_from_base64_tolerates_prefix_whitespace_and_padding(wrap: Any) -> None:
    """A data: prefix, line breaks, missing padding and the URL-safe alphabet are all accepted."""
    plain = base64.b64encode(encode(drawn())).decode()
    assert Mask.from_base64(wrap(plain)).coverage == 0.25


def test_to_base64_is_a_bare_black_and_white_png() -> None:
    """What the API gets is base64 of a PNG, no data: prefix, only pure black and white."""
    mask = Mask.from_image(Image.linear_gradient("L").resize(SIZE))
    text = mask.to_base64()
    assert not text.startswith("data:")
    assert base64.b64decode(text).startswith(b"\x89PNG\r\n\x1a\n")
    assert base64.b64decode(text) == mask.to_png()
    assert pixel_values(mask) == {0, 255}


@pytest.mark.parametrize(
    "image",
    [
        drawn(),
        drawn().convert("1"),
        drawn().convert("RGB"),
        drawn().convert("P"),
        drawn().convert("I"),
    ],
    ids=["L", "1", "RGB", "P", "I"],
)
def test_from_image_reads_any_mode(image: Image.Image) -> None:
    """Pillow images in the usual modes give the same mask, without thresholding."""
    mask = Mask.from_image(image)
    assert (mask.coverage, mask.thresholded_pixels) == (0.25, 0)


def test_from_image_scales_sixteen_bit_grey() -> None:
    """16-bit grey is scaled, not clipped: mid-grey 30000 of 65535 stays black."""
    image = Image.new("I;16", (4, 1), 0)
    image.putpixel((0, 0), 30000)
    image.putpixel((1, 0), 65535)
    mask = Mask.from_image(image)
    assert decoded(mask).tobytes() == bytes([0, 255, 0, 0])


def test_from_image_does_not_modify_the_image() -> None:
    """The Pillow image given is left as it was."""
    image = drawn().convert("RGB")
    before = image.tobytes()
    Mask.from_image(image)
    assert (image.mode, image.tobytes()) == ("RGB", before)


# -- thresholding ----------------------------------------------------------------------------------


def test_threshold_is_128_on_luminance() -> None:
    """Grey 127 becomes black and 128 white; both count as thresholded."""
    image = Image.new("L", (4, 1), 0)
    image.putpixel((1, 0), 127)
    image.putpixel((2, 0), 128)
    image.putpixel((3, 0), 255)
    mask = Mask.from_image(image)
    assert decoded(mask).tobytes() == bytes([0, 0, 255, 255])
    assert mask.thresholded_pixels == 2


def test_threshold_uses_luminance_of_colours() -> None:
    """Pure red (dark in luminance) becomes black; pale yellow becomes white."""
    image = Image.new("RGB", (3, 1), (0, 0, 0))
    image.putpixel((1, 0), (255, 0, 0))
    image.putpixel((2, 0), (255, 255, 160))
    mask = Mask.from_image(image)
    assert decoded(mask).tobytes() == bytes([0, 0, 255])
    assert mask.thresholded_pixels == 2


def test_threshold_treats_transparent_as_black() -> None:
    """Transparent white is black, half-transparent white is black, opaque white is white."""
    image = Image.new("RGBA", (3, 1), (255, 255, 255, 0))
    image.putpixel((1, 0), (255, 255, 255, 120))
    image.putpixel((2, 0), (255, 255, 255, 255))
    mask = Mask.from_bytes(encode(image))
    assert decoded(mask).tobytes() == bytes([0, 0, 255])
    assert mask.thresholded_pixels == 1


def test_threshold_of_transparent_webp() -> None:
    """A WebP with an alpha channel: its transparent background is not selected."""
    image = Image.new("RGBA", SIZE, (255, 255, 255, 0))
    image.paste((255, 255, 255, 255), BOX)
    mask = Mask.from_bytes(encode(image, "WEBP", lossless=True))
    assert mask.coverage == 0.25


# -- refusals of content ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (Image.new("L", SIZE, 0), "selects nothing: every pixel is black"),
        (Image.new("L", SIZE, 100), "selects nothing: every pixel is black after rounding 3072"),
        (Image.new("RGBA", SIZE, (255, 255, 255, 0)), "selects nothing"),
        (Image.new("L", SIZE, 255), "selects the whole 64x48 image: every pixel is white"),
    ],
    ids=["black", "dark-grey", "transparent", "white"],
)
def test_empty_and_full_masks_are_refused(image: Image.Image, message: str) -> None:
    """An all-black (or all-transparent) or all-white mask is refused, saying why."""
    with pytest.raises(InvalidMaskError, match=message):
        Mask.from_bytes(encode(image))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not an image at all", "not a PNG, WebP or JPEG"),
        (encode(Image.new("RGB", (8, 8)), "GIF"), "GIF format, which is not supported"),
        (encode(Image.new("RGB", (8, 8)), "BMP"), "BMP format"),
        (encode(drawn())[:20], "truncated PNG"),
        (encode(drawn())[:60], r"cannot be decoded as PNG \(truncated or corrupt"),
        (encode(drawn().convert("RGB"), "JPEG")[:300], "cannot be decoded as JPEG"),
        (b"", "is empty"),
    ],
    ids=["garbage", "gif", "bmp", "short-header", "cut-body", "cut-jpeg", "empty"],
)
def test_bad_bytes_are_refused(data: bytes, message: str) -> None:
    """Garbage, unsupported formats and truncated files are refused, saying which."""
    with pytest.raises(InvalidMaskError, match=message):
        Mask.from_bytes(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not base64!", "not valid base64"),
        ("data:text/plain;base64,aGVsbG8=", "data: URI of 'text/plain', not an image"),
        ("data:image/png,rawbytes", "not base64-encoded"),
        ("", "is empty"),
        ("aGVsbG8gd29ybGQ=", "not a PNG, WebP or JPEG"),
    ],
)
def test_bad_base64_is_refused(text: str, message: str) -> None:
    """Invalid base64, non-image data: URIs and base64 of non-images are refused."""
    with pytest.raises(InvalidMaskError, match=message):
        Mask.from_base64(text)


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    """A missing file or a directory is refused, naming the path."""
    with pytest.raises(InvalidMaskError, match=r"cannot read mask file '.*nope\.png'"):
        Mask.from_file(tmp_path / "nope.png")
    with pytest.raises(InvalidMaskError, match="cannot read mask file"):
        Mask.from_file(tmp_path)


# -- size limits (decompression bombs) -------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [forged_png(20000, 20000), forged_jpeg(20000, 20000), forged_webp(20000, 20000)],
    ids=["png", "jpeg", "webp"],
)
def test_huge_header_is_refused_before_decoding(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny file claiming 20000x20000 is refused from its header; Pillow never opens it."""

    def must_not_open(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("Pillow was asked to open a decompression bomb")

    monkeypatch.setattr(Image, "open", must_not_open)
    assert len(data) < 100
    with pytest.raises(InvalidMaskError, match=r"20000x20000 \(400 megapixels\), over the limit"):
        Mask.from_bytes(data)


def test_huge_base64_header_is_refused() -> None:
    """The pixel limit applies to base64 text too."""
    with pytest.raises(InvalidMaskError, match="over the limit of 100 megapixels"):
        Mask.from_base64(base64.b64encode(forged_png(12000, 9000)).decode())


def test_too_many_bytes_are_refused() -> None:
    """Over 20 MiB of encoded bytes is refused before looking further."""
    data = forged_png(64, 48) + bytes(MAX_MASK_BYTES)
    with pytest.raises(InvalidMaskError, match=r"over the 20 MiB limit"):
        Mask.from_bytes(data)


def test_too_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    """A file over 20 MiB is refused from its size (a sparse file: nothing is written)."""
    path = tmp_path / "big.png"
    with path.open("wb") as file:
        file.truncate(MAX_MASK_BYTES + 1)
    with pytest.raises(InvalidMaskError, match=r"mask file '.*big\.png' is 20\.0 MiB, over"):
        Mask.from_file(path)


def test_too_long_base64_is_refused() -> None:
    """Base64 text that would decode to over 20 MiB is refused before decoding."""
    with pytest.raises(InvalidMaskError, match="over the 20 MiB limit"):
        Mask.from_base64("A" * (MAX_MASK_BYTES * 3 // 2 + 8))


def test_huge_pillow_image_is_refused() -> None:
    """A Pillow image over 100 megapixels is refused before thresholding."""
    image = Image.new("1", (10_001, 10_000))
    with pytest.raises(InvalidMaskError, match="10001x10000"):
        Mask.from_image(image)


# -- drawing ---------------------------------------------------------------------------------------


def test_rectangle_in_pixels_is_exact() -> None:
    """A pixel box covers exactly its pixels, right and bottom excluded."""
    mask = Mask.rectangle(SIZE, BOX)
    assert decoded(mask).tobytes() == drawn().tobytes()
    assert (mask.coverage, mask.thresholded_pixels) == (0.25, 0)


def test_rectangle_relative_matches_pixels() -> None:
    """relative=True reads fractions of the size: (0.25, 0.25, 0.75, 0.75) is the same box."""
    assert Mask.rectangle(SIZE, (0.25, 0.25, 0.75, 0.75), relative=True) == Mask.rectangle(
        SIZE, BOX
    )


def test_rectangle_is_clipped_to_the_canvas() -> None:
    """Parts of a shape off the canvas are clipped, not refused."""
    mask = Mask.rectangle(SIZE, (-100, -100, 32, 24))
    assert mask.coverage == 0.25


@pytest.mark.parametrize("relative", [False, True])
def test_ellipse_covers_its_inscribed_area(relative: bool) -> None:
    """An ellipse covers about pi/4 of its box, in pixels or fractions alike."""
    box = (0.0, 0.0, 1.0, 1.0) if relative else (0, 0, 64, 48)
    mask = Mask.ellipse(SIZE, box, relative=relative)
    assert mask.coverage == pytest.approx(math.pi / 4, abs=0.02)
    image = decoded(mask)
    assert (image.getpixel((32, 24)), image.getpixel((0, 0))) == (255, 0)


@pytest.mark.parametrize("relative", [False, True])
def test_polygon_covers_its_area(relative: bool) -> None:
    """A triangle over half the canvas covers about half of it, in pixels or fractions alike."""
    points = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)] if relative else [(0, 0), (64, 0), (0, 48)]
    mask = Mask.polygon(SIZE, points, relative=relative)
    assert mask.coverage == pytest.approx(0.5, abs=0.03)
    image = decoded(mask)
    assert (image.getpixel((5, 5)), image.getpixel((60, 44))) == (255, 0)


@pytest.mark.parametrize(
    ("draw", "message"),
    [
        (
            lambda: Mask.rectangle(SIZE, (0, 0, 1.5, 0.5), relative=True),
            r"1\.5 is outside \[0, 1\]",
        ),
        (lambda: Mask.rectangle(SIZE, (0, 0, 0.5, 0.5)), "look like fractions.*relative=True"),
        (lambda: Mask.polygon(SIZE, [(0.1, 0.1), (0.9, 0.1), (0.5, 0.9)]), "look like fractions"),
        (lambda: Mask.rectangle(SIZE, (40, 0, 20, 10)), "left < right and top < bottom"),
        (lambda: Mask.ellipse(SIZE, (0, 0, 10)), "four numbers"),  # type: ignore[arg-type]
        (lambda: Mask.polygon(SIZE, [(0, 0), (5, 5)]), "three or more"),
        (lambda: Mask.rectangle((0, 10), BOX), r"two positive ints; got \(0, 10\)"),
        (lambda: Mask.rectangle((20000, 20000), BOX), "400 megapixels, over the limit"),
        (lambda: Mask.rectangle(SIZE, (0, 0, math.inf, 5)), "not a finite number"),
        (lambda: Mask.rectangle(SIZE, (100, 100, 200, 200)), "selects nothing.*off the canvas"),
        (lambda: Mask.rectangle(SIZE, (0, 0, 64, 48)), "selects the whole 64x48 image"),
    ],
    ids=[
        "fraction-over-1",
        "fractions-as-pixels",
        "polygon-fractions-as-pixels",
        "reversed-box",
        "short-box",
        "two-points",
        "zero-size",
        "huge-canvas",
        "infinite",
        "off-canvas",
        "full-canvas",
    ],
)
def test_bad_shapes_are_refused(draw: Any, message: str) -> None:
    """Ambiguous units, malformed boxes, bad sizes and empty or full shapes are refused."""
    with pytest.raises(InvalidMaskError, match=message):
        draw()


# -- combining -------------------------------------------------------------------------------------


def test_union_intersection_difference() -> None:
    """| selects either, & both, - the first but not the second."""
    left = Mask.rectangle(SIZE, (0, 0, 32, 48))  # half
    top = Mask.rectangle(SIZE, (0, 0, 64, 24))  # half
    assert (left | top).coverage == 0.75
    assert (left & top).coverage == 0.25
    assert (left - top).coverage == 0.25
    assert (left - top) == Mask.rectangle(SIZE, (0, 24, 32, 48))


def test_invert_swaps_selected_and_kept() -> None:
    """invert() and ~ select exactly what was not selected."""
    mask = Mask.rectangle(SIZE, BOX)
    inverse = mask.invert()
    assert inverse.coverage == 0.75
    assert ~mask == inverse
    assert ~inverse == mask


def test_combination_refusals() -> None:
    """Combining masks of different sizes, or into nothing, is refused."""
    with pytest.raises(InvalidMaskError, match="64x48 mask and a 32x32 mask: sizes differ"):
        _ = Mask.rectangle(SIZE, BOX) | Mask.rectangle((32, 32), (0, 0, 8, 8))
    left, right = Mask.rectangle(SIZE, (0, 0, 32, 48)), Mask.rectangle(SIZE, (32, 0, 64, 48))
    with pytest.raises(InvalidMaskError, match=r"intersection .* selects nothing"):
        _ = left & right
    with pytest.raises(InvalidMaskError, match=r"union .* selects the whole"):
        _ = left | right


def test_operators_reject_other_types() -> None:
    """Combining a mask with something else is a TypeError."""
    with pytest.raises(TypeError):
        _ = Mask.rectangle(SIZE, BOX) | 3  # type: ignore[operator]


def test_thresholded_count_survives_combination() -> None:
    """A mask made from thresholded sources still says it was thresholded."""
    grey = Image.new("L", SIZE, 0)
    grey.paste(200, BOX)
    mask = Mask.from_image(grey) | Mask.rectangle(SIZE, (0, 0, 4, 4))
    assert mask.thresholded_pixels == 32 * 24


# -- size ------------------------------------------------------------------------------------------


def test_check_size_refuses_another_size_with_both_sizes() -> None:
    """A size mismatch names both sizes and the two ways out."""
    mask = Mask.rectangle(SIZE, BOX)
    mask.check_size(SIZE)
    with pytest.raises(
        InvalidMaskError,
        match=r"mask is 64x48 but the image is 128x96; pass resize=True, or call "
        r"mask\.resized\(\(128, 96\)\)",
    ):
        mask.check_size((128, 96))
    with pytest.raises(InvalidMaskError, match="aspect ratios differ"):
        mask.check_size((100, 100))


def test_resized_is_nearest_neighbour() -> None:
    """resized() scales exactly and stays pure black and white."""
    mask = Mask.rectangle(SIZE, BOX).resized((128, 96))
    assert (mask.size, mask.coverage) == ((128, 96), 0.25)
    assert decoded(mask).tobytes() == drawn((128, 96), (32, 24, 96, 72)).tobytes()
    odd = Mask.ellipse(SIZE, BOX).resized((33, 71))
    assert pixel_values(odd) == {0, 255}


def test_resized_to_the_same_size_is_the_same_mask() -> None:
    """resized() to the current size returns the mask itself."""
    mask = Mask.rectangle(SIZE, BOX)
    assert mask.resized(SIZE) is mask


def test_resized_refuses_when_the_selection_vanishes() -> None:
    """Shrinking a one-pixel line away is refused rather than sending an empty mask."""
    mask = Mask.rectangle((100, 100), (0, 51, 100, 52))
    with pytest.raises(InvalidMaskError, match=r"selects nothing.*thin parts"):
        mask.resized((10, 10))


# -- preview ---------------------------------------------------------------------------------------


def source_image(size: tuple[int, int] = SIZE) -> bytes:
    """A plain blue source image, as PNG bytes."""
    return encode(Image.new("RGB", size, (0, 0, 255)))


def test_preview_tints_the_region_only() -> None:
    """Inside the region is blended with the tint, outside is untouched, the edge is solid."""
    mask = Mask.rectangle(SIZE, BOX)
    preview = Image.open(io.BytesIO(mask.preview(source_image(), color=(255, 0, 0), opacity=0.5)))
    assert (preview.format, preview.mode, preview.size) == ("PNG", "RGB", SIZE)
    assert preview.getpixel((32, 24)) == (127, 0, 127)  # inside: half red, half blue
    assert preview.getpixel((2, 2)) == (0, 0, 255)  # outside: the source
    assert preview.getpixel((16, 24)) == (255, 0, 0)  # the edge: solid red


def test_preview_without_outline_and_from_a_pillow_image() -> None:
    """outline=False tints the edge like the inside; a Pillow source image works too."""
    mask = Mask.rectangle(SIZE, BOX)
    source = Image.new("RGB", SIZE, (0, 0, 255))
    preview = Image.open(io.BytesIO(mask.preview(source, outline=False, opacity=1.0)))
    assert preview.getpixel((16, 24)) == preview.getpixel((32, 24)) == (255, 0, 0)


def test_preview_refuses_another_size_unless_resize() -> None:
    """A source of another size is refused, or the mask is resized when asked."""
    mask = Mask.rectangle(SIZE, BOX)
    with pytest.raises(InvalidMaskError, match="mask is 64x48 but the image is 128x96"):
        mask.preview(source_image((128, 96)))
    preview = Image.open(io.BytesIO(mask.preview(source_image((128, 96)), resize=True)))
    assert preview.size == (128, 96)
    assert preview.getpixel((64, 48)) != (0, 0, 255)
    assert preview.getpixel((4, 4)) == (0, 0, 255)


def test_preview_refuses_bad_sources_and_options() -> None:
    """A source that is not an image, a bomb, or a bad tint is refused."""
    mask = Mask.rectangle(SIZE, BOX)
    with pytest.raises(InvalidMaskError, match="source image is not a PNG"):
        mask.preview(b"garbage")
    with pytest.raises(InvalidMaskError, match="400 megapixels"):
        mask.preview(forged_png(20000, 20000))
    with pytest.raises(InvalidInputError, match="opacity must be between 0 and 1"):
        mask.preview(source_image(), opacity=2.0)
    with pytest.raises(InvalidInputError, match="color must be"):
        mask.preview(source_image(), color=(300, 0, 0))


# -- the object ------------------------------------------------------------------------------------


def test_mask_is_immutable_hashable_and_picklable() -> None:
    """A mask cannot be changed, works as a dict key and survives pickling."""
    mask = Mask.rectangle(SIZE, BOX)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        mask.size = (1, 1)  # type: ignore[misc]
    assert {mask: 1}[Mask.rectangle(SIZE, BOX)] == 1
    assert pickle.loads(pickle.dumps(mask)) == mask


def test_mask_is_not_built_directly() -> None:
    """Calling Mask() points to the constructors."""
    with pytest.raises(TypeError, match=r"use Mask\.from_file\(\)"):
        Mask(b"data")


def test_repr_and_str_are_short() -> None:
    """repr and str show size, format and coverage, never the image bytes."""
    mask = Mask.rectangle(SIZE, BOX)
    assert repr(mask) == "Mask(format='png', size=(64, 48), coverage=0.25, thresholded_pixels=0)"
    assert str(mask) == "64x48 png mask (25.0% selected)"


def test_to_image_returns_a_fresh_binary_image() -> None:
    """to_image() gives an "L" image of 0 and 255 that the caller may change freely."""
    mask = Mask.rectangle(SIZE, BOX)
    image = mask.to_image()
    assert (image.mode, image.tobytes()) == ("L", drawn().tobytes())
    image.paste(0, (0, 0, 64, 48))
    assert mask.coverage == 0.25
    assert decoded(mask).tobytes() == drawn().tobytes()


# -- coerce and load_mask --------------------------------------------------------------------------


def test_coerce_chooses_the_constructor_by_type(tmp_path: Path) -> None:
    """Mask, bytes, Path, str path, base64 str, data: URI and Pillow images all work."""
    png = encode(drawn())
    path = tmp_path / "mask.png"
    path.write_bytes(png)
    expected = Mask.from_bytes(png)
    b64 = base64.b64encode(png).decode()
    assert Mask.coerce(expected) is expected
    for value in (png, bytearray(png), path, str(path), b64, "data:image/png;base64," + b64):
        assert Mask.coerce(value) == expected, value
    assert Mask.coerce(drawn()) == expected


def test_coerce_str_that_is_neither_explains_both_readings(tmp_path: Path) -> None:
    """A str that is neither base64 of an image nor an existing file names both readings."""
    missing = str(tmp_path / "missing.png")
    with pytest.raises(
        InvalidMaskError,
        match=r"neither base64 of an image \(it is not valid base64\) nor the path of an "
        r"existing file \(no file at .*missing\.png'\); pass a pathlib\.Path",
    ):
        Mask.coerce(missing)
    with pytest.raises(InvalidMaskError, match="decodes to 6 bytes that are not a PNG"):
        Mask.coerce("abcdefgh")


def test_coerce_str_prefers_an_existing_file_over_unlikely_base64(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path that happens to be valid base64 is read as the file it names."""
    monkeypatch.chdir(tmp_path)
    Path("abcd").write_bytes(encode(drawn()))
    assert Mask.coerce("abcd").coverage == 0.25


def test_coerce_base64_of_gif_names_the_format() -> None:
    """base64 of an unsupported image is refused by format, not as a missing file."""
    gif = base64.b64encode(encode(Image.new("RGB", (8, 8)), "GIF")).decode()
    with pytest.raises(InvalidMaskError, match="GIF format"):
        Mask.coerce(gif)


def test_coerce_refuses_other_types() -> None:
    """Other types are a TypeError naming the type."""
    with pytest.raises(TypeError, match="got int: '42'"):
        Mask.coerce(42)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_load_mask_reads_and_checks_the_size(tmp_path: Path) -> None:
    """load_mask reads any input off the loop and checks the expected size."""
    path = tmp_path / "mask.png"
    path.write_bytes(encode(drawn()))
    mask = await load_mask(path, expected_size=SIZE)
    assert mask.coverage == 0.25
    assert await load_mask(mask, expected_size=SIZE) is mask
    assert await load_mask(mask) is mask
    with pytest.raises(InvalidMaskError, match="mask is 64x48 but the image is 128x96"):
        await load_mask(path, expected_size=(128, 96))


@pytest.mark.anyio
async def test_load_mask_resizes_when_asked() -> None:
    """resize=True resizes a mask of another size instead of refusing it."""
    mask = await load_mask(Mask.rectangle(SIZE, BOX), expected_size=(128, 96), resize=True)
    assert (mask.size, mask.coverage) == ((128, 96), 0.25)


@pytest.mark.anyio
async def test_load_mask_refuses_bad_input() -> None:
    """Errors from the worker thread reach the caller unchanged."""
    with pytest.raises(InvalidMaskError, match="GIF format"):
        await load_mask(encode(Image.new("RGB", (8, 8)), "GIF"))


# -- without Pillow --------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_pillow")
def test_without_pillow_ready_made_masks_pass_through(tmp_path: Path) -> None:
    """Without Pillow, bytes, base64 and files pass unchanged after the header check."""
    webp = WEBP_MASK
    path = tmp_path / "mask.webp"
    path.write_bytes(webp)
    for mask in (
        Mask.from_bytes(webp),
        Mask.from_base64("data:image/webp;base64," + base64.b64encode(webp).decode()),
        Mask.from_file(path),
        Mask.coerce(str(path)),
    ):
        assert (mask.format, mask.size, mask.verified) == ("webp", SIZE, False)
        assert (mask.coverage, mask.thresholded_pixels, mask.thresholded) == (None, None, False)
        assert base64.b64decode(mask.to_base64()) == webp
        mask.check_size(SIZE)
        assert mask.resized(SIZE) is mask
    assert str(Mask.from_bytes(webp)) == "64x48 webp mask (unverified)"


@pytest.mark.usefixtures("no_pillow")
def test_without_pillow_header_checks_still_apply() -> None:
    """Without Pillow, unsupported formats, bombs and size mismatches are still refused."""
    with pytest.raises(InvalidMaskError, match="GIF format"):
        Mask.from_bytes(b"GIF89a" + bytes(20))
    with pytest.raises(InvalidMaskError, match="400 megapixels"):
        Mask.from_bytes(forged_png(20000, 20000))
    with pytest.raises(InvalidMaskError, match="mask is 64x48 but the image is 128x96"):
        Mask.from_bytes(forged_png(*SIZE)).check_size((128, 96))


@pytest.mark.usefixtures("no_pillow")
def test_without_pillow_image_work_asks_for_the_extra() -> None:
    """Drawing, combining, resizing and previewing say how to install Pillow."""
    mask = Mask.from_bytes(forged_png(*SIZE))
    attempts = [
        lambda: Mask.rectangle(SIZE, BOX),
        lambda: Mask.ellipse(SIZE, BOX),
        lambda: Mask.polygon(SIZE, [(0, 0), (5, 0), (0, 5)]),
        mask.invert,
        lambda: mask | mask,
        lambda: mask.resized((128, 96)),
        lambda: mask.preview(b""),
        mask.to_image,
    ]
    for attempt in attempts:
        with pytest.raises(
            ExtraNotInstalledError, match=r"pip install 'imaginepro-async\[masks\]'"
        ):
            attempt()


def test_extra_not_installed_error_is_an_import_error() -> None:
    """The missing-extra error is both an ImportError and an ImagineProError."""
    error = ExtraNotInstalledError("drawing a mask")
    assert isinstance(error, ModuleNotFoundError)
    assert isinstance(error, ImagineProError)
    assert (error.name, error.extra) == ("PIL", "masks")


def test_passed_through_mask_is_converted_once_pillow_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A WebP mask read without Pillow converts to a thresholded PNG when Pillow is present."""
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "PIL", None)
        mask = Mask.from_bytes(LOSSLESS_WEBP_MASK)
        with pytest.raises(ExtraNotInstalledError):
            mask.to_png()
    assert Mask.from_bytes(mask.to_png()) == Mask.rectangle(SIZE, BOX)
    assert (mask | Mask.rectangle(SIZE, (0, 0, 4, 4))).coverage == pytest.approx(0.25 + 16 / 3072)


# -- fitting a mask to the image ------------------------------------------------------------------


def test_fitted_scales_a_mask_of_the_same_aspect_ratio() -> None:
    """A mask of the image's aspect ratio is scaled to the image, smaller or larger."""
    fitted = Mask.rectangle((16, 12), (0, 0, 8, 12)).fitted(SIZE)
    assert fitted.size == SIZE
    assert pixel_values(fitted) == {0, 255}
    assert Mask.rectangle((128, 96), (0, 0, 64, 96)).fitted(SIZE).size == SIZE
    assert fitted.fitted(SIZE) is fitted


def test_fitted_refuses_another_aspect_ratio_naming_both_sizes() -> None:
    """A mask of another aspect ratio is refused; the message gives both sizes."""
    with pytest.raises(InvalidMaskError, match=r"64x64.*64x48.*aspect ratios differ"):
        Mask.rectangle((64, 64), BOX).fitted(SIZE)


@pytest.mark.usefixtures("no_pillow")
def test_without_pillow_a_mask_of_the_same_aspect_ratio_is_sent_as_it_is() -> None:
    """Without Pillow, fitting keeps the mask unchanged and still refuses another aspect ratio."""
    mask = Mask.from_bytes(forged_png(32, 24))
    assert mask.fitted(SIZE) is mask
    with pytest.raises(InvalidMaskError, match=r"32x32.*64x48"):
        Mask.from_bytes(forged_png(32, 32)).fitted(SIZE)


def test_same_aspect_allows_one_pixel_of_rounding() -> None:
    """One pixel of rounding keeps the aspect ratio; two pixels do not."""
    assert same_aspect((1001, 750), (100, 75))
    assert same_aspect((33, 25), (64, 48))
    assert not same_aspect((64, 50), (64, 48))


def test_same_aspect_takes_midjourneys_rounded_sizes() -> None:
    """A 16:9 mask fits Midjourney's "16:9" image (1456×816, sides rounded to 16 px); 4 % off does not."""
    assert same_aspect((1920, 1080), (1456, 816))
    assert same_aspect((1080, 1920), (816, 1456))
    assert same_aspect((1600, 1200), (1232, 928))  # 4:3
    assert not same_aspect((1920, 1000), (1456, 816))


@pytest.mark.anyio
async def test_load_mask_fits_when_asked() -> None:
    """load_mask(fit=True) scales a mask of the image's aspect ratio and refuses another."""
    fitted = await load_mask(Mask.rectangle((32, 24), BOX), expected_size=SIZE, fit=True)
    assert fitted.size == SIZE
    with pytest.raises(InvalidMaskError, match=r"aspect ratios differ"):
        await load_mask(Mask.rectangle((32, 32), BOX), expected_size=SIZE, fit=True)
