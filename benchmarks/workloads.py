"""The scheduler on workloads it was not tuned on: this code against an earlier commit, side by side.

Each workload is one command (``python -m benchmarks.workloads c3``); each run starts a fresh
simulator process (``benchmarks._simserve``, same seed for both versions) and runs the client in a
child process, importing ``imaginepro_async`` either from this tree (``after``) or from
``git archive BASE`` (``before``). Every job is an ``imagine``; each is submitted in its own task
and awaited. Times are simulated seconds.

Workloads (issue 14):

- ``c3``: the documented default account, C = 3, 150 jobs of 30-90 s;
- ``bimodal``: C = 10, 100 jobs, 20 % of 10 s and 80 % of 300 s;
- ``failpart``: C = 10, 200 jobs of 30-90 s, 20 % failing part-way;
- ``polls0`` and ``polls0.3``: 30 jobs of 150 s polled far more often than the budget allows, at
  a round trip of 0 and 0.3 s: the poll rate reached, paced by answer (default) and by send;
- ``creates``: 40 quick jobs with the server answering 1 s after it processed each (latency after
  processing): the create rate as a share of the 1 per 3 s limit.

Issue 19: ``uniform``, ``c3-60``, ``bimodal60``, ``lognormal``, ``short`` (see ``WORKLOADS``), and
two where the server slows down part-way, durations drawn at creation: ``slow10`` (C = 10, 120
jobs, the first 40 of 20-40 s, then 200-300 s) and ``slow3`` (C = 10, 150 jobs, the first 50 of
30-90 s, then 100-250 s).

Writes ``benchmarks/results/workloads_<name>.json`` and ``workloads_<name>.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import heapq
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    REPO,
    RESULTS,
    SimClock,
    SimulatorProcess,
    code_version,
    cpu_seconds,
    machine,
    median,
    percentile,
    table,
    write_json,
)

BASE = "8055747"  # the commit before issue 19's work (issue 14's was 302f834)
CREATE_INTERVAL = 3.0  # the documented limit on job-creating requests: 1 per 3 s


@dataclasses.dataclass(frozen=True)
class Workload:
    """One workload: the account, the jobs, the simulator's settings."""

    name: str
    jobs: int
    concurrency: int
    durations: tuple[Any, ...] = ("uniform", 30.0, 90.0)
    failure_rate: float = 0.0
    latency_before: float = 0.0
    latency_after: float = 0.0
    time_scale: float = 20.0
    seed: int = 14
    versions: tuple[str, ...] = ("before", "after")
    options: tuple[tuple[str, Any], ...] = ()  # client options (poll_policy: PollPolicy fields)

    def simulator(self) -> dict[str, Any]:
        """The ``_simserve`` configuration."""
        return {
            "time_scale": self.time_scale,
            "seed": self.seed,
            "concurrency": self.concurrency,
            "durations": list(self.durations),
            "failure_rate": self.failure_rate,
            "latency_before": self.latency_before,
            "latency_after": self.latency_after,
        }

    def longest(self) -> float:
        """The longest duration a job can have (API seconds)."""
        if self.durations[0] == "lognormal":
            return float(self.durations[3])
        if self.durations[0] == "slowdown":
            return max(float(d) for d in self.durations[2:6])
        return max(float(d) for d in self.durations[1:3])

    def real_timeout(self) -> float:
        """Real seconds a run may take at most."""
        longest = self.longest()
        work = self.jobs * longest / self.concurrency + self.jobs * CREATE_INTERVAL
        return (work + 2 * longest + 900) / self.time_scale + 30


WORKLOADS = {
    w.name: w
    for w in (
        Workload(name="c3", jobs=150, concurrency=3, time_scale=40.0),
        Workload(name="bimodal", jobs=100, concurrency=10, durations=("bimodal", 10.0, 300.0, 0.2)),
        Workload(name="failpart", jobs=200, concurrency=10, failure_rate=0.2),
        *(
            Workload(
                name=f"polls{rtt:g}",
                jobs=30,
                concurrency=30,
                durations=("uniform", 150.0, 150.0),
                latency_after=rtt,
                versions=("pace-answer", "pace-send"),
                # Far more demand than the budget: the poll rate is the budget's.
                options=(("poll_policy", {"fresh_interval": 0.3, "budget_share": 1.0}),),
            )
            for rtt in (0.0, 0.3)
        ),
        # Issue 19: workloads the admission rule of issue 14 was not tuned on.
        Workload(name="uniform", jobs=100, concurrency=10),
        Workload(name="c3-60", jobs=60, concurrency=3),
        Workload(
            name="bimodal60", jobs=60, concurrency=10, durations=("bimodal", 10.0, 300.0, 0.2)
        ),
        Workload(
            name="lognormal",
            jobs=100,
            concurrency=10,
            durations=("lognormal", 60.0, 1.0, 800.0),
        ),
        Workload(name="short", jobs=60, concurrency=10, durations=("uniform", 10.0, 12.0)),
        # The server slows down part-way (durations drawn at creation): the queue built on the
        # durations learnt before must not time out (PollPolicy.queue_horizon).
        Workload(
            name="slow10",
            jobs=120,
            concurrency=10,
            durations=("slowdown", 40, 20.0, 40.0, 200.0, 300.0),
        ),
        Workload(
            name="slow3",
            jobs=150,
            concurrency=10,
            durations=("slowdown", 50, 30.0, 90.0, 100.0, 250.0),
        ),
        Workload(name="failpart60", jobs=120, concurrency=10, failure_rate=0.2, time_scale=20.0),
        Workload(
            name="creates",
            jobs=40,
            concurrency=100,
            durations=("uniform", 5.0, 10.0),
            latency_after=1.0,
        ),
    )
}


