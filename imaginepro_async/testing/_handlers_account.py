"""The endpoints that read what an account has: its messages (fetch, video fetch, trace), its info
and image history, its Discord tokens (DIY plan; PUT switches one on or off); and the CDN that
serves the messages' files (no auth).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import _contract as c
from ._engine import IMAGE_RESULTS, Account, Token
from ._handler_context import HandlerContext
from ._http import ApiError, json_response
from ._messages import cdn_names, render_message
from ._png import result_png
from ._request_checks import query_int


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


class AccountHandlers:
    """The handlers of the account, message and CDN endpoints."""

    def __init__(self, ctx: HandlerContext) -> None:
        self.ctx = ctx

    # --- messages ---------------------------------------------------------------------------------
    async def fetch(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        job = self.ctx.job_of(account, request.match_info["message_id"])
        return json_response(render_message(job, now, self.ctx.base_url, self.ctx.clock))

    # --- the account ------------------------------------------------------------------------------
    async def account_info(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        return json_response(
            {
                "type": c.ACCOUNT_TYPE,
                "creditsQuota": account.quota,
                "credits": account.credits,
                "creditsExtra": 0,
                "expiredAt": self.ctx.clock.iso(c.ACCOUNT_EXPIRES_AFTER),
                "email": account.email,
            }
        )

    async def images(
        self, request: web.Request, account: Account | None, now: float
    ) -> web.Response:
        assert account is not None
        page = query_int(request, "page", 1, 1, None)
        size = query_int(request, "size", c.IMAGES_PAGE_SIZE_DEFAULT, 1, c.IMAGES_PAGE_SIZE_MAX)
        skip = (page - 1) * size
        cutoff = now - c.IMAGES_HISTORY_SECONDS
        items: list[dict[str, Any]] = []
        # See the contract (HISTORY_*): every job created in the window, any status, newest first.
        for job in reversed(account.jobs):
            if job.created < cutoff:
                break
            if not c.HISTORY_LISTS_EVERY_STATUS and job.status != c.DONE:
                continue
            if skip:
                skip -= 1
                continue
            message = render_message(job, now, self.ctx.base_url, self.ctx.clock)
            items.append(
                {
                    "id": job.message_id,
                    "type": job.endpoint,
                    "button": job.button,
                    "prompt": job.prompt,
                    "uri": (
                        message.get("uri", message.get("originalUrl"))
                        if job.status == c.DONE and job.result in IMAGE_RESULTS
                        else None
                    ),
                    "createdAt": message["createdAt"],
                }
            )
            if len(items) == size:
                break
        return json_response({"images": items})

    # --- DIY plan: Discord tokens, trace ----------------------------------------------------------
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
        fields = await self.ctx.fields(request)
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
        self.ctx.job_of(account, request.match_info["message_id"])
        token = account.tokens[0]
        return json_response({"tokenId": token.token_id, "tokenInfo": token.info})

    @staticmethod
    def _token(account: Account, request: web.Request) -> Token:
        token_id = request.match_info["token_id"]
        for token in account.tokens:
            if token.token_id == token_id:
                return token
        raise ApiError(404, f"Discord token {token_id} not found.")

    # --- the CDN (no auth) ------------------------------------------------------------------------
    async def cdn(self, request: web.Request, account: Account | None, now: float) -> web.Response:
        job = self.ctx.engine.jobs.get(request.match_info["message_id"])
        name = request.match_info["name"]
        if job is None or name not in cdn_names(job):
            return web.Response(status=404, text="Not Found")
        cache = {"Cache-Control": "public, max-age=31536000, immutable"}
        if name.endswith(".mp4"):
            return web.Response(body=c.VIDEO_PLACEHOLDER, content_type="video/mp4", headers=cache)
        width, height = self.ctx.config.size_of(job, name)
        data = result_png(job.message_id, name, width, height)
        return web.Response(body=data, content_type="image/png", headers=cache)
