"""Budgets shared by several processes through Redis (``pip install 'imaginepro-async[redis]'``).

The rate limits are per API key, so every process using one key must spend one budget. A
``RedisCoordination`` keeps each budget in Redis and gives the same guarantee as ``LocalBudget``
(read the proof in ``_pacing/budget.py``): **the server never sees more than N arrivals in any window,
whatever the latency**, now across processes and machines.

How it is kept, per budget (``<namespace>:{<key_id>}:<kind>:...``, one Redis hash slot):

- ``permits``: a sorted set of the permits that count, scored by when each stops counting. An
  acquired permit is scored *now + lease* (its request is in flight); released, it is rescored
  *arrival + window*; given back, it is removed. A permit is granted only while fewer than N
  members score later than now. Acquire, release and pause are Lua scripts, so each check-and-write
  is atomic.
- **Scores are Redis server time** (``TIME`` inside the scripts): the clocks of the processes never
  meet, so their skew does not matter. Durations cross the wire as real seconds (``clock.local``),
  so with a simulator's time scale the windows in Redis shrink with it. ``arrived_by`` travels as
  an age ("arrived at most this long ago"), not as a time.
- **The lease** bounds how long a crashed process's in-flight permits count: they expire *lease*
  after they were granted. So the lease must exceed the longest a request can take (the client's
  ``request_timeout``) plus one window; a permit released after its lease ran out still counts
  until its window ends.
- **A shared pause**: on a 429 any process writes the ``Retry-After`` into ``pause``; every
  process waits it out. **A shared learnt rate**: such a 429 means someone outside the budget
  spends the key. The pause script also records the refusal (``refused``) and counts the permits
  released in the window before it, less the refusals: the requests of *every* process the server
  let in, the evidence ``_pacing/aimd.py`` learns from. The process that drew the 429 decides the
  cut and writes it to ``learnt`` (a hash: levels in requests per window, times in Redis time),
  unless another process cut first (compare-and-set on the cut's time; then it takes that one).
  Every acquire reads ``learnt`` back, so each process asks for the same number of permits (the
  count in ``permits`` is global), and they probe and climb back together; the hash expires once
  the level it describes is back at the limit.
- **Fail closed**: when Redis cannot be reached or answers errors (out of memory, READONLY after a
  failover), commands are retried with backoff for ``unreachable_timeout``; then ``acquire``
  raises ``CoordinationError`` and nothing is sent. The client's own poller treats that as
  weather: it waits and tries again for as long as it takes, failing no job.
  Releasing and giving back are best effort: a permit left behind expires with its lease.
- **A Redis that lost its data** (restarted without persistence, flushed, failed over to an empty
  replica) forgets the permits in flight. The ``epoch`` key tells: when it is missing, the script
  writes it and nothing is granted for one lease + one window, the longest any forgotten permit
  could still count. A fresh Redis therefore also costs one lease + one window at first start.

Each process queues its own waiters first come, first served, and only the head of that queue asks
Redis; a denied head sleeps until the earliest permit comes free (as the script tells), or a
quarter window while the earliest is still in flight (its release is not announced), or until a
permit of its own process comes back. Across processes there is no queue: whoever asks first after
a permit frees gets it.

Every process sharing a key must use the same limits, lease and namespace.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import anyio

from imaginepro_async._errors import CoordinationError, ExtraNotInstalledError, InvalidInputError
from imaginepro_async._pacing.aimd import LearntState, RateLearner
from imaginepro_async._pacing.budget import _EPSILON, _MARGIN, Line, Permit, RateLimit
from imaginepro_async._pacing.clock import Clock
from imaginepro_async._pacing.retry import backoff

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisBudget", "RedisCoordination"]

# The learnt level (``_pacing/aimd.py``), appended to the answers of the scripts: Redis time now,
# then learnt, cut_to, cut_at, quiet_until ('' when nothing was learnt or it expired).
_LEARNT: Final = """
local function learnt(now, key)
  local s = redis.call('HMGET', key, 'learnt', 'cut_to', 'cut_at', 'quiet')
  return tostring(now), s[1] or '', s[2] or '', s[3] or '', s[4] or ''
