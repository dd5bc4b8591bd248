"""The package's layering cannot drift: no import circles, imports only downwards, a small root.

The import graph is read from the source with ``ast``: every ``.py`` file of ``imaginepro_async``,
relative imports resolved, ``import a.b`` and ``from a import b`` (``b`` itself when it is a
module). Every import counts, wherever it is written: under ``if TYPE_CHECKING:``, inside a
function. Only ``importlib.import_module`` strings (the root's lazy names) are not seen.

THE RULE. Each module belongs to the layer of the longest entry below that is its name or a package
above it (names relative to ``imaginepro_async``; the root ``__init__.py`` is written
``imaginepro_async``). A module may import modules of its own layer or of a lower one, never of a
higher one. A module that matches no entry fails: add it to a layer. An entry that matches nothing
is fine (``_calls``, ``_core``, ``_resources`` are being written).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, NamedTuple

ROOT: Final = Path(__file__).resolve().parents[1]
PACKAGE: Final = "imaginepro_async"
PACKAGE_DIR: Final = ROOT / PACKAGE

# fmt: off
#: The layers, bottom to top: (number, name, entries). This table is the rule's documentation.
LAYERS: Final[tuple[tuple[int, str, tuple[str, ...]], ...]] = (
    (1, "foundation",   ("_models", "_costs", "_errors", "_validation", "_converters",
                         "_events")),
    (2, "pacing",       ("_pacing", "_masks")),
    (3, "wire",         ("_wire",)),
    (4, "scheduling",   ("_scheduling",)),
    (5, "coordination", ("_coordination",)),
    (6, "client",       ("_jobs", "_calls", "_submissions", "_inbox", "_core", "_resources",
                         "_client")),
    (7, "applications", ("_batch", "webhooks")),
    (8, "top",          ("_cli", "demo", "__main__", "imaginepro_async",
                         "testing.pytest_plugin", "telemetry")),
)
#: The simulator stands apart from the layers: every module of ``testing`` but its pytest plugin
#: (the longer entry above wins). It imports only itself and these; only the top layer imports it.
SIMULATOR: Final = "testing"
SIMULATOR_MAY_IMPORT: Final = ("testing", "_costs")
# fmt: on

#: The most modules directly in ``imaginepro_async/`` (``__init__`` and ``__main__`` included).
ROOT_MODULES_AT_MOST: Final = 16
#: What ``import imaginepro_async`` must not import (its names are looked up lazily).
NOT_AT_PACKAGE_IMPORT: Final = (
    "_client", "_batch", "_coordination", "_scheduling", "_wire", "_events", "telemetry",
)  # fmt: skip

TOP: Final = LAYERS[-1][0]


class Import(NamedTuple):
    """One import statement's edge: ``importer`` imports ``imported`` at ``line``."""

    importer: str
    imported: str
    line: int


def short(module: str) -> str:
    """A module's name relative to the package (the root keeps its own name)."""
    return module if module == PACKAGE else module.removeprefix(PACKAGE + ".")


def find_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (a package is its ``__init__.py``)."""
    found = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_in(module: str, path: Path, known: Iterable[str]) -> list[Import]:
    """The package's modules that ``module`` imports, wherever in the file the import is."""
    names = set(known)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            targets = [name if name in names else base for name in submodules]
        else:
            continue
        found += [Import(module, t, node.lineno) for t in targets if t in names and t != module]
    return found


def import_graph() -> tuple[dict[str, Path], list[Import]]:
    """The package's modules and every import between them."""
    modules = find_modules()
    edges = [edge for name, path in modules.items() for edge in imports_in(name, path, modules)]
    return modules, edges


def successors(edges: Iterable[Import]) -> dict[str, set[str]]:
    """Who each module imports."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
    return graph


def strongly_connected(nodes: Iterable[str], graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return components


def shortest_path(
    start: str, goal: str, graph: Mapping[str, set[str]], within: set[str]
) -> list[str]:
    """The shortest import chain from ``start`` to ``goal`` through modules of ``within``."""
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for nxt in sorted(graph.get(node, set()) & within):
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    path: list[str] = []
    step: str | None = goal
    while step is not None:
        path.append(step)
        step = came_from[step]
    return path[::-1]


def cycles_through_every_edge(component: list[str], graph: Mapping[str, set[str]]) -> list[str]:
    """For each import inside a circle, the shortest circle through it, as ``a → b → a``.

    Every import that would have to go to break the circle appears in at least one of them;
    listing every elementary circle instead could run to thousands.
    """
    members = set(component)
    found: set[tuple[str, ...]] = set()
    for a in component:
        for b in sorted(graph.get(a, set()) & members):
            loop = [a, *shortest_path(b, a, graph, members)][:-1]
            turn = loop.index(min(loop))
            found.add(tuple(loop[turn:] + loop[:turn]))
    return [" → ".join(short(m) for m in (*loop, loop[0])) for loop in sorted(found)]


def layer_of(module: str) -> int | None:
    """The layer number of ``module`` (0: the simulator; None: no layer)."""
    name = short(module)
    best: tuple[int, int | None] = (-1, None)
    entries = [(n, entry) for n, _, entries in LAYERS for entry in entries]
    for number, entry in [*entries, (0, SIMULATOR)]:
        if (name == entry or name.startswith(entry + ".")) and len(entry) > best[0]:
            best = (len(entry), number)
    return best[1]


def layer_name(number: int) -> str:
    """``3 wire``: a layer's number and name."""
    return next(f"{n} {name}" for n, name, _ in LAYERS if n == number)


