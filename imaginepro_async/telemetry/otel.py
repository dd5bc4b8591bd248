"""``OpenTelemetryHooks``: the client's public hooks turned into OpenTelemetry spans and metrics.

A job is one span, from the start of its submission to the moment the client saw it end (or
stopped following it): the submission's requests are its child spans, budget waits, holds and
retries its events, and every poll an event (``poll``: status, progress). Its attributes follow
the GenAI semantic conventions where they fit (``gen_ai.operation.name``, ``gen_ai.provider.name``
and the older ``gen_ai.system``, ``gen_ai.request.model``, ``gen_ai.response.id``: the messageId),
the rest is under ``imaginepro.*``. Requests outside a submission (downloads, reads) are spans of
their own in the caller's context; polls, sent by the scheduler's task, are only events and
metrics (a span per poll would bury the trace).

Times: the spans are in real time. With a simulator's ``time_scale``, durations are that many
times shorter than the API seconds the server counts.
"""

from __future__ import annotations

import contextvars
import time
from typing import Final

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from imaginepro_async._events.hooks import ClientHooks
from imaginepro_async._events.records import (
    BudgetWaited,
    JobEnded,
    JobPolled,
    JobSubmitted,
    RateLimited,
    ResponseReceived,
    RetryScheduled,
    SubmissionFailed,
    SubmissionHeld,
    SubmissionResumed,
    SubmissionStarted,
)

__all__ = ["METRICS", "OpenTelemetryHooks"]

SCOPE: Final = "imaginepro_async"
PROVIDER: Final = "imaginepro"

#: The metrics recorded: name → (instrument, unit, what it measures and its attributes).
METRICS: Final[dict[str, tuple[str, str, str]]] = {
    "imaginepro.request.duration": (
        "histogram",
        "s",
        "every attempt of every request, polls and downloads included (http.request.method, "
        "imaginepro.endpoint, http.response.status_code, error.type)",
    ),
    "imaginepro.budget.wait": (
        "histogram",
        "s",
        "time to get a permit of a budget; its count is the budget's use (imaginepro.budget)",
    ),
    "imaginepro.rate_limited": (
        "counter",
        "{response}",
        "429 answers (imaginepro.budget, imaginepro.endpoint)",
    ),
    "imaginepro.retries": (
        "counter",
        "{retry}",
        "attempts tried again (imaginepro.endpoint, error.type)",
    ),
    "imaginepro.submissions.held": (
        "updowncounter",
        "{submission}",
        "submissions waiting for the account's queue to drain (imaginepro.kind)",
    ),
    "imaginepro.jobs.active": (
        "updowncounter",
        "{job}",
        "jobs submitted by this client and followed, not ended yet: the queue depth",
    ),
    "imaginepro.jobs.submitted": (
        "counter",
        "{job}",
        "jobs the server took (imaginepro.kind, gen_ai.request.model)",
    ),
    "imaginepro.credits": (
        "counter",
        "{credit}",
        "credits the submitted jobs cost, estimated from the price table (imaginepro.kind)",
    ),
    "imaginepro.submissions.failed": (
        "counter",
        "{submission}",
        "submissions that got no messageId (imaginepro.kind, error.type)",
    ),
    "imaginepro.jobs.ended": (
        "counter",
        "{job}",
        "jobs no longer followed (imaginepro.status, error.type)",
    ),
    "imaginepro.job.duration": (
        "histogram",
        "s",
        "how long each job was followed (imaginepro.status, error.type)",
    ),
    "imaginepro.job.polls": (
        "histogram",
        "{poll}",
        "polls each job took (imaginepro.status)",
    ),
    "imaginepro.job.detection_lag": (
        "histogram",
        "s",
        "at most how long each job's end went unseen (last look unfinished → look that saw it end)",
    ),
}

#: The submission under way in this task (its span), between SubmissionStarted and its end.
_submitting: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "imaginepro_async_submitting", default=None
)


def _ns_ago(seconds: float) -> int:
    return time.time_ns() - int(seconds * 1e9)


def _error_type(status: int | None, error: str | None) -> str | None:
    if error is not None:
        return error
    return None if status is None or status < 400 else str(status)


