"""``ImagineProClient``: submit jobs, get awaitable handles, follow thousands at once."""

from __future__ import annotations

import enum
import hashlib
import logging
import os
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Self

import aiohttp
import attrs

from ._client_endpoints import EndpointMethods
from ._client_midjourney import MidjourneyMethods
from ._client_reads import ReadMethods
from ._converters import make_converter, structure
from ._coordination.shared_jobs import SharedJobs, shared_jobs
from ._costs import cost_of
from ._errors import (
    ClientClosedError,
    InvalidInputError,
    ResponseValidationError,
    SubmissionUncertainError,
)
from ._inbox import Inbox, Outcome
from ._jobs import Job, JobState
from ._models import (
    Button,
    ButtonRequest,
    CreatedJob,
    Message,
)
from ._pacing.budget import Budget, BudgetView, Coordination, LocalBudget, Permit, RateLimit
from ._pacing.clock import Clock
from ._pacing.retry import RetryPolicy
from ._scheduling.scheduler import Fetcher, PollPolicy, Scheduler
from ._submissions import Submission, SubmissionQueue, accepted
from ._validation import (
    DEFAULT_BASE_URL,
    DEFAULT_JOB_TIMEOUT,
    check_api_key,
    check_base_url,
    check_choice,
    check_count,
    check_message_id,
    check_positive,
    env_time_scale,
)
from ._wire.endpoints import (
    BUTTON,
    MESSAGE,
    VIDEO_FETCH,
    Endpoint,
)
from ._wire.exchange import Exchange, Secret
from ._wire.sender import Transport

if TYPE_CHECKING:
    from collections.abc import Coroutine


__all__ = ["DEFAULT_BASE_URL", "ClientState", "ImagineProClient"]

logger = logging.getLogger("imaginepro_async")


