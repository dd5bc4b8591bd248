"""A typing test of the web-backend API (enqueue, Submission, webhooks): mypy checks it, never run."""

from __future__ import annotations

from typing import assert_type

from aiohttp import web

from imaginepro_async import (
    ImagineProClient,
    Job,
    Message,
    RateLimit,
    Submission,
    SubmissionCancelledError,
    SubmissionState,
)
from imaginepro_async.webhooks import (
    WebhookASGIApp,
    WebhookReceiver,
    WebhookStats,
    aiohttp_handler,
    asgi_app,
    parse_webhook,
)


async def use() -> None:
    """Submissions that return at once, and the webhook receivers."""
    client = ImagineProClient(
        webhook_base="https://my.app/hook",
        webhook_token="a-shared-token-of-many-characters",
        webhook_hint_limit=RateLimit(5, 1.0),
    )
    async with client:
        assert_type(client.webhook_url(), str)
        submission = await client.enqueue(client.inpaint("parent-id", b"...", prompt="a hat"))
        assert_type(submission, Submission)
        assert_type(submission.id, str)
        assert_type(submission.state, SubmissionState)
        assert submission.state is not SubmissionState.CHECKING  # type: ignore[attr-defined]
        assert_type(submission.position, int | None)
        assert_type(submission.message_id, str | None)
        assert_type(await submission.submitted(), Job)
        assert_type(await submission, Message)
        assert_type(await submission.cancel(), bool)
        assert_type(client.submission(submission.id), Submission | None)
        receiver = WebhookReceiver(client, max_body_bytes=65536)
        assert_type(receiver.stats, WebhookStats)
        app = web.Application()
        app.router.add_post("/hook", aiohttp_handler(client))
        app.router.add_post("/hook2", receiver.aiohttp)
        assert_type(asgi_app(client), WebhookASGIApp)
        assert_type(parse_webhook(b"{}"), Message)
    assert_type(SubmissionCancelledError("x").submission_id, str)
