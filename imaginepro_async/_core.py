"""``ClientCore``: what every method of the client and its resources goes through.

It owns the client's working parts (the HTTP sessions, the sender, the scheduler, the shared-jobs
task, the submission queue, the webhook inbox) and their life cycle, and offers the few paths every
public method is built on: ``submit`` (a prepared job-creating request, by its row of the wire
table), ``read`` (a request that creates nothing, structured into its row's answer model), ``job``
(a handle on a followed job) and ``download``. The client and its resources (``client.flux``, ...)
are thin, validated methods over it; ``Job`` handles reach it through the ``JobHost`` protocol.

A messageId walks downwards from here: ``submit`` → ``Sender`` (``_wire``) → the answer structured
→ ``Scheduler.track`` (``_scheduling``) → a ``JobState`` → a ``Job`` handle.

Over 500 lines: it is the one owner of the client's working parts and their whole life cycle
(opening, breaking when a background task fails, closing); split, the life cycle would be in two
places.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import aiohttp
import attrs
import cattrs
import yarl

from ._calls import JobCall, Prepare, Prepared, SubmitOptions
from ._converters import make_converter, structure
from ._costs import cost_of
from ._errors import (
    BadRequestError,
    ClientClosedError,
    ImagineProError,
    InvalidInputError,
    ResponseValidationError,
    SubmissionUncertainError,
)
from ._events.hooks import Emitter
from ._events.submission import reported
from ._inbox import Inbox, Outcome
from ._jobs import Job
from ._masks.imageinfo import sniff_image
from ._models import Button, ButtonRequest, CreatedJob, Message
from ._pacing.budget import Budget, Coordination, LocalBudget, Permit, RateLimit
from ._pacing.clock import Clock
from ._pacing.retry import RetryPolicy
from ._scheduling.job_state import JobState
from ._scheduling.policy import PollPolicy
from ._scheduling.scheduler import Fetcher, Held, Scheduler
from ._submissions import SubmissionQueue
from ._validation import DEFAULT_JOB_TIMEOUT, check_message_id
from ._wire.endpoints import BUTTON, MESSAGE, VIDEO_FETCH, Endpoint
from ._wire.exchange import Exchange, Secret
from ._wire.sender import Sender

if TYPE_CHECKING:
    from ._coordination.shared_jobs import SharedJobs

__all__ = ["ClientCore", "ClientState"]

logger = logging.getLogger("imaginepro_async")

RequestT = TypeVar("RequestT")
AnswerT = TypeVar("AnswerT")


class ClientState(enum.Enum):
    """Where a client is in its life: built, open (inside ``async with``), broken, or closed.

    ``BROKEN``: one of its background tasks (the poller, or the shared-jobs task) stopped on an
    unexpected error. Every job it followed then failed with ``ClientClosedError`` naming the
    cause, and every call raises it too; close the client and open a new one (``client.job``
    follows a job again). An outage of Redis does not break a client: it is waited out.
    """

    NEW = "new"
    OPEN = "open"
    BROKEN = "broken"
    CLOSED = "closed"


def _describe(exc: BaseException) -> str:
    """An exception in a few words (for a group: its first error, and how many there were)."""
    more = 0
    while isinstance(exc, BaseExceptionGroup):
        more += len(exc.exceptions) - 1
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" + (f", and {more} more" if more else "")


@attrs.frozen(kw_only=True)
class Settings:
    """The client's checked options, as the core uses them (times in real seconds)."""

    api_key: Secret
    base_url: yarl.URL
    clock: Clock
    retry: RetryPolicy
    rng: random.Random
    request_timeout: float
    max_response_bytes: int
    max_retry_after: float
    poll_policy: PollPolicy
    poll_pacing: Literal["answer", "send"]
    account_concurrency: int | None
    events: Emitter = attrs.field(factory=Emitter)


