"""Fault injection: each kind, per endpoint, by count or probability, seeded."""

from __future__ import annotations

import json

import aiohttp
import pytest

from imaginepro_async.testing import Endpoint, FaultKind, Simulator

from .conftest import ACCOUNT_INFO, BUTTON, FETCH, FROZEN, IMAGINE, Api, text

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("kind", "status"),
    [(FaultKind.HTTP_500, 500), (FaultKind.HTTP_502, 502), (FaultKind.HTTP_503, 503)],
)
async def test_error_faults_answer_the_status_and_process_nothing(
    api: Api, kind: FaultKind, status: int
) -> None:
    """5xx faults answer that status with a NestJS body; no job is created, nothing charged."""
    api.sim.faults.add(kind=kind, endpoint=Endpoint.IMAGINE, times=1)
    got, body = await api.post(IMAGINE, {"prompt": "x"})
    assert got == status
    assert body["statusCode"] == status
    assert "fault injected" in text(body)
    assert api.sim.jobs() == []
    assert api.sim.credits_spent()[api.sim.api_key] == 0
    await api.imagine()


async def test_drop_before_processing_creates_nothing(api: Api) -> None:
    """drop_before closes the connection: the client sees a disconnect and no job exists."""
    api.sim.faults.add(kind="drop_before", endpoint="imagine")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post(IMAGINE, {"prompt": "x"})
    assert api.sim.jobs() == []
    assert api.sim.credits_spent()[api.sim.api_key] == 0
    log = api.sim.requests()[-1]
    assert (log.status, log.fault) == (None, "drop_before")


async def test_drop_after_processing_creates_and_charges(api: Api) -> None:
    """drop_after: the job exists and is charged, but the client only sees a disconnect."""
    api.sim.faults.add(endpoint="imagine", kind="drop_after", times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post(IMAGINE, {"prompt": "pay me twice", "ref": "r1"})
    assert len(api.sim.jobs()) == 1
    assert api.sim.credits_spent()[api.sim.api_key] == 10
    await api.imagine("pay me twice", ref="r1")
    assert api.sim.jobs_per_ref() == {"r1": 2}
    assert api.sim.jobs_per_body(min_count=2)[0].count == 2


async def test_drop_after_on_a_button(api: Api) -> None:
    """drop_after on the button endpoint: the button job exists although the client saw none."""
    grid = await api.imagine()
    await api.done(grid)
    api.sim.faults.add(endpoint="button", kind="drop_after")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post(BUTTON, {"messageId": grid, "button": "U1"})
    children = [job for job in api.sim.jobs() if job.parent_id == grid]
    assert len(children) == 1
    assert children[0].credits == 5


async def test_drop_on_a_get(api: Api) -> None:
    """Drops work on GET endpoints too (aiohttp retries a GET once, so drop twice)."""
    message_id = await api.imagine()
    api.sim.faults.add(endpoint="fetch", kind="drop_before", times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.get(FETCH.format(message_id))
    assert [r.fault for r in api.sim.requests()[-2:]] == ["drop_before"] * 2
    await api.fetch(message_id)


async def test_malformed_json_is_200_with_broken_json(api: Api) -> None:
    """malformed_json answers 200 with a body that is not JSON; the request was processed."""
    api.sim.faults.add(kind="malformed_json", endpoint="imagine")
    async with api.session.post(
        api.sim.url + IMAGINE, json={"prompt": "x"}, headers=api.headers(None)
    ) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        raw = await response.read()
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    assert len(api.sim.jobs()) == 1


async def test_slow_answers_take_the_delay_in_simulated_time() -> None:
    """slow holds the answer back `delay` simulated seconds, then processes it normally."""
    async with (
        Simulator(time_scale=1000.0, general_rate_limit=None) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        sim.faults.add(kind="slow", endpoint="account_info", delay=200.0)
        before = sim.now()
        status, _ = await api.get(ACCOUNT_INFO)
        assert status == 200
        assert sim.now() - before >= 200.0
        assert sim.requests()[-1].fault == "slow"


async def test_times_fires_exactly_n_times_then_retires(api: Api) -> None:
    """A times=N rule hits the next N matching requests, then disappears."""
    rule = api.sim.faults.add(kind="http_503", endpoint="account_info", times=2)
    statuses = [(await api.get(ACCOUNT_INFO))[0] for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert rule.fired == 2
    assert api.sim.faults.rules == ()


async def test_faults_only_hit_their_endpoint(api: Api) -> None:
    """A rule for the button endpoint leaves imagine and fetch alone."""
    api.sim.faults.add(kind="http_500", endpoint="button", probability=1.0)
    message_id = await api.imagine()
    await api.fetch(message_id)
    status, _ = await api.post(BUTTON, {"messageId": message_id, "button": "U1"})
    assert status == 500


async def test_a_rule_without_endpoint_hits_everything(api: Api) -> None:
    """endpoint=None matches every endpoint, the CDN included."""
    api.sim.faults.add(kind="http_502", times=2)
    assert (await api.get(ACCOUNT_INFO))[0] == 502
    async with api.session.get(api.sim.url + "/cdn/x/0.png") as response:
        assert response.status == 502


async def test_probability_is_seeded_and_reproducible() -> None:
    """The same seed gives the same sequence of faults for probability rules."""
    runs = []
    for _ in range(2):
        async with (
            Simulator(seed=11, time_scale=FROZEN, general_rate_limit=None) as sim,
            aiohttp.ClientSession() as session,
        ):
            sim.faults.add(kind="http_500", endpoint="account_info", probability=0.5)
            api = Api(sim, session)
            runs.append([(await api.get(ACCOUNT_INFO))[0] for _ in range(30)])
    assert runs[0] == runs[1]
    assert 500 in runs[0]
    assert 200 in runs[0]


async def test_probability_zero_never_fires(api: Api) -> None:
    """probability=0 never fires; remove() takes a rule away."""
    rule = api.sim.faults.add(kind="http_500", endpoint="account_info", probability=0.0)
    statuses = [(await api.get(ACCOUNT_INFO))[0] for _ in range(10)]
    assert statuses == [200] * 10
    api.sim.faults.remove(rule)
    assert api.sim.faults.rules == ()


async def test_faults_are_counted_in_stats(api: Api) -> None:
    """Every injected fault is counted and named in the request log."""
    api.sim.faults.add(kind="http_500", endpoint="account_info", times=3)
    for _ in range(3):
        await api.get(ACCOUNT_INFO)
    assert api.sim.stats().faults == 3
    assert [r.fault for r in api.sim.requests()] == ["http_500"] * 3
    api.sim.faults.clear()


def test_fault_rules_are_validated() -> None:
    """Faults.add refuses unknown kinds and endpoints, both probability and times, bad values."""
    sim = Simulator()
    with pytest.raises(ValueError, match="explode"):
        sim.faults.add(kind="explode")
    with pytest.raises(ValueError, match="nowhere"):
        sim.faults.add(kind="http_500", endpoint="nowhere")
    with pytest.raises(ValueError, match="not both"):
        sim.faults.add(kind="http_500", probability=0.5, times=2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        sim.faults.add(kind="http_500", probability=1.5)
    with pytest.raises(ValueError, match="at least 1"):
        sim.faults.add(kind="http_500", times=0)
    with pytest.raises(ValueError, match="negative"):
        sim.faults.add(kind="slow", delay=-1)
    assert sim.faults.rules == ()
