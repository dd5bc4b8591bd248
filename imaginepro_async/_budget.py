"""Request budgets: how many requests may start, so that the client never trips a rate limit.

ImaginePro documents, per API key, 1 request per 3 s on job-creating and other general endpoints and
10 per second on the progress endpoint (doc, System Design page). We do not know how the server
counts; we assume the strictest reading, a sliding window over the times requests *arrive*.

A ``Budget`` of ``N`` requests ``per`` ``W`` seconds hands out ``N`` permits. A request holds its permit
from before it is sent until ``W`` seconds after its answer has come back. Whatever the network
latency, any ``N + 1`` requests that arrived within ``W`` of each other would have had to hold ``N + 1``
permits at once, which cannot happen: so the server never sees more than ``N`` in any window of ``W``.
The price is that each permit is also held during its round trip (negligible next to ``W`` unless
latency is large).

Waiters are served first come, first served; a waiter that is cancelled sends nothing. On a 429 the
whole budget pauses until the server's ``Retry-After`` has passed (``pause``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import attrs

__all__ = ["Budget", "RateLimit"]


@attrs.frozen
class RateLimit:
    """At most ``requests`` requests in any window of ``per`` seconds.

    Args:
        requests: how many requests a window allows (at least 1).
        per: the window, in seconds (greater than 0).
    """

    requests: int = attrs.field()
    per: float = attrs.field()

    @requests.validator
    def _check_requests(self, _: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"RateLimit.requests must be a whole number ≥ 1, got {value!r}")

    @per.validator
    def _check_per(self, _: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"RateLimit.per must be a number of seconds > 0, got {value!r}")

    @classmethod
    def imaginepro_create(cls) -> RateLimit:
        """ImaginePro's documented limit on job-creating and general endpoints: 1 per 3 s."""
        return cls(1, 3.0)

    @classmethod
    def imaginepro_progress(cls) -> RateLimit:
        """ImaginePro's documented limit on the progress endpoint: 10 per second."""
        return cls(10, 1.0)


class Budget:
    """A shared, first-come-first-served budget of requests (see the module docstring)."""

    def __init__(self, limit: RateLimit, *, time_scale: float = 1.0) -> None:
        self.limit = limit
        self._window = limit.per / time_scale
        # A hair over the window, so that timer resolution can never make it a hair under.
        self._release_delay = self._window * 1.01 + 1e-4
        self._free = limit.requests
        self._waiters: deque[anyio.Event] = deque()
        self._paused_until = 0.0
        self.started = 0

    @property
    def window(self) -> float:
        """The window in this process's seconds (after the time scale)."""
        return self._window

    def pause(self, seconds: float) -> None:
        """Let nothing start for ``seconds`` from now (the server asked us to wait)."""
        self._paused_until = max(self._paused_until, anyio.current_time() + seconds)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one permit around one request; it is given back one window after the request."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    async def acquire(self) -> None:
        """Wait for a permit (first come, first served) and for any pause to pass."""
        await self._acquire()
        try:
            delay = self._paused_until - anyio.current_time()
            while delay > 0:
                await anyio.sleep(delay)
                delay = self._paused_until - anyio.current_time()
        except BaseException:
            self.release()
            raise
        self.started += 1

    def release(self) -> None:
        """Give a permit back one window from now (call once the request's answer is in)."""
        asyncio.get_running_loop().call_later(self._release_delay, self._release)

    def give_back(self) -> None:
        """Return an unused permit at once (nothing was sent with it)."""
        self.started -= 1
        self._release()

    async def _acquire(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        event = anyio.Event()
        self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            try:
                self._waiters.remove(event)
            except ValueError:
                # The permit was handed to us as we were cancelled: pass it on.
                self._release()
            raise

    def _release(self) -> None:
        if self._waiters:
            self._waiters.popleft().set()
        else:
            self._free += 1
