"""The client against a hostile server: odd cases and types, echoed keys, redirects, long waits."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from aiohttp import web

from imaginepro_async import (
    APIStatusError,
    ImagineProClient,
    ImagineProError,
    RateLimitError,
    RedirectError,
    RequestRefusedError,
    ResponseValidationError,
    ServerError,
    Status,
    SubmissionUncertainError,
)
from imaginepro_async._wire.exchange import parse_retry_after

from .test_wire import CALLS, FAST, KEY, message, scripted, serve

pytestmark = pytest.mark.anyio

Handler = Callable[[web.Request], web.Response]


def app_with(method: str, path: str, handler: Handler) -> web.Application:
    """The scripted fetch app (always DONE) plus ``handler`` at ``method path``, calls counted."""
    app = scripted([message("DONE")])

    async def counted(request: web.Request) -> web.Response:
        app[CALLS].append(request)
        return handler(request)

    app.router.add_route(method, path, counted)
    return app


def echo_headers(status: int) -> Handler:
    """A gateway debug page quoting the request's headers back (the key among them)."""

    def answer(request: web.Request) -> web.Response:
        lines = "\n".join(f"{name}: {value}" for name, value in request.headers.items())
        return web.Response(text=f"<pre>upstream failed\n{lines}</pre>", status=status)

    return answer


def too_many(retry_after: str) -> Handler:
    """A 429 with the given Retry-After header."""
    return lambda _: web.json_response(
        {"message": "Too Many Requests"}, status=429, headers={"Retry-After": retry_after}
    )


def http_date(offset: float) -> str:
    """An HTTP date ``offset`` seconds from now."""
    return email.utils.formatdate(time.time() + offset, usegmt=True)


async def test_statuses_in_another_case_are_known_and_end_the_job() -> None:
    """ "processing" and "done" are PROCESSING and DONE: the job ends instead of being polled forever."""
    app = scripted([message("processing", 50), message("done", 100)])
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        done = await client.job("abc").wait(timeout=10)
    assert done.status is Status.DONE and done.status.is_known


async def test_odd_timestamps_are_read_or_dropped_never_fatal() -> None:
    """An RFC 1123 updatedAt is read; an unreadable createdAt is None; the job still finishes."""
    app = scripted(
        [message("DONE", updatedAt="Tue, 01 Aug 2023 14:03:01 GMT", createdAt="yesterday-ish")]
    )
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        done = await client.job("abc").wait(timeout=10)
    assert (
        done.updated_at is not None and done.updated_at.isoformat() == "2023-08-01T14:03:01+00:00"
    )
    assert done.created_at is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2023-08-01T14:03:01.817Z", 1690898581.817),
        ("2023-08-01T14:03:01", 1690898581),
        ("2023-08-01T16:03:01+02:00", 1690898581),
        ("Tue, 01 Aug 2023 14:03:01 GMT", 1690898581),
        (1690898581, 1690898581),
        (1690898581817, 1690898581.817),
        ("1690898581", 1690898581),
        ("not a date", None),
        (True, None),
        (1e300, None),
    ],
)
async def test_timestamps_in_every_format(text: object, seconds: float | None) -> None:
    """ISO 8601 (Z, offset, fraction or none), RFC 1123, epoch s/ms; anything else is None."""
    app = scripted([message("DONE", updatedAt=text)])
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        done = await client.fetch("abc")
    if seconds is None:
        assert done.updated_at is None
    else:
        assert done.updated_at is not None
        assert done.updated_at.timestamp() == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("GET", "/api/v1/subscription/account-info", lambda c: c.account()),
        ("GET", "/api/v1/nova/images", lambda c: c.history()),
        ("POST", "/api/v1/nova/prompt-check", lambda c: c.check_prompt("a cat")),
    ],
)
async def test_success_false_on_a_read_is_a_typed_refusal(
    method: str, path: str, call: Callable[[ImagineProClient], Any]
) -> None:
    """A 200 {"success": false, "error": ...} to a read raises RequestRefusedError with the reason."""
    app = app_with(
        method, path, lambda _: web.json_response({"success": False, "error": "plan expired"})
    )
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(RequestRefusedError, match="plan expired") as caught:
            await call(client)
    assert caught.value.status == 200
    assert len(app[CALLS]) == 1  # a refusal is not retried


