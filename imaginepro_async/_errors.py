"""The exceptions of imaginepro-async.

Everything the SDK raises on purpose derives from :class:`ImagineProError`::

    ImagineProError
    ├── APIStatusError                 the server answered, and said no (status, body, method, URL)
    │   ├── RequestRefusedError        200 with ``"success": false``: refused, with the reason
    │   ├── RedirectError              3xx: API calls never follow redirects (``location``)
    │   ├── BadRequestError            400: a parameter was refused
    │   │   └── PromptRefusedError     ... the prompt (blocked words): nothing created or charged
    │   ├── AuthenticationError        401: bad or missing key, or not enough credits
    │   ├── NotFoundError              404: unknown messageId
    │   ├── RequestTooLargeError       413: the request body was too large
    │   ├── RateLimitError             429: a rate limit was exceeded (``retry_after``)
    │   └── ServerError                5xx: the server or its gateway failed
    ├── APIConnectionError             the server could not be reached, or the connection broke
    │   └── APITimeoutError            ... because a timeout passed (also a TimeoutError)
    ├── ResponseValidationError        the server answered something we cannot understand
    ├── JobError                       about one job (carries ``message_id`` and the last Message)
    │   ├── JobFailedError             the job ended FAIL
    │   │   └── JobCancelledError      ... after this client pressed Cancel Job on it
    │   ├── JobTimeoutError            a wait deadline passed (also a TimeoutError)
    │   └── JobDeadlineError           the job did not end by its server-side timeout; given up
    ├── SubmissionUncertainError       a job-creating request may or may not have been processed
    ├── SubmissionCancelledError       a queued submission was cancelled before it was sent
    ├── ClientClosedError              the client was used after it was closed
    ├── CoordinationError              the shared budget's store (Redis) failed; nothing was sent
    ├── JournalBusyError               another process holds the batch journal (also a RuntimeError)
    ├── JournalWriteError              the batch journal could not be written (also an OSError)
    │   └── JournalLostError           ... it was deleted, moved or replaced under the run
    ├── ExtraNotInstalledError         an optional extra is needed (also a ModuleNotFoundError)
    └── InvalidInputError              bad input, refused before anything was sent (also a ValueError)
        ├── InvalidMaskError           the mask is not a usable black-and-white image
        ├── BatchInputError            a batch's input has bad lines (strict mode)
        ├── CreditLimitError           a batch would need more credits than allowed or available
        ├── JournalMismatchError       the journal was made from another input
        └── NotAJournalError           the journal path holds a file that is not a batch journal

Errors of the layers underneath (aiohttp, asyncio, json) never escape: they are translated into
one of the above, with the original chained as ``__cause__``. Server text quoted in an error has
every ``Bearer ...`` credential, anything shaped like an API key (``sk-...``) and any ``token=``
query value (the webhook token) blotted out, plain or URL-encoded (the client also removes its own
key and token, whatever their shape, from every answer as it arrives).

``InputProblem`` (one input line that is not a valid request, what ``BatchInputError`` carries)
is defined here too, so that this module stays the bottom of the package (it names nothing of it
but ``_models.Message``, for types).

It is over 500 lines on purpose: the tree is one module, read whole (as httpx's
``_exceptions.py``), and the status mapping and the key redaction belong with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, AnyStr, Final, TypeVar, cast
from urllib.parse import quote, quote_plus

import attrs

if TYPE_CHECKING:
    from ._models import Message

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchInputError",
    "ClientClosedError",
    "CoordinationError",
    "CreditLimitError",
    "ExtraNotInstalledError",
    "ImagineProError",
    "InputProblem",
    "InvalidInputError",
    "InvalidMaskError",
    "JobCancelledError",
    "JobDeadlineError",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "JournalBusyError",
    "JournalLostError",
    "JournalMismatchError",
    "JournalWriteError",
    "NotAJournalError",
    "NotFoundError",
    "PromptRefusedError",
    "RateLimitError",
    "RedirectError",
    "RequestRefusedError",
    "RequestTooLargeError",
    "ResponseValidationError",
    "ServerError",
    "SubmissionCancelledError",
    "SubmissionUncertainError",
    "redact",
    "secret_forms",
    "status_error",
]

_BODY_PREVIEW = 500
#: Credentials a server may echo back (a gateway's debug page quoting the request headers, a
#: query string quoting the webhook URL), plain or URL-encoded (``%20`` or ``+`` for a space, hex
#: in either case): ``Bearer <anything>``, ``sk-...`` keys, and the value of a ``token=`` query
#: parameter (the webhook token).
_CREDENTIALS: Final = re.compile(
    r"(?i)(bearer(?:\s|%20|\+)+)(?:%[0-9a-f]{2}|[^\s\"'<>,;&%])+"
    r"|(?:\b|(?<=%[0-9a-f]{2}))sk-[A-Za-z0-9_\-]{8,}"
    r"|((?:[?&;]|%3f|%26|&amp;)token(?:=|%3d))[^%&#\s\"'<>\\]+"
)
_CREDENTIALS_BYTES: Final = re.compile(_CREDENTIALS.pattern.encode())
_BLOT: Final = "********"
_Body = TypeVar("_Body")


def redact(text: AnyStr) -> AnyStr:
    """``text`` with every ``Bearer ...`` credential, ``sk-...`` key and ``token=`` query value
    blotted out, also URL-encoded."""
    if isinstance(text, bytes):
        return _CREDENTIALS_BYTES.sub(
            lambda m: (m.group(1) or m.group(2) or b"") + _BLOT.encode(), text
        )
    return _CREDENTIALS.sub(lambda m: (m.group(1) or m.group(2) or "") + _BLOT, text)


def secret_forms(secret: str) -> tuple[str, ...]:
    """The spellings of ``secret`` a server may echo: as is, and URL-encoded (path or query
    style, ``%20`` or ``+``, upper- or lower-case hex), longest first."""
    forms = {secret}
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms.update((encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)))
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def _redact_value(value: object) -> object:
    """A JSON-like value with ``redact`` applied to every string in it."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def _redact_body(body: _Body) -> _Body:
    if isinstance(body, str):
        return cast(_Body, redact(body))
    if isinstance(body, bytes):
        return cast(_Body, redact(body))
    return body