def problem(edge: Import) -> str | None:
    """Why ``edge`` breaks the layering (None: it does not, or a module has no layer)."""
    importer, imported = layer_of(edge.importer), layer_of(edge.imported)
    if importer is None or imported is None:
        return None  # reported by test_every_module_has_a_layer
    if importer == 0:
        allowed = any(
            short(edge.imported) == e or short(edge.imported).startswith(e + ".")
            for e in SIMULATOR_MAY_IMPORT
        )
        why = None if allowed else "the simulator imports only testing and _costs"
    elif imported == 0:
        why = None if importer == TOP else "the simulator is apart: only the top layer imports it"
    elif imported > importer:
        why = f"layer {layer_name(imported)} above layer {layer_name(importer)}"
    else:
        why = None
    if why is None:
        return None
    return f"{short(edge.importer)} → {short(edge.imported)} ({why}), line {edge.line}"


def test_the_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    """imports_in resolves relative, TYPE_CHECKING, in-function and submodule imports."""
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    source = tmp_path / "pkg" / "sub" / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import pkg.a\n"
        "from .. import b, not_a_module\n"
        "from .sibling import name\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.c import Name\n"
        "def f():\n"
        "    from ..d import e\n"
        "from . import mod\n",
        encoding="utf-8",
    )
    known = ["pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.d.e", "pkg.sub", "pkg.sub.sibling"]
    found = imports_in("pkg.sub.mod", source, [*known, "pkg.sub.mod"])
    assert sorted((i.imported, i.line) for i in found) == [
        ("pkg", 3),
        ("pkg.a", 2),
        ("pkg.b", 3),
        ("pkg.c", 6),
        ("pkg.d.e", 8),
        ("pkg.sub.sibling", 4),
    ]


def test_no_import_cycles() -> None:
    """No two modules of the package import each other, directly or through others."""
    modules, edges = import_graph()
    graph = successors(edges)
    circles = [c for c in strongly_connected(modules, graph) if len(c) > 1]
    report = [
        f"{len(c)} modules in a circle ({', '.join(short(m) for m in c)}):\n    "
        + "\n    ".join(cycles_through_every_edge(c, graph))
        for c in circles
    ]
    assert not circles, "import circles:\n" + "\n".join(report)


def test_every_module_has_a_layer() -> None:
    """Every module of the package belongs to a layer of LAYERS (or to the simulator)."""
    modules = find_modules()
    lost = [short(m) for m in modules if layer_of(m) is None]
    assert not lost, f"modules in no layer (add them to a layer of LAYERS): {', '.join(lost)}"


def test_imports_go_downwards() -> None:
    """A module imports modules of its own layer or of lower ones only (see LAYERS)."""
    _, edges = import_graph()
    problems = sorted({p for edge in edges if (p := problem(edge)) is not None})
    assert not problems, "imports against the layers:\n  " + "\n  ".join(problems)


def test_root_stays_small() -> None:
    """At most ROOT_MODULES_AT_MOST modules sit directly in imaginepro_async/."""
    root = sorted(path.name for path in PACKAGE_DIR.glob("*.py"))
    assert len(root) <= ROOT_MODULES_AT_MOST, (
        f"{len(root)} modules in imaginepro_async/ (at most {ROOT_MODULES_AT_MOST}): "
        + ", ".join(root)
    )


def test_subpackage_inits_import_nothing_from_the_package() -> None:
    """A private subpackage's __init__.py imports no module of the package, even in a function.

    (``testing`` is a public package: its ``__init__`` is its public face.)"""
    modules, edges = import_graph()
    inits = {
        m
        for m, path in modules.items()
        if path.name == "__init__.py" and m != PACKAGE and short(m).startswith("_")
    }
    found = sorted(
        {
            f"{short(e.importer)} → {short(e.imported)}, line {e.line}"
            for e in edges
            if e.importer in inits
        }
    )
    assert not found, "subpackage __init__.py files that import the package:\n  " + "\n  ".join(
        found
    )


def test_package_import_is_lazy() -> None:
    """``import imaginepro_async`` imports none of the client, batch, coordination, scheduling, wire;
    neither it nor a client without hooks imports opentelemetry."""
    code = (
        "import imaginepro_async, sys; print(imaginepro_async.__file__); "
        "print(sorted(m for m in sys.modules if m.startswith('imaginepro_async'))); "
        "imaginepro_async.ImagineProClient('sk-lazy'); "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,  # `-c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    where, loaded, telemetry = done.stdout.splitlines()
    assert ast.literal_eval(telemetry) == [], f"opentelemetry imported: {telemetry}"
    assert Path(where).resolve().is_relative_to(PACKAGE_DIR), where
    eager = [
        m
        for m in ast.literal_eval(loaded)
        if any(
            m == f"{PACKAGE}.{n}" or m.startswith(f"{PACKAGE}.{n}.") for n in NOT_AT_PACKAGE_IMPORT
        )
    ]
    assert not eager, f"imported by `import imaginepro_async`: {eager} (all: {loaded})"
