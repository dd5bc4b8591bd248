"""client.enqueue: submissions accepted at once, sent in turn, cancellable until sent."""

from __future__ import annotations

from contextvars import ContextVar
from types import SimpleNamespace

import aiohttp
import anyio
import pytest

from imaginepro_async import (
    ClientClosedError,
    InvalidInputError,
    JobCancelledError,
    RateLimit,
    Status,
    Submission,
    SubmissionCancelledError,
    SubmissionState,
    SubmissionUncertainError,
)
from imaginepro_async.testing import Endpoint, FaultKind, Simulator, fixed_duration

from .conftest import SCALE, client_for

pytestmark = pytest.mark.anyio


async def test_enqueue_answers_at_once_with_a_place_in_line(sim: Simulator) -> None:
    """Five submissions: handles at once, in line 1..5 (nothing sent yet), all end DONE."""
    async with client_for(sim) as client:
        queued = [await client.enqueue(client.imagine(f"a quay {n}")) for n in range(5)]
        assert len({submission.id for submission in queued}) == 5
        # enqueue checked each in this task and returned without yielding: none was sent yet.
        assert [submission.position for submission in queued] == [1, 2, 3, 4, 5]
        assert all(submission.state is SubmissionState.WAITING for submission in queued)
        assert all(submission.message_id is None for submission in queued)
        assert client.submission(queued[2].id) is queued[2]
        jobs = [await submission.submitted() for submission in queued]
        assert [submission.message_id for submission in queued] == [j.message_id for j in jobs]
        results = [await submission for submission in queued]
        assert all(message.status is Status.DONE for message in results)
        assert all(s.state is SubmissionState.SUBMITTED and s.position is None for s in queued)


async def test_bad_input_is_refused_by_enqueue_itself(sim: Simulator) -> None:
    """A bad argument raises InvalidInputError from enqueue; nothing is sent."""
    async with client_for(sim) as client:
        with pytest.raises(InvalidInputError):
            await client.enqueue(client.upscale("a-parent-id", 7))
        with pytest.raises(InvalidInputError):
            await client.enqueue(client.imagine("   "))
    assert sim.stats().requests == 0


async def test_a_waiting_submission_cancelled_sends_nothing(sim: Simulator) -> None:
    """Cancelled while in line: never sent, nothing paid; its handle ends SubmissionCancelled."""
    async with client_for(sim) as client:
        first = await client.enqueue(client.imagine("a quay"))
        second = await client.enqueue(client.imagine("a cancelled quay"))
        assert await second.cancel() is True
        assert await second.cancel() is False
        await first
        with pytest.raises(SubmissionCancelledError):
            await second.submitted()
        assert await first.cancel() is False  # its job has ended: nothing sent
    assert sim.stats().jobs_created == 1
    assert second.state is SubmissionState.CANCELLED


async def test_a_submitted_submission_cancelled_cancels_its_job() -> None:
    """Once the server took it, cancel() presses Cancel Job on its job: True, then JobCancelled."""
    # A job of 3000 API s (5 s here): it cannot end before the press, even on a busy machine
    # (the fixture's 30-90 s jobs last 50-150 ms, and one ended first in CI).
    async with (
        Simulator(time_scale=SCALE, seed=3, duration=fixed_duration(3000)) as sim,
        client_for(sim) as client,
    ):
        submission = await client.enqueue(client.imagine("a quay"))
        job = await submission.submitted()
        assert await submission.cancel() is True
        with pytest.raises(JobCancelledError):
            await submission
        assert job.done() and await submission.cancel() is False
        assert sim.stats().by_endpoint["button"] == 1


async def test_waiting_submissions_are_not_sent_when_the_client_closes(sim: Simulator) -> None:
    """Closing the client: the one on the wire is answered, the waiting ones end ClientClosed."""
    sim.faults.add(kind=FaultKind.SLOW, endpoint=Endpoint.IMAGINE, times=1, delay=30.0)
    # One submission an hour: the others wait for the budget while the first is on the wire.
    async with client_for(sim, create_limit=RateLimit(1, 3600.0)) as client:
        queued = [await client.enqueue(client.imagine(f"a quay {n}")) for n in range(4)]
        while queued[0].state is SubmissionState.WAITING:  # noqa: ASYNC110 (no event for it)
            await anyio.sleep(0.001)
        assert queued[0].state is SubmissionState.SENDING
    first = await queued[0].submitted()
    assert first.message_id
    for submission in queued[1:]:
        with pytest.raises(ClientClosedError, match="was not sent"):
            await submission.submitted()
    assert sim.stats().jobs_created == 1


async def test_an_uncertain_submission_ends_its_handle_and_is_not_resent(sim: Simulator) -> None:
    """The connection drops after the server took it: SubmissionUncertainError, sent once."""
    sim.faults.add(kind=FaultKind.DROP_AFTER, endpoint=Endpoint.IMAGINE, times=1)
    async with client_for(sim) as client:
        submission = await client.enqueue(client.imagine("a quay"))
        with pytest.raises(SubmissionUncertainError):
            await submission.submitted()
        assert submission.state is SubmissionState.FAILED
    assert sim.stats().by_endpoint["imagine"] == 1


async def test_enqueue_needs_an_open_client(sim: Simulator) -> None:
    """enqueue on a client not opened, or closed, raises ClientClosedError (no stray coroutine)."""
    client = client_for(sim)
    with pytest.raises(ClientClosedError):
        await client.enqueue(client.imagine("a quay"))
    async with client:
        pass
    with pytest.raises(ClientClosedError):
        await client.enqueue(client.imagine("a quay"))
    assert client.submission("nope") is None


def test_submission_is_exported() -> None:
    """Submission is a public name of the package."""
    assert Submission.__name__ == "Submission"


async def test_enqueue_takes_only_job_creating_calls(sim: Simulator) -> None:
    """Anything but a JobCall (a coroutine of a read, a Job) is a TypeError; nothing is sent."""
    async with client_for(sim) as client:
        with pytest.raises(TypeError, match="job-creating call"):
            await client.enqueue(client.check_prompt("a quay"))  # type: ignore[arg-type]
        job = await client.imagine("a quay")
        with pytest.raises(TypeError, match="got Job"):
            await client.enqueue(job)  # type: ignore[arg-type]
    assert "prompt_check" not in sim.stats().by_endpoint  # the coroutine was closed, not run
    assert sim.stats().by_endpoint["imagine"] == 1


TRACE_ID: ContextVar[str | None] = ContextVar("trace_id", default=None)


async def test_a_submission_is_sent_in_a_copy_of_the_callers_context(sim: Simulator) -> None:
    """A context variable set before enqueue is seen by the request (an aiohttp trace hook), as
    it was at enqueue: later changes in the caller's task do not reach the submission."""
    seen: list[str | None] = []

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        if params.method == "POST":
            seen.append(TRACE_ID.get())

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        client_for(sim, session=session) as client,
    ):
        TRACE_ID.set("request-1")
        first = await client.enqueue(client.imagine("a traced quay"))
        TRACE_ID.set("request-2")
        second = await client.enqueue(client.imagine("another traced quay"))
        TRACE_ID.set("changed after")
        await first.submitted()
        await second.submitted()
    assert seen == ["request-1", "request-2"]
