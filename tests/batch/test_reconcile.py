"""Uncertain requests are looked up in the account's history: adopted, sent again, or explained."""

from __future__ import annotations

import sqlite3
import subprocess

import anyio
import pytest

from imaginepro_async._batch.batch import Batch
from imaginepro_async._batch.journal import RequestState
from imaginepro_async.testing import Endpoint, FaultKind

from .conftest import World, client_for, journal_says_sending
from .test_cli import CLI, common, env_for, results

pytestmark = pytest.mark.anyio


def _reconciled(journal: object) -> dict[str, str]:
    db = sqlite3.connect(str(journal))
    try:
        return dict(db.execute("SELECT key, reconciled FROM requests WHERE reconciled IS NOT NULL"))
    finally:
        db.close()


async def test_lost_answers_are_adopted_and_unsent_requests_sent_again(world: World) -> None:
    """Two answers lost after the job was made are adopted, two 500s are sent again, once each."""
    world.sim.faults.add(kind=FaultKind.DROP_AFTER, endpoint=Endpoint.BUTTON, times=2)
    world.sim.faults.add(kind=FaultKind.HTTP_500, endpoint=Endpoint.BUTTON, times=2)
    journal = world.tmp / "run.db"
    async with (
        client_for(world.sim) as client,
        Batch(client, world.requests(8), journal=journal) as batch,
    ):
        final = {r.key: r.state async for r in batch}  # the last report of each request wins
    assert set(final.values()) == {RequestState.DONE}, final
    assert world.sim.jobs_per_ref() == {f"r{n}": 1 for n in range(8)}
    assert sorted(_reconciled(journal).values()) == ["adopted", "adopted", "resent", "resent"]


async def test_a_job_that_cannot_be_told_apart_stays_uncertain_with_its_candidates(
    world: World,
) -> None:
    """Two lost answers for requests with the same prompt stay uncertain, both jobs named."""
    world.sim.faults.add(kind=FaultKind.DROP_AFTER, endpoint=Endpoint.BUTTON, times=2)
    requests = [r | {"prompt": "the same boat"} for r in world.requests(2)]
    requests.append(world.requests(3)[2])  # answered: its job places this machine's clock
    async with (
        client_for(world.sim) as client,
        Batch(client, requests, journal=world.tmp / "run.db") as batch,
    ):
        final = {r.key: r async for r in batch if r.key != "r2"}
    made = {job.ref: job.message_id for job in world.sim.jobs() if job.ref in ("r0", "r1")}
    assert len(made) == 2
    for key, result in final.items():
        assert result.state is RequestState.UNCERTAIN
        assert result.error is not None and made[str(key)] in result.error  # its own job named
    # r1 was sent after r0's answer was lost: r1's window holds both jobs. r0's holds r1's too
    # unless r1 went out more than a few API seconds later (a few ms at this scale, on a busy
    # machine): r0's job is then its only candidate, but a candidate of r1 too, so not adopted.
    error = final["r1"].error
    assert error is not None and all(m in error for m in made.values())
    assert world.sim.jobs_per_ref() == {"r0": 1, "r1": 1, "r2": 1}
    async with (  # only when asked, knowing they may be paid twice
        client_for(world.sim) as client,
        Batch(client, requests, journal=world.tmp / "run.db", resubmit_uncertain=True) as batch,
    ):
        again = {r.key: r.state async for r in batch}
    assert again == dict.fromkeys(("r0", "r1", "r2"), RequestState.DONE)
    assert world.sim.jobs_per_ref() == {"r0": 2, "r1": 2, "r2": 1}


async def test_requests_left_sending_by_a_killed_cli_are_reconciled_on_resume(world: World) -> None:
    """CLI SIGKILLed while sending: the rerun adopts or resends each request, none paid twice."""
    world.sim.faults.add(kind=FaultKind.SLOW, endpoint=Endpoint.BUTTON, delay=600.0, times=1)
    path = world.write_jsonl("in.jsonl", world.requests(3))
    command = [*CLI, "batch", str(path), "--journal", "run.db", *common(world)]
    async with await anyio.open_process(
        command, env=env_for(world), cwd=world.tmp, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:  # fmt: skip
        with anyio.fail_after(20):
            while not journal_says_sending(world.tmp / "run.db"):  # noqa: ASYNC110 - a file in another process
                await anyio.sleep(0.02)
        process.kill()
        await process.wait()
    done = await anyio.run_process(
        [*command, "--out", "out.jsonl"], env=env_for(world), cwd=world.tmp, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert {line["state"] for line in results(world.tmp / "out.jsonl")} == {"done"}
    assert world.sim.jobs_per_ref() == {"r0": 1, "r1": 1, "r2": 1}
    # The simulator drops a held request whose connection closed: no job, so it was sent again.
    assert _reconciled(world.tmp / "run.db") == {"r0": "resent"}


async def test_reconcile_option_adopts_and_sends_nothing(world: World) -> None:
    """CLI --reconcile: a job made by a request left sending is adopted; nothing is sent."""
    from imaginepro_async._batch.intake import InpaintRequest, InputProblem, prepare
    from imaginepro_async._batch.journal import Journal

    requests = world.requests(3)
    path = world.write_jsonl("in.jsonl", requests)
    async with Journal(world.tmp / "run.db") as journal, client_for(world.sim) as client:
        async with journal.intake("a dead run", source=str(path)) as intake:
            entries = [prepare(InpaintRequest.from_mapping(r), n) for n, r in enumerate(requests)]
            await intake.add([e for e in entries if not isinstance(e, InputProblem)])
        made = {}
        for key, request in (("r0", requests[0]), ("r1", requests[1])):
            await journal.update(key, RequestState.SUBMITTING)
            job = await client.inpaint(world.parent, world.mask, prompt=request["prompt"])
            made[key] = job.message_id
        await journal.update("r1", RequestState.SUBMITTED, message_id=made["r1"])
    # r0 stays "submitting", as a process killed before hearing back leaves it.
    command = [*CLI, "batch", str(path), "--journal", "run.db", *common(world)]
    done = await anyio.run_process(
        [*command, "--reconcile", "--out", "rec.jsonl"], env=env_for(world), cwd=world.tmp,
        check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr.decode()
    reported = {line["key"]: line for line in results(world.tmp / "rec.jsonl")}
    assert reported["r0"]["state"] == "submitted"
    assert reported["r0"]["messageId"] == made["r0"]
    assert len(world.sim.jobs()) == 2 + 2  # the parent's grid and upscale, r0 and r1: no more
    assert _reconciled(world.tmp / "run.db") == {"r0": "adopted"}
    final = await anyio.run_process(command, env=env_for(world), cwd=world.tmp, check=False)
    assert final.returncode == 0, final.stderr.decode()
    assert len(world.sim.jobs()) == 5  # r2 sent; r0 and r1 followed, not sent again


async def test_an_unclaimed_job_with_another_prompt_forbids_resending(world: World) -> None:
    """A Vary (Region) job nobody claims near the send (another prompt): uncertain, not resent."""
    async with client_for(world.sim) as client:
        stranger = await client.inpaint(world.parent, world.mask, prompt="somebody else's edit")
    world.sim.faults.add(kind=FaultKind.HTTP_500, endpoint=Endpoint.BUTTON, times=1)
    async with (
        client_for(world.sim) as client,
        Batch(client, world.requests(2), journal=world.tmp / "run.db") as batch,
    ):
        final = {r.key: r async for r in batch}
    assert final["r0"].state is RequestState.UNCERTAIN
    assert stranger.message_id in (final["r0"].error or "")
    assert "r0" not in world.sim.jobs_per_ref()
