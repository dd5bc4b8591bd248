"""How this SDK's cost grows with the number of live jobs it follows: 1,000, 10,000, 100,000.

The simulator (a separate process, rate limits off, every job still running for the whole run)
holds the jobs; a helper process creates them. For each size, a fresh client process attaches a
handle to each job by id (``client.job(id)``), lets the scheduler poll every job once, and reports:

- **RSS per live job**: resident memory after every job was polled once, minus before the ids were
  loaded, over the number of jobs (handles, scheduler state, ids and each job's latest Message);
- **CPU per poll**: process CPU over a steady window divided by the polls made in it;
- **the floor**, in the same process right after: CPU per request of bare aiohttp GETs to the same
  progress endpoint at the same rate (``await resp.read()``; and with ``json.loads`` of the body).

Only the CPU cost per poll is under test here, not the rate: the poll budget is raised (default
1,000 per second) and running jobs are probed every 0.5 s, so every size polls as fast as the
budget allows. Writes ``benchmarks/results/scale.json`` and ``scale.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    RESULTS,
    SimulatorProcess,
    cpu_seconds,
    machine,
    median,
    rss_bytes,
    table,
    write_json,
)

SIZES = (1_000, 10_000, 100_000)
#: Simulated seconds per real second in the simulator: slow, so that no job reaches its 900 s
#: server-side timeout during the run.
SIM_SCALE = 0.2
JOB_DURATION = 1e7  # simulated seconds: jobs stay PROCESSING


@dataclasses.dataclass(frozen=True)
class Probe:
    """One size's measurement (what a child process gets)."""

    url: str
    api_key: str
    ids_file: str
    size: int
    rate: int  # polls per second allowed
    window: float  # real seconds of each CPU window
    windows: int  # CPU windows per measurement (the median is reported)
    freeze: bool = False  # the application's gc.freeze() once every job was polled once


# -- job creation (a helper process) -----------------------------------------------------------


async def create_jobs(url: str, api_key: str, count: int, workers: int = 48) -> list[str]:
    """Create ``count`` imagine jobs as fast as the simulator takes them; their messageIds."""
    import aiohttp

    ids: list[str] = [""] * count
    next_index = 0
    headers = {"Authorization": f"Bearer {api_key}"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < count:
            index, next_index = next_index, next_index + 1
            body = {"prompt": f"a lighthouse, number {index}", "timeout": 900}
            async with session.post(f"{url}/api/v1/nova/imagine", json=body) as answer:
                answer.raise_for_status()
                ids[index] = (await answer.json())["messageId"]

    connector = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(workers)))
    return ids


# -- one size, in its own process ---------------------------------------------------------------


