"""Fixtures: a fast simulator, a client for it, an upscaled parent and a mask file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from imaginepro_async import ImagineProClient, RetryPolicy
from imaginepro_async.testing import Simulator, make_mask, uniform_duration

#: Simulated seconds per real second: a 30-90 s job takes 0.05-0.15 s.
SCALE = 600.0


@attrs.frozen
class World:
    """A running simulator with an upscaled image to inpaint and a mask file for it."""

    sim: Simulator
    parent: str
    mask: Path
    tmp: Path

    def requests(self, count: int, **extra: Any) -> list[dict[str, Any]]:
        """``count`` valid JSONL requests with refs r0, r1, ..."""
        return [
            {"parent": self.parent, "mask": str(self.mask), "prompt": f"boat {n}", "ref": f"r{n}"}
            | extra
            for n in range(count)
        ]

    def write_jsonl(self, name: str, lines: list[Any]) -> Path:
        """Write ``lines`` (objects, or raw strings) as a JSONL file in the test's folder."""
        path = self.tmp / name
        text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
        path.write_text("\n".join(text) + "\n", encoding="utf-8")
        return path


def client_for(sim: Simulator, **options: Any) -> ImagineProClient:
    """A client for ``sim``, scaled to its clock."""
    options.setdefault("base_url", sim.url)
    options.setdefault("time_scale", sim.time_scale)
    options.setdefault("seed", 0)
    options.setdefault("retry", RetryPolicy(attempts=4, base=0.5, cap=5.0))
    return ImagineProClient(sim.api_key, **options)


async def make_world(sim: Simulator, tmp: Path) -> World:
    """Make an upscaled parent on ``sim`` and a mask file of its size."""
    async with client_for(sim) as client:
        grid = await (await client.imagine("a harbour at dawn"))
        up = await (await client.upscale(grid, 1))
    mask = tmp / "mask.png"
    mask.write_bytes(make_mask(*sim.image_size))
    sim.reset_counters()
    return World(sim=sim, parent=up.message_id, mask=mask, tmp=tmp)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A simulator at SCALE (10 concurrent jobs per account), ready for inpaints."""
    async with Simulator(
        time_scale=SCALE, seed=3, concurrency=10, duration=uniform_duration(30, 90)
    ) as sim:
        yield await make_world(sim, tmp_path)


def journal_says_sending(journal: Path) -> bool:
    """True once ``journal`` says a request is being sent (read-only: never creates the file)."""
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.1)
        try:
            found = db.execute("SELECT 1 FROM requests WHERE state = 'submitting'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return found is not None


__all__ = ["SCALE", "World", "client_for", "journal_says_sending", "make_world"]
