"""The client end to end against the simulator, over loopback, at a fast time scale."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter

import anyio
import pytest

from imaginepro_async import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    Button,
    ClientClosedError,
    ImagineProClient,
    InvalidInputError,
    InvalidMaskError,
    Job,
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PollPolicy,
    RateLimit,
    Status,
    SubmissionUncertainError,
    as_completed,
    gather,
)
from imaginepro_async.testing import Endpoint, FaultKind, Simulator, make_mask
from imaginepro_async.testing import SimulatedRateLimit as ServerRateLimit

from .conftest import SCALE, client_for, fixed_duration

pytestmark = pytest.mark.anyio


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` inside any half-open window of length ``window``."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_full_inpainting_flow(sim: Simulator, client: ImagineProClient) -> None:
    """imagine, U1, then Vary (Region) with a mask: each a Job whose final Message is DONE."""
    grid = await (await client.imagine("a lighthouse at dusk"))
    assert grid.status is Status.DONE and Button.U1 in grid.buttons
    up = await (await client.upscale(grid, 1))
    assert up.originating_message_id == grid.message_id
    assert Button.VARY_REGION in up.buttons
    job = await client.inpaint(up, make_mask(*sim.image_size), prompt="a red sailboat")
    assert job.message_id
    updates = [m async for m in job.updates()]
    assert updates[-1].status is Status.DONE
    progress = [m.progress for m in updates]
    assert progress == sorted(progress)
    result = await job
    assert result.originating_message_id == up.message_id
    assert result.uri and result.images
    assert sim.job(job.message_id).button == "Vary (Region)"
    assert sim.stats().rate_limited == 0


async def test_five_hundred_concurrent_jobs_finish_without_a_single_429() -> None:
    """500 jobs submitted at once all finish; the simulator served no 429; budgets held."""
    scale = 3000.0
    async with (
        Simulator(time_scale=scale, seed=2, concurrency=60) as sim,
        client_for(sim) as client,
    ):
        jobs: list[Job | None] = [None] * 500

        async def submit(n: int) -> None:
            jobs[n] = await client.imagine(f"lighthouse number {n}", ref=f"r{n}")

        async with anyio.create_task_group() as tg:
            for n in range(500):
                tg.start_soon(submit, n)
        handles = [job for job in jobs if job is not None]
        results = await gather(*handles)
        assert all(m.status is Status.DONE for m in results)
        stats = sim.stats()
        assert stats.rate_limited == 0
        assert stats.jobs_created == 500
        assert sim.jobs_per_body(min_count=2) == []
        log = sim.requests()
        creates = [r.time for r in log if r.endpoint == Endpoint.IMAGINE]
        fetches = [r.time for r in log if r.endpoint == Endpoint.FETCH]
        assert max_in_window(creates, 3.0) == 1
        assert max_in_window(fetches, 1.0) <= 10
        # Submissions are served in the order they were asked for.
        refs = [sim.job(m.message_id).ref for m in results]
        assert refs == [f"r{n}" for n in range(500)]


async def test_polls_per_job_stay_low_with_a_queue(sim: Simulator) -> None:
    """Jobs waiting in the account queue are not polled one by one: few polls per job.

    (Fresh looks at running jobs, which spend the free budget, are turned off here.)
    """
    async with client_for(sim, poll_policy=PollPolicy(fresh_interval=60.0)) as client:
        jobs = [await client.imagine(f"boat {n}") for n in range(12)]
        await gather(*jobs)
    polls = Counter(r.path.rsplit("/", 1)[-1] for r in sim.requests() if r.endpoint == "fetch")
    assert sum(polls.values()) / len(jobs) <= 6, polls
    assert sim.stats().rate_limited == 0


async def test_a_failed_job_raises_job_failed_error_with_its_message(
    client: ImagineProClient,
) -> None:
    """A banned word ends the job FAIL: JobFailedError carries the Message and the reason."""
    job = await client.imagine("something gore")
    with pytest.raises(JobFailedError) as caught:
        await job
    assert caught.value.message_id == job.message_id
    assert caught.value.message is not None and caught.value.message.status is Status.FAIL
    assert "gore" in caught.value.error
    with pytest.raises(JobFailedError):
        job.result()


async def test_wait_timeout_keeps_the_job_and_it_can_be_awaited_again(
    client: ImagineProClient,
) -> None:
    """JobTimeoutError carries id, elapsed time and polls; the job can be awaited again."""
    job = await client.imagine("a slow one")
    with pytest.raises(JobTimeoutError) as caught:
        await job.wait(timeout=0.001)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.message_id == job.message_id
    assert caught.value.elapsed >= 0.001
    assert "await it again" in str(caught.value)
    assert (await job.wait(timeout=30)).status is Status.DONE


async def test_cancel_ends_the_job_with_job_cancelled_error(
    sim: Simulator, client: ImagineProClient
) -> None:
    """job.cancel() presses Cancel Job (True); the job ends FAIL, raised as JobCancelledError.

    Cancelling a job that has ended sends nothing and returns False.
    """
    job = await client.imagine("never mind")
    assert await job.cancel() is True
    with pytest.raises(JobCancelledError):
        await job
    presses = sim.stats().by_endpoint["button"]
    assert await job.cancel() is False  # already ended: nothing sent
    assert sim.stats().by_endpoint["button"] == presses


async def test_a_second_client_reattaches_by_message_id(sim: Simulator) -> None:
    """client.job(id) in another client follows a job it did not submit."""
    async with client_for(sim) as first:
        job = await first.imagine("a lighthouse")
    async with client_for(sim) as second:
        again = second.job(job.message_id)
        result = await again
        assert result.message_id == job.message_id and result.status is Status.DONE


async def test_many_waiters_share_one_jobs_polls(sim: Simulator, client: ImagineProClient) -> None:
    """Ten tasks awaiting one job, through two handles, see the same result and share its polls."""
    job = await client.imagine("shared")
    other = client.job(job.message_id)
    results = []

    async def wait(handle: object) -> None:
        results.append(await handle)  # type: ignore[misc]

    async with anyio.create_task_group() as tg:
        for n in range(10):
            tg.start_soon(wait, job if n % 2 else other)
    assert len({id(m) for m in results}) == 1
    fetches = sum(1 for r in sim.requests() if r.endpoint == "fetch")
    assert job.polls == other.polls == fetches


async def test_as_completed_yields_in_finishing_order(sim: Simulator) -> None:
    """as_completed yields jobs as the server finishes them, failures included."""
    async with client_for(sim) as client:
        jobs = [await client.imagine(p) for p in ("one", "two gore", "three")]
        seen = [job async for job in as_completed(jobs)]
    assert sorted(j.message_id for j in seen) == sorted(j.message_id for j in jobs)
    finished = [sim.job(j.message_id).finished or 0.0 for j in seen]
    assert finished == sorted(finished)
    assert sum(1 for j in seen if j.latest and j.latest.status is Status.FAIL) == 1


async def test_gather_collects_every_failure(client: ImagineProClient) -> None:
    """gather waits for all jobs and raises all failures together, or returns them in place."""
    jobs = [await client.imagine(p) for p in ("fine", "bad gore", "worse gore")]
    with pytest.raises(ExceptionGroup) as caught:
        await gather(*jobs)
    assert len(caught.value.exceptions) == 2
    assert caught.value.subgroup(JobFailedError) is not None
    outcomes = await gather(*jobs, return_exceptions=True)
    assert [type(o).__name__ for o in outcomes] == ["Message", "JobFailedError", "JobFailedError"]


async def test_updates_every_gives_a_live_view(client: ImagineProClient) -> None:
    """updates(every=...) polls often enough to show progress rising."""
    job = await client.imagine("watch me")
    seen = [m async for m in job.updates(every=2.0 / 600)]
    assert len({m.progress for m in seen if m.status is Status.PROCESSING}) >= 3


async def test_transient_server_errors_do_not_fail_jobs(sim: Simulator) -> None:
    """5xx and dropped connections on the progress endpoint are retried; the jobs still finish."""
    for kind in (FaultKind.HTTP_500, FaultKind.HTTP_502, FaultKind.HTTP_503, FaultKind.DROP_BEFORE):
        sim.faults.add(kind=kind, endpoint=Endpoint.FETCH, probability=0.15)
    async with client_for(sim) as client:
        jobs = [await client.imagine(f"storm {n}") for n in range(5)]
        results = await gather(*jobs)
    assert all(m.status is Status.DONE for m in results)
    assert sim.stats().faults > 0


async def test_malformed_json_while_polling_is_retried(sim: Simulator) -> None:
    """A broken JSON answer to a poll is retried, not taken as the job's fate."""
    sim.faults.add(kind=FaultKind.MALFORMED_JSON, endpoint=Endpoint.FETCH, times=2)
    async with client_for(sim) as client:
        assert (await (await client.imagine("garbled"))).status is Status.DONE


