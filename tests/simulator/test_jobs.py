"""The job engine over HTTP: status machine, queue, buttons, cancel, credits, failures, time."""

from __future__ import annotations

import aiohttp
import anyio
import pytest

from imaginepro_async.testing import Simulator, fixed_duration, uniform_duration

from .conftest import ACCOUNT_INFO, BUTTON, FROZEN, IMAGINE, Api, mask_b64, text

pytestmark = pytest.mark.anyio

GRID = ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
UPSCALED = [
    "Upscale (Subtle)", "Upscale (Creative)", "Vary (Subtle)", "Vary (Strong)", "Vary (Region)",
    "Zoom Out 2x", "Zoom Out 1.5x", "⬅️", "➡️", "⬆️", "⬇️",
]  # fmt: skip


def fresh(**options: object) -> Simulator:
    """A simulator with a nearly frozen clock (moved by advance), no rate limits, 100 s jobs."""
    settings: dict[str, object] = {
        "time_scale": FROZEN,
        "seed": 3,
        "duration": fixed_duration(100.0),
        "general_rate_limit": None,
        "progress_rate_limit": None,
    }
    settings.update(options)
    return Simulator(**settings)  # type: ignore[arg-type]


async def test_status_machine_and_linear_progress() -> None:
    """QUEUED while waiting, PROCESSING with progress rising linearly from 0, then DONE at 100."""
    async with fresh(concurrency=1) as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        first = await api.imagine()
        second = await api.imagine()
        running = await api.fetch(first)
        assert (running["status"], running["progress"]) == ("PROCESSING", 0)
        queued = await api.fetch(second)
        assert (queued["status"], queued["progress"]) == ("QUEUED", 0)
        assert queued["updatedAt"] == queued["createdAt"]
        sim.advance(25)
        assert 25 <= (await api.fetch(first))["progress"] <= 27
        sim.advance(50)
        halfway = await api.fetch(first)
        assert 75 <= halfway["progress"] <= 77
        assert halfway["buttons"] == []
        sim.advance(30)
        done = await api.fetch(first)
        assert (done["status"], done["progress"]) == ("DONE", 100)
        started = await api.fetch(second)
        assert started["status"] == "PROCESSING"
        assert started["progress"] <= 7


async def test_progress_never_reaches_100_before_done() -> None:
    """Just before the end a PROCESSING job shows 99, never 100."""
    async with fresh() as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        message_id = await api.imagine()
        sim.advance(99.95)
        message = await api.fetch(message_id)
        if message["status"] == "PROCESSING":
            assert message["progress"] == 99


async def test_fifo_queue_respects_the_concurrency_limit() -> None:
    """With concurrency 3, jobs 4 and 5 wait and start in order as the first ones end."""
    async with fresh() as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        ids = []
        for n in range(5):
            ids.append(await api.imagine(f"job {n}"))
            sim.advance(10)
        statuses = [(await api.fetch(i))["status"] for i in ids]
        assert statuses == ["PROCESSING"] * 3 + ["QUEUED"] * 2
        sim.advance(1000)
        timelines = [sim.job(i) for i in ids]
        assert all(t.status == "DONE" for t in timelines)
        first, second, _, fourth, fifth = timelines
        assert first.started == first.created
        assert fourth.started == first.finished
        assert fifth.started == second.finished
        for t in timelines:
            assert t.finished is not None
            assert t.started is not None
            assert t.finished - t.started == pytest.approx(100.0)


async def test_each_account_has_its_own_queue() -> None:
    """A full queue on one key does not delay another key's jobs; add_account sets the limit."""
    async with fresh(concurrency=1) as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        other = sim.add_account(credits=100, concurrency=2)
        await api.imagine()
        assert (await api.fetch(await api.imagine()))["status"] == "QUEUED"
        status, body = await api.post(IMAGINE, {"prompt": "x"}, key=other)
        status2, body2 = await api.post(IMAGINE, {"prompt": "y"}, key=other)
        assert status == status2 == 200
        for created in (body, body2):
            message = await api.fetch(created["messageId"], key=other)
            assert message["status"] == "PROCESSING"


