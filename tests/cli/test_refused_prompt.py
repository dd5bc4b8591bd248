"""The command line reports a refused prompt in one line, as the API's refusal (exit 3), and a
batch reports it as a failed line with the reason."""

from __future__ import annotations

import json

import pytest

from .conftest import World, run_cli

pytestmark = pytest.mark.anyio


async def test_imagine_with_a_blocked_word_prints_one_line(world: World) -> None:
    """`imagine "nsfw cat"` exits 3 with one stderr line: the server's reason, nothing charged,
    and the CLI's check-prompt command."""
    done = await run_cli(world.sim, world.tmp, "imagine", "nsfw cat")
    assert done.code == 3
    lines = done.err.strip().splitlines()
    assert len(lines) == 1, done.err
    assert lines[0].startswith("error: ")
    assert "refused the prompt (400): forbidden: The prompt has blocked words ('nsfw')" in lines[0]
    assert "Nothing was created or charged" in lines[0]
    assert "imaginepro-async check-prompt PROMPT" in lines[0]
    assert "uncertain" not in lines[0]
    assert world.sim.credits_spent()[world.sim.api_key] == 0


async def test_batch_reports_a_refused_prompt_as_a_failed_line(world: World) -> None:
    """In a batch, the refused request is one stderr line (failed, with the reason); the others
    run; the exit code is 1 (not all done), and no request is uncertain."""
    requests = world.requests(2)
    requests[0]["prompt"] = "an NSFW boat"
    path = world.write_jsonl("in.jsonl", requests)
    done = await run_cli(world.sim, world.tmp, "batch", str(path), "--out", "out.jsonl")
    assert done.code == 1, done.err
    problems = [line for line in done.err.splitlines() if line.startswith("line ")]
    assert len(problems) == 1, done.err
    assert problems[0].startswith("line 1 (r0): failed: ")
    assert "refused the prompt" in problems[0]
    assert "0 uncertain" in done.err
    out = [json.loads(line) for line in (world.tmp / "out.jsonl").read_text().splitlines()]
    assert sorted(line["state"] for line in out) == ["done", "failed"]
