"""A core-only install: what needs an extra says which, in one line, before it starts anything.

Pillow is hidden by ``sys.modules["PIL"] = None`` (what ``import PIL`` and ``find_spec`` then
see when it is not installed). ``.ci/package`` checks the same from a wheel in a fresh venv.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from imaginepro_async import ExtraNotInstalledError, demo


@pytest.fixture
def no_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow looks absent for the test."""
    monkeypatch.setitem(sys.modules, "PIL", None)


@pytest.mark.usefixtures("no_pillow")
def test_demo_module_without_pillow_prints_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m imaginepro_async.demo` without Pillow: one line naming the extra, exit 2."""
    monkeypatch.setattr(sys, "argv", ["imaginepro_async.demo"])
    with pytest.raises(SystemExit) as exit_info:
        demo.run()
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # the simulator was never started (it prints its URL first)
    assert err.splitlines() == [
        "error: the demo (it draws a mask) needs Pillow, which is not installed: "
        "pip install 'imaginepro-async[masks]'"
    ]


@pytest.mark.usefixtures("no_pillow")
@pytest.mark.anyio
async def test_demo_main_without_pillow_raises_before_starting() -> None:
    """demo.main() without Pillow raises ExtraNotInstalledError before any job is submitted."""
    with pytest.raises(ExtraNotInstalledError) as error:
        await demo.main(count=1)
    assert error.value.extra == "masks"


@pytest.mark.usefixtures("no_pillow")
@pytest.mark.parametrize(
    "argv",
    [["demo"], ["mask", "--size", "100x100", "--rect", "0", "0", "50", "50", "-o", "m.png"]],
    ids=["demo", "mask"],
)
def test_cli_commands_needing_pillow_say_so_in_one_line(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """`imaginepro-async demo` / `mask` without Pillow: one line naming the extra, exit 2."""
    from imaginepro_async._cli.app import main

    monkeypatch.chdir(tmp_path)
    saved = signal.getsignal(signal.SIGINT)  # the CLI's main() installs its own handlers
    try:
        code = main(argv)
    finally:
        signal.signal(signal.SIGINT, saved)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "pip install 'imaginepro-async[masks]'" in err
    assert list(tmp_path.iterdir()) == []  # nothing written
