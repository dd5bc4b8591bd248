"""The batch against what real machines do: kills, copied or broken journals, edits, full disks."""

from __future__ import annotations

import base64
import contextlib
import resource
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from imaginepro_async._batch.batch import Batch, BatchResult
from imaginepro_async._batch.journal import Journal, RequestState
from imaginepro_async._errors import JournalMismatchError, JournalWriteError, NotAJournalError
from imaginepro_async.testing import Endpoint, FaultKind

from .conftest import World, client_for, journal_says_sending
from .test_cli import CLI, cli, common, env_for, results

pytestmark = pytest.mark.anyio


async def run(
    world: World, requests: list[dict[str, object]], journal: Path, **options: Any
) -> list[BatchResult]:
    """Run one batch to its end and return its results."""
    async with (
        client_for(world.sim) as client,
        Batch(client, requests, journal=journal, **options) as batch,
    ):
        return [result async for result in batch]


async def kill_after(world: World, args: list[str], lines: int) -> None:
    """Start the CLI and SIGKILL it once ``lines`` results were written to stdout."""
    async with await anyio.open_process(
        [*CLI, *args], env=env_for(world), cwd=world.tmp, stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None
        seen = b""
        with anyio.fail_after(30):
            async for chunk in process.stdout:
                seen += chunk
                if seen.count(b"\n") >= lines:
                    break
        process.kill()
        await process.wait()


async def test_the_journal_file_alone_holds_every_state_after_a_kill(world: World) -> None:
    """run.db copied alone after a SIGKILL resumes without sending anything twice."""
    path = world.write_jsonl("in.jsonl", world.requests(20))
    await kill_after(world, ["batch", str(path), "--journal", "run.db", *common(world)], 5)
    shutil.copyfile(world.tmp / "run.db", world.tmp / "copy.db")
    done = await cli(world, "batch", str(path), "--journal", "copy.db", *common(world))
    assert done.returncode in (0, 1), done.stderr.decode()
    assert world.sim.jobs_per_body(min_count=2) == []
    assert all(count == 1 for count in world.sim.jobs_per_ref().values())


@pytest.mark.parametrize("content", [b"", b"not a database at all", "foreign", "schemaless"])
async def test_a_file_that_is_not_our_journal_is_refused(world: World, content: object) -> None:
    """An empty, non-SQLite, foreign or schema-less file is refused, and nothing is sent."""
    journal = world.tmp / "run.db"
    if isinstance(content, bytes):
        journal.write_bytes(content)
    else:
        db = sqlite3.connect(journal)
        if content == "foreign":
            db.execute("CREATE TABLE t (x)")
        db.execute("PRAGMA user_version = 1")
        db.commit()
        db.close()
    path = world.write_jsonl("in.jsonl", world.requests(2))
    done = await cli(world, "batch", str(path), "--journal", "run.db", *common(world))
    assert done.returncode == 2
    assert b"not an imaginepro-async journal" in done.stderr
    assert world.sim.stats().jobs_created == 0
    with pytest.raises(NotAJournalError):
        await Journal.open(journal)


async def test_out_is_not_truncated_by_a_refused_run(world: World) -> None:
    """A second run on a busy journal exits 2 and leaves the first run's --out file alone."""
    path = world.write_jsonl("in.jsonl", world.requests(2))
    out = world.tmp / "out.jsonl"
    out.write_text('{"key": "kept"}\n')
    async with Journal(world.tmp / "run.db"):
        done = await cli(
            world, "batch", str(path), "--journal", "run.db", "--out", str(out), *common(world)
        )
    assert done.returncode == 2
    assert b"in use" in done.stderr
    assert out.read_text() == '{"key": "kept"}\n'


async def test_a_base64_mask_in_jsonl_works(world: World) -> None:
    """A mask given as plain base64 text (longer than any file name) is sent, not refused."""
    text = base64.b64encode(world.mask.read_bytes()).decode()
    assert len(text) > 255
    results = await run(world, world.requests(2, mask=text), world.tmp / "run.db")
    assert [r.state for r in results] == [RequestState.DONE, RequestState.DONE]


async def test_an_edited_line_is_new_if_never_sent_or_failed_refused_if_sent(world: World) -> None:
    """Fixing a failed or unsent line and rerunning sends it; editing a done one is refused."""
    journal = world.tmp / "run.db"
    requests = world.requests(2)
    world.sim.faults.add(kind=FaultKind.HTTP_503, endpoint=Endpoint.BUTTON, times=10)
    first = {r.key: r.state for r in await run(world, requests[:1], journal)}
    assert first == {"r0": RequestState.FAILED}
    world.sim.faults.clear()
    requests[0]["prompt"] = "fixed"
    again = {r.key: r for r in await run(world, requests, journal)}
    assert again["r0"].state is RequestState.DONE
    assert not again["r0"].resumed
    requests[1]["prompt"] = "edited after it was done"
    with pytest.raises(JournalMismatchError, match=r"line 2 \(ref 'r1'\)"):
        await run(world, requests, journal)
    assert world.sim.jobs_per_ref() == {"r0": 1, "r1": 1}


async def test_max_in_flight_holds_after_a_resume(world: World) -> None:
    """Jobs re-attached from an earlier run count in flight: no new job while they fill it."""
    journal = world.tmp / "run.db"
    requests = world.requests(12)
    async with client_for(world.sim) as client, Batch(client, requests, journal=journal) as batch:
        async for _ in batch:
            batch.stop()
    before = {job.message_id for job in world.sim.jobs()}
    await run(world, requests, journal, max_in_flight=2)
    jobs = world.sim.jobs()
    assert len([j for j in jobs if j.ref in {r["ref"] for r in requests}]) == 12
    for new in (j for j in jobs if j.message_id not in before):
        live = [
            j for j in jobs
            if j.created < new.created and (j.finished is None or j.finished > new.created)
        ]  # fmt: skip
        assert len(live) < 2, (new, live)


async def test_part_files_of_a_killed_run_are_removed(world: World) -> None:
    """Temporary download files a dead run left behind are cleaned up by the next run."""
    images = world.tmp / "img"
    images.mkdir()
    left = images / ".r0.png.0123abcd.part"
    left.write_bytes(b"half")
    await run(world, world.requests(1), world.tmp / "run.db", download_dir=images)
    assert not left.exists()
    assert sorted(p.name for p in images.iterdir()) == [
        "r0-1.png",
        "r0-2.png",
        "r0-3.png",
        "r0-4.png",
    ]


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (_FSIZE_LIMIT, _FSIZE_LIMIT))


