"""Fixtures for the command line's tests: a simulator with an upscaled parent, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import attrs
import pytest

from imaginepro_async.testing import Simulator, uniform_duration
from tests.batch.conftest import SCALE, World, make_world

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "imaginepro_async"]


@attrs.frozen
class Result:
    """A finished CLI run: exit code and decoded output."""

    code: int
    out: str
    err: str


def cli_env(sim: Simulator | None, tmp: Path, **extra: str) -> dict[str, str]:
    """A subprocess environment: the repository on the path, the simulator in the variables."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp / "state")}
    env.pop("IMAGINEPRO_DEBUG", None)
    if sim is not None:
        env |= {
            "IMAGINEPRO_API_KEY": sim.api_key,
            "IMAGINEPRO_BASE_URL": sim.url,
            "IMAGINEPRO_TIME_SCALE": str(sim.time_scale),
        }
    return env | extra


async def run_cli(
    sim: Simulator | None, tmp: Path, *args: str, env: dict[str, str] | None = None
) -> Result:
    """Run the CLI to its end in ``tmp``; no traceback and no API key may reach its output."""
    done = await anyio.run_process(
        [*CLI, *args],
        env=env if env is not None else cli_env(sim, tmp),
        cwd=tmp,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    result = Result(done.returncode, done.stdout.decode(), done.stderr.decode())
    assert "Traceback" not in result.err, result.err
    if sim is not None:
        assert sim.api_key not in result.out + result.err
    return result


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A fast simulator with an upscaled parent and a mask file of its image's size."""
    async with Simulator(
        time_scale=SCALE, seed=11, concurrency=10, duration=uniform_duration(30, 90)
    ) as sim:
        yield await make_world(sim, tmp_path)


__all__ = ["CLI", "ROOT", "Result", "World", "cli_env", "run_cli"]
