"""Many inpainting jobs within ImaginePro's rate limits: this SDK against what users write instead.

One workload, three contenders, each against a fresh simulator process started with the same seed
(so the same job ids and durations in creation order):

1. ``imaginepro-async``: this SDK, default policy, budgets scaled by the time scale;
2. ``official-sdk``: the ``imaginepro`` package from PyPI (synchronous, ``requests``), one thread per
   job, its own ``fetch_message`` polling every 2 s (scaled);
3. ``hand-written``: aiohttp, ``asyncio.gather`` over jobs, each ``submit; while not done: get;
   sleep(2)`` (scaled).

The two baselines are written as a careful user would: submissions are paced at the documented
1 per 3 s (a lock and a sleep) and a failed request (a 429, say) is retried after the 2 s interval
instead of giving the job up. Without that they lose every job that meets a 429.

The workload: an upscaled parent made at setup (imagine + U1, by jumping the simulated clock), then
N ``Vary (Region)`` jobs with a mask of the simulator's image size, on an account with C concurrent
jobs, durations uniform 30..90 simulated seconds, the documented rate limits on. Each contender
runs in its own process, so its CPU and RSS are its own; the simulator runs in another.

All times are simulated seconds. Writes ``benchmarks/results/compare.json`` and two PNG charts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    RESULTS,
    SimClock,
    SimulatorProcess,
    code_version,
    cpu_seconds,
    machine,
    median,
    peak_rss_bytes,
    percentile,
    rss_bytes,
    table,
    write_json,
)

CONTENDERS = ("imaginepro-async", "official-sdk", "hand-written")
IMAGE_SIZE = (256, 256)  # the simulator's default result size; masks must match it
POLL_INTERVAL = 2.0  # simulated seconds: the official SDKs' fetch interval (doc)
SUBMIT_INTERVAL = 3.0  # simulated seconds: the documented general rate limit, 1 per 3 s


@dataclasses.dataclass(frozen=True)
class Workload:
    """What every contender is asked to do."""

    jobs: int = 300
    concurrency: int = 10
    time_scale: float = 20.0
    seed: int = 5
    duration_low: float = 30.0
    duration_high: float = 90.0

    def real_timeout(self) -> float:
        """Real seconds a contender may take at most (about twice the worst case, plus slack)."""
        submitting = self.jobs * SUBMIT_INTERVAL * 1.1
        running = self.jobs * self.duration_high / self.concurrency
        return (max(submitting, running) + 2 * self.duration_high) * 2 / self.time_scale + 30


@dataclasses.dataclass(frozen=True)
class Task:
    """One contender's run against one simulator (what a child process gets)."""

    contender: str
    url: str
    api_key: str
    parent_id: str
    jobs: int
    time_scale: float
    seed: int
    deadline: float  # real seconds

    def prompt(self, index: int) -> str:
        """Job ``index``'s prompt: distinct, so that duplicate submissions can be told apart."""
        return f"a red sailboat, number {index}"


# -- the contenders (each returns what the client saw) -------------------------------------------


