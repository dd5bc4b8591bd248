"""Redis outages are weather: a client rides out a Redis that is silent, cut, killed or erring.

Every Redis here is a real ``redis-server``; outages are made by a TCP proxy in front of it
(``_proxy.py``), by SIGKILL and restart, or by Redis itself refusing writes (``maxmemory``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import pytest
import redis.asyncio

from imaginepro_async import ClientClosedError, ClientState, ImagineProClient, Job, Status, gather
from imaginepro_async._coordination.budgets import RedisCoordination
from imaginepro_async._coordination.shared_jobs import SharedJobs
from imaginepro_async._errors import CoordinationError
from imaginepro_async._scheduling.scheduler import Scheduler
from imaginepro_async.testing import Simulator, fixed_duration
from tests.redis._common import SCALE
from tests.redis._proxy import RedisProxy
from tests.redis._server import RedisServer
from tests.redis._shared import make_jobs

pytestmark = pytest.mark.anyio

LEASE = 10.0  # API seconds (0.5 s real): a fresh or restarted Redis grants nothing for this long
UNREACHABLE = 10.0  # API seconds (0.5 s real): each outage below lasts several times this
LEADER_LEASE = 10.0
GUARD = 30  # real seconds: guards against hangs, never timing assertions


def _simulator(seed: int) -> Simulator:
    """Jobs of 30 API seconds (1.5 s real), all running at once."""
    return Simulator(time_scale=SCALE, seed=seed, concurrency=20, duration=fixed_duration(30))


@asynccontextmanager
async def _proxy(server: RedisServer) -> AsyncIterator[RedisProxy]:
    proxy = RedisProxy(server.port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.aclose()


async def _client(
    stack: AsyncExitStack, url: str, sim: Simulator, namespace: str, *, share_jobs: bool = False
) -> ImagineProClient:
    """A client coordinated through ``url`` with short socket timeouts (a silent Redis fails each
    command within 0.3 s real; 1 s with shared jobs, above their 0.5 s stream reads)."""
    timeout = 1.0 if share_jobs else 0.3
    connection = redis.asyncio.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
    )
    stack.push_async_callback(connection.aclose)
    coordination = RedisCoordination(
        connection,
        lease=LEASE,
        namespace=namespace,
        unreachable_timeout=UNREACHABLE,
        share_jobs=share_jobs,
        leader_lease=LEADER_LEASE,
    )
    client = ImagineProClient(
        sim.api_key, base_url=sim.url, time_scale=SCALE, coordination=coordination
    )
    return await stack.enter_async_context(client)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 (polls have no event to wait on)
        await anyio.sleep(0.02)


def _polled(handles: list[Job]) -> Callable[[], bool]:
    return lambda: any(job.polls for job in handles)


async def test_a_silent_then_cut_redis_is_ridden_out(redis_server: RedisServer) -> None:
    """Redis blackholed, then cut, each for 2x unreachable_timeout, then slow: no followed job
    fails, a submission meanwhile gets CoordinationError (nothing sent), polls and submits resume."""
    async with _simulator(seed=21) as sim, _proxy(redis_server) as proxy, AsyncExitStack() as st:
        ids = await make_jobs(sim, 3)
        client = await _client(st, proxy.url, sim, "outage-silent")
        handles = [client.job(i) for i in ids]
        with anyio.fail_after(GUARD):
            await _until(_polled(handles))
            created = sim.stats().jobs_created
            for mode in ("blackhole", "cut"):  # then slow, to the end
                proxy.set(mode)
                with pytest.raises(CoordinationError, match="nothing was sent"):
                    await client.imagine("a lighthouse in the fog")
                await anyio.sleep(0.4)
                proxy.set("pass")
            assert sim.stats().jobs_created == created
            proxy.delay = 0.05  # each way, per read
            done = await gather(*handles)
            assert client.state is ClientState.OPEN
            assert (await client.imagine("a lighthouse at dawn")).message_id
    assert [m.status for m in done] == [Status.DONE] * 3


async def test_redis_killed_and_restarted_empty_is_ridden_out(
    own_redis_server: RedisServer,
) -> None:
    """Redis SIGKILLed mid-poll for 2x unreachable_timeout, then restarted without its data: the
    followed jobs end DONE, the client stays open and submits again."""
    async with _simulator(seed=22) as sim, AsyncExitStack() as stack:
        ids = await make_jobs(sim, 3)
        client = await _client(stack, own_redis_server.url, sim, "outage-killed")
        handles = [client.job(i) for i in ids]
        with anyio.fail_after(GUARD):
            await _until(_polled(handles))
            own_redis_server.kill()
            await anyio.sleep(1.0)
            await anyio.to_thread.run_sync(own_redis_server.start)
            done = await gather(*handles)
            assert client.state is ClientState.OPEN
            assert (await client.imagine("a harbour at night")).message_id
    assert [m.status for m in done] == [Status.DONE] * 3


async def test_shared_jobs_survive_redis_refusing_writes_and_failing_over(
    own_redis_server: RedisServer, redis_server: RedisServer
) -> None:
    """Redis out of memory (it refuses every write) while two clients share jobs and start
    following more, then made a replica (READONLY) and promoted back with another's data (a
    failover): the shared-jobs tasks live on, and every job ends in both clients."""
    async with _simulator(seed=23) as sim, AsyncExitStack() as stack:
        ids = await make_jobs(sim, 4)
        clients = [
            await _client(stack, own_redis_server.url, sim, "outage-oom", share_jobs=True)
            for _ in range(2)
        ]
        handles = [[client.job(i) for i in ids[:2]] for client in clients]
        admin = redis.asyncio.Redis.from_url(own_redis_server.url)
        stack.push_async_callback(admin.aclose)
        with anyio.fail_after(GUARD):
            await _until(lambda: any(_polled(jobs)() for jobs in handles))
            await admin.config_set("maxmemory-policy", "noeviction")
            await admin.config_set("maxmemory", 1)
            with pytest.raises(redis.exceptions.ResponseError, match="maxmemory"):
                await admin.set("probe", "x")
            for index, client in enumerate(clients):  # registering them needs writes
                handles[index] += [client.job(i) for i in ids[2:]]
            await anyio.sleep(0.75)
            await admin.config_set("maxmemory", 0)
            await admin.replicaof("127.0.0.1", redis_server.port)
            with pytest.raises(redis.exceptions.ReadOnlyError):
                await admin.set("probe", "x")
            await anyio.sleep(0.75)
            await admin.replicaof("NO", "ONE")
            results = [await gather(*jobs) for jobs in handles]
            assert [client.state for client in clients] == [ClientState.OPEN] * 2
    assert [[m.status for m in done] for done in results] == [[Status.DONE] * 4] * 2


@pytest.mark.parametrize(
    ("task", "patch"),
    [
        ("poller", (Scheduler, "_take")),
        ("shared-jobs task", (SharedJobs, "_lead")),
    ],
)
async def test_a_background_task_that_dies_breaks_the_client_truthfully(
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    task: str,
    patch: tuple[type, str],
) -> None:
    """A bug ending the poller or the shared-jobs task (injected): every waiter fails at once with
    ClientClosedError naming it, state says BROKEN, the next call says what to do, aclose logs."""
    failing: list[Callable[..., Awaitable[None]]] = []

    def bug(*args: object, **kwargs: object) -> None:
        if failing:
            raise RuntimeError("an injected bug")
        return original(*args, **kwargs)  # type: ignore[no-any-return]

    async def async_bug(*args: object, **kwargs: object) -> None:
        if failing:
            raise RuntimeError("an injected bug")
        return await original(*args, **kwargs)  # type: ignore[no-any-return]

    owner, name = patch
    original = getattr(owner, name)
    monkeypatch.setattr(owner, name, async_bug if name == "_lead" else bug)
    async with _simulator(seed=24) as sim, AsyncExitStack() as stack:
        ids = await make_jobs(sim, 2)
        client = await _client(stack, redis_server.url, sim, f"broken-{name}", share_jobs=True)
        handles = [client.job(i) for i in ids]
        failing.append(async_bug)
        with anyio.fail_after(GUARD):
            for job in handles:
                with pytest.raises(ClientClosedError, match=f"its {task} failed.*injected bug"):
                    await job
        assert client.state is ClientState.BROKEN
        assert "broken" in repr(client)
        with pytest.raises(ClientClosedError, match="open a new ImagineProClient"):
            await client.imagine("a harbour")
        with pytest.raises(ClientClosedError, match="stopped working"):
            client.job(ids[0])
        with caplog.at_level(logging.ERROR, logger="imaginepro_async"):
            await client.aclose()
    assert repr(client).endswith(" closed>")  # (mypy keeps client.state narrowed to BROKEN)
    assert any("had failed" in record.getMessage() for record in caplog.records)
