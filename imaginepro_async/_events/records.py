"""The events a client emits, as frozen records (what ``ClientHooks`` methods receive).

Every duration is in seconds of this process (real seconds; against a simulator with a
``time_scale`` they are that many times shorter than the API seconds the server counts). No
event carries the API key, the webhook token, a request body or a query string: URLs are the
API's paths on its host, and download URLs lose their query (a CDN's signature).
"""

from __future__ import annotations

import attrs

__all__ = [
    "BudgetWaited",
    "JobEnded",
    "JobPolled",
    "JobSubmitted",
    "RateLimited",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
    "SubmissionFailed",
    "SubmissionHeld",
    "SubmissionResumed",
    "SubmissionStarted",
]


@attrs.frozen(kw_only=True)
class RequestSent:
    """A request is about to leave (every attempt, polls and downloads included).

    Attributes:
        method: ``GET``, ``POST``, ``PUT``.
        endpoint: its row of the wire table (``imagine``, ``button``, ``message``, ...) or
            ``download``.
        url: where it goes, without the query string.
        poll: True for a read of a job's progress (the scheduler's polls, from its own task,
            and ``client.fetch``).
    """

    method: str
    endpoint: str
    url: str
    poll: bool = False


@attrs.frozen(kw_only=True)
class ResponseReceived:
    """An attempt ended: the server answered (``status``) or it failed (``error``).

    Attributes:
        method, endpoint, url, poll: as in ``RequestSent``.
        status: the HTTP status; None when there was no answer (a connection error, a timeout).
        duration: seconds from sending to the answer (or the failure).
        error: the failure's exception class (``APIConnectionError``, ...) when there was no
            answer, else None (a 4xx/5xx is a ``status``).
    """

    method: str
    endpoint: str
    url: str
    status: int | None
    duration: float
    error: str | None = None
    poll: bool = False


@attrs.frozen(kw_only=True)
class RetryScheduled:
    """A failed attempt of a read or a safe resend of a submission is tried again after ``wait``.

    Attributes:
        method, endpoint, url: as in ``RequestSent``.
        attempt: the attempt that failed (1 for the first).
        reason: the failure (``RateLimitError``, ``ServerError``, ``APIConnectionError``, ...).
        wait: seconds before the next attempt (a 429 waits in its budget's pause instead: 0).
    """

    method: str
    endpoint: str
    url: str
    attempt: int
    reason: str
    wait: float


@attrs.frozen(kw_only=True)
class RateLimited:
    """The server answered 429: the budget ``budget`` pauses.

    Attributes:
        method, endpoint, url, poll: as in ``RequestSent``.
        budget: ``create`` (job-creating and other general requests) or ``poll`` (progress).
        retry_after: the ``Retry-After`` the server asked for, in seconds (None: none sent).
    """

    method: str
    endpoint: str
    url: str
    budget: str
    retry_after: float | None
    poll: bool = False


@attrs.frozen(kw_only=True)
class BudgetWaited:
    """A permit of a budget was taken after waiting ``wait`` seconds (0: at once).

    Attributes:
        budget: ``create`` or ``poll``.
        wait: seconds spent waiting for the permit.
    """

    budget: str
    wait: float


@attrs.frozen(kw_only=True)
class SubmissionHeld:
    """A submission waits before it is sent: the jobs ahead would keep it queued too long.

    Attributes:
        kind: the job's endpoint, or the button pressed (``Vary (Region)``).
        reason: why it waits (as ``client.submission_hold``).
    """

    kind: str | None
    reason: str


@attrs.frozen(kw_only=True)
class SubmissionResumed:
    """A held submission goes on (or gives up: the client closed) after ``waited`` seconds."""

    kind: str | None
    waited: float


@attrs.frozen(kw_only=True)
class SubmissionStarted:
    """A job-creating call starts its submission (checked; admission and budget still ahead).

    Its end is a ``JobSubmitted`` or a ``SubmissionFailed``, in the same task; the requests, waits
    and retries in between are this submission's.

    Attributes:
        endpoint: the row it is sent through (``imagine``, ``button``, ``flux_imagine``, ...).
        kind: the endpoint, or the button pressed (``Vary (Region)`` for an inpaint).
        model: the model asked for, when the request names one.
    """

    endpoint: str
    kind: str
    model: str | None


@attrs.frozen(kw_only=True)
class JobSubmitted:
    """The server took a job-creating request and answered its messageId.

    Attributes:
        message_id: the new job's id.
        endpoint: the row it was sent through (``imagine``, ``button``, ``flux_imagine``, ...).
        kind: the endpoint, or the button pressed (``Vary (Region)`` for an inpaint).
        model: the model asked for, when the request names one.
        cost: the credits it costs (an estimate from the price table).
        duration: seconds from the submission's start (admission, budget, retries) to its answer.
    """

    message_id: str
    endpoint: str
    kind: str
    model: str | None
    cost: int | None
    duration: float


@attrs.frozen(kw_only=True)
class SubmissionFailed:
    """A submission ended without a messageId (refused, uncertain, cancelled, client closed).

    Attributes:
        endpoint, kind, model, duration: as in ``JobSubmitted``.
        error: the exception's class name (``SubmissionUncertainError``: it may exist all the same).
    """

    endpoint: str
    kind: str
    model: str | None
    duration: float
    error: str


@attrs.frozen(kw_only=True)
class JobPolled:
    """The scheduler looked at a followed job.

    Attributes:
        message_id: the job.
        poll: how many times this client has polled it (this one included).
        status: the status seen (``QUEUED``, ``PROCESSING``, ``DONE``, ``FAIL``); None if the poll
            failed.
        progress: the progress seen (0-100), if any.
        error: the failure's exception class when the poll failed.
        duration: seconds the poll took.
    """

    message_id: str
    poll: int
    status: str | None
    progress: int | None
    duration: float
    error: str | None = None


@attrs.frozen(kw_only=True)
class JobEnded:
    """The client stopped following a job: it ended, failed, timed out, or the client closed.

    Attributes:
        message_id: the job.
        status: its final status (``DONE``, ``FAIL``), None if it was never seen ending.
        error: the exception its waiters get (``JobFailedError``, ``JobCancelledError``,
            ``JobDeadlineError``, ``ClientClosedError``, ...), None for a job done.
        polls: how many times this client polled it.
        duration: seconds it was followed (from its submission, or from ``client.job``).
        detection_lag: at most how many seconds its end went unseen: from the last look that saw it
            unfinished to the look that saw it end (None: never seen unfinished).
        credits: what it cost, if this client submitted it (an estimate).
    """

    message_id: str
    status: str | None
    error: str | None
    polls: int
    duration: float
    detection_lag: float | None
    credits: int | None
