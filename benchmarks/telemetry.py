"""CPU per poll with and without telemetry (``python -m benchmarks.telemetry``).

Three configurations of the same client on the same seeded workload:

- **none**: no hooks (the default): the wire and the scheduler test one attribute per event;
- **no-op hooks**: a ``ClientHooks`` overriding every method with ``pass``: every event record is
  built and dispatched, nobody does anything with it;
- **otel sdk**: ``OpenTelemetryHooks`` with the OpenTelemetry SDK, a ``SimpleSpanProcessor`` into
  an ``InMemorySpanExporter`` and an ``InMemoryMetricReader`` (spans, span events, metrics).

Three measurements (CPU time of this process, medians of ``--runs``, configurations alternated):

1. **the poll path**: the whole client (scheduler, planner, budget, sender, JSON, converter,
   handles), its socket replaced by an in-process answer (``NoNetwork``): ``--jobs`` jobs, each
   DONE at its ``--polls``-th poll, so every configuration makes exactly the same polls. CPU per
   poll over the wait for all of them (the jobs' ends included);
2. **end to end**: the simulator in a separate process (its CPU is not counted), N jobs
   submitted at once, then this process's CPU time from the last submission to the last job's
   end, divided by the polls the simulator served meanwhile. It includes everything a poll costs
   (the scheduler, the budget, aiohttp, JSON, the converter): the telemetry is the difference.
   The number of polls follows the machine's load (the planner polls by the clock), so this is
   the noisiest of the three;
3. **the hooks alone**: what one poll's events cost (a budget wait, a request sent, its answer, a
   JobPolled), dispatched through the client's ``Emitter`` ``--calls`` times in a loop.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any

import anyio
import anyio.lowlevel
import yarl

from imaginepro_async import (
    BudgetWaited,
    ClientHooks,
    ImagineProClient,
    JobPolled,
    RateLimit,
    RequestSent,
    ResponseReceived,
    gather,
)
from imaginepro_async._events.hooks import EVENTS, Emitter
from imaginepro_async._wire.exchange import Reply

from ._common import SimulatorProcess, cpu_seconds, machine, median, table, write_json

CONFIGS = ("none", "no-op hooks", "otel sdk")


class NoOp(ClientHooks):
    """Every hook overridden, doing nothing."""


for _, _method in EVENTS:
    setattr(NoOp, _method, lambda self, event: None)


def hooks_for(config: str) -> tuple[ClientHooks | None, Any]:
    """The hooks of a configuration, and what to keep alive (the OpenTelemetry providers)."""
    if config == "none":
        return None, None
    if config == "no-op hooks":
        return NoOp(), None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from imaginepro_async.telemetry import OpenTelemetryHooks

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    hooks = OpenTelemetryHooks(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return hooks, (exporter, reader, tracer_provider, meter_provider)


async def end_to_end(sim: SimulatorProcess, config: str, jobs: int) -> dict[str, Any]:
    """One run: ``jobs`` imagines at once; CPU and polls from the last submission to the end."""
    hooks, keep = hooks_for(config)
    await anyio.to_thread.run_sync(sim.admin, "POST", "/reset")
    async with ImagineProClient(
        sim.api_key,
        base_url=sim.url,
        time_scale=sim.time_scale,
        seed=1,
        create_limit=RateLimit(1000, 1.0),
        poll_limit=RateLimit(10, 1.0),
        hooks=hooks,
    ) as client:
        handles = [await client.imagine(f"job {n}") for n in range(jobs)]
        before = (await anyio.to_thread.run_sync(sim.admin, "GET", "/stats"))["by_endpoint"]
        cpu, wall = cpu_seconds(), time.perf_counter()
        results = await gather(*handles)
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    after = (await anyio.to_thread.run_sync(sim.admin, "GET", "/stats"))["by_endpoint"]
    polls = after.get("fetch", 0) - before.get("fetch", 0)
    assert all(m.status.value == "DONE" for m in results)
    spans = len(keep[0].get_finished_spans()) if keep else None
    return {
        "config": config,
        "jobs": jobs,
        "polls": polls,
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_us_per_poll": cpu / polls * 1e6,
        "spans": spans,
    }


class NoNetwork:
    """Answers the client's requests in this process, without a socket: a submission gets a new
    messageId; the n-th poll of a job sees it PROCESSING, the ``polls``-th DONE."""

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.seen: Counter[str] = Counter()
        self.created = 0

    async def send(
        self, method: str, url: yarl.URL, payload: bytes | None, *, fresh: bool = False
    ) -> Reply:
        await anyio.lowlevel.checkpoint()
        if method == "POST":
            self.created += 1
            body: dict[str, Any] = {"success": True, "messageId": f"job-{self.created:06d}"}
        else:
            message_id = url.path.rsplit("/", 1)[1]
            self.seen[message_id] += 1
            done = self.seen[message_id] >= self.polls
            body = {
                "messageId": message_id,
                "status": "DONE" if done else "PROCESSING",
                "progress": 100 if done else 100 * self.seen[message_id] // self.polls,
                "uri": "https://cdn.example/x.png" if done else None,
            }
        return Reply(status=200, raw=json.dumps(body).encode(), retry_after=None, location=None)


async def poll_path(config: str, jobs: int, polls: int) -> dict[str, Any]:
    """The client's whole poll path but the socket: CPU per poll over ``jobs`` × ``polls``."""
    hooks, keep = hooks_for(config)
    network = NoNetwork(polls)
    async with ImagineProClient(
        "sk-benchmark",
        base_url="http://127.0.0.1:9",
        time_scale=100.0,  # the planner's waits pass quickly, its deadlines stay far
        seed=1,
        create_limit=RateLimit(10**6, 1.0),
        poll_limit=RateLimit(10**6, 1.0),
        hooks=hooks,
    ) as client:
        sender = client._core.open()[0]
        sender._exchange.send = network.send  # type: ignore[method-assign]
        handles = [await client.imagine(f"job {n}") for n in range(jobs)]
        cpu = time.process_time()
        results = await gather(*handles)
        cpu = time.process_time() - cpu
    assert all(m.status.value == "DONE" for m in results)
    total = sum(network.seen.values())
    del keep
    return {"config": config, "polls": total, "cpu_us_per_poll": cpu / total * 1e6}


