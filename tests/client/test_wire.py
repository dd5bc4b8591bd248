"""The client against a small purpose-built server that misbehaves in ways the simulator does not."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from aiohttp import web

from imaginepro_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ImagineProClient,
    PollPolicy,
    RateLimit,
    RateLimitError,
    ResponseValidationError,
    RetryPolicy,
    Status,
    SubmissionUncertainError,
)

pytestmark = pytest.mark.anyio
KEY = "sk-wire-test-secret-key-0123456789"
CALLS = web.AppKey("calls", list[web.Request])
FAST: dict[str, Any] = {
    "create_limit": RateLimit(100, 0.01),
    "poll_limit": RateLimit(100, 0.01),
    "poll_policy": PollPolicy(
        first_poll=0.01, probe_interval=0.01, queued_interval=0.01, retry_base=0.001
    ),
    "retry": RetryPolicy(attempts=3, base=0.001, cap=0.01),
    "request_timeout": 5.0,
}


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def scripted(answers: list[Callable[[web.Request], web.StreamResponse]]) -> web.Application:
    """An app whose fetch endpoint gives ``answers`` in turn (the last one repeats)."""
    calls: list[web.Request] = []

    async def fetch(request: web.Request) -> web.StreamResponse:
        calls.append(request)
        return answers[min(len(calls), len(answers)) - 1](request)

    app = web.Application()
    app.router.add_get("/api/v1/message/fetch/{id}", fetch)
    app[CALLS] = calls
    return app


def message(status: str, progress: Any = 0, **extra: Any) -> Callable[[web.Request], web.Response]:
    """An answer with a Message of ``status``."""

    def answer(request: web.Request) -> web.Response:
        body = {"messageId": request.match_info["id"], "status": status, "progress": progress}
        return web.json_response({**body, **extra})

    return answer


async def test_unknown_status_and_string_progress_are_followed_to_the_end() -> None:
    """SUBMITTED is not terminal, "45" is progress 45, and the job resolves at DONE."""
    app = scripted(
        [message("SUBMITTED"), message("PROCESSING", "45"), message("DONE", "100", buttons=["U1"])]
    )
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        job = client.job("abc")
        seen = [(m.status.value, m.progress) async for m in job.updates()]
        assert seen == [("SUBMITTED", 0), ("PROCESSING", 45), ("DONE", 100)]
        assert (await job).status is Status.DONE


async def test_non_json_answer_is_a_response_validation_error() -> None:
    """A 200 that is not JSON raises ResponseValidationError with the raw body, after retries."""
    app = scripted([lambda _: web.Response(text="<html>oops</html>")])
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(ResponseValidationError, match="not JSON") as caught:
            await client.fetch("abc")
        assert b"oops" in caught.value.body
        assert len(app[CALLS]) == 3


async def test_wrong_types_are_a_response_validation_error_not_a_key_error() -> None:
    """A Message with a missing id and a list for a status is refused with a readable error."""
    app = scripted([lambda _: web.json_response({"status": ["DONE"]})])
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(ResponseValidationError, match="not a valid Message"):
            await client.fetch("abc")


async def test_persistently_unreadable_answers_fail_the_job_instead_of_hanging() -> None:
    """A job whose every poll is unreadable ends with ResponseValidationError."""
    app = scripted([lambda _: web.Response(text="{broken")])
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(ResponseValidationError):
            await client.job("abc").wait(timeout=10)
        assert len(app[CALLS]) == PollPolicy().max_invalid


async def test_an_answer_for_another_job_is_refused() -> None:
    """A Message whose messageId is not the one asked for is not taken for the job."""
    app = scripted([lambda _: web.json_response({"messageId": "other", "status": "DONE"})])
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(ResponseValidationError, match="answer is about other"):
            await client.job("abc").wait(timeout=10)


async def test_oversized_answer_is_refused() -> None:
    """An answer over max_response_bytes is refused, streamed or announced."""
    huge = "x" * 5000
    app = scripted([message("DONE", prompt=huge)])
    async with (
        serve(app) as url,
        ImagineProClient(KEY, base_url=url, max_response_bytes=1000, **FAST) as client,
    ):
        with pytest.raises(ResponseValidationError, match="1000-byte cap"):
            await client.fetch("abc")


async def test_connection_refused_is_an_api_connection_error() -> None:
    """A port with nothing listening raises APIConnectionError naming the address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ImagineProClient(KEY, base_url=f"http://127.0.0.1:{port}", **FAST) as client:
        with pytest.raises(APIConnectionError, match=f"127.0.0.1:{port}"):
            await client.fetch("abc")


