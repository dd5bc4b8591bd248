"""The pytest plugin's fixtures, used as a user would: a simulator and a client, per test."""

from __future__ import annotations

import pytest

from imaginepro_async import ImagineProClient, Status
from imaginepro_async.testing import Simulator
from imaginepro_async.testing.pytest_plugin import Factory

pytestmark = pytest.mark.anyio


async def test_the_client_fixture_talks_to_the_simulator_fixture(
    imaginepro_client: ImagineProClient, imaginepro_simulator: Simulator
) -> None:
    """With no marker: a 100x simulator and a client with its key, URL and time scale."""
    assert imaginepro_simulator.time_scale == 100.0
    job = await imaginepro_client.imagine("a red fox")
    message = await job
    assert message.status is Status.DONE
    assert imaginepro_simulator.stats().jobs_created == 1


@pytest.mark.imaginepro(concurrency=1, credits=15, time_scale=1000.0)
async def test_the_marker_configures_the_simulator(
    imaginepro_client: ImagineProClient, imaginepro_simulator: Simulator
) -> None:
    """Marker keywords reach Simulator(...): concurrency, credits, time scale."""
    assert imaginepro_simulator.time_scale == 1000.0
    assert imaginepro_simulator.credits() == 15
    job = await imaginepro_client.imagine("a fox")
    await job
    assert imaginepro_simulator.credits() == 5


@pytest.mark.imaginepro(
    faults=[{"kind": "http_503", "endpoint": "fetch", "times": 1}], time_scale=1000.0
)
async def test_the_marker_installs_faults(
    imaginepro_client: ImagineProClient, imaginepro_simulator: Simulator
) -> None:
    """faults=[...] rules are added before the test; the client rides over a 503."""
    (rule,) = imaginepro_simulator.faults.rules
    job = await imaginepro_client.imagine("a fox")
    assert (await job).status is Status.DONE
    assert rule.fired == 1


@pytest.mark.imaginepro(time_scale=1000.0)
async def test_the_factory_makes_independent_pairs(imaginepro_factory: Factory) -> None:
    """Each factory call is a new simulator and client; marker options are the defaults."""
    first, one = await imaginepro_factory()
    second, two = await imaginepro_factory(credits=10)
    assert first.url != second.url
    assert first.time_scale == second.time_scale == 1000.0
    assert second.credits() == 10
    assert (await (await two.imagine("a fox"))).status is Status.DONE
    assert second.credits() == 0
    assert first.stats().jobs_created == 0
    assert one.base_url != two.base_url
