"""Detection lag against polls per job: the scheduler's poll spends beside fixed-interval pollers.

Issue 19's lag–cost frontier. Two workloads, both C = 10 with jobs of 30-90 s (uniform), the
documented rate limits on (1 create per 3 s, 10 polls per s), time scale 20:

- ``standard``: every job ends DONE;
- ``failpart``: 20 % of the jobs fail part-way (the simulator fails such a job at a uniform
  fraction 0.2-0.8 of its duration, ``testing/_engine.py``; progress does not foretell it).

Contenders, each run against a fresh simulator process (``benchmarks._simserve``, same seed):

- the SDK's scheduler (this tree) at several poll spends, i.e. ``PollPolicy`` settings
  (``fresh_interval``, ``budget_share``); each job an ``imagine`` in its own task, awaited
  (``benchmarks.workloads.run_client``);
- plain fixed-interval pollers (a small aiohttp client, :func:`run_fixed`): at most C jobs in
  flight, a create whenever one of its jobs is seen ended (at most 1 per 3 s, 429 ``Retry-After``
  respected), and each job fetched every I simulated seconds, I in 0.5, 1, 2, 5, 10. Its polls are
  held to 10 per second on its side (so I = 0.5 s is limited to what the budget allows); 429s are
  counted.

Measured per contender (pooled over the seeds): polls per job (the simulator's fetches over the
jobs created; also split: while queued, from the start on), DONE and FAIL detection lag p50 / p99 /
mean (detected minus the server's end, simulated seconds) and 429s. From the simulator's own
distributions the benchmark computes the analytic bound on the mean FAIL lag with K looks per job
from each job's start (Keller 1974): ``I²/(2K)`` with ``I = ∫ √(f(t)(1 − p F(t) − (1 − p) G(t))) dt``
(``f``, ``F``: the failure time's density and distribution from the start given a failure; ``p``
the failure rate; ``G`` the duration's distribution: a job is looked at while it is alive), the
tighter one when the job's duration is known (progress tells it after a few looks), and a fixed
interval's ``E[run]/(2K)``. It then checks that, for every fixed interval, some scheduler setting
has no more polls per job and no more lag (DONE and FAIL, p50 and p99).

Run: ``python -m benchmarks.frontier [--jobs N] [--seeds S ...] [--quick]`` (``--quick``: 40 jobs,
fewer contenders). Writes ``benchmarks/results/frontier.json`` and ``frontier.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
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
    percentile,
    table,
    write_json,
)
from benchmarks.workloads import CREATE_INTERVAL, Workload

SEEDS = (19, 20)
JOBS = 80
#: The simulator fails a failing job at this fraction of its duration, uniform (``_engine.py``).
FAIL_FRACTION = (0.2, 0.8)
POLL_LIMIT = 10  # the progress endpoint's documented limit: 10 requests per second
FETCH_PATH = "/api/v1/message/fetch/"
IMAGINE_PATH = "/api/v1/nova/imagine"
SAFETY = 0.1  # simulated seconds added to each client-side window (clock mapping, scheduling)

WORKLOADS = {
    "standard": Workload(name="standard", jobs=JOBS, concurrency=10),
    "failpart": Workload(name="failpart", jobs=JOBS, concurrency=10, failure_rate=0.2),
}


@dataclasses.dataclass(frozen=True)
class Contender:
    """One poller: the SDK with a ``PollPolicy`` (``policy``) or a fixed interval (``interval``)."""

    name: str
    policy: tuple[tuple[str, float], ...] | None = None
    interval: float | None = None

    @property
    def kind(self) -> str:
        """``sdk`` or ``fixed``."""
        return "fixed" if self.interval is not None else "sdk"


SDK = (
    Contender("sdk fresh=1 share=1.0", policy=(("fresh_interval", 1.0), ("budget_share", 1.0))),
    Contender("sdk default (fresh=2)", policy=()),
    Contender("sdk fresh=5", policy=(("fresh_interval", 5.0),)),
    Contender("sdk fresh=10", policy=(("fresh_interval", 10.0),)),
    Contender("sdk fresh=30", policy=(("fresh_interval", 30.0),)),
)
FIXED = tuple(Contender(f"fixed {i:g} s", interval=i) for i in (0.5, 1.0, 2.0, 5.0, 10.0))
QUICK = (SDK[1], SDK[3], FIXED[2], FIXED[4])


# -- the fixed-interval poller (in a child process) -----------------------------------------------


async def run_fixed(task: dict[str, Any]) -> dict[str, Any]:
    """Create ``jobs`` imagine jobs, at most ``concurrency`` in flight and one per 3 s, and fetch
    each every ``interval`` simulated seconds until it ends; when each was seen ended."""
    import aiohttp

    scale = float(task["time_scale"])
    interval = float(task["interval"])
    url = task["url"]
    clock = SimClock.sync(url, scale)
    detected: dict[str, tuple[float, str]] = {}
    throttled = {"create": 0, "poll": 0}
    slots = asyncio.Semaphore(int(task["concurrency"]))
    sent: deque[float] = deque()  # simulated send times of polls within the last window
    last_create = -math.inf
    origin = clock.sim()
    cpu = cpu_seconds()

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / scale)

    async def poll_permit() -> None:
        window = 1.0 + SAFETY
        while True:
            now = clock.sim()
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) < POLL_LIMIT:
                sent.append(now)
                return
            await sleep(sent[0] + window - now)

    async def create(session: aiohttp.ClientSession, index: int) -> str:
        nonlocal last_create
        while True:
            await sleep(last_create + CREATE_INTERVAL + SAFETY - clock.sim())
            last_create = clock.sim()
            body = {"prompt": f"a lighthouse, number {index}", "ref": f"job-{index}"}
            async with session.post(url + IMAGINE_PATH, json=body) as answer:
                if answer.status == 429:
                    throttled["create"] += 1
                    await sleep(float(answer.headers.get("Retry-After", "1")))
                    continue
                answer.raise_for_status()
                message_id: str = (await answer.json())["messageId"]
                return message_id

    async def follow(session: aiohttp.ClientSession, message_id: str) -> None:
        try:
            while True:
                await sleep(interval)
                while True:
                    await poll_permit()
                    async with session.get(url + FETCH_PATH + message_id) as answer:
                        if answer.status == 429:
                            throttled["poll"] += 1
                            await sleep(float(answer.headers.get("Retry-After", "1")))
                            continue
                        answer.raise_for_status()
                        status = (await answer.json())["status"]
                        break
                if status in ("DONE", "FAIL"):
                    detected[message_id] = (clock.sim(), status)
                    return
        finally:
            slots.release()

    headers = {"Authorization": f"Bearer {task['api_key']}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        try:
            async with asyncio.timeout(task["deadline"]), asyncio.TaskGroup() as followers:
                for index in range(task["jobs"]):
                    await slots.acquire()
                    try:
                        message_id = await create(session, index)
                    except BaseException:
                        slots.release()
                        raise
                    followers.create_task(follow(session, message_id))
        except TimeoutError:
            pass
    return {
        "origin": origin,
        "detected": detected,
        "submit_errors": 0,
        "client_429s": throttled,
        "cpu_seconds": cpu_seconds() - cpu,
        "clock_error": clock.error,
    }


def fixed_child_main() -> None:
    """The fixed poller's entry point: ``task.json out.json`` in argv."""
    task = json.loads(sys.argv[1])
    result = asyncio.run(run_fixed(task))
    Path(sys.argv[2]).write_text(json.dumps(result))


