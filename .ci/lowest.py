"""Print pip constraints pinning each dependency to its declared floor (``pkg>=X`` → ``pkg==X``).

Used by ``.ci/run`` to check that the floors in pyproject.toml are true: the package installed with
the lowest allowed versions must pass a fast subset of the tests. Every core dependency must have a
floor; the extras' requirements (named as arguments: ``masks test``) are pinned where they have one.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$")
_FLOOR = re.compile(r"^>=\s*([0-9][A-Za-z0-9.]*)\s*(?:,.*)?$")


def floor(requirement: str) -> tuple[str, str | None]:
    """The name of ``requirement`` and its floor (None: it has none)."""
    match = _REQUIREMENT.match(requirement.split(";")[0].strip())
    if match is None:
        return requirement, None
    bound = _FLOOR.match(match[2].strip())
    return match[1], bound[1] if bound else None


def main(extras: list[str]) -> int:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    pins: dict[str, str] = {}
    for requirement in project["dependencies"]:
        name, version = floor(requirement)
        if version is None:
            print(f"no floor in {requirement!r}: declare it as name>=version", file=sys.stderr)
            return 1
        pins[name] = version
    for extra in extras:
        for requirement in project["optional-dependencies"][extra]:
            name, version = floor(requirement)
            if version is not None and name != project["name"]:
                pins.setdefault(name, version)
    print("\n".join(f"{name}=={version}" for name, version in sorted(pins.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
