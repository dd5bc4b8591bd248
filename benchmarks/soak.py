"""Soak: an N-request batch under ~10 % injected faults, SIGKILLed K times and resumed.

Usage: ``python -m benchmarks.soak [--requests 800] [--kills 20] [--seed 7]``. Writes
``benchmarks/results/soak.json``: requests, kills, faults, paid twice, lost, uncertain (and how many
of those were never sent), wall time, peak RSS of the CLI processes; and the reconciliation of
uncertain requests against the account's history: how many requests were looked up (uncertain
before), adopted (a job found), resent (proven never created), and still uncertain at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from benchmarks._common import RESULTS

SCALE = 300.0
_FAULTS = (  # about 10 % of the requests in all
    ("http_503", "button", 0.04),
    ("http_500", "button", 0.01),
    ("drop_after", "button", 0.01),
    ("http_502", "fetch", 0.03),
    ("malformed_json", "fetch", 0.02),
)


async def _soak(count: int, kills: int, seed: int, tmp: Path) -> dict[str, Any]:
    from imaginepro_async import ImagineProClient
    from imaginepro_async.testing import Simulator, make_mask, uniform_duration

    rng = random.Random(seed)
    async with Simulator(
        time_scale=SCALE, seed=seed, concurrency=50, duration=uniform_duration(20, 60)
    ) as sim:
        async with ImagineProClient(sim.api_key, base_url=sim.url, time_scale=SCALE) as client:
            parent = (await (await client.upscale(await (await client.imagine("x")), 1))).message_id
        (tmp / "mask.png").write_bytes(make_mask(*sim.image_size))
        source = tmp / "in.jsonl"
        source.write_text(
            "".join(
                json.dumps(
                    {"parent": parent, "mask": "mask.png", "prompt": f"p{n}", "ref": f"r{n}"}
                )
                + "\n"
                for n in range(count)
            )
        )
        sim.reset_counters()
        rules = [sim.faults.add(kind=k, endpoint=e, probability=p) for k, e, p in _FAULTS]
        env = os.environ | {"IMAGINEPRO_API_KEY": sim.api_key}
        command = [
            sys.executable, "-m", "imaginepro_async", "batch", str(source), "--journal",
            str(tmp / "run.db"), "--out", str(tmp / "out.jsonl"), "--base-url", sim.url,
            "--time-scale", str(SCALE), "--max-in-flight", "50", "--progress-every", "1000",
        ]  # fmt: skip
        started = time.perf_counter()
        done_kills = 0
        for _ in range(kills):
            async with await anyio.open_process(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ) as process:
                with anyio.move_on_after(rng.uniform(0.5, 4.0)):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    done_kills += 1
                await process.wait()
        for rule in rules:
            sim.faults.remove(rule)
        final = await anyio.run_process(command, env=env, check=False)
        wall = time.perf_counter() - started
        lines = [json.loads(line) for line in (tmp / "out.jsonl").read_text().splitlines()]
        per_ref = sim.jobs_per_ref()
        states = {line["key"]: line["state"] for line in lines}
        uncertain = [k for k, s in states.items() if s == "uncertain"]
        db = sqlite3.connect(tmp / "run.db")
        reconciled = dict(
            db.execute(
                "SELECT reconciled, count(*) FROM requests WHERE reconciled IS NOT NULL "
                "GROUP BY reconciled"
            ).fetchall()
        )
        db.close()
        return {
            "requests": count,
            "kills": done_kills,
            "faults": sum(rule.fired for rule in rules),
            "paid_twice": sum(1 for n in per_ref.values() if n > 1),
            "lost": sum(1 for n in range(count) if f"r{n}" not in states),
            "done": sum(1 for s in states.values() if s == "done"),
            "failed": sum(1 for s in states.values() if s == "failed"),
            "uncertain": len(uncertain),
            # Never created: no job on the server. A 500 to a create says nothing about whether a
            # job was made, so the client must call it uncertain: compare with create_500s.
            "uncertain_never_created": sum(1 for k in uncertain if per_ref.get(k, 0) == 0),
            "create_500s": sum(r.fired for r in rules if r.kind.value == "http_500"),
            # Reconciliation (the last outcome of each request looked up in the history).
            "uncertain_before_reconciliation": sum(reconciled.values()),
            "reconciled_adopted": reconciled.get("adopted", 0),
            "reconciled_resent": reconciled.get("resent", 0),
            "still_uncertain": len(uncertain),
            "final_exit_code": final.returncode,
            "wall_seconds": round(wall, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = anyio.run(_soak, args.requests, args.kills, args.seed, Path(tmp))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