def _preview(body: object) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) <= _BODY_PREVIEW else text[:_BODY_PREVIEW] + "…"


class ImagineProError(Exception):
    """The base class of every error this SDK raises on purpose."""


class InvalidInputError(ImagineProError, ValueError):
    """A value given to the SDK was refused before any request was sent.

    The message names the value and says what to do instead.
    """


class InvalidMaskError(InvalidInputError):
    """The mask is not a usable black-and-white image (format, size, content, or encoding)."""


class ExtraNotInstalledError(ImagineProError, ModuleNotFoundError):
    """An optional dependency is missing; the message says which extra to install.

    Attributes:
        extra: the name of the extra, e.g. ``"masks"``.
    """

    def __init__(
        self, purpose: str, *, extra: str = "masks", package: str = "Pillow", module: str = "PIL"
    ) -> None:
        self.extra = extra
        super().__init__(
            f"{purpose} needs {package}, which is not installed: "
            f"pip install 'imaginepro-async[{extra}]'",
            name=module,
        )


class ClientClosedError(ImagineProError, RuntimeError):
    """The client was used after ``aclose()`` or after its ``async with`` block ended."""


class CoordinationError(ImagineProError):
    """The store of a shared budget (Redis) could not be reached or refused a command.

    Raised after retrying for a while; the request that needed a permit was **not** sent, since
    spending without the shared budget could trip the rate limits for every process on the key.
    """


class APIStatusError(ImagineProError):
    """The server answered with an error status.

    Attributes:
        status: the HTTP status code.
        message: the server's explanation (its ``message`` field, lists joined), or the reason.
        body: the decoded JSON body, or the raw text when it was not JSON.
        method: the request's method.
        url: the request's URL (never carries the API key, which travels in a header).
    """

    def __init__(self, *, status: int, message: str, body: object, method: str, url: str) -> None:
        self.status = status
        self.message = redact(message)
        self.body = _redact_body(body)
        self.method = method
        self.url = url
        super().__init__(self._describe())

    def _describe(self) -> str:
        return f"{self.method} {self.url} answered {self.status}: {self.message}"


