"""The ``imaginepro-async`` command line: from a prompt to an inpainting, and batches of thousands.

Output to a terminal is drawn with rich (the ``[cli]`` extra); output to a pipe is plain lines or
JSON. The exit codes are in ``common.py`` and docs/guides/cli.md: 0 done, 1 a job failed, 2 refused
before anything was sent, 3 the API said no or could not be reached, 130 interrupted. The API key
comes from ``--api-key`` or ``IMAGINEPRO_API_KEY`` and is never printed. No Python traceback
reaches the user: every error is one message in CLI terms (``IMAGINEPRO_DEBUG=1`` shows the
traceback of an unexpected one).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

import anyio

from . import batch as _cli_batch
from . import jobs as _cli_jobs
from . import mask as _cli_mask
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Parser,
    describe_error,
    err,
    exit_code,
)

__all__ = ["main"]

_EPILOG = """\
from a prompt to an inpainting:
  imaginepro-async imagine "a harbour at dawn" -q                  # prints the grid's messageId
  imaginepro-async upscale GRID_ID 1 -q --download up.png          # the upscale's messageId
  imaginepro-async mask --image up.png --ellipse 0.5 0.5 0.9 0.9 --relative -o mask.png
  imaginepro-async inpaint --parent UPSCALE_ID --mask mask.png --prompt "a red boat" --download boat.png

The API key comes from IMAGINEPRO_API_KEY or --api-key (prefer the variable: arguments show in
process lists). Exit codes: 0 done, 1 a job failed, 2 refused before anything was sent, 3 the API
refused or could not be reached, 130 interrupted."""


def _parser() -> Parser:
    from imaginepro_async import __version__

    parser = Parser(
        prog=PROG,
        description="ImaginePro's image API from the shell: single jobs with live progress, or "
        "thousands of inpaints from a JSONL file, resumable.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    api = argparse.ArgumentParser(add_help=False)
    group = api.add_argument_group("connection")
    group.add_argument(
        "--api-key", default=None, help="the sk-... key (default: $IMAGINEPRO_API_KEY)"
    )
    group.add_argument(
        "--base-url",
        default=None,
        help="the API's address (default: $IMAGINEPRO_BASE_URL or https://api.imaginepro.ai)",
    )
    group.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="for a simulator running faster than real time: divide every wait by this "
        "(default: $IMAGINEPRO_TIME_SCALE or 1)",
    )

    _cli_jobs.add_parsers(commands, api)
    _cli_batch.add_parser(commands, api)
    _cli_mask.add_parser(commands)
    commands.add_parser(
        "simulate",
        help="serve a local simulator (options: imaginepro-async simulate --help)",
        add_help=False,
    )
    demo = commands.add_parser("demo", help="run the README demo on an embedded simulator")
    demo.add_argument("--jobs", type=int, default=12, help="how many inpaints (12)")
    demo.add_argument("--time-scale", type=float, default=30.0, help="simulator speed-up (30)")
    parser.subcommands = commands.choices
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        0 done, 1 a job failed, 2 refused before anything was sent, 3 the API refused or could
        not be reached, 130 interrupted.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["simulate"]:
        from imaginepro_async.testing.__main__ import main as simulate

        return simulate(args_list[1:])
    try:
        args = _parser().parse_command_line(args_list)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    run = _cli_jobs.Run()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run(args, run)
    finally:
        # The caller's handler is back (the console script ignores Ctrl-C itself as it exits).
        signal.signal(signal.SIGINT, previous)


def _run(args: argparse.Namespace, run: _cli_jobs.Run) -> int:
    try:
        return anyio.run(_dispatch, args, run, backend="asyncio")
    except KeyboardInterrupt:
        err(run.interrupted())
        return EXIT_INTERRUPTED
    except Exception as exc:
        leaf = _leaf(exc)
        if isinstance(leaf, KeyboardInterrupt):
            err(run.interrupted())
            return EXIT_INTERRUPTED
        if os.environ.get("IMAGINEPRO_DEBUG"):
            raise
        err(f"error: {describe_error(leaf)}")
        return exit_code(leaf)


def _leaf(exc: BaseException) -> BaseException:
    """The error that matters inside task groups' exception groups (a Ctrl-C, else the first)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        if exc.subgroup(KeyboardInterrupt) is not None:
            return KeyboardInterrupt()
        exc = exc.exceptions[0]
    return exc


async def _dispatch(args: argparse.Namespace, run: _cli_jobs.Run) -> int:
    command: str = args.command
    if command == "batch":
        return await _cli_batch.run(args)
    if command == "mask":
        return await _cli_mask.run(args)
    if command == "demo":
        from imaginepro_async import demo

        await demo.main(args.jobs, args.time_scale)
        return EXIT_OK
    return await _cli_jobs.run(args, run)