class Seen:
    """What a contender saw: per messageId, the simulated time it learnt the job ended."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.detected: dict[str, tuple[float, str]] = {}
        self.submit_errors = 0
        self.poll_errors = 0
        self.lock = threading.Lock()

    def ended(self, message_id: str, status: str) -> None:
        """Record that ``message_id`` was seen ended, now."""
        at = self.clock.sim()
        with self.lock:
            self.detected[message_id] = (at, status)


async def run_ours(task: Task, seen: Seen) -> None:
    """This SDK with its default policy; each job awaited in its own task."""
    import anyio

    from imaginepro_async import ImagineProClient, ImagineProError, JobFailedError, Mask
    from imaginepro_async.testing import make_mask

    mask = Mask.from_bytes(make_mask(*IMAGE_SIZE))
    async with ImagineProClient(
        task.api_key, base_url=task.url, time_scale=task.time_scale, seed=task.seed
    ) as client:

        async def one(index: int) -> None:
            try:
                job = await client.inpaint(
                    task.parent_id, mask, prompt=task.prompt(index), ref=f"job-{index}"
                )
            except ImagineProError:
                seen.submit_errors += 1
                return
            try:
                message = await job
                status = message.status.value
            except JobFailedError:
                status = "FAIL"
            except ImagineProError:
                status = "ERROR"
            seen.ended(job.message_id, status)

        with anyio.move_on_after(task.deadline):
            async with anyio.create_task_group() as tasks:
                for index in range(task.jobs):
                    tasks.start_soon(one, index)


def run_official(task: Task, seen: Seen) -> None:
    """The official SDK: one thread per job, submissions paced at 1 per 3 s, its own polling."""
    from imaginepro import ImagineProSDK
    from imaginepro.types import ImagineProSDKOptions, InpaintingParams

    from imaginepro_async.testing import make_mask

    scale = task.time_scale
    sdk = ImagineProSDK(
        ImagineProSDKOptions(
            api_key=task.api_key,
            base_url=task.url,
            default_timeout=task.deadline,  # floats work too
            fetch_interval=POLL_INTERVAL / scale,
        )
    )
    mask = base64.b64encode(make_mask(*IMAGE_SIZE)).decode()
    submit_lock = threading.Lock()
    next_submit = [0.0]
    deadline = time.monotonic() + task.deadline

    def worker(index: int) -> None:
        params = InpaintingParams(
            message_id=task.parent_id, mask=mask, prompt=task.prompt(index), ref=f"job-{index}"
        )
        message_id = None
        while message_id is None and time.monotonic() < deadline:
            with submit_lock:
                time.sleep(max(0.0, next_submit[0] - time.monotonic()))
                try:
                    message_id = sdk.inpainting(params)["messageId"]
                except Exception:
                    seen.submit_errors += 1
                    next_submit[0] = time.monotonic() + POLL_INTERVAL / scale
                    continue
                next_submit[0] = time.monotonic() + SUBMIT_INTERVAL / scale
        while message_id is not None and time.monotonic() < deadline:
            try:
                message = sdk.fetch_message(
                    message_id, timeout=max(0.0, deadline - time.monotonic())
                )
            except TimeoutError:
                return
            except Exception:  # a 429, say: the user's loop goes on polling
                seen.poll_errors += 1
                time.sleep(POLL_INTERVAL / scale)
                continue
            seen.ended(message_id, str(message["status"]))
            return

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(task.jobs)]
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        # The SDK prints every failed request; threads share sys.stdout.
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()) + 5)


async def run_hand_written(task: Task, seen: Seen) -> None:
    """aiohttp and asyncio.gather: submit (paced, 1 per 3 s), then get and sleep 2 s until done."""
    import aiohttp

    from imaginepro_async.testing import make_mask

    scale = task.time_scale
    mask = base64.b64encode(make_mask(*IMAGE_SIZE)).decode()
    headers = {"Authorization": f"Bearer {task.api_key}"}
    submit_lock = asyncio.Lock()

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        body = {
            "messageId": task.parent_id,
            "button": "Vary (Region)",
            "mask": mask,
            "prompt": task.prompt(index),
            "ref": f"job-{index}",
        }
        async with submit_lock:
            while True:
                try:
                    async with session.post(f"{task.url}/api/v1/nova/button", json=body) as r:
                        if r.status == 200:
                            message_id = (await r.json())["messageId"]
                            break
                except aiohttp.ClientError:
                    pass
                seen.submit_errors += 1
                await asyncio.sleep(POLL_INTERVAL / scale)
            await asyncio.sleep(SUBMIT_INTERVAL / scale)
        url = f"{task.url}/api/v1/message/fetch/{message_id}"
        while True:
            try:
                async with session.get(url) as r:
                    if r.status == 200:
                        message = await r.json()
                        if message["status"] in ("DONE", "FAIL"):
                            seen.ended(message_id, message["status"])
                            return
                    else:
                        seen.poll_errors += 1
            except aiohttp.ClientError:
                seen.poll_errors += 1
            await asyncio.sleep(POLL_INTERVAL / scale)

    async with aiohttp.ClientSession(headers=headers) as session:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(one(session, i) for i in range(task.jobs))), task.deadline
            )


def execute(task: Task) -> dict[str, Any]:
    """Run one contender in this process; what it saw, its CPU and its memory."""
    code = code_version()
    clock = SimClock.sync(task.url, task.time_scale)
    seen = Seen(clock)
    rss_start = rss_bytes()
    cpu_start = cpu_seconds()
    wall_start = time.monotonic()
    origin = clock.sim(wall_start)
    if task.contender == "imaginepro-async":
        asyncio.run(run_ours(task, seen))
    elif task.contender == "official-sdk":
        run_official(task, seen)
    elif task.contender == "hand-written":
        asyncio.run(run_hand_written(task, seen))
    else:
        raise ValueError(f"unknown contender {task.contender!r}; pick one of {CONTENDERS}")
    return {
        "origin": origin,
        "detected": seen.detected,
        "submit_errors": seen.submit_errors,
        "poll_errors": seen.poll_errors,
        "cpu_seconds": cpu_seconds() - cpu_start,
        "wall_seconds": time.monotonic() - wall_start,
        "rss_start_bytes": rss_start,
        "peak_rss_bytes": peak_rss_bytes(),
        "clock_error": clock.error,
        "code": code,
    }


# -- one contender against a fresh simulator -----------------------------------------------------


def run_contender(workload: Workload, contender: str, *, isolate: bool = True) -> dict[str, Any]:
    """Start a simulator, set up the parent, run ``contender``, and measure what happened.

    Args:
        workload: the workload.
        contender: one of ``CONTENDERS``.
        isolate: run the contender in a child process (clean CPU and RSS figures); False runs it
            in this process (the smoke test).
    """
    with SimulatorProcess(
        time_scale=workload.time_scale,
        seed=workload.seed,
        concurrency=workload.concurrency,
        duration_range=(workload.duration_low, workload.duration_high),
    ) as sim:
        task = Task(
            contender=contender,
            url=sim.url,
            api_key=sim.api_key,
            parent_id=sim.make_upscaled_parent(),
            jobs=workload.jobs,
            time_scale=workload.time_scale,
            seed=workload.seed,
            deadline=workload.real_timeout(),
        )
        seen = _in_child(task) if isolate else execute(task)
        timelines = sim.admin("GET", "/jobs")
        stats = sim.admin("GET", "/stats")
        duplicates = sim.admin("GET", "/bodies?min_count=2")
    return analyse(workload, task, seen, timelines, stats, duplicates)


def _in_child(task: Task) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "seen.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.compare",
                "--child",
                json.dumps(dataclasses.asdict(task)),
                str(out),
            ],
            check=True,
            timeout=task.deadline + 60,
            cwd=Path(__file__).resolve().parent.parent,
        )
        result: dict[str, Any] = json.loads(out.read_text())
    result["detected"] = {k: tuple(v) for k, v in result["detected"].items()}
    return result


def analyse(
    workload: Workload,
    task: Task,
    seen: dict[str, Any],
    timelines: list[dict[str, Any]],
    stats: dict[str, Any],
    duplicates: list[dict[str, Any]],
) -> dict[str, Any]:
    """The numbers of one contender from what it saw and what the simulator recorded."""
    origin: float = seen["origin"]
    server = {j["messageId" if "messageId" in j else "message_id"]: j for j in timelines}
    ours = {k: j for k, j in server.items() if j["button"] == "Vary (Region)"}
    detected: dict[str, tuple[float, str]] = seen["detected"]
    finished = sum(1 for _, status in detected.values() if status == "DONE")
    failed = sum(1 for _, status in detected.values() if status != "DONE")
    lags, done_lags, per_job = [], [], []
    for message_id, job in sorted(ours.items(), key=lambda kv: kv[1]["created"]):
        seen_at = detected.get(message_id)
        if seen_at is not None and job["finished"] is not None:
            lags.append(seen_at[0] - job["finished"])
            if job["status"] == "DONE":
                done_lags.append(seen_at[0] - job["finished"])
        per_job.append(
            {
                "id": message_id,
                "created": job["created"] - origin,
                "started": None if job["started"] is None else job["started"] - origin,
                "finished": None if job["finished"] is None else job["finished"] - origin,
                "detected": None if seen_at is None else seen_at[0] - origin,
                "status": job["status"],
            }
        )
    server_end = max((j["finished"] for j in ours.values() if j["finished"] is not None), default=0)
    client_end = max((at for at, _ in detected.values()), default=0.0)
    by_endpoint: dict[str, int] = stats["by_endpoint"]
    jobs = workload.jobs
    return {
        "contender": task.contender,
        "jobs": jobs,
        "finished": finished,
        "failed": failed,
        "lost": jobs - finished - failed,
        "created_on_server": len(ours),
        "duplicates": sum(d["count"] - 1 for d in duplicates if d["endpoint"] == "button"),
        "rate_limited": stats["rate_limited"],
        "makespan_client": client_end - origin,
        "makespan_server": server_end - origin,
        "makespan_ratio": (client_end - origin) / (server_end - origin)
        if server_end > origin
        else float("nan"),
        "lag_p50": percentile(lags, 50),
        "lag_p99": percentile(lags, 99),
        "lag_max": max(lags, default=float("nan")),
        "lag_done_p50": percentile(done_lags, 50),
        "lag_done_p99": percentile(done_lags, 99),
        "progress_requests": by_endpoint.get("fetch", 0),
        "progress_per_job": by_endpoint.get("fetch", 0) / jobs,
        "total_requests": stats["requests"],
        "requests_by_status": stats["by_status"],
        "cpu_seconds": seen["cpu_seconds"],
        "cpu_per_1000_jobs": seen["cpu_seconds"] / jobs * 1000,
        "peak_rss_mib": seen["peak_rss_bytes"] / 2**20,
        "rss_growth_mib": (seen["peak_rss_bytes"] - seen["rss_start_bytes"]) / 2**20,
        "wall_seconds": seen["wall_seconds"],
        "submit_errors": seen["submit_errors"],
        "poll_errors": seen["poll_errors"],
        "clock_error": seen["clock_error"],
        "code": seen["code"],
        "lags": lags,
        "timeline": per_job,
    }


# -- reporting ---------------------------------------------------------------------------------

COLUMNS = (
    ("finished", "done"),
    ("failed", "failed"),
    ("lost", "lost"),
    ("duplicates", "dup"),
    ("rate_limited", "429s"),
    ("makespan_ratio", "makespan ratio"),
    ("lag_p50", "lag p50 s"),
    ("lag_p99", "lag p99 s"),
    ("lag_max", "lag max s"),
    ("lag_done_p99", "DONE lag p99 s"),
    ("progress_per_job", "polls/job"),
    ("total_requests", "requests"),
    ("cpu_per_1000_jobs", "CPU s/1k jobs"),
    ("peak_rss_mib", "peak RSS MiB"),
)


def summarise(runs: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per contender, the median of each column over the runs."""
    summary = []
    for index in range(len(runs[0])):
        results = [run[index] for run in runs]
        row: dict[str, Any] = {"contender": results[0]["contender"], "runs": len(results)}
        for key, _ in COLUMNS:
            values = [float(r[key]) for r in results]
            row[key] = median(values)
            row[key + "_range"] = [min(values), max(values)]
        summary.append(row)
    return summary


