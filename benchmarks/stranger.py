"""Another consumer of the same API key (issue 19): does the poll budget notice, and recover?

A simulator process (documented rate limits, time scale 10) holds 40 long jobs of ours and one of
a stranger's, created with the limits off. A client process (``before``: ``git archive BASE``;
``after``: this tree) follows our 40 by id with a poll policy that wants far more than the budget
(``fresh_interval=0.5``, ``budget_share=1``), for ``--seconds`` simulated seconds. Meanwhile a
**stranger**, plain aiohttp in this process, polls its own job on the same key at 4 per second
from ``--arrive`` to ``--leave``. From the simulator's request log, per 10 s: our polls served and
refused (429), the stranger's; and the client's learnt rate (``poll_budget.rate``) sampled every
simulated second. ``python -m benchmarks.stranger`` (~2 min); writes ``benchmarks/results/stranger.json`` and
``stranger.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import REPO, RESULTS, SimulatorProcess, machine, table, write_json
from benchmarks.workloads import BASE, code_tree

SCALE = 10.0
JOBS = 40
STRANGER_RATE = 4.0  # polls per simulated second
LIMITS_ON = {"general": {"requests": 1, "per": 3.0}, "progress": {"requests": 10, "per": 1.0}}


async def run_client(task: dict[str, Any]) -> dict[str, Any]:
    """Follow our jobs by id for ``seconds``; sample the learnt rate every simulated second."""
    import anyio

    from imaginepro_async import ImagineProClient, PollPolicy

    samples: list[tuple[float, float | None]] = []
    policy = PollPolicy(fresh_interval=0.5, budget_share=1.0)
    async with ImagineProClient(
        task["api_key"], base_url=task["url"], time_scale=SCALE, poll_policy=policy
    ) as client:
        for message_id in task["ids"]:
            client.job(message_id)
        # Times from the benchmark's origin (wall clock, so that the child's start-up, ~5
        # simulated seconds, does not shift the samples against the stranger's times).
        started = task.get("origin_wall", time.time())
        while (elapsed := (time.time() - started) * SCALE) < task["seconds"]:
            samples.append((elapsed, getattr(client.poll_budget, "rate", None)))
            await anyio.sleep(1.0 / SCALE)
    return {"rates": samples}


def child_main() -> None:
    """The child process's entry point: ``task.json out.json`` in argv."""
    task = json.loads(sys.argv[1])
    Path(sys.argv[2]).write_text(json.dumps(asyncio.run(run_client(task))))


