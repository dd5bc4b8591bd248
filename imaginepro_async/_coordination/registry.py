"""A job registry shared by several processes through Redis: one leader polls, every process hears.

Building blocks for the scheduler (not wired into the client yet):

- ``RedisLeadership``: one process at a time leads (a Redis key set with ``NX`` and a lease,
  renewed by its holder, deleted on resignation). A leader that cannot renew stops leading on its
  own before its lease can have ended, so two processes never both believe they lead.
- ``RedisJobRegistry``: the set of followed messageIds; the latest Message of each job, updated
  **forward only** (a terminal status is never overwritten, a status never goes back, progress
  never decreases); every accepted update appended to a Redis *stream*, so that a process that
  reconnects re-reads what it missed (pub/sub would lose it); and a stream of "poll now" requests
  (a webhook reached some process) for the leader.

Messages are the wire JSON (``messageId``, ``status``, ``progress``, ...), so this module does not
depend on the client's models. Keys live under ``<namespace>:{<key_id>}:``, one Redis hash slot.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from imaginepro_async._errors import CoordinationError, InvalidInputError
from imaginepro_async._pacing.clock import Clock
from imaginepro_async._validation import check_message_id

from .budgets import RedisCoordination

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

__all__ = ["RedisJobRegistry", "RedisLeadership", "status_rank", "valid_id"]

logger = logging.getLogger("imaginepro_async")

#: Renewals are confirmed for the lease minus this fraction: clocks may run at slightly other rates.
_LEASE_MARGIN: Final = 0.1

_CLAIM: Final = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RESIGN: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: job hash, updates stream, followed set. ARGV: messageId, rank, progress, message JSON,
# stream length, job TTL (ms). Returns the stream entry id, or false when the update is not newer.
_PUBLISH: Final = """
local rank, progress = tonumber(ARGV[2]), tonumber(ARGV[3])
local current = redis.call('HMGET', KEYS[1], 'rank', 'progress')
if current[1] then
  local r, p = tonumber(current[1]), tonumber(current[2])
  if r >= 2 then
    redis.call('SREM', KEYS[3], ARGV[1])  -- followed again after it ended: it stays ended
    return false
  end
  if rank < r or (rank == r and progress <= p) then return false end
end
redis.call('HSET', KEYS[1], 'rank', rank, 'progress', progress, 'message', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if rank >= 2 then redis.call('SREM', KEYS[3], ARGV[1]) end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'id', ARGV[1], 'message', ARGV[4])
"""

_RANKS: Final = {"QUEUED": 0, "PROCESSING": 1, "DONE": 2, "FAIL": 2}


def status_rank(status: object) -> int:
    """How far along a status is: QUEUED 0, PROCESSING (and unknown statuses) 1, DONE/FAIL 2."""
    return _RANKS.get(status, 1) if isinstance(status, str) else 1


def valid_id(value: object) -> str | None:
    """``value`` if it is a well-formed messageId, else None (logged): what another process (or
    anyone who can write to Redis) put in a stream or a set is checked before it can reach a URL."""
    try:
        return check_message_id(value, "a messageId read from Redis")
    except InvalidInputError as exc:
        logger.warning("shared jobs: ignored: %s", exc)
        return None


def _progress(value: object) -> float:
    """The API's progress, a number or a string of one (lenient: anything else is 0)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