def render_table(summary: Sequence[dict[str, Any]]) -> str:
    """The summary as a table."""
    rows = []
    for row in summary:
        cells: list[object] = [row["contender"]]
        for key, _ in COLUMNS:
            value = row[key]
            integral = key in (
                "finished",
                "failed",
                "lost",
                "duplicates",
                "rate_limited",
                "total_requests",
            )
            cells.append(int(value) if integral and value == value else value)
        rows.append(cells)
    return table(rows, ["contender", *(title for _, title in COLUMNS)])


def draw_charts(results: Sequence[dict[str, Any]], directory: Path = RESULTS) -> list[Path]:
    """Detection lag per contender (CDF) and jobs over time; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    colors = {"imaginepro-async": "tab:blue", "official-sdk": "tab:orange", "hand-written": "tab:green"}  # fmt: skip
    paths = []

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for result in results:
        lags = sorted(max(lag, 1e-3) for lag in result["lags"])
        if lags:
            ys = [(i + 1) / len(lags) for i in range(len(lags))]
            label = (
                f"{result['contender']}: p50 {result['lag_p50']:.2f} s, "
                f"p99 {result['lag_p99']:.2f} s"
            )
            ax.step(lags, ys, where="post", label=label, color=colors.get(result["contender"]))
    ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.axvline(3.0, color="grey", linestyle="--", linewidth=1)
    ax.text(1.0, 1.01, "p50 target", color="grey", fontsize=8, ha="center",
            transform=ax.get_xaxis_transform())  # fmt: skip
    ax.text(3.0, 1.01, "p99 target", color="grey", fontsize=8, ha="left",
            transform=ax.get_xaxis_transform())  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("detection lag: client saw it end − server ended it (simulated s, log)")
    ax.set_ylabel("fraction of jobs")
    ax.set_title(
        f"Detection lag, {results[0]['jobs']} inpainting jobs (ended DONE or FAIL)", pad=14
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = directory / "compare_lag.png"
    fig.savefig(path)
    plt.close(fig)
    paths.append(path)

    panels = len(results) + 1
    fig, axes = plt.subplots(panels, 1, figsize=(9, 2.4 * panels + 0.6), dpi=110, sharex=True,
                             squeeze=False)  # fmt: skip
    for ax, result in zip(axes[:-1, 0], results, strict=True):
        rows = result["timeline"]
        for key, label, style in (
            ("created", "submitted (created on server)", ":"),
            ("started", "started on server", "--"),
            ("finished", "ended on server (DONE or FAIL)", "-"),
            ("detected", "seen ended by the client", "-"),
        ):
            times = sorted(r[key] for r in rows if r[key] is not None)
            counts = list(range(1, len(times) + 1))
            color = colors.get(result["contender"]) if key == "detected" else "black"
            width = 2.2 if key == "detected" else 1.0
            ax.step(times, counts, where="post", linestyle=style, color=color,
                    linewidth=width, label=label)  # fmt: skip
        ax.set_title(
            f"{result['contender']}: {result['finished']} done, {result['failed']} failed, "
            f"{result['lost']} lost, {result['rate_limited']:,} 429s, "
            f"{result['progress_per_job']:.1f} polls/job",
            fontsize=9,
        )
        ax.set_ylabel("jobs")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=7)
    ax = axes[-1, 0]
    for result in results:
        events = sorted(
            [(r["finished"], 1) for r in result["timeline"] if r["finished"] is not None]
            + [(r["detected"], -1) for r in result["timeline"] if r["detected"] is not None]
        )
        times, unseen, level = [0.0], [0], 0
        for at, step in events:
            level += step
            times.append(at)
            unseen.append(level)
        ax.step(times, unseen, where="post", color=colors.get(result["contender"]),
                label=result["contender"], linewidth=1.2)  # fmt: skip
    ax.set_title("jobs ended on the server but not yet seen by the client", fontsize=9)
    ax.set_ylabel("jobs")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=7)
    axes[-1, 0].set_xlabel("simulated seconds since the first submission")
    fig.tight_layout()
    path = directory / "compare_timeline.png"
    fig.savefig(path)
    plt.close(fig)
    paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Run the comparison from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    defaults = Workload()
    parser.add_argument("--jobs", type=int, default=defaults.jobs, help="inpainting jobs (300)")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency,
                        help="the account's concurrent-job limit (10)")  # fmt: skip
    parser.add_argument("--time-scale", type=float, default=defaults.time_scale,
                        help="simulated seconds per real second (20)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=defaults.seed, help="simulator seed (5)")
    parser.add_argument("--runs", type=int, default=1, help="repeat and report medians (1)")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS),
                        help="which contenders to run (all)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="where JSON and PNGs go")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        task = Task(**json.loads(args.child[0]))
        Path(args.child[1]).write_text(json.dumps(execute(task)))
        return 0

    workload = Workload(
        jobs=args.jobs,
        concurrency=args.concurrency,
        time_scale=args.time_scale,
        seed=args.seed,
    )
    print(f"workload: {workload}", flush=True)
    runs = []
    for run in range(args.runs):
        results = []
        for contender in args.contenders:
            started = time.monotonic()
            result = run_contender(workload, contender)
            print(
                f"run {run + 1}/{args.runs} {contender}: {result['finished']} done, "
                f"{result['lost']} lost, makespan ratio {result['makespan_ratio']:.3f}, "
                f"lag p50/p99 {result['lag_p50']:.2f}/{result['lag_p99']:.2f} s, "
                f"{result['progress_per_job']:.2f} polls/job, "
                f"{time.monotonic() - started:.0f} s real",
                flush=True,
            )
            results.append(result)
        runs.append(results)
    summary = summarise(runs)
    print()
    print(render_table(summary))
    path = write_json(
        "compare.json",
        {
            "machine": machine(),
            "workload": dataclasses.asdict(workload),
            "summary": summary,
            "runs": runs,
        },
        args.out,
    )
    charts = draw_charts(runs[-1], args.out)
    print(f"\nwrote {path} and {', '.join(str(p) for p in charts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
