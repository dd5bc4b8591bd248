"""A typing test of the public API: mypy checks this file; it is never run.

Each block uses public names the way a user would, with ``assert_type`` where a signature's result
type is part of the promise. A change that breaks a user's types breaks ``mypy``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, assert_type

import anyio

import imaginepro_async
from imaginepro_async import (
    DEFAULT_BASE_URL,
    AccountInfo,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetView,
    Button,
    ClientClosedError,
    ClientState,
    Coordination,
    CreditLimitError,
    DiscordToken,
    HistoryImage,
    ImagePart,
    ImagineProClient,
    ImagineProError,
    InvalidInputError,
    Job,
    JobFailedError,
    JobTimeoutError,
    Message,
    MessageTrace,
    NotFoundError,
    PollPolicy,
    PromptCheck,
    RateLimit,
    RateLimitError,
    RedirectError,
    RequestRefusedError,
    ResponseValidationError,
    RetryPolicy,
    ServerError,
    Status,
    Submission,
    SubmissionUncertainError,
    TextPart,
    VideoMessage,
    VideoResult,
    as_completed,
    gather,
)

assert_type(imaginepro_async.__version__, str)
base_url: str = DEFAULT_BASE_URL


def build(coordination: Coordination | None) -> ImagineProClient:
    """Every constructor option, with its type."""
    return ImagineProClient(
        "sk-...",
        base_url=DEFAULT_BASE_URL,
        create_limit=RateLimit(1, 3.0),
        poll_limit=RateLimit.imaginepro_progress(),
        poll_policy=PollPolicy(first_poll=5.0),
        retry=RetryPolicy(attempts=5, base=0.5, cap=30.0),
        request_timeout=30.0,
        max_response_bytes=2 * 1024 * 1024,
        max_retry_after=300.0,
        time_scale=1.0,
        seed=0,
        coordination=coordination,
    )


async def use(client: ImagineProClient) -> None:
    """Jobs, reads, downloads, budgets and the client's state."""
    async with client as opened:
        assert_type(opened, ImagineProClient)
        assert_type(opened.state, ClientState)
        assert_type(opened.time_scale, float)
        budget: BudgetView = opened.create_budget
        assert_type(budget.limit, RateLimit)
        assert_type(opened.poll_budget.started, int)

        job = await opened.imagine("a cat", ref="r", job_timeout=600, disable_cdn=False)
        assert_type(job, Job)
        assert_type(job.message_id, str)
        assert_type(job.latest, Message | None)
        grid = await job
        assert_type(grid, Message)
        assert_type(await job.wait(timeout=60), Message)
        async for update in job.updates():
            assert_type(update.progress, int)
            assert_type(update.status, Status)
        up = await opened.upscale(grid, 1, job_timeout=300)
        await opened.vary(grid, 2, job_timeout=300)
        await opened.press(grid, Button.REROLL, job_timeout=300)
        await opened.inpaint(await up, b"...", prompt="a hat", job_timeout=300)
        assert_type(await job.cancel(), bool)
        assert_type(opened.job("id"), Job)

        assert_type(await opened.fetch("id"), Message)
        assert_type(await opened.account(), AccountInfo)
        assert_type(await opened.history(page=1, size=10), list[HistoryImage])
        verdict = await opened.check_prompt("a cat")
        assert_type(verdict, PromptCheck)
        assert_type(verdict.ok, bool)

        assert_type(await opened.download(grid), bytes)
        assert_type(await opened.download(grid, index=2, to=Path("a.png")), Path)
        assert_type(grid.image_urls, tuple[str, ...])
        assert_type(grid.updated_at, datetime | None)
        assert_type(grid.is_terminal, bool)

        assert_type(await gather(job, job), list[Message])
        assert_type(await gather(job, return_exceptions=True), list[Message | ImagineProError])
        async for finished in as_completed([job], timeout=60):
            assert_type(finished, Job)
    await client.aclose()


async def endpoints(opened: ImagineProClient) -> None:
    """The further endpoints: each job-creating one returns a Job with its estimated cost.

    Midjourney's are the client's own methods; every other family is a resource attribute.
    """
    image = "https://x/a.png"
    assert_type(await opened.describe(image, job_timeout=60), Job)
    assert_type(await opened.describe(image=image), Job)
    assert_type(await opened.blend(images=[image, "https://x/b.png"]), Job)
    assert_type(await opened.face_swap(source_image=image, target_image="https://x/b.png"), Job)
    assert_type(await opened.imagine("a cat", boost=True), Job)
    flux = await opened.flux.imagine(
        "a cat", n=4, width=1024, height=512, aspect_ratio="16:9", job_timeout=120
    )
    assert_type(flux.cost, int | None)
    assert_type(await opened.flux.upscale(image=image, scale=2), Job)
    assert_type(await opened.tools.remove_background(image=image), Job)
    parts: list[str | TextPart | ImagePart] = [
        "make it blue",
        TextPart("and big"),
        ImagePart(image),
    ]
    assert_type(await opened.gemini.imagine(parts, job_timeout=120), Job)
    assert_type(await opened.universal.imagine("a cat", model="nano-banana", job_timeout=120), Job)
    video_job = await opened.video.generate(
        start_image=image, end_image="https://x/b.png", prompt="walks", job_timeout=900
    )
    video = await video_job
    if isinstance(video, VideoMessage):
        assert_type(video.video_url, str | None)
        assert_type(video.results, tuple[VideoResult, ...])
        assert_type(await opened.video.extend(video, 0, job_timeout=900), Job)
    assert_type(opened.job("id", video=True), Job)
    assert_type(await opened.diy.command("relax"), Job)
    assert_type(await opened.diy.tokens(), list[DiscordToken])
    assert_type(await opened.diy.token("id"), DiscordToken)
    assert_type(await opened.diy.set_token_active("id", active=False), DiscordToken)
    assert_type(await opened.diy.trace("id"), MessageTrace)
    assert_type(opened.credits_spent, int)


