"""``ImagineProClient``: submit jobs, get awaitable handles, follow thousands at once."""

from __future__ import annotations

import enum
import hashlib
import logging
import math
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, overload

import aiohttp
import yarl

from ._budget import Budget, BudgetView, Coordination, LocalBudget, Permit, RateLimit
from ._clock import Clock
from ._converters import make_converter, structure
from ._endpoints import ACCOUNT_INFO, BUTTON, HISTORY, IMAGINE, MESSAGE, PROMPT_CHECK, Endpoint
from ._errors import (
    ClientClosedError,
    ImagineProError,
    InvalidInputError,
    ResponseValidationError,
    SubmissionUncertainError,
)
from ._http import Exchange, Secret
from ._jobs import Job, JobState
from ._models import (
    AccountInfo,
    Button,
    ButtonRequest,
    CreatedJob,
    HistoryImage,
    HistoryPage,
    ImagineRequest,
    Message,
    PromptCheck,
    PromptCheckRequest,
)
from ._retry import RetryPolicy
from ._scheduler import PollPolicy, Scheduler
from ._transport import Transport
from ._validation import (
    DEFAULT_BASE_URL,
    DEFAULT_JOB_TIMEOUT,
    check_base_url,
    check_message_id,
    check_options,
    check_prompt,
    short,
)

if TYPE_CHECKING:
    from ._masks import MaskInput

__all__ = ["DEFAULT_BASE_URL", "ClientState", "ImagineProClient"]

logger = logging.getLogger("imaginepro_async")

_UPSCALES = (Button.U1, Button.U2, Button.U3, Button.U4)
_VARIATIONS = (Button.V1, Button.V2, Button.V3, Button.V4)


