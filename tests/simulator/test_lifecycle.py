"""Starting and stopping: ports, closing twice, no restart, option validation, the clock."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from imaginepro_async.testing import Simulator

from .conftest import ACCOUNT_INFO, FROZEN, Api


@pytest.mark.anyio
async def test_closing_twice_is_harmless_and_stops_serving() -> None:
    """aclose() twice is fine; afterwards the port refuses connections."""
    async with Simulator() as sim:
        url = sim.url
        await sim.aclose()
        await sim.aclose()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url + ACCOUNT_INFO)


@pytest.mark.anyio
async def test_a_simulator_cannot_be_restarted() -> None:
    """Entering a used simulator again is a RuntimeError."""
    sim = Simulator()
    async with sim:
        pass
    with pytest.raises(RuntimeError, match="only once"):
        await sim.__aenter__()


@pytest.mark.anyio
async def test_a_given_port_is_used() -> None:
    """port= binds that port; url reflects it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with Simulator(port=port) as sim, aiohttp.ClientSession() as session:
        assert sim.url == f"http://127.0.0.1:{port}"
        assert (await Api(sim, session).get(ACCOUNT_INFO))[0] == 200


@pytest.mark.anyio
async def test_a_busy_port_raises_and_cleans_up() -> None:
    """A port in use raises OSError from async with, leaving nothing running."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            async with Simulator(port=taken.getsockname()[1]):
                pass


def test_url_needs_a_started_simulator() -> None:
    """sim.url before start is a RuntimeError saying how to start it."""
    with pytest.raises(RuntimeError, match="async with"):
        _ = Simulator().url


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"time_scale": 0}, "time_scale"),
        ({"failure_rate": 2.0}, "failure_rate"),
        ({"image_size": (0, 10)}, "image_size"),
        ({"concurrency": 0}, "concurrency"),
        ({"credits": -1}, "credits"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"webhook_progress_interval": 0.0}, "webhook_progress_interval"),
        ({"cost_button": -5}, "costs"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], match: str) -> None:
    """Constructor options out of range raise ValueError naming the option."""
    with pytest.raises(ValueError, match=match):
        Simulator(**options)  # type: ignore[arg-type]


def test_accounts_need_distinct_keys() -> None:
    """add_account with a key in use is a ValueError; unknown keys are a KeyError."""
    sim = Simulator(api_key="sk-one")
    assert sim.api_key == "sk-one"
    with pytest.raises(ValueError, match="exists"):
        sim.add_account(api_key="sk-one")
    with pytest.raises(KeyError, match="sk-none"):
        sim.credits("sk-none")


@pytest.mark.anyio
async def test_now_and_advance() -> None:
    """now() starts near 0 and advance() moves it forward; going back is refused."""
    async with Simulator(time_scale=FROZEN) as sim:
        assert sim.now() < 1
        sim.advance(42)
        assert 42 <= sim.now() < 43
        with pytest.raises(ValueError, match="forward"):
            sim.advance(-1)
        assert sim.time_scale == FROZEN