class ClientState(enum.Enum):
    """Where a client is in its life: built, open (inside ``async with``), or closed for good."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class ImagineProClient(MidjourneyMethods, EndpointMethods, ReadMethods):
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
            Defaults to the ``IMAGINEPRO_TIME_SCALE`` environment variable, or 1.
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
        time_scale: float | None = None,
        seed: int | None = None,
        coordination: Coordination | str | None = None,
        webhook_base: str | None = None,
        webhook_token: str | None = None,
        webhook_hint_limit: RateLimit | None = None,
        account_concurrency: int | None = None,
        poll_pacing: Literal["answer", "send"] = "answer",
    ) -> None:
        self._api_key = Secret(check_api_key(api_key))
        time_scale = check_positive(
            env_time_scale() if time_scale is None else time_scale, "time_scale"
        )
        seconds = "a number of seconds"
        self._request_timeout = check_positive(
            request_timeout, "request_timeout", seconds, finite=False
        )
        self._max_retry_after = check_positive(
            max_retry_after, "max_retry_after", seconds, finite=False
        )
        if account_concurrency is not None:
            # The jobs the account runs at once: a floor under what the client observes.
            check_count(account_concurrency, "account_concurrency", 1, 10_000)
        self._account_concurrency = account_concurrency
        self._poll_pacing = check_choice(poll_pacing, "poll_pacing", ("answer", "send"))
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
        self._max_response_bytes = max_response_bytes
        self._own_coordination = isinstance(coordination, str)
        if isinstance(coordination, str):
            from ._coordination.budgets import RedisCoordination

            coordination = RedisCoordination(coordination)
        self._coordination = coordination
        self._create_budget = self._budget(
            coordination, "create", create_limit or RateLimit.imaginepro_create()
        )
        self._poll_budget = self._budget(
            coordination, "poll", poll_limit or RateLimit.imaginepro_progress()
        )
        self.poll_policy = poll_policy or PollPolicy()
        self._inbox = Inbox(
            webhook_base,
            webhook_token,
            clock=self._clock,
            hint_limit=webhook_hint_limit or RateLimit(5, 1.0),
        )
        self._queue = SubmissionQueue()
        self._transport: Transport | None = None
        self._scheduler: Scheduler | None = None
        self._shared: SharedJobs | None = None  # with RedisCoordination(share_jobs=True)
        self._state = ClientState.NEW
        self._image_sizes: dict[str, tuple[int, int]] = {}
        self._credits_spent = 0

    def _budget(self, coordination: Coordination | None, kind: str, limit: RateLimit) -> Budget:
        if coordination is None:
            return LocalBudget(limit, clock=self._clock)
        return coordination.budget(kind, limit, self._clock, key_id=self._key_id())

    def _key_id(self) -> str:
        """Names the API key in shared stores without revealing it."""
        return hashlib.sha256(self._api_key.reveal().encode()).hexdigest()[:16]

    @property
    def state(self) -> ClientState:
        """NEW until ``async with``, OPEN inside it, CLOSED after (a client is never reopened)."""
        return self._state

    @property
    def time_scale(self) -> float:
        """API seconds per real second (1 against the real service; see the constructor)."""
        return self._clock.scale

    @property
    def credits_spent(self) -> int:
        """The credits the jobs this client submitted cost: an estimate (see ``Job.cost``)."""
        return self._credits_spent

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
        # Shared jobs: the scheduler polls only while this process leads, and publishes.
        self._shared = shared_jobs(self._coordination, self._key_id(), self._clock, self._converter)
        fetcher: Fetcher = self._poll
        budget = self._poll_budget
        if self._shared is not None:
            fetcher, budget = self._shared.wrap(fetcher, budget)
        self._scheduler = Scheduler(
            fetcher=fetcher,
            budget=budget,
            rng=self._rng,
            policy=self.poll_policy,
            clock=self._clock,
            canceller=self._cancel_job,
            account_concurrency=self._account_concurrency,
        )
        self._scheduler.start()
        if self._shared is not None:
            self._shared.start(self._scheduler)
        self._queue.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop following jobs and close the session (unless it was passed in). Safe to repeat.

        Jobs go on on the server; tasks still awaiting one get ``ClientClosedError``. Submissions
        of ``enqueue`` not sent yet are not sent (their handles end with ``ClientClosedError``);
        those on the wire are answered first.
        """
        if self._state is ClientState.CLOSED:
            return
        try:
            # Still open meanwhile: a submission on the wire gets its answer and its messageId.
            await self._queue.aclose()
        finally:
            self._state = ClientState.CLOSED
            await self._close_rest()

    async def _close_rest(self) -> None:
        try:
            if self._shared is not None:
                await self._shared.aclose()
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

    def job(self, message_id: str, *, video: bool = False) -> Job:
        """A handle on an existing job, to await or follow it (after a restart, for example).

        Handles for the same messageId share their polls. Pass ``video=True`` for a video job,
        to follow it through the video progress endpoint.
        """
        check_message_id(message_id)
        _, scheduler = self._open()
        fetch = VIDEO_FETCH if video else None
        return self._handle(scheduler.track(message_id, submitted=False, fetch=fetch))

    def _handle(self, state: JobState) -> Job:
        assert self._scheduler is not None
        if self._shared is not None:
            self._shared.follow(state, self._scheduler.route(state.message_id))
        return Job(state, self._scheduler)

    async def _hint(self, message_id: str) -> None:
        """Look at a job soon (a webhook said it changed); with shared jobs, through the leader."""
        check_message_id(message_id)
        _, scheduler = self._open()
        if self._shared is not None:
            await self._shared.hint(message_id)
        else:
            scheduler.poke(message_id)

    def _structure(self, data: object, endpoint: Endpoint, **params: str) -> Any:
        """An answer of ``endpoint`` as its answer model (``ResponseValidationError`` if it is not)."""
        url = self._open()[0].url(endpoint.path_for(**params))
        return structure(
            self._converter, data, endpoint.answer, method=endpoint.method, url=str(url)
        )

    async def _poll(self, message_id: str, permit: Permit, route: Endpoint | None) -> Message:
        """One poll of a job for the scheduler, with a permit it already holds."""
        transport, _ = self._open()
        endpoint = route or MESSAGE
        data = await transport.poll(endpoint, permit, message_id=message_id)
        message: Message = self._structure(data, endpoint, message_id=message_id)
        if message.message_id != message_id:
            raise ResponseValidationError(
                f"asked for job {message_id} but the answer is about {message.message_id}",
                body=str(data)[:500],
                method="GET",
                url=str(transport.url(endpoint.path_for(message_id=message_id))),
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

    async def _submit(self, endpoint: Endpoint, request: Any) -> Job:
        transport, scheduler = self._open()
        if getattr(request, "webhook_override", 0) is None and self._inbox.base is not None:
            request = attrs.evolve(request, webhook_override=self._inbox.url())
        accepted()  # checked: a queued submission (``enqueue``) now waits for its turn
        body: Mapping[str, Any] = self._converter.unstructure(request)
        kind = request.button if isinstance(request, ButtonRequest) else endpoint.name
        server_timeout = getattr(request, "timeout", None) or DEFAULT_JOB_TIMEOUT  # API seconds

        async def send() -> Job:
            data = await transport.create(endpoint, body)
            return self._track_created(data, endpoint, request, kind, server_timeout)

        return await scheduler.admit(send, timeout=server_timeout, kind=kind)

    def _track_created(
        self, data: object, endpoint: Endpoint, request: Any, kind: str, server_timeout: float
    ) -> Job:
        # Not through self._open(): a submission on the wire when the client closes must still get
        # its messageId (it may be paid for).
        transport, scheduler = self._transport, self._scheduler
        assert transport is not None
        assert scheduler is not None
        body: Mapping[str, Any] = self._converter.unstructure(request)
        try:
            url = str(transport.url(endpoint.path_for()))
            created: CreatedJob = structure(
                self._converter, data, endpoint.answer, method="POST", url=url
            )
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
            fetch=endpoint.fetch,
            webhook=self._inbox.owns(getattr(request, "webhook_override", None)),
            kind=kind,
        )
        self._inbox.remember(getattr(request, "ref", None), created.message_id)
        if state.cost is None:
            state.cost = cost_of(endpoint.name, button=getattr(request, "button", None))
            self._credits_spent += state.cost
        return self._handle(state)

    # -- submissions that return at once, and webhooks -------------------------------------------

    async def enqueue(self, request: Coroutine[Any, Any, Job]) -> Submission:
        """Accept a job now and send it when its turn in the create budget comes.

        ``request`` is a submission call not awaited, such as ``client.inpaint(parent, mask,
        prompt=...)``. It is checked at once (a bad argument raises here, nothing sent); the
        returned ``Submission`` has a local ``id`` to hand out, its ``position`` in line, and
        ``await submission.submitted()`` gives its ``Job`` once the server took it. A submission
        not sent yet can be cancelled (nothing sent, nothing paid); once sent, the rules of a direct
        call hold (an uncertain submission ends it with ``SubmissionUncertainError``). Closing the
        client sends no waiting submission: each ends with ``ClientClosedError``.

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
            ClientClosedError: the client is not open.
        """
        if self._state is not ClientState.OPEN:
            request.close()
            self._open()
        return await self._queue.put(request)

    def submission(self, submission_id: str) -> Submission | None:
        """A submission of this client by its local id (the recent ended ones too), else None."""
        return self._queue.get(submission_id) if isinstance(submission_id, str) else None

    def webhook_url(self) -> str:
        """This client's webhook URL: ``webhook_base`` with its secret token (keep it private).

        Raises:
            InvalidInputError: the client was made without ``webhook_base``.
        """
        return self._inbox.url()

    async def _deliver(self, message: Message) -> Outcome:
        """A webhook delivery (authenticated by the receiver): a hint for the scheduler.

        With shared jobs, a process that does not lead passes the hint on to the leader.
        """
        _, scheduler = self._open()
        outcome = self._inbox.deliver(message, scheduler)
        shared = self._shared
        if outcome is Outcome.FETCHED and shared is not None and not shared.leading:
            await shared.hint(message.message_id)
        return outcome

    async def _cancel_job(self, message_id: str) -> None:
        """Press Cancel Job (the scheduler's canceller: ``job.cancel()`` goes through it)."""
        transport, _ = self._open()
        request = ButtonRequest(message_id=message_id, button=Button.CANCEL_JOB)
        body: Mapping[str, Any] = self._converter.unstructure(request)
        await transport.create(BUTTON, body)
