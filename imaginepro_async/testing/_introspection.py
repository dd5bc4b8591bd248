"""Introspection: what the simulator lets tests and benchmarks see (the request log, job
timelines, per-body counts, webhook attempts, statistics; frozen, times in simulated seconds),
how a job's timeline is read from the engine, and the Recorder that keeps the log and the
counters behind them."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, deque
from typing import Any

import attrs

from ._engine import Job


@attrs.frozen(kw_only=True)
class RequestRecord:
    """One request the simulator received (admin routes excluded).

    ``time`` is when it was handled, in simulated seconds: the instant the rate limiter counted
    it (after any ``slow`` fault delay). ``status`` is None when a fault dropped the connection;
    ``fault`` names the fault; ``api_key`` is None when the request was not authenticated.
    """

    time: float
    method: str
    path: str
    endpoint: str
    status: int | None
    api_key: str | None = None
    fault: str | None = None


@attrs.frozen(kw_only=True)
class JobTimeline:
    """The server-side life of one job, in simulated seconds since the simulator started.

    A job is queued at ``created``; ``started`` is when it got a slot (None if it never did);
    ``finished`` is when it became DONE or FAIL (None while it runs).
    """

    message_id: str
    api_key: str
    endpoint: str
    button: str | None
    ref: str | None
    parent_id: str | None
    created: float
    started: float | None
    finished: float | None
    status: str
    progress: int
    error: str | None
    credits: int


@attrs.frozen(kw_only=True)
class BodyCount:
    """How many jobs one exact request body created (to catch duplicate submissions).

    ``body`` is the canonical JSON of the request (sorted keys); strings over 120 characters (masks)
    are shown as ``<N chars sha256:...>``.
    """

    endpoint: str
    body: str
    count: int
    message_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class WebhookAttempt:
    """One attempt to deliver a webhook: ``status`` is the receiver's answer, None on error.

    ``duplicate`` marks the second delivery of a webhook made by ``WebhookFaults.duplicate``.
    """

    message_id: str
    url: str
    event: str  # "progress" or "final"
    attempt: int
    time: float
    status: int | None
    error: str | None
    delivered: bool
    payload: dict[str, Any]
    duplicate: bool = False


@attrs.frozen(kw_only=True)
class Stats:
    """Counters since the start or the last :meth:`Simulator.reset_counters`."""

    requests: int
    by_status: dict[int, int]
    by_endpoint: dict[str, int]
    rate_limited: int
    faults: int
    jobs_created: int
    credits_spent: int


def job_timeline(job: Job, now: float) -> JobTimeline:
    """The timeline of ``job`` as it stands at simulated time ``now``."""
    return JobTimeline(
        message_id=job.message_id,
        api_key=job.account.api_key,
        endpoint=job.endpoint,
        button=job.button,
        ref=job.ref,
        parent_id=job.parent_id,
        created=job.created,
        started=job.started,
        finished=job.finished,
        status=job.status,
        progress=job.progress(now),
        error=job.error,
        credits=job.charged,
    )


def to_json(value: object) -> dict[str, Any]:
    """One of the frozen values above as JSON-ready data (for the admin routes)."""
    data: dict[str, Any] = attrs.asdict(value, recurse=False)  # type: ignore[arg-type]
    for key, value in data.items():
        if isinstance(value, tuple):
            data[key] = list(value)
        elif isinstance(value, dict) and value and isinstance(next(iter(value)), int):
            data[key] = {str(k): v for k, v in value.items()}
    return data


class Recorder:
    """The counters behind the introspection API (reset by :meth:`reset`)."""

    def __init__(self, log_size: int | None) -> None:
        self.log_size = log_size
        self.requests: deque[RequestRecord] = deque(maxlen=log_size)
        self.total = 0
        self.by_status: Counter[int] = Counter()
        self.by_endpoint: Counter[str] = Counter()
        self.rate_limited = 0
        self.faults = 0
        self.jobs_created = 0
        self.per_ref: Counter[str] = Counter()
        self.per_body: dict[bytes, tuple[str, str, list[str]]] = {}
        self.webhooks: list[WebhookAttempt] = []

    def request(self, record: RequestRecord) -> None:
        """Log one request."""
        if self.log_size != 0:
            self.requests.append(record)
        self.total += 1
        self.by_endpoint[record.endpoint] += 1
        if record.status is not None:
            self.by_status[record.status] += 1
            if record.status == 429:
                self.rate_limited += 1
        if record.fault is not None:
            self.faults += 1

    def job(self, endpoint: str, body: dict[str, Any], ref: str | None, message_id: str) -> None:
        """Count a created job by its ``ref`` and by its exact request body."""
        self.jobs_created += 1
        if ref is not None:
            self.per_ref[ref] += 1
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.blake2b(f"{endpoint} {canonical}".encode(), digest_size=16).digest()
        entry = self.per_body.get(digest)
        if entry is None:
            shown = json.dumps(
                _abbreviate(body), sort_keys=True, ensure_ascii=False, separators=(",", ":")
            )
            self.per_body[digest] = (endpoint, shown, [message_id])
        else:
            entry[2].append(message_id)

    def bodies(self, min_count: int) -> list[BodyCount]:
        """Jobs per identical body, most repeated first."""
        found = [
            BodyCount(endpoint=ep, body=shown, count=len(ids), message_ids=tuple(ids))
            for ep, shown, ids in self.per_body.values()
            if len(ids) >= min_count
        ]
        found.sort(key=lambda b: -b.count)
        return found

    def reset(self) -> None:
        """Forget every counter and log."""
        self.requests.clear()
        self.total = self.rate_limited = self.faults = self.jobs_created = 0
        self.by_status.clear()
        self.by_endpoint.clear()
        self.per_ref.clear()
        self.per_body.clear()
        self.webhooks.clear()


def _abbreviate(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 120:
        return f"<{len(value)} chars sha256:{hashlib.sha256(value.encode()).hexdigest()[:16]}>"
    if isinstance(value, dict):
        return {k: _abbreviate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_abbreviate(v) for v in value]
    return value