@pytest.mark.parametrize("success", ["false", "FALSE", False])
async def test_a_submission_refused_with_success_false_as_text_is_a_refusal(
    success: object,
) -> None:
    """success "false" (a string) on imagine is a refusal, not an uncertain submission; sent once."""
    app = app_with(
        "POST",
        "/api/v1/nova/imagine",
        lambda _: web.json_response({"success": success, "error": "queue is full"}),
    )
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(RequestRefusedError, match="queue is full"):
            await client.imagine("a cat")
    assert len(app[CALLS]) == 1


def assert_no_key(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the key nor any bearer token is in the error, its cause, its body, or the logs."""
    texts = [caplog.text]
    while error is not None:
        texts += [str(error), repr(error), repr(getattr(error, "body", ""))]
        texts += [json.dumps(getattr(error, "payload", {}))]
        error = error.__cause__  # type: ignore[assignment]
    for text in texts:
        assert KEY not in text
        assert "Bearer sk" not in text
        assert "bearer sk" not in text.lower()


@pytest.mark.parametrize("status", [502, 200, 400])
async def test_a_debug_page_echoing_the_key_does_not_put_it_in_the_error(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A page quoting the request headers (5xx, 4xx or a non-JSON 200): the key is blotted out."""
    caplog.set_level(logging.DEBUG, logger="imaginepro_async")
    app = app_with("GET", "/api/v1/subscription/account-info", echo_headers(status))
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises((APIStatusError, ResponseValidationError)) as caught:
            await client.account()
    assert "upstream failed" in str(caught.value)  # the server's text is still shown
    assert_no_key(caught.value, caplog)


async def test_an_uncertain_submission_quotes_no_key(caplog: pytest.LogCaptureFixture) -> None:
    """A 500 debug page to imagine: uncertain, and neither it nor its cause shows the key."""
    caplog.set_level(logging.DEBUG, logger="imaginepro_async")
    app = app_with("POST", "/api/v1/nova/imagine", echo_headers(500))
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(SubmissionUncertainError) as caught:
            await client.imagine("a cat")
    assert isinstance(caught.value.__cause__, ServerError)
    assert_no_key(caught.value, caplog)


async def test_a_key_not_shaped_like_sk_is_blotted_out_too() -> None:
    """Whatever the key looks like, the client removes it from server text as it arrives."""
    odd_key = "ABCDEFGH12345678odd"
    app = app_with(
        "GET",
        "/api/v1/subscription/account-info",
        lambda r: web.json_response(
            {"message": f"key {r.headers['Authorization'][7:]} is unknown"}, status=403
        ),
    )
    async with serve(app) as url, ImagineProClient(odd_key, base_url=url, **FAST) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.account()
    assert odd_key not in str(caught.value) and odd_key not in repr(caught.value.body)
    assert "is unknown" in caught.value.message


async def test_a_redirect_on_a_read_is_not_followed_and_names_where_it_pointed() -> None:
    """A 302 to another host is a RedirectError naming that host; nothing is sent there."""
    elsewhere = web.Application()
    visits: list[web.Request] = []

    async def trap(request: web.Request) -> web.Response:
        visits.append(request)
        return web.json_response({"message": "Unauthorized"}, status=401)

    elsewhere.router.add_get("/{tail:.*}", trap)
    async with serve(elsewhere) as other:
        app = app_with(
            "GET",
            "/api/v1/subscription/account-info",
            lambda _: web.Response(status=302, headers={"Location": f"{other}/steal"}),
        )
        async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
            with pytest.raises(RedirectError) as caught:
                await client.account()
    assert caught.value.location == f"{other}/steal"
    assert other.split("//")[1] in str(caught.value)  # host and port named
    assert visits == []
    assert len(app[CALLS]) == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [(307, RedirectError), (301, RedirectError), (303, SubmissionUncertainError)],
)
async def test_a_redirect_on_a_submission_is_never_followed(
    status: int, expected: type[ImagineProError]
) -> None:
    """A 3xx to imagine is not followed nor resent; a 303 ("see other") may mean it was made."""
    app = app_with(
        "POST",
        "/api/v1/nova/imagine",
        lambda _: web.Response(status=status, headers={"Location": "/api/v1/nova/imagine2"}),
    )
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with pytest.raises(expected):
            await client.imagine("a cat")
    assert len(app[CALLS]) == 1


