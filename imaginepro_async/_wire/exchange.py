"""One exchange with the API: headers, one attempt, capped read, JSON decode, errors translated.

Nothing above this module sees aiohttp. An attempt ends in one of three ways:

- a ``Reply`` (the server answered: any status);
- ``NotSent``: the request never left (no connection could be made, or the session is closed), so
  it is safe to send again;
- ``MaybeSent``: the request may have reached the server (a reset after sending, a timeout), so a
  job-creating request must not be sent again.

API calls never follow redirects: the key would travel to wherever a 3xx points, and the answer
there would be blamed on the key. A 3xx is a ``RedirectError`` naming where it pointed. Every answer
has the API key and the webhook token blotted out as it arrives (also URL-encoded), so that no server text can put it into an exception, a
repr or a log line (a gateway's debug page that echoes the request headers, for example).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Final

import aiohttp
import attrs
import yarl

from imaginepro_async._converters import load_json, parse_timestamp
from imaginepro_async._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RequestRefusedError,
    ResponseValidationError,
    redact,
    secret_forms,
    status_error,
)

__all__ = [
    "Exchange",
    "MaybeSent",
    "NotSent",
    "Reply",
    "Secret",
    "error_message",
    "parse_retry_after",
    "status_phrase",
]

logger = logging.getLogger("imaginepro_async")

_BLOT: Final = b"********"


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


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (never negative); None if unreadable.

    Seconds (whole or not) or an HTTP date; garbage, NaN and infinity are None.
    """
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = parse_timestamp(value)
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


#: Status phrases ("Bad Request", "Forbidden"...): an ``error`` or ``message`` that is only one of
#: these names the status, not the reason.
_PHRASES: Final = frozenset(status.phrase.lower() for status in HTTPStatus) | {"error"}


def status_phrase(status: int) -> str:
    """The standard phrase of an HTTP status ("Bad Request"), or "" for an unknown one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def error_message(body: object, reason: str) -> str:
    """The most specific reason an error body gives, on one line.

    A NestJS body puts it in ``message`` (a string, or a list of them: joined with "; ") and the
    status phrase in ``error``; other servers put the reason in ``error``. Whichever of the two is
    more than a status phrase is the reason; if both are and differ, both are shown. A text body is
    its first 300 characters; an empty one, ``reason``.
    """
    if isinstance(body, Mapping):
        message, error = _one_line(body.get("message")), _one_line(body.get("error"))
        specific = [text for text in (error, message) if text and text.lower() not in _PHRASES]
        if len(specific) == 2 and specific[0] in specific[1]:
            specific = specific[1:]
        elif len(specific) == 2 and specific[1] in specific[0]:
            specific = specific[:1]
        if specific:
            return ": ".join(specific)
        if message or error:
            return message or error
    if isinstance(body, str) and body.strip():
        return " ".join(body.split())[:300]
    return reason or "no reason given"


def _one_line(value: object) -> str:
    """A body field as one line of text (a list joined with "; "; nothing for None)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(text for text in map(_one_line, value) if text)
    return " ".join(str(value).split())


def _refused(body: object) -> bool:
    """True for an answer that says ``"success": false`` (the boolean, or the string in any case)."""
    if not isinstance(body, Mapping):
        return False
    success = body.get("success")
    return success is False or (isinstance(success, str) and success.strip().lower() == "false")


@attrs.frozen
class Reply:
    """What the server answered: status, body (the key blotted out), and the headers we use.

    ``retry_after`` is in the server's (API) seconds; ``location`` is absolute.
    """

    status: int
    raw: bytes
    retry_after: float | None
    location: str | None


class NotSent(Exception):
    """The request never left: safe to resend."""

    def __init__(self, error: APIConnectionError) -> None:
        self.error = error
        super().__init__(str(error))


class MaybeSent(Exception):
    """The request may have reached the server."""

    def __init__(self, error: APIConnectionError, reason: str) -> None:
        self.error = error
        self.reason = reason
        super().__init__(str(error))


