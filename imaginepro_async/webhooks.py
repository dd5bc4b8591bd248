"""Receive ImaginePro's webhooks in a web app: an aiohttp handler, a plain ASGI app, a parser.

ImaginePro POSTs a job's Message to its ``webhookOverride`` URL when the job ends (and, as seen in
real traffic, while it runs), **without any signature**. So a delivery is treated as a hint, never
as the truth: it makes the client that follows the job fetch it at once (within the poll budget,
rate-limited per job and in total), and it is the fetched Message that wakes waiters. A forged
delivery can cost at most one poll.

The client authenticates deliveries itself: with ``ImagineProClient(webhook_base=...)`` every job it
creates carries ``webhookOverride=<webhook_base>?token=<secret>`` (see ``client.webhook_url()``), and
the receiver refuses any delivery without a valid token (403) before reading its body::

    client = ImagineProClient(webhook_base="https://my.app/imaginepro/webhook")
    app.router.add_post("/imaginepro/webhook", aiohttp_handler(client))   # aiohttp
    fastapi_app.add_route("/imaginepro/webhook", asgi_app(client), methods=["POST"])  # FastAPI

Route the receiver at the exact path of ``webhook_base``. Do not ``mount`` it in Starlette or
FastAPI: a mount at ``/imaginepro/webhook`` answers that path with a 307 redirect to
``/imaginepro/webhook/``, and a sender that does not follow redirects loses every delivery
(silently: polling takes over).

The token travels in the URL's query, so servers write it in their access logs: install
``WebhookTokenFilter`` on the access logger (``uvicorn.access``, ``aiohttp.access``) to blot it out.

Answers: 403 without a valid token, 413 for a body over ``max_body_bytes``, 400 for a body that
is not a Message (not UTF-8 JSON, nested deeper than 64 levels, a number of over 100 characters,
no messageId...), 405 for another method than POST, and 200 otherwise, also for a job no client
follows (ImaginePro must not retry it forever; counted in ``receiver.stats.unknown``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import attrs
from aiohttp import web

from ._converters import load_json, make_converter, structure
from ._errors import ImagineProError, InvalidInputError, ResponseValidationError, redact
from ._inbox import TOKEN_PARAM, Outcome
from ._models import Message

if TYPE_CHECKING:
    from ._client import ImagineProClient

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "WebhookASGIApp",
    "WebhookReceiver",
    "WebhookStats",
    "WebhookTokenFilter",
    "aiohttp_handler",
    "asgi_app",
    "parse_webhook",
]

#: The largest delivery accepted by default (a Message is a few kilobytes).
DEFAULT_MAX_BODY_BYTES: Final = 256 * 1024

_CONVERTER = make_converter()

#: Reads a body of at most ``limit`` bytes; None when it is longer.
BodyReader = Callable[[int], Awaitable[bytes | None]]


def parse_webhook(body: bytes | str | Mapping[str, Any]) -> Message:
    """A webhook body as a ``Message``, as leniently as the progress endpoint's answers are read.

    Args:
        body: the raw body (bytes or text) or its decoded JSON object.

    Raises:
        ResponseValidationError: the body is not UTF-8 JSON (or has a lone surrogate, is nested
            deeper than 64 levels, or has a number of over 100 characters), or not a Message (it
            has no messageId, say).
    """
    data: object = body
    try:
        if isinstance(body, bytes | str):
            # Strict UTF-8 first: json would let encoded surrogates through ("surrogatepass").
            data = load_json(body.decode() if isinstance(body, bytes) else body)
        # A lone surrogate (escaped as \ud800) is no text a sender can mean: refused too.
        json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, TypeError, RecursionError) as exc:  # not UTF-8 JSON, or past the bounds
        shown = body[:200] if isinstance(body, bytes | str) else body
        raise ResponseValidationError(
            f"the webhook body is not UTF-8 JSON ({exc})",
            body=repr(shown)[:300],
            method="POST",
            url="webhook",
        ) from None if isinstance(exc, RecursionError) else exc
    message: Message = structure(_CONVERTER, data, Message, method="POST", url="webhook")
    return message


class WebhookTokenFilter(logging.Filter):
    """A logging filter that blots webhook tokens (and API keys) out of log records.

    Access logs write each request's URL, query included, so every delivery would put the token
    in them. Install it on the access logger of your server::

        logging.getLogger("uvicorn.access").addFilter(WebhookTokenFilter())
        logging.getLogger("aiohttp.access").addFilter(WebhookTokenFilter())

    It rewrites the record's message, its arguments (keeping their shape, which uvicorn's access
    formatter needs) and any text attribute (aiohttp's ``first_request_line``, say): every
    ``token=`` query value, ``Bearer`` credential and ``sk-...`` key, also URL-encoded, becomes
    ``********``. It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        for name, value in list(vars(record).items()):
            if isinstance(value, str) and name != "msg":
                setattr(record, name, redact(value))
        return True


def _redact_arg(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value)
    return value


@attrs.define
class WebhookStats:
    """What a receiver saw, by outcome (every delivery is counted once)."""

    fetched: int = 0  # a job fetched at once because of it
    noted: int = 0  # a followed job's progress delivery: noted, no fetch
    limited: int = 0  # a fetch refused by the per-job or total rate limit
    unknown: int = 0  # no client follows that job (answered 200)
    refused: int = 0  # no valid token (403)
    too_large: int = 0  # over max_body_bytes (413)
    invalid: int = 0  # not JSON, or not a Message (400)


class WebhookReceiver:
    """Checks, parses and routes deliveries to the clients that follow their jobs.

    Most apps use ``aiohttp_handler`` or ``asgi_app``, which wrap one of these.

    Args:
        clients: the clients whose jobs' deliveries arrive here (each with ``webhook_base`` set,
            or its token given as ``webhook_token``).
        max_body_bytes: larger bodies are refused with 413.
    """

    def __init__(
        self,
        clients: ImagineProClient | Iterable[ImagineProClient],
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        from ._client import ImagineProClient

        self.clients = (clients,) if isinstance(clients, ImagineProClient) else tuple(clients)
        if not self.clients:
            raise InvalidInputError("a webhook receiver needs at least one ImagineProClient")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise InvalidInputError(f"max_body_bytes must be an int, got {max_body_bytes!r}")
        if max_body_bytes < 1:
            raise InvalidInputError(f"max_body_bytes must be ≥ 1, got {max_body_bytes}")
        self.max_body_bytes = max_body_bytes
        self.stats = WebhookStats()

    async def receive(self, token: str | None, read: BodyReader) -> tuple[int, str]:
        """Handle one delivery: its HTTP status and a short text answer."""
        clients = [client for client in self.clients if client._core.inbox.accepts(token)]
        if not clients:
            self.stats.refused += 1
            return 403, "forbidden: no valid token"
        body = await read(self.max_body_bytes)
        if body is None:
            self.stats.too_large += 1
            return 413, f"too large: over {self.max_body_bytes} bytes"
        try:
            message = parse_webhook(body)
        except ResponseValidationError:
            self.stats.invalid += 1
            return 400, "bad request: not a Message"
        outcome = Outcome.UNKNOWN
        for client in clients:
            try:
                outcome = await client._core.deliver(message)
            except ImagineProError:  # that client is closed: it follows nothing any more
                continue
            if outcome is not Outcome.UNKNOWN:
                break
        setattr(self.stats, outcome.value, getattr(self.stats, outcome.value) + 1)
        return 200, "ok"

    async def aiohttp(self, request: web.Request) -> web.Response:
        """The ``aiohttp.web`` handler: ``app.router.add_post(path, receiver.aiohttp)``."""
        if request.method != "POST":
            return web.Response(status=405, text="method not allowed: POST only")

        async def read(limit: int) -> bytes | None:
            return await _read_aiohttp(request, limit)

        status, text = await self.receive(request.query.get(TOKEN_PARAM), read)
        return web.Response(status=status, text=text)


# -- aiohttp -------------------------------------------------------------------------------------


async def _read_aiohttp(request: web.Request, limit: int) -> bytes | None:
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def aiohttp_handler(
    clients: ImagineProClient | Iterable[ImagineProClient] | WebhookReceiver,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An ``aiohttp.web`` handler for webhook deliveries: ``router.add_post(path, handler)``.

    To read its counters, make a ``WebhookReceiver`` and add its ``aiohttp`` method instead.
    """
    return _receiver(clients, max_body_bytes).aiohttp


def _receiver(
    clients: ImagineProClient | Iterable[ImagineProClient] | WebhookReceiver, max_body_bytes: int
) -> WebhookReceiver:
    if isinstance(clients, WebhookReceiver):
        return clients
    return WebhookReceiver(clients, max_body_bytes=max_body_bytes)


# -- ASGI ----------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class WebhookASGIApp:
    """A plain ASGI 3 app receiving deliveries (no framework needed); see ``asgi_app``."""

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"the webhook app serves HTTP only, not {scope['type']!r}")
        if scope["method"] != "POST":
            await _answer(send, 405, "method not allowed: POST only")
            return
        token = _query_token(scope.get("query_string", b""))

        async def read(limit: int) -> bytes | None:
            return await _read_asgi(scope, receive, limit)

        status, text = await self.receiver.receive(token, read)
        await _answer(send, status, text)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _query_token(query: bytes) -> str | None:
    values = parse_qs(query.decode("latin-1")).get(TOKEN_PARAM)
    return values[0] if values else None


async def _read_asgi(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length" and value.isdigit() and int(value) > limit:
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = event.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not event.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(body)),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def asgi_app(
    clients: ImagineProClient | Iterable[ImagineProClient] | WebhookReceiver,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> WebhookASGIApp:
    """A plain ASGI app for webhook deliveries, to route in FastAPI/Starlette or serve alone.

    ``fastapi_app.add_route("/imaginepro/webhook", asgi_app(client), methods=["POST"])`` (a route,
    not a mount, which would redirect); its ``receiver.stats`` counts.
    """
    return WebhookASGIApp(_receiver(clients, max_body_bytes))
