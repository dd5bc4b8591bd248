"""The command line's first moments: a light package import, and Ctrl-C while it loads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import imaginepro_async
from imaginepro_async import _EXPORTS

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_resolves_lazily() -> None:
    """Each name of __all__ is imported on first use, from the module the export table names."""
    assert sorted(_EXPORTS) == sorted(imaginepro_async.__all__)
    for name in imaginepro_async.__all__:
        assert getattr(imaginepro_async, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        getattr(imaginepro_async, "nope")  # noqa: B009


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_while_the_cli_loads_exits_130_without_a_traceback() -> None:
    """SIGINT while the command line's modules are being imported: exit 130, one line, no trace."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "imaginepro_async", "account"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 30  # a guard against a hang, not a timing assertion
    # The package is being imported once the first C extension of its dependencies is mapped.
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if "multidict" in maps.read_text() or "aiohttp" in maps.read_text():
                break
        except OSError:
            pass
        time.sleep(0.002)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert b"Traceback" not in stderr


def test_main_gives_the_callers_sigint_handler_back() -> None:
    """A program calling the CLI's main() still gets KeyboardInterrupt on Ctrl-C afterwards."""
    script = (
        "import os, signal, sys\n"
        "from imaginepro_async._cli.app import main\n"
        "code = main(['account'])\n"  # runs, and fails at once: no API key
        "assert code == 2, code\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
        "signal.getsignal(signal.SIGINT)\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    import time; time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted as usual')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "IMAGINEPRO_API_KEY"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"interrupted as usual" in done.stdout
