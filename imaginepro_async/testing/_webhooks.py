"""Webhook delivery: a few worker tasks POST Messages, retrying with backoff (assumed behaviour).

Redirects are not followed (a 3xx answer is a failed attempt): a receiver behind a framework that
redirects ``/hook`` to ``/hook/`` loses its deliveries with a real sender that does not follow them
either, and the suite must see it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import aiohttp
import anyio
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from . import _contract as c
from ._clock import SimClock
from ._http import dumps
from ._introspection import WebhookAttempt

_WORKERS = 8


@attrs.frozen(kw_only=True)
class WebhookFaults:
    """Seeded misbehaviour of webhook deliveries, to test receivers (``Simulator(webhook_faults=)``).

    Each is a probability per delivery, drawn from a generator seeded by the simulator's seed:

    - ``fail``: an attempt fails without reaching the receiver (logged with an error, then retried
      like any failed delivery: ``webhook_retries`` times with backoff).
    - ``duplicate``: a delivered webhook is delivered once more (a second, identical POST).
    - ``late``: a delivery is held back ``late_by`` simulated seconds (uniform between the two
      bounds) before its first attempt. Held-back deliveries arrive **out of order**: a progress
      delivery can arrive after the final one, or the final one before a progress one.
    """

    fail: float = 0.0
    duplicate: float = 0.0
    late: float = 0.0
    late_by: tuple[float, float] = (5.0, 60.0)

    def __attrs_post_init__(self) -> None:
        for name in ("fail", "duplicate", "late"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"webhook_faults.{name} must be between 0 and 1, got {value!r}")
        low, high = self.late_by
        if not 0 <= low <= high:
            raise ValueError(f"webhook_faults.late_by needs 0 <= low <= high, got {self.late_by!r}")


@attrs.define
class _Delivery:
    message_id: str
    url: str
    event: str
    payload: dict[str, Any]
    attempt: int = 0
    duplicate: bool = False
    delay: float = 0.0


class WebhookSender:
    """Owns the HTTP session and the worker tasks; started and stopped by the simulator."""

    def __init__(
        self,
        clock: SimClock,
        *,
        retries: int,
        backoff: float,
        log: Callable[[WebhookAttempt], None],
        faults: WebhookFaults | None = None,
        seed: int | None = None,
    ) -> None:
        if retries < 0 or backoff < 0:
            raise ValueError("webhook_retries and webhook_backoff must not be negative")
        self.faults = faults or WebhookFaults()
        """The delivery faults in force (may be replaced while running)."""
        self._rng = random.Random(None if seed is None else seed + 2)
        self._clock = clock
        self._retries = retries
        self._backoff = backoff
        self._log = log
        self._send: MemoryObjectSendStream[_Delivery] | None = None
        self._receive: MemoryObjectReceiveStream[_Delivery] | None = None
        self._tg: TaskGroup | None = None
        self._session: aiohttp.ClientSession | None = None
        self.pending = 0
        self._idle: anyio.Event | None = None

    def submit(self, message_id: str, url: str, event: str, payload: dict[str, Any]) -> None:
        """Queue a delivery (never blocks; dropped if the sender is not open)."""
        delivery = _Delivery(message_id, url, event, payload)
        faults = self.faults
        if faults.late and self._rng.random() < faults.late:
            delivery.delay = self._rng.uniform(*faults.late_by)
        self._queue(delivery)

    def _queue(self, delivery: _Delivery) -> None:
        if self._send is None:
            return
        try:
            self._send.send_nowait(delivery)
        except anyio.ClosedResourceError:
            return
        self.pending += 1

    async def join(self) -> None:
        """Wait until every delivery submitted so far has succeeded or run out of retries."""
        if self.pending == 0:
            return
        if self._idle is None:
            self._idle = anyio.Event()
        await self._idle.wait()

    def _settled(self) -> None:
        self.pending -= 1
        if self.pending == 0 and self._idle is not None:
            self._idle.set()
            self._idle = None

    def open(self) -> None:
        """Start accepting deliveries (they wait until :meth:`run` sends them)."""
        self._send, self._receive = anyio.create_memory_object_stream[_Delivery](math.inf)

    def close(self) -> None:
        """Stop accepting deliveries; those not sent yet are dropped."""
        if self._send is not None and self._receive is not None:
            self._send.close()
            self._receive.close()

    async def run(self) -> None:
        """Deliver until cancelled (then pending deliveries are dropped)."""
        timeout = aiohttp.ClientTimeout(total=max(self._clock.real(c.WEBHOOK_TIMEOUT), 2.0))
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                anyio.create_task_group() as tg,
            ):
                self._session, self._tg = session, tg
                for _ in range(_WORKERS):
                    tg.start_soon(self._worker)
        finally:
            self.close()

    async def _worker(self) -> None:
        assert self._receive is not None
        async for delivery in self._receive:
            if delivery.delay > 0:
                assert self._tg is not None
                self._tg.start_soon(self._retry_later, delivery, self._clock.real(delivery.delay))
            else:
                await self._attempt(delivery)

    async def _attempt(self, delivery: _Delivery) -> None:
        assert self._session is not None
        assert self._tg is not None
        delivery.attempt += 1
        status, error = await self._post(delivery)
        delivered = status is not None and 200 <= status < 300
        if status is not None and not delivered:
            error = f"the receiver answered {status}"
        self._log(
            WebhookAttempt(
                message_id=delivery.message_id,
                url=delivery.url,
                event=delivery.event,
                attempt=delivery.attempt,
                time=self._clock.now(),
                status=status,
                error=error,
                delivered=delivered,
                payload=delivery.payload,
                duplicate=delivery.duplicate,
            )
        )
        if delivered and not delivery.duplicate and self._rng.random() < self.faults.duplicate:
            copy = _Delivery(
                delivery.message_id, delivery.url, delivery.event, delivery.payload, duplicate=True
            )
            self._queue(copy)
        if delivered or delivery.attempt > self._retries:
            self._settled()
            return
        delay = self._clock.real(self._backoff * 2 ** (delivery.attempt - 1))
        self._tg.start_soon(self._retry_later, delivery, delay)

    async def _post(self, delivery: _Delivery) -> tuple[int | None, str | None]:
        """One POST: the receiver's status, or None and what went wrong."""
        assert self._session is not None
        if self.faults.fail and self._rng.random() < self.faults.fail:
            return None, "not delivered: webhook fault injected by the simulator"
        try:
            async with self._session.post(
                delivery.url,
                data=dumps(delivery.payload),
                headers={"Content-Type": "application/json"},
                # A real sender may not follow a redirect: a 3xx is a failed delivery here too.
                allow_redirects=False,
            ) as response:
                await response.read()
                return response.status, None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    async def _retry_later(self, delivery: _Delivery, delay: float) -> None:
        await anyio.sleep(delay)
        await self._attempt(delivery)
