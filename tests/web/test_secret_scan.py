"""A debug-level session against a server echoing the key and the webhook token: no output shows them.

The server quotes both back, plain and URL-encoded (``%2F`` and ``%2f``, ``%20`` and ``+``), in JSON
bodies, text bodies, a redirect's Location and other headers, on every status the client handles.
Everything the session produces is scanned: the DEBUG log file, what was printed, each error's
``str``, ``repr``, traceback and attributes, the Messages read, and the CLI's output (plain, and
with ``IMAGINEPRO_DEBUG=1``, its debug mode: it has no ``-v``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from pathlib import Path
from urllib.parse import quote, quote_plus

import anyio
import pytest
from aiohttp import web

from imaginepro_async import ImagineProClient, ImagineProError, PollPolicy, RateLimit, RetryPolicy

from .conftest import free_port, serve

pytestmark = pytest.mark.anyio

#: A key with characters that URL-encoding changes, so that its encoded echoes differ from it.
KEY = "sk-scan/Key+with=odd&chars~0123456789"
TOKEN = "scan-token-0123456789abcdef.XYZ"
ROOT = Path(__file__).resolve().parents[2]


def echo(request: web.Request, body: str) -> str:
    """The request quoted back: its Authorization, the key and body in every spelling."""
    auth = request.headers.get("Authorization", "")
    key = auth.removeprefix("Bearer ")
    spellings = [
        auth,
        key,
        quote(key, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(key, safe="")),
        quote_plus(key),
        quote_plus(auth),
        f"Authorization=Bearer%20{quote(key, safe='')}",
        body,
        quote(body, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote_plus(body)),
        json.dumps(body),
    ]
    return " | ".join(spellings)


def echo_app() -> web.Application:
    """A server whose every answer quotes the request's key and body (the webhook URL in it)."""

    async def create(request: web.Request) -> web.StreamResponse:
        body = await request.text()
        prompt = json.loads(body).get("prompt", "")
        text = echo(request, body)
        headers = {"X-Echo": quote(text, safe=" =|/")}
        if prompt == "redirect":
            location = f"/elsewhere?key={quote(request.headers['Authorization'])}&{text[:200]}"
            return web.Response(
                status=302, headers={**headers, "Location": quote(location, "/?&=")}
            )
        if prompt == "refused":
            return web.json_response({"message": text}, status=400, headers=headers)
        if prompt == "server error":
            return web.Response(text=f"<pre>{text}</pre>", status=502, headers=headers)
        if prompt == "limited":
            return web.json_response(
                {"message": text}, status=429, headers={**headers, "Retry-After": "86400"}
            )
        if prompt == "not json":
            return web.Response(text=f"<html>{text}</html>", headers=headers)
        if prompt == "dropped":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if prompt == "success false":
            return web.json_response({"success": False, "error": text}, headers=headers)
        return web.json_response(
            {"success": True, "messageId": "m-ok", "message": text, "createdAt": "2026-01-01"}
        )

    async def fetch(request: web.Request) -> web.Response:
        text = echo(request, request.path_qs)
        return web.json_response(
            {
                "messageId": request.match_info["id"],
                "status": "FAIL",
                "progress": 100,
                "error": text,
                "uri": f"http://127.0.0.1/x.png?token={TOKEN}&key={quote(KEY, safe='')}",
            },
            headers={"X-Echo": quote(text, safe=" ")},
        )

    async def account(request: web.Request) -> web.Response:
        return web.json_response({"message": echo(request, request.path_qs)}, status=401)

    app = web.Application()
    app.router.add_post("/api/v1/nova/imagine", create)
    app.router.add_get("/api/v1/message/fetch/{id}", fetch)
    app.router.add_get("/api/v1/subscription/account-info", account)
    return app


def spellings(secret: str) -> set[str]:
    """``secret`` as is and URL-encoded every usual way (written here, not taken from the SDK)."""
    encoded = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    lower = {re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), text) for text in encoded}
    return {secret} | encoded | lower