def _create_session(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """The session job-creating requests go over: a fresh connection each, like ``session``.

    Also with a session passed in: a pooled connection the server has just closed would lose a
    create in a way we could not tell from a lost answer (``SubmissionUncertainError``). aiohttp
    cannot ask a session for a fresh connection, so this is a session of our own (closed by us)
    that takes what of ``session`` a request can depend on: its trace configs (observability
    hooks), default headers, ``trust_env`` and its connector's TLS setting.
    """
    connector = session.connector
    ssl = getattr(connector, "_ssl", True) if isinstance(connector, aiohttp.TCPConnector) else True
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True, limit=4, ssl=ssl),
        headers=session.headers,
        trust_env=session.trust_env,
        # Private, but stable since aiohttp 3.0 and the only way to keep the user's hooks.
        trace_configs=list(getattr(session, "_trace_configs", ())),
    )


class ClientCore:
    """The working parts of one client and the paths its methods go through (see the module)."""

    def __init__(
        self,
        settings: Settings,
        *,
        session: aiohttp.ClientSession | None,
        coordination: Coordination | str | None,
        create_limit: RateLimit,
        poll_limit: RateLimit,
        inbox: Inbox,
    ) -> None:
        self.settings = settings
        self.clock = settings.clock
        self.converter: cattrs.Converter = make_converter()
        self._own_session = session is None
        self._session = session
        self._create_session: aiohttp.ClientSession | None = None
        self._own_coordination = isinstance(coordination, str)
        if isinstance(coordination, str):
            from ._coordination.budgets import RedisCoordination

            coordination = RedisCoordination(coordination)
        self._coordination = coordination
        self.create_budget = self._budget(coordination, "create", create_limit)
        self.poll_budget = self._budget(coordination, "poll", poll_limit)
        self.inbox = inbox
        self.queue = SubmissionQueue()
        self.state = ClientState.NEW
        self.credits_spent = 0
        self._sender: Sender | None = None
        self._scheduler: Scheduler | None = None
        self._shared: SharedJobs | None = None  # with RedisCoordination(share_jobs=True)
        self._image_sizes: dict[str, tuple[int, int]] = {}
        self._broken: str | None = None  # why the client broke (see ClientState.BROKEN)

    def _budget(self, coordination: Coordination | None, kind: str, limit: RateLimit) -> Budget:
        if coordination is None:
            return LocalBudget(limit, clock=self.clock, name=f"{kind} budget")
        return coordination.budget(kind, limit, self.clock, key_id=self.key_id())

    def key_id(self) -> str:
        """Names the API key in shared stores without revealing it."""
        return hashlib.sha256(self.settings.api_key.reveal().encode()).hexdigest()[:16]

    @property
    def hold_reason(self) -> str | None:
        """Why new submissions wait right now (None: they do not)."""
        return None if self._scheduler is None else self._scheduler.hold_reason

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the sessions, start the scheduler, the shared-jobs task and the queue."""
        if self.state is not ClientState.NEW:
            raise ClientClosedError(
                "this client was already opened once; create a new ImagineProClient"
            )
        self.state = ClientState.OPEN
        try:
            self._start()
        except BaseException:
            # Nothing half-open is left behind: sessions closed, tasks stopped, state CLOSED.
            await self.aclose()
            raise

    def _start(self) -> None:
        settings = self.settings
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=64)
            )
        self._create_session = _create_session(self._session)
        exchange = Exchange(
            session=self._session,
            create_session=self._create_session,
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout=settings.request_timeout,
            max_response_bytes=settings.max_response_bytes,
            also_secret=(self.inbox.token,),
        )
        self._sender = Sender(
            exchange=exchange,
            budgets={"create": self.create_budget, "poll": self.poll_budget},
            clock=self.clock,
            retry=settings.retry,
            rng=settings.rng,
            max_retry_after=settings.max_retry_after,
            converter=self.converter,
            poll_pacing=settings.poll_pacing,
            events=settings.events,
        )
        # Shared jobs: the scheduler polls only while this process leads, and publishes.
        self._shared = None
        if self._coordination is not None:
            from ._coordination.shared_jobs import shared_jobs

            self._shared = shared_jobs(
                self._coordination, self.key_id(), self.clock, self.converter
            )
        fetcher: Fetcher = self._poll
        budget = self.poll_budget
        if self._shared is not None:
            fetcher, budget = self._shared.wrap(fetcher, budget)
        self._scheduler = Scheduler(
            fetcher=fetcher,
            budget=budget,
            rng=settings.rng,
            policy=settings.poll_policy,
            clock=self.clock,
            account_concurrency=settings.account_concurrency,
            events=settings.events,
            on_failure=lambda exc: self._break("poller", exc),
        )
        self._scheduler.start()
        if self._shared is not None:
            self._shared.start(self._scheduler, lambda exc: self._break("shared-jobs task", exc))
        self.queue.start()

    async def aclose(self) -> None:
        """Stop following jobs and close what the client owns. Safe to repeat."""
        if self.state is ClientState.CLOSED:
            return
        try:
            # Still open meanwhile: a submission on the wire gets its answer and its messageId.
            await self.queue.aclose()
        finally:
            self.state = ClientState.CLOSED
            await self._close_rest()

    def _break(self, task: str, exc: Exception) -> None:
        """A background task stopped on an unexpected error: fail every waiter at once with the
        cause, stop the other tasks, and say so in ``state`` and at every next call."""
        if self.state is not ClientState.OPEN:
            return
        self.state = ClientState.BROKEN
        self._broken = (
            f"the client stopped working: its {task} failed ({_describe(exc)}); please report "
            "it. Close this client and open a new ImagineProClient (client.job(message_id) "
            "follows a job again)"
        )
        logger.error("%s", self._broken)
        if self._shared is not None:
            self._shared.stop()
        if self._scheduler is not None:
            self._scheduler.fail(lambda _: self._broken_error(exc))

    def _broken_error(self, cause: BaseException | None = None) -> ClientClosedError:
        error = ClientClosedError(self._broken or "the client stopped working")
        error.__cause__ = cause
        return error

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

    def open(self) -> tuple[Sender, Scheduler]:
        """The sender and the scheduler of an open client (else ``ClientClosedError``)."""
        if self.state is not ClientState.OPEN or self._sender is None or self._scheduler is None:
            if self.state is ClientState.BROKEN:
                raise self._broken_error()
            if self.state is ClientState.CLOSED:
                raise ClientClosedError("the client is closed; open a new ImagineProClient")
            raise ClientClosedError(
                "the client is not open: use `async with ImagineProClient(...) as client:`"
            )
        return self._sender, self._scheduler

    # -- what a Job asks (JobHost) ---------------------------------------------------------------

    def ensure_open(self) -> None:
        """Raise ``ClientClosedError`` unless the client follows jobs."""
        if self._scheduler is None or self.state is ClientState.BROKEN:
            self.open()
        else:
            self._scheduler.ensure_open()

    def watch(self, state: JobState, every: float) -> None:
        """Poll the job at least every ``every`` real seconds while watched."""
        self.open()[1].watch(state, every)

    def unwatch(self, state: JobState, every: float) -> None:
        """Stop a ``watch`` (harmless once the client is closed)."""
        if self._scheduler is not None:
            self._scheduler.unwatch(state, every)

    async def cancel_job(self, state: JobState) -> bool:
        """Press Cancel Job on a job; it then ends ``JobCancelledError``.

        Returns False, sending nothing, when the job is known to have ended. A job no longer
        followed without a final Message (given up after its deadline) may still run: the press is
        sent. A 400 answer is read as "it ended meanwhile" only once a fetch shows it ended.
        """
        sender, scheduler = self.open()
        message_id = state.message_id
        latest = state.latest
        if (latest is not None and latest.is_terminal) or (
            state.resolved and state.exception is None
        ):
            return False
        request = ButtonRequest(message_id=message_id, button=Button.CANCEL_JOB)
        try:
            await sender.send(BUTTON, body=self.converter.unstructure(request, ButtonRequest))
        except BadRequestError:
            if (await self.fetch(message_id)).is_terminal:
                return False  # it ended between our last look and the press
            raise
        scheduler.cancel_sent(message_id)
        return True

    # -- jobs ------------------------------------------------------------------------------------

    def job(self, message_id: str, *, video: bool = False) -> Job:
        """A handle on an existing job (see ``ImagineProClient.job``)."""
        check_message_id(message_id)
        _, scheduler = self.open()
        fetch = VIDEO_FETCH if video else None
        return self._handle(scheduler.track(message_id, submitted=False, fetch=fetch))

    def _handle(self, state: JobState) -> Job:
        assert self._scheduler is not None
        if self._shared is not None:
            self._shared.follow(state, self._scheduler.route(state.message_id))
        return Job(state, self)

    def call(self, name: str, prepare: Prepare) -> JobCall:
        """A job-creating call of the method ``name``: ``prepare`` checks and builds its request."""
        return JobCall(name, prepare, self.submit)

    async def submit(self, prepared: Prepared[Any], options: SubmitOptions) -> Job:
        """Send a prepared job-creating request by its row's rules; the job's handle (and, with
        hooks listening, report how the submission ended)."""
        events = self.settings.events
        listened = (events.submission_started, events.job_submitted, events.submission_failed)
        if listened == (None, None, None):
            return await self._send_job(prepared, options)
        endpoint, request = prepared.endpoint, prepared.request
        return await reported(
            events,
            self._send_job(prepared, options),
            endpoint=endpoint.name,
            kind=request.button if isinstance(request, ButtonRequest) else endpoint.name,
            model=getattr(request, "model", None),
        )

    async def _send_job(self, prepared: Prepared[Any], options: SubmitOptions) -> Job:
        """Send a prepared job-creating request by its row's rules; the job's handle.

        The scheduler's admission rule holds it while it would time out in the account's queue;
        ``options.before_send`` runs right before it leaves.
        """
        sender, scheduler = self.open()
        endpoint, request = prepared.endpoint, prepared.request
        if getattr(request, "webhook_override", 0) is None and self.inbox.base is not None:
            request = attrs.evolve(request, webhook_override=self.inbox.url())
        body: Mapping[str, Any] = self.converter.unstructure(request, endpoint.request)
        kind = request.button if isinstance(request, ButtonRequest) else endpoint.name
        server_timeout = getattr(request, "timeout", None) or DEFAULT_JOB_TIMEOUT  # API seconds

        while True:
            admission = await scheduler.admission(
                timeout=server_timeout, kind=kind, before=options.before_send
            )
            try:
                data = await sender.send(endpoint, body=body, before=admission.gate)
            except Held:
                continue  # the account filled up while it waited for its permit: nothing sent
            finally:
                admission.close()
            return self._track_created(data, endpoint, request, body, kind, server_timeout)

    def _track_created(
        self,
        data: object,
        endpoint: Endpoint[Any, CreatedJob],
        request: Any,
        body: Mapping[str, Any],
        kind: str,
        server_timeout: float,
    ) -> Job:
        # Not through self.open(): a submission on the wire when the client closes must still get
        # its messageId (it may be paid for).
        sender, scheduler = self._sender, self._scheduler
        assert sender is not None
        assert scheduler is not None
        url = str(sender.url(endpoint.path_for()))
        try:
            created = structure(self.converter, data, endpoint.answer, method="POST", url=url)
            check_message_id(created.message_id, "the messageId in the server's answer")
        except (ResponseValidationError, InvalidInputError) as exc:
            # A 2xx answer we cannot use: the job may well exist, so this is not a refusal.
            raise SubmissionUncertainError(
                f"the server accepted it but its answer has no usable messageId ({exc})",
                method="POST",
                url=url,
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
            webhook=self.inbox.owns(getattr(request, "webhook_override", None)),
            kind=kind,
        )
        self.inbox.remember(getattr(request, "ref", None), created.message_id)
        if state.cost is None:
            state.cost = cost_of(endpoint.name, button=getattr(request, "button", None))
            self.credits_spent += state.cost
        return self._handle(state)

    # -- reads -----------------------------------------------------------------------------------

    async def read(
        self,
        endpoint: Endpoint[RequestT, AnswerT],
        request: RequestT | None = None,
        *,
        query: Mapping[str, str | int] | None = None,
        **params: str,
    ) -> AnswerT:
        """A request of ``endpoint`` that creates nothing, structured into its answer model."""
        sender, _ = self.open()
        body = None if request is None else self.converter.unstructure(request, endpoint.request)
        data = await sender.send(endpoint, body=body, query=query, params=params)
        return self._structure(data, endpoint, **params)

    async def fetch(self, message_id: str) -> Message:
        """A job's Message once, within the poll budget; a followed job's waiters see it too."""
        _, scheduler = self.open()
        endpoint = scheduler.route(message_id) or MESSAGE
        sent = self.clock.now()
        message = await self.read(endpoint, message_id=message_id)
        if message.message_id == message_id:
            scheduler.observe(message, sent=sent)
        return message

    def _structure(self, data: object, endpoint: Endpoint[Any, AnswerT], **params: str) -> AnswerT:
        """An answer of ``endpoint`` as its answer model (``ResponseValidationError`` if not)."""
        url = self.open()[0].url(endpoint.path_for(**params))
        return structure(
            self.converter, data, endpoint.answer, method=endpoint.method, url=str(url)
        )

    async def _poll(
        self, message_id: str, permit: Permit, route: Endpoint[None, Message] | None
    ) -> Message:
        """One poll of a job for the scheduler, with a permit it already holds."""
        sender, _ = self.open()
        endpoint = route or MESSAGE
        data = await sender.poll(endpoint, permit, message_id=message_id)
        message = self._structure(data, endpoint, message_id=message_id)
        if message.message_id != message_id:
            raise ResponseValidationError(
                f"asked for job {message_id} but the answer is about {message.message_id}",
                body=str(data)[:500],
                method="GET",
                url=str(sender.url(endpoint.path_for(message_id=message_id))),
            )
        return message

    @overload
    async def download(
        self, url: str, *, max_bytes: int, prefix_only: bool = False, to: None = None
    ) -> bytes: ...
    @overload
    async def download(
        self,
        url: str,
        *,
        max_bytes: int,
        prefix_only: bool = False,
        to: Path | Callable[[str], Path],
    ) -> Path: ...
    async def download(
        self,
        url: str,
        *,
        max_bytes: int,
        prefix_only: bool = False,
        to: Path | Callable[[str], Path] | None = None,
    ) -> bytes | Path:
        """A result image into memory or a file (the API key goes only to the API's own host)."""
        sender, _ = self.open()
        return await sender.download(url, max_bytes=max_bytes, prefix_only=prefix_only, to=to)

    async def image_size(self, message: Message) -> tuple[int, int] | None:
        """The size of a finished job's image, from the first bytes of the file; None if unknown."""
        if not message.image_urls:
            return None
        url = message.image_urls[0]
        if url in self._image_sizes:
            return self._image_sizes[url]
        try:
            head = await self.download(url, max_bytes=256 * 1024, prefix_only=True)
            size = sniff_image(head, name="the parent's image").size
        except ImagineProError as exc:
            logger.warning("could not read the size of %s (%s); mask size not checked", url, exc)
            return None
        if len(self._image_sizes) >= 1024:
            self._image_sizes.clear()
        self._image_sizes[url] = size
        return size

    # -- webhooks --------------------------------------------------------------------------------

    async def hint(self, message_id: str) -> None:
        """Look at a job soon (a webhook said it changed); with shared jobs, through the leader."""
        check_message_id(message_id)
        _, scheduler = self.open()
        if self._shared is not None:
            await self._shared.hint(message_id)
        else:
            scheduler.poke(message_id)

    async def deliver(self, message: Message) -> Outcome:
        """A webhook delivery (authenticated by the receiver): a hint for the scheduler.

        With shared jobs, a process that does not lead passes the hint on to the leader (only
        about a job this process follows). A delivery whose messageId is not well formed is
        refused (``InvalidInputError``): no id from outside reaches a URL unchecked.
        """
        check_message_id(message.message_id, "the messageId of a webhook delivery")
        _, scheduler = self.open()
        outcome = self.inbox.deliver(message, scheduler)
        shared = self._shared
        if (
            outcome is Outcome.FETCHED
            and shared is not None
            and not shared.leading
            and scheduler.follows(message.message_id)
        ):
            await shared.hint(message.message_id)
        return outcome