# -- one run --------------------------------------------------------------------------------------


def run_once(workload: Workload, contender: Contender) -> dict[str, Any]:
    """A fresh simulator, one client run, and what happened."""
    sim = SimulatorProcess(time_scale=workload.time_scale, seed=workload.seed, concurrency=1)
    sim.args = [sys.executable, "-m", "benchmarks._simserve", json.dumps(workload.simulator())]
    with sim, tempfile.TemporaryDirectory() as tmp:
        task: dict[str, Any] = {
            "url": sim.url,
            "api_key": sim.api_key,
            "jobs": workload.jobs,
            "concurrency": workload.concurrency,
            "time_scale": workload.time_scale,
            "seed": workload.seed,
            "deadline": workload.real_timeout(),
        }
        if contender.interval is not None:
            task["interval"] = contender.interval
            entry = "from benchmarks.frontier import fixed_child_main; fixed_child_main()"
        else:
            task["options"] = {"poll_policy": dict(contender.policy or ())}
            entry = "from benchmarks.workloads import child_main; child_main()"
        out = Path(tmp) / "seen.json"
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-c", entry, json.dumps(task), str(out)],
            check=True,
            timeout=workload.real_timeout() + 60,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        wall = time.monotonic() - started
        seen = json.loads(out.read_text())
        timelines = sim.admin("GET", "/jobs")
        stats = sim.admin("GET", "/stats")
        requests = sim.admin("GET", "/requests")
    result = analyse(seen, timelines, stats, requests)
    result.update(
        workload=workload.name,
        contender=contender.name,
        kind=contender.kind,
        seed=workload.seed,
        wall_seconds=wall,
        client_429s=seen.get("client_429s"),
    )
    return result