def leaks(places: dict[str, str]) -> list[str]:
    """The places (and which secret) where the key or the token shows, in any spelling."""
    found = []
    for place, text in places.items():
        for name, secret in (("key", KEY), ("token", TOKEN)):
            if any(form in text for form in spellings(secret)):
                found.append(f"{place}: the {name}")
    return found


def described(exc: BaseException) -> dict[str, str]:
    """Every way a user prints an error: str, repr, traceback, attributes."""
    return {
        "str": str(exc),
        "repr": repr(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        "attributes": repr(vars(exc)),
    }


async def test_a_debug_session_never_shows_the_key_or_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Errors, logs at DEBUG, prints and the CLI's output hold neither the key nor the token."""
    log_file = tmp_path / "debug.log"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(args)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    places: dict[str, str] = {}
    port = free_port()
    try:
        async with serve(echo_app(), port) as url:
            async with ImagineProClient(
                KEY,
                base_url=url,
                webhook_base="http://127.0.0.1:9/hook",
                webhook_token=TOKEN,
                create_limit=RateLimit(100, 0.01),
                retry=RetryPolicy(attempts=2, base=0.001, cap=0.01),
                poll_policy=PollPolicy(first_poll=0.01, probe_interval=0.01),
                max_retry_after=10.0,
                time_scale=600.0,  # the failing job is polled at once
                request_timeout=5.0,
            ) as client:
                prompts = ["redirect", "refused", "server error", "limited", "not json"]
                prompts += ["dropped", "success false", "fails"]
                for prompt in prompts:
                    try:
                        await (await client.imagine(prompt))
                    except ImagineProError as exc:
                        logging.getLogger("app").exception("the job %r failed", prompt)
                        print(exc, repr(exc))
                        for how, text in described(exc).items():
                            places[f"{prompt}: the error's {how}"] = text
                        message = getattr(exc, "message", None)
                        places[f"{prompt}: the Message"] = repr(message)
                    else:
                        raise AssertionError(f"{prompt!r} did not fail")
                try:
                    await client.account()
                except ImagineProError as exc:
                    logging.getLogger("app").error("account: %s", exc)
                    places.update({f"account: {how}": text for how, text in described(exc).items()})
                places["the client's repr"] = repr(client) + repr(client._core.settings)
            env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGINEPRO_")}
            env |= {"PYTHONPATH": str(ROOT), "IMAGINEPRO_API_KEY": KEY, "IMAGINEPRO_BASE_URL": url}
            webhook = f"http://127.0.0.1:9/hook?token={TOKEN}"
            cli = {
                # The CLI has no -v: IMAGINEPRO_DEBUG=1 is its debug mode (a full traceback).
                debug: await anyio.run_process(
                    [
                        sys.executable,
                        "-m",
                        "imaginepro_async",
                        "imagine",
                        prompt,
                        "--webhook",
                        webhook,
                    ],
                    env=env | ({"IMAGINEPRO_DEBUG": "1"} if debug else {}),
                    check=False,
                )
                for debug, prompt in ((False, "dropped"), (True, "refused"))
            }
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
    assert cli[False].returncode == 3, cli[False].stderr
    assert b"Traceback" in cli[True].stderr and b"BadRequestError" in cli[True].stderr
    for debug, done in cli.items():
        mode = "with IMAGINEPRO_DEBUG=1" if debug else "without"
        places[f"the CLI's stdout, {mode}"] = done.stdout.decode()
        places[f"the CLI's stderr, {mode}"] = done.stderr.decode()
    printed = capsys.readouterr()
    places["stdout"], places["stderr"] = printed.out, printed.err
    places["the DEBUG log file"] = log_file.read_text()
    assert "DEBUG imaginepro_async POST /api/v1/nova/imagine" in places["the DEBUG log file"]
    assert "Bearer ********" in places["refused: the error's str"]  # the echoes did arrive
    assert len(places) == 52  # 8 failed jobs x 5, the account x 4, the client, 7 outputs
    assert leaks(places) == []