async def test_a_throttled_client_slows_down_instead_of_failing(sim: Simulator) -> None:
    """With a budget above the server's limit, 429s come, Retry-After is honoured, jobs finish."""
    sim.rate_limits.progress = ServerRateLimit(2, 1.0)
    async with client_for(sim, poll_limit=RateLimit(50, 1.0)) as client:
        jobs = [await client.imagine(f"rush {n}") for n in range(6)]
        jobs_watched = [j.updates(every=0.2 / 600) for j in jobs]
        async with anyio.create_task_group() as tg:
            for it in jobs_watched:
                tg.start_soon(_drain, it)
        results = await gather(*jobs)
    assert all(m.status is Status.DONE for m in results)
    assert sim.stats().rate_limited > 0


async def _drain(iterator: object) -> None:
    async for _ in iterator:  # type: ignore[attr-defined]
        pass


async def test_a_submission_whose_answer_is_lost_is_not_resent(sim: Simulator) -> None:
    """drop_after: the job exists and was charged; the client raises and creates exactly one."""
    sim.faults.add(kind=FaultKind.DROP_AFTER, endpoint=Endpoint.IMAGINE, times=1)
    async with client_for(sim) as client:
        with pytest.raises(SubmissionUncertainError) as caught:
            await client.imagine("pay once", ref="once")
    assert sim.jobs_per_ref() == {"once": 1}
    assert caught.value.payload["ref"] == "once"
    assert "not resent" in str(caught.value)


