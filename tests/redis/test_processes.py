"""Several processes on one key through the Redis budget, against one simulator."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

import anyio
import pytest
import redis.asyncio

from imaginepro_async.testing import RequestRecord, Simulator, fixed_duration
from tests.redis._common import LEASE, REPO, SCALE, job_to_poll, key_id, worker_command, worker_env
from tests.redis._server import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _task(
    sim: Simulator, server: RedisServer, name: str, message_id: str, **more: Any
) -> dict[str, Any]:
    return {
        "sim_url": sim.url,
        "api_key": sim.api_key,
        "redis_url": server.url,
        "key_id": key_id(name),
        "scale": SCALE,
        "lease": LEASE,
        "unreachable_timeout": 400.0,
        "message_id": message_id,
        "creates": 3,
        "polls": 40,
        **more,
    }


async def _run_workers(tasks: list[dict[str, Any]]) -> Counter[str]:
    """Run one worker process per task at once; the statuses they saw, summed."""
    seen: Counter[str] = Counter()

    async def one(task: dict[str, Any]) -> None:
        done = await anyio.run_process(worker_command(task), cwd=REPO, env=worker_env())
        seen.update(json.loads(done.stdout.decode().splitlines()[-1])["statuses"])

    with anyio.fail_after(120):  # a guard against hangs, not a timing assertion
        async with anyio.create_task_group() as tg:
            for task in tasks:
                tg.start_soon(one, task)
    return seen


async def test_four_processes_keep_both_limits_together(redis_server: RedisServer) -> None:
    """4 processes submitting and polling through one key: every request passes, no 429."""
    async with Simulator(time_scale=SCALE, seed=2) as sim:
        message_id = await job_to_poll(sim)
        task = _task(sim, redis_server, "four-processes", message_id)
        seen = await _run_workers([task] * 4)
        stats = sim.stats()
    assert seen == {"200": 4 * (3 + 40)}
    assert stats.rate_limited == 0
    assert stats.jobs_created == 12


async def test_a_killed_process_permits_expire_and_the_others_go_on(
    redis_server: RedisServer,
) -> None:
    """A process SIGKILLed holding every permit: they lapse within the lease; 3 others finish."""
    async with Simulator(time_scale=SCALE, seed=3) as sim:
        message_id = await job_to_poll(sim)
        task = _task(sim, redis_server, "killed", message_id)
        holder = await anyio.open_process(
            worker_command({**task, "hold": True}), cwd=REPO, env=worker_env()
        )
        async with holder:
            assert holder.stdout is not None
            with anyio.fail_after(60):
                assert (await holder.stdout.receive()).startswith(b"held")
            holder.kill()
            await holder.wait()
        async with redis.asyncio.Redis.from_url(redis_server.url) as raw:
            seconds, micros = await raw.time()
            now = seconds + micros / 1e6
            for kind, limit in (("create", 1), ("poll", 10)):
                held = await raw.zrange(
                    f"imaginepro-async:{{{task['key_id']}}}:{kind}:permits", 0, -1, withscores=True
                )
                scores = [float(entry[1]) for entry in held if isinstance(entry, tuple)]
                assert len(scores) == limit
                assert all(score <= now + LEASE / SCALE for score in scores)
        seen = await _run_workers([task] * 3)
        stats = sim.stats()
    assert seen == {"200": 3 * (3 + 40)}
    assert stats.rate_limited == 0


async def test_redis_restarted_mid_run_keeps_the_bound(own_redis_server: RedisServer) -> None:
    """Redis killed (losing every permit) and restarted while 4 processes run: still no 429."""
    async with Simulator(time_scale=SCALE, seed=4) as sim:
        message_id = await job_to_poll(sim)
        task = _task(sim, own_redis_server, "restart", message_id, creates=4, polls=60)

        async def restart_once_busy() -> None:
            while sim.stats().requests < 30:  # noqa: ASYNC110 (the simulator has no such event)
                await anyio.sleep(0.02)
            own_redis_server.kill()
            await anyio.to_thread.run_sync(own_redis_server.start)

        async with anyio.create_task_group() as tg:
            tg.start_soon(restart_once_busy)
            seen = await _run_workers([task] * 4)
        stats = sim.stats()
    assert seen == {"200": 4 * (4 + 60)}
    assert stats.rate_limited == 0


def _most_in_a_window(records: list[RequestRecord], per: float) -> int:
    """The most requests (refused ones too) in any window the simulator counts: (t - per, t]."""
    times = sorted(r.time for r in records)
    return max((sum(1 for t in times if end - per < t <= end) for end in times), default=0)


async def test_four_client_processes_keep_both_limits_together(redis_server: RedisServer) -> None:
    """4 processes, each a real client on one RedisCoordination key: jobs end, no 429, no excess."""
    async with Simulator(
        time_scale=SCALE, seed=5, concurrency=20, duration=fixed_duration(20)
    ) as sim:
        tasks = [
            {
                "sim_url": sim.url,
                "api_key": sim.api_key,
                "redis_url": redis_server.url,
                "namespace": "four-clients",
                "scale": SCALE,
                "lease": LEASE,
                "worker": worker,
                "jobs": 3,
            }
            for worker in range(4)
        ]
        statuses: list[str] = []

        async def one(task: dict[str, Any]) -> None:
            command = [sys.executable, "-m", "tests.redis._client_worker", json.dumps(task)]
            done = await anyio.run_process(command, cwd=REPO, env=worker_env())
            statuses.extend(json.loads(done.stdout.decode().splitlines()[-1])["statuses"])

        with anyio.fail_after(120):  # a guard against hangs, not a timing assertion
            async with anyio.create_task_group() as tg:
                for task in tasks:
                    tg.start_soon(one, task)
        records, stats, limits = sim.requests(), sim.stats(), sim.rate_limits
    assert statuses == ["DONE"] * 12
    assert stats.rate_limited == 0
    assert stats.jobs_created == 12
    assert limits.general is not None and limits.progress is not None
    polls = [r for r in records if r.endpoint == "fetch"]
    creates = [r for r in records if r.endpoint != "fetch"]
    assert len(creates) == 12
    assert _most_in_a_window(creates, limits.general.per) <= limits.general.requests
    assert _most_in_a_window(polls, limits.progress.per) <= limits.progress.requests
