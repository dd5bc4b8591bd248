"""What the sender tells the client's hooks: requests, answers, retries, 429s, budget waits.

``Sender`` asks ``WireEvents.silent`` first and goes its plain way when nobody listens; only with
listeners does a request go through here, to be timed and reported. URLs are reported without
their query string; no header, body or key is ever put in an event.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yarl

from imaginepro_async._errors import APIStatusError
from imaginepro_async._events.hooks import Emitter
from imaginepro_async._events.records import (
    BudgetWaited,
    RateLimited,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)
from imaginepro_async._pacing.budget import Budget, Permit
from imaginepro_async._pacing.clock import Clock

from .download import Target
from .endpoints import Endpoint
from .exchange import Exchange, MaybeSent, NotSent, Reply

__all__ = ["WireEvents"]

Download = Callable[[str, int, bool, Target | None], Awaitable[bytes | Path]]


def _where(url: yarl.URL | str) -> str:
    """``url`` without its query, fragment or user (an API path has none: it is left alone)."""
    url = yarl.URL(url) if isinstance(url, str) else url
    if url.raw_query_string or url.raw_fragment or url.raw_user is not None:
        url = url.with_user(None).with_query(None).with_fragment(None)
    return str(url)


def _names(row: Endpoint[Any, Any] | None) -> tuple[str, str, bool]:
    """The endpoint's name, its budget's, and whether it is a progress read (a poll)."""
    if row is None:
        return "unknown", "create", False
    return row.name, row.budget, row.budget == "poll"


class WireEvents:
    """The sender's side of the client's ``Emitter`` (see the module)."""

    __slots__ = ("_clock", "_emitter", "silent")

    def __init__(self, emitter: Emitter, clock: Clock) -> None:
        self._emitter = emitter
        self._clock = clock
        self.silent = not any(
            (
                emitter.request_sent,
                emitter.response,
                emitter.retry,
                emitter.rate_limited,
                emitter.budget_wait,
            )
        )

    async def acquire(self, budget: Budget, row: Endpoint[Any, Any] | None) -> Permit:
        """A permit of ``budget``, the wait reported."""
        started = time.perf_counter()
        permit = await budget.acquire()
        if self._emitter.budget_wait is not None:
            wait = time.perf_counter() - started
            self._emitter.budget_wait(BudgetWaited(budget=_names(row)[1], wait=wait))
        return permit

    async def exchange(
        self,
        exchange: Exchange,
        method: str,
        url: yarl.URL,
        payload: bytes | None,
        fresh: bool,
        row: Endpoint[Any, Any] | None,
    ) -> Reply:
        """One exchange, reported before and after."""
        name, _, poll = _names(row)
        where = _where(url)
        emitter = self._emitter
        if emitter.request_sent is not None:
            emitter.request_sent(RequestSent(method=method, endpoint=name, url=where, poll=poll))
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            reply = await exchange.send(method, url, payload, fresh=fresh)
            status = reply.status
            return reply
        except (NotSent, MaybeSent) as failure:
            error = type(failure.error).__name__
            raise
        except BaseException as exc:  # cancelled: the attempt ends all the same
            error = type(exc).__name__
            raise
        finally:
            if emitter.response is not None:
                emitter.response(
                    ResponseReceived(
                        method=method,
                        endpoint=name,
                        url=where,
                        status=status,
                        duration=time.perf_counter() - started,
                        error=error,
                        poll=poll,
                    )
                )

    def rate_limited(
        self, method: str, url: yarl.URL, row: Endpoint[Any, Any] | None, retry_after: float | None
    ) -> None:
        """A 429 (``retry_after`` in API seconds, reported in this process's)."""
        if self._emitter.rate_limited is not None:
            name, budget, poll = _names(row)
            wait = None if retry_after is None else self._clock.local(retry_after)
            self._emitter.rate_limited(
                RateLimited(
                    method=method,
                    endpoint=name,
                    url=_where(url),
                    budget=budget,
                    retry_after=wait,
                    poll=poll,
                )
            )

    def retry(
        self,
        row: Endpoint[Any, Any],
        url: yarl.URL,
        attempt: int,
        reason: BaseException,
        wait: float,
    ) -> None:
        """Attempt ``attempt`` (0-based here) failed with ``reason``; the next after ``wait`` (API s)."""
        if self._emitter.retry is not None:
            self._emitter.retry(
                RetryScheduled(
                    method=row.method,
                    endpoint=row.name,
                    url=_where(url),
                    attempt=attempt + 1,
                    reason=type(reason).__name__,
                    wait=self._clock.local(wait),
                )
            )

    async def download(
        self, run: Download, url: str, max_bytes: int, prefix_only: bool, to: Target | None
    ) -> bytes | Path:
        """A download, reported as one request of the endpoint ``download``."""
        emitter = self._emitter
        where = _where(url)
        if emitter.request_sent is not None:
            emitter.request_sent(RequestSent(method="GET", endpoint="download", url=where))
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            result = await run(url, max_bytes, prefix_only, to)
            status = 200
            return result
        except APIStatusError as exc:
            status = exc.status
            raise
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            if emitter.response is not None:
                emitter.response(
                    ResponseReceived(
                        method="GET",
                        endpoint="download",
                        url=where,
                        status=status,
                        duration=time.perf_counter() - started,
                        error=error,
                    )
                )