async def test_malformed_creation_answer_is_uncertain_not_resent(sim: Simulator) -> None:
    """A 200 whose body cannot be read means a job may exist: uncertain, not resent."""
    sim.faults.add(kind=FaultKind.MALFORMED_JSON, endpoint=Endpoint.IMAGINE, times=1)
    async with client_for(sim) as client:
        with pytest.raises(SubmissionUncertainError):
            await client.imagine("read me", ref="garbled")
    assert sim.jobs_per_ref() == {"garbled": 1}


@pytest.mark.parametrize("kind", [FaultKind.HTTP_503])
async def test_a_submission_refused_with_503_is_resent_once_accepted(
    sim: Simulator, kind: FaultKind
) -> None:
    """503 means nothing was processed: the client resends, and exactly one job exists."""
    sim.faults.add(kind=kind, endpoint=Endpoint.IMAGINE, times=2)
    async with client_for(sim) as client:
        job = await client.imagine("retry me", ref="retried")
        assert (await job).status is Status.DONE
    assert sim.jobs_per_ref() == {"retried": 1}


@pytest.mark.parametrize("kind", [FaultKind.HTTP_500, FaultKind.HTTP_502])
async def test_a_5xx_on_submission_is_uncertain_not_resent(sim: Simulator, kind: FaultKind) -> None:
    """A 500 or 502 does not say whether the job exists: uncertain, with the ServerError as cause."""
    from imaginepro_async import ServerError

    sim.faults.add(kind=kind, endpoint=Endpoint.IMAGINE, times=1)
    async with client_for(sim) as client:
        with pytest.raises(SubmissionUncertainError) as caught:
            await client.imagine("boom", ref="boom")
    assert isinstance(caught.value.__cause__, ServerError)
    assert sim.stats().by_endpoint.get("imagine") == 1