class RequestRefusedError(APIStatusError):
    """The server answered 200 but ``"success": false``: it refused; ``message`` is its reason.

    For a job-creating request this is a refusal (nothing was created), never an uncertainty.
    """


class RedirectError(APIStatusError):
    """3xx: the API answered with a redirect, which API calls never follow (the key would go along).

    Attributes:
        location: where it pointed (absolute, host included), or None if it did not say.
    """

    def __init__(
        self,
        *,
        status: int,
        message: str,
        body: object,
        method: str,
        url: str,
        location: str | None,
    ) -> None:
        self.location = location
        super().__init__(status=status, message=message, body=body, method=method, url=url)


class BadRequestError(APIStatusError, ValueError):
    """400: the server refused a parameter; ``message`` says which."""


class PromptRefusedError(BadRequestError):
    """The server refused the prompt itself (its blocked words, its moderator) when the job was to
    be created: nothing was created, nothing was charged.

    Sent as a 400 (a 403 or 422 saying the same is mapped here too); ``message`` is the server's
    reason. A batch records the request as failed with it; sending the same prompt again is
    refused again.
    """

    def _describe(self) -> str:
        return (
            f"{self.method} {self.url} refused the prompt ({self.status}): {self.message}. "
            "Nothing was created or charged; rephrase the prompt (client.check_prompt(prompt) "
            "says whether a prompt passes)"
        )


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong, or the account cannot pay for the job.

    ``insufficient_credits`` tells the two apart: top up the account, or fix the key.
    """

    @property
    def insufficient_credits(self) -> bool:
        """True when the server said the account has too few credits for the job."""
        return "credit" in self.message.lower()

    def _describe(self) -> str:
        hint = (
            "top up the account's credits before submitting more jobs"
            if self.insufficient_credits
            else "check the API key (IMAGINEPRO_API_KEY or api_key=...)"
        )
        return f"{super()._describe()} ({hint})"


class NotFoundError(APIStatusError):
    """404: the server does not know that messageId."""


class RequestTooLargeError(APIStatusError, ValueError):
    """413: the request body was too large (usually the mask); send a smaller image."""


class RateLimitError(APIStatusError):
    """429: a rate limit was exceeded. ``retry_after`` is the server's wait, in seconds, if given."""

    def __init__(
        self,
        *,
        status: int,
        message: str,
        body: object,
        method: str,
        url: str,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status=status, message=message, body=body, method=method, url=url)


class ServerError(APIStatusError):
    """5xx: the server or a gateway in front of it failed."""


class APIConnectionError(ImagineProError):
    """The server could not be reached, or the connection broke before a full answer came.

    Attributes:
        method: the request's method.
        url: the request's URL.
    """

    def __init__(self, message: str, *, method: str, url: str) -> None:
        self.method = method
        self.url = url
        super().__init__(message)


class APITimeoutError(APIConnectionError, TimeoutError):
    """A request took longer than its timeout."""


class ResponseValidationError(ImagineProError):
    """The server's answer could not be understood (not JSON, wrong types, too large).

    Attributes:
        body: the raw body (possibly truncated) that could not be understood.
        method: the request's method.
        url: the request's URL.
    """

    def __init__(self, message: str, *, body: str | bytes, method: str, url: str) -> None:
        self.body = _redact_body(body)
        self.method = method
        self.url = url
        super().__init__(f"{redact(message)} ({method} {url}; body: {_preview(self.body)})")


class JobError(ImagineProError):
    """An error about one job. Carries its ``message_id`` and the last ``Message`` seen (or None)."""

    def __init__(self, text: str, *, message_id: str, message: Message | None) -> None:
        self.message_id = message_id
        self.message = message
        super().__init__(text)


class JobFailedError(JobError):
    """The job ended with status FAIL; ``error`` is the server's reason."""

    def __init__(self, *, message_id: str, message: Message) -> None:
        self.error = message.error or "no reason given"
        super().__init__(
            f"job {message_id} failed: {self.error}", message_id=message_id, message=message
        )


