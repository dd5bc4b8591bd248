"""The endpoints beyond imagine and the buttons: blend, face swap, Flux, remove-bg, Gemini and
universal imagine, video, and the DIY plan's token, trace and command endpoints.

Each job-creating handler validates its fields (every problem in one NestJS list), then calls
:meth:`ApiServer.create`, which charges by the cost table and queues the job in the one engine.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import _contract as c
from ._engine import RESULT_GRID, RESULT_IMAGES, RESULT_NONE, RESULT_VIDEO, Account, Token
from ._faults import Endpoint
from ._http import ApiError, json_response
from ._ratelimit import Bucket
from ._request_checks import Fields

if TYPE_CHECKING:
    from ._api_server import ApiServer

_Handler = Callable[[web.Request, Account | None, float], Awaitable[web.Response]]


def flux_size(width: int | None, height: int | None, aspect_ratio: str) -> tuple[int, int]:
    """The size of a Flux image: width/height as given, else from the aspect ratio (assumed)."""
    side = c.FLUX_SIDE[2]
    if width is not None or height is not None:
        return width or side, height or side
    a, b = (int(v) for v in aspect_ratio.split(":"))
    step = c.FLUX_SIDE_STEP
    w = round(side * math.sqrt(a / b) / step) * step
    h = round(side * math.sqrt(b / a) / step) * step
    return w, h


def token_json(token: Token, account: Account) -> dict[str, Any]:
    """A linked Discord token as the DIY endpoints show it (doc fields, assumed values)."""
    return {
        "id": token.token_id,
        "token": "MTA" + "*" * 20 + token.token_id[-4:],
        "channelId": token.channel_id,
        "serverId": token.server_id,
        "isActive": token.is_active,
        "status": token.status,
        "info": token.info,
        "concurrency": account.concurrency,
    }


class MoreHandlers:
    """Handlers of the further endpoints, sharing the :class:`ApiServer` pipeline and engine."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server

    def table(self, bucket: Bucket) -> list[tuple[str, str, Endpoint, Bucket | None, _Handler]]:
        """Every further route: method, path, endpoint, rate-limit bucket, handler."""
        E = Endpoint
        return [
            ("POST", c.PATH_BLEND, E.BLEND, bucket, self.blend),
            ("POST", c.PATH_BLEND_LEGACY, E.BLEND, bucket, self.blend),
            ("POST", c.PATH_FACESWAP, E.FACESWAP, bucket, self.faceswap),
            ("POST", c.PATH_FACESWAP_LEGACY, E.FACESWAP, bucket, self.faceswap),
            ("POST", c.PATH_FLUX_IMAGINE, E.FLUX_IMAGINE, bucket, self.flux_imagine),
            ("POST", c.PATH_FLUX_UPSCALE, E.FLUX_UPSCALE, bucket, self.flux_upscale),
            ("POST", c.PATH_REMOVE_BG, E.REMOVE_BG, bucket, self.remove_bg),
            ("POST", c.PATH_GEMINI_IMAGINE, E.GEMINI_IMAGINE, bucket, self.gemini),
            ("POST", c.PATH_UNIVERSAL_IMAGINE, E.UNIVERSAL_IMAGINE, bucket, self.universal),
            ("POST", c.PATH_VIDEO_GENERATE, E.VIDEO_GENERATE, bucket, self.video_generate),
            ("POST", c.PATH_VIDEO_EXTEND, E.VIDEO_EXTEND, bucket, self.video_extend),
            ("POST", c.PATH_COMMANDS, E.COMMANDS, bucket, self.commands),
            ("POST", c.PATH_COMMANDS_LEGACY, E.COMMANDS, bucket, self.commands),
            ("GET", c.PATH_DISCORD_TOKENS, E.DISCORD_TOKENS, bucket, self.tokens),
            ("GET", c.PATH_DISCORD_TOKEN, E.DISCORD_TOKEN, bucket, self.token_get),
            ("PUT", c.PATH_DISCORD_TOKEN, E.DISCORD_TOKEN, bucket, self.token_put),
            ("GET", c.PATH_MESSAGE_TRACE, E.MESSAGE_TRACE, bucket, self.trace),
        ]

    async def _fields(self, request: web.Request) -> Fields:
        return Fields(await self.server.json_body(request))

    # --- Midjourney: blend, face swap ------------------------------------------------------------
    async def blend(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        urls = fields.urls("urls", *c.BLEND_URLS)
        common = fields.common()
        fields.check()
        return self.server.create(
            now, account, Endpoint.BLEND, fields.body, prompt=" ".join(urls), common=common,
            result=RESULT_GRID,
        )  # fmt: skip

    async def faceswap(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        source = fields.url("source", required=True)
        target = fields.url("target", required=True)
        common = fields.common()
        fields.check()
        return self.server.create(
            now, account, Endpoint.FACESWAP, fields.body, prompt=f"{source} {target}",
            common=common, result=RESULT_IMAGES,
        )  # fmt: skip

    # --- Flux and tools ----------------------------------------------------------------------------
    async def flux_imagine(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        prompt = fields.string("prompt", required=True)
        n = fields.integer("n", c.FLUX_N[2], c.FLUX_N[0], c.FLUX_N[1], unit="count")
        low, high, _ = c.FLUX_SIDE
        width = self._side(fields, "width", low, high)
        height = self._side(fields, "height", low, high)
        ratio = fields.choice("aspect_ratio", c.FLUX_ASPECT_RATIOS, c.FLUX_ASPECT_RATIO_DEFAULT)
        fields.choice("output_format", c.FLUX_OUTPUT_FORMATS)
        self._quality(fields)
        fields.choice("model", c.FLUX_MODELS)
        common = fields.common()
        fields.check()
        assert prompt is not None
        assert ratio is not None
        return self.server.create(
            now, account, Endpoint.FLUX_IMAGINE, fields.body, prompt=prompt, common=common,
            result=RESULT_IMAGES, size=flux_size(width, height, ratio), count=n,
        )  # fmt: skip

    @staticmethod
    def _side(fields: Fields, name: str, low: int, high: int) -> int | None:
        if fields.body.get(name) is None:
            return None
        value = fields.integer(name, 0, low, high, unit="number of pixels")
        if value and value % c.FLUX_SIDE_STEP:
            fields.problems.append(f"{name} must be a multiple of {c.FLUX_SIDE_STEP}, got {value}")
        return value or None

    @staticmethod
    def _quality(fields: Fields) -> None:
        value = fields.body.get("output_quality")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)  # doc: the default is the string "100"
        low, high, _ = c.FLUX_OUTPUT_QUALITY
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
        ):
            fields.problems.append(f"output_quality must be {low}..{high}, got {value!r}")

    async def flux_upscale(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        image = fields.url("image", required=True)
        low, high = c.FLUX_UPSCALE_SCALE
        if fields.body.get("scale") is None:
            fields.problems.append(f"scale is required (an integer {low}..{high})")
        scale = fields.integer("scale", low, low, high, unit="factor")
        common = fields.common()
        fields.check()
        side = c.FLUX_UPSCALE_INPUT_SIDE * scale
        return self.server.create(
            now, account, Endpoint.FLUX_UPSCALE, fields.body, prompt=str(image), common=common,
            result=RESULT_IMAGES, size=(side, side),
        )  # fmt: skip

    async def remove_bg(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        image = fields.url("image", required=True)
        common = fields.common()
        fields.check()
        return self.server.create(
            now, account, Endpoint.REMOVE_BG, fields.body, prompt=str(image), common=common,
            result=RESULT_IMAGES,
        )  # fmt: skip

    # --- Gemini / universal ------------------------------------------------------------------------
    async def gemini(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        return await self._contents(request, account, now, Endpoint.GEMINI_IMAGINE, c.GEMINI_MODELS)

    async def universal(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        endpoint = Endpoint.UNIVERSAL_IMAGINE
        return await self._contents(request, account, now, endpoint, c.UNIVERSAL_MODELS)

    async def _contents(
        self,
        request: web.Request,
        account: Account | None,
        now: float,
        endpoint: Endpoint,
        models: tuple[str, ...],
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        parts = fields.contents("contents")
        fields.choice("model", models)
        common = fields.common()
        fields.check()
        text = " ".join(part["text"] for part in parts if part["type"] == "text")
        return self.server.create(
            now, account, endpoint, fields.body, prompt=text, common=common, result=RESULT_IMAGES
        )

    # --- Video ---------------------------------------------------------------------------------
    async def video_generate(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        prompt = fields.string("prompt", empty_ok=True)
        fields.url("startFrameUrl", required=True)
        fields.url("endFrameUrl", required=True)
        common = fields.common()
        fields.check()
        return self.server.create(
            now, account, Endpoint.VIDEO_GENERATE, fields.body, prompt=prompt or "",
            common=common, result=RESULT_VIDEO, count=c.VIDEO_RESULTS,
        )  # fmt: skip

    async def video_extend(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        message_id = fields.string("messageId", required=True)
        if fields.body.get("index") is None:
            fields.problems.append(f"index is required (0..{c.VIDEO_RESULTS - 1})")
        index = fields.integer("index", 0, 0, c.VIDEO_RESULTS - 1, unit="index")
        fields.string("animateMode", empty_ok=True)
        common = fields.common()
        fields.check()
        assert message_id is not None
        parent = self.server.job_of(account, message_id)
        if parent.result != RESULT_VIDEO or parent.status != c.DONE:
            raise ApiError(
                400,
                f"Message {message_id} is not a finished video ({parent.status}); extend takes"
                " the messageId of a DONE video job.",
            )
        return self.server.create(
            now, account, Endpoint.VIDEO_EXTEND, fields.body, prompt=f"{parent.prompt} #{index}",
            common=common, parent_id=parent.message_id, result=RESULT_VIDEO,
            count=c.VIDEO_RESULTS,
        )  # fmt: skip

    # --- DIY plan ------------------------------------------------------------------------------
    async def commands(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self._fields(request)
        if fields.body.get("cmd") is None:
            fields.problems.append(f"cmd is required (one of {', '.join(c.COMMANDS)})")
        cmd = fields.choice("cmd", c.COMMANDS)
        common = fields.common()
        fields.check()
        assert cmd is not None
        if cmd in ("relax", "fast", "turbo"):
            for token in account.tokens:
                token.status = "RELAX" if cmd == "relax" else "FAST"
        return self.server.create(
            now, account, Endpoint.COMMANDS, fields.body, prompt=f"/{cmd}", common=common,
            result=RESULT_NONE,
        )  # fmt: skip

    async def tokens(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        return json_response([token_json(t, account) for t in account.tokens])

    async def token_get(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        return json_response(token_json(self._token(account, request), account))

    async def token_put(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        token = self._token(account, request)
        fields = await self._fields(request)
        active = fields.body.get("isActive")
        if not isinstance(active, bool):
            fields.problems.append(f"isActive is required (a boolean), got {active!r}")
        fields.check()
        token.is_active = bool(active)
        return json_response(token_json(token, account))

    async def trace(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        self.server.job_of(account, request.match_info["message_id"])
        token = account.tokens[0]
        return json_response({"tokenId": token.token_id, "tokenInfo": token.info})

    @staticmethod
    def _token(account: Account, request: web.Request) -> Token:
        token_id = request.match_info["token_id"]
        for token in account.tokens:
            if token.token_id == token_id:
                return token
        raise ApiError(404, f"Discord token {token_id} not found.")
