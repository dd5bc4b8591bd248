"""The batch runner and its journal, against the simulator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imaginepro_async._batch.batch import (
    Batch,
    BatchProgress,
    BatchResult,
    InpaintRequest,
    InputProblem,
    JsonlInput,
    read_jsonl,
)
from imaginepro_async._batch.intake import prepare
from imaginepro_async._batch.journal import Journal, RequestState
from imaginepro_async._errors import BatchInputError, JournalBusyError, JournalMismatchError
from imaginepro_async.testing import Endpoint, FaultKind

from .conftest import World, client_for

pytestmark = pytest.mark.anyio


async def run(
    world: World,
    requests: Sequence[InpaintRequest | InputProblem | Mapping[str, Any]],
    journal: Path,
    **options: Any,
) -> list[BatchResult]:
    """Run one batch to its end and return its results in the order they came."""
    async with (
        client_for(world.sim) as client,
        Batch(client, requests, journal=journal, **options) as batch,
    ):
        return [result async for result in batch]


async def rows(journal: Path) -> dict[str, RequestState]:
    """The journal's state per key."""
    opened = await Journal.open(journal)
    try:
        return {row.key: row.state for row in await opened.rows()}
    finally:
        await opened.aclose()


async def test_batch_completes_with_one_job_per_request(world: World) -> None:
    """Every request ends done, with its final Message, and exactly one job per ref."""
    journal = world.tmp / "run.db"
    results = await run(world, world.requests(12), journal)
    assert sorted(r.key for r in results if r.key) == sorted(f"r{n}" for n in range(12))
    assert all(r.state is RequestState.DONE and r.message is not None for r in results)
    assert all(r.message and r.message.succeeded and r.message.ref == r.key for r in results)
    assert world.sim.jobs_per_ref() == {f"r{n}": 1 for n in range(12)}
    assert set((await rows(journal)).values()) == {RequestState.DONE}


async def test_resume_skips_done_and_reattaches_submitted(world: World) -> None:
    """A stopped batch resumes: done ones are not resent, submitted ones are re-attached."""
    journal = world.tmp / "run.db"
    requests = world.requests(15)
    async with (
        client_for(world.sim) as client,
        Batch(client, requests, journal=journal) as batch,
    ):
        async for _ in batch:
            batch.stop()
    states = await rows(journal)
    assert RequestState.SUBMITTED in states.values()
    assert RequestState.SUBMITTING not in states.values()
    before = world.sim.jobs_per_ref()
    results = await run(world, requests, journal)
    assert all(r.state is RequestState.DONE for r in results)
    done_before = {k for k, s in states.items() if s is RequestState.DONE}
    assert {r.key for r in results if r.resumed} == done_before
    assert world.sim.jobs_per_ref() == {f"r{n}": 1 for n in range(15)}
    assert len(world.sim.jobs_per_ref()) - len(before) == sum(
        s is RequestState.PENDING for s in states.values()
    )


async def test_a_lost_answer_is_reported_uncertain_then_adopted_not_resent(world: World) -> None:
    """A submission whose answer was lost is uncertain, then found in the history: never resent."""
    journal = world.tmp / "run.db"
    requests = world.requests(3)
    world.sim.faults.add(kind=FaultKind.DROP_AFTER, endpoint=Endpoint.BUTTON, times=1)
    reported = [(r.key, r.state) for r in await run(world, requests, journal)]
    assert reported.index(("r0", RequestState.UNCERTAIN)) < reported.index(
        ("r0", RequestState.DONE)
    )
    assert world.sim.jobs_per_ref() == {"r0": 1, "r1": 1, "r2": 1}
    again = {r.key: r for r in await run(world, requests, journal)}
    assert again["r0"].state is RequestState.DONE and again["r0"].resumed
    assert world.sim.jobs_per_ref() == {"r0": 1, "r1": 1, "r2": 1}


async def test_row_left_submitting_by_a_crash_and_never_created_is_sent_once(world: World) -> None:
    """A request a dead process left in "submitting", absent from the history, is sent once."""
    journal = world.tmp / "run.db"
    requests = world.requests(2)
    async with Journal(journal) as opened:
        async with opened.intake("a dead run", source="x") as intake:
            entries = [prepare(InpaintRequest.from_mapping(r), n) for n, r in enumerate(requests)]
            await intake.add([e for e in entries if not isinstance(e, InputProblem)])
        await opened.update("r0", RequestState.SUBMITTING)
    results = {r.key: r for r in await run(world, requests, journal)}
    assert results["r0"].state is RequestState.DONE
    assert results["r1"].state is RequestState.DONE
    assert world.sim.jobs_per_ref() == {"r0": 1, "r1": 1}


