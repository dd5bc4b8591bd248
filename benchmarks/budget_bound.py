"""Budget-bound workloads against an offline reference that knows every job's end.

- ``attached``: 5,000 running jobs (30-90 s) attached by id (``client.job``), as after a restart;
- ``attached500``: the same with 500 jobs, most still running at their first look;
- ``newwhile``: 2,000 long jobs (300-1,200 s) attached by id, then 200 new jobs submitted.

The jobs to attach are created with the simulator's rate limits off (setup), which are then put
back (1 per 3 s, 10 per s) for the client. The **reference** polls each job once, right at its end
(it knows them), at most 10 polls per second in end order: the best any client can do within the
budget. Reported: the makespan ratio (client's last seen end over the reference's) and the lag of
the jobs (``attached``) or of the new jobs (``newwhile``), ours and the reference's; how many new
jobs were first polled after they had ended; the end-to-end ratio (first attach to the last end
seen, over N polls at the limit: issue 19's target), the polls, polls per job, the share of the
attached jobs still running at their first look, and the poll rate reached.
``python -m benchmarks.budget_bound attached``.
Writes ``benchmarks/results/budget_<name>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import REPO, RESULTS, SimClock, SimulatorProcess, machine, percentile
from benchmarks._common import table as render
from benchmarks.workloads import BASE, code_tree

POLL_RATE = 10.0
SCALE = 20.0
SETUPS: dict[str, dict[str, Any]] = {
    "attached": {"attach": 5000, "new": 0, "durations": ["uniform", 30, 90]},
    "attached500": {"attach": 500, "new": 0, "durations": ["uniform", 30, 90]},
    "newwhile": {"attach": 2000, "new": 200, "durations": ["uniform", 300, 1200]},
}
LIMITS_ON = {"general": {"requests": 1, "per": 3.0}, "progress": {"requests": 10, "per": 1.0}}


async def run_client(task: dict[str, Any]) -> dict[str, Any]:
    """Attach every id, submit the new jobs, await all; when each was seen ended."""
    import anyio

    from imaginepro_async import ImagineProClient, ImagineProError

    scale = float(task["time_scale"])
    clock = SimClock.sync(task["url"], scale)
    seen: dict[str, float] = {}
    async with ImagineProClient(task["api_key"], base_url=task["url"], time_scale=scale) as client:

        async def follow(job: Any) -> None:
            with contextlib.suppress(ImagineProError):
                await job
            seen[job.message_id] = clock.sim()

        async def submit(index: int, tasks: Any) -> None:
            job = await client.imagine(f"new job {index}")
            tasks.start_soon(follow, job)

        first_attach = clock.sim()
        with anyio.move_on_after(task["deadline"]):
            async with anyio.create_task_group() as tasks:
                for message_id in task["ids"]:  # in creation order: the oldest first
                    tasks.start_soon(follow, client.job(message_id))
                for index in range(task["new"]):
                    await submit(index, tasks)
    return {"seen": seen, "first_attach": first_attach}


def child_main() -> None:
    """The child process's entry point."""
    task = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps(asyncio.run(run_client(task))))


def reference(ends: list[float], start: float) -> list[float]:
    """The oracle's detection time per end (sorted): one poll per end, 10 per second."""
    free, out = start, []
    for end in sorted(ends):
        at = max(free, end)
        out.append(at)
        free = at + 1.0 / POLL_RATE
    return out


