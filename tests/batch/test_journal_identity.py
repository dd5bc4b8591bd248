"""A journal is one file whatever path reaches it, and the file under a run stays that file."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from imaginepro_async._batch.batch import Batch
from imaginepro_async._batch.journal import Journal, RequestState
from imaginepro_async._errors import JournalBusyError, JournalWriteError

from .conftest import World, client_for
from .test_cli import CLI, common, env_for

pytestmark = pytest.mark.anyio

_N = 16  # requests per run: enough to be mid-run after a few results


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
async def test_a_second_run_through_another_path_to_the_file_is_refused(
    tmp_path: Path, link: str
) -> None:
    """A journal held through one path is refused through a symlink or a hard link to it."""
    path = tmp_path / "run.db"
    other = tmp_path / "sub" / "other.db"
    other.parent.mkdir()
    async with Journal(path):
        (os.symlink if link == "symlink" else os.link)(path, other)
        with pytest.raises(JournalBusyError, match="another link to it"):
            async with Journal(other):
                pass
    async with Journal(other):  # free again once the first run ended
        pass


async def _run(world: World, journal: Path, results: int, act: Callable[[], object]) -> None:
    async with (
        client_for(world.sim) as client,
        Batch(client, world.requests(_N), journal=journal, max_in_flight=4) as batch,
    ):
        seen = 0
        async for _ in batch:
            seen += 1
            if seen == results:
                act()


async def _run_until(world: World, journal: Path, results: int, act: Callable[[], object]) -> str:
    """Run _N requests; after ``results`` results call ``act``; return the error's text."""
    with pytest.raises(JournalWriteError) as caught:
        await _run(world, journal, results, act)
    return str(caught.value)


def _saved(tmp: Path) -> Path:
    saved = list(tmp.glob("run.db.saved-*"))
    assert len(saved) == 1, saved
    return saved[0]


async def _resume_from(world: World, saved: Path, journal: Path) -> None:
    """Put ``saved`` back at ``journal`` and run the batch to its end: nothing is paid twice."""
    os.replace(saved, journal)
    async with (
        client_for(world.sim) as client,
        Batch(client, world.requests(_N), journal=journal) as batch,
    ):
        states = [r.state.value async for r in batch]
    assert len(states) == _N
    assert all(n == 1 for n in world.sim.jobs_per_ref().values()), world.sim.jobs_per_ref()
    assert len(world.sim.jobs_per_ref()) == _N


async def test_a_journal_deleted_mid_run_stops_it_and_is_saved(world: World) -> None:
    """Deleting run.db mid-run stops the run, saves its journal, and the saved copy resumes."""
    journal = world.tmp / "run.db"
    text = await _run_until(world, journal, 3, journal.unlink)
    assert "was deleted while the batch ran" in text
    assert "start a new journal and send every request again" in text
    saved = _saved(world.tmp)
    assert f"mv {saved} {journal}" in text
    await _resume_from(world, saved, journal)


@pytest.mark.parametrize("how", ["moved back over it", "copied over it"])
async def test_a_journal_replaced_by_an_older_copy_mid_run_stops_it(world: World, how: str) -> None:
    """An older copy put over run.db (renamed or copied in place) stops the run; nothing paid twice."""
    journal = world.tmp / "run.db"
    old = world.tmp / "old.db"

    def replace() -> None:
        if how == "moved back over it":
            os.replace(old, journal)
        else:
            # The same inode, older contents; copied under an SQLite lock so that it does not
            # tear a write of the run (a torn file is refused, and cannot be saved).
            lock = sqlite3.connect(journal, timeout=10, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            shutil.copyfile(old, journal)
            lock.execute("ROLLBACK")
            lock.close()

    async with (
        client_for(world.sim) as client,
        Batch(client, world.requests(1), journal=journal) as batch,
    ):
        await batch.wait()
    shutil.copyfile(journal, old)
    text = await _run_until(world, journal, 5, replace)
    assert "saved as" in text, text
    assert ("replaced by another file" if how == "moved back over it" else "in place") in text
    assert "send them again and pay for them twice" in text
    await _resume_from(world, _saved(world.tmp), journal)


async def test_the_cli_exits_4_and_names_a_safe_rerun_when_the_journal_is_deleted(
    world: World,
) -> None:
    """CLI: run.db deleted mid-run exits 4, says what happened, never "run the same command"."""
    import anyio

    path = world.write_jsonl("in.jsonl", world.requests(_N))
    command = [*CLI, "batch", str(path), "--journal", "run.db", "--max-in-flight", "2"]
    async with await anyio.open_process(
        [*command, *common(world)], env=env_for(world), cwd=world.tmp
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        seen = b""
        with anyio.fail_after(30):
            async for chunk in process.stdout:
                seen += chunk
                if seen.count(b"\n") >= 2:
                    break
        (world.tmp / "run.db").unlink()
        async for _ in process.stdout:
            pass
        stderr = b"".join([chunk async for chunk in process.stderr]).decode()
        code = await process.wait()
    assert code == 4, stderr
    assert "was deleted while the batch ran" in stderr
    assert "Traceback" not in stderr
    assert "run the same command again to resume" not in stderr
    assert "Do not run the same command" in stderr


async def test_a_mask_file_changed_after_intake_is_refused_and_not_sent(world: World) -> None:
    """A mask file rewritten between intake and sending: that request fails, nothing sent for it."""
    from imaginepro_async._batch.results import BatchProgress
    from imaginepro_async.testing import make_mask

    other = world.tmp / "other.png"
    other.write_bytes(world.mask.read_bytes())
    requests = world.requests(2)
    requests[1]["mask"] = str(other)
    width, height = world.sim.image_size

    def rewrite(progress: BatchProgress) -> None:
        # r0 sent; r1 waits for its slot (max_in_flight=1) and has not read its mask yet.
        if progress.counts[RequestState.SUBMITTED] == 1 and other.stat().st_size:
            other.write_bytes(make_mask(width, height, box=(0, 0, width // 2, height // 2)))

    async with (
        client_for(world.sim) as client,
        Batch(
            client, requests, journal=world.tmp / "run.db", max_in_flight=1, on_progress=rewrite
        ) as batch,
    ):
        final = {r.key: r async for r in batch}
    assert final["r0"].state is RequestState.DONE
    assert final["r1"].state is RequestState.FAILED
    assert final["r1"].error is not None and "changed after the batch read it" in final["r1"].error
    assert world.sim.jobs_per_ref() == {"r0": 1}
