"""Jobs shared through Redis: one leader polls, every client's handles resolve."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import anyio
import pytest
import redis.asyncio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from imaginepro_async import ImagineProClient, Job, Status, gather
from imaginepro_async._coordination.budgets import RedisCoordination
from imaginepro_async._errors import ImagineProError, InvalidInputError
from tests.redis._common import LEASE, REPO, SCALE, worker_env
from tests.redis._server import RedisServer
from tests.redis._shared import LEADER_LEASE, make_jobs, simulator

pytestmark = pytest.mark.anyio


async def _clients(
    stack: AsyncExitStack, url: str, namespace: str, sim_url: str, api_key: str, count: int
) -> list[ImagineProClient]:
    """``count`` clients on one key, each with its own coordination (as separate processes)."""
    clients = []
    for _ in range(count):
        coordination = await stack.enter_async_context(
            RedisCoordination(
                url,
                lease=LEASE,
                namespace=namespace,
                unreachable_timeout=400.0,
                share_jobs=True,
                leader_lease=LEADER_LEASE,
            )
        )
        client = ImagineProClient(
            api_key, base_url=sim_url, time_scale=SCALE, coordination=coordination
        )
        clients.append(await stack.enter_async_context(client))
    return clients


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 (polls have no event to wait on)
        await anyio.sleep(0.02)


def _polls(handles: list[Job]) -> int:
    return sum(job.polls for job in handles)


async def test_two_clients_one_polls_both_resolve(redis_server: RedisServer) -> None:
    """Two clients follow the same jobs: only one of them polls, both see every job end."""
    async with simulator(seed=11) as sim, AsyncExitStack() as stack:
        ids = await make_jobs(sim, 4)
        first, second = await _clients(
            stack, redis_server.url, "shared-two", sim.url, sim.api_key, 2
        )
        handles = [[client.job(i) for i in ids] for client in (first, second)]
        with anyio.fail_after(60):  # a guard against hangs, not a timing assertion
            results = [await gather(*jobs) for jobs in handles]
    assert [[m.status for m in done] for done in results] == [[Status.DONE] * 4] * 2
    assert sorted(_polls(jobs) == 0 for jobs in handles) == [False, True]


async def test_a_job_that_had_ended_resolves_from_the_registry(redis_server: RedisServer) -> None:
    """A client opened after the jobs ended gets their final Messages from Redis, not by polling."""
    async with simulator(seed=12) as sim, AsyncExitStack() as stack:
        ids = await make_jobs(sim, 2)
        (first,) = await _clients(stack, redis_server.url, "shared-late", sim.url, sim.api_key, 1)
        with anyio.fail_after(60):
            await gather(*(first.job(i) for i in ids))
        before = sim.stats().requests
        (late,) = await _clients(stack, redis_server.url, "shared-late", sim.url, sim.api_key, 1)
        with anyio.fail_after(60):
            done = await gather(*(late.job(i) for i in ids))
    assert [m.status for m in done] == [Status.DONE] * 2
    assert sim.stats().requests == before


async def test_a_hint_reaches_the_leader(redis_server: RedisServer) -> None:
    """A "poll now" made in a client that does not lead makes the leader look at the job."""
    async with simulator(seed=13) as sim, AsyncExitStack() as stack:
        (message_id,) = await make_jobs(sim, 1)
        clients = await _clients(stack, redis_server.url, "shared-hint", sim.url, sim.api_key, 2)
        handles = [client.job(message_id) for client in clients]
        with anyio.fail_after(60):
            await _until(lambda: any(job.polls for job in handles))  # the leader's first look
        leader = 0 if handles[0].polls else 1
        polls = handles[leader].polls
        with anyio.fail_after(60):
            while handles[leader].polls == polls and not handles[leader].done():
                await clients[1 - leader]._core.hint(message_id)
                await anyio.sleep(0.05)
            await gather(*handles)
    assert handles[1 - leader].polls == 0


async def test_redis_restarted_handles_still_resolve(own_redis_server: RedisServer) -> None:
    """Redis killed and restarted (losing every key) while two clients follow: all jobs end."""
    async with simulator(seed=14) as sim, AsyncExitStack() as stack:
        ids = await make_jobs(sim, 4)
        clients = await _clients(
            stack, own_redis_server.url, "shared-restart", sim.url, sim.api_key, 2
        )
        handles = [[client.job(i) for i in ids] for client in clients]
        with anyio.fail_after(60):
            await _until(lambda: any(_polls(jobs) for jobs in handles))
        own_redis_server.kill()
        await anyio.to_thread.run_sync(own_redis_server.start)
        with anyio.fail_after(120):
            results = [await gather(*jobs) for jobs in handles]
    assert [[m.status for m in done] for done in results] == [[Status.DONE] * 4] * 2


@pytest.mark.parametrize(
    ("option", "value"), [("share_jobs", "yes"), ("leader_lease", 0), ("leader_lease", -1.0)]
)
def test_bad_sharing_options_are_refused(option: str, value: object) -> None:
    """share_jobs must be a bool and leader_lease a positive number of seconds."""
    with pytest.raises(InvalidInputError, match=option):
        RedisCoordination("redis://127.0.0.1:1/0", **{option: value})  # type: ignore[arg-type]


async def test_the_leader_killed_another_takes_over(redis_server: RedisServer) -> None:
    """3 processes follow the same jobs; the leader is SIGKILLed mid-run: another leads, every
    job ends in both survivors, and only processes that led polled."""
    async with simulator(seed=15) as sim:
        ids = await make_jobs(sim, 5)
        task = {
            "sim_url": sim.url,
            "api_key": sim.api_key,
            "redis_url": redis_server.url,
            "namespace": "shared-kill",
            "scale": SCALE,
            "lease": LEASE,
            "leader_lease": LEADER_LEASE,
            "message_ids": ids,
        }
        command = [sys.executable, "-m", "tests.redis._shared_worker", json.dumps(task)]
        created = sim.stats().requests
        async with AsyncExitStack() as stack:
            workers = [
                await stack.enter_async_context(
                    await anyio.open_process(command, cwd=REPO, env=worker_env())
                )
                for _ in range(3)
            ]
            lines = [_lines(worker) for worker in workers]
            with anyio.fail_after(60):  # guards against hangs, not timing assertions
                tokens = [(await receive()).split()[-1] for receive in lines]
                await _until(lambda: sim.stats().requests > created)
            leader_key = f"shared-kill:{{{_digest(sim.api_key)}}}:leader"
            async with redis.asyncio.Redis.from_url(redis_server.url) as raw:
                holder = await raw.get(leader_key)
            killed = tokens.index(holder.decode() if isinstance(holder, bytes) else str(holder))
            workers[killed].kill()
            await workers[killed].wait()
            with anyio.fail_after(120):
                results = [
                    json.loads(await receive())
                    for index, receive in enumerate(lines)
                    if index != killed
                ]
    assert all(result["statuses"] == dict.fromkeys(ids, "DONE") for result in results)
    assert any(result["led"] for result in results)
    assert all(result["led"] or result["polls"] == 0 for result in results)


def _lines(process: Process) -> Callable[[], Awaitable[str]]:
    """Reads ``process``'s output line by line."""
    assert process.stdout is not None
    buffered = BufferedByteReceiveStream(process.stdout)

    async def receive() -> str:
        return (await buffered.receive_until(b"\n", 1 << 20)).decode()

    return receive


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


async def test_a_job_the_leader_gives_up_on_ends_in_every_client(
    redis_server: RedisServer,
) -> None:
    """An unknown messageId: the leader's 404s end it, and the other client's handle ends too."""
    async with simulator(seed=13) as sim, AsyncExitStack() as stack:
        first, second = await _clients(
            stack, redis_server.url, "shared-gone", sim.url, sim.api_key, 2
        )
        handles = [client.job("no-such-job-4242") for client in (first, second)]
        outcomes = []
        with anyio.fail_after(60):  # a guard against hangs, not a timing assertion
            for job in handles:
                with pytest.raises(ImagineProError) as caught:
                    await job
                outcomes.append(caught.value)
    assert sorted(type(e).__name__ for e in outcomes) == ["JobFailedError", "NotFoundError"]
    assert any("gave up on it" in str(e) for e in outcomes)
