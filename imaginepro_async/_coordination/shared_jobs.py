"""Jobs shared by the processes on one key: one leader polls them all, every process hears.

Turned on by ``RedisCoordination(..., share_jobs=True)``. Each client then:

- registers every job it follows in Redis (``RedisJobRegistry.follow``) and asks the leader to look
  at it ("poll now"), so that the leader adopts it at once;
- polls only while it leads (``RedisLeadership``): its scheduler's poll budget is gated, so a
  process that does not lead sends no progress request for its jobs (``client.fetch`` still
  works). The leader adopts every followed job of the key (on taking over, then at each renewal,
  and at each "poll now" about a job it does not know), and publishes each Message it polls;
- wakes its ``Job`` handles from the stream of updates, taking only Messages newer than what it
  has (status never back, progress never down), re-reading from its last entry after a reconnect.

When the leader dies, its lease lapses and another process claims within one lease, adopts every
followed job (looked at once, then on its own schedule) and goes on: no job is lost, and each job
is polled by one process at a time. When Redis loses its data (a restart without persistence), the
epoch token changes; every process then registers its live jobs again and re-reads the new stream.

Redis away (unreachable, silent, answering errors such as OOM or READONLY) is weather: each loop
waits and starts again with backoff, for as long as it takes. What comes out of Redis is checked
(every messageId before it can reach a URL; malformed entries are skipped). Should the task end on
anything else (a bug), the client is told at once (``on_failure``): it fails every waiter and
breaks, rather than leaving its handles to wait for a leader that no longer polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import cattrs

from imaginepro_async._converters import structure
from imaginepro_async._errors import (
    ClientClosedError,
    CoordinationError,
    ImagineProError,
    JobFailedError,
)
from imaginepro_async._models import Message
from imaginepro_async._pacing.budget import Budget, Permit, RateLimit
from imaginepro_async._pacing.clock import Clock
from imaginepro_async._pacing.retry import backoff
from imaginepro_async._scheduling.job_state import JobState
from imaginepro_async._scheduling.scheduler import Fetcher, Scheduler
from imaginepro_async._validation import check_message_id
from imaginepro_async._wire.endpoints import ENDPOINTS, Endpoint

from .budgets import RedisCoordination
from .registry import RedisJobRegistry, RedisLeadership, _progress, status_rank, valid_id

__all__ = ["SharedJobs", "shared_jobs"]

logger = logging.getLogger("imaginepro_async")

#: Real seconds a stream read blocks (below the coordination's 2 s socket timeout).
_BLOCK = 0.5

Rank = tuple[int, float]


def _rank(message: Message | Mapping[str, Any]) -> Rank:
    if isinstance(message, Message):
        return (status_rank(message.status.value), float(message.progress))
    return (status_rank(message.get("status")), _progress(message.get("progress")))


def shared_jobs(
    coordination: object, key_id: str, clock: Clock, converter: cattrs.Converter
) -> SharedJobs | None:
    """The client's shared jobs, if its coordination shares them (else None)."""
    if isinstance(coordination, RedisCoordination) and coordination.share_jobs:
        return SharedJobs(coordination, key_id, clock, converter)
    return None


class _Gate:
    """The scheduler's poll budget, opened only while this process leads."""

    def __init__(self, budget: Budget, owner: SharedJobs) -> None:
        self._budget = budget
        self._owner = owner

    @property
    def limit(self) -> RateLimit:
        return self._budget.limit

    @property
    def started(self) -> int:
        return self._budget.started

    @property
    def rate(self) -> float:
        return self._budget.rate

    async def pause(self, seconds: float) -> None:
        await self._budget.pause(seconds)

    async def acquire(self) -> Permit:
        while True:
            await self._owner.until_leading()
            permit = await self._budget.acquire()
            if self._owner.leading:
                return permit
            await permit.give_back()