def analyse(
    seen: dict[str, Any],
    timelines: list[dict[str, Any]],
    stats: dict[str, Any],
    requests: list[dict[str, Any]],
) -> dict[str, Any]:
    """Per job: its lag (if it ended and was seen ended) and its polls, before and from its start."""
    detected = {k: tuple(v) for k, v in seen["detected"].items()}
    jobs = {j["message_id"]: j for j in timelines if j["endpoint"] == "imagine"}
    queued_polls: dict[str, int] = dict.fromkeys(jobs, 0)
    run_polls: dict[str, int] = dict.fromkeys(jobs, 0)
    answered: dict[str, float] = {}  # the first look answered (200) at or after the job's end
    for record in requests:
        if record["endpoint"] != "fetch" or not record["path"].startswith(FETCH_PATH):
            continue
        job = jobs.get(record["path"][len(FETCH_PATH) :])
        if job is None:
            continue
        message_id = job["message_id"]
        if job["started"] is None or record["time"] < job["started"]:
            queued_polls[message_id] += 1
        else:
            run_polls[message_id] += 1
        ended = job["finished"] is not None and record["time"] >= job["finished"]
        if ended and record["status"] == 200 and message_id not in answered:
            answered[message_id] = record["time"]
    rows = []
    for message_id, job in sorted(jobs.items(), key=lambda item: item[1]["created"]):
        at = detected.get(message_id)
        timed_out = job["status"] == "FAIL" and "timed out" in (job["error"] or "")
        rows.append(
            {
                "status": job["status"],
                "timed_out": timed_out,
                "duration": None
                if job["started"] is None or job["finished"] is None
                else job["finished"] - job["started"],
                "lag": None
                if at is None or job["finished"] is None or timed_out
                else at[0] - job["finished"],
                # the server's side of the lag: from the end to the look that saw it
                "look_lag": None
                if message_id not in answered or timed_out
                else answered[message_id] - job["finished"],
                "queued_polls": queued_polls[message_id],
                "run_polls": run_polls[message_id],
            }
        )
    fetches = stats["by_endpoint"].get("fetch", 0)
    return {
        "jobs": rows,
        "created": len(jobs),
        "lost": len(jobs) - len(detected),
        "fetches": fetches,
        "rate_limited": stats["rate_limited"],
        "cpu_seconds": seen["cpu_seconds"],
        "clock_error": seen["clock_error"],
    }


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One contender on one workload, pooled over its runs (seeds)."""
    rows = [row for run in runs for row in run["jobs"]]
    created = sum(run["created"] for run in runs)
    done = [r["lag"] for r in rows if r["status"] == "DONE" and r["lag"] is not None]
    fail = [r["lag"] for r in rows if r["status"] == "FAIL" and r["lag"] is not None]
    looks = [r["look_lag"] for r in rows if r["status"] == "FAIL" and r["look_lag"] is not None]
    delays = [
        r["lag"] - r["look_lag"] for r in rows if r["lag"] is not None and r["look_lag"] is not None
    ]
    return {
        "workload": runs[0]["workload"],
        "contender": runs[0]["contender"],
        "kind": runs[0]["kind"],
        "runs": len(runs),
        "created": created,
        "done": len(done),
        "failed": len(fail),
        "timed_out": sum(1 for r in rows if r["timed_out"]),
        "lost": sum(run["lost"] for run in runs),
        "polls_per_job": sum(run["fetches"] for run in runs) / max(1, created),
        "queued_polls_per_job": sum(r["queued_polls"] for r in rows) / max(1, created),
        "run_polls_per_job": sum(r["run_polls"] for r in rows) / max(1, created),
        "rate_limited": sum(run["rate_limited"] for run in runs),
        "create_429s": sum((run["client_429s"] or {}).get("create", 0) for run in runs),
        "poll_429s": sum((run["client_429s"] or {}).get("poll", 0) for run in runs),
        "done_lag_p50": percentile(done, 50),
        "done_lag_p99": percentile(done, 99),
        "done_lag_mean": sum(done) / len(done) if done else math.nan,
        "fail_lag_p50": percentile(fail, 50),
        "fail_lag_p99": percentile(fail, 99),
        "fail_lag_mean": sum(fail) / len(fail) if fail else math.nan,
        # the look that saw the FAIL (server time) minus the end: the lag without the client's
        # own delay between that answer and reporting the end
        "fail_look_lag_mean": sum(looks) / len(looks) if looks else math.nan,
        "client_delay_mean": sum(delays) / len(delays) if delays else math.nan,
        "client_delay_p99": percentile(delays, 99),
        "mean_run": sum(r["duration"] for r in rows if r["duration"] is not None)
        / max(1, sum(1 for r in rows if r["duration"] is not None)),
        "wall_seconds": sum(run["wall_seconds"] for run in runs),
        "clock_error": max(run["clock_error"] for run in runs),
    }


# -- the analytic bound (Keller 1974) ---------------------------------------------------------------


def bound_constants(workload: Workload, steps: int = 20_000) -> dict[str, float]:
    """``I`` (failure time unknown but for its distribution), ``I`` when the job's duration is known
    (``E_D[I(D)]``, the best split of the looks between durations), and the mean run ``E[run]``.

    Durations D ~ uniform(lo, hi); a failing job (probability p) ends at D·U, U ~ uniform(a, b).
    Looks are spent while a job is alive: survival S(t) = 1 − p F(t) − (1 − p) G(t). With a look
    density n(t), a failure at t is seen after 1/(2 n(t)) on average and the looks cost ∫ n S;
    the best n ∝ √(f / S) gives a mean lag of I² / (2K), I = ∫ √(f S) dt (large-K asymptotics).
    """
    kind, lo, hi = workload.durations[0], float(workload.durations[1]), float(workload.durations[2])
    if kind != "uniform":
        raise ValueError("the bound is computed for uniform durations only")
    p = workload.failure_rate
    a, b = FAIL_FRACTION
    norm = 1.0 / ((hi - lo) * (b - a))

    def density(t: float) -> float:  # of the failure time T = D·U, given a failure
        if t <= 0:
            return 0.0
        low, high = max(lo, t / b), min(hi, t / a)
        return norm * math.log(high / low) if high > low else 0.0

    end = hi
    dt = end / steps
    integral = mean_run = cdf = 0.0
    for i in range(steps):
        t = (i + 0.5) * dt
        f = density(t)
        g = min(1.0, max(0.0, (t - lo) / (hi - lo)))
        alive = max(0.0, 1.0 - p * (cdf + f * dt / 2) - (1 - p) * g)
        integral += math.sqrt(f * alive) * dt
        mean_run += alive * dt
        cdf += f * dt
    # Duration D known: f uniform on [aD, bD]; I(D) = √((b − a) D) ∫₀¹ √(1 − p x) dx.
    shape = (2 / (3 * p)) * (1 - (1 - p) ** 1.5) if p > 0 else 1.0
    mean_sqrt_d = (2 / 3) * (hi**1.5 - lo**1.5) / (hi - lo)
    known = math.sqrt(b - a) * mean_sqrt_d * shape
    return {
        "I_unknown_duration": integral,
        "I_known_duration": known,
        "mean_run": mean_run,
        "failure_time_mean": (lo + hi) / 2 * (a + b) / 2,
        "fail_cdf_check": cdf,
    }


def fail_bounds(constants: dict[str, float], looks: float) -> dict[str, float]:
    """The three mean-FAIL-lag curves at ``looks`` looks per job (from the start)."""
    return {
        "keller_unknown_duration": constants["I_unknown_duration"] ** 2 / (2 * looks),
        "keller_known_duration": constants["I_known_duration"] ** 2 / (2 * looks),
        "fixed_interval": constants["mean_run"] / (2 * looks),
    }


# -- verdicts, table, chart ------------------------------------------------------------------------

LAGS = ("done_lag_p50", "done_lag_p99", "fail_lag_p50", "fail_lag_p99")


def dominance(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each fixed interval: the scheduler settings with no more polls per job and no more of
    any lag (metrics the workload has), and if none, the nearest miss."""
    verdicts = []
    for fixed in (r for r in rows if r["kind"] == "fixed"):
        metrics = [m for m in LAGS if not math.isnan(fixed[m])]
        dominating, misses = [], []
        for sdk in (r for r in rows if r["kind"] == "sdk"):
            worse = {m: sdk[m] / fixed[m] for m in ("polls_per_job", *metrics) if sdk[m] > fixed[m]}
            if worse:
                misses.append({"contender": sdk["contender"], "worse_on": worse})
            else:
                dominating.append(sdk["contender"])
        verdicts.append(
            {
                "workload": fixed["workload"],
                "fixed": fixed["contender"],
                "dominated": bool(dominating),
                "by": dominating,
                "misses": [] if dominating else misses,
            }
        )
    return verdicts