async def test_wrong_key_and_empty_account_are_authentication_errors(sim: Simulator) -> None:
    """A wrong key and too few credits are both 401, told apart by insufficient_credits."""
    async with client_for(sim, api_key="sk-wrong") as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.imagine("x")
        assert not caught.value.insufficient_credits
    poor = sim.add_account(credits=3)
    async with client_for(sim, api_key=poor) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.imagine("x")
        assert caught.value.insufficient_credits
        assert "top up" in str(caught.value)


async def test_unknown_ids_are_not_found(client: ImagineProClient) -> None:
    """fetch of an unknown id is NotFoundError; awaiting a handle on one raises it too."""
    with pytest.raises(NotFoundError):
        await client.fetch("no-such-job")
    with pytest.raises(NotFoundError):
        await client.job("no-such-job-either").wait(timeout=10)


async def test_a_button_the_parent_lacks_is_refused_by_the_server(
    client: ImagineProClient,
) -> None:
    """Given only an id, the check is the server's: BadRequestError (a ValueError)."""
    grid = await (await client.imagine("a grid"))
    with pytest.raises(BadRequestError) as caught:
        await client.press(grid.message_id, Button.VARY_REGION, mask="aGVsbG8=")
    assert isinstance(caught.value, ValueError)
    assert caught.value.status == 400