class SharedJobs:
    """One client's part in the jobs shared through Redis (see the module docstring)."""

    def __init__(
        self,
        coordination: RedisCoordination,
        key_id: str,
        clock: Clock,
        converter: cattrs.Converter,
    ) -> None:
        self._clock = clock
        self._converter = converter
        self._registry = RedisJobRegistry(coordination, key_id, clock)
        self._leadership = RedisLeadership(
            coordination, key_id, clock, lease=coordination.leader_lease
        )
        self._scheduler: Scheduler | None = None
        self._states: dict[str, JobState] = {}  # the live jobs this process follows
        self._routes: dict[str, str] = {}  # their progress endpoints, when not the Message one
        self._to_follow: dict[str, None] = {}  # to register in Redis (ordered, no repeats)
        self._to_publish: dict[str, Mapping[str, Any]] = {}  # polled, not yet in Redis
        self._mine: dict[str, Rank] = {}  # the newest this process published (or will)
        self._work = anyio.Event()
        self._leading = anyio.Event()
        self._after = "0"  # the last entry of the updates stream taken in
        self._epoch: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random()

    # -- hooks of the client ------------------------------------------------------------------

    def wrap(self, fetcher: Fetcher, budget: Budget) -> tuple[Fetcher, Budget]:
        """The scheduler's fetcher (publishing what it polls) and budget (open while leading)."""

        async def fetch(
            message_id: str, permit: Permit, route: Endpoint[None, Message] | None
        ) -> Message:
            message = await fetcher(message_id, permit, route)
            self._outgoing(message)
            return message

        return fetch, _Gate(budget, self)

    def start(self, scheduler: Scheduler, on_failure: Callable[[Exception], None]) -> None:
        """Start following the registry, in a task owned here until ``aclose``; ``on_failure`` is
        told if that task stops on an unexpected error."""
        self._scheduler = scheduler
        self._task = asyncio.get_running_loop().create_task(
            self._run(on_failure), name="imaginepro-async shared jobs"
        )

    def stop(self) -> None:
        """Stop the task now (the client broke): no renewal, so the leadership lapses."""
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def aclose(self) -> None:
        """Stop; resign the leadership so that another process takes over at once."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("closing a client whose shared-jobs task had failed: %r", exc)
        if self._leadership.leading:
            with anyio.CancelScope(shield=True), contextlib.suppress(CoordinationError):
                await self._leadership.resign()

    def follow(self, state: JobState, route: Endpoint[None, Message] | None) -> None:
        """Register a job this process follows (its handle was just made)."""
        message_id = state.message_id
        if state.resolved or message_id in self._states or valid_id(message_id) is None:
            return
        self._states[message_id] = state
        if route is not None:
            self._routes[message_id] = route.name
        state.add_done_callback(self._forget)
        self._to_follow[message_id] = None
        self._work.set()

    async def hint(self, message_id: str) -> None:
        """Have the leader look at a job soon (a webhook said it changed)."""
        check_message_id(message_id)
        if self.leading and message_id in self._states:
            self._require_scheduler().poke(message_id)
        else:
            await self._registry.request_poll(message_id)

    @property
    def leading(self) -> bool:
        """Whether this process polls the key's jobs now."""
        return self._leadership.leading

    async def until_leading(self) -> None:
        """Return once this process leads."""
        while not self.leading:
            if self._leading.is_set():  # the lease lapsed before the loop noticed
                self._leading = anyio.Event()
            with self._clock.move_on_after(self._leadership.lease / 6):
                await self._leading.wait()

    # -- bookkeeping ----------------------------------------------------------------------------

    def _require_scheduler(self) -> Scheduler:
        assert self._scheduler is not None
        return self._scheduler

    def _forget(self, state: JobState) -> None:
        exc = state.exception
        if (
            self.leading
            and exc is not None
            and not isinstance(exc, ClientClosedError | JobFailedError)
            and (state.latest is None or not state.latest.is_terminal)
        ):
            # The leader gave up on it (unknown id, deadline, unreadable answers): say so to the
            # other processes, whose handles would otherwise wait for a Message that never comes.
            self._to_publish[state.message_id] = {
                "messageId": state.message_id,
                "status": "FAIL",
                "progress": 0 if state.latest is None else state.latest.progress,
                "error": f"the process that polls this key's jobs gave up on it: {exc}",
            }
            self._work.set()
        self._states.pop(state.message_id, None)
        self._routes.pop(state.message_id, None)
        self._to_follow.pop(state.message_id, None)
        self._mine.pop(state.message_id, None)

    def _outgoing(self, message: Message) -> None:
        data = self._converter.unstructure(message)
        data["status"] = message.status.value
        rank = _rank(message)
        if rank > self._mine.get(message.message_id, (-1, -math.inf)):
            self._mine[message.message_id] = rank
        self._to_publish[message.message_id] = data
        self._work.set()

    def _deliver(self, data: Mapping[str, Any]) -> None:
        """Take in a Message from the registry, if it is newer than what this process has."""
        state = self._states.get(str(data.get("messageId")))
        if state is None:
            return
        rank = _rank(data)
        known = self._mine.get(state.message_id, (-1, -math.inf))
        if state.latest is not None:
            known = max(known, _rank(state.latest))
        if rank <= known:
            return
        try:
            message = structure(self._converter, data, Message, method="GET", url="redis")
        except ImagineProError:
            logger.warning("an unreadable Message in the shared registry: %.200r", data)
            return
        self._require_scheduler().observe(message, sent=self._clock.now())

    def _adopt(self, message_id: str, route: str | None) -> None:
        if valid_id(message_id) is None:
            return
        scheduler = self._require_scheduler()
        endpoint = None if route is None else ENDPOINTS.get(route)
        state = scheduler.track(message_id, submitted=False, fetch=endpoint)
        if message_id not in self._states and not state.resolved:
            self._states[message_id] = state
            state.add_done_callback(self._forget)

    # -- background work --------------------------------------------------------------------------

    async def _run(self, on_failure: Callable[[Exception], None]) -> None:
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._keep, self._lead)
                tasks.start_soon(self._keep, self._listen)
                tasks.start_soon(self._keep, self._answer_requests)
                tasks.start_soon(self._keep, self._send)
        except Exception as exc:
            logger.exception("the shared-jobs task stopped on an unexpected error")
            on_failure(exc)
            raise

    async def _keep(self, loop: Callable[[], Any]) -> None:
        """Run ``loop`` again, with backoff, after Redis failed it (it re-reads from where it
        stopped); for as long as Redis stays away."""
        lease = self._leadership.lease
        failures = 0
        while True:
            started = self._clock.now()
            try:
                await loop()
            except CoordinationError as exc:
                if self._clock.now() - started > lease:
                    failures = 0  # it had worked for a while: a new outage
                if not failures:
                    logger.warning("shared jobs: %s; retrying until Redis is back", exc)
                wait = backoff(failures, base=lease / 12, cap=lease / 3, rng=self._rng)
                failures += 1
                await self._clock.sleep(wait)

    async def _lead(self) -> None:
        """Claim or renew the leadership every third of a lease; adopt every followed job."""
        while True:
            await self._check_epoch()
            was = self.leading
            try:
                leads = await self._leadership.claim()
            finally:
                if not self.leading:
                    self._leading = anyio.Event()
            if leads:
                if not was:
                    logger.info("this process now polls the key's shared jobs")
                self._leading.set()
                await self._adopt_followed()
            await self._clock.sleep(self._leadership.lease / 3)

    async def _adopt_followed(self) -> None:
        unknown = sorted((await self._registry.followed()) - self._states.keys())
        routes = await self._registry.routes(unknown)
        for message_id in unknown:
            self._adopt(message_id, routes.get(message_id))

    async def _check_epoch(self) -> None:
        epoch = await self._registry.epoch()
        if self._epoch is not None and epoch != self._epoch:
            logger.warning("Redis lost the shared jobs; registering this process's jobs again")
            self._after = "0"
            self._to_follow.update(dict.fromkeys(self._states))
            self._work.set()
        self._epoch = epoch

    async def _listen(self) -> None:
        """Wake the handles from the stream of updates."""
        while True:
            for entry, data in await self._registry.updates(self._after, block=_BLOCK):
                self._after = entry
                self._deliver(data)

    async def _answer_requests(self) -> None:
        """While leading, look soon at each job some process asked about (or adopt it)."""
        after = await self._registry.tail("poll-now")
        while True:
            requests = await self._registry.poll_requests(after, block=_BLOCK)
            if requests:
                after = requests[-1][0]
            if not self.leading:
                continue
            asked = [m for _, m in requests if m is not None]
            unknown = [m for m in asked if m not in self._states]
            routes = await self._registry.routes(unknown)
            for message_id in asked:
                if message_id in self._states:
                    self._require_scheduler().poke(message_id)
                else:
                    self._adopt(message_id, routes.get(message_id))

    async def _send(self) -> None:
        """Register followed jobs and publish polled Messages; kept until Redis took them."""
        while True:
            if not (self._to_follow or self._to_publish):
                await self._work.wait()
            self._work = anyio.Event()
            while self._to_follow:
                message_id = next(iter(self._to_follow))
                await self._register(message_id)
                self._to_follow.pop(message_id, None)
            while self._to_publish:
                message_id, data = next(iter(self._to_publish.items()))
                await self._registry.publish(data)
                if self._to_publish.get(message_id) is data:
                    del self._to_publish[message_id]

    async def _register(self, message_id: str) -> None:
        latest = await self._registry.latest(message_id)
        if latest is not None:
            self._deliver(latest)
            if status_rank(latest.get("status")) >= 2:
                return  # it had ended: nothing to poll
        await self._registry.follow(message_id, route=self._routes.get(message_id))
        await self._registry.request_poll(message_id)