_FSIZE_LIMIT = 40 * 1024


async def test_a_failed_journal_write_stops_cleanly_and_keeps_message_ids(world: World) -> None:
    """A full disk mid-run: exit 4, no traceback, and every created job's messageId is kept."""
    path = world.write_jsonl("in.jsonl", world.requests(60))
    env = env_for(world)
    command = [*CLI, "batch", str(path), "--journal", "run.db", *common(world)]
    done = await anyio.to_thread.run_sync(
        lambda: subprocess.run(
            command, env=env, cwd=world.tmp, capture_output=True, preexec_fn=_limit_file_size
        )
    )
    stderr = done.stderr.decode()
    assert done.returncode == 4, stderr
    assert "Traceback" not in stderr
    assert "could not be written" in stderr
    db = sqlite3.connect(world.tmp / "run.db")
    recorded = {m for (m,) in db.execute("SELECT message_id FROM requests") if m}
    db.close()
    reported = {
        line["messageId"] for line in map(_json, done.stdout.splitlines()) if line["messageId"]
    }
    created = {
        job.message_id for job in world.sim.jobs() if job.ref in {f"r{n}" for n in range(60)}
    }
    assert created <= recorded | reported


async def test_a_job_created_as_the_batch_stops_on_a_lost_journal_is_still_reported(
    world: World,
) -> None:
    """Stopped while a create is on the wire, and its journal gone: its messageId still comes out.

    The answer's write fails, so the result stream and the error raised are all that hold the
    job: the stop must not cancel that result on its way out (it did, in CI, under load).
    """
    world.sim.faults.add(kind=FaultKind.SLOW, endpoint=Endpoint.BUTTON, delay=1200.0, times=1)
    journal = world.tmp / "run.db"
    seen: list[BatchResult] = []

    async def stop_while_sending(batch: Batch) -> None:
        with anyio.fail_after(20):
            while not journal_says_sending(journal):  # noqa: ASYNC110 - a file written by another thread
                await anyio.sleep(0.01)
        journal.rename(world.tmp / "moved.db")
        batch.stop()

    async def run_and_stop() -> None:
        async with (
            client_for(world.sim) as client,
            Batch(client, world.requests(1), journal=journal) as batch,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(stop_while_sending, batch)
            seen.extend([result async for result in batch])

    with pytest.raises(JournalWriteError) as caught:
        await run_and_stop()
    made = {job.message_id for job in world.sim.jobs() if job.ref == "r0"}
    assert len(made) == 1
    assert made == {r.message_id for r in seen if r.message_id} == {caught.value.message_id}


def _json(line: bytes) -> dict[str, object]:
    import json

    return json.loads(line)  # type: ignore[no-any-return]


async def test_sigint_at_once_exits_130_without_a_traceback(world: World) -> None:
    """Ctrl-C as the batch starts, and a second one, exit 130 with no traceback or noise."""
    path = world.write_jsonl("in.jsonl", world.requests(5))
    async with await anyio.open_process(
        [*CLI, "batch", str(path), "--journal", "run.db", *common(world)],
        env=env_for(world),
        cwd=world.tmp,
    ) as process:
        lock = world.tmp / "run.db.lock"
        with anyio.fail_after(20):
            while not lock.exists():  # noqa: ASYNC110 - a file in another process
                await anyio.sleep(0.01)
        process.send_signal(signal.SIGINT)
        await anyio.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        code = await process.wait()
        assert process.stderr is not None
        stderr = b"".join([chunk async for chunk in process.stderr])
    assert code == 130, stderr
    assert b"Traceback" not in stderr
    assert b"Exception ignored" not in stderr


__all__ = ["results"]
