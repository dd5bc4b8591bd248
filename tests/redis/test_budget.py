"""The Redis budget in one process: the bound, give-back, the shared pause, failing closed."""

from __future__ import annotations

from collections import Counter

import aiohttp
import anyio
import pytest
import redis.asyncio

from imaginepro_async._coordination.budgets import RedisCoordination
from imaginepro_async._errors import CoordinationError, InvalidInputError
from imaginepro_async._pacing.budget import Budget, RateLimit, spend
from imaginepro_async._pacing.clock import Clock
from imaginepro_async.testing import Simulator
from tests.redis._common import LEASE, SCALE, job_to_poll, key_id
from tests.redis._server import RedisServer

pytestmark = pytest.mark.anyio

CLOCK = Clock(SCALE)


async def _poll(
    session: aiohttp.ClientSession, budget: Budget, url: str, seen: Counter[int]
) -> None:
    async with spend(budget), session.get(url) as answer:
        seen[answer.status] += 1


async def test_many_acquirers_in_two_coordinations_never_trip_the_limit(
    redis_server: RedisServer,
) -> None:
    """120 concurrent polls through two coordinations on one key: the simulator serves no 429."""
    async with Simulator(time_scale=SCALE, seed=1) as sim:
        message_id = await job_to_poll(sim)
        url = f"{sim.url}/api/v1/message/fetch/{message_id}"
        seen: Counter[int] = Counter()
        headers = {"Authorization": f"Bearer {sim.api_key}"}
        async with (
            RedisCoordination(redis_server.url, lease=LEASE) as first,
            RedisCoordination(redis_server.url, lease=LEASE) as second,
            aiohttp.ClientSession(headers=headers) as session,
        ):
            kid = key_id("many-acquirers")
            budgets = [
                c.budget("poll", RateLimit.imaginepro_progress(), CLOCK, key_id=kid)
                for c in (first, second)
            ]
            async with anyio.create_task_group() as tg:
                for index in range(120):
                    tg.start_soon(_poll, session, budgets[index % 2], url, seen)
        assert seen == {200: 120}
        assert sim.stats().rate_limited == 0
        assert sum(b.started for b in budgets) == 120


async def test_give_back_frees_the_permit_at_once(redis_server: RedisServer) -> None:
    """A permit given back is removed from Redis, while a released one keeps counting."""
    kid = key_id("give-back")
    async with RedisCoordination(redis_server.url, lease=LEASE) as coordination:
        budget = coordination.budget("create", RateLimit(2, 3.0), CLOCK, key_id=kid)
        kept, returned = await budget.acquire(), await budget.acquire()
        await returned.give_back()
        await kept.release()
        assert budget.started == 1
    async with redis.asyncio.Redis.from_url(redis_server.url) as raw:
        assert await raw.zcard(f"imaginepro-async:{{{kid}}}:create:permits") == 1


async def test_a_pause_in_one_process_holds_back_the_others(redis_server: RedisServer) -> None:
    """After one coordination pauses (a 429), another on the same key gets no permit."""
    kid = key_id("pause")
    async with (
        RedisCoordination(redis_server.url, lease=LEASE) as first,
        RedisCoordination(redis_server.url, lease=LEASE) as second,
    ):
        limit = RateLimit.imaginepro_progress()
        await first.budget("poll", limit, CLOCK, key_id=kid).pause(10_000.0)
        other = second.budget("poll", limit, CLOCK, key_id=kid)
        with anyio.move_on_after(0.5) as scope:
            await other.acquire()
        assert scope.cancelled_caught
        assert other.started == 0


