"""``PollPolicy``: the durations and counts the poll planner (``planner.py``) decides with."""

from __future__ import annotations

import attrs

__all__ = ["PollPolicy"]

_POSITIVE = attrs.validators.gt(0.0)
_POSITIVE_COUNT = attrs.validators.gt(0)
_QUEUE_HORIZON: float | None = 120.0


@attrs.frozen(kw_only=True)
class PollPolicy:
    """When the scheduler polls a job. Durations are API seconds (the client's clock scales them).

    Attributes:
        first_poll: after a submission, when the job is first looked at (if it heads the queue).
        queued_interval: how often the oldest queued job is looked at while no slot frees.
        start_probe: after a job is presumed started, when it is first looked at.
        probe_interval: a running job whose rate is not known yet is looked at this often.
        finish_margin: a job is looked at this long after its estimated end.
        max_extrapolation: an end estimate is trusted when the remaining time is at most this many
            times the span it was measured over; otherwise the next look is halfway to it.
        overdue_interval: the first wait after a job outlived its estimate; grows by half each time.
        overdue_max: the longest wait for an overdue job.
        max_interval: the longest any running job goes without a look.
        deadline_grace: a job not ended this long after its server-side timeout is given up
            (``JobDeadlineError``).
        max_invalid: unreadable answers in a row before a job is failed.
        max_not_found: 404s in a row before a job is failed as unknown.
        retry_base: the first backoff ceiling after a transient error; doubles each time.
        retry_cap: the largest backoff ceiling.
        fresh_interval: while the poll budget is not binding, no running job goes longer than
            this without a look (so that a FAIL, which progress does not foretell, is seen soon).
        budget_share: the share of the poll budget those fresh looks may use; past it, the
            longest wait grows with the number of running jobs (the budget binds).
        expected_duration: a job's duration before any was measured (the admission rule's prior).
        queue_risk: a submission waits while the probability that it stays queued past the point
            where it could still end before its server-side timeout is above this (see
            ``_scheduling/survival.py``).
        queue_horizon: a submission also waits while it would start more than this long from now
            (its median start): that much work queued ahead keeps the account busy, and what
            waits here is not paid for and cannot time out in the account's queue if the jobs
            ahead turn out slower than learnt (a server slowing down, a smaller concurrency,
            someone else's jobs on the account). None: no such wait, only ``queue_risk``.
        webhook_silence: a job created with the client's webhook URL is not looked at before this
            long after its last delivery (or its creation), its deadline excepted; after that
            silence the other rules apply again.
        hint_interval: a webhook delivery makes a job be looked at at once at most this often.
    """

    first_poll: float = attrs.field(default=5.0, validator=_POSITIVE)
    queued_interval: float = attrs.field(default=20.0, validator=_POSITIVE)
    start_probe: float = attrs.field(default=20.0, validator=_POSITIVE)
    probe_interval: float = attrs.field(default=10.0, validator=_POSITIVE)
    finish_margin: float = attrs.field(default=0.3, validator=attrs.validators.ge(0))
    max_extrapolation: float = attrs.field(default=2.0, validator=_POSITIVE)
    overdue_interval: float = attrs.field(default=0.5, validator=_POSITIVE)
    overdue_max: float = attrs.field(default=10.0, validator=_POSITIVE)
    max_interval: float = attrs.field(default=60.0, validator=_POSITIVE)
    deadline_grace: float = attrs.field(default=30.0, validator=_POSITIVE)
    max_invalid: int = attrs.field(default=5, validator=_POSITIVE_COUNT)
    max_not_found: int = attrs.field(default=3, validator=_POSITIVE_COUNT)
    retry_base: float = attrs.field(default=0.5, validator=_POSITIVE)
    retry_cap: float = attrs.field(default=30.0, validator=_POSITIVE)
    fresh_interval: float = attrs.field(default=2.0, validator=_POSITIVE)
    budget_share: float = attrs.field(default=0.7, validator=[_POSITIVE, attrs.validators.le(1.0)])
    expected_duration: float = attrs.field(default=60.0, validator=_POSITIVE)
    queue_risk: float = attrs.field(
        default=0.001, validator=[attrs.validators.gt(0.0), attrs.validators.lt(1.0)]
    )
    queue_horizon: float | None = attrs.field(
        default=_QUEUE_HORIZON, validator=attrs.validators.optional(attrs.validators.gt(0.0))
    )
    webhook_silence: float = attrs.field(default=90.0, validator=_POSITIVE)
    hint_interval: float = attrs.field(default=5.0, validator=_POSITIVE)

    def scaled(self, factor: float) -> PollPolicy:
        """The same policy with every duration multiplied by ``factor``."""
        counts = {
            "max_extrapolation",
            "max_invalid",
            "max_not_found",
            "budget_share",
            "queue_risk",
        }
        return attrs.evolve(
            self,
            **{
                field.name: getattr(self, field.name) * factor
                for field in attrs.fields(PollPolicy)
                if field.name not in counts and getattr(self, field.name) is not None
            },
        )