end
"""

# KEYS: permits, pause, epoch, learnt. ARGV: limit, lease, window, member (real seconds).
# Returns {1, "0", "", learnt...} when granted, else {0, seconds to wait, "lease" | "window" |
# "pause", learnt...}.
_ACQUIRE: Final = (
    _LEARNT
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, lease, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ready = redis.call('GET', KEYS[3])
if not ready then
  ready = now + lease + window
  redis.call('SET', KEYS[3], tostring(ready))
else
  ready = tonumber(ready)
end
local wait = ready - now
local paused = redis.call('GET', KEYS[2])
if paused then wait = math.max(wait, tonumber(paused) - now) end
if wait > 0 then return {0, tostring(wait), 'pause', learnt(now, KEYS[4])} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((lease + window) * 1000) + 1000)
  return {1, '0', '', learnt(now, KEYS[4])}
end
local first = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) - now
return {0, tostring(first), first > window and 'lease' or 'window', learnt(now, KEYS[4])}
"""
)

# KEYS: permits. ARGV: member, age (it arrived at most this long ago), window, lease.
_RELEASE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now - tonumber(ARGV[2]) + window, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[4]) + window) * 1000) + 1000)
return 1
"""

# KEYS: pause, refused, permits, learnt. ARGV: seconds, window (as permits are held now), member.
# Returns {permits released in the window before now, refusals in it (this one too), learnt...}.
_PAUSE: Final = (
    _LEARNT
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
if seconds > 0 and ((not current) or tonumber(current) < now + seconds) then
  redis.call('SET', KEYS[1], tostring(now + seconds), 'PX', math.ceil(seconds * 1000) + 1)
end
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('PEXPIRE', KEYS[2], math.ceil(window * 1000) + 1000)
local released = redis.call('ZCOUNT', KEYS[3], '(' .. tostring(now), now + window)
return {released, redis.call('ZCARD', KEYS[2]), learnt(now, KEYS[4])}
"""
)

