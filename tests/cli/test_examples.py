"""The shell scripts of ``examples/`` run end to end against the simulator."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import anyio
import pytest

from imaginepro_async.testing import Simulator

from .conftest import ROOT, cli_env

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("bash") is None, reason="the examples are bash scripts"),
]


async def run_example(name: str, sim: Simulator, tmp: Path) -> str:
    """Run ``examples/NAME`` with the CLI pointed at ``sim``; return its stdout."""
    env = cli_env(sim, tmp, IMAGINEPRO_CLI=f"{sys.executable} -m imaginepro_async")
    done = await anyio.run_process(
        ["bash", str(ROOT / "examples" / name), str(tmp / "work")], env=env, cwd=tmp, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    return done.stdout.decode()


async def test_inpaint_example(tmp_path: Path) -> None:
    """inpaint.sh goes from a prompt to a saved inpainting."""
    async with Simulator(time_scale=600, seed=4) as sim:
        await run_example("inpaint.sh", sim, tmp_path)
        assert sim.stats().jobs_created == 3
    assert (tmp_path / "work" / "boat.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "work" / "boat-preview.png").exists()


async def test_batch_example_keeps_its_journal_out_of_the_repository(tmp_path: Path) -> None:
    """batch.sh runs the three shipped requests to DONE; the journal lands in the state folder."""
    before = sorted(p.name for p in (ROOT / "examples").iterdir())
    async with Simulator(time_scale=600, seed=4) as sim:
        await run_example("batch.sh", sim, tmp_path)
    text = (tmp_path / "work" / "results.jsonl").read_text()
    results = [json.loads(line) for line in text.splitlines()]
    assert sorted(r["key"] for r in results) == ["harbour-boat-1", "harbour-boat-2", "harbour-sky"]
    assert {r["state"] for r in results} == {"done"}
    assert list((tmp_path / "state" / "imaginepro-async" / "journals").glob("requests-*.db"))
    assert not list((tmp_path / "work").glob("*.db"))
    assert sorted(p.name for p in (ROOT / "examples").iterdir()) == before