COLUMNS = (
    ("polls_per_job", "polls/job"),
    ("queued_polls_per_job", "of which queued"),
    ("done_lag_p50", "DONE p50"),
    ("done_lag_p99", "DONE p99"),
    ("fail_lag_p50", "FAIL p50"),
    ("fail_lag_p99", "FAIL p99"),
    ("fail_lag_mean", "FAIL mean"),
    ("fail_look_lag_mean", "FAIL mean (look)"),
    ("bound_known", "bound (D known)"),
    ("rate_limited", "429s"),
    ("mean_run", "mean run s"),
    ("lost", "lost"),
)


def draw(rows: Sequence[dict[str, Any]], constants: dict[str, float], path: Path) -> None:
    """2×2: DONE lag p50 / p99 (both workloads), FAIL lag p50 & p99, FAIL mean with the bounds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    style = {"sdk": ("tab:blue", "o", "-"), "fixed": ("tab:red", "s", "--")}

    def curve(ax: Any, workload: str, kind: str, key: str, x: str, label: str, **kw: Any) -> None:
        mine = sorted(
            (r for r in rows if r["workload"] == workload and r["kind"] == kind),
            key=lambda r: r[x],
        )
        points = [(r[x], r[key], r["contender"]) for r in mine if not math.isnan(r[key])]
        if not points:
            return
        colour, marker, line = style[kind]
        ax.plot([p[0] for p in points], [p[1] for p in points], color=colour, marker=marker,
                linestyle=line, label=label, **kw)  # fmt: skip
        for px, py, name in points:
            short = name.replace("sdk ", "").replace("fixed ", "").replace(" (fresh=2)", "")
            ax.annotate(short, (px, py), fontsize=6, xytext=(3, 3), textcoords="offset points")

    for ax, key, title in (
        (axes[0, 0], "done_lag_p50", "DONE detection lag, p50"),
        (axes[0, 1], "done_lag_p99", "DONE detection lag, p99"),
    ):
        for workload, fill in (("standard", "full"), ("failpart", "none")):
            for kind in ("sdk", "fixed"):
                curve(ax, workload, kind, key, "polls_per_job", f"{kind}, {workload}",
                      fillstyle=fill, alpha=1.0 if workload == "standard" else 0.6)  # fmt: skip
        ax.set_title(title, fontsize=10)
    ax = axes[1, 0]
    for kind in ("sdk", "fixed"):
        curve(ax, "failpart", kind, "fail_lag_p99", "polls_per_job", f"{kind}, p99")
        curve(ax, "failpart", kind, "fail_lag_p50", "polls_per_job", f"{kind}, p50",
              fillstyle="none", alpha=0.6)  # fmt: skip
    ax.set_title("FAIL detection lag (failpart), p50 (hollow) and p99", fontsize=10)
    ax = axes[1, 1]
    for kind in ("sdk", "fixed"):
        curve(ax, "failpart", kind, "fail_lag_mean", "run_polls_per_job", f"{kind}, measured mean")
    looks = [1.5 * 1.05**i for i in range(120)]
    looks = [k for k in looks if k <= 150]
    for name, colour, label in (
        ("fixed_interval", "tab:red", "fixed interval: E[run]/(2K)"),
        ("keller_unknown_duration", "tab:green", "Keller bound, D unknown: I²/(2K)"),
        ("keller_known_duration", "black", "Keller bound, D known (progress)"),
    ):
        ax.plot(looks, [fail_bounds(constants, k)[name] for k in looks], color=colour,
                linestyle=":", linewidth=1.2, label=label)  # fmt: skip
    ax.set_title("mean FAIL lag (failpart) against looks per job from its start", fontsize=10)
    ax.set_xlabel("polls per job from its start (K)")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    for ax in axes.flat:
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_ylabel("simulated seconds")
    for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
        ax.set_xlabel("polls per job")
    fig.suptitle("Detection lag against polls per job: the SDK's scheduler and fixed intervals "
                 "(C = 10, jobs 30-90 s, 10 polls/s, 1 create/3 s)", fontsize=11)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run every contender on both workloads, print the table and the verdicts, write the files."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.frontier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--jobs", type=int, default=None, help=f"jobs per run ({JOBS})")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="simulator seeds, one run per seed and contender, pooled "
                        f"({' '.join(map(str, SEEDS))})")  # fmt: skip
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS),
                        default=["standard", "failpart"])  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="40 jobs, four contenders (a smoke run)")  # fmt: skip
    parser.add_argument("--contenders", nargs="+", default=None, metavar="NAME",
                        help="only these contenders (their names in the table, e.g. 'sdk "
                        "default (fresh=2)' 'fixed 2 s')")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tag", default=None, help="a suffix for the result files")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the chart from the JSON written before")  # fmt: skip
    args = parser.parse_args(argv)
    suffix = "" if args.tag is None else f"_{args.tag}"
    if args.replot:
        data = json.loads((args.out / f"frontier{suffix}.json").read_text())
        draw(data["summary"], data["bound"], args.out / f"frontier{suffix}.png")
        return 0
    jobs = args.jobs or (40 if args.quick else JOBS)
    contenders = QUICK if args.quick else SDK + FIXED
    if args.contenders is not None:
        known = {c.name: c for c in SDK + FIXED}
        unknown = [name for name in args.contenders if name not in known]
        if unknown:
            parser.error(f"unknown contenders {unknown}; known: {sorted(known)}")
        contenders = tuple(known[name] for name in args.contenders)
    runs: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    constants = bound_constants(WORKLOADS["failpart"])
    for name in args.workloads:
        for contender in contenders:
            mine = []
            for seed in args.seeds:
                workload = dataclasses.replace(WORKLOADS[name], jobs=jobs, seed=seed)
                result = run_once(workload, contender)
                mine.append(result)
                print(
                    f"{name} seed {seed} {contender.name}: "
                    f"{result['fetches'] / max(1, result['created']):.1f} polls/job, "
                    f"{result['rate_limited']} 429s, {result['lost']} lost, "
                    f"{result['wall_seconds']:.0f} s real",
                    flush=True,
                )
            row = summarise(mine)
            k = row["run_polls_per_job"]
            row["bound_known"] = (
                fail_bounds(constants, k)["keller_known_duration"]
                if WORKLOADS[name].failure_rate and k > 0
                else math.nan
            )
            row["bound_unknown"] = (
                fail_bounds(constants, k)["keller_unknown_duration"]
                if WORKLOADS[name].failure_rate and k > 0
                else math.nan
            )
            summary.append(row)
            runs.extend(mine)
    verdicts = dominance([r for r in summary if r["workload"] == "failpart"]) + dominance(
        [r for r in summary if r["workload"] == "standard"]
    )
    print()
    for name in args.workloads:
        print(f"## {name}")
        print(table([[r["contender"], *(r[k] for k, _ in COLUMNS)]
                     for r in summary if r["workload"] == name],
                    ["contender", *(t for _, t in COLUMNS)]))  # fmt: skip
        print()
    print(
        f"bound constants (failpart): I = {constants['I_unknown_duration']:.3f} (duration "
        f"unknown), {constants['I_known_duration']:.3f} (known); E[run] = "
        f"{constants['mean_run']:.1f} s; mean lag >= I²/(2K)"
    )
    for row in summary:
        if row["workload"] == "failpart":
            print(
                f"  {row['contender']}: K = {row['run_polls_per_job']:.1f} looks/job from the "
                f"start, mean FAIL lag {row['fail_lag_mean']:.2f} s = "
                f"{row['fail_lag_mean'] / row['bound_known']:.2f} x the bound with D known, "
                f"{row['fail_lag_mean'] / row['bound_unknown']:.2f} x with D unknown, "
                f"{row['fail_lag_mean'] / fail_bounds(constants, row['run_polls_per_job'])['fixed_interval']:.2f}"
                f" x a fixed interval's; by the look that saw it {row['fail_look_lag_mean']:.2f} s"
                f" = {row['fail_look_lag_mean'] / row['bound_known']:.2f} x (D known), "
                f"{row['fail_look_lag_mean'] / row['bound_unknown']:.2f} x (D unknown); "
                f"client delay after the answer: mean {row['client_delay_mean']:.2f} s, "
                f"p99 {row['client_delay_p99']:.2f} s"
            )
    print()
    for v in verdicts:
        if v["dominated"]:
            print(f"{v['workload']}: {v['fixed']} dominated by {', '.join(v['by'])}")
        else:
            misses = "; ".join(
                f"{m['contender']} worse on "
                + ", ".join(f"{k} (x{r:.2f})" for k, r in m["worse_on"].items())
                for m in v["misses"]
            )
            print(f"{v['workload']}: {v['fixed']} NOT dominated ({misses})")
    data = {
        "machine": machine(),
        "code": code_version(),
        "jobs": jobs,
        "seeds": args.seeds,
        "workloads": {n: dataclasses.asdict(WORKLOADS[n]) for n in args.workloads},
        "contenders": [dataclasses.asdict(c) for c in contenders],
        "bound": constants,
        "summary": summary,
        "dominance": verdicts,
        "runs": runs,
    }
    path = write_json(f"frontier{suffix}.json", data, args.out)
    chart = args.out / f"frontier{suffix}.png"
    draw(summary, constants, chart)
    print(f"\nwrote {path} and {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