async def stranger(url: str, api_key: str, message_id: str, arrive: float, leave: float) -> None:
    """Poll one job at STRANGER_RATE from ``arrive`` to ``leave`` (simulated seconds from now)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    origin = loop.time()
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        await asyncio.sleep(arrive / SCALE)
        n = 0
        while (loop.time() - origin) * SCALE < leave:
            async with session.get(f"{url}/api/v1/message/fetch/{message_id}") as answer:
                await answer.read()
            n += 1
            await asyncio.sleep(
                max(0.0, origin + (arrive + n / STRANGER_RATE) / SCALE - loop.time())
            )


async def run_once_async(args: argparse.Namespace, version: str, code: Path) -> dict[str, Any]:
    """A fresh simulator, our client and the stranger side by side; the per-10 s numbers."""
    sim = SimulatorProcess(time_scale=SCALE, seed=19, concurrency=1)
    config = {
        "time_scale": SCALE,
        "seed": 19,
        "concurrency": 100_000,
        "durations": ["uniform", 5000, 5000],
    }
    sim.args = [sys.executable, "-m", "benchmarks._simserve", json.dumps(config)]
    with sim, tempfile.TemporaryDirectory() as tmp:
        sim.call("PUT", "/_simulator/rate-limits", {"general": None, "progress": None})
        ids = [
            sim.call("POST", "/api/v1/nova/imagine", {"prompt": f"ours {i}"}, auth=True)[
                "messageId"
            ]
            for i in range(JOBS + 1)
        ]
        theirs = ids.pop()
        sim.call("PUT", "/_simulator/rate-limits", LIMITS_ON)
        sim.admin("POST", "/reset")
        origin, origin_wall = sim.now(), time.time()
        task = {"url": sim.url, "api_key": sim.api_key, "ids": ids, "seconds": args.seconds,
                "origin_wall": origin_wall}  # fmt: skip
        out = Path(tmp) / "out.json"
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from benchmarks.stranger import child_main; child_main()",
            json.dumps(task), str(out), cwd=code, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        await asyncio.gather(
            child.wait(), stranger(sim.url, sim.api_key, theirs, args.arrive, args.leave)
        )
        rates = json.loads(out.read_text())["rates"]
        requests = sim.admin("GET", "/requests")
    bins: dict[int, dict[str, int]] = {}
    for r in requests:
        if r["endpoint"] != "fetch":
            continue
        who = "stranger" if r["path"].endswith(theirs) else "ours"
        key = f"{who}_{'429' if r['status'] == 429 else 'ok'}"
        row = bins.setdefault(int((r["time"] - origin) // 10), {})
        row[key] = row.get(key, 0) + 1
    ours_429 = sorted(r["time"] - origin for r in requests
                      if r["status"] == 429 and not r["path"].endswith(theirs))  # fmt: skip
    during = [t for t in ours_429 if args.arrive <= t < args.leave + 1]
    full_again = next((t for t, rate in rates if t > args.leave and rate is not None
                       and rate >= 10.0 - 1e-9), None)  # fmt: skip
    return {
        "version": version,
        "ours_429": len(ours_429),
        "ours_429_first_30s": sum(1 for t in during if t < args.arrive + 30),
        "ours_429_after_30s": sum(1 for t in during if t >= args.arrive + 30),
        "last_429_after_arrival": (during[-1] - args.arrive) if during else None,
        "full_rate_after_leaving": None if full_again is None else full_again - args.leave,
        "bins": {str(k): v for k, v in sorted(bins.items())},
        "rates": rates,
    }


def draw(runs: list[dict[str, Any]], args: argparse.Namespace, path: Path) -> None:
    """Our polls served and refused per second, and the learnt rate, over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 3 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        bins = sorted((int(k), v) for k, v in run["bins"].items())
        xs = [10 * k + 5 for k, _ in bins]
        ax.step(
            xs, [v.get("ours_ok", 0) / 10 for _, v in bins], where="mid", label="ours served /s"
        )
        ax.step(xs, [v.get("ours_429", 0) / 10 for _, v in bins], where="mid", label="ours 429 /s")
        ax.step(xs, [v.get("stranger_ok", 0) / 10 for _, v in bins], where="mid",
                label="stranger served /s")  # fmt: skip
        rates = [(t, r) for t, r in run["rates"] if r is not None]
        if rates:
            ax.plot([t for t, _ in rates], [r for _, r in rates], "k:", label="learnt rate")
        ax.axvspan(args.arrive, args.leave, color="grey", alpha=0.15)
        ax.set_title(f"{run['version']}: {run['ours_429']} 429s of ours", fontsize=9)
        ax.set_ylabel("per simulated second")
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel("simulated seconds (the stranger polls in the grey span)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Before and after, one run each; the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stranger", description=__doc__)
    parser.add_argument("--seconds", type=float, default=420.0)
    parser.add_argument("--arrive", type=float, default=60.0)
    parser.add_argument("--leave", type=float, default=300.0)
    parser.add_argument("--versions", nargs="+", default=["before", "after"])
    parser.add_argument("--after", default="tree")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for version in args.versions:
            code = code_tree(version, BASE if version == "before" else args.after, Path(scratch))
            run = asyncio.run(run_once_async(args, version, code))
            runs.append(run)
            print(f"{version}: {run['ours_429']} 429s of ours, last "
                  f"{run['last_429_after_arrival']} s after the stranger came, full rate "
                  f"{run['full_rate_after_leaving']} s after it left", flush=True)  # fmt: skip
    columns = ["ours_429", "ours_429_first_30s", "ours_429_after_30s", "last_429_after_arrival",
               "full_rate_after_leaving"]  # fmt: skip
    print(table([[r["version"], *(r[c] for c in columns)] for r in runs], ["version", *columns]))
    path = write_json("stranger.json", {"machine": machine(), "args": vars(args) | {"out": str(args.out)},
                                        "runs": runs}, args.out)  # fmt: skip
    draw(runs, args, args.out / "stranger.png")
    print(f"wrote {path} and {args.out / 'stranger.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
