"""What the Redis tests share: the time scale, a job to poll, the worker subprocess command."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp

from imaginepro_async.testing import Simulator

REPO = Path(__file__).resolve().parents[2]
SCALE = 20.0  # API seconds per real second: the create window is 0.15 s here
LEASE = 40.0  # API seconds (2 s real): longer than any request to the local simulator takes


def key_id(name: str) -> str:
    """A fresh key id per test, so that tests sharing one Redis never share a budget."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


async def job_to_poll(sim: Simulator) -> str:
    """Create one job directly, then forget the request (rate-limit history included)."""
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.api_key}"}) as session,
        session.post(f"{sim.url}/api/v1/nova/imagine", json={"prompt": "a lighthouse"}) as r,
    ):
        message_id: str = (await r.json())["messageId"]
    sim.reset_counters()
    return message_id


def worker_command(task: dict[str, Any]) -> list[str]:
    """The command line of one worker process (see ``_worker.py``)."""
    return [sys.executable, "-m", "tests.redis._worker", json.dumps(task)]


def worker_env() -> dict[str, str]:
    """This checkout first on the path, whatever the venv's editable install points at."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}
