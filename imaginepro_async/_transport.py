"""The wire: URLs, headers, status-code mapping, safe retries. Nothing above this sees aiohttp.

Two kinds of calls:

- **reads** (progress, account, history) are idempotent: retried on 429 (after ``Retry-After``),
  5xx, connection errors and timeouts, with exponential backoff and full jitter;
- **job-creating POSTs** cost credits: resent only when they cannot have been processed (no
  connection could be made, or the server answered 429 or 503). If the request may have been
  processed (a reset after sending, a read timeout, any other 5xx, an unreadable 2xx),
  ``SubmissionUncertainError`` is raised and nothing is resent.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
import anyio
import cattrs
import yarl

from ._budget import Budget, Permit, spend
from ._clock import Clock
from ._converters import describe_structure_error
from ._download import download
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SubmissionUncertainError,
    status_error,
)
from ._retry import RetryPolicy

__all__ = ["RetryPolicy", "Secret", "Transport"]

logger = logging.getLogger("imaginepro_async")

#: Statuses after which a job-creating POST was certainly not processed (the server said so).
_CREATE_RETRY_STATUSES: Final = frozenset({429, 503})


class Secret:
    """An API key that never shows itself in a repr, a log line or an exception."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(body: object, reason: str) -> str:
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, list):
            return "; ".join(str(item) for item in message)
        if message:
            return str(message)
        if body.get("error"):
            return str(body["error"])
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return reason or "no reason given"


class _Reply:
    __slots__ = ("body", "raw", "retry_after", "status")

    def __init__(self, status: int, raw: bytes, retry_after: float | None) -> None:
        self.status = status
        self.raw = raw
        self.retry_after = retry_after
        self.body: object = None


