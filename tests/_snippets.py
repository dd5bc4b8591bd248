"""The Python examples of README.md and docs/: found, and written out for mypy.

Every fenced block opened with exactly ```` ```python ```` is an example (other languages,
``console``, ``sh``, ``text``, ``json``, are shown, not run). One that calls ``anyio.run(`` or
``asyncio.run(`` is a script and runs as printed. The others are written for ``python -m asyncio``
(top-level ``await``) and continue the tour, as README.md and the docs say: they run after
``PRELUDE``, which opens ``client`` and makes ``grid``, ``up`` and ``mask``.

``python -m tests._snippets`` writes ``tests/typing/examples.py``: every example of the files in
``TYPED`` as a function (a continuation gets the tour's names as typed parameters), which the
project's ``mypy`` run checks under ``--strict``. ``tests/test_readme.py`` runs the examples and
fails when that file is out of date.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
GENERATED = ROOT / "tests" / "typing" / "examples.py"

PRELUDE = """\
from contextlib import AsyncExitStack
from imaginepro_async import ImagineProClient, Mask
_stack = AsyncExitStack()
client = await _stack.enter_async_context(ImagineProClient())
grid = await (await client.imagine("a lighthouse at dusk"))
up = await (await client.upscale(grid, 1))
mask = Mask.ellipse((1024, 1024), (0.55, 0.55, 0.95, 0.95), relative=True)
"""
#: The tour's names, as a continuation's parameters for mypy.
TOUR = "client: ImagineProClient, grid: Message, up: Message, mask: Mask"


class Snippet(NamedTuple):
    """One example: the file it is in (relative to the root), its first line, its code."""

    path: str
    line: int
    code: str

    @property
    def name(self) -> str:
        """An identifier naming the example by its place, e.g. ``docs_errors_md_42``."""
        return re.sub(r"\W", "_", self.path).lower() + f"_{self.line}"

    @property
    def is_script(self) -> bool:
        """A snippet that runs its own event loop."""
        return "anyio.run(" in self.code or "asyncio.run(" in self.code


def doc_files() -> list[Path]:
    """README.md and every page of the site (files starting with ``_`` are not pages)."""
    pages = sorted(p for p in DOCS.rglob("*.md") if not p.name.startswith("_"))
    return [README, *pages]


#: The files whose examples are type-checked: all of them, README.md included.
TYPED = doc_files()


def snippets(path: Path, language: str = "python") -> list[Snippet]:
    """Every fenced block of ``language`` in ``path``, with the line it starts on."""
    found = []
    inside: list[str] | None = None
    start = 0
    relative = path.relative_to(ROOT).as_posix()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if inside is None and line.strip() == f"```{language}":
            inside, start = [], number
        elif inside is not None and line.strip() == "```":
            found.append(Snippet(relative, start, "\n".join(inside) + "\n"))
            inside = None
        elif inside is not None:
            inside.append(line)
    return found


def unique(paths: list[Path]) -> list[Snippet]:
    """The examples of ``paths``, each distinct code once (where it first appears)."""
    seen: dict[str, Snippet] = {}
    for path in paths:
        for snippet in snippets(path):
            seen.setdefault(snippet.code, snippet)
    return list(seen.values())


def typed_module() -> str:
    """The text of ``tests/typing/examples.py``."""
    parts = [
        '"""Every Python example of the docs, for mypy --strict: generated, never run; do not edit.\n'
        "\n"
        "Written by ``python -m tests._snippets`` (see that module); tests/test_readme.py checks it\n"
        'is up to date. A continuation of the tour gets the tour\'s names as parameters.\n"""\n'
        "\n"
        "# ruff: noqa\n"
        "from __future__ import annotations\n"
        "\n"
        "from imaginepro_async import ImagineProClient, Mask, Message\n"
    ]
    for snippet in unique(TYPED):
        body = "".join(
            f"    {line}\n" if line.strip() else "\n" for line in snippet.code.splitlines()
        )
        head = (
            f"def {snippet.name}() -> None:"
            if snippet.is_script
            else f"async def {snippet.name}({TOUR}) -> None:"
        )
        parts.append(f"\n\n# {snippet.path}, line {snippet.line}\n{head}\n{body}")
    return "".join(parts)


def main() -> int:
    """Write ``tests/typing/examples.py``."""
    GENERATED.write_text(typed_module(), encoding="utf-8")
    print(f"wrote {GENERATED.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
