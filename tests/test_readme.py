"""README.md cannot rot: every Python snippet runs against a simulator, and the error tree is true.

A snippet that calls ``anyio.run(`` or ``asyncio.run(`` runs as a script, as printed. The others
are written for ``python -m asyncio`` (top-level ``await``) and continue the tour, as the README
says: they run after ``PRELUDE``, which opens ``client`` and makes ``grid``, ``up`` and ``mask``.
Each snippet runs in its own process, in an empty folder, with warnings as errors.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PRELUDE = """\
from contextlib import AsyncExitStack
from imaginepro_async import ImagineProClient, Mask
_stack = AsyncExitStack()
client = await _stack.enter_async_context(ImagineProClient())
grid = await (await client.imagine("a lighthouse at dusk"))
up = await (await client.upscale(grid, 1))
mask = Mask.ellipse((1024, 1024), (0.55, 0.55, 0.95, 0.95), relative=True)
"""
EPILOGUE = "await _stack.aclose()\n"


def snippets(language: str) -> list[tuple[int, str]]:
    """Every fenced block of ``language`` in the README, with the line it starts on."""
    found = []
    lines = README.read_text(encoding="utf-8").splitlines()
    inside: list[str] | None = None
    start = 0
    for number, line in enumerate(lines, 1):
        if inside is None and line.strip() == f"```{language}":
            inside, start = [], number
        elif inside is not None and line.strip() == "```":
            found.append((start, "\n".join(inside) + "\n"))
            inside = None
        elif inside is not None:
            inside.append(line)
    return found


def is_script(code: str) -> bool:
    """A snippet that runs its own event loop."""
    return "anyio.run(" in code or "asyncio.run(" in code


#: What ``python -m asyncio`` would do with the prelude, the snippet (argv[1]) and the epilogue.
RUNNER = f"""
import ast, asyncio, inspect, sys

async def main():
    namespace = {{"__name__": "__main__"}}
    snippet = open(sys.argv[1], encoding="utf-8").read()
    for name, source in (("prelude", {PRELUDE!r}), (sys.argv[1], snippet), ("end", {EPILOGUE!r})):
        code = compile(source, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            await result

asyncio.run(main())
"""


@pytest.mark.anyio
@pytest.mark.parametrize(("line", "code"), snippets("python"), ids=lambda v: str(v)[:12])
async def test_snippet_runs(
    line: int, code: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The README's Python snippet runs as printed against a simulator (see the module doc)."""
    from imaginepro_async.testing import Simulator

    redis = {}
    if "REDIS_URL" in code:  # the "Several processes" snippet: a real Redis too
        redis["REDIS_URL"] = request.getfixturevalue("redis_server").url

    path = tmp_path / f"readme_line_{line}.py"
    path.write_text(code, encoding="utf-8")
    async with Simulator(time_scale=1000, seed=line) as sim:
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "IMAGINEPRO_API_KEY": sim.api_key,
            "IMAGINEPRO_BASE_URL": sim.url,
            "IMAGINEPRO_TIME_SCALE": str(sim.time_scale),
            **redis,
        }
        command = [sys.executable, "-W", "error", str(path)]
        if not is_script(code):
            command = [sys.executable, "-W", "error", "-c", RUNNER, str(path)]
        done = await anyio.run_process(
            command, env=env, cwd=tmp_path, check=False, stdin=subprocess.DEVNULL
        )
    assert done.returncode == 0, f"README line {line}:\n{done.stderr.decode()}"


def test_quick_start_has_exactly_two_commands() -> None:
    """The quick start is two shell commands: the demo, and the tests."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("imaginepro-async demo")
    assert commands[1].endswith("python -m pytest")


def test_error_tree_matches_the_code() -> None:
    """The README's error tree names every exception class of _errors.py, under its real parent."""
    from imaginepro_async import _errors

    classes = {
        name: value
        for name, value in vars(_errors).items()
        if inspect.isclass(value)
        and issubclass(value, _errors.ImagineProError)
        # defined there: the public ones present themselves as imaginepro_async.X
        and value.__module__ in (_errors.__name__, "imaginepro_async")
    }
    text = README.read_text(encoding="utf-8")
    tree = text.split("## Errors", 1)[1].split("```", 2)[1]
    parents: dict[int, str] = {}
    seen: dict[str, str | None] = {}
    for line in tree.splitlines():
        match = re.search(r"\b([A-Z]\w*Error)\b", line)
        if match is None:
            continue
        depth = match.start() // 4
        parents[depth] = match.group(1)
        seen[match.group(1)] = parents.get(depth - 1) if depth else None
    assert sorted(seen) == sorted(classes)
    for name, parent in seen.items():
        if parent is None:
            continue
        bases = [b for b in classes[name].__bases__ if issubclass(b, _errors.ImagineProError)]
        assert [b.__name__ for b in bases] == [parent], name