async def test_journal_from_other_input_is_refused(world: World) -> None:
    """A journal made from other requests (or other contents under a ref) is refused."""
    journal = world.tmp / "run.db"
    await run(world, world.requests(3), journal)
    other = [r | {"ref": f"x{n}"} for n, r in enumerate(world.requests(3))]
    with pytest.raises(JournalMismatchError, match="not from this input"):
        await run(world, other, journal)
    edited = world.requests(3)
    edited[1]["prompt"] = "another prompt"
    with pytest.raises(JournalMismatchError, match="other contents"):
        await run(world, edited, journal)
    grown = await run(world, world.requests(4), journal)
    assert [r.resumed for r in grown].count(True) == 3
    assert world.sim.jobs_per_ref() == {f"r{n}": 1 for n in range(4)}


async def test_second_process_on_the_same_journal_is_refused(world: World) -> None:
    """While one run holds a journal, another cannot open it."""
    journal = world.tmp / "run.db"
    first = await Journal.open(journal)
    try:
        with pytest.raises(JournalBusyError, match="in use"):
            await Journal.open(journal)
    finally:
        await first.aclose()
    second = await Journal.open(journal)
    await second.aclose()


async def test_downloads_are_complete_image_files(world: World) -> None:
    """Each result's images are saved whole, decodable, recorded, with no temp files left."""
    journal, out = world.tmp / "run.db", world.tmp / "images"
    results = await run(world, world.requests(3), journal, download_dir=out)
    for result in results:
        assert result.ok
        assert result.message is not None
        assert len(result.files) == len(result.message.image_urls)
        for file in result.files:
            with Image.open(file) as image:
                image.load()
                assert image.size == world.sim.image_size
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    (out / results[0].files[0].name).unlink()
    again = {r.key: r for r in await run(world, world.requests(3), journal, download_dir=out)}
    assert again[results[0].key].ok
    assert all(f.exists() for f in again[results[0].key].files)


async def test_a_failed_download_is_reported_and_leaves_no_file(world: World) -> None:
    """A result whose image cannot be downloaded is done, with a download error and no file."""
    out = world.tmp / "images"
    world.sim.faults.add(kind=FaultKind.HTTP_500, endpoint=Endpoint.CDN, probability=1.0)
    results = await run(world, world.requests(1), world.tmp / "run.db", download_dir=out)
    assert results[0].state is RequestState.DONE
    assert results[0].download_error is not None
    assert not results[0].ok
    assert list(out.iterdir()) == []


async def test_bad_lines_are_reported_with_line_numbers(world: World) -> None:
    """Bad lines are reported with line number and reason; the good ones still run."""
    good = world.requests(2)
    path = world.write_jsonl(
        "in.jsonl",
        [
            good[0],
            "{not json",
            {"parent": world.parent, "mask": "missing.png", "ref": "m"},
            {"parent": "not an id!", "mask": str(world.mask), "ref": "b"},
            {"parent": world.parent, "mask": str(world.mask), "promt": "typo"},
            good[0],
            good[1],
        ],
    )
    items = await read_jsonl(path)
    results = await run(world, items, world.tmp / "run.db")
    invalid = {r.line: r.error for r in results if r.state is RequestState.INVALID}
    assert set(invalid) == {2, 3, 4, 5, 6}
    assert "not valid JSON" in (invalid[2] or "")
    assert "no file at" in (invalid[3] or "")
    assert "not a messageId" in (invalid[4] or "")
    assert "unknown field 'promt'" in (invalid[5] or "")
    assert "used again (first on line 1)" in (invalid[6] or "")
    assert {r.key for r in results if r.state is RequestState.DONE} == {"r0", "r1"}


async def test_strict_refuses_bad_input_before_submitting(world: World) -> None:
    """With strict, one bad line stops the batch before any request is sent."""
    path = world.write_jsonl("in.jsonl", [*world.requests(2), "[1, 2"])
    with pytest.raises(BatchInputError, match="line 3"):
        await run(world, await read_jsonl(path), world.tmp / "run.db", strict=True)
    assert world.sim.stats().jobs_created == 0


async def test_requests_without_ref_are_keyed_by_hash(world: World) -> None:
    """Without refs, keys are hashes; an identical request twice is two jobs, kept apart."""
    base = {"parent": world.parent, "mask": str(world.mask), "prompt": "same"}
    journal = world.tmp / "run.db"
    results = await run(world, [base, base, base | {"prompt": "other"}], journal)
    keys = [r.key or "" for r in results]
    assert len(set(keys)) == 3
    assert all(k.startswith("req-") for k in keys)
    again = await run(world, [base, base, base | {"prompt": "other"}], journal)
    assert all(r.resumed for r in again)
    assert world.sim.stats().jobs_created == 3