class RedisLeadership:
    """Who leads among the processes on one key: at most one at a time, within a lease.

    Call ``claim()`` every third of a lease or so; it returns whether this process leads. Read
    ``leading`` before each leader-only action: it turns false by itself when a renewal was not
    confirmed in time (Redis unreachable), before another process can have taken over.

    Args:
        coordination: the Redis connection (and namespace) to use.
        key_id: a digest of the API key.
        clock: API seconds (the lease is in API seconds).
        lease: API seconds a leader leads without renewing.
    """

    def __init__(
        self, coordination: RedisCoordination, key_id: str, clock: Clock, *, lease: float = 15.0
    ) -> None:
        if isinstance(lease, bool) or not isinstance(lease, int | float) or not lease > 0:
            raise InvalidInputError(f"lease must be a number of seconds > 0, got {lease!r}")
        self._owner = coordination
        self._clock = clock
        self._key = f"{coordination.prefix(key_id)}:leader"
        self.lease = float(lease)
        self.token = os.urandom(8).hex()
        self._confirmed_until = -math.inf
        redis = coordination._redis
        self._claim: AsyncScript = redis.register_script(_CLAIM)
        self._resign: AsyncScript = redis.register_script(_RESIGN)

    @property
    def leading(self) -> bool:
        """True while this process's leadership is confirmed (by the last successful claim)."""
        return self._clock.now() < self._confirmed_until

    async def claim(self) -> bool:
        """Become or stay the leader if no other process leads; True if this process leads.

        Raises:
            CoordinationError: Redis stayed unreachable (this process no longer counts as leader).
        """
        asked_at = self._clock.now()  # the lease in Redis starts after this
        milliseconds = max(1, round(self._clock.local(self.lease) * 1000))
        try:
            won = await self._owner._run(
                self._claim, [self._key], [self.token, milliseconds], self._clock
            )
        except CoordinationError:
            self._confirmed_until = -math.inf
            raise
        self._confirmed_until = (
            asked_at + self.lease * (1 - _LEASE_MARGIN) if int(won) else -math.inf
        )
        return bool(int(won))

    async def resign(self) -> None:
        """Stop leading at once, so another process can take over without waiting the lease."""
        self._confirmed_until = -math.inf
        await self._owner._run(self._resign, [self._key], [self.token], self._clock)


