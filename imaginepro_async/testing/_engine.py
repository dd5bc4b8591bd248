"""The job engine: accounts, per-account FIFO queues, and one heap of timed events.

No task per job: the engine is plain state, advanced lazily to "now" on every request and by one
timer task owned by the simulator (for webhooks). Each event costs O(log n) (a heap push and pop).
Events whose job has already ended (cancelled, timed out) are skipped when they come up.
"""

from __future__ import annotations

import heapq
import random
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final

from . import _contract as c

DurationFn = Callable[[random.Random], float]
"""Draws one job duration, in simulated seconds, from the simulator's seeded generator."""


def uniform_duration(low: float, high: float) -> DurationFn:
    """A duration distribution: uniform between ``low`` and ``high`` simulated seconds."""
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got {low!r} and {high!r}")

    def draw(rng: random.Random) -> float:
        return rng.uniform(low, high)

    return draw


def fixed_duration(seconds: float) -> DurationFn:
    """A duration distribution: every job takes exactly ``seconds`` simulated seconds."""
    if not seconds > 0:
        raise ValueError(f"a duration must be positive, got {seconds!r}")

    def draw(rng: random.Random) -> float:
        return seconds

    return draw


# What kind of result a finished job produced (which buttons it offers is decided when it is
# created, by ``_midjourney``, and kept in ``Job.offers``).
RESULT_GRID: Final = 0
RESULT_UPSCALED: Final = 1  # U1..U4
RESULT_REUPSCALED: Final = 2  # Upscale (Subtle/Creative/2x/4x), Redo Upscale (2x/4x)
RESULT_DESCRIPTION: Final = 3
RESULT_IMAGES: Final = 4  # ``count`` images, no buttons (flux, faceswap, remove-bg, gemini, ...)
RESULT_VIDEO: Final = 5  # videos (``videoUrl``, ``results``), no images
RESULT_NONE: Final = 6  # nothing to show (a Midjourney command)
#: Results that have image files on the CDN.
IMAGE_RESULTS: Final = frozenset((RESULT_GRID, RESULT_UPSCALED, RESULT_REUPSCALED, RESULT_IMAGES))


class WordList:
    """Words matched as whole words, in any case (blocked or moderated prompts)."""

    __slots__ = ("_pattern",)

    def __init__(self, words: Iterable[str]) -> None:
        found = sorted({w.strip().lower() for w in words if w.strip()})
        self._pattern = (
            re.compile(r"\b(" + "|".join(re.escape(w) for w in found) + r")\b", re.IGNORECASE)
            if found
            else None
        )

    def first(self, text: str) -> str | None:
        """The first listed word in ``text``, if any."""
        if self._pattern is None:
            return None
        found = self._pattern.search(text)
        return None if found is None else found.group(1)


class Token:
    """A linked Discord token (DIY plan): one per account (assumed)."""

    __slots__ = ("channel_id", "info", "is_active", "server_id", "status", "token_id")

    def __init__(self, token_id: str, channel_id: str, server_id: str) -> None:
        self.token_id = token_id
        self.channel_id = channel_id
        self.server_id = server_id
        self.is_active = True
        self.status = "FAST"
        self.info = "linked by the simulator"


# Heap actions.
_END_OK: Final = 0
_END_FAIL: Final = 1
_DEADLINE: Final = 2
_PROGRESS: Final = 3


class Account:
    """One API key: its balance, its concurrent-job limit, its queue and its jobs."""

    __slots__ = (
        "api_key",
        "concurrency",
        "credits",
        "email",
        "jobs",
        "queue",
        "quota",
        "running",
        "spent",
        "tokens",
    )

    def __init__(self, api_key: str, credits: int, concurrency: int, email: str) -> None:
        self.api_key = api_key
        self.credits = credits
        self.quota = credits
        self.concurrency = concurrency
        self.email = email
        self.running = 0
        self.spent = 0
        self.queue: deque[Job] = deque()
        self.jobs: list[Job] = []
        self.tokens: list[Token] = []