async def test_progress_snapshots_count_states_and_estimate(world: World) -> None:
    """Progress comes as callbacks and as an iterator, ending with everything done."""
    seen: list[BatchProgress] = []
    snapshots: list[BatchProgress] = []
    async with (
        client_for(world.sim) as client,
        Batch(
            client, world.requests(8), journal=world.tmp / "run.db", on_progress=seen.append
        ) as batch,
    ):
        async for snapshot in batch.progress(every=0.02):
            snapshots.append(snapshot)
        summary = await batch.wait()
    assert summary.ok
    assert any(s.counts[RequestState.SUBMITTED] for s in seen)
    last = snapshots[-1]
    assert last.counts[RequestState.DONE] == 8
    assert last.remaining == 0
    assert last.eta == 0
    assert last.throughput is not None
    assert last.throughput > 0
    assert any(s.eta is not None and s.eta > 0 for s in seen)


async def test_result_json_round_trips_the_message(world: World) -> None:
    """A result's JSON carries the camelCase Message, as the CLI writes it."""
    results = await run(world, world.requests(1), world.tmp / "run.db")
    data = results[0].to_json()
    assert data["state"] == "done"
    assert data["message"]["messageId"] == data["messageId"]
    assert data["message"]["status"] == "DONE"


async def test_a_server_error_on_submission_is_uncertain_a_503_is_not(world: World) -> None:
    """A 500 may hide a created job: uncertain until the history shows none; a 503 is retried."""
    journal = world.tmp / "run.db"
    requests = world.requests(2)
    world.sim.faults.add(kind=FaultKind.HTTP_500, endpoint=Endpoint.BUTTON, times=1)
    reported = [(r.key, r.state, r.error) for r in await run(world, requests, journal)]
    uncertain = next(r for r in reported if r[0] == "r0")
    assert uncertain[1] is RequestState.UNCERTAIN
    assert "--resubmit-uncertain" in (uncertain[2] or "")
    # The history then shows no such job: proven never created, it is sent (once).
    assert {k: s for k, s, _ in reported} == {"r0": RequestState.DONE, "r1": RequestState.DONE}
    assert world.sim.jobs_per_ref() == {"r0": 1, "r1": 1}

    other = world.tmp / "other.db"
    fresh = world.requests(1, prompt="a 503 then fine")
    world.sim.faults.add(kind=FaultKind.HTTP_503, endpoint=Endpoint.BUTTON, times=10)
    first = {r.key: r for r in await run(world, fresh, other)}
    assert first["r0"].state is RequestState.FAILED
    assert (await rows(other))["r0"] is RequestState.FAILED
    world.sim.faults.clear()
    second = {r.key: r for r in await run(world, fresh, other)}
    assert second["r0"].state is RequestState.DONE


async def test_a_job_that_could_not_be_followed_is_followed_again_not_resubmitted(
    world: World,
) -> None:
    """Unreadable polls fail the follow, not the job: a resume looks again and pays nothing."""
    journal = world.tmp / "run.db"
    requests = world.requests(1)
    rule = world.sim.faults.add(
        kind=FaultKind.MALFORMED_JSON, endpoint=Endpoint.FETCH, probability=1.0
    )
    first = {r.key: r for r in await run(world, requests, journal, retry_failed=True)}
    assert first["r0"].state is RequestState.FAILED
    assert first["r0"].message is None
    world.sim.faults.remove(rule)
    second = {r.key: r for r in await run(world, requests, journal, retry_failed=True)}
    assert second["r0"].state is RequestState.DONE
    assert world.sim.jobs_per_ref() == {"r0": 1}


async def test_reprs_show_state_counts_and_paths_never_the_key(world: World) -> None:
    """Batch and JsonlInput reprs say where they stand; neither shows the API key."""
    path = world.write_jsonl("in.jsonl", [*world.requests(3), "# a comment", "not json"])
    source = JsonlInput(path)
    assert repr(source) == f"<JsonlInput path={str(path)!r} lines_read=0>"
    journal = world.tmp / "run.db"
    async with client_for(world.sim) as client:
        batch = Batch(client, source, journal=journal)
        assert repr(batch) == f"<Batch new journal={str(journal)!r}>"
        async with batch:
            assert repr(source).endswith("lines_read=5>")
            assert repr(batch).startswith(f"<Batch running journal={str(journal)!r} pending=")
            assert "invalid=1" in repr(batch)
            await batch.wait()
        shown = repr(batch)
    assert shown == (
        f"<Batch closed journal={str(journal)!r} pending=0 submitted=0 done=3 failed=0 invalid=1>"
    )
    assert world.sim.api_key not in shown + repr(source)
