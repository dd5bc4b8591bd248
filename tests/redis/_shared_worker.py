"""One process of the shared-jobs tests: follows jobs through a client sharing them via Redis.

``python -m tests.redis._shared_worker '<json>'``: prints ``token <leadership token>`` once it
follows every job, then, when all have ended, ``{"statuses": {...}, "polls": n, "led": bool}``.
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
        share_jobs=True,
        leader_lease=task["leader_lease"],
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
        handles = [client.job(message_id) for message_id in task["message_ids"]]
        shared = client._core._shared
        assert shared is not None
        print("token", shared._leadership.token, flush=True)
        led = False

        async def watch_leadership() -> None:
            nonlocal led
            while not led:
                await shared.until_leading()
                led = True

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_leadership)
            done = await gather(*handles)
            tg.cancel_scope.cancel()
    result = {
        "statuses": {m.message_id: m.status.value for m in done},
        "polls": sum(job.polls for job in handles),
        "led": led,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    anyio.run(main, json.loads(sys.argv[1]))
