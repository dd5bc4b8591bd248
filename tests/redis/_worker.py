"""One process of the multi-process tests: requests to the simulator through Redis budgets.

``python -m tests.redis._worker '<json>'``: sends ``creates`` imagine requests through the shared
create budget and ``polls`` progress requests (of ``message_id``) through the shared poll budget,
all at once, with raw aiohttp; prints ``{"statuses": {...}}``. With ``"hold": true`` it takes every
permit of both budgets, prints ``held`` and waits to be killed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

import aiohttp
import anyio

from imaginepro_async._coordination.budgets import RedisCoordination
from imaginepro_async._pacing.budget import Budget, RateLimit, spend
from imaginepro_async._pacing.clock import Clock


async def _send(
    session: aiohttp.ClientSession, budget: Budget, method: str, url: str, seen: Counter[int]
) -> None:
    body = {"prompt": "a harbour"} if method == "POST" else None
    async with spend(budget), session.request(method, url, json=body) as r:
        await r.read()
        seen[r.status] += 1
        if r.status == 429:
            await budget.pause(float(r.headers.get("Retry-After", "1")))


async def main(task: dict[str, Any]) -> None:
    clock = Clock(task["scale"])
    coordination = RedisCoordination(
        task["redis_url"], lease=task["lease"], unreachable_timeout=task["unreachable_timeout"]
    )
    async with coordination:
        create = coordination.budget(
            "create", RateLimit.imaginepro_create(), clock, key_id=task["key_id"]
        )
        poll = coordination.budget(
            "poll", RateLimit.imaginepro_progress(), clock, key_id=task["key_id"]
        )
        if task.get("hold"):
            for budget in (create, poll):
                for _ in range(budget.limit.requests):
                    await budget.acquire()
            print("held", flush=True)
            await anyio.sleep_forever()
        seen: Counter[int] = Counter()
        headers = {"Authorization": f"Bearer {task['api_key']}"}
        base = task["sim_url"]
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            anyio.create_task_group() as tg,
        ):
            for _ in range(task["creates"]):
                tg.start_soon(_send, session, create, "POST", f"{base}/api/v1/nova/imagine", seen)
            fetch = f"{base}/api/v1/message/fetch/{task['message_id']}"
            for _ in range(task["polls"]):
                tg.start_soon(_send, session, poll, "GET", fetch, seen)
    print(json.dumps({"statuses": {str(k): v for k, v in seen.items()}}), flush=True)


if __name__ == "__main__":
    anyio.run(main, json.loads(sys.argv[1]))
