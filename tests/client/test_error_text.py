"""An error's text is the most specific reason the server gave, whichever field it used; a refused
prompt is a ``PromptRefusedError``: nothing created, nothing charged, never uncertain."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from imaginepro_async import (
    BadRequestError,
    ImagineProClient,
    PromptRefusedError,
    RetryPolicy,
    SubmissionUncertainError,
)
from imaginepro_async._wire.exchange import error_message
from imaginepro_async.testing import Simulator

from .conftest import SCALE, client_for

pytestmark = pytest.mark.anyio
KEY = "sk-error-text-test-key-0123456789"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "Prompt is required.", "error": "Bad Request", "statusCode": 400},
         "Prompt is required."),
        ({"message": ["prompt must be a string", "timeout must be an integer"],
          "error": "Bad Request"}, "prompt must be a string; timeout must be an integer"),
        ({"message": "Forbidden", "error": "forbidden: The prompt has blocked words"},
         "forbidden: The prompt has blocked words"),
        ({"error": "queue is full"}, "queue is full"),
        ({"message": "prompt is required", "error": "Validation failed"},
         "Validation failed: prompt is required"),
        ({"message": "The prompt has blocked words", "error": "forbidden: The prompt has blocked words"},
         "forbidden: The prompt has blocked words"),
        ({"message": "Bad Request", "error": "Bad Request"}, "Bad Request"),
        ({"message": "two\n  lines", "error": "BAD REQUEST"}, "two lines"),
        ({"statusCode": 400}, "Bad Request"),
        ("<html>\n <body>Bad gateway</body>\n</html>", "<html> <body>Bad gateway</body> </html>"),
        ("", "Bad Request"),
    ],
)  # fmt: skip
def test_the_most_specific_reason_is_shown_on_one_line(body: object, expected: str) -> None:
    """``message`` (a string or a list) or ``error`` when it is more than a status phrase; both
    when both are reasons; whitespace folded to one line; the status phrase when nothing else."""
    assert error_message(body, "Bad Request") == expected


@asynccontextmanager
async def refusing(status: int, body: dict[str, Any]) -> AsyncIterator[ImagineProClient]:
    """A client for a server whose create endpoints answer ``status`` with ``body``."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/api/v1/nova/{name}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with ImagineProClient(
            KEY, base_url=url, retry=RetryPolicy(attempts=2, base=0.001, cap=0.01)
        ) as client:
            yield client
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"message": "forbidden: The prompt has blocked words ('nsfw')",
               "error": "Bad Request", "statusCode": 400}),
        (403, {"message": "Forbidden", "error": "forbidden: The prompt has blocked words",
               "statusCode": 403}),
        (400, {"error": "Banned prompt detected: Sorry! Our AI moderator thinks this prompt is"
                        " probably against our community standards"}),
    ],
)  # fmt: skip
async def test_a_refused_prompt_raises_prompt_refused_error_whichever_field(
    status: int, body: dict[str, Any]
) -> None:
    """A blocked-words refusal, its reason in ``message`` or in ``error``, is a PromptRefusedError
    (a BadRequestError) naming the reason and saying nothing was charged; never uncertain."""
    async with refusing(status, body) as client:
        with pytest.raises(PromptRefusedError) as caught:
            await client.imagine("an nsfw cat")
    error = caught.value
    assert isinstance(error, BadRequestError)
    assert not isinstance(error, SubmissionUncertainError)
    assert error.status == status
    assert "blocked words" in error.message or "AI moderator" in error.message
    text = str(error)
    assert "\n" not in text
    assert "refused the prompt" in text
    assert "Nothing was created or charged" in text


async def test_another_bad_request_keeps_its_own_class_and_reason() -> None:
    """A 400 whose reason sits in ``error`` is a plain BadRequestError showing that reason."""
    body = {"error": "Invalid parameter: --ar 1.5:1", "message": "Bad Request", "statusCode": 400}
    async with refusing(400, body) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.imagine("a cat --ar 1.5:1")
    assert type(caught.value) is BadRequestError
    assert caught.value.message == "Invalid parameter: --ar 1.5:1"


async def test_the_simulator_refuses_a_blocked_prompt_for_free(sim: Simulator) -> None:
    """Against the simulator, imagine('nsfw cat') raises PromptRefusedError at once; nothing is
    charged and the client's estimate stays at zero."""
    async with client_for(sim) as client:
        with pytest.raises(PromptRefusedError, match="blocked words"):
            await client.imagine("nsfw cat")
        assert client.credits_spent == 0
    assert sim.credits_spent()[sim.api_key] == 0
    assert sim.jobs() == []


async def test_gemini_takes_the_documented_models() -> None:
    """client.gemini.imagine accepts flux-1.1-pro and the universal models (JS SDK README, type)."""
    async with (
        Simulator(time_scale=SCALE, general_rate_limit=None) as sim,
        client_for(sim) as client,
    ):
        for model in ("flux-1.1-pro", "nano-banana", "gemini-3-pro-image-preview"):
            result = await (await client.gemini.imagine("a hat", model=model))
            assert result.status.value == "DONE"
