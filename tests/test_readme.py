"""README.md and the docs cannot rot: every Python example runs against a simulator and
type-checks, and the error trees are true.

The conventions are ``tests/_snippets.py``'s: a snippet that calls ``anyio.run(`` or ``asyncio.run(``
runs as a script, as printed. The others are written for ``python -m asyncio`` (top-level
``await``) and continue the tour: they run after ``PRELUDE``, which opens ``client`` and makes
``grid``, ``up`` and ``mask``; a ``test_*`` function they define that takes only
``imaginepro_client`` (a pytest plugin example) is then called with ``client``. Each snippet runs
in its own process, in an empty folder, with warnings as errors; the same code in README.md and a
page of the docs runs once. Their types are checked by the project's mypy run, through the
generated ``tests/typing/examples.py``.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from tests._snippets import (
    DOCS,
    GENERATED,
    PRELUDE,
    README,
    ROOT,
    Snippet,
    doc_files,
    typed_module,
    unique,
)

EPILOGUE = "await _stack.aclose()\n"


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
        if name == sys.argv[1]:  # a pytest plugin example: its tests, given the client
            for test in [v for k, v in namespace.items() if k.startswith("test_")]:
                if list(inspect.signature(test).parameters) == ["imaginepro_client"]:
                    await test(namespace["client"])

asyncio.run(main())
"""


@pytest.mark.anyio
@pytest.mark.parametrize("snippet", unique(doc_files()), ids=lambda s: s.name)
async def test_snippet_runs(
    snippet: Snippet, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The Python example runs as printed against a simulator (see the module doc)."""
    from imaginepro_async.testing import Simulator

    code, line = snippet.code, snippet.line
    redis = {}
    if "REDIS_URL" in code:  # the "Several processes" snippet: a real Redis too
        redis["REDIS_URL"] = request.getfixturevalue("redis_server").url

    path = tmp_path / f"{snippet.name}.py"
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
        if not snippet.is_script:
            command = [sys.executable, "-W", "error", "-c", RUNNER, str(path)]
        done = await anyio.run_process(
            command, env=env, cwd=tmp_path, check=False, stdin=subprocess.DEVNULL
        )
    assert done.returncode == 0, f"{snippet.path} line {line}:\n{done.stderr.decode()}"


def test_typed_examples_are_up_to_date() -> None:
    """tests/typing/examples.py (what mypy checks) holds the docs' examples as they are now."""
    assert GENERATED.read_text(encoding="utf-8") == typed_module(), (
        "the docs' examples changed: run `python -m tests._snippets` and commit the result"
    )


def test_reference_documents_every_public_name() -> None:
    """Every name of imaginepro_async.__all__ has an entry in the site's API reference."""
    import imaginepro_async

    text = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))
    documented = set(re.findall(r"^::: imaginepro_async\.(\w+)$", text, flags=re.MULTILINE))
    assert sorted(set(imaginepro_async.__all__) - documented) == []


def test_quick_start_has_exactly_two_commands() -> None:
    """The quick start is two shell commands: the demo, and the tests."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("imaginepro-async demo")
    assert commands[1].endswith("python -m pytest")


#: The pages that draw the error tree: the docs' Errors page, and README.md while it has one.
TREE_PAGES = [DOCS / "errors.md"]
if "\n## Errors\n" in README.read_text(encoding="utf-8"):
    TREE_PAGES.append(README)


@pytest.mark.parametrize("page", TREE_PAGES, ids=lambda p: p.name)
def test_error_tree_matches_the_code(page: Path) -> None:
    """The error tree (docs, README) names every exception class of _errors.py, under its parent."""
    from imaginepro_async import _errors

    classes = {
        name: value
        for name, value in vars(_errors).items()
        if inspect.isclass(value)
        and issubclass(value, _errors.ImagineProError)
        # defined there: the public ones present themselves as imaginepro_async.X
        and value.__module__ in (_errors.__name__, "imaginepro_async")
    }
    text = page.read_text(encoding="utf-8")
    tree = (
        text.split("```", 2)[1]
        if page != README
        else text.split("## Errors", 1)[1].split("```", 2)[1]
    )
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
