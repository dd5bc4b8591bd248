"""A pytest plugin: a local ImaginePro simulator, and a client connected to it, for your tests.

Installed with ``imaginepro-async`` and registered under the ``pytest11`` entry point, it is inert
(it adds one marker and three fixtures, and starts nothing) until a test asks for a fixture.

The fixtures are async and run on **asyncio** (the SDK is built on aiohttp, which is asyncio-only):
run the tests with anyio's pytest plugin, which comes with anyio (a dependency of this SDK), and its
asyncio backend. A test that forgets the ``anyio`` marker, or runs on trio, gets an error saying so::

    import pytest

    pytestmark = pytest.mark.anyio  # and, in conftest.py, an anyio_backend fixture returning "asyncio"

    async def test_upscale(imaginepro_client):
        grid = await (await imaginepro_client.imagine("a red fox"))
        assert grid.status.value == "DONE"

    @pytest.mark.imaginepro(concurrency=1, credits=15, failure_rate=0.2)
    async def test_low_credits(imaginepro_client, imaginepro_simulator):
        ...  # the account can pay one imagine job; one job in five fails

    @pytest.mark.imaginepro(faults=[{"kind": "http_503", "endpoint": "imagine", "times": 2}])
    async def test_retries(imaginepro_client): ...

The marker, ``@pytest.mark.imaginepro(**options)`` (on a test, a class or a module; the closest
wins, option by option), takes:

- any keyword of :class:`~imaginepro_async.testing.Simulator` (``time_scale``, ``seed``,
  ``concurrency``, ``credits``, ``failure_rate``, ``duration``, ``latency_before``,
  ``webhook_faults``...). The plugin's defaults: ``time_scale=100`` (a 60 s job takes 0.6 s), ``seed=0``.
- ``faults=[...]``: rules added before the test, each a dict of the keywords of
  :meth:`sim.faults.add() <imaginepro_async.testing.Faults.add>`: ``kind`` (required: one of
  ``http_500``, ``http_502``, ``http_503``, ``slow``, ``malformed_json``, ``drop_before``,
  ``drop_after``), ``endpoint`` (an :class:`~imaginepro_async.testing.Endpoint` value such as
  ``"imagine"``, ``"button"``, ``"fetch"``; absent: every endpoint), ``times`` (fire on the next N
  matching requests; the default, 1) or ``probability`` (fire on each with that probability),
  and ``delay`` (``slow`` only: simulated seconds).
- ``client={...}``: keywords of :class:`~imaginepro_async.ImagineProClient` (``retry=``,
  ``max_in_flight=``...) for the ``imaginepro_client`` fixture.

An unknown option (``concurency=1``) or a bad value fails the test at setup with one message naming
it and the valid ones.

Fixtures:
    imaginepro_simulator: a running :class:`~imaginepro_async.testing.Simulator` configured by the
        test's ``imaginepro`` marker.
    imaginepro_client: an :class:`~imaginepro_async.ImagineProClient` connected to it, with the
        simulator's key, URL and time scale (so every wait it schedules is scaled too).
    imaginepro_factory: ``await imaginepro_factory(**options)`` returns a new ``(simulator,
        client)`` pair (options as the marker's); every pair is closed after the test.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final

import pytest

from ._faults import FaultKind, Faults
from ._simulator import Simulator

if TYPE_CHECKING:
    from imaginepro_async import ImagineProClient

__all__ = ["DEFAULTS", "imaginepro_client", "imaginepro_factory", "imaginepro_simulator"]

#: The plugin's defaults for ``Simulator(...)``: 100 times faster than real time, seeded.
DEFAULTS: Mapping[str, Any] = {"time_scale": 100.0, "seed": 0}

Factory = Callable[..., Awaitable[tuple[Simulator, "ImagineProClient"]]]

_FIXTURES: Final = frozenset({"imaginepro_simulator", "imaginepro_client", "imaginepro_factory"})
_MARKER: Final = "@pytest.mark.imaginepro"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``imaginepro`` marker (so ``--strict-markers`` accepts it), with its options."""
    kinds = "|".join(kind.value for kind in FaultKind)
    config.addinivalue_line(
        "markers",
        "imaginepro(**options): configure the imaginepro_simulator, imaginepro_client and"
        " imaginepro_factory fixtures. Options: any keyword of imaginepro_async.testing.Simulator"
        " (defaults time_scale=100, seed=0; concurrency, credits, failure_rate, duration,"
        " latency_before...); faults=[{'kind': 'http_503', 'endpoint': 'imagine', 'times': 2},"
        f" ...], each a dict of sim.faults.add keywords: kind ({kinds}), endpoint (e.g."
        " 'imagine', 'button', 'fetch'; absent: all), times (default 1) or probability, delay"
        " (slow only); client={...}: keywords of ImagineProClient. The tests need"
        " pytest.mark.anyio and run on asyncio only.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse, with what to add, a test that uses the fixtures but that nothing runs async."""
    names = set(getattr(item, "fixturenames", ()))
    if not names & _FIXTURES or "anyio_backend" in names:
        return
    if item.get_closest_marker("asyncio") is not None:
        return  # pytest-asyncio's; it runs async fixtures itself
    used = ", ".join(sorted(names & _FIXTURES))
    pytest.fail(
        f"{item.name} uses the imaginepro fixtures ({used}), which are async: mark it to run with anyio's pytest plugin,"
        " e.g. pytestmark = pytest.mark.anyio in the module (or @pytest.mark.anyio on the test),"
        " with an anyio_backend fixture returning 'asyncio'",
        pytrace=False,
    )


def _require_asyncio() -> None:
    """Fail clearly off asyncio (trio): aiohttp, under the simulator and the client, needs it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # failed below, outside the handler: no "during handling" chain in the report
    else:
        return
    pytest.fail(
        "the imaginepro fixtures run on asyncio only (the SDK is built on aiohttp, which is"
        " asyncio-only), and this test runs on another event loop (trio?): make its"
        " anyio_backend fixture return 'asyncio'",
        pytrace=False,
    )


def _keywords(function: Callable[..., Any]) -> list[str]:
    return [
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        and name != "self"
    ]


def _refuse_unknown(given: Iterable[str], valid: list[str], where: str) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        guesses = [close[0] for n in unknown if (close := difflib.get_close_matches(n, valid, 1))]
        hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
        pytest.fail(
            f"{where}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
            f"{hint}; the valid ones are {', '.join(sorted(valid))}",
            pytrace=False,
        )


def _check_options(options: Mapping[str, Any]) -> None:
    """Name a misspelt option of the marker (or of ``faults``/``client``) before starting."""
    _refuse_unknown(options, [*_keywords(Simulator), "faults", "client"], _MARKER)
    faults = options.get("faults", ())
    if isinstance(faults, Mapping) or not isinstance(faults, Iterable):
        pytest.fail(f"{_MARKER}: faults= takes a list of dicts, got {faults!r}", pytrace=False)
    for rule in faults:
        if not isinstance(rule, Mapping):
            pytest.fail(f"{_MARKER}: each fault is a dict, got {rule!r}", pytrace=False)
        _refuse_unknown(rule, _keywords(Faults.add), f"{_MARKER}: faults entry {dict(rule)!r}")
    client = options.get("client", {})
    if not isinstance(client, Mapping):
        pytest.fail(f"{_MARKER}: client= takes a dict, got {client!r}", pytrace=False)
    if client:
        from imaginepro_async import ImagineProClient

        # The key and the URL are the simulator's.
        valid = [n for n in _keywords(ImagineProClient) if n not in ("api_key", "base_url")]
        _refuse_unknown(client, valid, f"{_MARKER}: client=")


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    # The closest marker wins: apply module/class markers first, the test's own last.
    for marker in reversed(list(request.node.iter_markers("imaginepro"))):
        if marker.args:
            pytest.fail(
                f"{_MARKER} takes keywords only, e.g. imaginepro(concurrency=1); got"
                f" {marker.args!r}",
                pytrace=False,
            )
        options.update(marker.kwargs)
    return options


async def _start(stack: AsyncExitStack, options: Mapping[str, Any]) -> Simulator:
    _check_options(options)
    settings = {**DEFAULTS, **options}
    faults = settings.pop("faults", ())
    settings.pop("client", None)
    # A bad value is one line, not a traceback (failed outside the handler: no exception chain).
    try:
        sim = await stack.enter_async_context(Simulator(**settings))
    except (TypeError, ValueError) as exc:
        problem = str(exc)
    else:
        problem = ""
        for rule in faults:
            try:
                sim.faults.add(**rule)
            except (TypeError, ValueError) as exc:
                kinds = ", ".join(kind.value for kind in FaultKind)
                problem = f"faults entry {dict(rule)!r}: {exc} (kinds: {kinds})"
                break
    if problem:
        pytest.fail(f"{_MARKER}: {problem}", pytrace=False)
    return sim


async def _connect(
    stack: AsyncExitStack, sim: Simulator, options: Mapping[str, Any]
) -> ImagineProClient:
    from imaginepro_async import ImagineProClient  # the client side, imported only when used

    settings = {"time_scale": sim.time_scale, "seed": 0, **options.get("client", {})}
    try:
        client = ImagineProClient(sim.api_key, base_url=sim.url, **settings)
    except (TypeError, ValueError) as exc:
        problem = str(exc)
    else:
        return await stack.enter_async_context(client)
    pytest.fail(f"{_MARKER}: client=: {problem}", pytrace=False)


@pytest.fixture
async def imaginepro_simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """A running simulator, configured by the test's ``imaginepro`` marker."""
    _require_asyncio()
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
    _require_asyncio()
    base = _marker_options(request)
    async with AsyncExitStack() as stack:

        async def make(**options: Any) -> tuple[Simulator, ImagineProClient]:
            merged = {**base, **options}
            sim = await _start(stack, merged)
            return sim, await _connect(stack, sim, merged)

        yield make