# -- the client's side (in a child process) -------------------------------------------------------


async def run_client(task: dict[str, Any]) -> dict[str, Any]:
    """Submit every job in its own task and await it; when each was seen ended."""
    import anyio

    from imaginepro_async import ImagineProClient, ImagineProError, JobFailedError, PollPolicy

    options = dict(task.get("options", {}))
    if "poll_policy" in options:
        options["poll_policy"] = PollPolicy(**options["poll_policy"])
    clock = SimClock.sync(task["url"], task["time_scale"])
    detected: dict[str, tuple[float, str]] = {}
    errors = 0
    origin = clock.sim()
    cpu = cpu_seconds()
    async with ImagineProClient(
        task["api_key"],
        base_url=task["url"],
        time_scale=task["time_scale"],
        seed=task["seed"],
        **options,
    ) as client:

        async def one(index: int) -> None:
            nonlocal errors
            try:
                job = await client.imagine(f"a lighthouse, number {index}", ref=f"job-{index}")
            except ImagineProError:
                errors += 1
                return
            try:
                status = (await job).status.value
            except JobFailedError:
                status = "FAIL"
            except ImagineProError:
                status = "ERROR"
            detected[job.message_id] = (clock.sim(), status)

        with anyio.move_on_after(task["deadline"]):
            async with anyio.create_task_group() as tasks:
                for index in range(task["jobs"]):
                    tasks.start_soon(one, index)
    return {
        "origin": origin,
        "detected": detected,
        "submit_errors": errors,
        "cpu_seconds": cpu_seconds() - cpu,
        "clock_error": clock.error,
    }


def child_main() -> None:
    """The child process's entry point: ``task.json out.json`` in argv."""
    task = json.loads(sys.argv[1])
    result = asyncio.run(run_client(task))
    Path(sys.argv[2]).write_text(json.dumps(result))


# -- one run of one version ----------------------------------------------------------------------


def code_tree(version: str, commit: str, scratch: Path) -> Path:
    """Where ``imaginepro_async`` of ``version`` is: ``git archive commit`` (``after`` may be
    ``"tree"``: this working tree as it is)."""
    if commit == "tree":
        return REPO
    target = scratch / version
    if not target.exists():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit, "imaginepro_async"],
            cwd=REPO,
            check=True,
            capture_output=True,
        ).stdout
        target.mkdir()
        tar_path = scratch / f"{version}.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(target, filter="data")
    return target


#: Versions that run the 'after' code with client options.
VARIANTS: dict[str, dict[str, Any]] = {
    "pace-answer": {"poll_pacing": "answer"},
    "pace-send": {"poll_pacing": "send"},
}


def run_once(workload: Workload, version: str, code: Path) -> dict[str, Any]:
    """A fresh simulator, one client run with ``code``, and what happened."""
    sim = SimulatorProcess(time_scale=workload.time_scale, seed=workload.seed, concurrency=1)
    sim.args = [sys.executable, "-m", "benchmarks._simserve", json.dumps(workload.simulator())]
    with sim, tempfile.TemporaryDirectory() as tmp:
        task = {
            "url": sim.url,
            "api_key": sim.api_key,
            "jobs": workload.jobs,
            "time_scale": workload.time_scale,
            "seed": workload.seed,
            "deadline": workload.real_timeout(),
            "options": {**dict(workload.options), **VARIANTS.get(version, {})},
        }
        out = Path(tmp) / "seen.json"
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from benchmarks.workloads import child_main; child_main()",
                json.dumps(task),
                str(out),
            ],
            check=True,
            timeout=workload.real_timeout() + 60,
            cwd=code,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        seen = json.loads(out.read_text())
        timelines = sim.admin("GET", "/jobs")
        stats = sim.admin("GET", "/stats")
    result = analyse(workload, seen, timelines, stats)
    result.update(version=version, wall_seconds=time.monotonic() - started)
    return result


