"""The HTTP side: routes, the request pipeline (faults, auth, rate limits, logging), handlers."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import attrs
from aiohttp import web

from . import _contract as c
from ._clock import SimClock
from ._engine import (
    RESULT_DESCRIPTION,
    Account,
    Engine,
    InsufficientCreditsError,
    Job,
    result_of,
)
from ._faults import Endpoint, FaultKind, FaultRule, Faults
from ._png import result_png, sniff_image
from ._ratelimit import Bucket, RateLimiter
from ._records import Recorder, RequestRecord
from ._wire import ApiError, cdn_names, json_response, render_message

Handler = Callable[[web.Request, Account | None, float], Awaitable[web.Response]]


@attrs.frozen
class _Route:
    endpoint: Endpoint
    bucket: Bucket | None
    auth: bool
    handler: Handler


@attrs.define(kw_only=True)
class AppConfig:
    """The settings the handlers read."""

    image_size: tuple[int, int]
    check_mask_size: bool
    max_body_bytes: int
    cost_imagine: int
    cost_button: int
    cost_describe: int


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
        general: Bucket = "general"
        progress: Bucket = "progress"
        table: list[tuple[str, str, _Route]] = [
            ("POST", c.PATH_IMAGINE, _Route(Endpoint.IMAGINE, general, True, self._imagine)),
            ("POST", c.PATH_BUTTON, _Route(Endpoint.BUTTON, general, True, self._button)),
            ("POST", c.PATH_DESCRIBE, _Route(Endpoint.DESCRIBE, general, True, self._describe)),
            ("GET", c.PATH_FETCH, _Route(Endpoint.FETCH, progress, True, self._fetch)),
            ("GET", c.PATH_FETCH_LEGACY, _Route(Endpoint.FETCH, progress, True, self._fetch)),
            (
                "GET",
                c.PATH_ACCOUNT_INFO,
                _Route(Endpoint.ACCOUNT_INFO, general, True, self._account_info),
            ),
            ("GET", c.PATH_IMAGES, _Route(Endpoint.IMAGES, general, True, self._images)),
            (
                "POST",
                c.PATH_PROMPT_CHECK,
                _Route(Endpoint.PROMPT_CHECK, general, True, self._prompt_check),
            ),
            ("GET", c.PATH_CDN, _Route(Endpoint.CDN, None, False, self._cdn)),
        ]
        for method, path, route in table:
            app.router.add_route(method, path, self._bind(route))

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
    async def _json(self, request: web.Request) -> dict[str, Any]:
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
            raise ApiError(400, f"The request body must be a JSON object, got {_json_type(data)}.")
        return data

    def _create(
        self,
        now: float,
        account: Account,
        endpoint: Endpoint,
        body: dict[str, Any],
        *,
        cost: int,
        prompt: str,
        common: _Common,
        button: str | None = None,
        parent_id: str | None = None,
        result: int = 0,
    ) -> web.Response:
        try:
            job = self.engine.create(
                now,
                account,
                endpoint.value,
                cost=cost,
                prompt=prompt,
                ref=common.ref,
                webhook=common.webhook,
                timeout=common.timeout,
                disable_cdn=common.disable_cdn,
                button=button,
                parent_id=parent_id,
                result=result,
            )
        except InsufficientCreditsError as exc:
            raise ApiError(401, str(exc)) from None
        self.recorder.job(endpoint.value, body, common.ref, job.message_id)
        self._on_job_created(job)
        return self._created(job.message_id, now)

    def _created(self, message_id: str, now: float) -> web.Response:
        return json_response(
            {"success": True, "messageId": message_id, "createdAt": self.clock.iso(now)}
        )

    # --- handlers -------------------------------------------------------------------------------
    async def _imagine(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self._json(request)
        fields = _Fields(body)
        prompt = fields.string("prompt", required=True)
        common = fields.common()
        fields.check()
        assert prompt is not None
        return self._create(
            now, account, Endpoint.IMAGINE, body, cost=self.config.cost_imagine,
            prompt=prompt, common=common,
        )  # fmt: skip

    async def _button(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self._json(request)
        fields = _Fields(body)
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
        parent = self._job_of(account, message_id)
        if button == c.CANCEL_JOB:
            if parent.status not in (c.QUEUED, c.PROCESSING):
                raise ApiError(
                    400,
                    f"Cannot cancel message {message_id}: it is {parent.status}; Cancel Job is"
                    " only accepted while a job is QUEUED or PROCESSING.",
                )
            self.engine.cancel(parent, now)
            return self._created(parent.message_id, now)
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
        return self._create(
            now, account, Endpoint.BUTTON, body, cost=self.config.cost_button,
            prompt=prompt or parent.prompt, common=common, button=button,
            parent_id=parent.message_id, result=result_of(button),
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
        want_w, want_h = self.config.image_size
        if self.config.check_mask_size and (width, height) != (want_w, want_h):
            raise ApiError(
                400,
                f"mask size {width}x{height} ({kind}) does not match the size of the image being"
                f" edited, {want_w}x{want_h}; send a mask of the same size.",
            )

    async def _describe(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self._json(request)
        fields = _Fields(body)
        url = fields.url("url", required=True)
        common = fields.common()
        fields.check()
        assert url is not None
        return self._create(
            now, account, Endpoint.DESCRIBE, body, cost=self.config.cost_describe,
            prompt=url, common=common, result=RESULT_DESCRIPTION,
        )  # fmt: skip

    async def _fetch(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        job = self._job_of(account, request.match_info["message_id"])
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
        page = _query_int(request, "page", 1, 1, None)
        size = _query_int(request, "size", c.IMAGES_PAGE_SIZE_DEFAULT, 1, c.IMAGES_PAGE_SIZE_MAX)
        skip = (page - 1) * size
        cutoff = now - c.IMAGES_HISTORY_SECONDS
        items: list[dict[str, Any]] = []
        for job in reversed(account.jobs):
            if job.created < cutoff:
                break
            if job.status != c.DONE or job.result == RESULT_DESCRIPTION:
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
        body = await self._json(request)
        fields = _Fields(body)
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
        width, height = self.config.image_size
        if width * height > 512 * 512:
            data = await anyio.to_thread.run_sync(result_png, job.message_id, name, width, height)
        else:
            data = result_png(job.message_id, name, width, height)
        return web.Response(
            body=data,
            content_type="image/png",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    async def _unknown(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        raise ApiError(404, f"Cannot {request.method} {request.path}")

    def _job_of(self, account: Account, message_id: str) -> Job:
        job = self.engine.jobs.get(message_id)
        if job is None or job.account is not account:
            raise ApiError(404, f"Message {message_id} not found.")
        return job


@attrs.frozen
class _Common:
    ref: str | None
    webhook: str | None
    timeout: int
    disable_cdn: bool


class _Fields:
    """Reads request fields, collecting every problem (NestJS ValidationPipe style: a list)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body
        self.problems: list[str] = []

    def string(self, name: str, *, required: bool = False, empty_ok: bool = False) -> str | None:
        value = self._body.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name} is required (a non-empty string)")
            return None
        if not isinstance(value, str):
            self.problems.append(f"{name} must be a string, got {_json_type(value)}")
            return None
        if not empty_ok and not value.strip():
            self.problems.append(f"{name} must not be empty")
            return None
        return value

    def url(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problems.append(f"{name} must be an http(s) URL, got {value!r}")
            return None
        return value.strip()

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._body.get(name)
        if value is None:
            return default
        # 10.0 is the same JSON number as 10 (a JavaScript client cannot tell them apart).
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value != int(value)
        ):
            self.problems.append(
                f"{name} must be an integer number of seconds, got {_json_type(value)} {value!r}"
            )
            return default
        if not low <= value <= high:
            self.problems.append(f"{name} must be between {low} and {high}, got {value!r}")
            return default
        return int(value)

    def boolean(self, name: str) -> bool:
        value = self._body.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problems.append(f"{name} must be a boolean, got {_json_type(value)}")
            return False
        return value

    def common(self) -> _Common:
        """The fields every job-creating endpoint takes."""
        return _Common(
            ref=self.string("ref", empty_ok=True),
            webhook=self.url("webhookOverride"),
            timeout=self.integer("timeout", c.TIMEOUT_DEFAULT, c.TIMEOUT_MIN, c.TIMEOUT_MAX),
            disable_cdn=self.boolean("disableCdn"),
        )

    def check(self) -> None:
        if self.problems:
            raise ApiError(400, self.problems)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if math.isfinite(value) else "a non-finite number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _query_int(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, [f"{name} must be an integer, got {raw!r}"]) from None
    if value < low or (high is not None and value > high):
        top = "" if high is None else f" and at most {high}"
        raise ApiError(400, [f"{name} must be at least {low}{top}, got {value}"])
    return value


def _malformed(response: web.Response) -> web.Response:
    body = response.body if isinstance(response.body, bytes) else b'{"success":true}'
    cut = body[: max(1, len(body) // 2)]
    return web.Response(body=cut, status=200, content_type="application/json")
