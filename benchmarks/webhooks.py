"""Polls per job with webhooks on vs off, on the same workload (``python -m benchmarks.webhooks``).

The same seeded workload three ways, each against a fresh in-process simulator with the same seed
(same job ids and durations in creation order), the documented rate limits on:

- **polling**: a plain client; the scheduler polls each job when the planner says.
- **webhooks**: ``ImagineProClient(webhook_base=...)`` and an aiohttp route receiving the
  simulator's deliveries (progress every 15 s, and the final one); a delivery prompts one fetch.
- **webhooks, all failing**: the same, but every delivery fails (receiver unreachable): the
  webhook silence runs out and the normal policy takes over.

Measured: progress requests the simulator served per job, and the detection lag (the client saw
the job end minus the server ended it, simulated seconds). The simulator runs in the client's
process (only request counts and simulated times are compared, not CPU).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import anyio
import attrs
from aiohttp import web

from imaginepro_async import ImagineProClient, Job
from imaginepro_async.testing import Simulator, WebhookFaults, uniform_duration
from imaginepro_async.webhooks import WebhookReceiver

from ._common import RESULTS, code_version, machine, median, percentile, table, write_json

MODES = ("polling", "webhooks", "webhooks, all failing")


@attrs.frozen
class Workload:
    """N imagine jobs on an account running C at once, durations uniform 30..90 s."""

    jobs: int = 150
    concurrency: int = 10
    time_scale: float = 30.0
    seed: int = 11


async def run_mode(workload: Workload, mode: str, port: int) -> dict[str, Any]:
    """One mode on a fresh simulator; its numbers."""
    faults = WebhookFaults(fail=1.0) if mode == "webhooks, all failing" else None
    async with Simulator(
        time_scale=workload.time_scale,
        seed=workload.seed,
        concurrency=workload.concurrency,
        duration=uniform_duration(30.0, 90.0),
        webhook_faults=faults,
        webhook_retries=0,
    ) as sim:
        base = None if mode == "polling" else f"http://127.0.0.1:{port}/hook"
        client = ImagineProClient(
            sim.api_key, base_url=sim.url, time_scale=workload.time_scale, seed=0, webhook_base=base
        )
        receiver = WebhookReceiver(client)
        app = web.Application()
        app.router.add_post("/hook", receiver.aiohttp)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        seen: dict[str, float] = {}
        started = time.perf_counter()
        try:
            async with client, anyio.create_task_group() as tasks:
                for n in range(workload.jobs):
                    job = await client.imagine(f"a lighthouse {n}")
                    tasks.start_soon(_follow, job, sim, seen)
        finally:
            await runner.cleanup()
        real = time.perf_counter() - started
        lags = [seen[t.message_id] - t.finished for t in sim.jobs() if t.finished is not None]
        polls = sim.stats().by_endpoint.get("fetch", 0)
        return {
            "mode": mode,
            "jobs": workload.jobs,
            "finished": len(seen),
            "polls": polls,
            "polls_per_job": polls / workload.jobs,
            "lag_p50": median(lags),
            "lag_p95": percentile(lags, 95),
            "lags": lags,
            "webhooks": attrs.asdict(receiver.stats),
            "real_seconds": real,
        }


async def _follow(job: Job, sim: Simulator, seen: dict[str, float]) -> None:
    await job
    seen[job.message_id] = sim.now()


def draw_chart(results: list[dict[str, Any]], directory: Path = RESULTS) -> Path:
    """Polls per job and median lag per mode, side by side; returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    fig, (polls, lags) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=110)
    names = [result["mode"] for result in results]
    colors = ["tab:blue", "tab:green", "tab:orange"][: len(names)]
    polls.bar(names, [result["polls_per_job"] for result in results], color=colors)
    polls.set_ylabel("progress requests per job")
    lags.bar(names, [result["lag_p50"] for result in results], color=colors)
    lags.set_ylabel("median detection lag (simulated s)")
    for ax in (polls, lags):
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"{results[0]['jobs']} jobs: webhooks on vs off")
    fig.tight_layout()
    path = directory / "webhooks.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def render(results: list[dict[str, Any]]) -> str:
    """The summary table."""
    rows = [
        (
            r["mode"],
            f"{r['finished']}/{r['jobs']}",
            f"{r['polls_per_job']:.2f}",
            f"{r['lag_p50']:.2f}",
            f"{r['lag_p95']:.2f}",
            f"{r['real_seconds']:.1f}",
        )
        for r in results
    ]
    header = ("mode", "done", "polls/job", "lag p50 (s)", "lag p95 (s)", "real s")
    return table(rows, header)


def main(argv: list[str] | None = None) -> None:
    """Run every mode once and write ``results/webhooks.json`` and ``results/webhooks.png``."""
    default = Workload()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=default.jobs)
    parser.add_argument("--concurrency", type=int, default=default.concurrency)
    parser.add_argument("--time-scale", type=float, default=default.time_scale)
    parser.add_argument("--port", type=int, default=8787, help="the webhook route's port")
    args = parser.parse_args(argv)
    workload = Workload(args.jobs, args.concurrency, args.time_scale)
    results = [anyio.run(run_mode, workload, mode, args.port) for mode in MODES]
    print(render(results))
    data = {"workload": attrs.asdict(workload), "results": results, "code": code_version()}
    write_json("webhooks.json", data | {"machine": machine()})
    print(draw_chart(results))


if __name__ == "__main__":
    main()