def fifo_reference(jobs: Sequence[dict[str, Any]], concurrency: int, origin: float) -> float:
    """When the server's schedule would end: FIFO on ``concurrency`` slots, each job available at
    its earliest creation (1 per 3 s), with the durations it really ran."""
    slots = [0.0] * concurrency
    end = 0.0
    for index, job in enumerate(jobs):
        if job["started"] is None or job["finished"] is None or "timed out" in (job["error"] or ""):
            continue  # never ran, or ran into its timeout: its duration is unknown
        free = heapq.heappop(slots)
        start = max(free, index * CREATE_INTERVAL)
        finish = start + job["finished"] - job["started"]
        heapq.heappush(slots, finish)
        end = max(end, finish)
    return origin + end


def analyse(
    workload: Workload,
    seen: dict[str, Any],
    timelines: list[dict[str, Any]],
    stats: dict[str, Any],
) -> dict[str, Any]:
    """The numbers of one run."""
    detected = {k: tuple(v) for k, v in seen["detected"].items()}
    key = "messageId" if timelines and "messageId" in timelines[0] else "message_id"
    jobs = sorted((j for j in timelines if j["endpoint"] == "imagine"), key=lambda j: j["created"])
    done_lags: list[float] = []
    fail_lags: list[float] = []
    timeline: list[dict[str, Any]] = []
    queue_timeouts = 0
    for job in jobs:
        at = detected.get(job[key])
        if job["status"] == "FAIL" and "timed out" in (job["error"] or ""):
            queue_timeouts += 1  # waited in the queue so long that it could not end in time
        elif at is not None and job["finished"] is not None:
            (done_lags if job["status"] == "DONE" else fail_lags).append(at[0] - job["finished"])
        timeline.append(
            {
                "created": job["created"],
                "started": job["started"],
                "finished": job["finished"],
                "detected": None if at is None else at[0],
                "status": job["status"],
            }
        )
    first = jobs[0]["created"] if jobs else 0.0
    client_end = max((at for at, _ in detected.values()), default=first)
    reference = fifo_reference(jobs, workload.concurrency, first)
    creates = [j["created"] for j in jobs]
    span = creates[-1] - creates[0] if len(creates) > 1 else float("nan")
    fetches = stats["by_endpoint"].get("fetch", 0)
    return {
        "jobs": workload.jobs,
        "created": len(jobs),
        "done": sum(1 for j in jobs if j["status"] == "DONE"),
        "failed": sum(1 for j in jobs if j["status"] == "FAIL"),
        "queue_timeouts": queue_timeouts,
        "lost": workload.jobs - len(detected),
        "rate_limited": stats["rate_limited"],
        "makespan_vs_reference": (client_end - first) / (reference - first)
        if reference > first
        else float("nan"),
        "done_lag_p50": percentile(done_lags, 50),
        "done_lag_p99": percentile(done_lags, 99),
        "fail_lag_p50": percentile(fail_lags, 50),
        "fail_lag_p99": percentile(fail_lags, 99),
        "polls_per_job": fetches / max(1, len(jobs)),
        "polls_per_second": fetches / max(1e-9, client_end - first),
        "create_share": (len(creates) - 1) * CREATE_INTERVAL / span if span == span else span,
        "cpu_seconds": seen["cpu_seconds"],
        "clock_error": seen["clock_error"],
        "timeline": timeline,
    }


# -- reporting -----------------------------------------------------------------------------------

COLUMNS = (
    ("done", "done"),
    ("failed", "failed"),
    ("queue_timeouts", "timed out"),
    ("lost", "lost"),
    ("rate_limited", "429s"),
    ("makespan_vs_reference", "makespan / FIFO ref"),
    ("done_lag_p50", "DONE lag p50"),
    ("done_lag_p99", "DONE lag p99"),
    ("fail_lag_p50", "FAIL lag p50"),
    ("fail_lag_p99", "FAIL lag p99"),
    ("polls_per_job", "polls/job"),
    ("polls_per_second", "polls/s"),
    ("create_share", "creates / limit"),
)


def summarise(runs: Sequence[dict[str, Any]], versions: Sequence[str]) -> list[dict[str, Any]]:
    """Per version, the median of each column over its runs (and the range)."""
    rows = []
    for version in versions:
        mine = [r for r in runs if r["version"] == version]
        row: dict[str, Any] = {"version": version, "runs": len(mine)}
        for key, _ in COLUMNS:
            values = [float(r[key]) for r in mine]
            row[key] = median(values)
            row[key + "_range"] = [min(values), max(values)]
        rows.append(row)
    return rows


