"""A pytest plugin: a local ImaginePro simulator, and a client connected to it, for your tests.

Installed with ``imaginepro-async`` and registered under the ``pytest11`` entry point, it is inert
(it adds one marker and three fixtures, and starts nothing) until a test asks for a fixture. The
fixtures are async: run the tests with anyio's pytest plugin (it comes with anyio, a dependency of
this SDK), e.g. ``pytestmark = pytest.mark.anyio``.

README text for a "Testing your code" section:

    Test the code that calls ImaginePro against the local simulator, with no key and no credits
    spent. The ``imaginepro_client`` fixture is an ``ImagineProClient`` connected to a fresh
    simulator (``imaginepro_simulator``), both closed after the test. The simulator runs 100 times
    faster than real time by default, so a 60 s job takes 0.6 s:

    .. code-block:: python

        import pytest

        pytestmark = pytest.mark.anyio

        async def test_upscale(imaginepro_client):
            grid = await (await imaginepro_client.imagine("a red fox"))
            assert grid.status.value == "DONE"

        @pytest.mark.imaginepro(concurrency=1, credits=15, failure_rate=0.2)
        async def test_low_credits(imaginepro_client, imaginepro_simulator):
            ...  # the account can pay one imagine job; one job in five fails
            assert imaginepro_simulator.credits() <= 15

        @pytest.mark.imaginepro(faults=[{"kind": "http_503", "endpoint": "imagine", "times": 2}])
        async def test_retries(imaginepro_client): ...

    ``@pytest.mark.imaginepro(...)`` takes any keyword of ``Simulator(...)`` (``time_scale``,
    ``concurrency``, ``credits``, ``failure_rate``, ``duration``, ``webhook_faults``,
    ``latency_before``...), plus ``faults=[...]`` (each a dict of ``sim.faults.add`` keywords) and
    ``client={...}`` (keywords of ``ImagineProClient``). For several simulators or clients in one
    test, use the factory: ``sim, client = await imaginepro_factory(concurrency=5)``.

Fixtures:
    imaginepro_simulator: a running :class:`~imaginepro_async.testing.Simulator` configured by the
        test's ``imaginepro`` marker.
    imaginepro_client: an :class:`~imaginepro_async.ImagineProClient` connected to it, with the
        simulator's key, URL and time scale (so every wait it schedules is scaled too).
    imaginepro_factory: ``await imaginepro_factory(**options)`` returns a new ``(simulator,
        client)`` pair (options as the marker's); every pair is closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import pytest

from ._simulator import Simulator

if TYPE_CHECKING:
    from imaginepro_async import ImagineProClient

__all__ = ["DEFAULTS", "imaginepro_client", "imaginepro_factory", "imaginepro_simulator"]

#: The plugin's defaults for ``Simulator(...)``: 100 times faster than real time, seeded.
DEFAULTS: Mapping[str, Any] = {"time_scale": 100.0, "seed": 0}

Factory = Callable[..., Awaitable[tuple[Simulator, "ImagineProClient"]]]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``imaginepro`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        "imaginepro(**options): configure the imaginepro_simulator / imaginepro_client fixtures"
        " (Simulator keywords, faults=[...], client={...})",
    )


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    # The closest marker wins: apply module/class markers first, the test's own last.
    for marker in reversed(list(request.node.iter_markers("imaginepro"))):
        if marker.args:
            raise pytest.UsageError(
                "@pytest.mark.imaginepro takes keywords only, e.g. imaginepro(concurrency=1)"
            )
        options.update(marker.kwargs)
    return options


async def _start(stack: AsyncExitStack, options: Mapping[str, Any]) -> Simulator:
    settings = {**DEFAULTS, **options}
    faults = settings.pop("faults", ())
    settings.pop("client", None)
    sim = await stack.enter_async_context(Simulator(**settings))
    for rule in faults:
        sim.faults.add(**rule)
    return sim


async def _connect(
    stack: AsyncExitStack, sim: Simulator, options: Mapping[str, Any]
) -> ImagineProClient:
    from imaginepro_async import ImagineProClient  # the client side, imported only when used

    settings = {"time_scale": sim.time_scale, "seed": 0, **options.get("client", {})}
    client = ImagineProClient(sim.api_key, base_url=sim.url, **settings)
    return await stack.enter_async_context(client)


@pytest.fixture
async def imaginepro_simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """A running simulator, configured by the test's ``imaginepro`` marker."""
    async with AsyncExitStack() as stack:
        yield await _start(stack, _marker_options(request))


@pytest.fixture
async def imaginepro_client(
    request: pytest.FixtureRequest, imaginepro_simulator: Simulator
) -> AsyncIterator[ImagineProClient]:
    """A client connected to ``imaginepro_simulator`` (its key, URL and time scale)."""
    async with AsyncExitStack() as stack:
        yield await _connect(stack, imaginepro_simulator, _marker_options(request))


@pytest.fixture
async def imaginepro_factory(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """``await imaginepro_factory(**options)``: a new (simulator, client) pair per call."""
    base = _marker_options(request)
    async with AsyncExitStack() as stack:

        async def make(**options: Any) -> tuple[Simulator, ImagineProClient]:
            merged = {**base, **options}
            sim = await _start(stack, merged)
            return sim, await _connect(stack, sim, merged)

        yield make
