"""The endpoints of the other models and tools: Flux imagine and upscale, remove-bg, Gemini and
universal imagine. Each validates its fields, then calls :meth:`HandlerContext.create`.
"""

from __future__ import annotations

import math

from aiohttp import web

from . import _contract as c
from ._engine import RESULT_IMAGES, Account
from ._faults import Endpoint
from ._handler_context import HandlerContext
from ._request_checks import Fields


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


class ModelHandlers:
    """The handlers of the Flux, Gemini, universal and tool endpoints."""

    def __init__(self, ctx: HandlerContext) -> None:
        self.ctx = ctx

    # --- Flux -------------------------------------------------------------------------------------
    async def flux_imagine(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self.ctx.fields(request)
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
        return self.ctx.create(
            now, account, Endpoint.FLUX_IMAGINE, fields.body, prompt=prompt, common=common,
            result=RESULT_IMAGES, size=flux_size(width, height, ratio), count=n, screen=prompt,
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
        fields = await self.ctx.fields(request)
        image = fields.url("image", required=True)
        low, high = c.FLUX_UPSCALE_SCALE
        if fields.body.get("scale") is None:
            fields.problems.append(f"scale is required (an integer {low}..{high})")
        scale = fields.integer("scale", low, low, high, unit="factor")
        common = fields.common()
        fields.check()
        side = c.FLUX_UPSCALE_INPUT_SIDE * scale
        return self.ctx.create(
            now, account, Endpoint.FLUX_UPSCALE, fields.body, prompt=str(image), common=common,
            result=RESULT_IMAGES, size=(side, side),
        )  # fmt: skip

    # --- tools ------------------------------------------------------------------------------------
    async def remove_bg(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self.ctx.fields(request)
        image = fields.url("image", required=True)
        common = fields.common()
        fields.check()
        return self.ctx.create(
            now, account, Endpoint.REMOVE_BG, fields.body, prompt=str(image), common=common,
            result=RESULT_IMAGES,
        )  # fmt: skip

    # --- Gemini / universal -----------------------------------------------------------------------
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
        fields = await self.ctx.fields(request)
        parts = fields.contents("contents")
        fields.choice("model", models)
        common = fields.common()
        fields.check()
        text = " ".join(part["text"] for part in parts if part["type"] == "text")
        return self.ctx.create(
            now, account, endpoint, fields.body, prompt=text, common=common, result=RESULT_IMAGES,
            screen=text,
        )  # fmt: skip
