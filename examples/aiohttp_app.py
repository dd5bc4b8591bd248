"""An aiohttp.web backend for inpainting: answers at once, wakes jobs by webhook, streams progress.

Run it as::

    export IMAGINEPRO_API_KEY=sk-...                  # read by the client, as everywhere
    export PUBLIC_URL=https://my.app.example          # where ImaginePro can reach this app
    python examples/aiohttp_app.py                    # listens on $PORT (default 8080)

The routes are those of ``fastapi_app.py``: ``POST /inpaint`` (202 with an id at once),
``GET /jobs/{id}``, ``GET /jobs/{id}/events`` (Server-Sent Events) and ``POST
/imaginepro/webhook``. ``IMAGINEPRO_BASE_URL`` and ``IMAGINEPRO_TIME_SCALE`` as there.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from imaginepro_async import (
    ClientClosedError,
    ImagineProClient,
    ImagineProError,
    InvalidInputError,
    Submission,
)
from imaginepro_async.webhooks import WebhookTokenFilter, aiohttp_handler

WEBHOOK_PATH = "/imaginepro/webhook"
CLIENT = web.AppKey("client", ImagineProClient)


def view(submission: Submission) -> dict[str, Any]:
    """What a client of this app sees of one submission."""
    job, latest = submission.job, submission.job.latest if submission.job else None
    return {
        "id": submission.id,
        "state": submission.state.value,
        "position": submission.position,
        "message_id": submission.message_id,
        "status": latest.status.value if latest else None,
        "progress": latest.progress if latest else None,
        "uri": latest.uri if latest and job and job.done() else None,
        "error": str(submission.error) if submission.error else None,
    }


def find(request: web.Request) -> Submission:
    submission = request.app[CLIENT].submission(request.match_info["id"])
    if submission is None:
        raise web.HTTPNotFound(text="no such job")
    return submission


def unprocessable(reason: str) -> web.HTTPUnprocessableEntity:
    return web.HTTPUnprocessableEntity(text=json.dumps({"detail": reason}))


async def inpaint(request: web.Request) -> web.Response:
    client = request.app[CLIENT]
    try:
        body = await request.json()
        parent, prompt = body["parent"], body.get("prompt")
        mask = base64.b64decode(body["mask"], validate=True)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise unprocessable("send JSON with parent, mask (base64) and prompt") from None
    try:
        submission = await client.enqueue(client.inpaint(parent, mask, prompt=prompt))
    except InvalidInputError as exc:
        raise unprocessable(str(exc)) from None
    except ClientClosedError:
        raise web.HTTPServiceUnavailable(text="shutting down") from None
    return web.json_response(view(submission), status=202)


async def job_status(request: web.Request) -> web.Response:
    return web.json_response(view(find(request)))


async def job_events(request: web.Request) -> web.StreamResponse:
    submission = find(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    async for event, data in events(submission):
        await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
    await response.write_eof()
    return response


async def events(submission: Submission) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Its place in line, then each change of status or progress, then ``done`` or ``error``."""
    try:
        if submission.position is not None:
            yield "queued", {"position": submission.position}
        job = await submission.submitted()
        async for message in job.updates():
            yield "progress", {"status": message.status.value, "progress": message.progress}
        yield "done", view(submission) | {"uri": (await job).uri}
    except ImagineProError as exc:
        yield "error", {"error": str(exc)}


def make_app() -> web.Application:
    public = os.environ.get("PUBLIC_URL", "").rstrip("/")
    # One client for the app's lifetime: it shares the API's rate limits among all requests.
    client = ImagineProClient(
        webhook_base=f"{public}{WEBHOOK_PATH}" if public else None,
    )

    async def client_context(app: web.Application) -> AsyncIterator[None]:
        async with client:  # closing it: submissions not sent yet are not sent
            yield

    app = web.Application()
    app[CLIENT] = client
    app.cleanup_ctx.append(client_context)
    app.router.add_post("/inpaint", inpaint)
    app.router.add_get("/jobs/{id}", job_status)
    app.router.add_get("/jobs/{id}/events", job_events)
    app.router.add_post(WEBHOOK_PATH, aiohttp_handler(client))
    return app


if __name__ == "__main__":
    # The token is in the deliveries' URL: keep it out of the access log.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("aiohttp.access").addFilter(WebhookTokenFilter())
    web.run_app(make_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
