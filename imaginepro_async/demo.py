"""The README demo: a local ImaginePro, one imagine, one upscale, a dozen concurrent inpaints.

Run it with ``python -m imaginepro_async.demo``. It starts the embedded simulator at 30x speed, so
a minute of jobs takes two seconds; the client's budgets are scaled the same way, so what you see is
what the real service's rate limits would allow, sped up.

It draws its mask with Pillow (the ``[masks]`` or ``[cli]`` extra): without it, the demo says what
to install and exits 2 before it starts anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time

import anyio

from . import ExtraNotInstalledError, ImagineProClient, Job, Mask, Message, as_completed
from .testing import Simulator


def check_extras() -> None:
    """Raise ``ExtraNotInstalledError`` now if the demo could not finish (it draws a mask)."""
    if importlib.util.find_spec("PIL") is None:
        raise ExtraNotInstalledError("the demo (it draws a mask)")


def _bar(progress: int, width: int = 24) -> str:
    filled = round(width * progress / 100)
    return "#" * filled + "." * (width - filled)


async def _follow(label: str, job: Job, rows: dict[str, str], started: float) -> None:
    async for update in job.updates(every=2.0):
        rows[label] = f"{update.status.value:<10} [{_bar(update.progress)}] {update.progress:3d}%"
    rows[label] += f"  ({time.monotonic() - started:.1f} s)"


async def _render(rows: dict[str, str], stop: anyio.Event, live: bool) -> None:
    shown = 0
    while True:
        if live:
            if shown:
                sys.stdout.write(f"\x1b[{shown}F")
            for label, row in rows.items():
                sys.stdout.write(f"\x1b[2K  {label:<12} {row}\n")
            sys.stdout.flush()
            shown = len(rows)
        if stop.is_set():
            return
        with anyio.move_on_after(0.1):
            await stop.wait()


async def main(count: int = 12, time_scale: float = 30.0) -> list[Message]:
    """Run the demo; returns the inpainting results.

    Raises:
        ExtraNotInstalledError: Pillow is not installed (checked before anything starts).
    """
    check_extras()
    async with Simulator(time_scale=time_scale, seed=7, concurrency=4) as sim:
        print(f"simulator at {sim.url} (time runs {time_scale:g}x faster)")
        async with ImagineProClient(sim.api_key, base_url=sim.url, time_scale=time_scale) as client:
            started = time.monotonic()
            grid = await (await client.imagine("a lighthouse at dusk, oil painting"))
            print(
                f"imagine  {grid.message_id}: {grid.status.value}, buttons {' '.join(grid.buttons)}"
            )
            up = await (await client.upscale(grid, 1))
            print(f"upscale  {up.message_id}: {up.status.value}, offers {' '.join(up.buttons)}")
            width, height = sim.image_size
            mask = Mask.ellipse((width, height), (0.55, 0.55, 0.95, 0.95), relative=True)
            print(f"mask     {width}x{height}, {mask.coverage:.0%} of the image selected")
            print(f"submitting {count} inpaints (1 per 3 s of API time, as ImaginePro allows)...")
            jobs: list[Job] = []
            rows: dict[str, str] = {
                f"inpaint {n + 1}": "waiting for its turn" for n in range(count)
            }
            live = sys.stdout.isatty()
            stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_render, rows, stop, live)
                async with anyio.create_task_group() as followers:
                    for n in range(count):
                        job = await client.inpaint(up, mask, prompt=f"a red sailboat, take {n + 1}")
                        jobs.append(job)
                        followers.start_soon(_follow, f"inpaint {n + 1}", job, rows, started)
                stop.set()
            results: list[Message] = []
            async for job in as_completed(jobs):
                results.append(job.result())
            if not live:
                for label, row in rows.items():
                    print(f"  {label:<12} {row}")
            elapsed = time.monotonic() - started
            print(
                f"{len(results)} inpaints done in {elapsed:.1f} s ({elapsed * time_scale:.0f} s of "
                f"API time); {sim.stats().rate_limited} rate-limit refusals; "
                f"{client.poll_budget.started} progress requests in all"
            )
            return results


def run() -> None:
    """Entry point of ``python -m imaginepro_async.demo``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=12, help="how many inpaints (default 12)")
    parser.add_argument("--time-scale", type=float, default=30.0, help="simulator speed-up")
    args = parser.parse_args()
    try:
        check_extras()
    except ExtraNotInstalledError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    anyio.run(main, args.jobs, args.time_scale)


if __name__ == "__main__":
    run()
