"""The :class:`Simulator`: a local ImaginePro over real HTTP, owner of every part of it."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Final, Self

import anyio
from aiohttp import web
from anyio.abc import TaskGroup

from imaginepro_async import _costs

from . import _contract as c
from ._admin import add_admin_routes
from ._api_server import ApiServer
from ._clock import SimClock
from ._engine import Account, DurationFn, Engine, Job, uniform_duration
from ._faults import Faults
from ._introspection import (
    BodyCount,
    JobTimeline,
    Recorder,
    RequestRecord,
    Stats,
    WebhookAttempt,
    job_timeline,
)
from ._messages import preview_url, render_message
from ._ratelimit import RateLimiter, SimulatedRateLimit
from ._settings import app_config, durations_per_kind, non_negative
from ._webhooks import WebhookFaults, WebhookSender

DEFAULT_GENERAL_LIMIT: Final = SimulatedRateLimit(*c.GENERAL_LIMIT)
DEFAULT_PROGRESS_LIMIT: Final = SimulatedRateLimit(*c.PROGRESS_LIMIT)


class Simulator:
    """A local ImaginePro: the API of ``shared/imaginepro-api.md`` over real HTTP on 127.0.0.1.

    ``async with Simulator(...) as sim:`` binds a port, serves, and on exit stops the server, the
    timer and the webhook senders. Enter and leave it in the same task; it cannot be restarted.

    All times on the wire and in introspection are *simulated* seconds: with ``time_scale=100``
    the world runs 100 times faster (job durations, ``timeout``, rate-limit windows,
    ``Retry-After``, ``createdAt``/``updatedAt``). :meth:`advance` jumps ahead at once.

    Documented behaviour of ImaginePro (doc): the endpoints and wire shapes, Bearer keys, 401 on a
    bad key or too few credits, credits (imagine 10, buttons 5), the per-account FIFO queue with a
    concurrent-job limit, the button sets of a grid, the rate limits (1 per 3 s general, 10 per
    second progress), webhooks carrying the Message. Everything else is our assumption, listed in
    ``imaginepro_async/testing/_contract.py``.

    Args:
        host: Interface to bind (default 127.0.0.1).
        port: Port to bind; 0 picks a free one.
        time_scale: How many simulated seconds pass per real second (> 0).
        seed: Seeds job ids, durations, failures, keys and fault draws; None: not reproducible.
        api_key: The key of the first account; default: a fresh ``sk-...`` key.
        credits: The first account's balance.
        concurrency: The first account's concurrent-job limit (doc example: 3).
        duration: Draws the duration of every job whose kind has no entry in ``durations``
            (default uniform 30..90 s). When given, it also replaces the per-kind defaults
            (except describe's), so ``fixed_duration(60)`` makes every job take 60 s.
        describe_duration: Draws the duration of describe jobs (default uniform 5..15 s).
        durations: Duration per job kind, overriding the defaults of
            ``_contract.KIND_DURATION_RANGES`` (assumed: upscales quick, imagine slower, video much
            slower). Kinds: ``imagine``, ``button`` (variations, zooms, pans, Vary (Region)...),
            ``upscale`` (U1..U4 and the second-stage upscales), and every other endpoint's name
            (``describe``, ``blend``, ``faceswap``, ``flux_imagine``, ``flux_upscale``,
            ``remove_bg``, ``gemini_imagine``, ``universal_imagine``, ``video_generate``,
            ``video_extend``, ``commands``).
        failure_rate: Probability that a job fails part-way through (0..1).
        banned_words: Words the service refuses in a prompt (whole words, any case): the
            request is refused with 400 when the job would be created, nothing is charged
            (default ``nsfw``).
        moderated_words: Words Midjourney's moderator refuses (whole words, any case): the job
            is created and charged, then ends FAIL at once saying why (default ``gore``).
        general_rate_limit: The general bucket, or None for no limit.
        progress_rate_limit: The progress bucket, or None for no limit.
        image_size: ``(width, height)`` of one 1:1 Midjourney image: an upscale, and each of a
            grid's four ``images`` (default 1024x1024, as Midjourney). A prompt with ``--ar W:H``
            gets Midjourney's size for that ratio (16:9: 1456x816), scaled by ``image_size`` /
            1024; its descendants keep it. Flux, Gemini and the tools have their own sizes (see
            ``_contract.py``).
        grid_size: Size of a 1:1 grid (its ``uri``); default twice ``image_size`` each way
            (2048x2048). Grids of another shape keep these proportions.
        check_mask_size: Refuse a Vary (Region) mask whose aspect ratio differs from the edited
            image's and from the prompt's ``--ar`` (assumed rule: any resolution of the right
            aspect ratio is accepted).
        max_body_bytes: Larger request bodies get 413.
        cost_imagine: Credits per imagine job (default from ``imaginepro_async/_costs.py``).
        cost_button: Credits per button job (Cancel Job is free).
        cost_describe: Credits per describe job.
        costs: Credits per endpoint name, overriding ``imaginepro_async/_costs.py``.
        refund_failed_jobs: Give the credits back when a job ends FAIL.
        webhook_retries: Retries after a failed webhook delivery.
        webhook_backoff: Simulated seconds before the first retry; doubles each time.
        webhook_progress_interval: Also POST the Message (status PROCESSING, ``progress`` and a
            preview ``uri``) when a job starts and every this many simulated seconds while it
            runs (default 15, assumed); None: only when it ends.
        webhook_faults: Seeded delivery faults (fail, duplicate, late/out of order); see
            :class:`WebhookFaults`. Also settable later as ``sim.webhook_faults``.
        latency_before: Simulated seconds each API request waits before it is processed (before
            the rate limiter counts it and before a job is created and stamped ``createdAt``).
        latency_after: Simulated seconds each API answer is held after processing (after the job
            was created). Both can be changed live as ``sim.latency_before``/``latency_after``.
        request_log_size: How many requests :meth:`requests` keeps (the oldest are forgotten);
            None: all of them. Counters in :meth:`stats` are never capped.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        seed: int | None = 0,
        api_key: str | None = None,
        credits: int = c.DEFAULT_CREDITS,
        concurrency: int = c.DEFAULT_CONCURRENCY,
        duration: DurationFn | None = None,
        describe_duration: DurationFn | None = None,
        durations: Mapping[str, DurationFn] | None = None,
        failure_rate: float = 0.0,
        banned_words: Iterable[str] = c.DEFAULT_BANNED_WORDS,
        moderated_words: Iterable[str] = c.DEFAULT_MODERATED_WORDS,
        general_rate_limit: SimulatedRateLimit | None = DEFAULT_GENERAL_LIMIT,
        progress_rate_limit: SimulatedRateLimit | None = DEFAULT_PROGRESS_LIMIT,
        image_size: tuple[int, int] = c.IMAGE_SIZE,
        grid_size: tuple[int, int] | None = None,
        check_mask_size: bool = True,
        max_body_bytes: int = c.MAX_BODY_BYTES,
        cost_imagine: int = _costs.CREDITS["imagine"],
        cost_button: int = _costs.CREDITS["button"],
        cost_describe: int = _costs.CREDITS["describe"],
        costs: Mapping[str, int] | None = None,
        refund_failed_jobs: bool = c.REFUND_FAILED_JOBS,
        webhook_retries: int = c.WEBHOOK_RETRIES,
        webhook_backoff: float = c.WEBHOOK_BACKOFF,
        webhook_progress_interval: float | None = c.WEBHOOK_PROGRESS_INTERVAL,
        webhook_faults: WebhookFaults | None = None,
        latency_before: float = c.LATENCY_BEFORE,
        latency_after: float = c.LATENCY_AFTER,
        request_log_size: int | None = 100_000,
    ) -> None:
        config = app_config(
            image_size=image_size,
            grid_size=grid_size,
            check_mask_size=check_mask_size,
            max_body_bytes=max_body_bytes,
            prices=dict(
                _costs.CREDITS, imagine=cost_imagine, button=cost_button, describe=cost_describe
            )
            | dict(costs or {}),
            blocked_words=banned_words,
            latency_before=latency_before,
            latency_after=latency_after,
        )
        self._host = host
        self._port = port
        self._clock = SimClock(time_scale)
        self._recorder = Recorder(request_log_size)
        self._webhooks = WebhookSender(
            self._clock,
            retries=webhook_retries,
            backoff=webhook_backoff,
            log=self._recorder.webhooks.append,
            faults=webhook_faults,
            seed=seed,
        )
        self._engine = Engine(
            seed=seed,
            duration=duration or uniform_duration(*c.DURATION_RANGE),
            durations=durations_per_kind(duration, describe_duration, durations),
            failure_rate=failure_rate,
            moderated_words=moderated_words,
            refund_failed_jobs=refund_failed_jobs,
            webhook_progress_interval=webhook_progress_interval,
            on_webhook=self._send_webhook,
            on_earlier=self._poke,
        )
        self.rate_limits = RateLimiter(general_rate_limit, progress_rate_limit)
        """The two rate-limit buckets; assign ``general``/``progress`` to change them live."""
        self.faults = Faults(seed)
        """Fault injection rules; see :meth:`Faults.add`."""
        self._server = ApiServer(
            engine=self._engine,
            clock=self._clock,
            limiter=self.rate_limits,
            faults=self.faults,
            recorder=self._recorder,
            config=config,
            on_job_created=self._job_created,
        )
        self.image_size = config.image_size
        """``(width, height)`` of one Midjourney image (an upscale; a grid's ``images``)."""
        self.grid_size = config.grid_size
        """``(width, height)`` of a grid (its ``uri``)."""
        self.api_key = self.add_account(credits=credits, concurrency=concurrency, api_key=api_key)
        """The first account's key (valid until the simulator is closed)."""
        self._runner: web.AppRunner | None = None
        self._tg: TaskGroup | None = None
        self._wake: anyio.Event | None = None
        self._state = "new"

    # --- lifecycle --------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a Simulator can be started only once; create a new one")
        self._state = "running"
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _start(self) -> None:
        app = web.Application(
            client_max_size=self._server.config.max_body_bytes,
            middlewares=[self._server.middleware],
        )
        self._server.add_routes(app)
        add_admin_routes(app, self)
        self._server.add_fallback(app)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        self._webhooks.open()
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host
        host = f"[{host}]" if ":" in host else host
        self._url = f"http://{host}:{self._port}"
        self._server.base_url = self._url
        site = web.SockSite(self._runner, sock, backlog=1024)
        await site.start()
        self._clock.restart()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._webhooks.run)
        self._tg.start_soon(self._timer)

    async def aclose(self) -> None:
        """Stop serving and stop every background task; closing twice is harmless."""
        if self._state == "closed":
            return
        self._state = "closed"
        try:
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            try:
                if self._tg is not None:
                    self._tg.cancel_scope.cancel()
                    await self._tg.__aexit__(None, None, None)
            finally:
                self._webhooks.close()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._state == "new":
            raise RuntimeError("the simulator is not started yet: use 'async with Simulator()'")
        return self._url

    @property
    def port(self) -> int:
        """The bound port."""
        return self._port if self._state != "new" else 0

    @property
    def time_scale(self) -> float:
        """Simulated seconds per real second."""
        return self._clock.scale

    # --- live settings ----------------------------------------------------------------------------
    @property
    def latency_before(self) -> float:
        """Simulated seconds each API request waits before it is processed."""
        return self._server.config.latency_before

    @latency_before.setter
    def latency_before(self, seconds: float) -> None:
        self._server.config.latency_before = non_negative("latency_before", seconds)

    @property
    def latency_after(self) -> float:
        """Simulated seconds each API answer is held after processing."""
        return self._server.config.latency_after

    @latency_after.setter
    def latency_after(self, seconds: float) -> None:
        self._server.config.latency_after = non_negative("latency_after", seconds)

    @property
    def webhook_faults(self) -> WebhookFaults:
        """The webhook delivery faults in force (assign a new :class:`WebhookFaults`)."""
        return self._webhooks.faults

    @webhook_faults.setter
    def webhook_faults(self, faults: WebhookFaults) -> None:
        self._webhooks.faults = faults

    # --- time -------------------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated seconds since the simulator started serving."""
        return self._clock.now()

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward by ``seconds`` at once (jobs progress, windows slide)."""
        self._clock.jump(seconds)
        self._engine.advance(self._clock.now())
        self._poke()

    # --- accounts ---------------------------------------------------------------------------------
    def add_account(
        self,
        *,
        credits: int = c.DEFAULT_CREDITS,
        concurrency: int = c.DEFAULT_CONCURRENCY,
        api_key: str | None = None,
    ) -> str:
        """Create another account and return its API key.

        Args:
            credits: Its balance.
            concurrency: Its concurrent-job limit.
            api_key: Its key; default: a fresh ``sk-...`` key.

        Raises:
            ValueError: A negative balance, a limit below 1, or a key already in use.
        """
        key = api_key if api_key is not None else self._engine.new_key()
        self._engine.add_account(key, credits, concurrency)
        return key

    def credits(self, api_key: str | None = None) -> int:
        """The balance of an account (default: the first one)."""
        return self._account(api_key).credits

    def set_credits(self, api_key: str | None, credits: int) -> None:
        """Set the balance of an account (None: the first one)."""
        if credits < 0:
            raise ValueError(f"credits must not be negative, got {credits!r}")
        self._account(api_key).credits = credits

    def set_concurrency(self, api_key: str | None, concurrency: int) -> None:
        """Change an account's concurrent-job limit; queued jobs start at once if slots opened."""
        self._engine.set_concurrency(self._account(api_key), concurrency, self._clock.now())
        self._poke()

    # --- introspection ----------------------------------------------------------------------------
    def requests(self) -> list[RequestRecord]:
        """The request log, oldest first (admin routes are not logged)."""
        return list(self._recorder.requests)

    def stats(self) -> Stats:
        """Counters: requests by status and endpoint, 429s served, faults, jobs, credits spent."""
        rec = self._recorder
        return Stats(
            requests=rec.total,
            by_status=dict(rec.by_status),
            by_endpoint=dict(rec.by_endpoint),
            rate_limited=rec.rate_limited,
            faults=rec.faults,
            jobs_created=rec.jobs_created,
            credits_spent=sum(a.spent for a in self._engine.accounts.values()),
        )

    def jobs_per_ref(self) -> dict[str, int]:
        """How many jobs were created with each ``ref`` (jobs without one are not counted)."""
        return dict(self._recorder.per_ref)

    def jobs_per_body(self, min_count: int = 1) -> list[BodyCount]:
        """Jobs per identical request body (endpoint included), most repeated first.

        ``min_count=2`` lists only duplicate submissions.
        """
        return self._recorder.bodies(min_count)

    def job(self, message_id: str) -> JobTimeline:
        """The server-side timeline of one job.

        Raises:
            KeyError: No job has this id.
        """
        now = self._sync()
        return job_timeline(self._engine.jobs[message_id], now)

    def jobs(self, *, ref: str | None = None) -> list[JobTimeline]:
        """Every job's timeline in creation order (only those with ``ref``, if given)."""
        now = self._sync()
        return [
            job_timeline(job, now)
            for job in self._engine.jobs.values()
            if ref is None or job.ref == ref
        ]

    def message(self, message_id: str) -> dict[str, Any]:
        """The Message JSON the progress endpoint would answer now (without using a request).

        Raises:
            KeyError: No job has this id.
        """
        now = self._sync()
        return render_message(self._engine.jobs[message_id], now, self.url, self._clock)

    def credits_spent(self) -> dict[str, int]:
        """Credits spent per API key since the start or the last :meth:`reset_counters`."""
        return {key: a.spent for key, a in self._engine.accounts.items()}

    def webhook_deliveries(self) -> list[WebhookAttempt]:
        """Every webhook delivery attempt, in the order they completed."""
        return list(self._recorder.webhooks)

    async def wait_webhooks(self) -> None:
        """Wait until every webhook triggered so far was delivered or ran out of retries."""
        await self._webhooks.join()

    def reset_counters(self) -> None:
        """Forget the request log, counters, per-ref/per-body counts, webhook log, credits spent
        and rate-limit history. Jobs, balances and fault rules stay."""
        self._recorder.reset()
        self.rate_limits.reset()
        for account in self._engine.accounts.values():
            account.spent = 0

    # --- internals --------------------------------------------------------------------------------
    def _account(self, api_key: str | None) -> Account:
        key = self.api_key if api_key is None else api_key
        try:
            return self._engine.accounts[key]
        except KeyError:
            raise KeyError(f"no account has the key {key!r}") from None

    def _sync(self) -> float:
        now = self._clock.now()
        self._engine.advance(now)
        return now

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _job_created(self, job: Job) -> None:
        if job.webhook is not None:
            self._poke()

    def _send_webhook(self, job: Job, at: float, event: str) -> None:
        assert job.webhook is not None
        payload = render_message(job, at, self._server.base_url, self._clock)
        if event == "progress":
            preview = preview_url(job, self._server.base_url)
            if preview is not None:
                payload["uri"] = preview  # assumed: progress deliveries carry a preview
        self._webhooks.submit(job.message_id, job.webhook, event, payload)

    async def _timer(self) -> None:
        # Sleeps until the next event while a job with a webhook is alive; otherwise until poked.
        # Everything else is applied lazily when a request arrives.
        engine, clock = self._engine, self._clock
        while True:
            self._wake = anyio.Event()
            engine.advance(clock.now())
            due = engine.next_event_time() if engine.webhook_jobs_live else None
            if due is None:
                await self._wake.wait()
            else:
                with anyio.move_on_after(clock.real(due - clock.now())):
                    await self._wake.wait()
