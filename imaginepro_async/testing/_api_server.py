"""The HTTP side: :class:`ApiServer` holds the route table (every path, its endpoint name, its
rate-limit bucket, its handler) and the request pipeline every route goes through: faults,
latency, auth, rate limits, then the handler, then logging. The handlers live in the
``_handlers_*`` modules; every other path gets the NestJS-style 404. Its middleware stamps every
answer with the simulated ``Date`` and serves CORS to loopback origins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import attrs
from aiohttp import web

from . import _contract as c
from ._clock import SimClock
from ._cors import answer_headers, loopback_origin, preflight_headers
from ._engine import Account, Engine, Job
from ._faults import Endpoint, FaultKind, FaultRule, Faults
from ._handler_context import Handler, HandlerContext
from ._handlers_account import AccountHandlers
from ._handlers_midjourney import MidjourneyHandlers
from ._handlers_models import ModelHandlers
from ._http import ApiError
from ._introspection import Recorder, RequestRecord
from ._ratelimit import Bucket, RateLimiter
from ._settings import AppConfig


@attrs.frozen
class _Route:
    endpoint: Endpoint
    bucket: Bucket | None
    auth: bool
    handler: Handler


class ApiServer:
    """Serves the ImaginePro API from an :class:`Engine`; one per simulator."""

    def __init__(
        self,
        *,
        engine: Engine,
        clock: SimClock,
        limiter: RateLimiter,
        faults: Faults,
        recorder: Recorder,
        config: AppConfig,
        on_job_created: Callable[[Job], None],
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.limiter = limiter
        self.faults = faults
        self.recorder = recorder
        self.config = config
        self.context = HandlerContext(
            engine=engine,
            clock=clock,
            recorder=recorder,
            config=config,
            on_job_created=on_job_created,
        )

    @property
    def base_url(self) -> str:
        """The simulator's URL (set once it is serving; the Message links to its CDN)."""
        return self.context.base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self.context.base_url = url

    # --- routing --------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Register the API and CDN routes (the catch-all 404 must be registered last)."""
        g: Bucket = "general"
        p: Bucket = "progress"
        E = Endpoint
        mj = MidjourneyHandlers(self.context)
        models = ModelHandlers(self.context)
        acct = AccountHandlers(self.context)
        table: list[tuple[str, str, Endpoint, Bucket | None, Handler]] = [
            ("POST", c.PATH_IMAGINE, E.IMAGINE, g, mj.imagine),
            ("POST", c.PATH_BOOST_IMAGINE, E.BOOST_IMAGINE, g, mj.imagine),
            ("POST", c.PATH_BUTTON, E.BUTTON, g, mj.button),
            ("POST", c.PATH_BOOST_BUTTON, E.BOOST_BUTTON, g, mj.button),
            ("POST", c.PATH_DESCRIBE, E.DESCRIBE, g, mj.describe),
            ("POST", c.PATH_DESCRIBE_LEGACY, E.DESCRIBE, g, mj.describe),
            ("GET", c.PATH_FETCH, E.FETCH, p, acct.fetch),
            ("GET", c.PATH_FETCH_LEGACY, E.FETCH, p, acct.fetch),
            ("GET", c.PATH_VIDEO_FETCH, E.VIDEO_FETCH, p, acct.fetch),
            ("GET", c.PATH_ACCOUNT_INFO, E.ACCOUNT_INFO, g, acct.account_info),
            ("GET", c.PATH_IMAGES, E.IMAGES, g, acct.images),
            ("POST", c.PATH_PROMPT_CHECK, E.PROMPT_CHECK, g, mj.prompt_check),
            ("POST", c.PATH_BLEND, E.BLEND, g, mj.blend),
            ("POST", c.PATH_BLEND_LEGACY, E.BLEND, g, mj.blend),
            ("POST", c.PATH_FACESWAP, E.FACESWAP, g, mj.faceswap),
            ("POST", c.PATH_FACESWAP_LEGACY, E.FACESWAP, g, mj.faceswap),
            ("POST", c.PATH_FLUX_IMAGINE, E.FLUX_IMAGINE, g, models.flux_imagine),
            ("POST", c.PATH_FLUX_UPSCALE, E.FLUX_UPSCALE, g, models.flux_upscale),
            ("POST", c.PATH_REMOVE_BG, E.REMOVE_BG, g, models.remove_bg),
            ("POST", c.PATH_GEMINI_IMAGINE, E.GEMINI_IMAGINE, g, models.gemini),
            ("POST", c.PATH_UNIVERSAL_IMAGINE, E.UNIVERSAL_IMAGINE, g, models.universal),
            ("POST", c.PATH_VIDEO_GENERATE, E.VIDEO_GENERATE, g, mj.video_generate),
            ("POST", c.PATH_VIDEO_EXTEND, E.VIDEO_EXTEND, g, mj.video_extend),
            ("POST", c.PATH_COMMANDS, E.COMMANDS, g, mj.commands),
            ("POST", c.PATH_COMMANDS_LEGACY, E.COMMANDS, g, mj.commands),
            ("GET", c.PATH_DISCORD_TOKENS, E.DISCORD_TOKENS, g, acct.tokens),
            ("GET", c.PATH_DISCORD_TOKEN, E.DISCORD_TOKEN, g, acct.token_get),
            ("PUT", c.PATH_DISCORD_TOKEN, E.DISCORD_TOKEN, g, acct.token_put),
            ("GET", c.PATH_MESSAGE_TRACE, E.MESSAGE_TRACE, g, acct.trace),
        ]
        for method, path, endpoint, bucket, handler in table:
            route = _Route(endpoint, bucket, True, handler)
            app.router.add_route(method, path, self._bind(route))
        cdn = _Route(Endpoint.CDN, None, False, acct.cdn)
        app.router.add_route("GET", c.PATH_CDN, self._bind(cdn))

    def add_fallback(self, app: web.Application) -> None:
        """The NestJS-style 404 for every other path and method."""
        route = _Route(Endpoint.UNKNOWN, None, False, self._unknown)
        app.router.add_route("*", "/{tail:.*}", self._bind(route))

    def _bind(self, route: _Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self._serve(request, route)

        return handle

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Every answer: the simulated ``Date``; CORS for a loopback ``Origin`` (its preflight is
        answered here, before auth, rate limits and the log)."""
        origin = loopback_origin(request.headers.get("Origin"))
        if (
            origin is not None
            and request.method == "OPTIONS"
            and "Access-Control-Request-Method" in request.headers
        ):
            response: web.StreamResponse = web.Response(
                status=204, headers=preflight_headers(origin, request.headers)
            )
        else:
            response = await handler(request)
            if origin is not None:
                response.headers.update(answer_headers(origin))
        response.headers["Date"] = self.clock.http_date(self.clock.now())
        return response

    # --- the pipeline ---------------------------------------------------------------------------
    async def _serve(self, request: web.Request, route: _Route) -> web.Response:
        fault = self.faults.draw(route.endpoint)
        if fault is not None:
            kind = fault.kind
            if kind is FaultKind.DROP_BEFORE:
                return self._drop(request, route, fault, None, self.clock.now())
            if kind.status is not None:
                response = ApiError(
                    kind.status, f"{c.REASONS[kind.status]} (fault injected by the simulator)"
                ).response()
                self._log(request, route, response.status, None, fault, self.clock.now())
                return response
            if kind is FaultKind.SLOW:
                await anyio.sleep(self.clock.real(fault.delay))
        if self.config.latency_before > 0:
            await anyio.sleep(self.clock.real(self.config.latency_before))
        now = self.clock.now()
        self.engine.advance(now)
        key: str | None = None
        try:
            account = None
            if route.auth:
                account = self._authenticate(request)
                key = account.api_key
            if route.bucket is not None and key is not None:
                wait = self.limiter.acquire(route.bucket, key, now)
                if wait is not None:
                    raise self._too_many(route.bucket, wait)
            response = await route.handler(request, account, now)
        except ApiError as exc:
            response = exc.response()
        if self.config.latency_after > 0 and route.auth:
            await anyio.sleep(self.clock.real(self.config.latency_after))
        if fault is not None:
            if fault.kind is FaultKind.DROP_AFTER:
                return self._drop(request, route, fault, key, now)
            if fault.kind is FaultKind.MALFORMED_JSON:
                response = _malformed(response)
        self._log(request, route, response.status, key, fault, now)
        return response

    def _log(
        self,
        request: web.Request,
        route: _Route,
        status: int | None,
        key: str | None,
        fault: FaultRule | None,
        at: float,
    ) -> None:
        self.recorder.request(
            RequestRecord(
                time=at,
                method=request.method,
                path=request.path,
                endpoint=route.endpoint.value,
                status=status,
                api_key=key,
                fault=None if fault is None else fault.kind.value,
            )
        )

    def _drop(
        self, request: web.Request, route: _Route, fault: FaultRule, key: str | None, at: float
    ) -> web.Response:
        # Closing the transport before anything is written: the client sees the server hang up.
        # aiohttp's attempt to send the returned response then fails quietly.
        transport = request.transport
        if transport is not None:
            transport.close()
        self._log(request, route, None, key, fault, at)
        return web.Response(status=204)

    def _too_many(self, bucket: Bucket, wait: int) -> ApiError:
        limit = self.limiter.general if bucket == "general" else self.limiter.progress
        assert limit is not None
        what = "general endpoints" if bucket == "general" else "the progress endpoint"
        plural = "request" if limit.requests == 1 else "requests"
        return ApiError(
            429,
            f"Too many requests: this API key may send {limit.requests} {plural} per"
            f" {limit.per:g} seconds to {what}. Retry after {wait} seconds.",
            {"Retry-After": str(wait)},
        )

    def _authenticate(self, request: web.Request) -> Account:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.strip().partition(" ")
        if not header or scheme.lower() != "bearer" or not key.strip():
            raise ApiError(
                401, "Missing API key: send the header 'Authorization: Bearer <your API key>'."
            )
        account = self.engine.accounts.get(key.strip())
        if account is None:
            raise ApiError(401, "Invalid API key: no account has this key.")
        return account

    async def _unknown(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        raise ApiError(404, f"Cannot {request.method} {request.path}")


def _malformed(response: web.Response) -> web.Response:
    body = response.body if isinstance(response.body, bytes) else b'{"success":true}'
    cut = body[: max(1, len(body) // 2)]
    return web.Response(body=cut, status=200, content_type="application/json")
