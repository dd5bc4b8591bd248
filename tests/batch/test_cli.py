"""The ``imaginepro-async`` command line end to end, in subprocesses, against a simulator."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from imaginepro_async.testing import Simulator, uniform_duration

from .conftest import World, make_world

pytestmark = pytest.mark.anyio

CLI = [sys.executable, "-m", "imaginepro_async"]


def env_for(world: World) -> dict[str, str]:
    """The environment of a CLI subprocess: the key comes from the variable, never argv."""
    return os.environ | {"IMAGINEPRO_API_KEY": world.sim.api_key}


def common(world: World) -> list[str]:
    """Connection options for the simulator."""
    return ["--base-url", world.sim.url, "--time-scale", str(world.sim.time_scale)]


async def cli(world: World, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI to its end; the API key must not appear in its output."""
    done = await anyio.run_process([*CLI, *args], env=env_for(world), cwd=world.tmp, check=False)
    assert world.sim.api_key.encode() not in done.stdout + done.stderr
    return done


def results(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a results file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def journal_states(path: Path) -> dict[str, str]:
    """State per key, read straight from the journal's SQLite file."""
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT key, state FROM requests").fetchall())
    finally:
        db.close()


@pytest.fixture
async def slow_world(tmp_path: Path) -> AsyncIterator[World]:
    """A simulator at 120x, so a batch of 40 runs long enough to be interrupted."""
    async with Simulator(
        time_scale=120.0, seed=5, concurrency=40, duration=uniform_duration(20, 60)
    ) as sim:
        yield await make_world(sim, tmp_path)


async def test_batch_command_completes_and_rerun_resumes(world: World) -> None:
    """batch writes every result and the images; a rerun resends nothing and exits 0."""
    path = world.write_jsonl("in.jsonl", world.requests(6))
    args = ["batch", str(path), "--journal", "run.db", "--out", "out.jsonl", "--download", "img"]
    first = await cli(world, *args, *common(world))
    assert first.returncode == 0, first.stderr.decode()
    lines = results(world.tmp / "out.jsonl")
    assert sorted(line["key"] for line in lines) == [f"r{n}" for n in range(6)]
    assert all(line["state"] == "done" and len(line["files"]) == 4 for line in lines)
    for file in (Path(world.tmp, f) for line in lines for f in line["files"]):
        assert (await anyio.Path(file).read_bytes()).startswith(b"\x89PNG")
    assert b"6 done" in first.stderr
    second = await cli(world, *args, *common(world))
    assert second.returncode == 0
    assert all(line["resumed"] for line in results(world.tmp / "out.jsonl"))
    assert world.sim.jobs_per_ref() == {f"r{n}": 1 for n in range(6)}


async def test_batch_command_reports_failures_and_bad_lines(world: World) -> None:
    """Bad lines are named on stderr with line numbers (in CLI terms), others run, exit code 1."""
    no_file = {"parent": world.parent, "mask": "no-such-mask.png"}
    path = world.write_jsonl("in.jsonl", [*world.requests(2), "{oops", {"parent": "x y"}, no_file])
    done = await cli(world, "batch", str(path), "--out", "out.jsonl", *common(world))
    assert done.returncode == 1
    assert b"line 3" in done.stderr
    assert b"line 4" in done.stderr
    assert b"line 5" in done.stderr and b"give the path of an existing file" in done.stderr
    written = results(world.tmp / "out.jsonl")
    assert not any("pathlib" in (line["error"] or "") for line in written)  # no Python terms
    states = sorted(line["state"] for line in written)
    assert states == ["done", "done", "invalid", "invalid", "invalid"]


async def test_strict_bad_input_and_foreign_journal_exit_2(world: World) -> None:
    """--strict with a bad line, or a journal from another input, exit 2 with nothing sent."""
    bad = world.write_jsonl("bad.jsonl", [*world.requests(2), "{oops"])
    strict = await cli(world, "batch", str(bad), "--journal", "run.db", "--strict", *common(world))
    assert strict.returncode == 2
    assert b"line 3" in strict.stderr
    assert world.sim.stats().jobs_created == 0
    good = world.write_jsonl("good.jsonl", world.requests(2))
    assert (
        await cli(world, "batch", str(good), "--journal", "run.db", *common(world))
    ).returncode == 0
    other = world.write_jsonl(
        "other.jsonl", [r | {"ref": "z" + r["ref"]} for r in world.requests(2)]
    )
    refused = await cli(world, "batch", str(other), "--journal", "run.db", *common(world))
    assert refused.returncode == 2
    assert b"was made from" in refused.stderr


async def test_sigint_stops_cleanly_and_rerun_resumes(slow_world: World) -> None:
    """Ctrl-C stops with a consistent journal (nothing left submitting); a rerun finishes."""
    world = slow_world
    path = world.write_jsonl("in.jsonl", world.requests(40))
    args = [*CLI, "batch", str(path), "--journal", "run.db", *common(world)]
    output = b""
    async with await anyio.open_process(args, env=env_for(world), cwd=world.tmp) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        with anyio.fail_after(20):
            async for chunk in process.stdout:
                output += chunk
                if output.count(b"\n") >= 3:
                    break
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            async for chunk in process.stdout:
                output += chunk
            code = await process.wait()
        stderr = b"".join([chunk async for chunk in process.stderr])
    assert code == 130, stderr
    assert b"stopping" in stderr
    assert world.sim.api_key.encode() not in output + stderr
    states = journal_states(world.tmp / "run.db")
    assert "submitting" not in states.values()
    assert "uncertain" not in states.values()
    assert "pending" in states.values() or "submitted" in states.values()
    rerun = await cli(
        world, "batch", str(path), "--journal", "run.db", "--out", "out.jsonl", *common(world)
    )
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert {line["state"] for line in results(world.tmp / "out.jsonl")} == {"done"}
    assert world.sim.jobs_per_ref() == {f"r{n}": 1 for n in range(40)}


async def test_sigkill_at_random_points_never_pays_twice(slow_world: World) -> None:
    """Killed with SIGKILL at random points and restarted, every request ends done exactly
    once, or is reported uncertain and never sent twice; every result is in the output."""
    world = slow_world
    count = 80
    path = world.write_jsonl("in.jsonl", world.requests(count))
    out = world.tmp / "out.jsonl"
    args = [*CLI, "batch", str(path), "--journal", "run.db", "--out", str(out), *common(world)]
    rng = random.Random(int(os.environ.get("KILL_SEED", "1234")))
    kills = 0
    for _ in range(5):
        async with await anyio.open_process(
            args, env=env_for(world), cwd=world.tmp, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as process:  # fmt: skip
            with anyio.move_on_after(rng.uniform(0.4, 1.0)):
                await process.wait()
            if process.returncode is None:
                process.kill()
                kills += 1
            await process.wait()
    final = await cli(
        world, "batch", str(path), "--journal", "run.db", "--out", str(out), *common(world)
    )
    assert kills >= 3
    lines = {line["key"]: line for line in results(out)}
    assert sorted(lines) == sorted(f"r{n}" for n in range(count))
    per_ref = world.sim.jobs_per_ref()
    assert world.sim.jobs_per_body(min_count=2) == []
    for key, line in lines.items():
        if line["state"] == "done":
            assert per_ref.get(key) == 1, key
        else:
            assert line["state"] == "uncertain", line
            assert per_ref.get(key, 0) <= 1
    uncertain = [k for k, line in lines.items() if line["state"] == "uncertain"]
    assert final.returncode == (1 if uncertain else 0), final.stderr.decode()
    if uncertain:
        assert b"uncertain" in final.stderr


async def test_inpaint_wait_and_show_commands(world: World) -> None:
    """inpaint prints the final Message (JSON) and saves the image; wait and show find it."""
    done = await cli(
        world, "inpaint", "--parent", world.parent, "--mask", str(world.mask), "--prompt",
        "a red boat", "--json", "--download", "boat.png", *common(world),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    message = json.loads(done.stdout)
    assert message["status"] == "DONE"
    assert (world.tmp / "boat.png").read_bytes().startswith(b"\x89PNG")
    waited = await cli(world, "wait", message["messageId"], "--json", *common(world))
    assert waited.returncode == 0
    assert json.loads(waited.stdout)["messageId"] == message["messageId"]
    shown = await cli(world, "show", message["messageId"], *common(world))
    assert shown.returncode == 0
    assert b"status:    DONE" in shown.stdout
    bad = await cli(world, "show", "not an id", *common(world))
    assert bad.returncode == 2
    assert b"not a messageId" in bad.stderr


async def test_mask_command_writes_mask_and_preview(tmp_path: Path) -> None:
    """mask draws shapes into a black-and-white PNG and writes a preview beside it."""
    done = await anyio.run_process(
        [*CLI, "mask", "--size", "64x48", "--rect", "0", "0", "0.5", "0.5", "--ellipse", "0.5",
         "0.5", "1", "1", "--relative", "-o", "m.png", "--preview", "p.png"],
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    from PIL import Image

    with Image.open(tmp_path / "m.png") as mask:
        histogram = mask.convert("L").histogram()
        assert mask.size == (64, 48)
        assert sum(histogram[1:255]) == 0
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
    usage = await anyio.run_process([*CLI, "mask", "-o", "m.png"], cwd=tmp_path, check=False)
    assert usage.returncode == 2