class OpenTelemetryHooks(ClientHooks):
    """``ClientHooks`` that record each job as an OpenTelemetry span and the client's metrics.

    Pass it as ``ImagineProClient(hooks=OpenTelemetryHooks())``. One instance may serve several
    clients. The spans and metrics are listed in the module docstring and in ``METRICS``. Hooks
    run inline (in the scheduler's task for polls and ends): export spans with a
    ``BatchSpanProcessor``, not one that sends each span as it ends.

    Args:
        tracer_provider: where the spans go (default: the global one).
        meter_provider: where the metrics go (default: the global one).
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        from imaginepro_async import __version__

        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self._jobs: dict[str, Span] = {}

        def histogram(name: str) -> metrics.Histogram:
            _, unit, description = METRICS[name]
            return meter.create_histogram(name, unit=unit, description=description)

        def counter(name: str) -> metrics.Counter:
            _, unit, description = METRICS[name]
            return meter.create_counter(name, unit=unit, description=description)

        def updown(name: str) -> metrics.UpDownCounter:
            _, unit, description = METRICS[name]
            return meter.create_up_down_counter(name, unit=unit, description=description)

        self._request_duration = histogram("imaginepro.request.duration")
        self._budget_wait = histogram("imaginepro.budget.wait")
        self._rate_limited = counter("imaginepro.rate_limited")
        self._retries = counter("imaginepro.retries")
        self._held = updown("imaginepro.submissions.held")
        self._active = updown("imaginepro.jobs.active")
        self._submitted = counter("imaginepro.jobs.submitted")
        self._credits = counter("imaginepro.credits")
        self._failed = counter("imaginepro.submissions.failed")
        self._ended = counter("imaginepro.jobs.ended")
        self._job_duration = histogram("imaginepro.job.duration")
        self._job_polls = histogram("imaginepro.job.polls")
        self._lag = histogram("imaginepro.job.detection_lag")

    # -- requests --------------------------------------------------------------------------------

    def on_response(self, event: ResponseReceived) -> None:
        """Every attempt: the duration histogram; outside the scheduler, a span too."""
        attributes: dict[str, AttributeValue] = {
            "http.request.method": event.method,
            "imaginepro.endpoint": event.endpoint,
        }
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        error = _error_type(event.status, event.error)
        if error is not None:
            attributes["error.type"] = error
        self._request_duration.record(event.duration, attributes)
        if event.poll:
            return
        parent = _submitting.get()
        context = None if parent is None else trace.set_span_in_context(parent)
        span = self._tracer.start_span(
            f"{event.method} {event.endpoint}",
            context=context,
            kind=SpanKind.CLIENT,
            start_time=_ns_ago(event.duration),
            attributes={**attributes, "url.full": event.url},
        )
        if error is not None:
            span.set_status(StatusCode.ERROR, error)
        span.end()

    def on_retry(self, event: RetryScheduled) -> None:
        """A retry: counted, and an event of the submission under way."""
        self._retries.add(1, {"imaginepro.endpoint": event.endpoint, "error.type": event.reason})
        span = _submitting.get()
        if span is not None:
            span.add_event(
                "retry",
                {"imaginepro.attempt": event.attempt, "error.type": event.reason,
                 "imaginepro.wait": event.wait},
            )  # fmt: skip

    def on_rate_limited(self, event: RateLimited) -> None:
        """A 429: counted by budget, and an event of the submission under way."""
        self._rate_limited.add(
            1, {"imaginepro.budget": event.budget, "imaginepro.endpoint": event.endpoint}
        )
        span = _submitting.get()
        if span is not None:
            attributes: dict[str, AttributeValue] = {"imaginepro.budget": event.budget}
            if event.retry_after is not None:
                attributes["imaginepro.retry_after"] = event.retry_after
            span.add_event("rate_limited", attributes)

    def on_budget_wait(self, event: BudgetWaited) -> None:
        """A permit: its wait recorded; a submission's wait is an event of its span."""
        self._budget_wait.record(event.wait, {"imaginepro.budget": event.budget})
        span = _submitting.get()
        if span is not None and event.wait > 0:
            span.add_event(
                "budget_wait", {"imaginepro.budget": event.budget, "imaginepro.wait": event.wait}
            )

    # -- submissions -----------------------------------------------------------------------------

    def on_submission_held(self, event: SubmissionHeld) -> None:
        """A held submission: counted while held, an event of its span."""
        self._held.add(1, {"imaginepro.kind": event.kind or ""})
        span = _submitting.get()
        if span is not None:
            span.add_event("held", {"imaginepro.reason": event.reason})

    def on_submission_resumed(self, event: SubmissionResumed) -> None:
        """A held submission goes on."""
        self._held.add(-1, {"imaginepro.kind": event.kind or ""})
        span = _submitting.get()
        if span is not None:
            span.add_event("resumed", {"imaginepro.waited": event.waited})

    def on_submission_started(self, event: SubmissionStarted) -> None:
        """The job's span starts, current for the submission's requests (in this task)."""
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": event.kind,
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.system": PROVIDER,
            "imaginepro.endpoint": event.endpoint,
            "imaginepro.kind": event.kind,
        }
        if event.model is not None:
            attributes["gen_ai.request.model"] = event.model
        name = event.kind if event.model is None else f"{event.kind} {event.model}"
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        _submitting.set(span)

    def on_job_submitted(self, event: JobSubmitted) -> None:
        """The server took the job: its span is kept open, by messageId, until the job ends."""
        span = _submitting.get()
        _submitting.set(None)
        attributes: dict[str, AttributeValue] = {"imaginepro.kind": event.kind}
        if event.model is not None:
            attributes["gen_ai.request.model"] = event.model
        self._submitted.add(1, attributes)
        if event.cost is not None:
            self._credits.add(event.cost, {"imaginepro.kind": event.kind})
        self._active.add(1)
        if span is None:  # not started in this task (it should have been): a span all the same
            span = self._tracer.start_span(
                event.kind, kind=SpanKind.CLIENT, start_time=_ns_ago(event.duration)
            )
        span.set_attribute("gen_ai.response.id", event.message_id)
        span.set_attribute("imaginepro.message_id", event.message_id)
        if event.cost is not None:
            span.set_attribute("imaginepro.credits", event.cost)
        span.add_event("submitted", {"imaginepro.message_id": event.message_id})
        self._jobs[event.message_id] = span

    def on_submission_failed(self, event: SubmissionFailed) -> None:
        """No messageId: the span ends in error."""
        span = _submitting.get()
        _submitting.set(None)
        self._failed.add(1, {"imaginepro.kind": event.kind, "error.type": event.error})
        if span is not None:
            span.set_attribute("error.type", event.error)
            span.set_status(StatusCode.ERROR, event.error)
            span.end()

    # -- jobs ------------------------------------------------------------------------------------

    def on_job_polled(self, event: JobPolled) -> None:
        """A poll: an event of the job's span."""
        span = self._jobs.get(event.message_id)
        if span is None:
            return
        attributes: dict[str, AttributeValue] = {"imaginepro.poll": event.poll}
        if event.status is not None:
            attributes["imaginepro.status"] = event.status
        if event.progress is not None:
            attributes["imaginepro.progress"] = event.progress
        if event.error is not None:
            attributes["error.type"] = event.error
        span.add_event("poll", attributes)

    def on_job_ended(self, event: JobEnded) -> None:
        """The job's span ends with its outcome; the job's metrics are recorded."""
        attributes: dict[str, AttributeValue] = {"imaginepro.status": event.status or "unknown"}
        if event.error is not None:
            attributes["error.type"] = event.error
        self._ended.add(1, attributes)
        self._job_duration.record(event.duration, attributes)
        self._job_polls.record(event.polls, {"imaginepro.status": event.status or "unknown"})
        if event.detection_lag is not None:
            self._lag.record(event.detection_lag)
        span = self._jobs.pop(event.message_id, None)
        if span is None:
            return  # a job this client did not submit (client.job): metrics only
        self._active.add(-1)
        span.set_attribute("imaginepro.status", event.status or "unknown")
        span.set_attribute("imaginepro.polls", event.polls)
        if event.detection_lag is not None:
            span.set_attribute("imaginepro.detection_lag", event.detection_lag)
        if event.credits is not None:
            span.set_attribute("imaginepro.credits", event.credits)
        if event.error is not None:
            span.set_attribute("error.type", event.error)
            span.set_status(StatusCode.ERROR, event.error)
        span.end()