async def test_slow_answer_is_an_api_timeout_error() -> None:
    """An answer slower than request_timeout raises APITimeoutError, also a TimeoutError."""

    release = anyio.Event()

    async def slow(_: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/api/v1/message/fetch/{id}", slow)
    settings = {**FAST, "request_timeout": 0.2, "retry": RetryPolicy(attempts=1)}
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **settings) as client:
        with pytest.raises(APITimeoutError) as caught:
            await client.fetch("abc")
        release.set()
        assert isinstance(caught.value, TimeoutError)


async def test_error_message_lists_are_joined_and_the_key_never_shows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A NestJS list of messages is joined; the key is in no error, repr or log line."""
    body = {
        "message": ["key is invalid", "try another"],
        "error": "Unauthorized",
        "statusCode": 401,
    }
    app = scripted([lambda _: web.json_response(body, status=401)])
    caplog.set_level(logging.DEBUG, logger="imaginepro_async")
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.fetch("abc")
        assert caught.value.message == "key is invalid; try another"
        assert not caught.value.insufficient_credits
        assert "IMAGINEPRO_API_KEY" in str(caught.value)
        for text in (str(caught.value), repr(caught.value), repr(client), caplog.text):
            assert KEY not in text
        assert app[CALLS][0].headers["Authorization"] == f"Bearer {KEY}"


async def test_retry_after_on_429_is_honoured_for_reads() -> None:
    """A 429 with Retry-After pauses the budget, then the read goes through."""
    app = scripted(
        [
            lambda _: web.json_response(
                {"message": "slow down", "statusCode": 429},
                status=429,
                headers={"Retry-After": "1"},
            ),
            message("DONE"),
        ]
    )
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, time_scale=10, **FAST) as c:
        started = anyio.current_time()
        assert (await c.fetch("abc")).status is Status.DONE
        assert anyio.current_time() - started >= 0.1  # 1 s of Retry-After at time_scale 10
        assert len(app[CALLS]) == 2


async def test_post_body_is_exactly_what_the_contract_says() -> None:
    """imagine sends camelCase JSON with only the fields given, and the bearer key."""
    seen: list[dict[str, Any]] = []

    async def imagine(request: web.Request) -> web.Response:
        seen.append(json.loads(await request.read()))
        return web.json_response({"success": True, "messageId": "m1", "createdAt": None})

    app = scripted([message("DONE")])
    app.router.add_post("/api/v1/nova/imagine", imagine)
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        job = await client.imagine("a cat", ref="r1", webhook_override="https://example.com/hook")
        assert job.message_id == "m1"
        assert seen == [
            {"prompt": "a cat", "ref": "r1", "webhookOverride": "https://example.com/hook"}
        ]


async def test_downloads_never_send_the_key_to_another_host() -> None:
    """A CDN on another origin gets no Authorization header; non-images and huge files are refused."""
    headers: list[dict[str, str]] = []

    async def image(request: web.Request) -> web.Response:
        headers.append(dict(request.headers))
        kind = request.match_info["kind"]
        if kind == "html":
            return web.Response(text="<html></html>", content_type="text/html")
        body = b"\x89PNG\r\n\x1a\n" + b"\0" * (5000 if kind == "big" else 10)
        return web.Response(body=body, content_type="image/png")

    cdn = web.Application()
    cdn.router.add_get("/{kind}.png", image)
    async with (
        serve(cdn) as cdn_url,
        serve(scripted([message("DONE")])) as url,
        ImagineProClient(KEY, base_url=url, **FAST) as client,
    ):
        assert (await client.download(f"{cdn_url}/small.png")).startswith(b"\x89PNG")
        assert "Authorization" not in headers[0]
        with pytest.raises(ResponseValidationError, match="expected an image"):
            await client.download(f"{cdn_url}/html.png")
        with pytest.raises(ResponseValidationError, match="cap"):
            await client.download(f"{cdn_url}/big.png", max_bytes=1000)


async def test_a_limit_that_never_lifts_ends_in_rate_limit_error() -> None:
    """A server that answers 429 every time: after the retries, RateLimitError with retry_after."""
    app = scripted(
        [
            lambda _: web.json_response(
                {"message": "Too Many Requests", "statusCode": 429},
                status=429,
                headers={"Retry-After": "2"},
            )
        ]
    )
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, time_scale=1000, **FAST) as c:
        with pytest.raises(RateLimitError) as caught:
            await c.fetch("abc")
        assert caught.value.retry_after == pytest.approx(0.002)
        assert caught.value.status == 429
        assert len(app[CALLS]) == 3


@pytest.mark.parametrize(
    "answer",
    [
        {"success": True},
        {"success": True, "messageId": 42},
        {"success": True, "messageId": None},
        {"success": True, "messageId": "a/b"},
        ["not", "an", "object"],
    ],
)
async def test_an_accepted_submission_without_a_usable_id_is_uncertain(
    answer: dict[str, Any],
) -> None:
    """A 2xx without a usable messageId means the job may exist: uncertain, and sent once."""
    posts: list[web.Request] = []

    async def imagine(request: web.Request) -> web.Response:
        posts.append(request)
        return web.json_response(answer)

    app = scripted([message("DONE")])
    app.router.add_post("/api/v1/nova/imagine", imagine)
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(SubmissionUncertainError):
            await client.imagine("a cat")
    assert len(posts) == 1


async def test_a_refusal_with_success_false_is_an_api_status_error() -> None:
    """success: false is the server saying no: an APIStatusError carrying its reason."""

    async def imagine(_: web.Request) -> web.Response:
        return web.json_response({"success": False, "error": "queue is full"})

    app = scripted([message("DONE")])
    app.router.add_post("/api/v1/nova/imagine", imagine)
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(APIStatusError, match="queue is full"):
            await client.imagine("a cat")


async def test_each_submission_goes_over_a_fresh_connection() -> None:
    """Job-creating POSTs never reuse a pooled connection; reads do."""
    peers: dict[str, list[object]] = {"POST": [], "GET": []}

    async def imagine(request: web.Request) -> web.Response:
        peers["POST"].append(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        return web.json_response({"success": True, "messageId": f"m{len(peers['POST'])}"})

    async def fetch(request: web.Request) -> web.Response:
        peers["GET"].append(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        return web.json_response({"messageId": request.match_info["id"], "status": "DONE"})

    app = web.Application()
    app.router.add_post("/api/v1/nova/imagine", imagine)
    app.router.add_get("/api/v1/message/fetch/{id}", fetch)
    # The scheduler follows the three new jobs in the background; with FAST's 0.01 s first poll
    # those polls could run beside the test's own fetches and open a second pooled connection
    # (the test failed about 1 run in 3 under load). Their first look is put beyond the test, so
    # the only GETs are the three sequential fetches below.
    quiet = {**FAST, "poll_policy": PollPolicy(first_poll=3600.0, start_probe=3600.0)}
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **quiet) as client:
        for n in range(3):
            await client.imagine(f"cat {n}")
        for _ in range(3):
            await client.fetch("m1")
    assert len(set(map(str, peers["POST"]))) == 3
    assert len(set(map(str, peers["GET"]))) == 1


async def test_blend_falls_back_to_the_documented_path_on_a_404() -> None:
    """A 404 on the assumed nova blend path sends the same body once to the legacy path; one job.

    Enqueued, the submission's last step before sending runs once, not again for the fallback.
    """
    posts: list[tuple[str, dict[str, Any]]] = []

    async def nova(request: web.Request) -> web.Response:
        posts.append((request.path, json.loads(await request.read())))
        return web.json_response({"message": "Cannot POST", "statusCode": 404}, status=404)

    async def legacy(request: web.Request) -> web.Response:
        posts.append((request.path, json.loads(await request.read())))
        return web.json_response({"success": True, "messageId": f"b{len(posts)}"})

    app = scripted([message("DONE")])
    app.router.add_post("/api/v1/nova/blend", nova)
    app.router.add_post("/api/v1/midjourney/blend", legacy)
    urls = ["https://example.com/a.png", "https://example.com/b.png"]
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        job = await client.blend(urls, ref="mix")
        assert (await job).status is Status.DONE
        body = {"urls": urls, "ref": "mix"}
        assert posts == [("/api/v1/nova/blend", body), ("/api/v1/midjourney/blend", body)]
        assert job.message_id == "b2"
        posts.clear()
        submission = await client.enqueue(client.blend(urls))
        assert (await submission).status is Status.DONE
        assert [path for path, _ in posts] == ["/api/v1/nova/blend", "/api/v1/midjourney/blend"]
        assert submission.message_id == "b2"
