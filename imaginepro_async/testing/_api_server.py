"""The HTTP side: routes, the request pipeline (faults, auth, rate limits, logging), handlers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import attrs
from aiohttp import web

from . import _contract as c
from ._clock import SimClock
from ._engine import (
    IMAGE_RESULTS,
    RESULT_DESCRIPTION,
    RESULT_GRID,
    Account,
    Engine,
    InsufficientCreditsError,
    Job,
    kind_of,
    result_of,
)
from ._faults import Endpoint, FaultKind, FaultRule, Faults
from ._handlers_models import MoreHandlers
from ._http import ApiError, json_response
from ._introspection import Recorder, RequestRecord
from ._messages import cdn_names, render_message
from ._png import result_png, sniff_image
from ._ratelimit import Bucket, RateLimiter
from ._request_checks import Common, Fields, json_type, query_int
from ._settings import AppConfig

Handler = Callable[[web.Request, Account | None, float], Awaitable[web.Response]]


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
        self.base_url = ""
        self._on_job_created = on_job_created

    # --- routing --------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Register the API and CDN routes (the catch-all 404 must be registered last)."""
        g: Bucket = "general"
        p: Bucket = "progress"
        E = Endpoint
        more = MoreHandlers(self)
        table: list[tuple[str, str, Endpoint, Bucket | None, Handler]] = [
            ("POST", c.PATH_IMAGINE, E.IMAGINE, g, self._imagine),
            ("POST", c.PATH_BOOST_IMAGINE, E.BOOST_IMAGINE, g, self._imagine),
            ("POST", c.PATH_BUTTON, E.BUTTON, g, self._button),
            ("POST", c.PATH_BOOST_BUTTON, E.BOOST_BUTTON, g, self._button),
            ("POST", c.PATH_DESCRIBE, E.DESCRIBE, g, self._describe),
            ("POST", c.PATH_DESCRIBE_LEGACY, E.DESCRIBE, g, self._describe),
            ("GET", c.PATH_FETCH, E.FETCH, p, self._fetch),
            ("GET", c.PATH_FETCH_LEGACY, E.FETCH, p, self._fetch),
            ("GET", c.PATH_VIDEO_FETCH, E.VIDEO_FETCH, p, self._fetch),
            ("GET", c.PATH_ACCOUNT_INFO, E.ACCOUNT_INFO, g, self._account_info),
            ("GET", c.PATH_IMAGES, E.IMAGES, g, self._images),
            ("POST", c.PATH_PROMPT_CHECK, E.PROMPT_CHECK, g, self._prompt_check),
            *more.table(g),
        ]
        for method, path, endpoint, bucket, handler in table:
            route = _Route(endpoint, bucket, True, handler)
            app.router.add_route(method, path, self._bind(route))
        cdn = _Route(Endpoint.CDN, None, False, self._cdn)
        app.router.add_route("GET", c.PATH_CDN, self._bind(cdn))

    def add_fallback(self, app: web.Application) -> None:
        """The NestJS-style 404 for every other path and method."""
        route = _Route(Endpoint.UNKNOWN, None, False, self._unknown)
        app.router.add_route("*", "/{tail:.*}", self._bind(route))

    def _bind(self, route: _Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self._serve(request, route)

        return handle

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

    # --- bodies ---------------------------------------------------------------------------------
    async def json_body(self, request: web.Request) -> dict[str, Any]:
        limit = self.config.max_body_bytes
        too_large = ApiError(
            413, f"Request entity too large: the body must not exceed {limit} bytes."
        )
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large from None
        if not raw.strip():
            return {}  # assumed: like an Express JSON parser, an empty body is {}
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ApiError(
                400,
                f"The request body is not valid JSON ({exc}); send a JSON object with"
                " 'Content-Type: application/json'.",
            ) from None
        if not isinstance(data, dict):
            raise ApiError(400, f"The request body must be a JSON object, got {json_type(data)}.")
        return data

    def create(
        self,
        now: float,
        account: Account,
        endpoint: Endpoint,
        body: dict[str, Any],
        *,
        prompt: str,
        common: Common,
        button: str | None = None,
        parent_id: str | None = None,
        result: int = RESULT_GRID,
        kind: str | None = None,
        size: tuple[int, int] | None = None,
        count: int = 1,
    ) -> web.Response:
        """Charge by the cost table, create the job, answer the creation answer."""
        try:
            job = self.engine.create(
                now,
                account,
                endpoint.value,
                cost=self.config.costs[endpoint.value],
                prompt=prompt,
                ref=common.ref,
                webhook=common.webhook,
                timeout=common.timeout,
                disable_cdn=common.disable_cdn,
                button=button,
                parent_id=parent_id,
                result=result,
                kind=kind,
                size=size or self.config.image_size,
                count=count,
            )
        except InsufficientCreditsError as exc:
            raise ApiError(401, str(exc)) from None
        self.recorder.job(endpoint.value, body, common.ref, job.message_id)
        self._on_job_created(job)
        return self.created(job.message_id, now)

    def created(self, message_id: str, now: float) -> web.Response:
        return json_response(
            {"success": True, "messageId": message_id, "createdAt": self.clock.iso(now)}
        )

    # --- handlers -------------------------------------------------------------------------------
    async def _imagine(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self.json_body(request)
        fields = Fields(body)
        prompt = fields.string("prompt", required=True)
        common = fields.common()
        fields.check()
        assert prompt is not None
        endpoint = (
            Endpoint.BOOST_IMAGINE if request.path == c.PATH_BOOST_IMAGINE else Endpoint.IMAGINE
        )
        return self.create(
            now, account, endpoint, body, prompt=prompt, common=common, kind="imagine"
        )

    async def _button(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self.json_body(request)
        fields = Fields(body)
        message_id = fields.string("messageId", required=True)
        button = fields.string("button", required=True)
        mask = fields.string("mask", empty_ok=True)
        prompt = fields.string("prompt", empty_ok=True)
        common = fields.common()
        fields.check()
        assert message_id is not None
        assert button is not None
        if button not in c.ALL_BUTTONS:
            raise ApiError(
                400,
                f"Unknown button {button!r}: the button must be one of"
                f" {', '.join(c.ALL_BUTTONS)} (exactly, case and emoji included).",
            )
        parent = self.job_of(account, message_id)
        if button == c.CANCEL_JOB:
            if parent.status not in (c.QUEUED, c.PROCESSING):
                raise ApiError(
                    400,
                    f"Cannot cancel message {message_id}: it is {parent.status}; Cancel Job is"
                    " only accepted while a job is QUEUED or PROCESSING.",
                )
            self.engine.cancel(parent, now)
            return self.created(parent.message_id, now)
        if parent.status != c.DONE:
            raise ApiError(
                400,
                f"Message {message_id} is {parent.status}: buttons can only be pressed on a DONE"
                " message." + (" Wait for it to finish." if parent.status != c.FAIL else ""),
            )
        offered = parent.buttons()
        if button not in offered:
            raise ApiError(
                400,
                f"Button {button!r} is not offered by message {message_id}; it offers: "
                + (", ".join(offered) or "no buttons")
                + ".",
            )
        if button == c.VARY_REGION:
            self._check_mask(mask, parent)
        endpoint = Endpoint.BOOST_BUTTON if request.path == c.PATH_BOOST_BUTTON else Endpoint.BUTTON
        return self.create(
            now, account, endpoint, body, prompt=prompt or parent.prompt, common=common,
            button=button, parent_id=parent.message_id, result=result_of(button),
            kind=kind_of(button), size=parent.size,
        )  # fmt: skip

    def _check_mask(self, mask: str | None, parent: Job) -> None:
        if mask is None or not mask.strip():
            raise ApiError(
                400, "mask is required for Vary (Region): base64 of a PNG, JPEG or WebP."
            )
        text = mask.strip()
        if text[:5].lower() == "data:":
            raise ApiError(
                400,
                "mask must be plain base64 without a 'data:' URI prefix; remove everything up to"
                " and including the first comma.",
            )
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "mask is not valid base64.") from None
        found = sniff_image(data)
        if found is None:
            raise ApiError(
                400,
                f"mask is not an image: its {len(data)} decoded bytes are not a PNG, JPEG or WebP"
                " file.",
            )
        kind, width, height = found
        want_w, want_h = parent.size
        slack = c.MASK_ASPECT_SLACK_PX * want_w
        if self.config.check_mask_size and abs(height * want_w - width * want_h) > slack:
            raise ApiError(
                400,
                f"mask size {width}x{height} ({kind}) does not have the aspect ratio of the image"
                f" being edited, {want_w}x{want_h}; send a mask of that aspect ratio (any"
                " resolution is scaled).",
            )

    async def _describe(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self.json_body(request)
        fields = Fields(body)
        url = fields.url("url", required=True)
        common = fields.common()
        fields.check()
        assert url is not None
        return self.create(
            now, account, Endpoint.DESCRIBE, body, prompt=url, common=common,
            result=RESULT_DESCRIPTION,
        )  # fmt: skip

    async def _fetch(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        job = self.job_of(account, request.match_info["message_id"])
        return json_response(render_message(job, now, self.base_url, self.clock))

    async def _account_info(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        return json_response(
            {
                "type": c.ACCOUNT_TYPE,
                "creditsQuota": account.quota,
                "credits": account.credits,
                "creditsExtra": 0,
                "expiredAt": self.clock.iso(c.ACCOUNT_EXPIRES_AFTER),
                "email": account.email,
            }
        )

    async def _images(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        page = query_int(request, "page", 1, 1, None)
        size = query_int(request, "size", c.IMAGES_PAGE_SIZE_DEFAULT, 1, c.IMAGES_PAGE_SIZE_MAX)
        skip = (page - 1) * size
        cutoff = now - c.IMAGES_HISTORY_SECONDS
        items: list[dict[str, Any]] = []
        for job in reversed(account.jobs):
            if job.created < cutoff:
                break
            if job.status != c.DONE or job.result not in IMAGE_RESULTS:
                continue
            if skip:
                skip -= 1
                continue
            message = render_message(job, now, self.base_url, self.clock)
            items.append(
                {
                    "id": job.message_id,
                    "type": job.endpoint,
                    "button": job.button,
                    "prompt": job.prompt,
                    "uri": message.get("uri", message.get("originalUrl")),
                    "createdAt": message["createdAt"],
                }
            )
            if len(items) == size:
                break
        return json_response({"images": items})

    async def _prompt_check(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        body = await self.json_body(request)
        fields = Fields(body)
        prompt = fields.string("prompt", required=True)
        fields.check()
        assert prompt is not None
        word = self.engine.banned_word(prompt)
        if word is None:
            return json_response({"status": "SUCCESS"})
        return json_response({"status": "FAIL", "message": c.BANNED_ERROR.format(word=word)})

    async def _cdn(self, request: web.Request, account: Account | None, now: float) -> web.Response:
        job = self.engine.jobs.get(request.match_info["message_id"])
        name = request.match_info["name"]
        if job is None or name not in cdn_names(job):
            return web.Response(status=404, text="Not Found")
        cache = {"Cache-Control": "public, max-age=31536000, immutable"}
        if name.endswith(".mp4"):
            return web.Response(body=c.VIDEO_PLACEHOLDER, content_type="video/mp4", headers=cache)
        width, height = self.config.size_of(job, name)
        data = result_png(job.message_id, name, width, height)
        return web.Response(body=data, content_type="image/png", headers=cache)

    async def _unknown(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        raise ApiError(404, f"Cannot {request.method} {request.path}")

    def job_of(self, account: Account, message_id: str) -> Job:
        job = self.engine.jobs.get(message_id)
        if job is None or job.account is not account:
            raise ApiError(404, f"Message {message_id} not found.")
        return job


def _malformed(response: web.Response) -> web.Response:
    body = response.body if isinstance(response.body, bytes) else b'{"success":true}'
    cut = body[: max(1, len(body) // 2)]
    return web.Response(body=cut, status=200, content_type="application/json")