async def test_set_concurrency_starts_queued_jobs() -> None:
    """Raising an account's limit starts waiting jobs at once."""
    async with fresh(concurrency=1) as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        await api.imagine()
        waiting = await api.imagine()
        sim.set_concurrency(None, 2)
        assert (await api.fetch(waiting))["status"] == "PROCESSING"


async def test_button_jobs_get_new_ids_and_the_parent_id(api: Api) -> None:
    """U1 creates a new job whose Message names its parent and offers the upscale set."""
    grid = await api.imagine("a lighthouse")
    await api.done(grid)
    upscale_id = await api.press(grid, "U1")
    assert upscale_id != grid
    upscale = await api.done(upscale_id)
    assert upscale["originatingMessageId"] == grid
    assert upscale["buttons"] == UPSCALED
    assert upscale["prompt"] == "a lighthouse"
    assert upscale["uri"] == upscale["images"][0]
    assert len(upscale["images"]) == 1


@pytest.mark.parametrize("button", ["V1", "V4", "🔄"])
async def test_grid_buttons_produce_grids(api: Api, button: str) -> None:
    """Variations and reroll on a grid produce another grid."""
    grid = await api.imagine()
    await api.done(grid)
    message = await api.done(await api.press(grid, button))
    assert message["buttons"] == GRID
    assert len(message["images"]) == 4


@pytest.mark.parametrize(
    ("button", "expected"),
    [
        ("Vary (Strong)", GRID),
        ("Zoom Out 2x", GRID),
        ("⬅️", GRID),
        ("Upscale (Subtle)", ["Vary (Subtle)", "Vary (Strong)", "Zoom Out 2x", "Zoom Out 1.5x",
                              "⬅️", "➡️", "⬆️", "⬇️"]),
    ],
)  # fmt: skip
async def test_upscale_buttons_produce_their_results(
    api: Api, button: str, expected: list[str]
) -> None:
    """Buttons of an upscale produce a grid, or a second upscale without Vary (Region)."""
    upscale = await api.upscaled()
    message = await api.done(await api.press(upscale, button))
    assert message["buttons"] == expected
    assert message["originatingMessageId"] == upscale


async def test_vary_region_with_a_mask_makes_a_new_grid(api: Api) -> None:
    """Vary (Region) with a valid mask and a prompt creates a grid job using that prompt."""
    upscale = await api.upscaled()
    new = await api.press(upscale, "Vary (Region)", mask=mask_b64(), prompt="a cat in the window")
    message = await api.done(new)
    assert message["status"] == "DONE"
    assert message["buttons"] == GRID
    assert message["prompt"] == "a cat in the window"
    assert message["originatingMessageId"] == upscale


async def test_buttons_need_a_done_parent(api: Api) -> None:
    """Pressing a button on a running job answers 400 saying the parent is not DONE."""
    running = await api.imagine()
    status, body = await api.post(BUTTON, {"messageId": running, "button": "U1"})
    assert status == 400
    assert "PROCESSING" in text(body)


async def test_button_must_be_offered_exactly(api: Api) -> None:
    """A known button the parent does not offer (or a case variant) is 400 listing the offer."""
    grid = await api.imagine()
    await api.done(grid)
    status, body = await api.post(BUTTON, {"messageId": grid, "button": "Vary (Region)"})
    assert status == 400
    assert "not offered" in text(body)
    assert "U1" in text(body)
    status, body = await api.post(BUTTON, {"messageId": grid, "button": "u1"})
    assert status == 400
    assert "Unknown button" in text(body)


