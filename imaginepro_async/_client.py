"""``ImagineProClient``: submit jobs, get awaitable handles, follow thousands at once.

The client checks its options, builds its core (``_core.py``: sessions, sender, scheduler, queue)
and composes the API's families over it (``_resources/``). Midjourney's methods are its own: it is
the Midjourney resource of its core, with the client's verbs (job, fetch, download, enqueue, ...)
added here.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, Self, overload

import aiohttp
import yarl

from ._calls import JobCall, steps
from ._core import ClientCore, ClientState, Settings
from ._errors import InvalidInputError
from ._events.hooks import ClientHooks, Emitter, check_hooks
from ._inbox import Inbox
from ._jobs import Job
from ._models import AccountInfo, HistoryImage, Message
from ._pacing.budget import BudgetView, Coordination, RateLimit
from ._pacing.clock import Clock
from ._pacing.retry import RetryPolicy
from ._resources.diy import Diy
from ._resources.flux import Flux
from ._resources.gemini import Gemini
from ._resources.midjourney import Midjourney
from ._resources.tools import Tools
from ._resources.universal import Universal
from ._resources.video import Video
from ._scheduling.policy import PollPolicy
from ._submissions import Submission
from ._validation import (
    DEFAULT_BASE_URL,
    check_api_key,
    check_base_url,
    check_choice,
    check_count,
    check_message_id,
    check_positive,
    check_time_scale_target,
    env_time_scale,
    short,
)
from ._wire.endpoints import ACCOUNT_INFO, HISTORY
from ._wire.exchange import Secret

__all__ = ["DEFAULT_BASE_URL", "ClientState", "ImagineProClient"]

logger = logging.getLogger("imaginepro_async")


class ImagineProClient(Midjourney):
    """An asyncio client for ImaginePro: submit jobs, then await their handles.

    Use it as ``async with ImagineProClient(...) as client:``; leaving the block stops its background
    work and closes the HTTP session (a session passed in is left open). One client shares one
    request budget and one poller among all its jobs, so thousands of jobs can run at once without
    tripping the API's rate limits.

    Midjourney's methods are the client's own (``imagine``, ``press``, ``upscale``, ``vary``,
    ``inpaint``, ``describe``, ``blend``, ``face_swap``, ``check_prompt``); every other family of
    the API is an attribute named after its section of the documentation: ``client.flux``,
    ``client.gemini``, ``client.universal``, ``client.video``, ``client.tools``, ``client.diy``.
    Job-creating methods return a ``JobCall``: await it for the ``Job``, or ``enqueue`` it.

    Args:
        api_key: the ``sk-...`` key; defaults to the ``IMAGINEPRO_API_KEY`` environment variable.
        base_url: defaults to ``IMAGINEPRO_BASE_URL`` or ``https://api.imaginepro.ai``. Plain http
            is refused except on loopback (the simulator).
        session: an ``aiohttp.ClientSession`` to use; the client does not close it. Job-creating
            requests still go over fresh connections of a small session of the client's own (a
            pooled connection the server has just closed would make a create uncertain), which
            takes this session's trace configs, default headers, ``trust_env`` and TLS setting.
        create_limit: the budget of job-creating and other general requests (ImaginePro: 1 per 3 s).
        poll_limit: the budget of progress requests (ImaginePro: 10 per second).
        poll_policy: when jobs are polled (see ``PollPolicy``).
        retry: how transient failures of reads and safe resends of submissions are retried.
        request_timeout: seconds any one request may take, connection included.
        max_response_bytes: answers larger than this are refused (``ResponseValidationError``).
        max_retry_after: the longest ``Retry-After`` (server seconds) a read or a submission waits
            out; a longer one raises ``RateLimitError`` at once instead of blocking. Polls of jobs
            always wait as long as the server asks.
        coordination: where the budgets live when several processes share one API key: a
            ``redis://`` URL (the client opens it and closes it, needs the ``[redis]`` extra), or a
            ``Coordination`` such as ``RedisCoordination`` (left open: close it yourself after the
            client). Default: in this process.
        time_scale: for simulators running faster than real time: every wait the client schedules
            (budgets, polling, backoff, ``Retry-After``) is divided by it. ``request_timeout`` is not.
            Defaults to the ``IMAGINEPRO_TIME_SCALE`` environment variable, or 1. A scale other
            than 1 is refused (``InvalidInputError``) unless ``base_url`` is on loopback.
        seed: seeds the jitter of retries, for reproducible runs.
        webhook_base: the URL ImaginePro can reach your webhook route at (see
            ``imaginepro_async.webhooks``). Every job created without ``webhook_override`` then
            carries ``webhook_url()`` (this URL plus a secret token), and is polled far less:
            deliveries make the client fetch it.
        webhook_token: the secret put in the webhook URL; default ``IMAGINEPRO_WEBHOOK_TOKEN``,
            else a fresh random one. Several processes behind one route must share it.
        webhook_hint_limit: at most this many fetches prompted by deliveries (all jobs together).
        account_concurrency: how many jobs your account runs at once, if you know it (a floor
            under what the client observes). Submissions wait while the jobs ahead of a new one
            would keep it queued past its server-side timeout, or start it later than
            ``PollPolicy.queue_horizon`` (``submission_hold`` says why).
        poll_pacing: ``"answer"`` (default): a poll's budget permit comes back one window after
            its answer, which provably never trips the progress limit but pays each round trip
            (about 7 polls/s of 10 at a 0.3 s round trip). ``"send"``: one window after it was
            sent: polls at the limit whatever the round trip, at the price of a rare 429 when
            requests reach the server at uneven delays (each honoured: the budget pauses).
        hooks: ``ClientHooks`` objects (one or several) told what the client does: requests and
            answers, retries, 429s, budget waits, held submissions, jobs submitted, polled and
            ended (see ``ClientHooks``; ``imaginepro_async.telemetry.OpenTelemetryHooks`` turns
            them into OpenTelemetry traces and metrics). Default: none, at no cost.
    """

    __slots__ = (
        "base_url",
        "diy",
        "flux",
        "gemini",
        "poll_policy",
        "tools",
        "universal",
        "video",
    )

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        create_limit: RateLimit | None = None,
        poll_limit: RateLimit | None = None,
        poll_policy: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        request_timeout: float = 30.0,
        max_response_bytes: int = 2 * 1024 * 1024,
        max_retry_after: float = 300.0,
        time_scale: float | None = None,
        seed: int | None = None,
        coordination: Coordination | str | None = None,
        webhook_base: str | None = None,
        webhook_token: str | None = None,
        webhook_hint_limit: RateLimit | None = None,
        account_concurrency: int | None = None,
        poll_pacing: Literal["answer", "send"] = "answer",
        hooks: ClientHooks | Iterable[ClientHooks] | None = None,
    ) -> None:
        api = Secret(check_api_key(api_key))
        scale_from_env = time_scale is None
        time_scale = check_positive(
            env_time_scale() if time_scale is None else time_scale, "time_scale"
        )
        seconds = "a number of seconds"
        if account_concurrency is not None:
            # The jobs the account runs at once: a floor under what the client observes.
            check_count(account_concurrency, "account_concurrency", 1, 10_000)
        self.base_url: yarl.URL = check_base_url(
            base_url or os.environ.get("IMAGINEPRO_BASE_URL") or DEFAULT_BASE_URL
        )
        check_time_scale_target(time_scale, self.base_url, from_env=scale_from_env)
        self.poll_policy: PollPolicy = poll_policy or PollPolicy()
        clock = Clock(time_scale)
        settings = Settings(
            api_key=api,
            base_url=self.base_url,
            clock=clock,
            retry=retry or RetryPolicy(),
            rng=random.Random(seed),
            request_timeout=check_positive(
                request_timeout, "request_timeout", seconds, finite=False
            ),
            max_response_bytes=max_response_bytes,
            max_retry_after=check_positive(
                max_retry_after, "max_retry_after", seconds, finite=False
            ),
            poll_policy=self.poll_policy,
            poll_pacing="send"
            if check_choice(poll_pacing, "poll_pacing", ("answer", "send")) == "send"
            else "answer",
            account_concurrency=account_concurrency,
            events=Emitter(check_hooks(hooks)),
        )
        inbox = Inbox(
            webhook_base,
            webhook_token,
            clock=clock,
            hint_limit=webhook_hint_limit or RateLimit(5, 1.0),
        )
        core = ClientCore(
            settings,
            session=session,
            coordination=coordination,
            create_limit=create_limit or RateLimit.imaginepro_create(),
            poll_limit=poll_limit or RateLimit.imaginepro_progress(),
            inbox=inbox,
        )
        super().__init__(core)
        self.flux: Flux = Flux(core)
        """Flux models: ``imagine``, ``upscale``."""
        self.gemini: Gemini = Gemini(core)
        """Gemini: ``imagine``."""
        self.universal: Universal = Universal(core)
        """Several image models behind one endpoint: ``imagine``."""
        self.video: Video = Video(core)
        """Midjourney videos: ``generate``, ``extend``."""
        self.tools: Tools = Tools(core)
        """Image tools: ``remove_background``."""
        self.diy: Diy = Diy(core)
        """The DIY plan: ``command``, ``tokens``, ``token``, ``set_token_active``, ``trace``."""

    @property
    def state(self) -> ClientState:
        """NEW until ``async with``, OPEN inside it, CLOSED after (a client is never reopened);
        BROKEN if a background task of it stopped on an unexpected error (see ``ClientState``)."""
        return self._core.state

    @property
    def time_scale(self) -> float:
        """API seconds per real second (1 against the real service; see the constructor)."""
        return self._core.clock.scale

    @property
    def credits_spent(self) -> int:
        """The credits the jobs this client submitted cost: an estimate (see ``Job.cost``)."""
        return self._core.credits_spent

    @property
    def create_budget(self) -> BudgetView:
        """The budget of job-creating and other general requests (read-only)."""
        return self._core.create_budget

    @property
    def poll_budget(self) -> BudgetView:
        """The budget of progress requests (read-only)."""
        return self._core.poll_budget

    @property
    def submission_hold(self) -> str | None:
        """Why new submissions wait right now (None: they do not).

        A submission waits while the jobs already on the account would keep a new one queued
        past its server-side timeout (the server would charge it and time it out), or while it
        would start more than ``PollPolicy.queue_horizon`` from now (the account is kept busy
        by the jobs queued; the one waiting here is not paid for yet).
        """
        return self._core.hold_reason

    def __repr__(self) -> str:
        return f"<ImagineProClient {str(self.base_url).rstrip('/')} {self._core.state.value}>"

    # -- life cycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._core.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop following jobs and close the session (unless it was passed in). Safe to repeat.

        Jobs go on on the server; tasks still awaiting one get ``ClientClosedError``. Submissions
        of ``enqueue`` not sent yet are not sent (their handles end with ``ClientClosedError``);
        those on the wire are answered first.
        """
        await self._core.aclose()

    # -- jobs ------------------------------------------------------------------------------------

    def job(self, message_id: str, *, video: bool = False) -> Job:
        """A handle on an existing job, to await or follow it (after a restart, for example).

        Handles for the same messageId share their polls. Pass ``video=True`` for a video job,
        to follow it through the video progress endpoint.
        """
        check_message_id(message_id)
        if not isinstance(video, bool):
            raise InvalidInputError(f"video must be True or False, got {short(video)}")
        return self._core.job(message_id, video=video)

    async def fetch(self, message_id: str) -> Message:
        """Fetch a job's Message once (``GET /api/v1/message/fetch/{id}``), within the poll budget.

        A video job this client follows is fetched from the video progress endpoint.

        Raises:
            NotFoundError: the server does not know the messageId.
        """
        check_message_id(message_id)
        return await self._core.fetch(message_id)

    @overload
    async def download(
        self,
        source: Message | str,
        *,
        index: int | None = None,
        max_bytes: int = ...,
        to: None = None,
    ) -> bytes: ...

    @overload
    async def download(
        self,
        source: Message | str,
        *,
        index: int | None = None,
        max_bytes: int = ...,
        to: Path | Callable[[str], Path],
    ) -> Path: ...

    async def download(
        self,
        source: Message | str,
        *,
        index: int | None = None,
        max_bytes: int = 50 * 1024 * 1024,
        to: Path | Callable[[str], Path] | None = None,
    ) -> bytes | Path:
        """Download a result image: a URL, or a finished Message's image (for a mask preview).

        Returns its bytes, or with ``to`` the path it was saved to (written atomically: the file is
        either absent or complete). Connection errors and 5xx answers are retried.

        Args:
            source: a ``Message`` (image ``index`` of its ``image_urls``: ``images`` when given,
                else ``uri``) or a URL.
            index: which image of a grid, 1 to 4 (default: the first).
            max_bytes: refuse larger files.
            to: save the image to this file instead of returning its bytes; or a function from
                the file's extension (``png``, ``jpg``, ``webp``, ``gif``, ``mp4``, from the answer's
                content type) to the file.

        Raises:
            InvalidInputError: the Message has no such image.
            ResponseValidationError: the answer is not an image, or is too large.
        """
        url = _image_url(source, index)
        return await self._core.download(url, max_bytes=max_bytes, to=to)

    async def account(self) -> AccountInfo:
        """The account's plan and credits (``GET /api/v1/subscription/account-info``)."""
        return await self._core.read(ACCOUNT_INFO)

    async def history(self, *, page: int = 1, size: int = 10) -> list[HistoryImage]:
        """The account's jobs of the last 24 hours, newest first (``GET /api/v1/nova/images``)."""
        for name, value in (("page", page), ("size", size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a whole number ≥ 1, got {short(value)}")
        answer = await self._core.read(HISTORY, query={"page": page, "size": size})
        return list(answer.images)

    # -- submissions that return at once, and webhooks -------------------------------------------

    async def enqueue(self, call: JobCall) -> Submission:
        """Accept a job now and send it when its turn in the create budget comes.

        ``call`` is a job-creating call not awaited, such as ``client.inpaint(parent, mask,
        prompt=...)``. It is checked at once, in this task (a bad argument raises here, nothing
        sent); the returned ``Submission`` has a local ``id`` to hand out, its ``position`` in
        line, and ``await submission.submitted()`` gives its ``Job`` once the server took it. A
        submission not sent yet can be cancelled (nothing sent, nothing paid); once sent, the rules
        of a direct call hold (an uncertain submission ends it with
        ``SubmissionUncertainError``). Closing the client sends no waiting submission: each ends
        with ``ClientClosedError``. The submission is sent in a copy of this task's context
        (context variables such as a trace id travel with it).

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
            ClientClosedError: the client is not open.
            TypeError: ``call`` is not a job-creating call.
        """
        if self._core.state is not ClientState.OPEN:
            steps(call)  # a TypeError for what is not a call; the call is spent either way
            self._core.open()
        return await self._core.queue.put(call)

    def submission(self, submission_id: str) -> Submission | None:
        """A submission of this client by its local id (the recent ended ones too), else None."""
        return self._core.queue.get(submission_id) if isinstance(submission_id, str) else None

    def webhook_url(self) -> str:
        """This client's webhook URL: ``webhook_base`` with its secret token (keep it private).

        Raises:
            InvalidInputError: the client was made without ``webhook_base``.
        """
        return self._core.inbox.url()


def _image_url(source: object, index: object) -> str:
    """The URL a download of ``source`` (a Message's image ``index``, or a URL) reads."""
    if isinstance(source, Message):
        urls = source.image_urls
        if not urls:
            raise InvalidInputError(
                f"job {source.message_id} has no image ({source.status.value}); await it first"
            )
        if index is not None and (
            isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= len(urls)
        ):
            raise InvalidInputError(
                f"job {source.message_id} has {len(urls)} images; index {short(index)} is out "
                "of range"
            )
        return urls[(index if isinstance(index, int) else 1) - 1]
    if isinstance(source, str) and yarl.URL(source).scheme in ("http", "https"):
        return source
    raise InvalidInputError(f"source must be a Message or an http(s) URL, got {short(source)}")