class JobTimeoutError(JobError, TimeoutError):
    """A wait for a job (or several) passed its deadline. The jobs go on on the server; await again.

    Raised by ``job.wait(timeout=...)``, ``gather(..., timeout=...)`` and
    ``as_completed(..., timeout=...)``; ``message_id`` and ``message`` name the first job that had
    not finished.

    Attributes:
        elapsed: seconds waited.
        polls: progress requests made for that job so far.
        pending: the messageIds of every job that had not finished.
    """

    def __init__(
        self,
        *,
        message_id: str,
        message: Message | None,
        elapsed: float,
        polls: int,
        pending: Sequence[str] = (),
        waited_for: int = 1,
    ) -> None:
        self.elapsed = elapsed
        self.polls = polls
        self.pending = tuple(pending) or (message_id,)
        last = "never seen" if message is None else f"last seen {message.status}"
        if waited_for > 1:
            text = (
                f"gave up waiting after {elapsed:.1f} s: {len(self.pending)} of {waited_for} jobs "
                f"had not finished (the first, {message_id}, {last}); they go on on the server: "
                "await them again"
            )
        else:
            text = (
                f"gave up waiting for job {message_id} after {elapsed:.1f} s and {polls} polls "
                f"({last}); the job goes on on the server: await it again, or use "
                f"client.job({message_id!r}) later"
            )
        super().__init__(text, message_id=message_id, message=message)


class JobDeadlineError(JobError):
    """The job was still not ended well after its server-side timeout, so it is no longer followed.

    The server ends every job by its timeout; one that still shows another status (an unknown one,
    for example) would otherwise be polled forever.

    Attributes:
        waited: API seconds the job was followed.
    """

    def __init__(self, *, message_id: str, message: Message | None, waited: float) -> None:
        self.waited = waited
        last = "never seen" if message is None else f"still {message.status}"
        super().__init__(
            f"job {message_id} was {last} {waited:.0f} s after it was submitted or first "
            f"followed, past its server-side timeout; it is no longer followed: look at it later "
            f"with client.fetch({message_id!r})",
            message_id=message_id,
            message=message,
        )


class SubmissionUncertainError(ImagineProError):
    """A job-creating request may have reached the server, but no answer came back.

    The job may exist (and may have been charged). It was **not** resent, so that it is never paid
    for twice. The account's history of the last 24 hours (``client.history()``) lists jobs with their
    prompt, button and creation time (not their ``ref``): look there for it, or resend it yourself if
    you accept the risk. Batches record such requests as *uncertain* and resend them only on request.

    Attributes:
        reason: why no answer came (a lost connection, a 5xx, an unusable answer).
        method: the request's method.
        url: the request's URL.
        payload: the JSON body that was sent (credentials such as the webhook token blotted out;
            the message shortens the mask).
    """

    def __init__(self, reason: str, *, method: str, url: str, payload: Mapping[str, Any]) -> None:
        self.reason = reason
        self.method = method
        self.url = url
        # The client's webhook token (in webhookOverride) authenticates deliveries: it stays out
        # of the payload kept here too, which users log and pickle.
        # (Not the mask: its base64 may spell "bearer+..." by chance, and it is kept whole.)
        self.payload: dict[str, Any] = {
            key: value if key == "mask" else _redact_value(value) for key, value in payload.items()
        }
        # The mask is base64 of an image: name it, do not put it in users' logs.
        shown = {
            k: (f"<{len(v)} characters of base64>" if k == "mask" and isinstance(v, str) else v)
            for k, v in self.payload.items()
        }
        super().__init__(
            f"{method} {url} may have been processed, but no answer came ({reason}); it was not "
            f"resent, to avoid paying twice. Check the account's recent jobs (client.history()) "
            f"before resending. "
            f"Request: {json.dumps(shown, ensure_ascii=False)[:_BODY_PREVIEW]}"
        )


class SubmissionCancelledError(ImagineProError):
    """A submission queued with ``client.enqueue`` was cancelled before it was sent: nothing was
    sent, nothing was paid."""

    def __init__(self, submission_id: str) -> None:
        self.submission_id = submission_id
        super().__init__(
            f"submission {submission_id} was cancelled before it was sent; nothing was sent or paid"
        )


class JobCancelledError(JobFailedError):
    """The job ended FAIL after this client pressed ``Cancel Job`` on it."""