async def test_button_on_unknown_message_is_404(api: Api) -> None:
    """A button on an unknown messageId answers 404."""
    status, body = await api.post(BUTTON, {"messageId": "nope", "button": "U1"})
    assert status == 404
    assert "nope" in text(body)


async def test_cancel_job_ends_a_running_job_as_cancelled(api: Api) -> None:
    """Cancel Job on a PROCESSING job answers the target's id, ends it FAIL, and is free."""
    target = await api.imagine()
    before = api.sim.credits()
    cancelled_id = await api.press(target, "Cancel Job")
    assert cancelled_id == target
    message = await api.fetch(target)
    assert message["status"] == "FAIL"
    assert "cancel" in message["error"].lower()
    assert message["buttons"] == []
    assert api.sim.credits() == before
    assert len(api.sim.jobs()) == 1


async def test_cancel_job_on_a_queued_job_frees_the_queue() -> None:
    """Cancelling a running job starts the next queued one; a cancelled queued job never runs."""
    async with fresh(concurrency=1) as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        first, second, third = [await api.imagine() for _ in range(3)]
        await api.press(second, "Cancel Job")
        await api.press(first, "Cancel Job")
        assert (await api.fetch(third))["status"] == "PROCESSING"
        assert sim.job(second).started is None
        assert sim.job(second).status == "FAIL"


async def test_cancel_job_refused_on_finished_jobs(api: Api) -> None:
    """Cancel Job on a DONE job is 400; Cancel Job is never listed in buttons."""
    target = await api.imagine()
    message = await api.done(target)
    assert "Cancel Job" not in message["buttons"]
    status, body = await api.post(BUTTON, {"messageId": target, "button": "Cancel Job"})
    assert status == 400
    assert "DONE" in text(body)


async def test_buttons_on_a_failed_message_are_refused(api: Api) -> None:
    """A FAIL message offers no buttons; pressing one is 400."""
    target = await api.imagine()
    await api.press(target, "Cancel Job")
    status, body = await api.post(BUTTON, {"messageId": target, "button": "U1"})
    assert status == 400
    assert "FAIL" in text(body)


async def test_credits_are_charged_per_job() -> None:
    """imagine costs 10 and a button 5; a key that cannot pay gets 401 mentioning credits."""
    async with fresh(credits=25) as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        grid = await api.imagine()
        await api.done(grid)
        await api.press(grid, "U2")
        assert sim.credits() == 10
        await api.imagine()
        assert sim.credits() == 0
        status, body = await api.post(IMAGINE, {"prompt": "one more"})
        assert status == 401
        assert "credits" in text(body)
        status, body = await api.post(BUTTON, {"messageId": grid, "button": "U3"})
        assert status == 401
        assert "credits" in text(body)
        assert len(sim.jobs()) == 3
        assert sim.credits_spent()[sim.api_key] == 25
        _, info = await api.get(ACCOUNT_INFO)
        assert info["credits"] == 0
        sim.set_credits(None, 10)
        assert (await api.post(IMAGINE, {"prompt": "topped up"}))[0] == 200


async def test_job_timeout_fails_a_slow_job() -> None:
    """A job whose timeout passes before it ends is FAIL with a timeout error."""
    async with fresh() as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        message = await api.done(await api.imagine(timeout=30))
        assert message["status"] == "FAIL"
        assert "timed out" in message["error"]
        timeline = sim.job(message["messageId"])
        assert timeline.finished is not None
        assert timeline.finished - timeline.created == pytest.approx(30.0)


async def test_queue_time_counts_toward_the_timeout() -> None:
    """A job still QUEUED when its timeout passes ends FAIL without ever starting."""
    async with fresh(concurrency=1) as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        await api.imagine()
        waiting = await api.imagine(timeout=50)
        sim.advance(60)
        message = await api.fetch(waiting)
        assert message["status"] == "FAIL"
        assert "timed out" in message["error"]
        assert sim.job(waiting).started is None


