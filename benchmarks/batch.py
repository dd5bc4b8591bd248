"""The batch runner: requests/s and journal commits per request at time scale 1000, and peak RSS.

Usage: ``python -m benchmarks.batch [--requests 300] [--small 50] [--large 5000]``. Writes
``benchmarks/results/batch.json``.

- Throughput: a batch of ``--requests`` inpaints against the simulator at 1000x (rate limits on),
  in this process; requests ended per real second, and the journal's commits per request.
- Memory: the same batch of ``--small`` and of ``--large`` lines, each JSONL line carrying its mask
  inline as base64, run in a child process; its peak RSS (``ru_maxrss``). The input is streamed,
  so the two should be close (target: within 20 %).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS

SCALE = 1000.0


async def _world(sim: Any, tmp: Path) -> tuple[str, str]:
    from imaginepro_async import ImagineProClient
    from imaginepro_async.testing import make_mask

    async with ImagineProClient(sim.api_key, base_url=sim.url, time_scale=SCALE) as client:
        grid = await (await client.imagine("a harbour at dawn"))
        up = await (await client.upscale(grid, 1))
    return up.message_id, base64.b64encode(make_mask(*sim.image_size)).decode()


async def _run(count: int, tmp: Path, inline: bool) -> dict[str, float]:
    from imaginepro_async import ImagineProClient
    from imaginepro_async._batch.batch import Batch, JsonlInput
    from imaginepro_async.testing import Simulator, uniform_duration

    async with Simulator(
        time_scale=SCALE, seed=1, concurrency=1000, duration=uniform_duration(30, 90)
    ) as sim:
        parent, mask = await _world(sim, tmp)
        mask_file = tmp / "mask.png"
        mask_file.write_bytes(base64.b64decode(mask))
        source = tmp / f"in-{count}.jsonl"
        with source.open("w") as out:
            for n in range(count):
                line = {
                    "parent": parent,
                    "mask": mask if inline else str(mask_file),
                    "ref": f"r{n}",
                }
                out.write(json.dumps(line) + "\n")
        async with ImagineProClient(sim.api_key, base_url=sim.url, time_scale=SCALE) as client:
            started = time.perf_counter()
            async with Batch(
                client, JsonlInput(source), journal=tmp / f"run-{count}.db", max_in_flight=1000
            ) as batch:
                summary = await batch.wait()
                commits = batch.journal_commits
            elapsed = time.perf_counter() - started
    assert summary.ok, summary
    return {
        "requests": count,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(count / elapsed, 1),
        "journal_commits_per_request": round(commits / count, 2),
    }


def _child(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(_run(count, Path(tmp), inline=True))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def _rss(count: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.batch", "--child", str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        throughput = asyncio.run(_run(args.requests, Path(tmp), inline=False))
    print("throughput:", throughput, flush=True)
    small, large = _rss(args.small), _rss(args.large)
    print("small:", small, "large:", large, flush=True)
    growth = large["peak_rss_mb"] / small["peak_rss_mb"] - 1
    report = {
        "time_scale": SCALE,
        "throughput": throughput,
        "rss": {"small": small, "large": large, "growth": round(growth, 3)},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "batch.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
