"""``imaginepro-async simulate`` (also ``python -m imaginepro_async.testing``): serve a simulator
until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from typing import NoReturn

import anyio

from . import _contract as c
from ._engine import uniform_duration
from ._simulator import DEFAULT_GENERAL_LIMIT, DEFAULT_PROGRESS_LIMIT, Simulator


class _Parser(argparse.ArgumentParser):
    """Errors in one line, as the rest of the CLI's (the simulator does not import ``_cli``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Serve a local ImaginePro simulator until Ctrl-C. It prints the export lines"
        " that point the SDK (and the imaginepro-async CLI) at it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind; 0: a free one")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="simulated seconds per real second (1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--concurrency", type=int, default=c.DEFAULT_CONCURRENCY, help="concurrent jobs per key"
    )
    parser.add_argument(
        "--credits", type=int, default=c.DEFAULT_CREDITS, help="credits of the account"
    )
    parser.add_argument("--api-key", default=None, help="the account's key (default: generated)")
    parser.add_argument("--no-rate-limits", action="store_true", help="switch both rate limits off")
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="probability that a job fails (0)"
    )
    parser.add_argument(
        "--duration-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=list(c.DURATION_RANGE),
        help="job durations, uniform, in simulated seconds (30 90)",
    )
    parser.add_argument(
        "--image-size",
        type=_size,
        default=c.IMAGE_SIZE,
        metavar="WxH",
        help="size of one image: an upscale, each of a grid's images (1024x1024)",
    )
    parser.add_argument(
        "--grid-size", type=_size, default=None, metavar="WxH", help="size of a grid (2x image)"
    )
    parser.add_argument(
        "--latency-before",
        type=float,
        default=c.LATENCY_BEFORE,
        metavar="SECONDS",
        help="simulated seconds each request waits before it is processed (0)",
    )
    parser.add_argument(
        "--latency-after",
        type=float,
        default=c.LATENCY_AFTER,
        metavar="SECONDS",
        help="simulated seconds each answer is held after processing (0)",
    )
    return parser


PROG = "imaginepro-async simulate"


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    try:
        if sep:
            return int(width), int(height)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1024x1024, got {text!r}")


def export_lines(url: str, api_key: str, time_scale: float = 1.0) -> list[str]:
    """The shell lines that point the SDK and the CLI at a simulator.

    A simulator faster than real time needs ``IMAGINEPRO_TIME_SCALE`` too: without it the client
    paces its polls and waits in real seconds, and a batch takes ``time_scale`` times longer.
    """
    lines = [f"export IMAGINEPRO_API_KEY={api_key}", f"export IMAGINEPRO_BASE_URL={url}"]
    if time_scale != 1.0:
        scale = str(int(time_scale)) if time_scale.is_integer() else repr(time_scale)
        lines.append(f"export IMAGINEPRO_TIME_SCALE={scale}")
    return lines


async def _serve(args: argparse.Namespace) -> None:
    low, high = args.duration_range
    limits = not args.no_rate_limits
    async with Simulator(
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        seed=args.seed,
        api_key=args.api_key,
        credits=args.credits,
        concurrency=args.concurrency,
        duration=uniform_duration(low, high),
        failure_rate=args.failure_rate,
        general_rate_limit=DEFAULT_GENERAL_LIMIT if limits else None,
        progress_rate_limit=DEFAULT_PROGRESS_LIMIT if limits else None,
        image_size=args.image_size,
        grid_size=args.grid_size,
        latency_before=args.latency_before,
        latency_after=args.latency_after,
    ) as sim:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            print(f"ImaginePro simulator listening on {sim.url}", flush=True)
            print(f"API key: {sim.api_key}", flush=True)
            print("Point the SDK and the CLI at it (paste into your shell):", flush=True)
            for line in export_lines(sim.url, sim.api_key, sim.time_scale):
                print(f"  {line}", flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            async for _ in signals:
                break
    print("Simulator stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the simulator from the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        anyio.run(_serve, args, backend="asyncio")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"{PROG}: error: port {args.port} on {args.host} is already in use; pick another"
                " with --port, or --port 0 for a free one",
                file=sys.stderr,
            )
        else:
            print(f"{PROG}: error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
