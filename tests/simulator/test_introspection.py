"""Introspection: the Python API and the same data as JSON under /_simulator/."""

from __future__ import annotations

from typing import Any

import pytest

from imaginepro_async.testing import BodyCount, JobTimeline, RequestRecord

from .conftest import ACCOUNT_INFO, IMAGINE, Api

pytestmark = pytest.mark.anyio


async def admin(api: Api, method: str, path: str, body: Any = None) -> Any:
    """Call an admin route (no key needed) and return its JSON."""
    async with api.session.request(method, api.sim.url + "/_simulator" + path, json=body) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_request_log_records_each_request(api: Api) -> None:
    """The log has method, path, endpoint, status, key and simulated time for each request."""
    api.sim.advance(5)
    await api.imagine()
    await api.get(ACCOUNT_INFO, key="sk-bad")
    first, second = api.sim.requests()
    assert isinstance(first, RequestRecord)
    assert (first.method, first.path, first.endpoint, first.status) == (
        "POST", IMAGINE, "imagine", 200,
    )  # fmt: skip
    assert first.api_key == api.key
    assert first.time >= 5
    assert (second.status, second.api_key) == (401, None)


async def test_stats_count_statuses_endpoints_and_jobs(api: Api) -> None:
    """stats() counts requests by status and endpoint, 429s, jobs and credits."""
    api.sim.rate_limits.general = api.sim.rate_limits.progress
    message_id = await api.imagine()
    await api.fetch(message_id)
    stats = api.sim.stats()
    assert stats.requests == 2
    assert stats.by_status == {200: 2}
    assert stats.by_endpoint == {"imagine": 1, "fetch": 1}
    assert stats.jobs_created == 1
    assert stats.credits_spent == 10
    assert stats.rate_limited == 0


async def test_duplicates_are_found_per_ref_and_per_body(api: Api) -> None:
    """Jobs are counted per ref and per identical body; masks are abbreviated."""
    for _ in range(3):
        await api.imagine("same", ref="a")
    await api.imagine("other", ref="b")
    await api.imagine("no ref")
    assert api.sim.jobs_per_ref() == {"a": 3, "b": 1}
    (dup,) = api.sim.jobs_per_body(min_count=2)
    assert isinstance(dup, BodyCount)
    assert (dup.endpoint, dup.count) == ("imagine", 3)
    assert '"prompt":"same"' in dup.body
    assert len(dup.message_ids) == 3
    assert len(api.sim.jobs_per_body()) == 3
    await api.imagine("x" * 500)
    assert "<500 chars sha256:" in api.sim.jobs_per_body()[-1].body


async def test_job_timeline(api: Api) -> None:
    """job() gives created, started, finished, status, error and credits in simulated seconds."""
    message_id = await api.imagine(ref="t")
    running = api.sim.job(message_id)
    assert isinstance(running, JobTimeline)
    assert running.started == running.created
    assert (running.finished, running.status, running.credits) == (None, "PROCESSING", 10)
    api.sim.advance(100)
    done = api.sim.job(message_id)
    assert done.finished is not None
    assert done.finished - done.created == pytest.approx(60.0)
    assert (done.status, done.progress, done.error, done.ref) == ("DONE", 100, None, "t")
    assert api.sim.jobs(ref="t") == [done]
    assert api.sim.jobs(ref="nope") == []
    with pytest.raises(KeyError):
        api.sim.job("nope")
    assert api.sim.message(message_id) == await api.fetch(message_id)


async def test_credits_spent_per_key(api: Api) -> None:
    """credits_spent() reports each key's spending."""
    other = api.sim.add_account(credits=50)
    await api.imagine()
    await api.post(IMAGINE, {"prompt": "x"}, key=other)
    assert api.sim.credits_spent() == {api.key: 10, other: 10}
    assert api.sim.credits(other) == 40