@attrs.frozen(kw_only=True)
class InputProblem:
    """An input line that is not a valid request: where it is and why.

    Attributes:
        line: the line number (1-based), or None when unknown.
        reason: what is wrong, as a sentence to act on.
        ref: the line's ``ref`` if it could be read.
    """

    line: int | None
    reason: str
    ref: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "a request"
        return f"{where}: {self.reason}"


class BatchInputError(InvalidInputError):
    """Some input lines are not valid requests, and ``strict`` refuses to start.

    Attributes:
        problems: every problem found, in input order.
    """

    def __init__(self, problems: Sequence[InputProblem]) -> None:
        self.problems = tuple(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(
            f"{len(self.problems)} input lines are not valid requests; nothing was submitted. "
            f"Fix them, or run without --strict to submit the others:\n{shown}{more}"
        )


class CreditLimitError(InvalidInputError):
    """A batch would need more credits than its ``max_credits``, or than the account has.

    Nothing was submitted. Attributes: ``needed`` (an estimate from the SDK's price table) and
    ``available`` (the cap or the account's balance).
    """

    def __init__(self, message: str, *, needed: int, available: int) -> None:
        self.needed = needed
        self.available = available
        super().__init__(message)


class JournalMismatchError(InvalidInputError):
    """The journal was made from another input; refused so that results are not mixed up.

    Attributes:
        missing: keys in the journal that the input no longer has (a few of them).
        changed: keys whose request differs from the one the journal recorded (a few of them).
    """

    def __init__(self, text: str, *, missing: Sequence[str], changed: Sequence[str]) -> None:
        self.missing = tuple(missing)
        self.changed = tuple(changed)
        super().__init__(text)


class JournalBusyError(ImagineProError, RuntimeError):
    """Another process is running a batch on this journal (or the file cannot be opened)."""


class NotAJournalError(InvalidInputError):
    """The journal path holds a file that is not a batch journal (empty, damaged, or foreign).

    It is never overwritten: only a path where no file exists starts a new journal.
    """


class JournalWriteError(ImagineProError, OSError):
    """The batch journal could not be written (disk full, file size limit, I/O error).

    The batch stops at once: what the journal holds is still true, and a rerun resumes from it.

    Attributes:
        path: the journal's path.
        message_id: a job created whose messageId could not be recorded, if any.
    """

    def __init__(self, text: str, *, path: str, message_id: str | None = None) -> None:
        self.path = path
        self.message_id = message_id
        super().__init__(text)


class JournalLostError(JournalWriteError):
    """The batch journal's file was deleted, moved, replaced or overwritten while a batch ran.

    The batch stops at once. A copy of the journal as the run left it is saved beside the path
    (``run.db.saved-<time>``) when it can be; the message names it and the rerun that pays for
    nothing twice (never a rerun on the file now at the path, which would send again requests
    already paid for).
    """


#: How a refusal of the prompt itself reads: ImaginePro's "forbidden: The prompt has blocked words",
#: Midjourney's "Banned prompt detected" and "Our AI moderator thinks this prompt is probably
#: against our community standards" (third-party sources; see the API contract).
_PROMPT_REFUSED: Final = re.compile(
    r"(?i)\bblocked words?\b|\bbanned (?:prompt|words?)\b|\bban words?\b|\bAI moderator\b"
    r"|\bcommunity standards\b"
)
_PROMPT_REFUSED_STATUSES: Final = frozenset({400, 403, 422})

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    413: RequestTooLargeError,
    429: RateLimitError,
}


def status_error(
    *,
    status: int,
    message: str,
    body: object,
    method: str,
    url: str,
    retry_after: float | None = None,
    location: str | None = None,
) -> APIStatusError:
    """Map a status code to the right exception class (the one place that does)."""
    if 300 <= status < 400:
        return RedirectError(
            status=status, message=message, body=body, method=method, url=url, location=location
        )
    if status == 429:
        return RateLimitError(
            status=status,
            message=message,
            body=body,
            method=method,
            url=url,
            retry_after=retry_after,
        )
    cls = _STATUS_CLASSES.get(status)
    if status in _PROMPT_REFUSED_STATUSES and _PROMPT_REFUSED.search(message):
        cls = PromptRefusedError
    if cls is None:
        cls = ServerError if status >= 500 else APIStatusError
    return cls(status=status, message=message, body=body, method=method, url=url)