class Transport:
    """Sends requests for the client; owns nothing but its settings (the session is the client's)."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        create_session: aiohttp.ClientSession | None = None,
        base_url: yarl.URL,
        api_key: Secret,
        converter: cattrs.Converter,
        timeout: float,
        max_response_bytes: int,
        clock: Clock,
        retry: RetryPolicy,
        rng: random.Random,
    ) -> None:
        self._session = session
        # Job-creating requests go over a fresh connection each: a pooled one the server has just
        # closed would lose the request in a way we could not tell from a lost answer.
        self._create_session = create_session or session
        self._base_url = base_url
        self._headers = {
            "Authorization": f"Bearer {api_key.reveal()}",
            "Accept": "application/json",
            "User-Agent": "imaginepro-async",
        }
        self._converter = converter
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        self._max_response_bytes = max_response_bytes
        self._clock = clock
        self.retry = retry
        self.rng = rng

    def url(self, path: str) -> yarl.URL:
        """The full URL of an API path."""
        return self._base_url.join(yarl.URL(path))

    # -- one attempt -------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: yarl.URL,
        payload: bytes | None,
        session: aiohttp.ClientSession | None = None,
    ) -> _Reply:
        """One HTTP exchange. Raises ``_NotSent`` or ``_MaybeSent`` for transport failures."""
        headers = self._headers
        if payload is not None:
            headers = {**headers, "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            async with (session or self._session).request(
                method, url, data=payload, headers=headers, timeout=self._timeout
            ) as response:
                raw = await self._read_capped(response, method, url)
                reply = _Reply(
                    response.status, raw, _retry_after(response.headers.get("Retry-After"))
                )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise _NotSent(
                APIConnectionError(
                    f"could not connect to {url.host}:{url.port}: {exc}; check base_url and the "
                    "network",
                    method=method,
                    url=str(url),
                )
            ) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise _MaybeSent(
                APITimeoutError(
                    f"{method} {url} got no complete answer within {self._timeout.total} s",
                    method=method,
                    url=str(url),
                ),
                "the answer timed out",
            ) from exc
        except RuntimeError as exc:
            if not (session or self._session).closed:
                raise
            raise _NotSent(
                APIConnectionError(
                    "the aiohttp session given to the client is closed; keep it open while the "
                    "client is in use",
                    method=method,
                    url=str(url),
                )
            ) from exc
        except aiohttp.ClientError as exc:
            raise _MaybeSent(
                APIConnectionError(
                    f"{method} {url} failed: the connection broke ({type(exc).__name__}: {exc})",
                    method=method,
                    url=str(url),
                ),
                f"the connection broke ({type(exc).__name__})",
            ) from exc
        logger.debug(
            "%s %s -> %d in %.1f ms",
            method,
            url.path,
            reply.status,
            (time.perf_counter() - started) * 1000,
        )
        return reply

    async def _read_capped(
        self, response: aiohttp.ClientResponse, method: str, url: yarl.URL
    ) -> bytes:
        limit = self._max_response_bytes
        if response.content_length is not None and response.content_length > limit:
            raise ResponseValidationError(
                f"the response announces {response.content_length} bytes, over the "
                f"{limit}-byte cap",
                body=b"",
                method=method,
                url=str(url),
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > limit:
                raise ResponseValidationError(
                    f"the response is over the {limit}-byte cap",
                    body=b"".join(chunks)[:500],
                    method=method,
                    url=str(url),
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, reply: _Reply, method: str, url: yarl.URL) -> object:
        try:
            return json.loads(reply.raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            if reply.status < 400:
                raise ResponseValidationError(
                    f"the response is not JSON ({exc})",
                    body=reply.raw[:2000],
                    method=method,
                    url=str(url),
                ) from exc
            return reply.raw.decode("utf-8", "replace")

    def _status_error(self, reply: _Reply, method: str, url: yarl.URL) -> APIStatusError:
        body = self._decode(reply, method, url)
        # Users read it in their own seconds; budgets take the server's (API) seconds.
        retry_after = None if reply.retry_after is None else self._clock.local(reply.retry_after)
        return status_error(
            status=reply.status,
            message=_error_message(body, ""),
            body=body,
            method=method,
            url=str(url),
            retry_after=retry_after,
        )

    async def attempt(
        self,
        method: str,
        path: str,
        budget: Budget,
        *,
        permit: Permit | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> object:
        """One read through ``budget``: the decoded JSON body, or the mapped error raised.

        With ``permit`` the caller already acquired it from ``budget``; it is released here.
        """
        url = self.url(path)
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        if permit is None:
            permit = await budget.acquire()
        try:
            reply = await self._send(method, url, payload)
        except (_NotSent, _MaybeSent) as failure:
            raise failure.error from failure.__cause__
        finally:
            with anyio.CancelScope(shield=True):
                await permit.release()
        if reply.status >= 400:
            error = self._status_error(reply, method, url)
            if isinstance(error, RateLimitError):
                await budget.pause(
                    reply.retry_after if reply.retry_after is not None else budget.limit.per
                )
            raise error
        return self._decode(reply, method, url)

    # -- with retries ---------------------------------------------------------------------------

    async def read(
        self, path: str, budget: Budget, *, body: Mapping[str, Any] | None = None
    ) -> object:
        """GET ``path`` (or POST ``body``, for requests that create nothing) through ``budget``,
        retrying transient failures (see ``RetryPolicy``)."""
        method = "GET" if body is None else "POST"
        for attempt in range(self.retry.attempts):
            try:
                return await self.attempt(method, path, budget, body=body)
            except (RateLimitError, ServerError, APIConnectionError, ResponseValidationError):
                if attempt + 1 >= self.retry.attempts:
                    raise
            await self._clock.sleep(self.retry.backoff(attempt, self.rng))
        raise AssertionError("unreachable")  # pragma: no cover

    async def create(self, path: str, body: Mapping[str, Any], budget: Budget) -> object:
        """POST a job-creating ``body``; resent only when it cannot have been processed."""
        url = self.url(path)
        payload = json.dumps(body, ensure_ascii=False).encode()
        for attempt in range(self.retry.attempts):
            try:
                async with spend(budget):
                    reply = await self._send("POST", url, payload, self._create_session)
            except _NotSent as failure:
                if attempt + 1 >= self.retry.attempts:
                    raise failure.error from failure.__cause__
                await self._clock.sleep(self.retry.backoff(attempt, self.rng))
                continue
            except _MaybeSent as failure:
                raise SubmissionUncertainError(
                    failure.reason, method="POST", url=str(url), payload=body
                ) from failure.error
            except ResponseValidationError as exc:
                raise SubmissionUncertainError(
                    "the answer could not be read", method="POST", url=str(url), payload=body
                ) from exc
            if reply.status < 400:
                try:
                    return self._decode(reply, "POST", url)
                except ResponseValidationError as exc:
                    raise SubmissionUncertainError(
                        "the server accepted it but its answer could not be read",
                        method="POST",
                        url=str(url),
                        payload=body,
                    ) from exc
            error = self._status_error(reply, "POST", url)
            if reply.status >= 500 and reply.status not in _CREATE_RETRY_STATUSES:
                # A 500 or a gateway's 502/504 does not say whether the job was created.
                raise SubmissionUncertainError(
                    f"the server answered {reply.status} ({error.message})",
                    method="POST",
                    url=str(url),
                    payload=body,
                ) from error
            if reply.status not in _CREATE_RETRY_STATUSES or attempt + 1 >= self.retry.attempts:
                raise error
            if isinstance(error, RateLimitError):
                await budget.pause(
                    reply.retry_after if reply.retry_after is not None else budget.limit.per
                )
            else:
                await self._clock.sleep(self.retry.backoff(attempt, self.rng))
        raise AssertionError("unreachable")  # pragma: no cover

    async def download(self, url: str, *, max_bytes: int, prefix_only: bool = False) -> bytes:
        """GET an image (a result on the CDN) into memory; see ``_download.download``.

        The API key is sent only to the API's own host, never to a CDN or another host.
        """
        headers = {}
        if yarl.URL(url).origin() == self._base_url.origin():
            headers["Authorization"] = self._headers["Authorization"]
        return await download(
            self._session,
            url,
            max_bytes=max_bytes,
            prefix_only=prefix_only,
            headers=headers,
            timeout=self._timeout,
        )

    def structure(self, data: object, cls: type[Any], method: str, path: str) -> Any:
        """Turn decoded JSON into ``cls``, or raise ``ResponseValidationError``."""
        try:
            return self._converter.structure(data, cls)
        except Exception as exc:
            raise ResponseValidationError(
                describe_structure_error(exc, cls),
                body=json.dumps(data, ensure_ascii=False, default=str)[:2000],
                method=method,
                url=str(self.url(path)),
            ) from exc


class _NotSent(Exception):
    """The request never left: safe to resend."""

    def __init__(self, error: APIConnectionError) -> None:
        self.error = error
        super().__init__(str(error))


class _MaybeSent(Exception):
    """The request may have reached the server."""

    def __init__(self, error: APIConnectionError, reason: str) -> None:
        self.error = error
        self.reason = reason
        super().__init__(str(error))
