"""The ``/_simulator/...`` admin routes: the introspection API as JSON, for out-of-process use.

Not part of ImaginePro; no auth, no rate limits, no faults, not logged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import _contract as c
from ._ratelimit import SimulatedRateLimit
from ._records import to_json
from ._wire import dumps

if TYPE_CHECKING:
    from ._simulator import Simulator

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ok(data: object) -> web.Response:
    return web.Response(body=dumps(data), content_type="application/json")


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=dumps({"message": message, "error": "Bad Request", "statusCode": 400}).decode(),
        content_type="application/json",
    )


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _bad(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _bad("the body must be a JSON object")
    return data


def _limit(value: object) -> SimulatedRateLimit | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad('a rate limit is null or {"requests": int, "per": seconds}')
    try:
        return SimulatedRateLimit(int(value["requests"]), float(value["per"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"bad rate limit {value!r}: {exc}") from None


def _limit_json(limit: SimulatedRateLimit | None) -> dict[str, Any] | None:
    return None if limit is None else {"requests": limit.requests, "per": limit.per}


def add_admin_routes(app: web.Application, sim: Simulator) -> None:
    """Register every admin route on ``app``."""
    p = c.ADMIN_PREFIX

    async def time_(request: web.Request) -> web.StreamResponse:
        return _ok({"now": sim.now(), "time_scale": sim.time_scale})

    async def advance(request: web.Request) -> web.StreamResponse:
        seconds = (await _body(request)).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise _bad("seconds must be a non-negative number")
        sim.advance(float(seconds))
        return _ok({"now": sim.now(), "time_scale": sim.time_scale})

    async def stats(request: web.Request) -> web.StreamResponse:
        return _ok(to_json(sim.stats()))

    async def requests(request: web.Request) -> web.StreamResponse:
        records = sim.requests()
        limit = request.query.get("limit")
        if limit is not None:
            try:
                records = records[-int(limit) :] if int(limit) > 0 else []
            except ValueError:
                raise _bad("limit must be an integer") from None
        return _ok([to_json(r) for r in records])

    async def jobs(request: web.Request) -> web.StreamResponse:
        return _ok([to_json(j) for j in sim.jobs(ref=request.query.get("ref"))])

    async def job(request: web.Request) -> web.StreamResponse:
        try:
            return _ok(to_json(sim.job(request.match_info["message_id"])))
        except KeyError:
            raise web.HTTPNotFound(
                text=dumps(
                    {"message": "no such job", "error": "Not Found", "statusCode": 404}
                ).decode(),
                content_type="application/json",
            ) from None

    async def refs(request: web.Request) -> web.StreamResponse:
        return _ok(sim.jobs_per_ref())

    async def bodies(request: web.Request) -> web.StreamResponse:
        try:
            min_count = int(request.query.get("min_count", "1"))
        except ValueError:
            raise _bad("min_count must be an integer") from None
        return _ok([to_json(b) for b in sim.jobs_per_body(min_count)])

    async def credits(request: web.Request) -> web.StreamResponse:
        spent = sim.credits_spent()
        return _ok({key: {"spent": n, "balance": sim.credits(key)} for key, n in spent.items()})

    async def webhooks(request: web.Request) -> web.StreamResponse:
        return _ok([to_json(a) for a in sim.webhook_deliveries()])

    async def reset(request: web.Request) -> web.StreamResponse:
        sim.reset_counters()
        return _ok({"reset": True})

    async def accounts(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        try:
            key = sim.add_account(
                credits=int(body.get("credits", c.DEFAULT_CREDITS)),
                concurrency=int(body.get("concurrency", c.DEFAULT_CONCURRENCY)),
                api_key=body.get("apiKey"),
            )
        except (TypeError, ValueError) as exc:
            raise _bad(str(exc)) from None
        return _ok({"apiKey": key})

    async def faults_list(request: web.Request) -> web.StreamResponse:
        return _ok([rule.to_json() for rule in sim.faults.rules])

    async def faults_add(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        try:
            rule = sim.faults.add(
                kind=body["kind"],
                endpoint=body.get("endpoint"),
                probability=body.get("probability"),
                times=body.get("times"),
                delay=float(body.get("delay", 30.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(f"bad fault rule: {exc}") from None
        return _ok(rule.to_json())

    async def faults_clear(request: web.Request) -> web.StreamResponse:
        sim.faults.clear()
        return _ok([])

    async def limits_get(request: web.Request) -> web.StreamResponse:
        return _ok(
            {
                "general": _limit_json(sim.rate_limits.general),
                "progress": _limit_json(sim.rate_limits.progress),
            }
        )

    async def limits_set(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        if "general" in body:
            sim.rate_limits.general = _limit(body["general"])
        if "progress" in body:
            sim.rate_limits.progress = _limit(body["progress"])
        return await limits_get(request)

    routes: list[tuple[str, str, _Handler]] = [
        ("GET", "/time", time_),
        ("POST", "/time/advance", advance),
        ("GET", "/stats", stats),
        ("GET", "/requests", requests),
        ("GET", "/jobs", jobs),
        ("GET", "/jobs/{message_id}", job),
        ("GET", "/refs", refs),
        ("GET", "/bodies", bodies),
        ("GET", "/credits", credits),
        ("GET", "/webhooks", webhooks),
        ("POST", "/reset", reset),
        ("POST", "/accounts", accounts),
        ("GET", "/faults", faults_list),
        ("POST", "/faults", faults_add),
        ("DELETE", "/faults", faults_clear),
        ("GET", "/rate-limits", limits_get),
        ("PUT", "/rate-limits", limits_set),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, p + path, handler)
