"""Hybrid waiting in the planner: jobs expecting webhooks are looked at rarely, until silence."""

from __future__ import annotations

import random

from imaginepro_async import PollPolicy, Status
from imaginepro_async._scheduling.planner import PlannedJob, Planner

POLICY = PollPolicy()  # webhook_silence 90, hint_interval 5, first_poll 5, timeout 900


def planner() -> tuple[Planner, list[PlannedJob]]:
    """A planner with the default policy, and the list of records it scheduled."""
    pushed: list[PlannedJob] = []
    return Planner(POLICY, schedule=pushed.append, rng=random.Random(0), throttle_wait=1.0), pushed


def test_a_job_expecting_webhooks_is_first_looked_at_when_the_silence_ends() -> None:
    """Submitted at 0 with webhooks: no look at 5 s (first_poll) but at 90 s (the silence)."""
    plan, _ = planner()
    record = plan.track("a", now=0.0, submitted=True, created_at=0.0, timeout=900.0)
    assert record.due == POLICY.first_poll
    plan.expect_webhooks(record, now=0.0)
    assert record.due == POLICY.webhook_silence


def test_deliveries_push_the_safety_net_later_and_a_final_one_looks_at_once() -> None:
    """A progress delivery moves the next look to 90 s after it; a final one looks now."""
    plan, _ = planner()
    record = plan.track("a", now=0.0, submitted=True, created_at=0.0, timeout=900.0)
    plan.expect_webhooks(record, now=0.0)
    assert plan.heard(record, now=40.0, look_now=False) is False
    assert record.due == 40.0 + POLICY.webhook_silence
    assert plan.heard(record, now=60.0, look_now=True) is True
    assert record.due == 60.0


def test_hinted_looks_are_limited_per_job_and_by_the_total_limit() -> None:
    """A second final delivery within hint_interval looks at nothing; allow() can refuse."""
    plan, _ = planner()
    record = plan.track("a", now=0.0, submitted=True, created_at=0.0, timeout=900.0)
    plan.expect_webhooks(record, now=0.0)
    assert plan.heard(record, now=10.0, look_now=True)
    record.due = None  # polled
    assert not plan.heard(record, now=12.0, look_now=True)
    assert not plan.heard(record, now=20.0, look_now=True, allow=lambda: False)
    assert plan.heard(record, now=20.0, look_now=True)


def test_after_the_silence_the_normal_policy_takes_over() -> None:
    """No delivery for 90 s: a running job's next look follows its progress again."""
    plan, _ = planner()
    record = plan.track("a", now=0.0, submitted=True, created_at=0.0, timeout=900.0)
    plan.expect_webhooks(record, now=0.0)
    record.due = None
    plan.observe(record, Status.PROCESSING, 50, at=100.0, now=100.0, sent=100.0)
    assert record.due is not None and record.due <= 100.0 + POLICY.probe_interval


def test_the_deadline_safety_net_holds_with_webhooks() -> None:
    """A job with a 60 s timeout expecting webhooks is still looked at just after 60 s."""
    plan, _ = planner()
    record = plan.track("a", now=0.0, submitted=True, created_at=0.0, timeout=60.0)
    plan.expect_webhooks(record, now=0.0)
    assert record.due == 60.0 + POLICY.overdue_interval


def test_a_queued_job_expecting_webhooks_is_not_looked_at_every_fresh_interval() -> None:
    """With a free poll budget, a queued webhook job still waits queued_interval, not 2 s."""
    pushed: list[PlannedJob] = []
    plan = Planner(
        POLICY, schedule=pushed.append, rng=random.Random(0), throttle_wait=1.0, poll_rate=10.0
    )
    record = plan.track("a", now=0.0, submitted=True, created_at=0.0, timeout=900.0)
    plan.expect_webhooks(record, now=0.0)
    record.due = None
    plan.observe(record, Status.QUEUED, 0, at=100.0, now=100.0, sent=100.0)
    assert record.due == 100.0 + POLICY.queued_interval
    assert plan.fresh_cap(record) == POLICY.max_interval
    assert plan.fresh_cap() == POLICY.fresh_interval
