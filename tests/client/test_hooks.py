"""The client's public event hooks (``ClientHooks``) against the simulator."""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest

from imaginepro_async import (
    BudgetWaited,
    ClientHooks,
    ImagineProClient,
    JobEnded,
    JobPolled,
    JobSubmitted,
    RateLimited,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    Status,
    SubmissionFailed,
    SubmissionHeld,
    SubmissionResumed,
    SubmissionStarted,
    SubmissionUncertainError,
    gather,
)
from imaginepro_async._events.hooks import EVENTS, Emitter
from imaginepro_async.testing import Endpoint, FaultKind, Simulator, fixed_duration
from imaginepro_async.testing import SimulatedRateLimit as ServerRateLimit

from .conftest import client_for

pytestmark = pytest.mark.anyio

TOKEN = "wh-token-never-in-an-event-0123456789"


class Recorder(ClientHooks):
    """Keeps every event it is given, in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []


# Every on_... method overridden (the Emitter looks them up on the class): each keeps its event.
for _, _method in EVENTS:
    setattr(Recorder, _method, lambda self, event: self.events.append(event))


def of(recorder: Recorder, kind: type[Any]) -> list[Any]:
    """The events of one type."""
    return [event for event in recorder.events if isinstance(event, kind)]


async def test_hooks_follow_a_job_from_its_submission_to_its_end(sim: Simulator) -> None:
    """One imagine: started, budget, POST and its answer, submitted, polls, ended with its lag."""
    recorder = Recorder()
    async with client_for(sim, hooks=recorder) as client:
        job = await client.imagine("a lighthouse")
        assert (await job).status is Status.DONE
    kinds = [type(event) for event in recorder.events]
    assert kinds[:5] == [
        SubmissionStarted,
        BudgetWaited,
        RequestSent,
        ResponseReceived,
        JobSubmitted,
    ]
    post = recorder.events[3]
    assert (post.method, post.endpoint, post.status, post.poll) == ("POST", "imagine", 200, False)
    assert post.url == f"{sim.url.rstrip('/')}/api/v1/nova/imagine" and post.duration > 0
    submitted = of(recorder, JobSubmitted)[0]
    assert (submitted.message_id, submitted.kind, submitted.cost) == (job.message_id, "imagine", 10)
    polls = of(recorder, JobPolled)
    assert [p.poll for p in polls] == list(range(1, len(polls) + 1))
    assert polls[-1].status == "DONE" and all(p.message_id == job.message_id for p in polls)
    (ended,) = of(recorder, JobEnded)
    assert (ended.status, ended.error, ended.polls, ended.credits) == ("DONE", None, len(polls), 10)
    assert ended.detection_lag is not None and 0 < ended.detection_lag < ended.duration
    assert recorder.events.index(ended) > recorder.events.index(polls[-1])
    answers = [e for e in of(recorder, ResponseReceived) if e.poll]
    assert len(answers) == len(polls) and {a.endpoint for a in answers} == {"message"}


async def test_no_event_carries_the_key_or_the_webhook_token(sim: Simulator) -> None:
    """Every event's repr is free of the API key and of the webhook token in the webhook URL."""
    recorder = Recorder()
    options = {"hooks": [recorder], "webhook_base": "https://example.com/hooks"}
    async with client_for(sim, webhook_token=TOKEN, **options) as client:
        assert TOKEN in client.webhook_url()
        grid = await (await client.imagine("a secret garden"))
        await client.download(grid.image_urls[0])
    assert (
        of(recorder, JobEnded) and [e.endpoint for e in of(recorder, RequestSent)][-1] == "download"
    )
    text = "\n".join(repr(event) for event in recorder.events)
    assert sim.api_key not in text and TOKEN not in text and "?" not in text


