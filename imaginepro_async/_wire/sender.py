"""Retried calls over the exchange layer, each spending its endpoint's budget through a permit.

Three kinds of calls (what an endpoint is, and which budget it spends, is its row in
``endpoints.py``):

- **reads** (progress, account, history, prompt check) are idempotent: retried on 429 (after
  ``Retry-After``), 5xx, connection errors and timeouts, with the one backoff of ``_pacing/retry.py``;
- **job-creating POSTs** cost credits: resent only when they cannot have been processed (no
  connection could be made, or the server answered 429 or 503). If the request may have been
  processed (a reset after sending, a read timeout, any other 5xx, a 303, an unreadable 2xx),
  ``SubmissionUncertainError`` is raised and nothing is resent;
- **polls** are one attempt with a permit the scheduler already holds; the scheduler retries.

A ``Retry-After`` longer than ``max_retry_after`` is not waited out by a read or a submission: it
raises ``RateLimitError`` at once (a user's call does not block for an hour). Polls honour any
``Retry-After``: they pause the poll budget. A ``"success": false`` answer to a read or a submission
is a ``RequestRefusedError``. Answers are returned as decoded JSON: the client structures them with
the endpoint's answer model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final, overload

import anyio
import cattrs
import yarl

from imaginepro_async._converters import load_json, parse_timestamp
from imaginepro_async._errors import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SubmissionUncertainError,
)
from imaginepro_async._events.hooks import Emitter
from imaginepro_async._pacing.budget import Budget, Permit, ServerClock
from imaginepro_async._pacing.clock import Clock
from imaginepro_async._pacing.retry import RetryPolicy

from .download import Target, download
from .endpoints import Endpoint
from .exchange import Exchange, MaybeSent, NotSent, Reply
from .telemetry import WireEvents

__all__ = ["BeforeSend", "Sender"]

#: What runs right before a job-creating request leaves, its create permit held (raising refuses
#: it: then nothing is sent). A safe resend of the same request does not run it again.
BeforeSend = Callable[[], Awaitable[None]]

#: Statuses after which a job-creating POST was certainly not processed (the server said so).
_CREATE_RETRY_STATUSES: Final = frozenset({429, 503})
#: Statuses that retried reads get another try after.
_TRANSIENT: Final = (RateLimitError, ServerError, APIConnectionError, ResponseValidationError)


class _WaitTooLong(Exception):
    """The server asked for a wait longer than ``max_retry_after``: give up at once."""

    def __init__(self, error: APIStatusError) -> None:
        self.error = error
        super().__init__(str(error))


class Sender:
    """Sends requests for the client; owns nothing but its settings (the sessions are the client's)."""

    def __init__(
        self,
        *,
        exchange: Exchange,
        budgets: Mapping[str, Budget],
        clock: Clock,
        retry: RetryPolicy,
        rng: random.Random,
        max_retry_after: float,
        converter: cattrs.Converter,
        poll_pacing: str = "answer",
        events: Emitter | None = None,
    ) -> None:
        self._exchange = exchange
        self._events = WireEvents(events or Emitter(), clock)
        self._budgets = budgets
        self._clock = clock
        self.retry = retry
        self.rng = rng
        self._max_retry_after = max_retry_after
        self._converter = converter
        # The server's clock, bounded from the createdAt of past creates: a create's permit then
        # comes back one window after its createdAt, often before its answer (see ``_budget``).
        self.server_clock = ServerClock()
        # "send": a poll's permit comes back one window after it was sent, not answered (opt-in;
        # not provably within the limit: a request slower to arrive can make a rare 429).
        self._polls_by_send = poll_pacing == "send"

    def url(self, path: str) -> yarl.URL:
        """The full URL of an API path."""
        return self._exchange.url(path)

    # -- one attempt -------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: yarl.URL,
        payload: bytes | None,
        budget: Budget,
        permit: Permit | None,
        *,
        fresh: bool = False,
        before: BeforeSend | None = None,
        stamped: bool = False,
        by_send: bool = False,
        row: Endpoint[Any, Any] | None = None,
    ) -> Reply:
        """One exchange holding a permit of ``budget`` (given back if nothing left).

        ``before`` runs once the permit is held, right before the request leaves. With
        ``stamped`` (a create), a 2xx answer's ``createdAt`` may bound when the request arrived;
        with ``by_send`` the permit counts from the send (the opt-in pacing of polls).
        """
        events = self._events
        if permit is None:
            permit = await (budget.acquire() if events.silent else events.acquire(budget, row))
        sent = before is None
        arrived_by = None
        try:
            if before is not None:
                await before()  # it may refuse (raise): then nothing is sent
                sent = True
            started = self._clock.now()
            if by_send:
                arrived_by = started
            if events.silent:
                reply = await self._exchange.send(method, url, payload, fresh=fresh)
            else:
                reply = await events.exchange(self._exchange, method, url, payload, fresh, row)
            if stamped:
                arrived_by = self._arrival(reply, started)
            return reply
        except NotSent:
            sent = False
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await (permit.release(arrived_by=arrived_by) if sent else permit.give_back())

    def _arrival(self, reply: Reply, sent: float) -> float | None:
        """When a create answered by ``reply`` had arrived at the latest, from its createdAt."""
        stamp = _created_at(reply) if reply.status < 300 else None
        if stamp is None:
            return None
        now = self._clock.now()
        clock = self.server_clock
        clock.stamped(sent=sent, answered=now, stamp=stamp)
        return clock.arrived_by(stamp, now=now)

    async def _status_error(
        self,
        reply: Reply,
        method: str,
        url: yarl.URL,
        budget: Budget,
        *,
        capped: bool,
        row: Endpoint[Any, Any] | None = None,
    ) -> APIStatusError:
        """The error of a non-2xx reply; a 429 pauses ``budget`` for its Retry-After first.

        With ``capped``, a Retry-After over ``max_retry_after`` raises ``_WaitTooLong`` instead.
        """
        local = None if reply.retry_after is None else self._clock.local(reply.retry_after)
        error = self._exchange.status_error(reply, method, url, local_wait=local)
        if isinstance(error, RateLimitError):
            if not self._events.silent:
                self._events.rate_limited(method, url, row, reply.retry_after)
            wait = reply.retry_after if reply.retry_after is not None else budget.limit.per
            if capped and wait > self._max_retry_after:
                note = (
                    f" (the server asks to wait {wait:g} s, over max_retry_after="
                    f"{self._max_retry_after:g} s: not waited; try again later)"
                )
                error = self._exchange.status_error(reply, method, url, local_wait=local, note=note)
                raise _WaitTooLong(error)
            await budget.pause(wait)
        return error

    async def _attempt(
        self,
        method: str,
        url: yarl.URL,
        payload: bytes | None,
        budget: Budget,
        permit: Permit | None,
        *,
        capped: bool,
        by_send: bool = False,
        row: Endpoint[Any, Any] | None = None,
    ) -> object:
        """One read: the decoded JSON body, or the mapped error raised."""
        try:
            reply = await self._send(method, url, payload, budget, permit, by_send=by_send, row=row)
        except (NotSent, MaybeSent) as failure:
            raise failure.error from failure.__cause__
        if reply.status >= 300:
            raise await self._status_error(reply, method, url, budget, capped=capped, row=row)
        return self._exchange.decode(reply, method, url)

    # -- the three kinds of calls ----------------------------------------------------------------

    async def poll(
        self, endpoint: Endpoint[Any, Any], permit: Permit | None = None, **params: str
    ) -> object:
        """One attempt at a read (``permit``: already acquired from the endpoint's budget)."""
        if endpoint.creates_job:
            raise TypeError(f"{endpoint.name} creates a job: it is never polled")
        url = self._exchange.url(endpoint.path_for(**params))
        budget = self._budgets[endpoint.budget]
        return await self._attempt(
            endpoint.method,
            url,
            None,
            budget,
            permit,
            capped=False,
            by_send=self._polls_by_send,
            row=endpoint,
        )

    async def _read(
        self,
        endpoint: Endpoint[Any, Any],
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str | int] | None = None,
        **params: str,
    ) -> object:
        """A request that creates nothing, retried on transient failures (see ``RetryPolicy``)."""
        url = self._exchange.url(endpoint.path_for(**params), query)
        payload = None if body is None else _encode(body)
        budget = self._budgets[endpoint.budget]
        for attempt in range(self.retry.attempts):
            try:
                answer = await self._attempt(
                    endpoint.method, url, payload, budget, None, capped=True, row=endpoint
                )
            except _WaitTooLong as too_long:
                raise too_long.error from None
            except _TRANSIENT as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise
                reason = exc
            else:
                refusal = self._exchange.refusal(answer, endpoint.method, url, what="the request")
                if refusal is not None:
                    raise refusal
                return answer
            wait = self.retry.backoff(attempt, self.rng)
            if not self._events.silent:
                self._events.retry(endpoint, url, attempt, reason, wait)
            await self._clock.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(
        self,
        endpoint: Endpoint[Any, Any],
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str | int] | None = None,
        before: BeforeSend | None = None,
        params: Mapping[str, str] | None = None,
    ) -> object:
        """Send ``endpoint``'s request by its row's rules: a job-creating row is resent only when it
        cannot have been processed (``before`` runs right before it leaves); any other is retried
        like a read. ``params`` fill the path's placeholders. Returns the decoded JSON answer."""
        if endpoint.creates_job:
            if body is None or query or params:
                raise TypeError(f"{endpoint.name} creates a job: it takes a body and nothing else")
            return await self._create(endpoint, body, before)
        if before is not None:
            raise TypeError(f"{endpoint.name} creates nothing: there is no send to run before")
        return await self._read(endpoint, body=body, query=query, **(params or {}))

    async def _create(
        self, endpoint: Endpoint[Any, Any], body: Mapping[str, Any], before: BeforeSend | None
    ) -> object:
        """POST a job-creating ``body``; resent only when it cannot have been processed."""
        url = self._exchange.url(endpoint.path_for())
        payload = _encode(body)
        budget = self._budgets[endpoint.budget]
        before = _once(before)  # a safe resend is the same submission
        for attempt in range(self.retry.attempts):
            try:
                reply = await self._send(
                    "POST",
                    url,
                    payload,
                    budget,
                    None,
                    fresh=True,
                    before=before,
                    stamped=True,
                    row=endpoint,
                )
            except NotSent as failure:
                if attempt + 1 >= self.retry.attempts:
                    raise failure.error from failure.__cause__
                wait = self.retry.backoff(attempt, self.rng)
                if not self._events.silent:
                    self._events.retry(endpoint, url, attempt, failure.error, wait)
                await self._clock.sleep(wait)
                continue
            except MaybeSent as failure:
                raise _uncertain(failure.reason, url, body) from failure.error
            except ResponseValidationError as exc:
                raise _uncertain("the answer could not be read", url, body) from exc
            if reply.status < 300:
                return self._accepted(reply, url, body)
            if reply.status == 404 and endpoint.fallback is not None:
                # Not found: nothing was processed there; the row's documented path takes it.
                return await self._create(endpoint.fallback, body, before)
            try:
                error = await self._status_error(
                    reply, "POST", url, budget, capped=True, row=endpoint
                )
            except _WaitTooLong as too_long:
                raise too_long.error from None
            if reply.status == 303 or (
                reply.status >= 500 and reply.status not in _CREATE_RETRY_STATUSES
            ):
                # A 500, a gateway's 502/504 or a "see other" does not say whether a job was made.
                raise _uncertain(
                    f"the server answered {reply.status} ({error.message})", url, body
                ) from error
            if reply.status not in _CREATE_RETRY_STATUSES or attempt + 1 >= self.retry.attempts:
                raise error
            limited = isinstance(error, RateLimitError)  # it waits in its budget's pause
            wait = 0.0 if limited else self.retry.backoff(attempt, self.rng)
            if not self._events.silent:
                self._events.retry(endpoint, url, attempt, error, wait)
            if not limited:
                await self._clock.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _accepted(self, reply: Reply, url: yarl.URL, body: Mapping[str, Any]) -> object:
        try:
            answer = self._exchange.decode(reply, "POST", url)
        except ResponseValidationError as exc:
            raise _uncertain(
                "the server accepted it but its answer could not be read", url, body
            ) from exc
        refusal = self._exchange.refusal(answer, "POST", url, what="the job")
        if refusal is not None:
            raise refusal
        return answer

    @overload
    async def download(
        self, url: str, *, max_bytes: int, prefix_only: bool = False, to: None = None
    ) -> bytes: ...
    @overload
    async def download(
        self, url: str, *, max_bytes: int, prefix_only: bool = False, to: Target
    ) -> Path: ...
    async def download(
        self, url: str, *, max_bytes: int, prefix_only: bool = False, to: Target | None = None
    ) -> bytes | Path:
        """GET an image (a result on the CDN) into memory or a file; see ``_download.download``.

        The API key is sent only to the API's own host, never to a CDN or another host.
        """
        if not self._events.silent:
            return await self._events.download(self._download, url, max_bytes, prefix_only, to)
        return await self._download(url, max_bytes, prefix_only, to)

    async def _download(
        self, url: str, max_bytes: int, prefix_only: bool, to: Target | None
    ) -> bytes | Path:
        return await download(
            self._exchange.session,
            url,
            max_bytes=max_bytes,
            to=to,
            prefix_only=prefix_only,
            headers=self._exchange.credentials_for(url),
            timeout=self._exchange.timeout,
            retry=self.retry,
            clock=self._clock,
            rng=self.rng,
        )


def _once(callback: BeforeSend | None) -> BeforeSend | None:
    if callback is None:
        return None
    pending = [callback]

    async def run() -> None:
        if pending:
            await pending.pop()()

    return run


def _created_at(reply: Reply) -> float | None:
    """The ``createdAt`` of a create's answer, in seconds since the epoch (None: absent).

    Read by the converters' one timestamp rule (``parse_timestamp``: a naive time is UTC).
    """
    try:
        body = load_json(reply.raw)
    except ValueError:
        return None
    stamp = parse_timestamp(body.get("createdAt")) if isinstance(body, dict) else None
    return None if stamp is None else stamp.timestamp()


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _uncertain(reason: str, url: yarl.URL, body: Mapping[str, Any]) -> SubmissionUncertainError:
    return SubmissionUncertainError(reason, method="POST", url=str(url), payload=body)