# KEYS: learnt. ARGV: the cut_at it was decided on ('' none), learnt, cut_to, cut_at, quiet (Redis
# time), expiry (ms). Writes the cut unless another process cut since; returns {1 | 0, learnt...}.
_LEARN: Final = (
    _LEARNT
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if (redis.call('HGET', KEYS[1], 'cut_at') or '') ~= ARGV[1] then
  return {0, learnt(now, KEYS[1])}
end
redis.call('HSET', KEYS[1], 'learnt', ARGV[2], 'cut_to', ARGV[3], 'cut_at', ARGV[4],
  'quiet', ARGV[5])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
return {1, learnt(now, KEYS[1])}
"""
)

_KINDS: Final = ("create", "poll")


def _redis_module() -> Any:
    try:
        import redis.asyncio
        import redis.exceptions
    except ModuleNotFoundError as exc:  # pragma: no cover - the extra is installed in tests
        raise ExtraNotInstalledError(
            "a budget shared through Redis", extra="redis", package="redis", module="redis"
        ) from exc
    return redis


def _api_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInputError(f"{name} must be a number of seconds > 0, got {value!r}")
    if not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


class RedisCoordination:
    """Budgets shared through Redis by every process that uses the same API key.

    Pass it to the client (``ImagineProClient(..., coordination=RedisCoordination(url))``), which
    asks it for its budgets; close it yourself (``async with`` or ``aclose()``), or pass the URL
    itself and the client opens and closes it. See the module docstring for how the bound is kept.

    Args:
        redis: a ``redis://`` URL, or a ``redis.asyncio.Redis`` client (left open on close).
        lease: API seconds an in-flight permit counts at most: how long a crashed process can hold
            capacity. Must exceed the longest request (``request_timeout``) plus one window.
        namespace: prefix of every Redis key.
        unreachable_timeout: API seconds to keep retrying an unreachable Redis before
            ``acquire`` raises ``CoordinationError``.
        seed: seeds the jitter of retries.
        share_jobs: also share the jobs: the clients on this coordination register every job
            they follow in Redis, one process at a time (the leader) polls all of them, and every
            process's handles are woken from Redis (see ``shared_jobs.py``).
        leader_lease: API seconds the leader leads without renewing: when it dies, another
            process takes over within this.

    Raises:
        InvalidInputError: a bad URL, lease, namespace or timeout.
        ExtraNotInstalledError: ``redis`` is not installed.
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        lease: float = 60.0,
        namespace: str = "imaginepro-async",
        unreachable_timeout: float = 10.0,
        seed: int | None = None,
        share_jobs: bool = False,
        leader_lease: float = 15.0,
    ) -> None:
        module = _redis_module()
        self.lease = _api_seconds("lease", lease)
        if not isinstance(share_jobs, bool):
            raise InvalidInputError(f"share_jobs must be True or False, got {share_jobs!r}")
        self.share_jobs = share_jobs
        self.leader_lease = _api_seconds("leader_lease", leader_lease)
        self.unreachable_timeout = _api_seconds("unreachable_timeout", unreachable_timeout)
        if not isinstance(namespace, str) or not namespace or any(c in namespace for c in "{} "):
            raise InvalidInputError(
                f"namespace must be a non-empty string without spaces or braces, got {namespace!r}"
            )
        self.namespace = namespace
        if isinstance(redis, str):
            if not redis.startswith(("redis://", "rediss://", "unix://")):
                raise InvalidInputError(
                    "the Redis URL must start with redis://, rediss:// or unix://, got "
                    f"{redis.split('@')[-1]!r}"
                )
            # Short socket timeouts: a dead Redis must fail fast, so that we retry and then fail.
            self._redis: Redis = module.asyncio.Redis.from_url(
                redis, socket_timeout=2.0, socket_connect_timeout=2.0, retry_on_timeout=False
            )
            self._own_redis = True
        else:
            self._redis = redis
            self._own_redis = False
        self._errors = (module.exceptions.ConnectionError, module.exceptions.TimeoutError)
        self._response_error = module.exceptions.ResponseError
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self._pause = self._redis.register_script(_PAUSE)
        self._learn = self._redis.register_script(_LEARN)
        self._rng = random.Random(seed)
        self._token = os.urandom(6).hex()
        self._issued = 0
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<RedisCoordination namespace={self.namespace!r} lease={self.lease} s {state}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def budget(self, kind: str, limit: RateLimit, clock: Clock, *, key_id: str) -> RedisBudget:
        """The budget of ``kind`` (``"create"`` or ``"poll"``) of the key named ``key_id``.

        ``key_id`` is a digest of the API key (never the key): hex digits, 8 to 64 of them.
        """
        if kind not in _KINDS:
            raise InvalidInputError(f"kind must be one of {_KINDS}, got {kind!r}")
        return RedisBudget(self, f"{self.prefix(key_id)}:{kind}", limit, clock)

    def prefix(self, key_id: str) -> str:
        """The prefix of every Redis key about the API key named ``key_id`` (checked)."""
        if not (
            isinstance(key_id, str)
            and 8 <= len(key_id) <= 64
            and all(c in "0123456789abcdef" for c in key_id)
        ):
            raise InvalidInputError(
                "key_id must be 8 to 64 lowercase hex digits (a digest of the API key, e.g. "
                "hashlib.sha256(key.encode()).hexdigest()[:16]), never the key itself"
            )
        return f"{self.namespace}:{{{key_id}}}"

    async def aclose(self) -> None:
        """Close the Redis connections, if this object opened them; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._own_redis:
            await self._redis.aclose()

    def _member(self) -> str:
        self._issued += 1
        return f"{self._token}:{self._issued}"

    async def _run(
        self, script: AsyncScript, keys: list[str], args: list[Any], clock: Clock
    ) -> Any:
        """Run ``script``, retrying while Redis is unreachable; then ``CoordinationError``."""
        if self._closed:
            raise CoordinationError("the Redis coordination was closed; open a new client")
        deadline = clock.now() + self.unreachable_timeout
        attempt = 0
        while True:
            try:
                return await script(keys=keys, args=args)
            except self._errors as exc:
                if clock.now() >= deadline:
                    raise CoordinationError(
                        f"Redis could not be reached for {self.unreachable_timeout:g} s "
                        f"({type(exc).__name__}: {exc}); nothing was sent. Check that Redis is up, "
                        "or raise unreachable_timeout"
                    ) from exc
            except self._response_error as exc:
                # Out of memory, READONLY after a failover, LOADING after a restart: weather too.
                if clock.now() >= deadline:
                    raise CoordinationError(
                        f"Redis answered errors for {self.unreachable_timeout:g} s ({exc}); "
                        "nothing was sent. Check Redis (memory, a failover), or raise "
                        "unreachable_timeout"
                    ) from exc
            wait = backoff(attempt, base=0.05, cap=1.0, rng=self._rng)
            await clock.sleep(min(wait, max(0.0, deadline - clock.now())))
            attempt += 1


class _RedisPermit:
    __slots__ = ("_budget", "_member", "_used")

    def __init__(self, budget: RedisBudget, member: str) -> None:
        self._budget = budget
        self._member = member
        self._used = False

    async def release(self, *, arrived_by: float | None = None) -> None:
        if not self._used:
            self._used = True
            await self._budget._hold(self._member, arrived_by)

    async def give_back(self) -> None:
        if not self._used:
            self._used = True
            await self._budget._return_unused(self._member)


class RedisBudget:
    """A budget kept in Redis, shared by every process on the key (see the module docstring)."""

    def __init__(
        self, owner: RedisCoordination, prefix: str, limit: RateLimit, clock: Clock
    ) -> None:
        self._owner = owner
        self._limit = limit
        self._clock = clock
        self._permits = f"{prefix}:permits"
        self._pause_key = f"{prefix}:pause"
        self._epoch = f"{prefix}:epoch"
        self._refused = f"{prefix}:refused"
        self._learnt = f"{prefix}:learnt"
        self._cut_seen = ""  # the shared cut's time as Redis last gave it ('' none): for the CAS
        self._lease = clock.local(owner.lease)
        self._window = clock.local(limit.per) * _MARGIN + _EPSILON
        self._line = Line()
        self._paused_until = -math.inf  # a local copy, for when Redis cannot take the pause
        self._started = 0
        # The level learnt from 429s (``_pacing/aimd.py``), kept in step with ``learnt`` in Redis.
        self._learner = RateLearner(
            limit.requests,
            limit.per,
            probe_every=limit.probe_every,
            name=f"{prefix.rsplit(':', 1)[-1]} budget",
        )
        self._stretch = 1.0

    def __repr__(self) -> str:
        return (
            f"<RedisBudget {self._limit.requests} per {self._limit.per} s at {self._permits!r}, "
            f"{len(self._line)} waiting here>"
        )

    @property
    def limit(self) -> RateLimit:
        """The rate limit this budget keeps to (across every process on the key)."""
        return self._limit

    @property
    def started(self) -> int:
        """How many requests this process has started through it."""
        return self._started

    @property
    def rate(self) -> float:
        """The requests per second this process spends at now (see ``BudgetView.rate``)."""
        return self._learner.rate(self._clock.now())

    async def pause(self, seconds: float) -> None:
        """Let no process start anything for ``seconds`` (API seconds) from now; the rate is cut
        (the 429 was not this budget's making: someone else spends the key), for every process.

        The client calls it right after releasing the refused request's permit."""
        now = self._clock.now()
        self._paused_until = max(self._paused_until, now + seconds)
        owner, clock = self._owner, self._clock
        # Should Redis not take it, this process still waits (local copy) and cuts its own rate
        # without the count (halving); acquire fails closed.
        try:
            released, refused, *learnt = await owner._run(
                owner._pause,
                [self._pause_key, self._refused, self._permits, self._learnt],
                [clock.local(max(0.0, seconds)), self._window * self._stretch, owner._member()],
                clock,
            )
        except CoordinationError:
            self._learner.throttled(clock.now(), until=self._paused_until)
            return
        at = self._adopt(learnt)
        redis_now = float(learnt[0])
        if not self._learner.throttled(
            at, ours=max(0, int(released) - int(refused)), until=self._paused_until
        ):
            return
        cut = self._learner.state
        in_redis = [redis_now + clock.local(t - at) for t in (cut.cut_at, cut.quiet_until)]
        expiry = clock.local(
            self._learner.probe_every + (self._limit.requests + 2) * self._limit.per
        )
        with contextlib.suppress(CoordinationError):
            _, *learnt = await owner._run(
                owner._learn,
                [self._learnt],
                [self._cut_seen, repr(cut.learnt), repr(cut.cut_to), *map(repr, in_redis),
                 math.ceil(expiry * 1000)],
                clock,
            )  # fmt: skip
            self._adopt(learnt)  # ours, or the cut another process made first

    def _adopt(self, learnt: list[Any]) -> float:
        """Take the shared level from a script's answer (Redis time, then the ``learnt`` hash);
        returns this process's time (API seconds) that Redis time corresponds to."""
        now = self._clock.now()
        redis_now, level, cut_to, cut_at, quiet = (
            v.decode() if isinstance(v, bytes) else str(v) for v in learnt
        )
        self._cut_seen = cut_at
        if not cut_at:
            self._learner.adopt(LearntState(math.inf, math.inf, -math.inf, -math.inf))
            return now
        ago = float(redis_now)
        self._learner.adopt(
            LearntState(
                float(level),
                float(cut_to),
                now - self._clock.api(ago - float(cut_at)),
                now - self._clock.api(ago - float(quiet)),
            )
        )
        return now

    async def acquire(self) -> Permit:
        """Wait for a permit (first come, first served within this process) and for any pause.

        Raises:
            CoordinationError: Redis stayed unreachable for ``unreachable_timeout``.
        """
        async with self._line.turn() as turn:
            while True:
                if (local := self._paused_until - self._clock.now()) > 0:
                    await self._clock.sleep(local)
                    continue
                member = self._owner._member()
                allowed, self._stretch = self._learner.permits(
                    self._limit.requests, self._clock.now()
                )
                # Shielded: a grant we never heard of would hold capacity until its lease ends.
                with anyio.CancelScope(shield=True):
                    granted, wait, why, *learnt = await self._owner._run(
                        self._owner._acquire,
                        [self._permits, self._pause_key, self._epoch, self._learnt],
                        [allowed, self._lease, self._window, member],
                        self._clock,
                    )
                # A cut another process made (or its expiry) applies from the next ask on.
                self._adopt(learnt)
                if int(granted):
                    break
                await turn.sleep(self._sleep_for(float(wait), why))
            self._started += 1
        return _RedisPermit(self, member)

    def _sleep_for(self, wait: float, why: bytes | str) -> float:
        """Real seconds a denied head sleeps (``wait`` is real seconds, from Redis)."""
        if why in (b"lease", "lease"):
            # The earliest permit is in flight; its release is not announced, so look again soon.
            return min(wait, self._window / 4)
        return max(wait, 0.0)

    async def _hold(self, member: str, arrived_by: float | None) -> None:
        now = self._clock.now()
        age = 0.0 if arrived_by is None else self._clock.local(max(0.0, now - arrived_by))
        # Should Redis not take it, the permit counts until its lease ends: safe, only slower.
        with contextlib.suppress(CoordinationError):
            await self._owner._run(
                self._owner._release,
                [self._permits],
                [member, age, self._window * self._stretch, self._lease],
                self._clock,
            )
        self._line.wake_head()

    async def _return_unused(self, member: str) -> None:
        self._started -= 1
        # Else it expires with its lease.
        with contextlib.suppress(*self._owner._errors, self._owner._response_error):
            await self._owner._redis.zrem(self._permits, member)
        self._line.wake_head()