async def test_reset_counters_forgets_counts_but_keeps_jobs(api: Api) -> None:
    """reset_counters() clears logs and counters; jobs and balances stay."""
    message_id = await api.imagine(ref="r")
    api.sim.reset_counters()
    assert api.sim.requests() == []
    assert api.sim.stats().requests == 0
    assert api.sim.jobs_per_ref() == {}
    assert api.sim.jobs_per_body() == []
    assert api.sim.credits_spent() == {api.key: 0}
    assert api.sim.job(message_id).status == "PROCESSING"


async def test_admin_routes_mirror_the_python_api(api: Api) -> None:
    """Every introspection accessor is served as JSON under /_simulator/, unlogged."""
    message_id = await api.imagine("dup", ref="r")
    await api.imagine("dup", ref="r")
    stats = await admin(api, "GET", "/stats")
    assert stats["requests"] == 2
    assert stats["by_status"] == {"200": 2}
    log = await admin(api, "GET", "/requests?limit=1")
    assert [r["path"] for r in log] == [IMAGINE]
    jobs = await admin(api, "GET", "/jobs")
    assert next(j["message_id"] for j in jobs) == message_id
    assert (await admin(api, "GET", f"/jobs/{message_id}"))["status"] == "PROCESSING"
    assert await admin(api, "GET", "/refs") == {"r": 2}
    bodies = await admin(api, "GET", "/bodies?min_count=2")
    assert bodies[0]["count"] == 2
    assert await admin(api, "GET", "/credits") == {
        api.key: {"spent": 20, "balance": api.sim.credits()}
    }
    assert await admin(api, "GET", "/webhooks") == []
    now = (await admin(api, "POST", "/time/advance", {"seconds": 100}))["now"]
    assert now >= 100
    assert (await admin(api, "GET", "/time"))["now"] >= 100
    assert (await admin(api, "GET", f"/jobs/{message_id}"))["status"] == "DONE"
    assert (await admin(api, "POST", "/reset"))["reset"] is True
    assert (await admin(api, "GET", "/stats"))["requests"] == 0
    assert api.sim.requests() == []


async def test_admin_routes_control_the_simulator(api: Api) -> None:
    """Admin routes add accounts, fault rules and change rate limits from another process."""
    key = (await admin(api, "POST", "/accounts", {"credits": 30, "concurrency": 1}))["apiKey"]
    assert api.sim.credits(key) == 30
    rule = await admin(api, "POST", "/faults", {"kind": "http_503", "endpoint": "imagine"})
    assert rule["remaining"] == 1
    assert len(await admin(api, "GET", "/faults")) == 1
    assert (await api.post(IMAGINE, {"prompt": "x"}))[0] == 503
    await admin(api, "POST", "/faults", {"kind": "http_500", "probability": 1.0})
    assert await admin(api, "DELETE", "/faults") == []
    limits = await admin(api, "PUT", "/rate-limits", {"general": {"requests": 1, "per": 60}})
    assert limits == {"general": {"requests": 1, "per": 60.0}, "progress": None}
    await api.imagine()
    assert (await api.post(IMAGINE, {"prompt": "x"}))[0] == 429
    await admin(api, "PUT", "/rate-limits", {"general": None})
    await api.imagine()


async def test_admin_routes_refuse_bad_input(api: Api) -> None:
    """Admin routes answer 400/404 with a message on bad input."""
    for method, path, body, status in [
        ("POST", "/faults", {"kind": "boom"}, 400),
        ("POST", "/time/advance", {"seconds": -1}, 400),
        ("PUT", "/rate-limits", {"general": {"requests": 0, "per": 1}}, 400),
        ("GET", "/jobs/nope", None, 404),
        ("POST", "/accounts", {"credits": "lots"}, 400),
    ]:
        async with api.session.request(
            method, api.sim.url + "/_simulator" + path, json=body
        ) as response:
            assert response.status == status, path
            assert "message" in await response.json()
