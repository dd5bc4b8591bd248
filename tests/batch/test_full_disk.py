"""A real full filesystem under ``--out`` once jobs were sent: exit 4, and a rerun that pays nothing twice."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import World
from .test_cli import cli, common, journal_states

pytestmark = pytest.mark.anyio


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A mounted 8 KiB tmpfs (root only: skipped elsewhere, but never under CI=true)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        why = done.stderr.decode().strip() or f"mount exited {done.returncode}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs as root and must mount a tmpfs: {why}")
        pytest.skip(f"cannot mount a tmpfs here (not root?): {why}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_disk_under_out_after_sending_exits_4_and_the_rerun_resumes(
    world: World, tiny_disk: Path
) -> None:
    """--out on a full tmpfs: exit 4 naming the sent requests; freed, the rerun sends none twice."""
    path = world.write_jsonl("in.jsonl", world.requests(12))
    out = tiny_disk / "results.jsonl"
    command = ["batch", str(path), "--journal", "run.db", "--out", str(out), *common(world)]
    done = await cli(world, *command)
    stderr = done.stderr.decode()
    assert done.returncode == 4, stderr
    assert "No space left on device" in stderr
    assert "nothing was sent" not in stderr
    assert "requests were already sent: they are recorded in the journal" in stderr
    assert "Traceback" not in stderr
    sent = [k for k, s in journal_states(world.tmp / "run.db").items() if s != "pending"]
    assert sent
    assert out.read_bytes().endswith(b"\n")  # only whole lines
    moved = world.tmp / "results.jsonl"
    again = await cli(
        world, *command[: -len(common(world)) - 2], "--out", str(moved), *common(world)
    )
    assert again.returncode == 0, again.stderr.decode()
    assert world.sim.jobs_per_ref() == {f"r{n}": 1 for n in range(12)}
