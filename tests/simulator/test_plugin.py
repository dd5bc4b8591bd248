"""The pytest plugin's fixtures, used as a user would: a simulator and a client, per test."""

from __future__ import annotations

import pytest

from imaginepro_async import ImagineProClient, Status
from imaginepro_async.testing import Simulator
from imaginepro_async.testing.pytest_plugin import Factory, _require_asyncio

pytestmark = pytest.mark.anyio
pytest_plugins = ["pytester"]


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


# -- mistakes a user makes, run in an inner pytest (pytester) ----------------------------------

_CONFTEST = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"
"""


def _run(pytester: pytest.Pytester, test: str) -> pytest.RunResult:
    """Run one inner test module (with an asyncio anyio_backend) and return its outcome."""
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(test)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider")


@pytest.mark.parametrize(
    ("marker", "needles"),
    [
        (
            "concurency=1",
            [
                "unknown option concurency (did you mean concurrency?)",
                "client, concurrency, cost_button",
            ],
        ),
        ("faults=[{'kind': 'http_503', 'endpiont': 'fetch'}]", ["unknown option endpiont"]),
        ("faults=[{'kind': 'http_504'}]", ["'http_504' is not a valid FaultKind", "http_503"]),
        ("client={'request_timeout': -1}", ["client=: request_timeout must be"]),
        ("client={'retries': 3}", ["client=: unknown option retries", "retry"]),
        ("faults={'kind': 'slow'}", ["faults= takes a list of dicts"]),
    ],
)
def test_a_bad_marker_option_is_named_without_a_traceback(
    pytester: pytest.Pytester, marker: str, needles: list[str]
) -> None:
    """A misspelt or bad marker option fails the test at setup with one message naming it."""
    result = _run(
        pytester,
        f"""
import pytest

pytestmark = pytest.mark.anyio

@pytest.mark.imaginepro({marker})
async def test_it(imaginepro_client):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    for needle in needles:
        assert needle in text, text
    assert "Traceback" not in text and "_start" not in text  # no frames of the plugin
    assert "During handling" not in text  # no chained exception either


def test_forgetting_the_anyio_marker_says_what_to_add(pytester: pytest.Pytester) -> None:
    """An async test using the fixtures without pytest.mark.anyio is told to add it."""
    result = _run(
        pytester,
        """
async def test_it(imaginepro_client):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*imaginepro fixtures (imaginepro_client*), which are async*pytest.mark.anyio*"]
    )


def test_the_markers_help_documents_the_fault_format(pytester: pytest.Pytester) -> None:
    """pytest --markers shows the marker's options, the fault keywords and kinds included."""
    result = pytester.runpytest_inprocess("--markers")
    text = result.stdout.str()
    assert "@pytest.mark.imaginepro(**options)" in text
    for needle in ("faults=[{'kind': 'http_503'", "http_500|http_502", "probability", "asyncio"):
        assert needle in text


def test_the_fixtures_refuse_a_loop_that_is_not_asyncio() -> None:
    """Off asyncio (trio, where aiohttp cannot run) the fixtures fail saying asyncio is needed."""
    with pytest.raises(pytest.fail.Exception, match=r"asyncio only .*return 'asyncio'") as failed:
        _require_asyncio()  # no asyncio loop runs here, as under trio
    assert failed.value.__context__ is None  # reported alone, without asyncio's RuntimeError