class Job:
    """One job's server-side state (small: slots, no task, no copy of the request)."""

    __slots__ = (
        "account",
        "aspect",
        "button",
        "charged",
        "count",
        "created",
        "disable_cdn",
        "duration",
        "endpoint",
        "error",
        "fail_frac",
        "finished",
        "message_id",
        "offers",
        "parent_id",
        "prompt",
        "ref",
        "result",
        "size",
        "started",
        "status",
        "timeout",
        "version",
        "webhook",
    )

    def __init__(
        self,
        message_id: str,
        account: Account,
        endpoint: str,
        *,
        prompt: str,
        ref: str | None,
        webhook: str | None,
        timeout: int,
        disable_cdn: bool,
        button: str | None,
        parent_id: str | None,
        result: int,
        created: float,
        duration: float,
        fail_frac: float | None,
        charged: int,
        size: tuple[int, int],
        count: int,
        aspect: tuple[int, int],
        version: str | None,
        offers: tuple[str, ...],
    ) -> None:
        self.message_id = message_id
        self.account = account
        self.endpoint = endpoint
        self.prompt = prompt
        self.ref = ref
        self.webhook = webhook
        self.timeout = timeout
        self.disable_cdn = disable_cdn
        self.button = button
        self.parent_id = parent_id
        self.result = result
        self.created = created
        self.duration = duration
        self.fail_frac = fail_frac
        self.charged = charged
        self.size = size  # of one result image
        self.count = count  # how many result images (or videos)
        self.aspect = aspect  # the aspect ratio asked for (``--ar``), kept by descendants
        self.version = version  # the Midjourney version asked for (``--v``), if any
        self.offers = offers  # the buttons the Message offers once DONE
        self.started: float | None = None
        self.finished: float | None = None
        self.status: str = c.QUEUED
        self.error: str | None = None

    def progress(self, now: float) -> int:
        """``progress`` as the Message shows it at simulated time ``now``."""
        if self.status == c.DONE:
            return 100
        if self.started is None:
            return 0
        until = now if self.finished is None else self.finished
        # The epsilon keeps float noise from showing 29 at exactly 30 %.
        return min(99, max(0, int((until - self.started) * 100 / self.duration + 1e-9)))

    def updated_at(self, now: float) -> float:
        """The time of the last visible change (assumed meaning of ``updatedAt``)."""
        if self.finished is not None:
            return self.finished
        if self.started is None:
            return self.created
        return self.started + self.progress(now) * self.duration / 100

    def buttons(self) -> tuple[str, ...]:
        """The buttons the Message offers: only once DONE."""
        return self.offers if self.status == c.DONE else ()


class InsufficientCreditsError(Exception):
    """The account cannot pay for the job."""


