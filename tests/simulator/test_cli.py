"""The shell entry point: starts, prints the URL and key, answers, stops cleanly on a signal."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import anyio
import pytest
from anyio.abc import ByteReceiveStream, Process
from anyio.streams.text import TextReceiveStream

from imaginepro_async.testing.__main__ import export_lines

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


async def read_banner(process: Process) -> tuple[str, str]:
    """Read the banner; return the exported URL and key."""
    exports = await read_exports(process)
    return exports["IMAGINEPRO_BASE_URL"], exports["IMAGINEPRO_API_KEY"]


async def read_exports(process: Process) -> dict[str, str]:
    """Read stdout until the ``Press Ctrl-C`` line; return the variables of its export lines."""
    assert process.stdout is not None
    seen = ""
    with anyio.fail_after(20):
        async for chunk in TextReceiveStream(process.stdout):
            seen += chunk
            exports = dict(
                ln.strip()[len("export ") :].split("=", 1)
                for ln in seen.splitlines(keepends=True)
                if ln.strip().startswith("export ") and ln.endswith("\n")
            )
            if "Press Ctrl-C" in seen:
                return exports
    raise AssertionError(f"no banner in {seen!r}")


async def read_all(stream: ByteReceiveStream | None) -> str:
    """Everything left on a process pipe."""
    assert stream is not None
    data = b""
    with anyio.fail_after(20):
        async for chunk in stream:
            data += chunk
    return data.decode()


async def run_cli(*args: str) -> Process:
    """Start ``python -m imaginepro_async.testing`` with the repository on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return await anyio.open_process(
        [sys.executable, "-W", "error", "-m", "imaginepro_async.testing", *args],
        env=env,
        cwd=ROOT,
    )


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
async def test_cli_serves_until_signalled(stop: signal.Signals) -> None:
    """The CLI prints URL, key and time scale, serves the API, and exits 0 on SIGINT or SIGTERM."""
    async with await run_cli("--port", "0", "--time-scale", "100", "--seed", "3") as process:
        exports = await read_exports(process)
        assert exports["IMAGINEPRO_TIME_SCALE"] == "100"  # else a pasting user polls in real time
        url, key = exports["IMAGINEPRO_BASE_URL"], exports["IMAGINEPRO_API_KEY"]
        assert url.startswith("http://127.0.0.1:")
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                url + "/api/v1/subscription/account-info",
                headers={"Authorization": f"Bearer {key}"},
            ) as response,
        ):
            assert response.status == 200
            assert (await response.json())["credits"] > 0
        process.send_signal(stop)
        with anyio.fail_after(20):
            assert await process.wait() == 0
        assert await read_all(process.stderr) == ""
        assert "stopped" in await read_all(process.stdout)


async def test_cli_options_reach_the_simulator() -> None:
    """--api-key, --credits and --no-rate-limits are applied; real time exports no time scale."""
    async with await run_cli(
        "--port", "0", "--api-key", "sk-mine", "--credits", "20", "--no-rate-limits",
        "--duration-range", "5", "6", "--concurrency", "1", "--failure-rate", "0",
    ) as process:  # fmt: skip
        exports = await read_exports(process)
        assert "IMAGINEPRO_TIME_SCALE" not in exports  # real time: nothing to match
        url, key = exports["IMAGINEPRO_BASE_URL"], exports["IMAGINEPRO_API_KEY"]
        assert key == "sk-mine"
        headers = {"Authorization": "Bearer sk-mine"}
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(3):
                async with session.post(
                    url + "/api/v1/nova/imagine", json={"prompt": "x"}, headers=headers
                ) as response:
                    statuses.append(response.status)
        assert statuses == [200, 200, 401]
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(20):
            assert await process.wait() == 0


async def test_cli_reports_a_busy_port() -> None:
    """A port already in use is an error message and exit status 2, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with await run_cli("--port", str(port)) as process:
            with anyio.fail_after(20):
                assert await process.wait() == 2
            err = await read_all(process.stderr)
    assert err.count("\n") == 1
    assert err.startswith("imaginepro-async simulate: error: port")
    assert "in use" in err
    assert "Traceback" not in err


async def test_cli_help_names_the_subcommand() -> None:
    """--help calls the command imaginepro-async simulate and lists the size options."""
    async with await run_cli("--help") as process:
        out = await read_all(process.stdout)
        with anyio.fail_after(20):
            assert await process.wait() == 0
    assert out.startswith("usage: imaginepro-async simulate")
    assert "python -m" not in out
    assert "--image-size" in out
    assert "--latency-after" in out


async def test_cli_image_size_option_reaches_the_simulator() -> None:
    """--image-size and --grid-size set the served sizes."""
    async with await run_cli(
        "--port", "0", "--no-rate-limits", "--image-size", "300x200", "--grid-size", "600x400",
        "--time-scale", "1000",
    ) as process:  # fmt: skip
        url, key = await read_banner(process)
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as session:
            async with session.post(
                url + "/api/v1/nova/imagine", json={"prompt": "x"}, headers=headers
            ) as response:
                message_id = (await response.json())["messageId"]
            async with session.post(
                url + "/_simulator/time/advance", json={"seconds": 100}
            ) as response:
                assert response.status == 200
            async with session.get(
                url + f"/api/v1/message/fetch/{message_id}", headers=headers
            ) as response:
                message = await response.json()
            async with session.get(message["uri"]) as response:
                data = await response.read()
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(20):
            assert await process.wait() == 0
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (600, 400)


def test_export_lines_carry_a_fractional_time_scale_exactly() -> None:
    """A time scale that is not whole is exported as typed, so the client matches it exactly."""
    lines = export_lines("http://127.0.0.1:1", "sk-x", 2.5)
    assert lines[-1] == "export IMAGINEPRO_TIME_SCALE=2.5"
    assert len(export_lines("http://127.0.0.1:1", "sk-x", 1.0)) == 2
