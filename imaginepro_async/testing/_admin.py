"""The ``/_simulator/...`` admin routes: the introspection API as JSON, for out-of-process use.

Not part of ImaginePro; no auth, no rate limits, no faults, not logged. The routes drive the
simulator through :class:`AdminTarget`, the part of the ``Simulator`` they use (this module sits
below ``_simulator.py`` and does not import it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs
from aiohttp import web

from . import _contract as c
from ._faults import Faults
from ._http import dumps
from ._introspection import (
    BodyCount,
    JobTimeline,
    RequestRecord,
    Stats,
    WebhookAttempt,
    to_json,
)
from ._ratelimit import RateLimiter, SimulatedRateLimit

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AdminTarget(Protocol):
    """What the admin routes use of a simulator (the ``Simulator`` has it all)."""

    @property
    def time_scale(self) -> float: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def rate_limits(self) -> RateLimiter: ...

    def now(self) -> float: ...

    def advance(self, seconds: float) -> None: ...

    def stats(self) -> Stats: ...

    def requests(self) -> list[RequestRecord]: ...

    def jobs(self, *, ref: str | None) -> list[JobTimeline]: ...

    def job(self, message_id: str) -> JobTimeline: ...

    def jobs_per_ref(self) -> dict[str, int]: ...

    def jobs_per_body(self, min_count: int) -> list[BodyCount]: ...

    def credits_spent(self) -> dict[str, int]: ...

    def credits(self, api_key: str | None) -> int: ...

    def webhook_deliveries(self) -> list[WebhookAttempt]: ...

    def reset_counters(self) -> None: ...

    def add_account(self, *, credits: int, concurrency: int, api_key: str | None) -> str: ...


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


@attrs.define
class _Admin:
    """The admin handlers of one simulator."""

    sim: AdminTarget

    async def time_(self, request: web.Request) -> web.StreamResponse:
        return _ok({"now": self.sim.now(), "time_scale": self.sim.time_scale})

    async def advance(self, request: web.Request) -> web.StreamResponse:
        seconds = (await _body(request)).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise _bad("seconds must be a non-negative number")
        self.sim.advance(float(seconds))
        return _ok({"now": self.sim.now(), "time_scale": self.sim.time_scale})

    async def stats(self, request: web.Request) -> web.StreamResponse:
        return _ok(to_json(self.sim.stats()))

    async def requests(self, request: web.Request) -> web.StreamResponse:
        records = self.sim.requests()
        limit = request.query.get("limit")
        if limit is not None:
            try:
                records = records[-int(limit) :] if int(limit) > 0 else []
            except ValueError:
                raise _bad("limit must be an integer") from None
        return _ok([to_json(r) for r in records])

    async def jobs(self, request: web.Request) -> web.StreamResponse:
        return _ok([to_json(j) for j in self.sim.jobs(ref=request.query.get("ref"))])

    async def job(self, request: web.Request) -> web.StreamResponse:
        try:
            return _ok(to_json(self.sim.job(request.match_info["message_id"])))
        except KeyError:
            raise web.HTTPNotFound(
                text=dumps(
                    {"message": "no such job", "error": "Not Found", "statusCode": 404}
                ).decode(),
                content_type="application/json",
            ) from None

    async def refs(self, request: web.Request) -> web.StreamResponse:
        return _ok(self.sim.jobs_per_ref())

    async def bodies(self, request: web.Request) -> web.StreamResponse:
        try:
            min_count = int(request.query.get("min_count", "1"))
        except ValueError:
            raise _bad("min_count must be an integer") from None
        return _ok([to_json(b) for b in self.sim.jobs_per_body(min_count)])

    async def credits(self, request: web.Request) -> web.StreamResponse:
        spent = self.sim.credits_spent()
        return _ok(
            {key: {"spent": n, "balance": self.sim.credits(key)} for key, n in spent.items()}
        )

    async def webhooks(self, request: web.Request) -> web.StreamResponse:
        return _ok([to_json(a) for a in self.sim.webhook_deliveries()])

    async def reset(self, request: web.Request) -> web.StreamResponse:
        self.sim.reset_counters()
        return _ok({"reset": True})

    async def accounts(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        try:
            key = self.sim.add_account(
                credits=int(body.get("credits", c.DEFAULT_CREDITS)),
                concurrency=int(body.get("concurrency", c.DEFAULT_CONCURRENCY)),
                api_key=body.get("apiKey"),
            )
        except (TypeError, ValueError) as exc:
            raise _bad(str(exc)) from None
        return _ok({"apiKey": key})

    async def faults_list(self, request: web.Request) -> web.StreamResponse:
        return _ok([rule.to_json() for rule in self.sim.faults.rules])

    async def faults_add(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        try:
            rule = self.sim.faults.add(
                kind=body["kind"],
                endpoint=body.get("endpoint"),
                probability=body.get("probability"),
                times=body.get("times"),
                delay=float(body.get("delay", 30.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(f"bad fault rule: {exc}") from None
        return _ok(rule.to_json())

    async def faults_clear(self, request: web.Request) -> web.StreamResponse:
        self.sim.faults.clear()
        return _ok([])

    async def limits_get(self, request: web.Request) -> web.StreamResponse:
        return _ok(
            {
                "general": _limit_json(self.sim.rate_limits.general),
                "progress": _limit_json(self.sim.rate_limits.progress),
            }
        )

    async def limits_set(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        if "general" in body:
            self.sim.rate_limits.general = _limit(body["general"])
        if "progress" in body:
            self.sim.rate_limits.progress = _limit(body["progress"])
        return await self.limits_get(request)

    def routes(self) -> list[tuple[str, str, _Handler]]:
        """Method, path under ``ADMIN_PREFIX`` and handler of each route."""
        return [
            ("GET", "/time", self.time_),
            ("POST", "/time/advance", self.advance),
            ("GET", "/stats", self.stats),
            ("GET", "/requests", self.requests),
            ("GET", "/jobs", self.jobs),
            ("GET", "/jobs/{message_id}", self.job),
            ("GET", "/refs", self.refs),
            ("GET", "/bodies", self.bodies),
            ("GET", "/credits", self.credits),
            ("GET", "/webhooks", self.webhooks),
            ("POST", "/reset", self.reset),
            ("POST", "/accounts", self.accounts),
            ("GET", "/faults", self.faults_list),
            ("POST", "/faults", self.faults_add),
            ("DELETE", "/faults", self.faults_clear),
            ("GET", "/rate-limits", self.limits_get),
            ("PUT", "/rate-limits", self.limits_set),
        ]


def add_admin_routes(app: web.Application, sim: AdminTarget) -> None:
    """Register every admin route on ``app``."""
    for method, path, handler in _Admin(sim).routes():
        app.router.add_route(method, c.ADMIN_PREFIX + path, handler)
