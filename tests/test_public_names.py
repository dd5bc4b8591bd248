"""Public names present themselves as ``imaginepro_async.X``, as httpx's and openai's do.

Their ``__module__`` is the package, so reprs, tracebacks, generated docs and pickles show (and
find) the public path, not the private module that defines them.
"""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
import types
from pathlib import Path

import pytest

import imaginepro_async
from imaginepro_async import _EXPORTS, __all__

ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "imaginepro_async" / "__init__.py"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this tree (nothing imported yet)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("name", __all__)
def test_public_name_reads_as_the_package(name: str) -> None:
    """The name resolves, and a class or function names the package as its module."""
    value = getattr(imaginepro_async, name)
    if isinstance(value, type | types.FunctionType):
        assert value.__module__ == "imaginepro_async"
        assert getattr(imaginepro_async, value.__qualname__) is value  # what pickle looks up


def test_dir_lists_every_public_name() -> None:
    """``dir(imaginepro_async)`` lists every name of ``__all__``, looked up or not."""
    assert set(__all__) <= set(dir(imaginepro_async))


def test_exports_all_and_type_checking_imports_agree() -> None:
    """``__all__``, ``_EXPORTS`` and the ``TYPE_CHECKING`` imports name the same names, alike."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: "." * (node.level - 1) + (node.module or "")
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == dict(_EXPORTS)
    assert len(set(__all__)) == len(__all__)
    assert set(__all__) == set(_EXPORTS)


@pytest.mark.parametrize(
    "code",
    [
        "from imaginepro_async._client import ImagineProClient; ImagineProClient(api_key='')",
        "import imaginepro_async; imaginepro_async.ImagineProClient(api_key='')",
    ],
    ids=["private-import", "public-lookup"],
)
def test_traceback_names_the_public_exception(code: str) -> None:
    """An error raised deep inside reads ``imaginepro_async.InvalidInputError`` in its traceback."""
    done = run_python(code)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("imaginepro_async.InvalidInputError: "), done.stderr


def test_models_still_structure_after_presenting() -> None:
    """Models renamed to the package still resolve their type hints and structure (cattrs)."""
    code = """
import typing
import imaginepro_async
from imaginepro_async._converters import make_converter

video = imaginepro_async.VideoMessage  # presents every public class of _models at once
assert video.__module__ == imaginepro_async.Message.__module__ == "imaginepro_async"
assert typing.get_type_hints(video)["status"] is imaginepro_async.Status
data = {"messageId": "m1", "status": "DONE", "results": [{"url": "u", "index": 0}]}
message = make_converter().structure(data, video)
assert message.results == (imaginepro_async.VideoResult(url="u", index=0),), message
"""
    done = run_python(code)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "value",
    [
        imaginepro_async.Status.DONE,
        imaginepro_async.InvalidInputError("a value was refused"),
        imaginepro_async.RateLimit(1, 3.0),
        imaginepro_async.Message(message_id="m1", status=imaginepro_async.Status.DONE),
        imaginepro_async.gather,
    ],
    ids=["enum", "exception", "attrs", "model", "function"],
)
def test_public_objects_pickle(value: object) -> None:
    """Pickle, which finds a class by its ``__module__``, round-trips public objects."""
    copy = pickle.loads(pickle.dumps(value))
    assert type(copy) is type(value)
    if isinstance(value, BaseException):
        assert isinstance(copy, BaseException)
        assert copy.args == value.args
    else:
        assert copy == value


def test_version_is_read_on_first_use() -> None:
    """``__version__`` is the package's version, read from its metadata when first asked for."""
    assert isinstance(imaginepro_async.__version__, str)
    assert imaginepro_async.__version__
    assert "__version__" in dir(imaginepro_async)
