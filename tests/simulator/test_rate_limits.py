"""Rate limits per key: the general bucket, the progress bucket, Retry-After, switching off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from imaginepro_async.testing import SimulatedRateLimit, Simulator

from .conftest import (
    ACCOUNT_INFO,
    DESCRIBE,
    FETCH,
    FETCH_LEGACY,
    FROZEN,
    IMAGES,
    IMAGINE,
    PROMPT_CHECK,
    Api,
    text,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def limited() -> AsyncIterator[Api]:
    """A simulator with the documented limits and a (nearly) frozen clock driven by advance."""
    async with Simulator(time_scale=FROZEN, seed=1) as sim, aiohttp.ClientSession() as session:
        yield Api(sim, session)


async def test_general_bucket_allows_one_request_per_three_seconds(limited: Api) -> None:
    """A second imagine within 3 s gets 429 with Retry-After and a NestJS body."""
    await limited.imagine()
    status, body, headers = await limited.request("POST", IMAGINE, {"prompt": "again"})
    assert status == 429
    assert body["statusCode"] == 429
    assert body["error"] == "Too Many Requests"
    assert "Retry after" in text(body)
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= 3
    limited.sim.advance(3)
    await limited.imagine()


async def test_refused_requests_do_not_use_budget(limited: Api) -> None:
    """Hammering while limited does not push the next free slot further away."""
    await limited.imagine()
    for _ in range(5):
        status, _ = await limited.post(IMAGINE, {"prompt": "x"})
        assert status == 429
    limited.sim.advance(3)
    status, _ = await limited.post(IMAGINE, {"prompt": "x"})
    assert status == 200
    assert limited.sim.stats().rate_limited == 5
    assert len(limited.sim.jobs()) == 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", ACCOUNT_INFO, None),
        ("GET", IMAGES, None),
        ("POST", PROMPT_CHECK, {"prompt": "x"}),
        ("POST", DESCRIBE, {"url": "https://example.com/a.png"}),
        ("POST", "/api/v1/nova/button", {"messageId": "x", "button": "U1"}),
    ],
)
async def test_general_bucket_is_shared_by_every_general_endpoint(
    limited: Api, method: str, path: str, body: object
) -> None:
    """After one imagine, every other general endpoint is limited too, within 3 s."""
    await limited.imagine()
    status, answer, headers = await limited.request(method, path, body)
    assert status == 429, answer
    assert "Retry-After" in headers


async def test_progress_bucket_allows_ten_per_second(limited: Api) -> None:
    """Ten fetches in a second pass, the eleventh gets 429; both paths share the bucket."""
    message_id = await limited.imagine()
    for n in range(10):
        path = FETCH if n % 2 else FETCH_LEGACY
        status, _ = await limited.get(path.format(message_id))
        assert status == 200
    status, body, headers = await limited.request("GET", FETCH.format(message_id))
    assert status == 429
    assert headers["Retry-After"] == "1"
    assert "progress" in text(body)
    limited.sim.advance(1)
    status, _ = await limited.get(FETCH.format(message_id))
    assert status == 200


async def test_progress_and_general_buckets_are_separate(limited: Api) -> None:
    """Polling does not use the general budget, and creating does not use the progress one."""
    message_id = await limited.imagine()
    for _ in range(10):
        await limited.fetch(message_id)
    limited.sim.advance(3)
    await limited.imagine()


async def test_limits_are_per_key(limited: Api) -> None:
    """Another key has its own budget."""
    other = limited.sim.add_account(credits=100)
    await limited.imagine()
    status, _ = await limited.post(IMAGINE, {"prompt": "x"}, key=other)
    assert status == 200


async def test_unauthenticated_requests_use_no_budget(limited: Api) -> None:
    """A 401 is answered before the limit is counted."""
    for _ in range(3):
        status, _ = await limited.post(IMAGINE, {"prompt": "x"}, key="sk-bad")
        assert status == 401
    await limited.imagine()


async def test_cdn_is_not_limited(limited: Api) -> None:
    """Downloading results is never limited."""
    message_id = await limited.imagine()
    limited.sim.advance(100)
    message = await limited.fetch(message_id)
    for _ in range(20):
        async with limited.session.get(message["uri"]) as response:
            assert response.status == 200


async def test_limits_can_be_switched_off() -> None:
    """With both limits None, bursts pass."""
    async with (
        Simulator(general_rate_limit=None, progress_rate_limit=None) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        ids = [await api.imagine() for _ in range(5)]
        for _ in range(30):
            await api.fetch(ids[0])
        assert sim.stats().rate_limited == 0


async def test_limits_can_be_changed_while_running(limited: Api) -> None:
    """Assigning sim.rate_limits.general takes effect on the next request."""
    limited.sim.rate_limits.general = SimulatedRateLimit(3, 10.0)
    for _ in range(3):
        await limited.imagine()
    status, _, headers = await limited.request("POST", IMAGINE, {"prompt": "x"})
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 10
    limited.sim.rate_limits.general = None
    await limited.imagine()


async def test_retry_after_counts_simulated_seconds(limited: Api) -> None:
    """Retry-After is the ceiling of the simulated wait: 2 s after the first request it is 1."""
    limited.sim.rate_limits.general = SimulatedRateLimit(1, 30.0)
    await limited.imagine()
    limited.sim.advance(10.5)
    _, _, headers = await limited.request("POST", IMAGINE, {"prompt": "x"})
    assert int(headers["Retry-After"]) in (19, 20)
    limited.sim.advance(19.6)
    await limited.imagine()


def test_rate_limit_validates_its_numbers() -> None:
    """SimulatedRateLimit refuses zero requests or a non-positive window."""
    with pytest.raises(ValueError, match="requests >= 1"):
        SimulatedRateLimit(0, 1.0)
    with pytest.raises(ValueError, match="per > 0"):
        SimulatedRateLimit(1, 0.0)