class Exchange:
    """Single HTTP exchanges with the API; owns nothing but its settings (sessions are the client's)."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        create_session: aiohttp.ClientSession | None = None,
        base_url: yarl.URL,
        api_key: Secret,
        timeout: float,
        max_response_bytes: int,
        also_secret: Sequence[Secret] = (),
    ) -> None:
        self.session = session
        # Job-creating requests go over a fresh connection each: a pooled one the server has just
        # closed would lose the request in a way we could not tell from a lost answer.
        self._create_session = create_session or session
        self.base_url = base_url
        # Scrubbed from every answer, in every spelling a server may echo them (also URL-encoded).
        self._secrets = tuple(
            form.encode()
            for secret in (api_key, *also_secret)
            for form in secret_forms(secret.reveal())
        )
        self._headers = {
            "Authorization": f"Bearer {api_key.reveal()}",
            "Accept": "application/json",
            "User-Agent": "imaginepro-async",
        }
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        self._max_response_bytes = max_response_bytes

    def url(self, path: str, query: Mapping[str, str | int] | None = None) -> yarl.URL:
        """The full URL of an API path."""
        url = self.base_url.join(yarl.URL(path))
        return url.with_query(query) if query else url

    def credentials_for(self, url: str) -> dict[str, str]:
        """The Authorization header for ``url`` if it is the API's own origin, else nothing."""
        if yarl.URL(url).origin() == self.base_url.origin():
            return {"Authorization": self._headers["Authorization"]}
        return {}

    async def send(
        self, method: str, url: yarl.URL, payload: bytes | None, *, fresh: bool = False
    ) -> Reply:
        """One exchange (``fresh``: over a connection of its own). Raises ``NotSent``/``MaybeSent``."""
        session = self._create_session if fresh else self.session
        headers = self._headers
        if payload is not None:
            headers = {**headers, "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            async with session.request(
                method,
                url,
                data=payload,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            ) as response:
                raw = self.scrub(await self._read_capped(response, method, url))
                location = response.headers.get("Location")
                if location:  # a redirect may quote the key too (RedirectError.location)
                    location = redact(self.scrub(location.encode()).decode("utf-8", "replace"))
                reply = Reply(
                    status=response.status,
                    raw=raw,
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    location=str(url.join(yarl.URL(location))) if location else None,
                )
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            failure = self._failure(exc, method, url, session)
            if failure is None:
                raise
            raise failure from exc
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %d in %.1f ms", method, url.path, reply.status, elapsed)
        return reply

    def _failure(
        self, exc: Exception, method: str, url: yarl.URL, session: aiohttp.ClientSession
    ) -> NotSent | MaybeSent | None:
        """What a failed exchange means for resending it; None: not ours to translate."""
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return NotSent(
                APIConnectionError(
                    f"could not connect to {url.host}:{url.port}: {exc}; check base_url and the "
                    "network",
                    method=method,
                    url=str(url),
                )
            )
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            return MaybeSent(
                APITimeoutError(
                    f"{method} {url} got no complete answer within {self.timeout.total} s",
                    method=method,
                    url=str(url),
                ),
                "the answer timed out",
            )
        if isinstance(exc, RuntimeError):
            if not session.closed:
                return None
            return NotSent(
                APIConnectionError(
                    "the aiohttp session given to the client is closed; keep it open while the "
                    "client is in use",
                    method=method,
                    url=str(url),
                )
            )
        return MaybeSent(
            APIConnectionError(
                f"{method} {url} failed: the connection broke ({type(exc).__name__}: {exc})",
                method=method,
                url=str(url),
            ),
            f"the connection broke ({type(exc).__name__})",
        )

    def scrub(self, raw: bytes) -> bytes:
        """``raw`` with the key and the token blotted out, whatever their spelling."""
        for secret in self._secrets:
            raw = raw.replace(secret, _BLOT)
        return raw

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
                    body=self.scrub(b"".join(chunks)[:500]),
                    method=method,
                    url=str(url),
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def decode(self, reply: Reply, method: str, url: yarl.URL) -> object:
        """The JSON body (an error's non-JSON text as a string); a 2xx that is not JSON is refused."""
        try:
            return load_json(reply.raw)
        except ValueError as exc:
            if reply.status < 300:
                raise ResponseValidationError(
                    f"the response is not JSON ({exc})",
                    body=reply.raw[:2000],
                    method=method,
                    url=str(url),
                ) from exc
            return reply.raw.decode("utf-8", "replace")

    def status_error(
        self, reply: Reply, method: str, url: yarl.URL, *, local_wait: float | None, note: str = ""
    ) -> APIStatusError:
        """The typed error of a non-2xx reply (``local_wait``: Retry-After in the user's seconds).

        ``note`` is added to the server's message (what the client did about it).
        """
        # Credentials of any kind that the server echoes stay out of the error, body included.
        body = self.decode(attrs.evolve(reply, raw=redact(reply.raw)), method, url)
        if 300 <= reply.status < 400:
            message = (
                f"redirected to {reply.location or 'nowhere (no Location header)'}; API calls do not "
                "follow redirects: check base_url"
            )
        else:
            message = error_message(body, status_phrase(reply.status))
        return status_error(
            status=reply.status,
            message=message + note,
            body=body,
            method=method,
            url=str(url),
            retry_after=local_wait,
            location=reply.location,
        )

    @staticmethod
    def refusal(body: object, method: str, url: yarl.URL, *, what: str) -> APIStatusError | None:
        """A ``RequestRefusedError`` for a 2xx answer saying ``"success": false``, else None."""
        if not _refused(body):
            return None
        reason = error_message(body, "no reason given")
        return RequestRefusedError(
            status=200,
            message=f"the server did not accept {what}: {reason}",
            body=body,
            method=method,
            url=str(url),
        )