class ClientState(enum.Enum):
    """Where a client is in its life: built, open (inside ``async with``), or closed for good."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class ImagineProClient:
    """An asyncio client for ImaginePro: submit jobs, then await their handles.

    Use it as ``async with ImagineProClient(...) as client:``; leaving the block stops its background
    work and closes the HTTP session (a session passed in is left open). One client shares one
    request budget and one poller among all its jobs, so thousands of jobs can run at once without
    tripping the API's rate limits.

    Args:
        api_key: the ``sk-...`` key; defaults to the ``IMAGINEPRO_API_KEY`` environment variable.
        base_url: defaults to ``IMAGINEPRO_BASE_URL`` or ``https://api.imaginepro.ai``. Plain http
            is refused except on loopback (the simulator).
        session: an ``aiohttp.ClientSession`` to use; the client does not close it.
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
        seed: seeds the jitter of retries, for reproducible runs.
        account_concurrency: how many jobs your account runs at once, if you know it (a floor
            under what the client observes). Submissions wait while the jobs ahead of a new one
            would keep it queued past its server-side timeout (``submission_hold`` says why).
        poll_pacing: ``"answer"`` (default): a poll's budget permit comes back one window after
            its answer, which provably never trips the progress limit but pays each round trip
            (about 7 polls/s of 10 at a 0.3 s round trip). ``"send"``: one window after it was
            sent: polls at the limit whatever the round trip, at the price of a rare 429 when
            requests reach the server at uneven delays (each honoured: the budget pauses).
    """

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
        time_scale: float = 1.0,
        seed: int | None = None,
        coordination: Coordination | str | None = None,
        account_concurrency: int | None = None,
        poll_pacing: Literal["answer", "send"] = "answer",
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("IMAGINEPRO_API_KEY")
        if not key or not isinstance(key, str) or not key.strip():
            raise InvalidInputError(
                "no API key: pass api_key='sk-...' or set the IMAGINEPRO_API_KEY environment "
                "variable"
            )
        if any(ch.isspace() for ch in key.strip()) or not key.isprintable():
            raise InvalidInputError("the API key contains spaces or control characters; recopy it")
        if isinstance(time_scale, bool) or not (
            isinstance(time_scale, int | float) and math.isfinite(time_scale) and time_scale > 0
        ):
            raise InvalidInputError(f"time_scale must be a number > 0, got {short(time_scale)}")
        for name, value in (
            ("request_timeout", request_timeout),
            ("max_retry_after", max_retry_after),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InvalidInputError(
                    f"{name} must be a number of seconds > 0, got {short(value)}"
                )
        if account_concurrency is not None and (
            isinstance(account_concurrency, bool)
            or not isinstance(account_concurrency, int)
            or account_concurrency < 1
        ):
            raise InvalidInputError(
                "account_concurrency must be a whole number ≥ 1 (the jobs your account runs at "
                f"once), got {short(account_concurrency)}"
            )
        self._account_concurrency = account_concurrency
        if poll_pacing not in ("answer", "send"):
            raise InvalidInputError(
                f'poll_pacing must be "answer" or "send", got {short(poll_pacing)}'
            )
        self._poll_pacing = poll_pacing
        self._api_key = Secret(key.strip())
        self.base_url = check_base_url(
            base_url or os.environ.get("IMAGINEPRO_BASE_URL") or DEFAULT_BASE_URL
        )
        self._clock = Clock(time_scale)
        self._own_session = session is None
        self._session = session
        self._create_session: aiohttp.ClientSession | None = None
        self._converter = make_converter()
        self._rng = random.Random(seed)
        self._retry = retry or RetryPolicy()
        self._request_timeout = request_timeout
        self._max_response_bytes = max_response_bytes
        self._max_retry_after = float(max_retry_after)
        self._own_coordination = isinstance(coordination, str)
        if isinstance(coordination, str):
            from ._redis import RedisCoordination

            coordination = RedisCoordination(coordination)
        self._coordination = coordination
        self._create_budget = self._budget(
            coordination, "create", create_limit or RateLimit.imaginepro_create()
        )
        self._poll_budget = self._budget(
            coordination, "poll", poll_limit or RateLimit.imaginepro_progress()
        )
        self.poll_policy = poll_policy or PollPolicy()
        self._transport: Transport | None = None
        self._scheduler: Scheduler | None = None
        self._state = ClientState.NEW
        self._image_sizes: dict[str, tuple[int, int]] = {}

    def _budget(self, coordination: Coordination | None, kind: str, limit: RateLimit) -> Budget:
        if coordination is None:
            return LocalBudget(limit, clock=self._clock)
        key_id = hashlib.sha256(self._api_key.reveal().encode()).hexdigest()[:16]
        return coordination.budget(kind, limit, self._clock, key_id=key_id)

    @property
    def state(self) -> ClientState:
        """NEW until ``async with``, OPEN inside it, CLOSED after (a client is never reopened)."""
        return self._state

    @property
    def time_scale(self) -> float:
        """API seconds per real second (1 against the real service; see the constructor)."""
        return self._clock.scale

    @property
    def create_budget(self) -> BudgetView:
        """The budget of job-creating and other general requests (read-only)."""
        return self._create_budget

    @property
    def poll_budget(self) -> BudgetView:
        """The budget of progress requests (read-only)."""
        return self._poll_budget

    @property
    def submission_hold(self) -> str | None:
        """Why new submissions wait right now (None: they do not).

        A submission waits while the jobs already on the account would keep a new one queued
        past its server-side timeout (the server would charge it and time it out).
        """
        return None if self._scheduler is None else self._scheduler.hold_reason

    def __repr__(self) -> str:
        return f"<ImagineProClient {str(self.base_url).rstrip('/')} {self._state.value}>"

    # -- life cycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._state is not ClientState.NEW:
            raise ClientClosedError(
                "this client was already opened once; create a new ImagineProClient"
            )
        self._state = ClientState.OPEN
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=64)
            )
            self._create_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True, limit=4)
            )
        exchange = Exchange(
            session=self._session,
            create_session=self._create_session,
            base_url=self.base_url,
            api_key=self._api_key,
            timeout=self._request_timeout,
            max_response_bytes=self._max_response_bytes,
        )
        self._transport = Transport(
            exchange=exchange,
            budgets={"create": self._create_budget, "poll": self._poll_budget},
            clock=self._clock,
            retry=self._retry,
            rng=self._rng,
            max_retry_after=self._max_retry_after,
            converter=self._converter,
            poll_pacing=self._poll_pacing,
        )
        self._scheduler = Scheduler(
            fetcher=self._poll,
            budget=self._poll_budget,
            rng=self._rng,
            policy=self.poll_policy,
            clock=self._clock,
            canceller=self._cancel_job,
            account_concurrency=self._account_concurrency,
        )
        self._scheduler.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop following jobs and close the session (unless it was passed in). Safe to repeat.

        Jobs go on on the server; tasks still awaiting one get ``ClientClosedError``.
        """
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        try:
            if self._scheduler is not None:
                await self._scheduler.aclose()
        finally:
            if self._own_session and self._session is not None:
                await self._session.close()
            if self._create_session is not None:
                await self._create_session.close()
            if self._own_coordination and self._coordination is not None:
                await self._coordination.aclose()

    def _open(self) -> tuple[Transport, Scheduler]:
        if (
            self._state is not ClientState.OPEN
            or self._transport is None
            or self._scheduler is None
        ):
            if self._state is ClientState.CLOSED:
                raise ClientClosedError("the client is closed; open a new ImagineProClient")
            raise ClientClosedError(
                "the client is not open: use `async with ImagineProClient(...) as client:`"
            )
        return self._transport, self._scheduler

    # -- jobs ------------------------------------------------------------------------------------

    def job(self, message_id: str) -> Job:
        """A handle on an existing job, to await or follow it (after a restart, for example).

        Handles for the same messageId share their polls.
        """
        check_message_id(message_id)
        _, scheduler = self._open()
        return self._handle(scheduler.track(message_id, submitted=False))

    def _handle(self, state: JobState) -> Job:
        assert self._scheduler is not None
        return Job(state, self._scheduler)

    def _structure(self, data: object, endpoint: Endpoint, **params: str) -> Any:
        """An answer of ``endpoint`` as its answer model (``ResponseValidationError`` if it is not)."""
        url = self._open()[0].url(endpoint.path_for(**params))
        return structure(
            self._converter, data, endpoint.answer, method=endpoint.method, url=str(url)
        )

    async def _poll(self, message_id: str, permit: Permit) -> Message:
        """One poll of a job for the scheduler, with a permit it already holds."""
        transport, _ = self._open()
        data = await transport.poll(MESSAGE, permit, message_id=message_id)
        message: Message = self._structure(data, MESSAGE, message_id=message_id)
        if message.message_id != message_id:
            raise ResponseValidationError(
                f"asked for job {message_id} but the answer is about {message.message_id}",
                body=str(data)[:500],
                method="GET",
                url=str(transport.url(MESSAGE.path_for(message_id=message_id))),
            )
        return message

    async def _read(
        self, endpoint: Endpoint, *, body: Any = None, query: Any = None, **params: str
    ) -> Any:
        """A read of ``endpoint``, structured into its answer model."""
        transport, _ = self._open()
        payload = None if body is None else self._converter.unstructure(body)
        data = await transport.read(endpoint, body=payload, query=query, **params)
        return self._structure(data, endpoint, **params)

    async def _submit(self, endpoint: Endpoint, request: ImagineRequest | ButtonRequest) -> Job:
        transport, scheduler = self._open()
        body: Mapping[str, Any] = self._converter.unstructure(request)
        kind = request.button if isinstance(request, ButtonRequest) else endpoint.name
        server_timeout = request.timeout or DEFAULT_JOB_TIMEOUT  # API seconds

        async def send() -> Job:
            data = await transport.create(endpoint, body)
            return self._track_created(data, endpoint, body, kind, server_timeout)

        return await scheduler.admit(send, timeout=server_timeout, kind=kind)

    def _track_created(
        self,
        data: object,
        endpoint: Endpoint,
        body: Mapping[str, Any],
        kind: str,
        server_timeout: float,
    ) -> Job:
        transport, scheduler = self._open()
        try:
            created: CreatedJob = self._structure(data, endpoint)
            check_message_id(created.message_id, "the messageId in the server's answer")
        except (ResponseValidationError, InvalidInputError) as exc:
            # A 2xx answer we cannot use: the job may well exist, so this is not a refusal.
            raise SubmissionUncertainError(
                f"the server accepted it but its answer has no usable messageId ({exc})",
                method="POST",
                url=str(transport.url(endpoint.path_for())),
                payload=body,
            ) from exc
        logger.info("submitted job %s", created.message_id)
        created_at = created.created_at.timestamp() if created.created_at else None
        state = scheduler.track(
            created.message_id,
            submitted=True,
            created_at=created_at,
            timeout=server_timeout,
            kind=kind,
        )
        return self._handle(state)

    async def imagine(
        self,
        prompt: str,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
        disable_cdn: bool | None = None,
    ) -> Job:
        """Start an image job from a prompt (``POST /api/v1/nova/imagine``); costs credits.

        Returns as soon as the server accepted the job (after waiting for the submission budget).

        Args:
            prompt: what to draw; for image-to-image, start it with an image URL.
            ref: your reference, echoed in the Message and the webhook.
            webhook_override: where ImaginePro posts the result instead of the account's default.
            timeout: server-side job timeout, 10 to 900 seconds.
            disable_cdn: skip the CDN upload (``uri`` may then be absent).

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
            SubmissionUncertainError: the request may have been processed but no answer came.
            APIStatusError: the server refused the job.
        """
        prompt = check_prompt(prompt, required=True) or ""
        check_options(
            ref=ref, webhook_override=webhook_override, timeout=timeout, disable_cdn=disable_cdn
        )
        self._open()
        request = ImagineRequest(
            prompt=prompt,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
            disable_cdn=disable_cdn,
        )
        return await self._submit(IMAGINE, request)

    async def press(
        self,
        parent: Message | str,
        button: Button | str,
        *,
        prompt: str | None = None,
        mask: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
        disable_cdn: bool | None = None,
    ) -> Job:
        """Press a button on a finished job (``POST /api/v1/nova/button``); costs credits.

        Args:
            parent: the finished job, as a ``Message`` or its messageId. With a ``Message``, the button
                is checked against the ones it offers before anything is sent.
            button: a ``Button`` or its exact string (case and emoji included).
            prompt: an optional prompt for the button (for ``Vary (Region)``, what to draw).
            mask: base64 of the mask (prefer ``inpaint``, which builds and checks it).
            ref, webhook_override, timeout, disable_cdn: as for ``imagine``.

        Raises:
            InvalidInputError: a bad argument, or a button the parent does not offer.
        """
        parent_id = self._check_parent(parent, button)
        check_prompt(prompt, required=False)
        check_options(
            ref=ref, webhook_override=webhook_override, timeout=timeout, disable_cdn=disable_cdn
        )
        if mask is not None and not isinstance(mask, str):
            raise InvalidInputError("mask must be base64 text here; use client.inpaint for images")
        if button == Button.VARY_REGION and mask is None:
            raise InvalidInputError(
                "Vary (Region) needs a mask: use client.inpaint(parent, mask, prompt=...)"
            )
        self._open()
        request = ButtonRequest(
            message_id=parent_id,
            button=str(button),
            mask=mask,
            prompt=prompt,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
            disable_cdn=disable_cdn,
        )
        return await self._submit(BUTTON, request)

    def _check_parent(self, parent: Message | str, button: Button | str) -> str:
        if not isinstance(button, str) or not button:
            raise InvalidInputError(f"button must be a Button or its string, got {short(button)}")
        if isinstance(parent, Message):
            parent_id = check_message_id(parent.message_id, "parent.message_id")
            if not parent.is_terminal:
                raise InvalidInputError(
                    f"job {parent_id} is {parent.status.value}; buttons can be pressed only on a "
                    "finished job: await it first"
                )
            if button not in parent.buttons:
                offered = ", ".join(parent.buttons) or "none"
                raise InvalidInputError(
                    f"job {parent_id} does not offer the button {str(button)!r} (it offers: "
                    f"{offered})"
                )
            return parent_id
        return check_message_id(parent, "parent")

    async def upscale(
        self,
        parent: Message | str,
        index: int,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
    ) -> Job:
        """Upscale image ``index`` (1 to 4) of a grid: presses ``U1``..``U4``."""
        button = self._pick(_UPSCALES, index, "upscale")
        return await self.press(
            parent, button, ref=ref, webhook_override=webhook_override, timeout=timeout
        )

    async def vary(
        self,
        parent: Message | str,
        index: int,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
    ) -> Job:
        """Make variations of image ``index`` (1 to 4) of a grid: presses ``V1``..``V4``."""
        button = self._pick(_VARIATIONS, index, "vary")
        return await self.press(
            parent, button, ref=ref, webhook_override=webhook_override, timeout=timeout
        )

    @staticmethod
    def _pick(buttons: tuple[Button, ...], index: object, what: str) -> Button:
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 4:
            raise InvalidInputError(
                f"{what} index must be 1, 2, 3 or 4 (the image's place in the grid), got "
                f"{short(index)}"
            )
        return buttons[index - 1]

    async def inpaint(
        self,
        parent: Message | str,
        mask: MaskInput,
        *,
        prompt: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
        check_size: bool = True,
        resize_mask: bool = False,
    ) -> Job:
        """Redraw the region of an upscaled image that ``mask`` selects (``Vary (Region)``).

        Args:
            parent: the upscaled job (after ``U1``..``U4``), as a ``Message`` or its messageId.
            mask: a ``Mask``, image bytes (PNG, WebP, JPEG), base64 text (a ``data:`` prefix is
                stripped), or a path to an image file. White selects what is redrawn.
            prompt: what to draw in the region.
            ref, webhook_override, timeout: as for ``imagine``.
            check_size: when ``parent`` is a ``Message`` with an image, read that image's size (the
                first bytes of ``parent.uri``, once per image) and refuse a mask of another size.
                If the image cannot be read, the check is skipped (the server checks too).
            resize_mask: resize a mask of another size to the image's (nearest neighbour) instead
                of refusing it.

        Raises:
            InvalidMaskError: the mask is not a usable black-and-white image, or its size is not the
                image's (nothing was sent).
            InvalidInputError: another bad argument, or the parent does not offer ``Vary (Region)``.
        """
        from ._masks import load_mask

        self._check_parent(parent, Button.VARY_REGION)
        check_prompt(prompt, required=False)
        check_options(ref=ref, webhook_override=webhook_override, timeout=timeout, disable_cdn=None)
        self._open()
        loaded = await load_mask(mask)  # refused here, before any traffic, if it is no mask at all
        if check_size and isinstance(parent, Message):
            expected = await self._image_size(parent)
            if expected is not None and expected != loaded.size:
                loaded = await load_mask(loaded, expected_size=expected, resize=resize_mask)
        return await self.press(
            parent,
            Button.VARY_REGION,
            mask=loaded.to_base64(),
            prompt=prompt,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
        )

    async def _image_size(self, message: Message) -> tuple[int, int] | None:
        """The size of a finished job's image, from the first bytes of the file; None if unknown."""
        from ._imageinfo import sniff_image

        if not message.image_urls:
            return None
        url = message.image_urls[0]
        if url in self._image_sizes:
            return self._image_sizes[url]
        transport, _ = self._open()
        try:
            head = await transport.download(url, max_bytes=256 * 1024, prefix_only=True)
            size = sniff_image(head, name="the parent's image").size
        except ImagineProError as exc:
            logger.warning("could not read the size of %s (%s); mask size not checked", url, exc)
            return None
        if len(self._image_sizes) >= 1024:
            self._image_sizes.clear()
        self._image_sizes[url] = size
        return size

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
        to: Path,
    ) -> Path: ...
    async def download(
        self,
        source: Message | str,
        *,
        index: int | None = None,
        max_bytes: int = 50 * 1024 * 1024,
        to: Path | None = None,
    ) -> bytes | Path:
        """Download a result image: a URL, or a finished Message's image (for a mask preview).

        Returns its bytes, or with ``to`` the path it was saved to (written atomically: the file is
        either absent or complete). Connection errors and 5xx answers are retried.

        Args:
            source: a ``Message`` (image ``index`` of its ``image_urls``: ``images`` when given,
                else ``uri``) or a URL.
            index: which image of a grid, 1 to 4 (default: the first).
            max_bytes: refuse larger files.
            to: save the image to this file instead of returning its bytes.

        Raises:
            InvalidInputError: the Message has no such image.
            ResponseValidationError: the answer is not an image, or is too large.
        """
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
            url = urls[(index or 1) - 1]
        elif isinstance(source, str) and yarl.URL(source).scheme in ("http", "https"):
            url = source
        else:
            raise InvalidInputError(
                f"source must be a Message or an http(s) URL, got {short(source)}"
            )
        transport, _ = self._open()
        return await transport.download(url, max_bytes=max_bytes, to=to)

    async def _cancel_job(self, message_id: str) -> None:
        """Press Cancel Job (the scheduler's canceller: ``job.cancel()`` goes through it)."""
        transport, _ = self._open()
        request = ButtonRequest(message_id=message_id, button=Button.CANCEL_JOB)
        body: Mapping[str, Any] = self._converter.unstructure(request)
        await transport.create(BUTTON, body)

    # -- reads -----------------------------------------------------------------------------------

    async def fetch(self, message_id: str) -> Message:
        """Fetch a job's Message once (``GET /api/v1/message/fetch/{id}``), within the poll budget.

        Raises:
            NotFoundError: the server does not know the messageId.
        """
        check_message_id(message_id)
        _, scheduler = self._open()
        sent = self._clock.now()
        message: Message = await self._read(MESSAGE, message_id=message_id)
        if message.message_id == message_id:
            scheduler.observe(message, sent=sent)
        return message

    async def account(self) -> AccountInfo:
        """The account's plan and credits (``GET /api/v1/subscription/account-info``)."""
        info: AccountInfo = await self._read(ACCOUNT_INFO)
        return info

    async def history(self, *, page: int = 1, size: int = 10) -> list[HistoryImage]:
        """The account's jobs of the last 24 hours, newest first (``GET /api/v1/nova/images``)."""
        for name, value in (("page", page), ("size", size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a whole number ≥ 1, got {short(value)}")
        answer: HistoryPage = await self._read(HISTORY, query={"page": page, "size": size})
        return list(answer.images)

    async def check_prompt(self, prompt: str) -> PromptCheck:
        """Ask the server whether a prompt would be accepted (``POST /api/v1/nova/prompt-check``)."""
        checked = check_prompt(prompt, required=True) or ""
        verdict: PromptCheck = await self._read(
            PROMPT_CHECK, body=PromptCheckRequest(prompt=checked)
        )
        return verdict
