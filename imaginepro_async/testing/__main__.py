"""``python -m imaginepro_async.testing``: serve a simulator until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import signal
import sys

import anyio

from . import _contract as c
from ._engine import uniform_duration
from ._simulator import DEFAULT_GENERAL_LIMIT, DEFAULT_PROGRESS_LIMIT, Simulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m imaginepro_async.testing",
        description="Serve a local ImaginePro simulator until Ctrl-C.",
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
    return parser


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
    ) as sim:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            print(f"ImaginePro simulator listening on {sim.url}", flush=True)
            print(f"API key: {sim.api_key}", flush=True)
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
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