class GcTimer:
    """Wall time the cyclic garbage collector spends, and its runs, per generation."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started
            self.runs[info["generation"]] += 1

    def snapshot(self) -> tuple[float, list[int]]:
        """(total seconds so far, runs per generation so far)."""
        return sum(self.seconds), list(self.runs)


async def measure(probe: Probe, ids_json: bytes) -> dict[str, Any]:
    """Attach ``probe.size`` handles, poll each once, then measure CPU per poll and the floor."""
    from imaginepro_async import ImagineProClient, PollPolicy, RateLimit

    policy = PollPolicy(probe_interval=0.5)
    async with ImagineProClient(
        probe.api_key,
        base_url=probe.url,
        poll_limit=RateLimit(probe.rate, 1.0),
        poll_policy=policy,
    ) as client:
        gc.collect()
        rss_empty = rss_bytes()
        tracked_empty = len(gc.get_objects())
        ids: list[str] = json.loads(ids_json)[: probe.size]
        started = time.monotonic()
        cpu = cpu_seconds()
        jobs = [client.job(message_id) for message_id in ids]
        attach_cpu = cpu_seconds() - cpu
        rss_attached = rss_bytes()
        while True:
            await asyncio.sleep(0.25)
            if all(job.latest is not None for job in jobs):
                break
            if any(job.done() for job in jobs[:100]):
                raise RuntimeError(
                    "jobs ended during the run: the simulator's jobs must keep running"
                )
        first_round = time.monotonic() - started
        gc.collect()
        rss_polled = rss_bytes()
        tracked = len(gc.get_objects())
        if probe.freeze:
            gc.freeze()  # what an application following this many jobs can do (README)
        await asyncio.sleep(1.0)
        cpu_per_poll, rates, gc_share, full_runs = [], [], [], []
        timer = GcTimer()
        gc.callbacks.append(timer)
        for _ in range(probe.windows):
            polls = sum(job.polls for job in jobs)
            cpu, wall, (gc_seconds, runs) = cpu_seconds(), time.monotonic(), timer.snapshot()
            await asyncio.sleep(probe.window)
            cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
            polls = sum(job.polls for job in jobs) - polls
            cpu_per_poll.append(cpu / polls)
            rates.append(polls / wall)
            gc_share.append((timer.snapshot()[0] - gc_seconds) / cpu)
            full_runs.append(timer.runs[2] - runs[2])
        gc.callbacks.remove(timer)
        ended = sum(1 for job in jobs if job.done())
    rate = median(rates)
    floor_read = await bare_gets(probe, ids, rate, parse=False)
    floor_json = await bare_gets(probe, ids, rate, parse=True)
    return {
        "size": probe.size,
        "rss_empty_bytes": rss_empty,
        "rss_attached_bytes": rss_attached,
        "rss_polled_bytes": rss_polled,
        "rss_per_job_bytes": (rss_polled - rss_empty) / probe.size,
        "rss_per_handle_bytes": (rss_attached - rss_empty) / probe.size,
        "attach_us_per_job": attach_cpu / probe.size * 1e6,
        "first_round_seconds": first_round,
        "polls_per_second": rate,
        "cpu_per_poll_us": median(cpu_per_poll) * 1e6,
        "cpu_per_poll_us_windows": [c * 1e6 for c in cpu_per_poll],
        "gc_share_windows": gc_share,
        "gc_share": median(gc_share),
        "gc_full_runs_windows": full_runs,
        "gc_tracked_per_job": (tracked - tracked_empty) / probe.size,
        "gc_frozen": gc.get_freeze_count(),
        "floor_read_us": floor_read["cpu_per_request_us"],
        "floor_json_us": floor_json["cpu_per_request_us"],
        "floor_rate": floor_read["requests_per_second"],
        "ratio_to_floor": median(cpu_per_poll) * 1e6 / floor_read["cpu_per_request_us"],
        "jobs_ended": ended,
    }


async def bare_gets(
    probe: Probe, ids: Sequence[str], rate: float, *, parse: bool
) -> dict[str, Any]:
    """GET the progress endpoint with plain aiohttp at ``rate`` per second; CPU per request.

    The same connection limit as the client (64); requests are launched at ``rate`` (in batches
    every 5 ms), so the event loop works at the pace of the client's windows.
    """
    import aiohttp

    headers = {"Authorization": f"Bearer {probe.api_key}"}
    urls = [f"{probe.url}/api/v1/message/fetch/{message_id}" for message_id in ids[:10_000]]
    completed = 0

    async def get(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal completed
        async with session.get(url) as answer:
            body = await answer.read()
        if parse:
            json.loads(body)
        completed += 1

    samples: list[tuple[float, int, float]] = []
    connector = aiohttp.TCPConnector(limit=64, limit_per_host=64)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        pending: set[asyncio.Task[None]] = set()
        sent = 0
        for window in range(probe.windows + 1):  # the first window warms up
            before, cpu, start = completed, cpu_seconds(), time.monotonic()
            launched = 0
            while (elapsed := time.monotonic() - start) < probe.window:
                for _ in range(int(elapsed * rate) - launched):
                    task = asyncio.create_task(get(session, urls[sent % len(urls)]))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    sent += 1
                    launched += 1
                await asyncio.sleep(0.005)
            cpu = cpu_seconds() - cpu
            if window:
                samples.append((cpu, completed - before, time.monotonic() - start))
        await asyncio.gather(*pending)
    return {
        "cpu_per_request_us": median([c / n for c, n, _ in samples]) * 1e6,
        "requests_per_second": median([n / w for _, n, w in samples]),
    }


# -- the driver ------------------------------------------------------------------------------------


def _child(args: Sequence[str], timeout: float) -> None:
    subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", *args],
        check=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parent.parent,
    )


def run(
    sizes: Sequence[int], rate: int, window: float, windows: int, *, freeze: bool = False
) -> dict[str, Any]:
    """Start a simulator, create the jobs, and measure each size in a fresh process."""
    largest = max(sizes)
    with (
        SimulatorProcess(
            time_scale=SIM_SCALE,
            seed=1,
            concurrency=largest,
            duration_range=(JOB_DURATION, JOB_DURATION),
            rate_limits=False,
        ) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        ids_file = Path(tmp) / "ids.json"
        started = time.monotonic()
        _child(["--create", sim.url, sim.api_key, str(largest), str(ids_file)], timeout=900)
        created = time.monotonic() - started
        print(f"created {largest:,} running jobs in {created:.0f} s", flush=True)
        results = []
        for size in sizes:
            probe = Probe(sim.url, sim.api_key, str(ids_file), size, rate, window, windows, freeze)
            out = Path(tmp) / f"size-{size}.json"
            started = time.monotonic()
            _child(["--probe", json.dumps(dataclasses.asdict(probe)), str(out)], timeout=900)
            result = json.loads(out.read_text())
            result["wall_seconds"] = time.monotonic() - started
            print(
                f"{size:>7,} live jobs: {result['rss_per_job_bytes'] / 1024:.2f} KiB/job, "
                f"{result['cpu_per_poll_us']:.0f} µs CPU/poll at {result['polls_per_second']:.0f} "
                f"polls/s (GC {result['gc_share']:.0%} of CPU, "
                f"{result['gc_tracked_per_job']:.1f} tracked objects/job); bare GET {result['floor_read_us']:.0f} µs "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
            results.append(result)
    return {"create_seconds": created, "sizes": results}


COLUMNS = (
    ("size", "live jobs"),
    ("rss_per_job_bytes", "RSS B/job"),
    ("polls_per_second", "polls/s"),
    ("cpu_per_poll_us", "CPU µs/poll"),
    ("floor_read_us", "bare GET µs"),
    ("floor_json_us", "bare GET+json µs"),
    ("ratio_to_floor", "poll/bare GET"),
    ("gc_share", "GC share"),
    ("gc_tracked_per_job", "GC objects/job"),
    ("first_round_seconds", "1st round s"),
)


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a table."""
    return table(
        [[row[key] for key, _ in COLUMNS] for row in rows], [title for _, title in COLUMNS]
    )