async def test_failure_rate_fails_jobs_part_way() -> None:
    """failure_rate=1 makes every job end FAIL with an error, keeping its last progress."""
    async with fresh(failure_rate=1.0) as sim, aiohttp.ClientSession() as session:
        api = Api(sim, session)
        message = await api.done(await api.imagine())
        assert message["status"] == "FAIL"
        assert message["error"]
        assert 0 < message["progress"] < 100
        assert message["buttons"] == []
        assert "uri" not in message
        assert sim.credits_spent()[sim.api_key] == 10


async def test_refund_failed_jobs_gives_credits_back() -> None:
    """With refund_failed_jobs a FAIL job's credits return to the balance."""
    async with (
        fresh(failure_rate=1.0, refund_failed_jobs=True, credits=100) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        await api.done(await api.imagine())
        assert sim.credits() == 100
        assert sim.credits_spent()[sim.api_key] == 0


async def test_moderated_words_fail_the_job_at_once(api: Api) -> None:
    """A prompt Midjourney's moderator refuses creates a charged job that is FAIL at once, saying
    why (contract: DEFAULT_MODERATED_WORDS, MODERATED_ERROR)."""
    before = api.sim.credits()
    message = await api.fetch(await api.imagine("some GORE here"))
    assert message["status"] == "FAIL"
    assert "gore" in message["error"].lower()
    assert "moderator" in message["error"]
    assert api.sim.credits() == before - 10


async def test_custom_banned_and_moderated_words() -> None:
    """banned_words and moderated_words replace their lists."""
    async with (
        fresh(banned_words=["pineapple"], moderated_words=["anchovy"]) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        assert (await api.fetch(await api.imagine("nsfw gore")))["status"] == "PROCESSING"
        status, _ = await api.post(IMAGINE, {"prompt": "Pineapple pizza"})
        assert status == 400
        assert (await api.fetch(await api.imagine("Anchovy pizza")))["status"] == "FAIL"


async def test_time_scale_runs_jobs_faster_in_real_time() -> None:
    """At time_scale=1000 a 60-second job ends within a fraction of a second of real time."""
    async with (
        Simulator(time_scale=1000.0, duration=fixed_duration(60.0)) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Api(sim, session)
        message_id = await api.imagine()
        with anyio.fail_after(30):
            message = await api.fetch(message_id)
            while message["status"] != "DONE":
                await anyio.sleep(0.02)
                message = await api.fetch(message_id)
        timeline = sim.job(message_id)
        assert timeline.finished is not None
        assert timeline.finished - timeline.created == pytest.approx(60.0)
        assert sim.now() >= 60.0


async def test_created_at_runs_on_the_simulated_clock(api: Api) -> None:
    """createdAt of jobs made 3600 simulated seconds apart differ by one hour."""
    first = await api.fetch(await api.imagine())
    api.sim.advance(3600)
    second = await api.fetch(await api.imagine())
    assert first["createdAt"][11:13] != second["createdAt"][11:13] or (
        first["createdAt"][:10] != second["createdAt"][:10]
    )


async def test_the_same_seed_gives_the_same_world() -> None:
    """Two simulators with one seed create the same keys, ids and (varied) durations."""
    worlds = []
    for _ in range(2):
        async with (
            Simulator(seed=42, duration=uniform_duration(30, 90), general_rate_limit=None) as sim,
            aiohttp.ClientSession() as session,
        ):
            api = Api(sim, session)
            ids = [await api.imagine(), await api.imagine(), await api.imagine()]
            sim.advance(1000)
            durations = []
            for message_id in ids:
                timeline = sim.job(message_id)
                assert timeline.finished is not None
                assert timeline.started is not None
                durations.append(round(timeline.finished - timeline.started, 6))
            worlds.append((sim.api_key, ids, durations))
    assert worlds[0] == worlds[1]
    assert len(set(worlds[0][2])) == 3
    assert all(30 <= d <= 90 for d in worlds[0][2])