class Engine:
    """Accounts, jobs and the event heap; every method takes the simulated time explicitly."""

    def __init__(
        self,
        *,
        seed: int | None,
        duration: DurationFn,
        durations: dict[str, DurationFn],
        failure_rate: float,
        moderated_words: Iterable[str],
        refund_failed_jobs: bool,
        webhook_progress_interval: float | None,
        on_webhook: Callable[[Job, float, str], None],
        on_earlier: Callable[[], None] = lambda: None,
    ) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be between 0 and 1, got {failure_rate!r}")
        if webhook_progress_interval is not None and not webhook_progress_interval > 0:
            raise ValueError(
                f"webhook_progress_interval must be positive, got {webhook_progress_interval!r}"
            )
        self._rng = random.Random(seed)
        self._id_rng = random.Random(None if seed is None else seed + 1)
        self._duration = duration
        self._durations = durations
        self.failure_rate = failure_rate
        self.moderated = WordList(moderated_words)
        self.refund_failed_jobs = refund_failed_jobs
        self._progress_every = webhook_progress_interval
        self._on_webhook = on_webhook
        self._on_earlier = on_earlier
        self.accounts: dict[str, Account] = {}
        self.jobs: dict[str, Job] = {}
        self._heap: list[tuple[float, int, int, Job]] = []
        self._seq = 0
        self.webhook_jobs_live = 0

    # --- accounts and ids ----------------------------------------------------------------------
    def new_key(self) -> str:
        """A fresh API key, ``sk-`` and 32 hex digits (deterministic under a seed)."""
        return f"sk-{self._id_rng.getrandbits(128):032x}"

    def add_account(self, api_key: str, credits: int, concurrency: int) -> Account:
        """Create an account."""
        if credits < 0:
            raise ValueError(f"credits must not be negative, got {credits!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
        if api_key in self.accounts:
            raise ValueError(f"an account with the key {api_key!r} exists already")
        email = f"account{len(self.accounts) + 1}@simulator.invalid"
        account = self.accounts[api_key] = Account(api_key, credits, concurrency, email)
        snowflake = self._id_rng.getrandbits(60)
        account.tokens.append(
            Token(f"{self._id_rng.getrandbits(96):024x}", str(snowflake), str(snowflake + 1))
        )
        return account

    # --- jobs ----------------------------------------------------------------------------------
    def create(
        self,
        now: float,
        account: Account,
        endpoint: str,
        *,
        cost: int,
        prompt: str,
        ref: str | None,
        webhook: str | None,
        timeout: int,
        disable_cdn: bool,
        button: str | None = None,
        parent_id: str | None = None,
        result: int = RESULT_GRID,
        kind: str | None = None,
        size: tuple[int, int] = c.IMAGE_SIZE,
        count: int = 1,
        aspect: tuple[int, int] = (1, 1),
        version: str | None = None,
        offers: tuple[str, ...] = (),
    ) -> Job:
        """Charge the account and queue a new job.

        ``kind`` picks the duration distribution (default: the endpoint's name); ``size`` is the
        size of one result image and ``count`` how many images (or videos) the job makes;
        ``aspect`` and ``version`` are what its prompt asked for; ``offers`` its buttons once DONE.

        Raises:
            InsufficientCreditsError: The balance is below ``cost``; nothing changed.
        """
        if account.credits < cost:
            raise InsufficientCreditsError(
                c.INSUFFICIENT_CREDITS.format(cost=cost, left=account.credits)
            )
        draw = self._durations.get(kind or endpoint, self._duration)
        duration = max(float(draw(self._rng)), 1e-3)
        fail_frac = None
        if self.failure_rate and self._rng.random() < self.failure_rate:
            fail_frac = self._rng.uniform(0.2, 0.8)
        message_id = str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))
        account.credits -= cost
        account.spent += cost
        job = Job(
            message_id,
            account,
            endpoint,
            prompt=prompt,
            ref=ref,
            webhook=webhook,
            timeout=timeout,
            disable_cdn=disable_cdn,
            button=button,
            parent_id=parent_id,
            result=result,
            created=now,
            duration=duration,
            fail_frac=fail_frac,
            charged=cost,
            size=size,
            count=count,
            aspect=aspect,
            version=version,
            offers=offers,
        )
        self._admit(job, now)
        return job

    def _admit(self, job: Job, now: float) -> None:
        """Register a new job, then end it (a word the moderator refuses), start it, or queue it."""
        account = job.account
        self.jobs[job.message_id] = job
        account.jobs.append(job)
        if job.webhook is not None:
            self.webhook_jobs_live += 1
        moderated = (
            self.moderated.first(job.prompt)
            if job.result not in (RESULT_DESCRIPTION, RESULT_NONE)
            else None
        )
        if moderated is not None:
            self._finish(job, now, c.MODERATED_ERROR.format(word=moderated))
        elif account.running < account.concurrency and not account.queue:
            self._start(job, now, queued=False)
        else:
            account.queue.append(job)
            self._push(now + job.timeout, _DEADLINE, job)

    def cancel(self, job: Job, now: float) -> None:
        """End a QUEUED or PROCESSING job as cancelled (the caller checked its status)."""
        self._finish(job, now, c.CANCELLED_ERROR)

    def set_concurrency(self, account: Account, concurrency: int, now: float) -> None:
        """Change an account's concurrent-job limit; queued jobs start at once if slots opened."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
        self.advance(now)
        account.concurrency = concurrency
        self._fill(account, now)

    def advance(self, now: float) -> None:
        """Apply every event due at or before ``now``, in time order."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, action, job = heapq.heappop(heap)
            if job.finished is not None:
                continue  # cancelled or timed out earlier: a stale event
            if action == _END_OK:
                self._finish(job, at, None)
            elif action == _END_FAIL:
                self._finish(job, at, c.FAILED_ERROR)
            elif action == _DEADLINE:
                self._finish(job, at, c.TIMEOUT_ERROR.format(timeout=job.timeout))
            else:
                self._on_webhook(job, at, "progress")
                assert self._progress_every is not None
                nxt = at + self._progress_every
                if nxt < self._end_time(job):
                    self._push(nxt, _PROGRESS, job)

    def next_event_time(self) -> float | None:
        """When the earliest pending event is due, if any."""
        return self._heap[0][0] if self._heap else None

    # --- internals ------------------------------------------------------------------------------
    def _push(self, at: float, action: int, job: Job) -> None:
        self._seq += 1
        heap = self._heap
        earlier = self.webhook_jobs_live > 0 and (not heap or at < heap[0][0])
        heapq.heappush(heap, (at, self._seq, action, job))
        if earlier:
            self._on_earlier()  # the timer may be sleeping past this event: wake it

    def _end_time(self, job: Job) -> float:
        assert job.started is not None
        if job.fail_frac is not None:
            return job.started + job.duration * job.fail_frac
        return job.started + job.duration

    def _start(self, job: Job, now: float, *, queued: bool) -> None:
        job.started = now
        job.status = c.PROCESSING
        job.account.running += 1
        end = self._end_time(job)
        deadline = job.created + job.timeout
        if end < deadline:
            self._push(end, _END_OK if job.fail_frac is None else _END_FAIL, job)
        elif not queued:  # a queued job has its deadline event already
            self._push(deadline, _DEADLINE, job)
        if job.webhook is not None and self._progress_every is not None:
            self._push(now, _PROGRESS, job)

    def _fill(self, account: Account, now: float) -> None:
        queue = account.queue
        while queue and account.running < account.concurrency:
            job = queue.popleft()
            if job.finished is None:
                self._start(job, now, queued=True)

    def _finish(self, job: Job, now: float, error: str | None) -> None:
        account = job.account
        was_running = job.status == c.PROCESSING
        job.finished = now
        job.status = c.FAIL if error else c.DONE
        job.error = error
        if error and self.refund_failed_jobs and job.charged:
            account.credits += job.charged
            account.spent -= job.charged
            job.charged = 0
        if job.webhook is not None:
            self.webhook_jobs_live -= 1
            self._on_webhook(job, now, "final")
        if was_running:
            account.running -= 1
            self._fill(account, now)
