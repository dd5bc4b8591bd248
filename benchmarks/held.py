"""CPU per poll with 0, 1,000 and 10,000 submissions held by the admission rule (issue 19).

A simulator process (C = 40, jobs of 800-820 s, documented rate limits, time scale 20) and, per
size and version, a fresh client process that submits 40 jobs (they all run), then starts N more
submissions that the admission rule must hold (each would start only once a running job ends, ~680
s later, and could then not end before its 900 s timeout). While they wait, the 40 running jobs are
polled at the budget's pace; the client's CPU over three 4 s windows is divided by the polls the
simulator served in them (median of the three). ``before`` runs ``git archive BASE`` (every held
submission was woken to re-judge the rule at every poll), ``after`` this tree.

``python -m benchmarks.held`` (~4 min); writes ``benchmarks/results/held.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._common import REPO, RESULTS, SimulatorProcess, machine, median, table, write_json
from benchmarks.workloads import BASE, code_tree

SCALE = 20.0
RUNNING = 40
WINDOWS = 3
WINDOW = 4.0  # real seconds


def _fetches(url: str) -> int:
    with urllib.request.urlopen(url + "/_simulator/stats", timeout=10) as answer:
        return int(json.loads(answer.read())["by_endpoint"].get("fetch", 0))


async def run_client(task: dict[str, Any]) -> dict[str, Any]:
    """Submit the running jobs, then the held ones; measure CPU per poll while they wait."""
    import anyio

    from imaginepro_async import ImagineProClient, ImagineProError

    held = int(task["held"])
    windows: list[dict[str, float]] = []
    # The account's size is given: the 40 setup jobs must not wait for it to be learnt.
    async with ImagineProClient(
        task["api_key"],
        base_url=task["url"],
        time_scale=SCALE,
        seed=1,
        account_concurrency=RUNNING,
    ) as client:
        for index in range(RUNNING):
            await client.imagine(f"running job {index}")

        async def submit(index: int) -> None:
            with contextlib.suppress(ImagineProError):
                await client.imagine(f"held job {index}")

        async with anyio.create_task_group() as tasks:
            for index in range(held):
                tasks.start_soon(submit, index)
            await anyio.sleep(2.0)  # every submission reaches the rule
            holding = client.submission_hold is not None
            for _ in range(WINDOWS):
                polls = await anyio.to_thread.run_sync(_fetches, task["url"])
                cpu = time.process_time()
                await anyio.sleep(WINDOW)
                spent = time.process_time() - cpu
                polls = await anyio.to_thread.run_sync(_fetches, task["url"]) - polls
                windows.append({"cpu": spent, "polls": polls})
            still = client.submission_hold is not None
            tasks.cancel_scope.cancel()
    return {"holding": holding and (still or held == 0), "windows": windows}


def child_main() -> None:
    """The child process's entry point: ``task.json out.json`` in argv."""
    task = json.loads(sys.argv[1])
    Path(sys.argv[2]).write_text(json.dumps(asyncio.run(run_client(task))))


def run_once(held: int, version: str, code: Path) -> dict[str, Any]:
    """A fresh simulator, one client run holding ``held`` submissions."""
    sim = SimulatorProcess(
        time_scale=SCALE, seed=19, concurrency=RUNNING, duration_range=(800, 820)
    )
    with sim, tempfile.TemporaryDirectory() as tmp:
        task = {"url": sim.url, "api_key": sim.api_key, "held": held}
        out = Path(tmp) / "out.json"
        subprocess.run(
            [sys.executable, "-c", "from benchmarks.held import child_main; child_main()",
             json.dumps(task), str(out)],
            check=True, timeout=300, cwd=code, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        result = json.loads(out.read_text())
    per_poll = [w["cpu"] / w["polls"] * 1e6 for w in result["windows"] if w["polls"]]
    return {
        "version": version,
        "held": held,
        "holding": result["holding"],
        "cpu_us_per_poll": median(per_poll),
        "cpu_us_per_poll_windows": per_poll,
        "polls_per_second": median([w["polls"] / WINDOW for w in result["windows"]]),
    }


def main(argv: list[str] | None = None) -> int:
    """Run every size for each version and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.held", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1000, 10000])
    parser.add_argument("--versions", nargs="+", default=["before", "after"])
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for version in args.versions:
            commit = args.base if version == "before" else "tree"
            code = code_tree(version, commit, Path(scratch))
            for held in args.sizes:
                row = run_once(held, version, code)
                rows.append(row)
                print(f"{version} {held}: {row['cpu_us_per_poll']:.0f} µs/poll "
                      f"(windows {[round(v) for v in row['cpu_us_per_poll_windows']]}), "
                      f"{row['polls_per_second']:.0f} polls/s real, held: {row['holding']}",
                      flush=True)  # fmt: skip
    print()
    print(table([[r["version"], r["held"], r["holding"], r["cpu_us_per_poll"], r["polls_per_second"]]
                 for r in rows],
                ["version", "held", "held throughout", "CPU µs/poll", "polls/s (real)"]))  # fmt: skip
    path = write_json(
        "held.json", {"machine": machine(), "base": args.base, "rows": rows}, args.out
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