@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("GET", "/api/v1/subscription/account-info", lambda c: c.account()),
        ("POST", "/api/v1/nova/imagine", lambda c: c.imagine("a cat")),
        ("GET", "/api/v1/message/fetch/{id}", lambda c: c.fetch("abc")),
    ],
)
async def test_a_retry_after_past_the_cap_raises_instead_of_blocking(
    method: str, path: str, call: Callable[[ImagineProClient], Any]
) -> None:
    """Retry-After: 3600 on a read or a submission raises RateLimitError at once (one request)."""
    app = web.Application()
    app[CALLS] = []

    async def answer(request: web.Request) -> web.Response:
        app[CALLS].append(request)
        return too_many("3600")(request)

    app.router.add_route(method, path, answer)
    async with serve(app) as url, ImagineProClient(KEY, base_url=url, **FAST) as client:
        with anyio.fail_after(10), pytest.raises(RateLimitError, match="max_retry_after") as caught:
            await call(client)
    assert caught.value.retry_after == pytest.approx(3600)
    assert len(app[CALLS]) == 1


async def test_the_cap_is_a_client_option() -> None:
    """With max_retry_after=7200 a Retry-After of 3600 server seconds is waited out (scaled)."""
    app = scripted([too_many("3600"), message("DONE")])
    settings = {**FAST, "max_retry_after": 7200}
    async with (
        serve(app) as url,
        ImagineProClient(KEY, base_url=url, time_scale=360_000, **settings) as client,
    ):
        assert (await client.fetch("abc")).status is Status.DONE
    assert len(app[CALLS]) == 2


async def test_polls_honour_a_long_retry_after() -> None:
    """A poll told to wait 3600 s pauses the poll budget and goes on; the job still ends."""
    app = scripted([too_many("3600"), message("DONE")])
    async with (
        serve(app) as url,
        ImagineProClient(KEY, base_url=url, time_scale=360_000, **FAST) as client,
    ):
        done = await client.job("abc").wait(timeout=10)
    assert done.status is Status.DONE
    assert len(app[CALLS]) == 2


@pytest.mark.parametrize(
    "retry_after",
    [
        *["2", "0.5", " 1 ", "-5", "garbage", "nan", "inf", "1e400", ""],
        # Stable ids: the dates differ from one collection to the next (pytest-xdist compares).
        pytest.param(http_date(-60), id="http-date-past"),
        pytest.param(http_date(1), id="http-date-soon"),
    ],
)
async def test_every_kind_of_retry_after_is_handled(retry_after: str) -> None:
    """Seconds, fractions, negatives, garbage, NaN, infinity and HTTP dates: the read goes through."""
    app = scripted([too_many(retry_after), message("DONE")])
    async with (
        serve(app) as url,
        ImagineProClient(KEY, base_url=url, time_scale=1000, **FAST) as client,
    ):
        with anyio.fail_after(10):
            assert (await client.fetch("abc")).status is Status.DONE
    assert len(app[CALLS]) == 2


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        ("0.25", 0.25),
        ("-3", 0.0),
        ("garbage", None),
        ("nan", None),
        ("inf", None),
        ("", None),
        (None, None),
        ("Tue, 01 Aug 2023 14:03:01 GMT", 60.0),
        ("Tue, 01 Aug 2023 13:03:01 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    """The header as seconds to wait: never negative, None when it cannot be read."""
    now = 1690898521.0  # one minute before 14:03:01 GMT
    assert parse_retry_after(header, now=now) == (
        None if seconds is None else pytest.approx(seconds)
    )
