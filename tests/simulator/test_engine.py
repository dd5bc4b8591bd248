"""The job engine at scale, driven directly (no HTTP): many jobs, FIFO order, timeouts."""

from __future__ import annotations

from imaginepro_async.testing import fixed_duration
from imaginepro_async.testing._engine import Account, Engine, Job


def make_engine() -> tuple[Engine, Account]:
    """An engine with 10-second jobs and one account with 3 slots."""
    engine = Engine(
        seed=0,
        duration=fixed_duration(10.0),
        durations={"describe": fixed_duration(1.0)},
        failure_rate=0.0,
        moderated_words=(),
        refund_failed_jobs=False,
        webhook_progress_interval=None,
        on_webhook=lambda job, at, event: None,
    )
    return engine, engine.add_account("sk-test", credits=10**9, concurrency=3)


def create(engine: Engine, account: Account, now: float) -> Job:
    """Queue one imagine job at ``now``."""
    return engine.create(
        now, account, "imagine", cost=10, prompt="p", ref=None, webhook=None, timeout=900,
        disable_cdn=False,
    )  # fmt: skip


def test_a_burst_of_fifty_thousand_jobs_runs_fifo_until_the_timeout() -> None:
    """50,000 jobs at once: 3 at a time in order; those not done within 900 s fail at 900 s."""
    engine, account = make_engine()
    jobs = [create(engine, account, 0.0) for _ in range(50_000)]
    assert account.running == 3
    engine.advance(2000.0)
    done = [job for job in jobs if job.status == "DONE"]
    assert len(done) == 267  # 89 rounds of 3 end before 900 s; the 90th would end at 900
    assert done == jobs[:267]
    assert all(job.status == "FAIL" and job.finished == 900.0 for job in jobs[267:])
    assert jobs[3].started == jobs[0].finished == 10.0
    assert account.running == 0
    assert engine.next_event_time() is None


def test_fifty_thousand_jobs_created_as_the_queue_drains_all_finish() -> None:
    """50,000 jobs created over time, interleaved with advancing, all end DONE in order."""
    engine, account = make_engine()
    jobs = []
    for n in range(50_000):
        now = (n // 3) * 10.0
        engine.advance(now)
        jobs.append(create(engine, account, now))
    engine.advance(10**6)
    assert all(job.status == "DONE" for job in jobs)
    starts = [job.started or 0.0 for job in jobs]
    assert starts == sorted(starts)
    assert account.spent == 500_000