async def test_retries_429s_and_a_failed_submission_reach_the_hooks(sim: Simulator) -> None:
    """A 503 on a submission is a retry, a 500 a failed submission, a poll's 429 RateLimited."""
    sim.rate_limits.progress = ServerRateLimit(1, 60.0)  # a second poll within a minute: 429
    sim.faults.add(kind=FaultKind.HTTP_503, endpoint=Endpoint.IMAGINE, times=1)
    recorder = Recorder()
    async with client_for(sim, hooks=recorder) as client:
        jobs = [await client.imagine(f"rush {n}") for n in range(2)]
        await gather(*jobs)
        sim.faults.add(kind=FaultKind.HTTP_500, endpoint=Endpoint.IMAGINE, times=1)
        with pytest.raises(SubmissionUncertainError):
            await client.imagine("boom")
    (retry,) = of(recorder, RetryScheduled)
    assert (retry.endpoint, retry.attempt, retry.reason) == ("imagine", 1, "ServerError")
    assert retry.wait >= 0
    limited = of(recorder, RateLimited)
    assert limited and {(e.budget, e.endpoint, e.poll) for e in limited} == {
        ("poll", "message", True)
    }
    assert all(e.retry_after is not None and e.retry_after > 0 for e in limited)
    assert {p.error for p in of(recorder, JobPolled) if p.status is None} == {"RateLimitError"}
    (failed,) = of(recorder, SubmissionFailed)
    assert (failed.endpoint, failed.error) == ("imagine", "SubmissionUncertainError")


async def test_a_held_submission_is_reported_held_then_resumed() -> None:
    """On a one-slot account, a job that would time out in the queue is held, then resumed."""
    recorder = Recorder()
    async with (
        Simulator(time_scale=600, seed=3, concurrency=1, duration=fixed_duration(60.0)) as sim,
        client_for(sim, hooks=recorder, account_concurrency=1) as client,
    ):
        first = await client.imagine("runs 60 s")
        second = await client.imagine("must end within 100 s", job_timeout=100)
        await first
        await second
    (held,) = of(recorder, SubmissionHeld)
    (resumed,) = of(recorder, SubmissionResumed)
    assert held.kind == "imagine" and "jobs are ahead" in held.reason
    assert resumed.waited > 0
    order = [type(e) for e in recorder.events if isinstance(e, SubmissionHeld | SubmissionResumed)]
    assert order == [SubmissionHeld, SubmissionResumed]


async def test_a_failing_hook_is_logged_once_and_the_others_still_run(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises on every event: the job finishes, the next hook sees everything."""

    class Broken(ClientHooks):
        def on_job_polled(self, event: JobPolled) -> None:
            raise RuntimeError("broken hook")

    recorder = Recorder()
    caplog.set_level(logging.DEBUG, logger="imaginepro_async")
    async with client_for(sim, hooks=[Broken(), recorder]) as client:
        assert (await (await client.imagine("still fine"))).status is Status.DONE
    polls = of(recorder, JobPolled)
    failures = [r for r in caplog.records if "broken hook" in str(r.exc_info and r.exc_info[1])]
    assert len(failures) == len(polls) >= 2
    assert [r.levelno for r in failures] == [logging.ERROR] + [logging.DEBUG] * (len(polls) - 1)


async def test_only_overridden_methods_are_listened_to() -> None:
    """Emitter(): every event None; a hook overriding one method makes only that event live."""

    class Ends(ClientHooks):
        def on_job_ended(self, event: JobEnded) -> None:
            pass

    assert all(getattr(Emitter(), attribute) is None for attribute, _ in EVENTS)
    emitter = Emitter([Ends(), ClientHooks()])
    assert [a for a, _ in EVENTS if getattr(emitter, a) is not None] == ["job_ended"]
    client = ImagineProClient("sk-test")
    assert repr(client._core.settings.events) == "<Emitter silent>"


@pytest.mark.parametrize("bad", [object(), [ClientHooks(), "on_job_ended"]])
async def test_hooks_that_are_not_client_hooks_are_refused(bad: Any) -> None:
    """hooks= takes ClientHooks objects: anything else is a TypeError naming it."""
    with pytest.raises(TypeError, match="ClientHooks"):
        ImagineProClient("sk-test", hooks=bad)


def test_events_are_frozen_records() -> None:
    """An event cannot be changed after it is made."""
    event = JobEnded(
        message_id="m", status="DONE", error=None, polls=1, duration=1.0, detection_lag=None,
        credits=None,
    )  # fmt: skip
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.status = "FAIL"  # type: ignore[misc]
