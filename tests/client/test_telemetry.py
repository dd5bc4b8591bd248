"""OpenTelemetry (``imaginepro_async.telemetry``) read back from the SDK's in-memory exporters.

Run as ``python -m tests.client.test_telemetry`` it prints the trace of one inpaint (simulator
at ``time_scale=60``, 30 s jobs) as shown in ``docs/guides/telemetry-hooks.md``.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from imaginepro_async import ExtraNotInstalledError, Status, SubmissionUncertainError, gather
from imaginepro_async.telemetry import METRICS, OpenTelemetryHooks
from imaginepro_async.testing import Endpoint, FaultKind, Simulator, fixed_duration, make_mask

from .conftest import client_for

pytestmark = pytest.mark.anyio

DOC = Path(__file__).resolve().parents[2] / "docs" / "guides" / "telemetry-hooks.md"
ROOT_SPAN = "inpaint one image"


class Telemetry:
    """A tracer provider and a meter provider that keep everything in memory, and the hooks."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.hooks = OpenTelemetryHooks(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def metrics(self) -> dict[str, list[Any]]:
        """Every metric recorded so far: name → its data points."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


async def record_inpaint(sim: Simulator, telemetry: Telemetry) -> tuple[ReadableSpan, ...]:
    """imagine and U1 outside the trace, then one inpaint and its download inside ROOT_SPAN."""
    async with client_for(sim, hooks=telemetry.hooks) as client:
        grid = await (await client.imagine("a lighthouse at dusk"))
        up = await (await client.upscale(grid, 1))
        tracer = telemetry.tracer_provider.get_tracer("example")
        with tracer.start_as_current_span(ROOT_SPAN):
            job = await client.inpaint(up, make_mask(*sim.image_size), prompt="a red sailboat")
            done = await job
            await client.download(done)
    spans = telemetry.spans.get_finished_spans()
    root = next(s for s in spans if s.name == ROOT_SPAN)
    assert root.context is not None
    return tuple(
        s for s in spans if s.context is not None and s.context.trace_id == root.context.trace_id
    )


def render(spans: Sequence[ReadableSpan]) -> list[str]:
    """The trace as an indented tree: each span (ms from the root's start), its events."""
    root = next(s for s in spans if s.parent is None)
    assert root.start_time is not None
    origin = root.start_time

    def ms(ns: int | None) -> str:
        return f"{((ns or origin) - origin) / 1e6:7.1f}"

    def shown(attributes: Any) -> str:
        return "  ".join(
            f"{key}={value:.4f}" if isinstance(value, float) else f"{key}={value}"
            for key, value in (attributes or {}).items()
            if key not in ("url.full",)
        )

    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        pad = "  " * depth
        status = " ERROR" if span.status.status_code is StatusCode.ERROR else ""
        lines.append(f"{ms(span.start_time)} → {ms(span.end_time)} ms  {pad}{span.name}{status}")
        if span.attributes:
            lines.append(f"{'':22}{pad}  [{shown(span.attributes)}]")
        children = sorted(
            (s for s in spans if s.parent is not None and span.context is not None
             and s.parent.span_id == span.context.span_id),
            key=lambda s: s.start_time or 0,
        )  # fmt: skip
        items: list[tuple[int, Any]] = [(e.timestamp, e) for e in span.events]
        items += [(c.start_time or 0, c) for c in children]
        for _, item in sorted(items, key=lambda pair: pair[0]):
            if isinstance(item, ReadableSpan):
                walk(item, depth + 1)
            else:
                lines.append(
                    f"{ms(item.timestamp)}{'':12}{pad}  · {item.name}  {shown(item.attributes)}"
                )

    walk(root, 0)
    return [line.rstrip() for line in lines]


def skeleton(lines: Iterable[str]) -> list[str]:
    """The span names of a rendered trace, in order (numbers, events and notes left out)."""
    return [
        re.sub(r"^[\d. →]+ms\s+|\s+\(.*\)$", "", line).strip()
        for line in lines
        if re.match(r"^\s*[\d.]+ → ", line)
    ]


async def test_one_inpaint_is_one_span_with_its_request_polls_and_download(sim: Simulator) -> None:
    """The inpaint's span: its POST a child, polls as events, GenAI attributes; download after."""
    telemetry = Telemetry()
    spans = await record_inpaint(sim, telemetry)
    by_name = {s.name: s for s in spans}
    job = by_name["Vary (Region)"]
    root = by_name[ROOT_SPAN]
    assert job.parent is not None and root.context is not None
    assert job.parent.span_id == root.context.span_id and job.kind is SpanKind.CLIENT
    attributes: dict[str, Any] = dict(job.attributes or {})
    assert attributes["gen_ai.operation.name"] == "Vary (Region)"
    assert attributes["gen_ai.provider.name"] == attributes["gen_ai.system"] == "imaginepro"
    assert attributes["imaginepro.endpoint"] == "button"
    assert attributes["imaginepro.status"] == "DONE" and attributes["imaginepro.credits"] == 5
    message_id = attributes["gen_ai.response.id"]
    assert attributes["imaginepro.message_id"] == message_id
    polls = [e for e in job.events if e.name == "poll"]
    assert len(polls) == attributes["imaginepro.polls"] >= 2
    assert (polls[-1].attributes or {})["imaginepro.status"] == "DONE"
    assert attributes["imaginepro.detection_lag"] > 0
    post = by_name["POST button"]
    assert post.parent is not None and job.context is not None
    assert post.parent.span_id == job.context.span_id
    assert (post.attributes or {})["http.response.status_code"] == 200
    downloads = [s for s in spans if s.name == "GET download"]
    assert len(downloads) == 2  # the parent's first bytes (the mask's size check), the result
    assert all(d.parent is not None and d.parent.span_id == root.context.span_id for d in downloads)
    assert job.end_time is not None and (downloads[-1].start_time or 0) >= job.end_time
    assert not any(s.name.startswith("GET message") for s in spans)  # polls are events only


async def test_the_metrics_of_jobs_requests_and_budgets(sim: Simulator) -> None:
    """After three jobs: requests, budget waits, credits, ends and lags recorded; none active."""
    telemetry = Telemetry()
    await record_inpaint(sim, telemetry)
    found = telemetry.metrics()
    assert set(found) >= set(METRICS) - {
        "imaginepro.rate_limited", "imaginepro.retries", "imaginepro.submissions.held",
        "imaginepro.submissions.failed",
    }  # fmt: skip
    assert sum(p.value for p in found["imaginepro.credits"]) == 10 + 5 + 5
    assert sum(p.value for p in found["imaginepro.jobs.active"]) == 0
    assert sum(p.count for p in found["imaginepro.job.detection_lag"]) == 3
    budgets = {p.attributes["imaginepro.budget"] for p in found["imaginepro.budget.wait"]}
    assert budgets == {"create", "poll"}
    endpoints = {p.attributes["imaginepro.endpoint"] for p in found["imaginepro.request.duration"]}
    assert endpoints == {"imagine", "button", "message", "download"}


async def test_a_failed_submission_and_a_429_are_recorded() -> None:
    """An uncertain submission ends its span in error; a poll's 429 is counted by budget."""
    from imaginepro_async.testing import SimulatedRateLimit

    telemetry = Telemetry()
    async with Simulator(time_scale=600, seed=2, duration=fixed_duration(30.0)) as sim:
        sim.rate_limits.progress = SimulatedRateLimit(1, 60.0)  # a second poll is a 429
        async with client_for(sim, hooks=telemetry.hooks) as client:
            jobs = [await client.imagine(f"polled too often {n}") for n in range(2)]
            assert all(m.status is Status.DONE for m in await gather(*jobs))
            sim.faults.add(kind=FaultKind.HTTP_500, endpoint=Endpoint.IMAGINE, times=1)
            with pytest.raises(SubmissionUncertainError):
                await client.imagine("boom")
    failed = [
        s for s in telemetry.spans.get_finished_spans() if s.status.status_code is StatusCode.ERROR
    ]
    assert [(s.name, (s.attributes or {})["error.type"]) for s in failed] == [
        ("POST imagine", "500"),
        ("imagine", "SubmissionUncertainError"),
    ]
    found = telemetry.metrics()
    assert {p.attributes["imaginepro.budget"] for p in found["imaginepro.rate_limited"]} == {"poll"}
    assert sum(p.value for p in found["imaginepro.submissions.failed"]) == 1


def test_the_documented_trace_has_the_spans_of_a_fresh_one() -> None:
    """docs/guides/telemetry-hooks.md shows a trace with the spans, in order, that a run records."""
    text = DOC.read_text(encoding="utf-8")
    shown = text.split("<!-- trace:begin -->")[1].split("<!-- trace:end -->")[0]

    async def fresh() -> list[str]:
        async with Simulator(time_scale=600, seed=1, duration=fixed_duration(30.0)) as sim:
            return render(await record_inpaint(sim, Telemetry()))

    assert skeleton(shown.splitlines()) == skeleton(anyio.run(fresh))


def test_without_the_extra_the_module_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """With opentelemetry missing, importing the integration names the [otel] extra."""
    for name in [m for m in sys.modules if m.startswith("imaginepro_async.telemetry")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry.metrics", None)  # as if not installed
    with pytest.raises(ExtraNotInstalledError, match=r"pip install 'imaginepro-async\[otel\]'"):
        importlib.import_module("imaginepro_async.telemetry")


def test_the_overhead_benchmark_runs_each_configuration() -> None:
    """benchmarks/telemetry.py's poll path and hooks-alone loop run (no timing is asserted)."""
    from benchmarks import telemetry

    for config in telemetry.CONFIGS:
        run = anyio.run(telemetry.poll_path, config, 3, 2)
        assert run["polls"] == 3 * 2
        assert telemetry.hooks_alone(config, 10) >= 0


async def _print_trace() -> None:
    async with Simulator(time_scale=60, seed=1, duration=fixed_duration(30.0)) as sim:
        spans = await record_inpaint(sim, Telemetry())
    sys.stdout.write("\n".join(render(spans)) + "\n")


def test_the_examples_of_the_page_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Every Python example of docs/guides/telemetry-hooks.md runs against the simulator."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 2
    for number, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name} example {number + 1}", "exec"), {"__name__": "example"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("DONE ") and printed[-1] == "['POST imagine', 'imagine']"


if __name__ == "__main__":
    anyio.run(_print_trace)