def hooks_alone(config: str, calls: int) -> float:
    """CPU µs for one poll's events through the Emitter (built as the client builds them)."""
    hooks, keep = hooks_for(config)
    emitter = Emitter(() if hooks is None else (hooks,))
    if hooks is not None and config == "otel sdk":
        # A job span to add the poll events to, as after a submission.
        from imaginepro_async import JobSubmitted, SubmissionStarted

        assert emitter.submission_started is not None
        assert emitter.job_submitted is not None
        emitter.submission_started(
            SubmissionStarted(endpoint="imagine", kind="imagine", model=None)
        )
        emitter.job_submitted(
            JobSubmitted(
                message_id="m", endpoint="imagine", kind="imagine", model=None, cost=10,
                duration=0.01,
            )
        )  # fmt: skip
    url = "http://127.0.0.1:1/api/v1/message/fetch/m"
    started = time.process_time()
    for n in range(calls):
        if emitter.budget_wait is not None:
            emitter.budget_wait(BudgetWaited(budget="poll", wait=0.0))
        if emitter.request_sent is not None:
            emitter.request_sent(RequestSent(method="GET", endpoint="message", url=url, poll=True))
        if emitter.response is not None:
            emitter.response(
                ResponseReceived(
                    method="GET", endpoint="message", url=url, status=200, duration=0.001,
                    poll=True,
                )
            )  # fmt: skip
        if emitter.job_polled is not None:
            emitter.job_polled(
                JobPolled(message_id="m", poll=n, status="PROCESSING", progress=50, duration=0.001)
            )
    del keep
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    """Run the three measurements, print the table, write benchmarks/results/telemetry.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--polls", type=int, default=10, help="polls per job (poll path)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--time-scale", type=float, default=300.0, help="end to end")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--shortest", type=float, default=60.0, help="job duration, API seconds")
    parser.add_argument("--longest", type=float, default=600.0, help="job duration, API seconds")
    args = parser.parse_args()

    path_runs: list[dict[str, Any]] = []
    e2e_runs: list[dict[str, Any]] = []
    for _ in range(args.runs):
        for config in CONFIGS:  # alternated, so that a busy moment of the machine hits all three
            path_runs.append(anyio.run(poll_path, config, args.jobs, args.polls))
    with SimulatorProcess(
        time_scale=args.time_scale,
        seed=1,
        concurrency=args.jobs,
        duration_range=(args.shortest, args.longest),
        rate_limits=False,  # the client keeps to its budgets; all jobs start at once
    ) as sim:
        for _ in range(args.runs):
            for config in CONFIGS:
                e2e_runs.append(anyio.run(end_to_end, sim, config, args.jobs))
    rows = []
    summary: dict[str, dict[str, float]] = {}
    for config in CONFIGS:
        summary[config] = {
            "poll_path_cpu_us_per_poll": median(
                [r["cpu_us_per_poll"] for r in path_runs if r["config"] == config]
            ),
            "end_to_end_cpu_us_per_poll": median(
                [r["cpu_us_per_poll"] for r in e2e_runs if r["config"] == config]
            ),
            "end_to_end_polls_per_run": median(
                [r["polls"] for r in e2e_runs if r["config"] == config]
            ),
            "hooks_alone_us_per_poll": median([hooks_alone(config, args.calls) for _ in range(3)]),
        }
    base = summary["none"]
    for config in CONFIGS:
        mine = summary[config]
        rows.append([
            config,
            f"{mine['poll_path_cpu_us_per_poll']:.1f}",
            f"{mine['poll_path_cpu_us_per_poll'] - base['poll_path_cpu_us_per_poll']:+.1f}",
            f"{mine['end_to_end_cpu_us_per_poll']:.0f}",
            f"{mine['end_to_end_polls_per_run']:.0f}",
            f"{mine['hooks_alone_us_per_poll']:.2f}",
        ])  # fmt: skip
    print(
        table(
            rows,
            [
                "telemetry",
                "poll path µs/poll",
                "vs none",
                "end to end µs/poll",
                "polls/run",
                "hooks alone µs/poll",
            ],
        )
    )
    path = write_json(
        "telemetry.json",
        {
            "args": vars(args),
            "machine": machine(),
            "summary": summary,
            "poll_path_runs": path_runs,
            "end_to_end_runs": e2e_runs,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