def run_once(
    name: str, version: str, code: Path, raw: Path | None = None, scale: float = SCALE
) -> dict[str, Any]:
    """A fresh simulator with the attached jobs, one client run, the numbers (``raw``: a
    directory to write every job's timeline and every poll to, for a closer look)."""
    setup = SETUPS[name]
    sim = SimulatorProcess(time_scale=scale, seed=14, concurrency=1)
    config: dict[str, Any] = {"time_scale": scale, "seed": 14, "concurrency": 100_000}
    config["durations"] = setup["durations"]
    sim.args = [sys.executable, "-m", "benchmarks._simserve", json.dumps(config)]
    with sim, tempfile.TemporaryDirectory() as tmp:
        sim.call("PUT", "/_simulator/rate-limits", {"general": None, "progress": None})
        ids = [
            sim.call("POST", "/api/v1/nova/imagine", {"prompt": f"old {i}"}, auth=True)["messageId"]
            for i in range(int(setup["attach"]))
        ]
        sim.call("PUT", "/_simulator/rate-limits", LIMITS_ON)
        sim.admin("POST", "/reset")
        start = sim.now()
        task: dict[str, Any] = {
            "url": sim.url,
            "api_key": sim.api_key,
            "ids": ids,
            "new": setup["new"],
            "time_scale": scale,
        }
        task["deadline"] = 2000.0 / scale * 4 + 60
        (Path(tmp) / "task.json").write_text(json.dumps(task))
        out = Path(tmp) / "seen.json"
        subprocess.run(
            [sys.executable, "-c", "from benchmarks.budget_bound import child_main; child_main()",
             str(Path(tmp) / "task.json"), str(out)],
            check=True, cwd=code, env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=float(task["deadline"]) + 60,
        )  # fmt: skip
        answer = json.loads(out.read_text())
        seen: dict[str, float] = answer["seen"]
        first_attach = float(answer["first_attach"])
        jobs = sim.admin("GET", "/jobs")
        requests = sim.admin("GET", "/requests")
    key = "messageId" if "messageId" in jobs[0] else "message_id"
    old = set(ids)
    ended = {j[key]: j["finished"] for j in jobs if j["finished"] is not None}
    new_ids = [j[key] for j in jobs if j[key] not in old]
    first_poll: dict[str, float] = {}
    polls = [r for r in requests if r["endpoint"] == "fetch"]
    for r in polls:
        tail = r["path"].rsplit("/", 1)[-1]
        if tail not in first_poll:
            first_poll[tail] = r["time"]
    # Attached jobs still running at their first look: each needs another poll at least.
    running_first = sum(1 for i in ids if i in ended and first_poll.get(i, -1.0) < ended[i])
    bound = len(ended) / POLL_RATE  # N polls at the limit
    if raw is not None:
        raw.mkdir(parents=True, exist_ok=True)
        dump = {"start": start, "first_attach": first_attach, "ids": ids, "jobs": jobs,
                "seen": seen, "polls": [[r["time"], r["path"], r["status"]] for r in polls]}  # fmt: skip
        (raw / f"{name}_{version}.json").write_text(json.dumps(dump))
    poll_span = max(r["time"] for r in polls) - min(r["time"] for r in polls) if polls else 0.0
    ours = [seen[i] - ended[i] for i in ended if i in seen]
    oracle = reference(list(ended.values()), start)
    oracle_lags = [d - e for d, e in zip(oracle, sorted(ended.values()), strict=True)]
    new_lags = [seen[i] - ended[i] for i in new_ids if i in seen and i in ended]
    return {
        "version": version,
        "jobs_ended": len(ended),
        "makespan_ratio": (max(seen.values()) - start) / (max(oracle) - start),
        # Issue 19's target: first attach to the last job seen ended, over N polls at the limit.
        "end_to_end_ratio": (max(seen.values()) - first_attach) / bound,
        "startup_s": first_attach - start,
        "polls": len(polls),
        "polls_per_job": len(polls) / max(1, len(ended)),
        "running_at_first_look": running_first / max(1, len(ids)),
        "polls_per_s": (len(polls) - 1) / poll_span if poll_span > 0 else math.nan,
        "lag_p50": percentile(ours, 50),
        "lag_p99": percentile(ours, 99),
        "reference_lag_p50": percentile(oracle_lags, 50),
        "reference_lag_p99": percentile(oracle_lags, 99),
        "new_lag_p50": percentile(new_lags, 50),
        "new_lag_p99": percentile(new_lags, 99),
        "new_first_polled_after_end": sum(
            1 for i in new_ids if i in ended and first_poll.get(i, 1e18) > ended[i]
        ),
        "rate_limited": sim_rate_limited(requests),
    }


def sim_rate_limited(requests: list[dict[str, Any]]) -> int:
    """429s in the request log."""
    return sum(1 for r in requests if r["status"] == 429)


def main(argv: list[str] | None = None) -> int:
    """One budget-bound workload, before and after."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget_bound")
    parser.add_argument("workload", choices=sorted(SETUPS))
    parser.add_argument("--versions", nargs="+", default=["before", "after"])
    parser.add_argument("--before", default=BASE, help=f"the 'before' commit ({BASE})")
    parser.add_argument("--after", default="HEAD", help="the 'after' commit; 'tree': this tree")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--time-scale", type=float, default=SCALE,
                        help=f"simulated seconds per real second ({SCALE:g})")  # fmt: skip
    parser.add_argument("--raw", type=Path, default=None,
                        help="a directory for every job's timeline and every poll (large)")  # fmt: skip
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for version in args.versions:
            commit = args.before if version == "before" else args.after
            started = time.monotonic()
            result = run_once(
                args.workload,
                version,
                code_tree(version, commit, Path(scratch)),
                args.raw,
                args.time_scale,
            )
            print(f"{version}: {result} ({time.monotonic() - started:.0f} s real)", flush=True)
            results.append(result)
    columns = [k for k in results[0] if k != "version"]
    print(
        render([[r["version"], *(r[k] for k in columns)] for r in results], ["version", *columns])
    )
    path = args.out / f"budget_{args.workload}.json"
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), "results": results}, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
