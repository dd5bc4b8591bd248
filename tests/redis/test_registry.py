"""The shared job registry: leader election with a lease, forward-only updates, streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from imaginepro_async._coordination.budgets import RedisCoordination
from imaginepro_async._coordination.registry import RedisJobRegistry, RedisLeadership, status_rank
from imaginepro_async._errors import InvalidInputError
from imaginepro_async._pacing.clock import Clock
from tests.redis._common import SCALE, key_id
from tests.redis._server import RedisServer

pytestmark = pytest.mark.anyio

CLOCK = Clock(SCALE)


@pytest.fixture
async def two(redis_server: RedisServer) -> AsyncIterator[tuple[RedisCoordination, ...]]:
    """Two coordinations with their own connections, as two processes would have."""
    async with (
        RedisCoordination(redis_server.url) as first,
        RedisCoordination(redis_server.url) as second,
    ):
        yield first, second


async def test_only_one_process_leads(two: tuple[RedisCoordination, ...]) -> None:
    """Two contenders claim in turn: the first leads, the second does not, both keep to it."""
    kid = key_id("one-leader")
    first, second = (RedisLeadership(c, kid, CLOCK, lease=100.0) for c in two)
    assert await first.claim()
    assert not await second.claim()
    assert await first.claim()  # a renewal
    assert first.leading
    assert not second.leading


async def test_a_resigned_leader_is_replaced_at_once(two: tuple[RedisCoordination, ...]) -> None:
    """After the leader resigns, the next claim of another process wins."""
    kid = key_id("resign")
    first, second = (RedisLeadership(c, kid, CLOCK, lease=100.0) for c in two)
    assert await first.claim()
    await first.resign()
    assert not first.leading
    assert await second.claim()
    assert not await first.claim()


async def test_a_leader_that_stops_renewing_is_replaced_after_its_lease(
    two: tuple[RedisCoordination, ...],
) -> None:
    """A leader that stops renewing (a crash) no longer leads once its lease has passed."""
    kid = key_id("lapse")
    first, second = (RedisLeadership(c, kid, CLOCK, lease=4.0) for c in two)
    assert await first.claim()
    assert not await second.claim()
    await CLOCK.sleep(4.0 * 1.5)
    assert not first.leading  # it knows by itself, without asking Redis
    assert await second.claim()


UPDATES: list[tuple[dict[str, Any], bool]] = [
    ({"status": "QUEUED", "progress": 0}, True),
    ({"status": "PROCESSING", "progress": 10}, True),
    ({"status": "QUEUED", "progress": 0}, False),  # a status never goes back
    ({"status": "PROCESSING", "progress": "40"}, True),  # progress as a string (the API's way)
    ({"status": "PROCESSING", "progress": 30}, False),  # progress never decreases
    ({"status": "PROCESSING", "progress": 40}, False),  # nothing new
    ({"status": "DONE", "progress": 100}, True),
    ({"status": "FAIL", "progress": 100}, False),  # a terminal status is final
    ({"status": "PROCESSING", "progress": 100}, False),
]


async def test_updates_only_move_forward(two: tuple[RedisCoordination, ...]) -> None:
    """A table of Messages: only newer ones are recorded and streamed; the job ends unfollowed."""
    first, second = (RedisJobRegistry(c, key_id("forward"), CLOCK) for c in two)
    await first.follow("job-1")
    assert await second.followed() == {"job-1"}
    accepted = []
    for index, (fields, newer) in enumerate(UPDATES):
        registry = (first, second)[index % 2]
        entry = await registry.publish({"messageId": "job-1", **fields})
        assert (entry is not None) == newer, fields
        if newer:
            accepted.append(fields)
    streamed = await first.updates()
    assert [message["progress"] for _, message in streamed] == [a["progress"] for a in accepted]
    assert await second.latest("job-1") == {"messageId": "job-1", "status": "DONE", "progress": 100}
    assert await first.followed() == set()


async def test_a_reader_that_was_away_rereads_what_it_missed(
    two: tuple[RedisCoordination, ...],
) -> None:
    """Reading after the last entry seen returns exactly the updates published since."""
    first, second = (RedisJobRegistry(c, key_id("reread"), CLOCK) for c in two)
    await first.publish({"messageId": "a", "status": "QUEUED", "progress": 0})
    seen = await second.updates()
    last = seen[-1][0]
    await first.publish({"messageId": "a", "status": "PROCESSING", "progress": 50})
    await first.publish({"messageId": "b", "status": "DONE", "progress": 100})
    missed = await second.updates(after=last)
    assert [(m["messageId"], m["status"]) for _, m in missed] == [
        ("a", "PROCESSING"),
        ("b", "DONE"),
    ]
    assert await second.updates(after=missed[-1][0], block=0.05) == []


async def test_poll_requests_reach_the_leader(two: tuple[RedisCoordination, ...]) -> None:
    """A "poll now" request made in one process is read, once, by another."""
    first, second = (RedisJobRegistry(c, key_id("poll-now"), CLOCK) for c in two)
    await first.request_poll("job-9")
    requests = await second.poll_requests()
    assert [message_id for _, message_id in requests] == ["job-9"]
    assert await second.poll_requests(after=requests[-1][0]) == []


@pytest.mark.parametrize(
    ("status", "rank"),
    [("QUEUED", 0), ("PROCESSING", 1), ("SUBMITTED", 1), (None, 1), ("DONE", 2), ("FAIL", 2)],
)
def test_status_rank(status: object, rank: int) -> None:
    """Statuses are ordered QUEUED < PROCESSING (and unknown ones) < DONE = FAIL."""
    assert status_rank(status) == rank


async def test_a_message_without_id_is_refused(two: tuple[RedisCoordination, ...]) -> None:
    """Publishing a Message without a messageId is refused before anything is written."""
    registry = RedisJobRegistry(two[0], key_id("no-id"), CLOCK)
    with pytest.raises(InvalidInputError, match="messageId"):
        await registry.publish({"status": "DONE"})
