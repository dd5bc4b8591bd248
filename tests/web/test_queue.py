"""client.enqueue: submissions accepted at once, sent in turn, cancellable until sent."""

from __future__ import annotations

import pytest

from imaginepro_async import (
    ClientClosedError,
    InvalidInputError,
    Status,
    Submission,
    SubmissionCancelledError,
    SubmissionState,
    SubmissionUncertainError,
)
from imaginepro_async.testing import Endpoint, FaultKind, Simulator

from .conftest import client_for

pytestmark = pytest.mark.anyio


async def test_enqueue_answers_at_once_with_a_place_in_line(sim: Simulator) -> None:
    """Five submissions: handles at once, in line 1..4 behind the one sending, all end DONE."""
    async with client_for(sim) as client:
        queued = [await client.enqueue(client.imagine(f"a quay {n}")) for n in range(5)]
        assert len({submission.id for submission in queued}) == 5
        assert [submission.position for submission in queued[1:]] == [1, 2, 3, 4]
        assert all(submission.message_id is None for submission in queued[1:])
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
        assert second.cancel() is True and second.cancel() is False
        await first
        with pytest.raises(SubmissionCancelledError):
            await second.submitted()
        assert first.cancel() is False  # already sent: cancel its job instead
    assert sim.stats().jobs_created == 1
    assert second.state is SubmissionState.CANCELLED


async def test_waiting_submissions_are_not_sent_when_the_client_closes(sim: Simulator) -> None:
    """Closing the client: the one on the wire is answered, the waiting ones end ClientClosed."""
    async with client_for(sim) as client:
        queued = [await client.enqueue(client.imagine(f"a quay {n}")) for n in range(4)]
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