async def test_bad_input_is_refused_before_anything_is_sent(
    sim: Simulator, client: ImagineProClient
) -> None:
    """Every bad argument raises a ValueError naming it, and no request reaches the server."""
    grid = await (await client.imagine("a grid"))
    up = await (await client.upscale(grid, 2))
    sim.reset_counters()
    mask = make_mask(*sim.image_size)
    bad_calls = [
        (client.imagine(""), "prompt is empty"),
        (client.imagine("   "), "prompt is empty"),
        (client.imagine(123), "prompt must be a string"),  # type: ignore[arg-type]
        (client.imagine("x", job_timeout=5), "job_timeout is the server-side job timeout"),
        (client.imagine("x", job_timeout=901), "10 to 900; got 901"),
        (client.imagine("x", webhook_override="ftp://x"), "http"),
        (client.upscale(grid, 0), "1, 2, 3 or 4"),
        (client.upscale(grid, 5), "1, 2, 3 or 4"),
        (client.upscale(grid, True), "1, 2, 3 or 4"),
        (client.upscale("", 1), "not a messageId"),
        (client.upscale("../etc/passwd", 1), "not a messageId"),
        (client.inpaint(grid, mask), "does not offer the button 'Vary (Region)'"),
        (client.press(up, "U1"), "does not offer"),
        (client.press(up, "Vary (Region)"), "needs a mask"),
        (client.inpaint(up, b"not an image"), "mask"),
        (client.inpaint(up, "data:image/png;base64,@@@"), "mask"),
        (client.inpaint(up, base64.b64encode(b"GIF89a" + b"\0" * 20).decode()), "mask"),
    ]
    for call, text in bad_calls:
        with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
            await call
    with pytest.raises(InvalidMaskError):
        await client.inpaint(up, b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(InvalidInputError):
        client.job("has spaces")
    assert sim.stats().requests == 0


async def test_unfinished_parent_is_refused(client: ImagineProClient) -> None:
    """Pressing a button on a Message that has not finished is refused locally."""
    job = await client.imagine("in a hurry")
    first = await client.fetch(job.message_id)
    assert not first.is_terminal
    with pytest.raises(InvalidInputError, match="finished job"):
        await client.upscale(first, 1)
    await job


def test_construction_refuses_unsafe_or_missing_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, a plain-http remote base_url, or a bad time_scale are refused at construction."""
    monkeypatch.delenv("IMAGINEPRO_API_KEY", raising=False)
    monkeypatch.delenv("IMAGINEPRO_BASE_URL", raising=False)
    with pytest.raises(InvalidInputError, match="IMAGINEPRO_API_KEY"):
        ImagineProClient()
    with pytest.raises(InvalidInputError, match="unencrypted"):
        ImagineProClient("sk-x", base_url="http://api.imaginepro.ai")
    with pytest.raises(InvalidInputError, match="time_scale"):
        ImagineProClient("sk-x", time_scale=0)
    for url in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://a.b"):
        ImagineProClient("sk-x", base_url=url)
    monkeypatch.setenv("IMAGINEPRO_API_KEY", "sk-from-env")
    monkeypatch.setenv("IMAGINEPRO_BASE_URL", "https://proxy.example.com/imaginepro")
    client = ImagineProClient()
    assert str(client.base_url) == "https://proxy.example.com/imaginepro/"
    assert "sk-from-env" not in repr(client)


async def test_submissions_wait_their_turn_and_a_cancelled_one_sends_nothing(
    sim: Simulator,
) -> None:
    """Submissions beyond the budget queue in order; cancelling a waiting one sends nothing."""
    async with client_for(sim) as client:
        order: list[str] = []

        async def submit(name: str) -> None:
            job = await client.imagine(name, ref=name)
            order.append(name)
            assert job.message_id

        async with anyio.create_task_group() as tg:
            for name in ("a", "b", "c"):
                tg.start_soon(submit, name)
                await anyio.lowlevel.checkpoint()
            with anyio.CancelScope() as scope:
                scope.cancel()
                await client.imagine("never sent", ref="never")
        assert order == ["a", "b", "c"]
    assert "never" not in sim.jobs_per_ref()


async def test_closing_the_client_wakes_waiters_and_it_cannot_reopen(sim: Simulator) -> None:
    """aclose() ends every wait with ClientClosedError; the client refuses further use."""
    client = client_for(sim, poll_limit=RateLimit(1, 1000.0))
    errors: list[BaseException] = []
    async with client:
        job = await client.imagine("left behind")

        async def wait() -> None:
            try:
                await job
            except ClientClosedError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.01)
            await client.aclose()
    assert len(errors) == 1 and job.message_id in str(errors[0])
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.imagine("again")
    with pytest.raises(ClientClosedError):
        async with client:
            pass


async def test_connection_refused_on_submission_is_retried_then_raised() -> None:
    """Nothing listening: the submission could not have been processed; resent, then raised."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ImagineProClient(
        "sk-x", base_url=f"http://127.0.0.1:{port}", time_scale=1000, seed=0
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.imagine("nobody home")
        assert not isinstance(caught.value, SubmissionUncertainError)


async def test_account_history_and_prompt_check(sim: Simulator, client: ImagineProClient) -> None:
    """The general read endpoints answer typed records."""
    job = await client.imagine("for the history")
    await job
    info = await client.account()
    assert info.credits is not None and info.credits < 1_000_000
    history = await client.history(size=5)
    assert any(entry.id == job.message_id for entry in history)
    assert (await client.check_prompt("a calm sea")).ok
    verdict = await client.check_prompt("some gore")
    assert not verdict.ok and verdict.message
    assert sim.stats().rate_limited == 0


async def test_a_job_whose_server_timeout_runs_out_fails(sim: Simulator) -> None:
    """The server-side timeout ends a long job FAIL."""
    async with (
        Simulator(time_scale=600, seed=3, duration=fixed_duration(60.0)) as slow,
        client_for(slow) as client,
    ):
        job = await client.imagine("too slow", job_timeout=10)
        with pytest.raises(JobFailedError, match=r"(?i)time"):
            await job


async def test_a_mask_of_another_aspect_ratio_is_refused_before_the_job_is_sent(
    sim: Simulator, client: ImagineProClient
) -> None:
    """The parent's size is read from its header; another aspect ratio is refused, naming both."""
    grid = await (await client.imagine("a grid"))
    up = await (await client.upscale(grid, 1))
    width, height = sim.image_size
    wrong = make_mask(width * 2, height)
    with pytest.raises(InvalidMaskError, match=rf"{width * 2}x{height}.*{width}x{height}"):
        await client.inpaint(up, wrong)
    assert sim.stats().by_endpoint.get("button") == 1  # only the U1 press
    stretched = await client.inpaint(up, wrong, resize_mask=True)
    assert (await stretched).status is Status.DONE


async def test_a_mask_of_the_image_aspect_ratio_is_accepted_at_any_resolution(
    sim: Simulator, client: ImagineProClient
) -> None:
    """A smaller or a larger mask of the image's aspect ratio is accepted and the job runs."""
    up = await (await client.upscale(await (await client.imagine("a grid")), 2))
    width, height = sim.image_size
    for mask in (make_mask(width // 4, height // 4), make_mask(width * 2, height * 2)):
        assert (await (await client.inpaint(up, mask))).status is Status.DONE


async def test_without_the_size_check_the_server_refuses_the_mask(
    sim: Simulator, client: ImagineProClient
) -> None:
    """check_size=False sends the mask; the simulator refuses a wrong size with 400."""
    up = await (await client.upscale(await (await client.imagine("a grid")), 3))
    with pytest.raises(BadRequestError, match=r"(?i)mask"):
        await client.inpaint(up, make_mask(64, 32), check_size=False)  # another aspect ratio


async def test_download_gives_the_result_image_for_a_preview(
    sim: Simulator, client: ImagineProClient
) -> None:
    """download() returns the image of a finished job; a Mask previews on it."""
    from imaginepro_async import Mask

    grid = await (await client.imagine("a grid"))
    tile = await client.download(grid, index=2)
    assert tile.startswith(b"\x89PNG")
    up = await (await client.upscale(grid, 2))
    image = await client.download(up)
    mask = Mask.rectangle(sim.image_size, (0.25, 0.25, 0.75, 0.75), relative=True)
    assert mask.preview(image).startswith(b"\x89PNG")
    with pytest.raises(InvalidInputError, match="out of range"):
        await client.download(grid, index=5)
    job = await client.imagine("unfinished")
    with pytest.raises(InvalidInputError, match="no image"):
        await client.download(await client.fetch(job.message_id))


async def test_a_prompt_check_whose_answer_is_lost_is_simply_retried(sim: Simulator) -> None:
    """prompt-check creates nothing: a dropped answer is retried, not reported as uncertain."""
    sim.faults.add(kind=FaultKind.DROP_AFTER, endpoint=Endpoint.PROMPT_CHECK, times=1)
    async with client_for(sim) as client:
        assert (await client.check_prompt("a calm sea")).ok
    assert sim.stats().by_endpoint.get("prompt_check") == 2


async def test_an_oversized_request_is_request_too_large_error() -> None:
    """A body over the server's cap is 413: RequestTooLargeError, a ValueError."""
    from imaginepro_async import RequestTooLargeError

    async with (
        Simulator(time_scale=600, seed=4, max_body_bytes=2000) as small,
        client_for(small) as client,
    ):
        with pytest.raises(RequestTooLargeError) as caught:
            await client.imagine("x" * 5000)
        assert isinstance(caught.value, ValueError)
        assert caught.value.status == 413


async def test_an_uncertain_inpaint_names_the_mask_without_printing_it(
    sim: Simulator, client: ImagineProClient
) -> None:
    """The uncertain-submission error shows the request but not the mask's base64."""
    up = await (await client.upscale(await (await client.imagine("a grid")), 4))
    sim.faults.add(kind=FaultKind.DROP_AFTER, endpoint=Endpoint.BUTTON, times=1)
    mask = make_mask(*sim.image_size)
    with pytest.raises(SubmissionUncertainError) as caught:
        await client.inpaint(up, mask, prompt="a boat", ref="uncertain-inpaint")
    text = str(caught.value)
    assert "characters of base64>" in text and "a boat" in text
    assert caught.value.payload["mask"][:40] not in text
    assert sim.jobs_per_ref() == {"uncertain-inpaint": 1}


async def test_transient_errors_do_not_add_up_to_a_failure(sim: Simulator) -> None:
    """Four 500s then one unreadable answer: the job is still followed to DONE."""
    sim.faults.add(kind=FaultKind.HTTP_500, endpoint=Endpoint.FETCH, times=4)
    sim.faults.add(kind=FaultKind.MALFORMED_JSON, endpoint=Endpoint.FETCH, times=1)
    async with client_for(sim) as client:
        assert (await (await client.imagine("steady"))).status is Status.DONE


async def test_leaving_as_completed_early_leaves_the_client_working(sim: Simulator) -> None:
    """Breaking out of as_completed does not disturb later jobs, nor closing the client."""
    async with client_for(sim) as client:
        jobs = [await client.imagine(f"early {n}") for n in range(3)]
        async for _ in as_completed(jobs):
            break
        later = await client.imagine("after the break")
        assert (await later).status is Status.DONE
        assert (await gather(*jobs))[0].status is Status.DONE
    async with client_for(sim) as client:
        pending = [await client.imagine("still running")]
        with pytest.raises(JobTimeoutError) as caught:
            async for _ in as_completed(pending, timeout=0.001):
                pass
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.pending == (pending[0].message_id,)
    # Closing after the timed-out iteration woke the job's waiters cleanly (no stray callback).
    with pytest.raises(ClientClosedError):
        pending[0].result()


async def test_gather_timeout_names_every_job_not_finished(client: ImagineProClient) -> None:
    """gather(..., timeout=) raises JobTimeoutError (a TimeoutError) listing the pending jobs."""
    jobs = [await client.imagine(f"slow {n}") for n in range(2)]
    with pytest.raises(JobTimeoutError) as caught:
        await gather(*jobs, timeout=0.001)
    assert isinstance(caught.value, TimeoutError)
    assert set(caught.value.pending) == {job.message_id for job in jobs}
    assert "2 of 2 jobs" in str(caught.value)
    assert [m.status for m in await gather(*jobs, timeout=30)] == [Status.DONE] * 2


async def test_as_completed_past_its_timeout_still_yields_jobs_that_ended() -> None:
    """A slow consumer outlasting the timeout gets the jobs that ended meanwhile (no timeout, no
    crash); a job still running then raises JobTimeoutError naming it alone."""
    durations = iter([30.0, 30.0])  # then a job of ten hours

    def draw(_: object) -> float:
        return next(durations, 36_000.0)

    async with (
        Simulator(time_scale=SCALE, seed=1, concurrency=3, duration=draw) as sim,
        client_for(sim) as client,
    ):

        async def slowly(jobs: list[Job]) -> list[str]:
            seen = []
            async for job in as_completed(jobs, timeout=0.01):
                await anyio.sleep(0.03)  # past the deadline while holding the first
                seen.append(job.message_id)
            return seen

        ended = [await client.imagine(f"ended {n}") for n in range(2)]
        await gather(*ended)
        assert sorted(await slowly(ended)) == sorted(job.message_id for job in ended)
        running = await client.imagine("still running")
        with pytest.raises(JobTimeoutError) as caught:
            await slowly([*ended, running])
        assert caught.value.pending == (running.message_id,)
        assert "1 of 3 jobs" in str(caught.value)


async def test_a_job_call_is_a_coroutine_for_tasks_and_task_groups(
    sim: Simulator, client: ImagineProClient
) -> None:
    """asyncio.create_task and a task group's start_soon take a job-creating call as it is."""
    task = asyncio.create_task(client.imagine("in a task"))
    job = await task
    assert isinstance(job, Job)
    assert (await job).status is Status.DONE
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(client.imagine, "in a task group")
    assert sim.stats().by_endpoint["imagine"] == 2
    call = client.imagine("awaited once")
    assert isinstance(await call, Job)
    with pytest.raises(RuntimeError, match="cannot reuse"):
        await call


async def test_a_job_timing_out_in_the_queue_is_seen_at_its_deadline() -> None:
    """A parked queued job whose server timeout passes is looked at then, not when its turn comes."""
    async with (
        Simulator(time_scale=100, seed=6, concurrency=1, duration=fixed_duration(60.0)) as sim,
        # Told the account runs 3 at once, the client does not hold the doomed submission.
        client_for(sim, account_concurrency=3) as client,
    ):
        running = await client.imagine("first, runs 60 s")
        waiting = await client.imagine("second, waits")
        doomed = await client.imagine("third, gives up after 10 s", job_timeout=10)
        with pytest.raises(JobFailedError, match=r"(?i)time"):
            await doomed
        assert sim.job(running.message_id).finished is None  # seen long before its turn
        await gather(running, waiting)
