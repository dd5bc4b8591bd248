"""Every Python example of the docs, for mypy --strict: generated, never run; do not edit.

Written by ``python -m tests._snippets`` (see that module); tests/test_readme.py checks it
is up to date. A continuation of the tour gets the tour's names as parameters.
"""

# ruff: noqa
from __future__ import annotations

from imaginepro_async import ImagineProClient, Mask, Message


# README.md, line 53
def readme_md_53() -> None:
    import anyio
    from imaginepro_async import ImagineProClient, Mask


    async def main() -> None:
        # api_key defaults to $IMAGINEPRO_API_KEY, base_url to $IMAGINEPRO_BASE_URL or the real service.
        async with ImagineProClient() as client:
            grid = await (await client.imagine("a lighthouse at dusk"))  # a Job, then its Message
            up = await (await client.upscale(grid, 1))  # presses U1 on that grid

            # White selects what is redrawn; coordinates in pixels, or fractions with relative=True.
            mask = Mask.ellipse((1024, 1024), (0.55, 0.55, 0.95, 0.95), relative=True)
            job = await client.inpaint(up, mask, prompt="a red sailboat")
            print(job.message_id)  # known as soon as the POST succeeded

            async for update in job.updates():  # a Message at each status/progress change
                print(update.status, update.progress)
            result = await job  # the final Message (status DONE)
            print(result.uri, result.buttons)

            again = client.job(job.message_id)  # a handle for an existing messageId
            print(again.message_id, job.cost, client.credits_spent)  # credits: an estimate


    anyio.run(main)


# docs/configuration.md, line 43
def docs_configuration_md_43() -> None:
    import anyio
    from imaginepro_async import ImagineProClient, PollPolicy, RateLimit, RetryPolicy


    async def main() -> None:
        async with ImagineProClient(
            create_limit=RateLimit(1, 3.0),  # job-creating and other general requests
            poll_limit=RateLimit(10, 1.0),  # progress requests
            poll_policy=PollPolicy(max_interval=30.0),
            retry=RetryPolicy(attempts=3, base=1.0, cap=20.0),
            request_timeout=60.0,
            max_retry_after=60.0,
        ) as client:
            print(client.base_url, client.time_scale, client.create_budget.limit)


    anyio.run(main)