async def test_unreachable_redis_raises_and_sends_nothing(own_redis_server: RedisServer) -> None:
    """With Redis down, acquiring retries, then raises CoordinationError; nothing reaches the API."""
    own_redis_server.kill()
    async with Simulator(time_scale=SCALE, seed=1) as sim:
        coordination = RedisCoordination(
            own_redis_server.url, lease=LEASE, unreachable_timeout=10.0, seed=1
        )
        async with coordination:
            budget = coordination.budget(
                "create", RateLimit.imaginepro_create(), CLOCK, key_id=key_id("down")
            )
            with pytest.raises(CoordinationError, match="could not be reached"):
                async with spend(budget), aiohttp.ClientSession() as session:
                    await session.post(f"{sim.url}/api/v1/nova/imagine")
        assert sim.stats().requests == 0


@pytest.mark.parametrize(
    ("kind", "kid", "words"),
    [
        ("upscale", "0123456789abcdef", "kind"),
        ("poll", "sk-not-a-digest!", "key_id"),
        ("poll", "abc", "key_id"),
    ],
)
async def test_bad_budget_arguments_are_refused(
    redis_server: RedisServer, kind: str, kid: str, words: str
) -> None:
    """An unknown kind or a key id that is not a hex digest is refused, naming the value."""
    async with RedisCoordination(redis_server.url) as coordination:
        with pytest.raises(InvalidInputError, match=words):
            coordination.budget(kind, RateLimit(1, 1.0), CLOCK, key_id=kid)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"lease": 0}, "lease"),
        ({"lease": float("inf")}, "lease"),
        ({"unreachable_timeout": -1}, "unreachable_timeout"),
        ({"namespace": "a b"}, "namespace"),
    ],
)
def test_bad_coordination_options_are_refused(options: dict[str, object], words: str) -> None:
    """A bad lease, timeout or namespace is refused before anything connects."""
    with pytest.raises(InvalidInputError, match=words):
        RedisCoordination("redis://127.0.0.1:1/0", **options)  # type: ignore[arg-type]


def test_a_url_that_is_not_redis_is_refused_without_its_password() -> None:
    """A URL of another scheme is refused; the message leaves out any credentials in it."""
    with pytest.raises(InvalidInputError, match="redis://") as caught:
        RedisCoordination("http://user:secret@example.com:6379")
    assert "secret" not in str(caught.value)


async def test_a_learnt_rate_is_shared_and_climbs_back_together(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 in one process: the count (every process's requests let in during the window before
    it) sets one learnt rate in Redis; the other process spends at it, does not cut again for a
    429 of the same event, and both are back at the limit together after the probe."""
    clock = Clock(4.0)  # a window is 0.25 s here: the seven releases below fit in one
    kid = key_id("learnt-rate")
    limit = RateLimit(10, 1.0, probe_every=4.0)
    async with (
        RedisCoordination(redis_server.url, lease=2.0) as first,
        RedisCoordination(redis_server.url, lease=2.0) as second,
    ):
        one = first.budget("poll", limit, clock, key_id=kid)
        two = second.budget("poll", limit, clock, key_id=kid)
        for budget in (one, two, one, two, one, two, one):  # the seventh is the one refused
            await (await budget.acquire()).release()
        with caplog.at_level("INFO", logger="imaginepro_async"):
            await one.pause(1.0)
            await two.pause(1.0)  # the same event: no second cut
        cuts = [r for r in caplog.records if "did not cause" in r.message]
        assert len(cuts) == 1
        assert cuts[0].levelname == "WARNING"
        assert "someone else spent about 4 of 10" in cuts[0].message
        assert kid not in cuts[0].message
        assert one.rate == pytest.approx(5.0)
        assert two.rate == pytest.approx(5.0)
        permit = await two.acquire()  # after the shared pause, at the shared level
        await permit.give_back()
        assert two.rate == pytest.approx(5.0)
        async with redis.asyncio.Redis.from_url(redis_server.url) as raw:
            learnt = await raw.hgetall(f"imaginepro-async:{{{kid}}}:poll:learnt")
        assert float(learnt[b"learnt"]) == pytest.approx(5.0)
        await clock.sleep(4.0 + 5 * limit.per)  # the probe climbs a request per window to 10
        assert one.rate == two.rate == 10.0
