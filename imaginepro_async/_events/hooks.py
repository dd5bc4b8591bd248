"""``ClientHooks`` (what a user subclasses) and the ``Emitter`` the client's layers emit through.

The wire and the scheduler never see the client or the user's objects: they get an ``Emitter``,
whose attribute per event is either None (nobody listens: the caller builds no record, which is
the whole cost of telemetry switched off) or a callable that hands the record to every listener.
A listener that raises is logged (its first failure with the traceback, later ones at debug
level) and the others still run; nothing a hook does reaches the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from .records import (
    BudgetWaited,
    JobEnded,
    JobPolled,
    JobSubmitted,
    RateLimited,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    SubmissionFailed,
    SubmissionHeld,
    SubmissionResumed,
    SubmissionStarted,
)

__all__ = ["EVENTS", "ClientHooks", "Emitter", "check_hooks"]

logger = logging.getLogger("imaginepro_async")

EventT = TypeVar("EventT")


class ClientHooks:
    """Receives what a client does: subclass it and override the ``on_...`` methods you need.

    Pass instances as ``ImagineProClient(hooks=[MyHooks()])``. Methods not overridden cost nothing.
    Each method is called synchronously, from the task where the thing happened (the scheduler's
    own task for polls and ends), so it must be quick and must not block: hand slow work to a
    queue. An exception in a hook is logged and swallowed.

    Example::

        class CountRetries(ClientHooks):
            def __init__(self) -> None:
                self.retries = 0

            def on_retry(self, event: RetryScheduled) -> None:
                self.retries += 1
    """

    def on_request_sent(self, event: RequestSent) -> None:
        """A request is about to leave (every attempt, polls and downloads included)."""

    def on_response(self, event: ResponseReceived) -> None:
        """An attempt ended: its status and duration, or the failure."""

    def on_retry(self, event: RetryScheduled) -> None:
        """A failed attempt will be tried again after ``event.wait`` seconds."""

    def on_rate_limited(self, event: RateLimited) -> None:
        """The server answered 429; its budget pauses for the ``Retry-After``."""

    def on_budget_wait(self, event: BudgetWaited) -> None:
        """A budget permit was taken (``event.wait``: how long it took)."""

    def on_submission_held(self, event: SubmissionHeld) -> None:
        """A submission waits before it is sent (see ``client.submission_hold``)."""

    def on_submission_resumed(self, event: SubmissionResumed) -> None:
        """A held submission goes on."""

    def on_submission_started(self, event: SubmissionStarted) -> None:
        """A job-creating call starts its submission (in the caller's task)."""

    def on_job_submitted(self, event: JobSubmitted) -> None:
        """The server took a job: its messageId."""

    def on_submission_failed(self, event: SubmissionFailed) -> None:
        """A submission ended without a messageId."""

    def on_job_polled(self, event: JobPolled) -> None:
        """The scheduler looked at a followed job."""

    def on_job_ended(self, event: JobEnded) -> None:
        """The client stopped following a job (done, failed, timed out, or closed)."""


#: The events, by the ``Emitter`` attribute and the ``ClientHooks`` method that carry them.
EVENTS: Final = (
    ("request_sent", "on_request_sent"),
    ("response", "on_response"),
    ("retry", "on_retry"),
    ("rate_limited", "on_rate_limited"),
    ("budget_wait", "on_budget_wait"),
    ("submission_held", "on_submission_held"),
    ("submission_resumed", "on_submission_resumed"),
    ("submission_started", "on_submission_started"),
    ("job_submitted", "on_job_submitted"),
    ("submission_failed", "on_submission_failed"),
    ("job_polled", "on_job_polled"),
    ("job_ended", "on_job_ended"),
)


def check_hooks(hooks: ClientHooks | Iterable[ClientHooks] | None) -> tuple[ClientHooks, ...]:
    """The ``hooks=`` option as a tuple (``TypeError`` naming what is not a ``ClientHooks``)."""
    if hooks is None:
        return ()
    if isinstance(hooks, ClientHooks):
        return (hooks,)
    found = tuple(hooks) if isinstance(hooks, Iterable) and not isinstance(hooks, str) else (hooks,)
    for hook in found:
        if not isinstance(hook, ClientHooks):
            raise TypeError(
                "hooks must be ClientHooks objects (subclass imaginepro_async.ClientHooks and "
                f"override the on_... methods you need), got {type(hook).__name__}"
            )
    return found


def _dispatch(name: str, methods: list[Callable[[Any], None]]) -> Callable[[Any], None]:
    failed: set[int] = set()

    def emit(event: Any) -> None:
        for index, method in enumerate(methods):
            try:
                method(event)
            except Exception:
                # Telemetry never breaks the client: logged (with its traceback once), dropped.
                if index in failed:
                    logger.debug("the hook %r failed again on %s", method, name, exc_info=True)
                else:
                    failed.add(index)
                    logger.exception(
                        "the hook %r failed on %s (later failures: debug)", method, name
                    )

    return emit


class Emitter:
    """What the client's layers emit through (see the module): an attribute per event, None when
    nobody listens. ``Emitter()`` listens to nothing."""

    __slots__ = ("hooks", *(attribute for attribute, _ in EVENTS))

    request_sent: Callable[[RequestSent], None] | None
    response: Callable[[ResponseReceived], None] | None
    retry: Callable[[RetryScheduled], None] | None
    rate_limited: Callable[[RateLimited], None] | None
    budget_wait: Callable[[BudgetWaited], None] | None
    submission_held: Callable[[SubmissionHeld], None] | None
    submission_resumed: Callable[[SubmissionResumed], None] | None
    submission_started: Callable[[SubmissionStarted], None] | None
    job_submitted: Callable[[JobSubmitted], None] | None
    submission_failed: Callable[[SubmissionFailed], None] | None
    job_polled: Callable[[JobPolled], None] | None
    job_ended: Callable[[JobEnded], None] | None

    def __init__(self, hooks: Iterable[ClientHooks] = ()) -> None:
        self.hooks = tuple(hooks)
        for attribute, method_name in EVENTS:
            base = getattr(ClientHooks, method_name)
            methods = [
                getattr(hook, method_name)
                for hook in self.hooks
                if getattr(type(hook), method_name, base) is not base
            ]
            setattr(self, attribute, _dispatch(method_name, methods) if methods else None)

    def __repr__(self) -> str:
        listened = [attribute for attribute, _ in EVENTS if getattr(self, attribute) is not None]
        return f"<Emitter {', '.join(listened) or 'silent'}>"