# docs/errors.md, line 67
async def docs_errors_md_67(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    from imaginepro_async import InvalidInputError, JobError

    try:
        await client.upscale(grid, 5)  # a grid has U1..U4
    except InvalidInputError as exc:
        print("refused before sending:", exc)

    job = await client.inpaint(up, mask, prompt="a red sailboat")
    try:
        print((await job.wait(timeout=600)).uri)
    except JobError as exc:  # failed, cancelled, timed out or given up: it names the job
        print(exc.message_id, exc)


# docs/guides/batch.md, line 74
async def docs_guides_batch_md_74(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    from imaginepro_async import Batch

    # JsonlInput("requests.jsonl") streams a file (read_jsonl() gives a list); mappings work too:
    requests = [
        {"ref": f"boat-{n}", "parent": up.message_id, "mask": mask.to_base64(), "prompt": prompt}
        for n, prompt in enumerate(["a red sailboat", "a wooden rowing boat"])
    ]
    async with Batch(client, requests, journal="run.db", download_dir="images") as batch:
        async for result in batch:
            print(result.key, result.state, result.error or result.files)


# docs/guides/client.md, line 10
def docs_guides_client_md_10() -> None:
    import anyio
    from imaginepro_async import ImagePart, ImagineProClient, VideoMessage

    CAT = "https://example.com/cat.png"
    DOG = "https://example.com/dog.png"


    async def main() -> None:
        async with ImagineProClient() as client:
            described = await (await client.describe(CAT))
            print(described.prompt)  # four suggested prompts
            blended = await (await client.blend([CAT, DOG]))  # a grid, with U1..V4 buttons
            faces = await (await client.face_swap(source_image=CAT, target_image=DOG))
            fast = await (await client.imagine("a lighthouse", boost=True))  # boost mode
            # The other families of the API are attributes: client.flux, .gemini, .universal, ...
            flux = await (await client.flux.imagine("a fox in the snow", n=2, aspect_ratio="16:9"))
            print(len(flux.images), flux.images)  # every output
            mixed = await (await client.universal.imagine(["put the cat in a hat", ImagePart(CAT)]))
            video = await (await client.video.generate(CAT, DOG, prompt="the cat walks"))
            assert isinstance(video, VideoMessage)  # polled on the video progress endpoint
            print(video.video_url, [r.index for r in video.results])
            longer = await (await client.video.extend(video, 0, job_timeout=900))
            print(blended.buttons, faces.uri, mixed.uri, fast.uri, longer.status)
            print(f"about {client.credits_spent} credits spent")


    anyio.run(main)


# docs/guides/client.md, line 90
async def docs_guides_client_md_90(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    import asyncio

    call = client.flux.imagine("a fox in the snow", n=2)  # a JobCall: nothing is checked or sent yet
    job = await asyncio.create_task(call)  # the Job, once the server took it
    print(job.message_id, len((await job).images))
    print(await job.cancel())  # False: it has ended, so nothing is sent


# docs/guides/inpainting.md, line 15
async def docs_guides_inpainting_md_15(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    from imaginepro_async import Mask

    mask = Mask.rectangle((1024, 1024), (100, 600, 500, 1000)) | Mask.ellipse(
        (1024, 1024),
        (0.5, 0.1, 0.9, 0.4),
        relative=True,  # pixels, or fractions of the size
    )
    print(mask.size, f"{mask.coverage:.0%} selected", mask.thresholded)
    image = await client.download(up)  # the upscaled image's bytes
    open("preview.png", "wb").write(mask.preview(image))  # look before you pay
    open("mask.png", "wb").write(mask.to_png())
    mask = Mask.from_file("mask.png")  # also from_bytes, from_base64, from_image


# docs/guides/inpainting.md, line 46
async def docs_guides_inpainting_md_46(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    job = await client.inpaint(up, mask, prompt="a red sailboat")
    result = await job  # the final Message (status DONE)
    print(result.uri, job.cost)


# docs/guides/many-jobs.md, line 7
async def docs_guides_many_jobs_md_7(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    from imaginepro_async import JobError, as_completed, gather

    prompts = ["a red sailboat", "a wooden rowing boat", "a yellow kayak"]
    jobs = [await client.inpaint(up, mask, prompt=p) for p in prompts]  # served 1 per 3 s, in order

    async for job in as_completed(jobs):  # first finished first; failures too
        try:
            print(job.message_id, job.result().uri)  # result(): the final Message, or its error
        except JobError as exc:  # JobFailedError, JobDeadlineError
            print(job.message_id, "failed:", exc)

    results = await gather(*jobs)  # waits for all; failures raised together
    # ... or: outcomes = await gather(*jobs, return_exceptions=True)


# docs/guides/processes.md, line 8
def docs_guides_processes_md_8() -> None:
    import os

    import anyio

    from imaginepro_async import ImagineProClient, RedisCoordination


    async def main() -> None:
        # share_jobs=True: one process (the leader) also polls every followed job for all of them.
        coordination = RedisCoordination(os.environ["REDIS_URL"], share_jobs=True)
        async with coordination, ImagineProClient(coordination=coordination) as client:
            job = await client.imagine("a lighthouse at dusk")
            print((await job).status)  # polled by whichever process leads


    anyio.run(main)


# docs/guides/rate-limits.md, line 5
async def docs_guides_rate_limits_md_5(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    from imaginepro_async import ImagineProClient, PollPolicy, RateLimit

    client = ImagineProClient(
        create_limit=RateLimit(1, 3.0),  # job-creating and other general requests
        poll_limit=RateLimit(10, 1.0),  # progress requests
        poll_policy=PollPolicy(max_interval=30.0),
    )


# docs/guides/telemetry-hooks.md, line 19
def docs_guides_telemetry_hooks_md_19() -> None:
    import anyio

    from imaginepro_async import ClientHooks, ImagineProClient, JobEnded, RateLimited, RetryScheduled
    from imaginepro_async.testing import Simulator


    class Watch(ClientHooks):
        def __init__(self) -> None:
            self.ended: list[JobEnded] = []
            self.throttled = 0

        def on_rate_limited(self, event: RateLimited) -> None:
            self.throttled += 1  # a 429: event.budget, event.retry_after

        def on_retry(self, event: RetryScheduled) -> None:
            print(f"retrying {event.endpoint} after {event.reason} in {event.wait:.2f} s")

        def on_job_ended(self, event: JobEnded) -> None:
            self.ended.append(event)


    async def main() -> None:
        watch = Watch()
        async with (
            Simulator(time_scale=600) as sim,
            ImagineProClient(sim.api_key, base_url=sim.url, time_scale=600, hooks=watch) as client,
        ):
            await (await client.imagine("a lighthouse at dusk"))
        (ended,) = watch.ended
        print(ended.status, ended.polls, ended.detection_lag, ended.credits)


    anyio.run(main)


# docs/guides/telemetry-hooks.md, line 90
def docs_guides_telemetry_hooks_md_90() -> None:
    import anyio
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from imaginepro_async import ImagineProClient
    from imaginepro_async.telemetry import OpenTelemetryHooks
    from imaginepro_async.testing import Simulator

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    hooks = OpenTelemetryHooks(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )


    async def main() -> None:
        async with (
            Simulator(time_scale=600) as sim,
            ImagineProClient(sim.api_key, base_url=sim.url, time_scale=600, hooks=hooks) as client,
        ):
            await (await client.imagine("a lighthouse at dusk"))


    anyio.run(main)
    print([span.name for span in spans.get_finished_spans()])  # ['POST imagine', 'imagine']


# docs/guides/telemetry.md, line 17
async def docs_guides_telemetry_md_17(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    print(client.credits_spent, client.submission_hold)
    print(client.poll_budget.started, "progress requests so far")
    job = await client.imagine("a lighthouse at dusk")
    await job
    print(job.polls, "polls for", job.message_id)


# docs/guides/testing.md, line 9
def docs_guides_testing_md_9() -> None:
    import anyio
    from imaginepro_async import ImagineProClient, Status
    from imaginepro_async.testing import Endpoint, FaultKind, Simulator


    async def main() -> None:
        async with Simulator(time_scale=100, seed=1) as sim:  # 100x faster than real time
            # The next imagine is answered 503 once: nothing was processed, so the client resends it.
            sim.faults.add(kind=FaultKind.HTTP_503, endpoint=Endpoint.IMAGINE, times=1)
            async with ImagineProClient(
                sim.api_key, base_url=sim.url, time_scale=sim.time_scale
            ) as client:
                grid = await (await client.imagine("a lighthouse"))
            assert grid.status is Status.DONE
            stats = sim.stats()
            assert stats.rate_limited == 0 and stats.jobs_created == 1  # never paid twice
            print(stats.requests, "requests,", sim.credits(), "credits left")


    anyio.run(main)


# docs/guides/testing.md, line 65
async def docs_guides_testing_md_65(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    import pytest

    from imaginepro_async import ImagineProClient, Status

    pytestmark = pytest.mark.anyio


    async def test_upscale(imaginepro_client: ImagineProClient) -> None:
        grid = await (await imaginepro_client.imagine("a red fox"))
        up = await (await imaginepro_client.upscale(grid, 1))
        assert up.status is Status.DONE


# docs/guides/testing.md, line 87
async def docs_guides_testing_md_87(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    import pytest

    from imaginepro_async import ImagineProClient
    from imaginepro_async.testing import Simulator

    pytestmark = pytest.mark.anyio


    @pytest.mark.imaginepro(concurrency=1, credits=15, failure_rate=0.2)
    async def test_low_credits(
        imaginepro_client: ImagineProClient, imaginepro_simulator: Simulator
    ) -> None:
        await imaginepro_client.imagine("a red fox")  # the account can pay one imagine job
        assert imaginepro_simulator.credits() <= 15


    @pytest.mark.imaginepro(faults=[{"kind": "http_503", "endpoint": "imagine", "times": 2}])
    async def test_retries(imaginepro_client: ImagineProClient) -> None:
        grid = await (await imaginepro_client.imagine("a red fox"))  # two 503s, then accepted
        assert grid.message_id


# docs/guides/web.md, line 9
async def docs_guides_web_md_9(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    submission = await client.enqueue(client.inpaint(up, mask, prompt="a red sailboat"))
    print(submission.id, submission.position)  # answer 202 Accepted with these, at once
    job = await submission.submitted()  # later (another request): the Job, once it was sent
    print((await job).status)


# docs/logging.md, line 18
def docs_logging_md_18() -> None:
    import logging

    import anyio
    from imaginepro_async import ImagineProClient

    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("imaginepro_async").setLevel(logging.DEBUG)


    async def main() -> None:
        async with ImagineProClient() as client:
            grid = await (await client.imagine("a lighthouse at dusk"))
            print(grid.status)


    anyio.run(main)


# docs/proxies-timeouts.md, line 20
async def docs_proxies_timeouts_md_20(client: ImagineProClient, grid: Message, up: Message, mask: Mask) -> None:
    from imaginepro_async import JobTimeoutError

    job = await client.inpaint(up, mask, prompt="a red sailboat", job_timeout=600)  # the server's
    try:
        result = await job.wait(timeout=0.001)  # ours: real seconds
    except JobTimeoutError:
        result = await job  # it went on: wait again
    print(result.status)


# docs/proxies-timeouts.md, line 40
def docs_proxies_timeouts_md_40() -> None:
    import aiohttp
    import anyio
    from imaginepro_async import ImagineProClient


    async def main() -> None:
        async with (
            aiohttp.ClientSession(trust_env=True) as session,  # honours HTTPS_PROXY, NO_PROXY
            ImagineProClient(session=session, request_timeout=60.0) as client,
        ):
            info = await client.account()
            print(info.type, info.credits)


    anyio.run(main)