async def calls(opened: ImagineProClient) -> None:
    """A job-creating method returns a call: a coroutine of the Job, for await, tasks, enqueue."""
    call: Coroutine[Any, Any, Job] = opened.imagine("a cat")
    assert_type(await call, Job)
    assert_type(await asyncio.create_task(opened.flux.imagine("a cat")), Job)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(opened.imagine, "a cat")
        tasks.start_soon(opened.video.generate, "https://x/a.png", "https://x/b.png")
    assert_type(await opened.enqueue(opened.gemini.imagine("a cat")), Submission)
    assert_type(await opened.enqueue(opened.diy.command("relax")), Submission)
    submission = await opened.enqueue(opened.inpaint("parent-id", b"...", prompt="a hat"))
    assert_type(await submission.cancel(), bool)
    # Only job-creating calls are enqueued: not a read, not a Job.
    await opened.enqueue(opened.check_prompt("a cat"))  # type: ignore[arg-type]
    await opened.enqueue(await opened.imagine("a cat"))  # type: ignore[arg-type]


async def gone(opened: ImagineProClient) -> None:
    """The names of before 1.0 are gone (each line must stay an error)."""
    await opened.imagine("a cat", timeout=600)  # type: ignore[call-arg]
    await opened.describe(url="https://x/a.png")  # type: ignore[call-arg]
    await opened.blend(["https://x/a.png", "https://x/b.png"], legacy_path=True)  # type: ignore[call-arg]
    await opened.blend(urls=["https://x/a.png", "https://x/b.png"])  # type: ignore[call-arg]
    await opened.face_swap(source="https://x/a.png", target="https://x/b.png")  # type: ignore[call-arg]
    await opened.flux("a cat")  # type: ignore[operator]
    await opened.flux_upscale("https://x/a.png", 2)  # type: ignore[attr-defined]
    await opened.remove_background("https://x/a.png")  # type: ignore[attr-defined]
    await opened.gemini_imagine("a cat")  # type: ignore[attr-defined]
    await opened.universal_imagine("a cat")  # type: ignore[attr-defined]
    await opened.generate_video("https://x/a.png", "https://x/b.png")  # type: ignore[attr-defined]
    await opened.video.generate(start_frame_url="https://x/a.png", end_frame_url="https://x/b.png")  # type: ignore[call-arg]
    await opened.extend_video("id", 0)  # type: ignore[attr-defined]
    await opened.command("relax")  # type: ignore[attr-defined]
    await opened.diy.command(cmd="relax")  # type: ignore[call-arg]
    await opened.discord_tokens()  # type: ignore[attr-defined]
    await opened.discord_token("id")  # type: ignore[attr-defined]
    await opened.set_discord_token_active("id", False)  # type: ignore[attr-defined]
    await opened.diy.set_token_active("id", False)  # type: ignore[call-arg]
    await opened.trace("id")  # type: ignore[attr-defined]
    await opened.flux.imagine("a cat", timeout=60)  # type: ignore[call-arg]
    await opened.video.extend("id", 0, timeout=900)  # type: ignore[call-arg]


def errors(exc: ImagineProError) -> None:
    """The error tree's attributes, as users read them."""
    if isinstance(exc, RateLimitError):
        assert_type(exc.retry_after, float | None)
    if isinstance(exc, RedirectError):
        assert_type(exc.location, str | None)
    if isinstance(exc, RequestRefusedError | AuthenticationError | BadRequestError):
        assert_type(exc.status, int)
    if isinstance(exc, APIStatusError | NotFoundError | ServerError):
        assert_type(exc.message, str)
        assert_type(exc.url, str)
    if isinstance(exc, APIConnectionError | APITimeoutError):
        assert_type(exc.method, str)
    if isinstance(exc, ResponseValidationError):
        assert_type(exc.body, str | bytes)
    if isinstance(exc, JobFailedError):
        assert_type(exc.error, str)
        assert_type(exc.message, Message | None)
    if isinstance(exc, JobTimeoutError):
        assert_type(exc.elapsed, float)
        assert_type(exc.pending, tuple[str, ...])
    if isinstance(exc, SubmissionUncertainError):
        assert_type(exc.payload, dict[str, Any])
    if isinstance(exc, CreditLimitError):
        assert_type(exc.needed, int)
    if isinstance(exc, ClientClosedError | InvalidInputError):
        assert_type(str(exc), str)
