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

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


async def read_banner(process: Process) -> tuple[str, str]:
    """Read stdout until the URL and key lines have been printed; return both."""
    assert process.stdout is not None
    seen = ""
    with anyio.fail_after(20):
        async for chunk in TextReceiveStream(process.stdout):
            seen += chunk
            lines = seen.splitlines(keepends=True)
            url = [ln.split("listening on ", 1)[1].strip() for ln in lines if "listening on " in ln]
            key = [ln[len("API key: ") :].strip() for ln in lines
                   if ln.startswith("API key: ") and ln.endswith("\n")]  # fmt: skip
            if url and key:
                return url[0], key[0]
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
    """The CLI prints URL and key, serves the API, and exits 0 on SIGINT or SIGTERM."""
    async with await run_cli("--port", "0", "--time-scale", "100", "--seed", "3") as process:
        url, key = await read_banner(process)
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
    """--api-key, --credits and --no-rate-limits are applied."""
    async with await run_cli(
        "--port", "0", "--api-key", "sk-mine", "--credits", "20", "--no-rate-limits",
        "--duration-range", "5", "6", "--concurrency", "1", "--failure-rate", "0",
    ) as process:  # fmt: skip
        url, key = await read_banner(process)
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
            assert "error" in await read_all(process.stderr)