class RedisJobRegistry:
    """The jobs followed by every process on one key, their latest Messages, and their updates.

    Args:
        coordination: the Redis connection (and namespace) to use.
        key_id: a digest of the API key.
        clock: for the retry deadline of the coordination.
        stream_length: about how many updates the streams keep.
        job_ttl: seconds a job's latest Message is kept after its last update.
    """

    def __init__(
        self,
        coordination: RedisCoordination,
        key_id: str,
        clock: Clock,
        *,
        stream_length: int = 100_000,
        job_ttl: float = 86_400.0,
    ) -> None:
        self._owner = coordination
        self._clock = clock
        self._prefix = coordination.prefix(key_id)
        self._stream_length = stream_length
        self._job_ttl_ms = max(1, round(job_ttl * 1000))
        self._publish: AsyncScript = coordination._redis.register_script(_PUBLISH)

    def _job_key(self, message_id: str) -> str:
        return f"{self._prefix}:job:{message_id}"

    async def follow(self, message_id: str, *, route: str | None = None) -> None:
        """Add a job to the ones the leader polls (until it ends); ``route`` names the progress
        endpoint it is polled through, when not the Message one."""
        check_message_id(message_id)
        if route is not None:
            routes = f"{self._prefix}:routes"
            await self._call("hset", routes, message_id, route)
            await self._call("pexpire", routes, self._job_ttl_ms)
        await self._call("sadd", f"{self._prefix}:followed", message_id)

    async def routes(self, message_ids: list[str]) -> dict[str, str]:
        """The progress endpoints of those of ``message_ids`` not polled through the Message one."""
        if not message_ids:
            return {}
        names = await self._call("hmget", f"{self._prefix}:routes", message_ids)
        return {m: _text(n) for m, n in zip(message_ids, names, strict=True) if n is not None}

    async def tail(self, stream: str) -> str:
        """The id of the newest entry of ``stream`` (``"updates"`` or ``"poll-now"``), or "0"."""
        newest = await self._call("xrevrange", f"{self._prefix}:{stream}", count=1)
        return _text(newest[0][0]) if newest else "0"

    async def epoch(self) -> str:
        """A token written once per Redis data set: it changes when Redis lost its data."""
        key = f"{self._prefix}:jobs-epoch"
        await self._call("set", key, os.urandom(8).hex(), nx=True)
        return _text(await self._call("get", key))

    async def followed(self) -> set[str]:
        """Every job some process follows and that has not ended."""
        members = await self._call("smembers", f"{self._prefix}:followed")
        ids = (valid_id(_text(m)) for m in members)
        return {m for m in ids if m is not None}

    async def publish(self, message: Mapping[str, Any]) -> str | None:
        """Record a job's Message if it is newer than the one recorded; the stream entry id, or
        None when it was not newer (a terminal status is final; status and progress never go back).
        """
        message_id = message.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise InvalidInputError(f"a Message needs a messageId, got {message_id!r}")
        entry = await self._owner._run(
            self._publish,
            [self._job_key(message_id), f"{self._prefix}:updates", f"{self._prefix}:followed"],
            [
                message_id,
                status_rank(message.get("status")),
                _progress(message.get("progress")),
                json.dumps(dict(message), ensure_ascii=False, separators=(",", ":")),
                self._stream_length,
                self._job_ttl_ms,
            ],
            self._clock,
        )
        return None if entry is None else _text(entry)

    async def latest(self, message_id: str) -> dict[str, Any] | None:
        """The newest Message recorded for a job, or None."""
        raw = await self._call("hget", self._job_key(message_id), "message")
        return None if raw is None else _message(raw)

    async def updates(
        self, after: str = "0", *, count: int = 1000, block: float | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Updates recorded after the stream entry ``after`` ("0": from the oldest kept), oldest
        first, as ``(entry id, Message)``; with ``block`` (real seconds), wait that long for one."""
        read = await self._read(f"{self._prefix}:updates", after, count, block)
        updates = []
        for entry, fields in read:
            message = _message(_field(fields, "message"))
            if message is not None and valid_id(message.get("messageId")) is not None:
                updates.append((entry, message))
        return updates

    async def request_poll(self, message_id: str) -> None:
        """Ask the leader to poll a job now (a webhook about it reached this process)."""
        check_message_id(message_id)
        await self._call(
            "xadd",
            f"{self._prefix}:poll-now",
            {"id": message_id},
            maxlen=self._stream_length,
            approximate=True,
        )

    async def poll_requests(
        self, after: str = "0", *, count: int = 1000, block: float | None = None
    ) -> list[tuple[str, str | None]]:
        """ "Poll now" requests after the entry ``after``, as ``(entry id, messageId)``; the
        messageId is None for an entry without a well-formed one (skip it)."""
        read = await self._read(f"{self._prefix}:poll-now", after, count, block)
        requests = []
        for entry, fields in read:
            message_id = valid_id(_field(fields, "id"))
            # A malformed entry is still passed (with no id) so that the reader moves past it.
            requests.append((entry, message_id))
        return requests

    async def _read(
        self, stream: str, after: str, count: int, block: float | None
    ) -> list[tuple[str, dict[Any, Any]]]:
        milliseconds = None if block is None else max(1, round(block * 1000))
        answer = await self._call("xread", {stream: after}, count=count, block=milliseconds)
        if not answer:
            return []
        _, entries = answer[0]
        return [(_text(entry), fields) for entry, fields in entries]

    async def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._owner._redis, command)(*args, **kwargs)
        except self._owner._errors as exc:
            raise CoordinationError(
                f"Redis could not be reached ({type(exc).__name__}: {exc}); check that it is up"
            ) from exc
        except self._owner._response_error as exc:  # out of memory, READONLY, a wrong type...
            raise CoordinationError(f"Redis answered an error ({exc}); check Redis") from exc


def _text(value: object) -> str:
    """What Redis holds as text (bytes that are not UTF-8 replaced: nothing here may raise)."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _field(fields: object, name: str) -> str | None:
    """A stream entry's field, whether the client decodes responses or not (None if missing)."""
    if not isinstance(fields, Mapping):
        return None
    value = fields.get(name.encode(), fields.get(name))
    return None if value is None else _text(value)


def _message(raw: object) -> dict[str, Any] | None:
    """A Message's wire JSON as recorded in Redis; None (logged) if it is not a JSON object."""
    try:
        data = json.loads(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        logger.warning("shared jobs: ignored a malformed Message in Redis: %.200r", raw)
        return None
    return data