def draw(workload: Workload, runs: Sequence[dict[str, Any]], path: Path) -> None:
    """Per version (its last run), jobs created / started / ended / seen ended over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    versions = sorted({r["version"] for r in runs}, reverse=True)
    fig, axes = plt.subplots(len(versions), 1, figsize=(9, 3 * len(versions)), squeeze=False)
    for ax, version in zip(axes[:, 0], versions, strict=True):
        run = [r for r in runs if r["version"] == version][-1]
        rows = run["timeline"]
        origin = min((r["created"] for r in rows), default=0.0)
        for field, style in (("created", ":"), ("started", "--"), ("finished", "-"),
                             ("detected", "-")):  # fmt: skip
            times = sorted(r[field] - origin for r in rows if r[field] is not None)
            ax.step(times, range(1, len(times) + 1), where="post", linestyle=style,
                    linewidth=2 if field == "detected" else 1, label=field)  # fmt: skip
        ax.set_title(
            f"{workload.name} ({version}): {run['done']} done, {run['failed']} failed "
            f"({run['queue_timeouts']} timed out queued), DONE lag p99 "
            f"{run['done_lag_p99']:.2f} s, FAIL lag p99 {run['fail_lag_p99']:.2f} s",
            fontsize=9,
        )
        ax.set_ylabel("jobs")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=7)
    axes[-1, 0].set_xlabel("simulated seconds since the first creation")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run one workload, before and after, and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workloads", description=__doc__)
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--runs", type=int, default=1, help="runs per version (1)")
    parser.add_argument("--versions", nargs="+", default=None,
                        choices=["before", "after", *VARIANTS],
                        help="which versions (the workload's: before and after, or the "
                        "two poll pacings)")  # fmt: skip
    parser.add_argument("--base", default=BASE, help=f"the 'before' commit ({BASE})")
    parser.add_argument("--after", default="HEAD",
                        help="the 'after' commit (HEAD); 'tree': the working tree")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=None, help="override the number of jobs")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="simulator seeds, one run per seed and version (else the "
                        "workload's seed, --runs times)")  # fmt: skip
    parser.add_argument("--time-scale", type=float, default=None,
                        help="override the workload's time scale (20 for most)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tag", default=None, help="a suffix for the result files")
    args = parser.parse_args(argv)
    workload = WORKLOADS[args.workload]
    if args.jobs is not None:
        workload = dataclasses.replace(workload, jobs=args.jobs)
    if args.time_scale is not None:
        workload = dataclasses.replace(workload, time_scale=args.time_scale)
    versions = args.versions or list(workload.versions)
    print(f"workload: {workload}", flush=True)
    runs = []
    seeds = args.seeds or [workload.seed] * args.runs
    with tempfile.TemporaryDirectory() as scratch:
        for run, seed in enumerate(seeds):
            for version in versions:
                commit = args.base if version == "before" else args.after
                code = code_tree(version, commit, Path(scratch))
                result = run_once(dataclasses.replace(workload, seed=seed), version, code)
                result["seed"] = seed
                runs.append(result)
                print(
                    f"run {run + 1} (seed {seed}) {version}: {result['makespan_vs_reference']:.3f} "
                    f"makespan/ref, {result['rate_limited']} 429s, {result['done']} done, {result['failed']} failed "
                    f"({result['queue_timeouts']} queued), DONE lag p99 "
                    f"{result['done_lag_p99']:.2f}, FAIL lag p99 {result['fail_lag_p99']:.2f}, "
                    f"{result['polls_per_job']:.1f} polls/job, "
                    f"{result['wall_seconds']:.0f} s real",
                    flush=True,
                )
    summary = summarise(runs, versions)
    print()
    print(table([[row["version"], *(row[k] for k, _ in COLUMNS)] for row in summary],
                ["version", *(title for _, title in COLUMNS)]))  # fmt: skip
    data = {
        "machine": machine(),
        "code": code_version(),
        "base": args.base,
        "after": subprocess.run(
            ["git", "rev-parse", "--short", args.after], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        or args.after,
        "workload": dataclasses.asdict(workload),
        "summary": summary,
        "runs": runs,
    }
    suffix = "" if args.tag is None else f"_{args.tag}"
    path = write_json(f"workloads_{workload.name}{suffix}.json", data, args.out)
    chart = args.out / f"workloads_{workload.name}{suffix}.png"
    draw(workload, runs, chart)
    print(f"\nwrote {path} and {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
