"""What every route handler works with: :class:`HandlerContext` holds the engine, the clock, the
counters and the settings of one simulator, and the steps handlers share (read the body, refuse a
blocked prompt, create a job and answer, find the caller's job); :data:`Handler` is the handlers'
signature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import _contract as c
from ._clock import SimClock
from ._engine import RESULT_GRID, Account, Engine, InsufficientCreditsError, Job
from ._faults import Endpoint
from ._http import ApiError, json_response
from ._introspection import Recorder
from ._midjourney import Look
from ._request_checks import Common, Fields, read_json_body
from ._settings import AppConfig

Handler = Callable[[web.Request, Account | None, float], Awaitable[web.Response]]
"""A route handler: the request, its account (None on the routes without auth), simulated now."""


class HandlerContext:
    """The state and the shared steps of the route handlers; one per simulator."""

    def __init__(
        self,
        *,
        engine: Engine,
        clock: SimClock,
        recorder: Recorder,
        config: AppConfig,
        on_job_created: Callable[[Job], None],
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.recorder = recorder
        self.config = config
        self.base_url = ""
        """The simulator's URL, known once it is serving (the Message links to its CDN)."""
        self._on_job_created = on_job_created

    async def json_body(self, request: web.Request) -> dict[str, Any]:
        """The request body as a JSON object, at most ``max_body_bytes`` long."""
        return await read_json_body(request, self.config.max_body_bytes)

    async def fields(self, request: web.Request) -> Fields:
        """The fields of the request body, to be read and checked."""
        return Fields(await self.json_body(request))

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
        look: Look | None = None,
        screen: str | None = None,
    ) -> web.Response:
        """Refuse a blocked prompt, charge by the cost table, create the job, answer the creation
        answer.

        ``screen`` is the text the request sent (checked against the blocked words); ``look``, for
        a Midjourney job, gives its result, duration kind, size, aspect ratio and buttons.
        """
        if screen is not None:
            word = self.config.blocked.first(screen)
            if word is not None:
                raise ApiError(c.BLOCKED_STATUS, c.BLOCKED_ERROR.format(word=word))
        if look is not None:
            result, kind, size = look.result, look.kind, look.size
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
                aspect=(1, 1) if look is None else look.aspect,
                version=None if look is None else look.version,
                offers=() if look is None else look.offers,
            )
        except InsufficientCreditsError as exc:
            raise ApiError(401, str(exc)) from None
        self.recorder.job(endpoint.value, body, common.ref, job.message_id)
        self._on_job_created(job)
        return self.created(job.message_id, now)

    def created(self, message_id: str, now: float) -> web.Response:
        """The creation answer (doc): ``{"success", "messageId", "createdAt"}``."""
        return json_response(
            {"success": True, "messageId": message_id, "createdAt": self.clock.iso(now)}
        )

    def job_of(self, account: Account, message_id: str) -> Job:
        """The job ``message_id`` of ``account`` (404 if it has no such job)."""
        job = self.engine.jobs.get(message_id)
        if job is None or job.account is not account:
            raise ApiError(404, f"Message {message_id} not found.")
        return job