def draw_chart(rows: Sequence[dict[str, Any]], directory: Path = RESULTS) -> Path:
    """RSS per job and CPU per poll (with the bare-GET floor) against the number of live jobs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["size"] for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    left.plot(sizes, [row["rss_per_job_bytes"] / 1024 for row in rows], "o-", label="measured")
    left.axhline(5.0, color="grey", linestyle="--", linewidth=1, label="target (10k): 5 KB")
    left.set_xscale("log")
    left.set_ylim(bottom=0)
    left.set_xlabel("live jobs")
    left.set_ylabel("KiB of RSS per live job")
    left.set_title("Memory per live job")
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    right.plot(sizes, [row["cpu_per_poll_us"] for row in rows], "o-", label="imaginepro-async poll")
    right.plot(sizes, [row["floor_read_us"] for row in rows], "s--", label="bare aiohttp GET")
    right.plot(sizes, [row["floor_json_us"] for row in rows], "^:", label="bare GET + json.loads")
    right.plot(sizes, [1.5 * row["floor_read_us"] for row in rows], color="grey", linewidth=1,
               label="1.5 × bare GET (target)")  # fmt: skip
    right.set_xscale("log")
    right.set_ylim(bottom=0)
    right.set_xlabel("live jobs")
    right.set_ylabel("client CPU µs per request")
    right.set_title("CPU per poll")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "scale.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the scale benchmark from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="numbers of live jobs (1000 10000 100000)")  # fmt: skip
    parser.add_argument("--rate", type=int, default=1000, help="polls per second allowed (1000)")
    parser.add_argument("--window", type=float, default=4.0, help="seconds per CPU window (4)")
    parser.add_argument("--windows", type=int, default=3, help="CPU windows per size (3)")
    parser.add_argument("--freeze", action="store_true",
                        help="gc.freeze() once every job was polled once (the README's recipe)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="where JSON and PNG go")
    parser.add_argument("--create", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.create:
        url, key, count, path = args.create
        ids = asyncio.run(create_jobs(url, key, int(count)))
        Path(path).write_text(json.dumps(ids))
        return 0
    if args.probe:
        probe = Probe(**json.loads(args.probe[0]))
        Path(args.probe[1]).write_text(
            json.dumps(asyncio.run(measure(probe, Path(probe.ids_file).read_bytes())))
        )
        return 0

    result = run(sorted(args.sizes), args.rate, args.window, args.windows, freeze=args.freeze)
    print()
    print(render_table(result["sizes"]))
    path = write_json(
        "scale.json",
        {
            "machine": machine(),
            "settings": {
                "rate": args.rate,
                "window": args.window,
                "windows": args.windows,
                "freeze": args.freeze,
            },
            **result,
        },
        args.out,
    )
    chart = draw_chart(result["sizes"], args.out)
    print(f"\nwrote {path} and {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
