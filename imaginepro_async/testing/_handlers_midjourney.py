"""The Midjourney endpoints: imagine and the buttons (boost included; Vary (Region) masks are
checked here), describe, the prompt check, blend, face swap, video generate and extend, and the
DIY plan's commands.

Each job-creating handler validates its fields (every problem in one NestJS list), then calls
:meth:`HandlerContext.create`, which refuses a blocked prompt, charges by the cost table and queues
the job in the one engine. What a Midjourney job makes (its size, its buttons) is decided by
``_midjourney`` from the prompt and the parent.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from . import _contract as c
from ._engine import RESULT_DESCRIPTION, RESULT_IMAGES, RESULT_NONE, RESULT_VIDEO, Account, Job
from ._faults import Endpoint
from ._handler_context import HandlerContext
from ._http import ApiError, json_response
from ._midjourney import (
    InvalidParameterError,
    Look,
    grid_look,
    imagine_look,
    mask_fits,
    press_look,
)
from ._png import sniff_image
from ._request_checks import Fields


class MidjourneyHandlers:
    """The handlers of the Midjourney endpoints."""

    def __init__(self, ctx: HandlerContext) -> None:
        self.ctx = ctx

    # --- imagine and the buttons ------------------------------------------------------------------
    async def imagine(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self.ctx.json_body(request)
        fields = Fields(body)
        prompt = fields.string("prompt", required=True)
        common = fields.common()
        fields.check()
        assert prompt is not None
        endpoint = (
            Endpoint.BOOST_IMAGINE if request.path == c.PATH_BOOST_IMAGINE else Endpoint.IMAGINE
        )
        look = self._look(prompt)
        return self.ctx.create(
            now, account, endpoint, body, prompt=prompt, common=common, look=look, screen=prompt
        )

    def _look(self, prompt: str) -> Look:
        try:
            return imagine_look(prompt, self.ctx.config.image_size)
        except InvalidParameterError as exc:
            raise ApiError(400, str(exc)) from None

    async def button(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self.ctx.json_body(request)
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
        parent = self.ctx.job_of(account, message_id)
        if button == c.CANCEL_JOB:
            if parent.status not in (c.QUEUED, c.PROCESSING):
                raise ApiError(
                    400,
                    f"Cannot cancel message {message_id}: it is {parent.status}; Cancel Job is"
                    " only accepted while a job is QUEUED or PROCESSING.",
                )
            self.ctx.engine.cancel(parent, now)
            return self.ctx.created(parent.message_id, now)
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
        return self.ctx.create(
            now, account, endpoint, body, prompt=prompt or parent.prompt, common=common,
            button=button, parent_id=parent.message_id, screen=prompt,
            look=press_look(button, parent, self.ctx.config.image_size),
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
        if self.ctx.config.check_mask_size and not mask_fits(
            (width, height), parent.size, parent.aspect
        ):
            asked = "" if parent.aspect == (1, 1) else " ({}:{})".format(*parent.aspect)
            raise ApiError(
                400,
                f"mask size {width}x{height} ({kind}) does not have the aspect ratio of the image"
                f" being edited, {want_w}x{want_h}{asked}; send a mask of that aspect ratio (any"
                " resolution is scaled).",
            )

    # --- describe, prompt check -------------------------------------------------------------------
    async def describe(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        body = await self.ctx.json_body(request)
        fields = Fields(body)
        url = fields.url("url", required=True)
        common = fields.common()
        fields.check()
        assert url is not None
        return self.ctx.create(
            now, account, Endpoint.DESCRIBE, body, prompt=url, common=common,
            result=RESULT_DESCRIPTION,
        )  # fmt: skip

    async def prompt_check(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        body = await self.ctx.json_body(request)
        fields = Fields(body)
        prompt = fields.string("prompt", required=True)
        fields.check()
        assert prompt is not None
        word = self.ctx.config.blocked.first(prompt)
        if word is not None:
            return json_response({"status": "FAIL", "message": c.BLOCKED_ERROR.format(word=word)})
        word = self.ctx.engine.moderated.first(prompt)
        if word is not None:
            return json_response({"status": "FAIL", "message": c.MODERATED_ERROR.format(word=word)})
        try:
            imagine_look(prompt, self.ctx.config.image_size)
        except InvalidParameterError as exc:
            return json_response({"status": "FAIL", "message": str(exc)})
        return json_response({"status": "SUCCESS"})

    # --- blend, face swap -------------------------------------------------------------------------
    async def blend(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self.ctx.fields(request)
        urls = fields.urls("urls", *c.BLEND_URLS)
        common = fields.common()
        fields.check()
        base = self.ctx.config.image_size
        return self.ctx.create(
            now, account, Endpoint.BLEND, fields.body, prompt=" ".join(urls), common=common,
            look=grid_look((1, 1), base, None, kind=Endpoint.BLEND.value),
        )  # fmt: skip

    async def faceswap(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self.ctx.fields(request)
        source = fields.url("source", required=True)
        target = fields.url("target", required=True)
        common = fields.common()
        fields.check()
        return self.ctx.create(
            now, account, Endpoint.FACESWAP, fields.body, prompt=f"{source} {target}",
            common=common, result=RESULT_IMAGES,
        )  # fmt: skip

    # --- video ------------------------------------------------------------------------------------
    async def video_generate(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self.ctx.fields(request)
        prompt = fields.string("prompt", empty_ok=True)
        fields.url("startFrameUrl", required=True)
        fields.url("endFrameUrl", required=True)
        common = fields.common()
        fields.check()
        return self.ctx.create(
            now, account, Endpoint.VIDEO_GENERATE, fields.body, prompt=prompt or "",
            common=common, result=RESULT_VIDEO, count=c.VIDEO_RESULTS, screen=prompt,
        )  # fmt: skip

    async def video_extend(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self.ctx.fields(request)
        message_id = fields.string("messageId", required=True)
        if fields.body.get("index") is None:
            fields.problems.append(f"index is required (0..{c.VIDEO_RESULTS - 1})")
        index = fields.integer("index", 0, 0, c.VIDEO_RESULTS - 1, unit="index")
        fields.string("animateMode", empty_ok=True)
        common = fields.common()
        fields.check()
        assert message_id is not None
        parent = self.ctx.job_of(account, message_id)
        if parent.result != RESULT_VIDEO or parent.status != c.DONE:
            raise ApiError(
                400,
                f"Message {message_id} is not a finished video ({parent.status}); extend takes"
                " the messageId of a DONE video job.",
            )
        return self.ctx.create(
            now, account, Endpoint.VIDEO_EXTEND, fields.body, prompt=f"{parent.prompt} #{index}",
            common=common, parent_id=parent.message_id, result=RESULT_VIDEO,
            count=c.VIDEO_RESULTS,
        )  # fmt: skip

    # --- DIY plan ---------------------------------------------------------------------------------
    async def commands(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        fields = await self.ctx.fields(request)
        if fields.body.get("cmd") is None:
            fields.problems.append(f"cmd is required (one of {', '.join(c.COMMANDS)})")
        cmd = fields.choice("cmd", c.COMMANDS)
        common = fields.common()
        fields.check()
        assert cmd is not None
        if cmd in ("relax", "fast", "turbo"):
            for token in account.tokens:
                token.status = "RELAX" if cmd == "relax" else "FAST"
        return self.ctx.create(
            now, account, Endpoint.COMMANDS, fields.body, prompt=f"/{cmd}", common=common,
            result=RESULT_NONE,
        )  # fmt: skip
