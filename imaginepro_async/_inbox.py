"""The client's side of webhooks: its own webhook URL and token, and what a delivery makes it do.

ImaginePro signs nothing, so the client makes its webhook URL unguessable itself: every job it
creates (when ``webhook_base`` is set) carries ``?token=<per-client token>``, and a receiver refuses
deliveries without it. Even with the token, a delivery is only a hint: it can make the scheduler
fetch the job at once (per job at most once per ``PollPolicy.hint_interval``, and for all jobs at
most ``hint_limit``), never tell waiters anything itself.
"""

from __future__ import annotations

import enum
import hmac
import os
import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING

import yarl

from ._errors import InvalidInputError
from ._pacing.budget import RateLimit
from ._pacing.clock import Clock
from ._validation import short
from ._wire.exchange import Secret

if TYPE_CHECKING:
    from ._models import Message
    from ._scheduling.scheduler import Scheduler

__all__ = ["Inbox", "Outcome"]

#: The query parameter that carries the token in the webhook URL.
TOKEN_PARAM = "token"
_MIN_TOKEN = 16
_REFS_KEPT = 10_000


class Outcome(enum.Enum):
    """What one delivery did."""

    FETCHED = "fetched"  # the job is fetched at once
    NOTED = "noted"  # a followed job: its deliveries keep polls away, no fetch now
    LIMITED = "limited"  # a fetch was due but the rate limit on hints said no
    UNKNOWN = "unknown"  # no job of this client has that messageId or ref


class _Bucket:
    """A token bucket in API seconds: ``limit.requests`` hints per ``limit.per``, bursts included."""

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self._limit = limit
        self._clock = clock
        self._tokens = float(limit.requests)
        self._at: float | None = None  # the clock needs a running loop: read at the first take

    def take(self) -> bool:
        now = self._clock.now()
        rate = self._limit.requests / self._limit.per
        elapsed = 0.0 if self._at is None else now - self._at
        self._tokens = min(float(self._limit.requests), self._tokens + elapsed * rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


def _check_base(base: object) -> yarl.URL:
    url = yarl.URL(base) if isinstance(base, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise InvalidInputError(
            f"webhook_base must be the http(s) URL your webhook route is reachable at, got "
            f"{short(base)}"
        )
    if TOKEN_PARAM in url.query:
        raise InvalidInputError(
            f"webhook_base must not carry ?{TOKEN_PARAM}=: the client adds its own token"
        )
    return url


def _check_token(token: object) -> str:
    ok = isinstance(token, str) and len(token) >= _MIN_TOKEN and token.isascii()
    if not ok or not all(ch.isalnum() or ch in "-_." for ch in str(token)):
        raise InvalidInputError(
            f"webhook_token must be at least {_MIN_TOKEN} letters, digits, '-', '_' or '.'; "
            "make one with secrets.token_urlsafe(32)"
        )
    return str(token)


class Inbox:
    """The webhook URL of one client and the hints its deliveries give its scheduler.

    Args:
        base: where the app's webhook route is reachable from ImaginePro (None: no webhooks).
        token: the secret put in the URL; default ``IMAGINEPRO_WEBHOOK_TOKEN``, else a fresh one.
            Several processes behind one route must share it.
        clock: the client's clock.
        hint_limit: at most this many fetches at once for deliveries, over all jobs.
    """

    def __init__(
        self, base: str | None, token: str | None, *, clock: Clock, hint_limit: RateLimit
    ) -> None:
        self.base = None if base is None else _check_base(base)
        token = token if token is not None else os.environ.get("IMAGINEPRO_WEBHOOK_TOKEN")
        self._token = Secret(secrets.token_urlsafe(32) if token is None else _check_token(token))
        self._bucket = _Bucket(hint_limit, clock)
        self._refs: OrderedDict[str, str] = OrderedDict()
        self._url: str | None = None

    @property
    def token(self) -> Secret:
        """The token (a ``Secret``: scrubbed from answers like the key)."""
        return self._token

    def url(self) -> str:
        """The webhook URL with this client's token (``InvalidInputError`` without a base)."""
        if self.base is None:
            raise InvalidInputError(
                "this client has no webhook URL: pass webhook_base='https://your.app/webhook' to "
                "ImagineProClient"
            )
        if self._url is None:
            self._url = str(self.base.update_query({TOKEN_PARAM: self._token.reveal()}))
        return self._url

    def owns(self, url: str | None) -> bool:
        """True when ``url`` is this client's webhook URL (its jobs then expect deliveries)."""
        return url is not None and self.base is not None and url == self.url()

    def accepts(self, token: str | None) -> bool:
        """True when ``token`` is this client's (compared in constant time)."""
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self._token.reveal().encode())

    def remember(self, ref: str | None, message_id: str) -> None:
        """A job created with ``ref``: a delivery with that ref and an unknown id reaches it."""
        if ref is None:
            return
        self._refs[ref] = message_id
        self._refs.move_to_end(ref)
        while len(self._refs) > _REFS_KEPT:
            self._refs.popitem(last=False)

    def deliver(self, message: Message, scheduler: Scheduler) -> Outcome:
        """Route one delivery (already authenticated) to the job it names, by messageId or ref."""
        final = message.is_terminal
        for message_id in (message.message_id, self._refs.get(message.ref or "")):
            if not message_id or not scheduler.follows(message_id):
                continue
            # Only a fetch the job's own limit allows spends a token: forged ids cost nothing.
            if scheduler.hint(message_id, final=final, allow=self._bucket.take):
                return Outcome.FETCHED
            return Outcome.LIMITED if final else Outcome.NOTED
        return Outcome.UNKNOWN
