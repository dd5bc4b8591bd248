"""A FastAPI backend for inpainting: answers at once, wakes jobs by webhook, streams progress.

Run it as::

    export IMAGINEPRO_API_KEY=sk-...                  # read by the client, as everywhere
    export PUBLIC_URL=https://my.app.example          # where ImaginePro can reach this app
    uvicorn fastapi_app:app --app-dir examples

Routes:

- ``POST /inpaint`` with JSON ``{"parent": "<messageId of an upscale>", "mask": "<base64 PNG>",
  "prompt": "..."}``: ``202`` with the submission's ``id`` at once (bad input, or a parent that
  ImaginePro does not know: ``422``; the parent is fetched once, within the rate limits).
- ``GET /jobs/{id}``: where it is (waiting in line, sent, its status and progress, its image).
- ``GET /jobs/{id}/events``: Server-Sent Events: its place in line, then each progress change.
- ``POST /imaginepro/webhook``: ImaginePro's deliveries (only with the client's secret token).

``IMAGINEPRO_BASE_URL`` points the client elsewhere (the simulator: ``python -m
imaginepro_async.testing``); ``IMAGINEPRO_TIME_SCALE`` matches a simulator running faster than
real time. Without ``PUBLIC_URL`` there are no webhooks and jobs are polled. Without a key the app
still starts: it logs what to set, and answers ``503`` with that message until restarted with one.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from imaginepro_async import (
    ClientClosedError,
    ImagineProClient,
    ImagineProError,
    InvalidInputError,
    NotFoundError,
    Submission,
)
from imaginepro_async.webhooks import WebhookTokenFilter, asgi_app

WEBHOOK_PATH = "/imaginepro/webhook"
_PUBLIC_URL = os.environ.get("PUBLIC_URL", "").rstrip("/")


def make_client() -> tuple[ImagineProClient | None, str]:
    """The app's client, or None and what to set (the app then starts and answers 503)."""
    try:
        # IMAGINEPRO_API_KEY, IMAGINEPRO_BASE_URL and IMAGINEPRO_TIME_SCALE are read by the client.
        webhooks = f"{_PUBLIC_URL}{WEBHOOK_PATH}" if _PUBLIC_URL else None
        return ImagineProClient(webhook_base=webhooks), ""
    except InvalidInputError as exc:
        if not os.environ.get("IMAGINEPRO_API_KEY", "").strip():
            return None, (
                "no ImaginePro API key: set IMAGINEPRO_API_KEY (sk-...; for the simulator, the"
                " one `imaginepro-async simulate` prints) and restart the app"
            )
        return None, f"cannot start the ImaginePro client: {exc}; fix it and restart the app"


# One client for the app's lifetime: it shares the API's rate limits among all requests.
client, NOT_CONFIGURED = make_client()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    if client is None:
        logging.getLogger("uvicorn.error").error(NOT_CONFIGURED)  # uvicorn shows this logger
        yield
        return
    async with client:  # closing it: submissions not sent yet are not sent
        yield


app = FastAPI(lifespan=lifespan)
if client is not None:
    # A route at the exact path, not app.mount: a mount answers WEBHOOK_PATH with a 307 redirect
    # to WEBHOOK_PATH + "/", and ImaginePro's deliveries would be lost.
    app.add_route(WEBHOOK_PATH, asgi_app(client), methods=["POST"])
# The token is in the deliveries' URL: keep it out of uvicorn's access log.
logging.getLogger("uvicorn.access").addFilter(WebhookTokenFilter())


def configured() -> ImagineProClient:
    """The client, or a 503 that says what to set."""
    if client is None:
        raise HTTPException(503, NOT_CONFIGURED)
    return client


class InpaintBody(BaseModel):
    parent: str
    mask: str
    prompt: str | None = None


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


def find(submission_id: str) -> Submission:
    submission = configured().submission(submission_id)
    if submission is None:
        raise HTTPException(404, "no such job")
    return submission


@app.post("/inpaint", status_code=202)
async def inpaint(body: InpaintBody) -> dict[str, Any]:
    api = configured()
    try:
        mask = base64.b64decode(body.mask, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, "mask must be a base64 image") from None
    try:
        # Fetched once before the 202: an unknown parent is refused now, not failed later, and
        # the client checks the mask against the parent's image and its Vary (Region) button.
        parent = await api.fetch(body.parent)
        submission = await api.enqueue(api.inpaint(parent, mask, prompt=body.prompt))
    except NotFoundError:
        raise HTTPException(422, f"no job {body.parent} on this account") from None
    except InvalidInputError as exc:
        raise HTTPException(422, str(exc)) from None
    except ClientClosedError:
        raise HTTPException(503, "shutting down") from None
    except ImagineProError as exc:  # the parent could not be fetched: ImaginePro's side
        raise HTTPException(502, f"ImaginePro: {exc}") from None
    return view(submission)


@app.get("/jobs/{submission_id}")
async def job_status(submission_id: str) -> dict[str, Any]:
    return view(find(submission_id))


@app.get("/jobs/{submission_id}/events")
async def job_events(submission_id: str) -> StreamingResponse:
    submission = find(submission_id)
    return StreamingResponse(events(submission), media_type="text/event-stream")


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def events(submission: Submission) -> AsyncIterator[str]:
    """Its place in line, then each change of status or progress, then ``done`` or ``error``."""
    try:
        if submission.position is not None:
            yield sse("queued", {"position": submission.position})
        job = await submission.submitted()
        async for message in job.updates():
            yield sse("progress", {"status": message.status.value, "progress": message.progress})
        yield sse("done", view(submission) | {"uri": (await job).uri})
    except ImagineProError as exc:
        yield sse("error", {"error": str(exc)})
