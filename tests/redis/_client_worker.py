"""One process of the multi-process client test: a real client submitting and awaiting jobs.

``python -m tests.redis._client_worker '<json>'``: an ``ImagineProClient`` whose budgets live in
Redis (``RedisCoordination``) submits ``jobs`` imagine jobs, awaits them all, and prints
``{"statuses": [...]}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio

from imaginepro_async import ImagineProClient, gather
from imaginepro_async._coordination.budgets import RedisCoordination


async def main(task: dict[str, Any]) -> None:
    coordination = RedisCoordination(
        task["redis_url"],
        lease=task["lease"],
        namespace=task["namespace"],
        unreachable_timeout=400.0,
    )
    async with (
        coordination,
        ImagineProClient(
            task["api_key"],
            base_url=task["sim_url"],
            time_scale=task["scale"],
            coordination=coordination,
        ) as client,
    ):
        handles = [
            await client.imagine(f"a harbour, worker {task['worker']}, take {n}")
            for n in range(task["jobs"])
        ]
        done = await gather(*handles)
    print(json.dumps({"statuses": [m.status.value for m in done]}), flush=True)


if __name__ == "__main__":
    anyio.run(main, json.loads(sys.argv[1]))
