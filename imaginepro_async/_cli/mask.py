"""The ``imaginepro-async mask`` command: draw a mask from shapes, and a preview."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import anyio

from .common import EXIT_OK, UsageError, check_input_file, check_output_file

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``mask`` subcommand to ``commands``."""
    mask = commands.add_parser("mask", help="draw a mask from shapes, and a preview")
    mask.add_argument("--size", default=None, help="WIDTHxHEIGHT (default: the --image's size)")
    mask.add_argument("--image", default=None, help="the image being edited, for the preview")
    mask.add_argument(
        "--rect",
        nargs=4,
        type=float,
        action="append",
        default=[],
        metavar=("L", "T", "R", "B"),
        help="a rectangle by its left, top, right and bottom edges, in pixels (with --relative: "
        "fractions, 0.5 is the middle); repeat for several",
    )
    mask.add_argument(
        "--ellipse",
        nargs=4,
        type=float,
        action="append",
        default=[],
        metavar=("L", "T", "R", "B"),
        help="an ellipse filling the box L T R B (edges as for --rect); repeat for several",
    )
    mask.add_argument(
        "--polygon",
        nargs="+",
        type=float,
        action="append",
        default=[],
        metavar="X Y",
        help="three or more points: X1 Y1 X2 Y2 X3 Y3 ...",
    )
    mask.add_argument(
        "--relative", action="store_true", help="coordinates are fractions of the size"
    )
    mask.add_argument("--invert", action="store_true", help="select everything but the shapes")
    mask.add_argument("-o", "--out", default="mask.png", help="the mask file (mask.png)")
    mask.add_argument("--preview", default=None, help="also write a preview PNG there")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must be WIDTHxHEIGHT, like 1024x1024; got {text!r}") from None
    return width, height


async def run(args: argparse.Namespace) -> int:
    """Run ``imaginepro-async mask``; returns the exit status."""
    return await anyio.to_thread.run_sync(_draw_mask, args)


def _draw_mask(args: argparse.Namespace) -> int:
    from imaginepro_async._masks.mask import Mask

    out = check_output_file(Path(args.out), "--out")
    if args.preview:
        check_output_file(Path(args.preview), "--preview")
    source = check_input_file(Path(args.image), "--image").read_bytes() if args.image else None
    if args.size:
        size = _size(args.size)
    elif source is not None:
        from imaginepro_async._masks.imageinfo import sniff_image

        info = sniff_image(source, name=str(args.image))
        size = (info.width, info.height)
    else:
        raise UsageError("give --size WIDTHxHEIGHT, or --image to take its size")
    shapes: list[Mask] = []
    for box in args.rect:
        shapes.append(Mask.rectangle(size, tuple(box), relative=args.relative))
    for box in args.ellipse:
        shapes.append(Mask.ellipse(size, tuple(box), relative=args.relative))
    for flat in args.polygon:
        if len(flat) % 2:
            raise UsageError("--polygon takes pairs of numbers: X1 Y1 X2 Y2 X3 Y3 ...")
        points = list(zip(flat[::2], flat[1::2], strict=True))
        shapes.append(Mask.polygon(size, points, relative=args.relative))
    if not shapes:
        raise UsageError("draw at least one shape: --rect, --ellipse or --polygon")
    mask = shapes[0]
    for shape in shapes[1:]:
        mask = mask | shape
    if args.invert:
        mask = ~mask
    out.write_bytes(mask.to_png())
    print(f"{out}: {mask}")
    if args.preview:
        if source is None:
            from PIL import Image

            canvas = Image.new("RGB", size, (128, 128, 128))
            preview = mask.preview(canvas)
        else:
            preview = mask.preview(source)
        Path(args.preview).write_bytes(preview)
        print(f"{args.preview}: preview")
    return EXIT_OK
