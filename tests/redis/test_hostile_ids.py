"""Every id that reaches a URL is checked where it enters, and no id can change a path."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import unquote

import aiohttp
import anyio
import pytest
import redis.asyncio
import yarl
from aiohttp import web

from imaginepro_async import ImagineProClient, InvalidInputError, ResponseValidationError, Status
from imaginepro_async._coordination.budgets import RedisCoordination
from imaginepro_async._wire.endpoints import MESSAGE, VIDEO_FETCH
from imaginepro_async.webhooks import WebhookReceiver, parse_webhook
from tests.redis._common import SCALE
from tests.redis._server import RedisServer
from tests.redis._shared import make_jobs
from tests.redis.test_outages import _simulator

pytestmark = pytest.mark.anyio

HOSTILE = [
    "..",
    ".",
    "../../subscription/account-info",
    "..%2F..%2Fsubscription%2Faccount-info",
    "%2e%2e",
    "x" * 5000,
    "\udc80",
    "a\x00b",
    "a/b",
    "a?b=1",
    "a#b",
    "a b",
    "ü-job",
    "",
]
TOKEN = "hostile-ids-webhook-token-0123456789"
#: The only paths the simulator may see: the jobs made, and polls of well-formed ids.
ALLOWED = re.compile(r"/api/v1/(nova/imagine|message/fetch/[A-Za-z0-9][A-Za-z0-9_-]{0,127})")


@asynccontextmanager
async def _receiver(client: ImagineProClient) -> AsyncIterator[str]:
    """The client's webhook receiver served on loopback; its URL with the token."""
    app = web.Application()
    app.router.add_post("/hook", WebhookReceiver(client).aiohttp)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook?token={TOKEN}"
    finally:
        await runner.cleanup()


def _raw(value: str) -> bytes:
    """``value`` as Redis would hold it, lone surrogates included (written by another program)."""
    return value.encode("utf-8", errors="surrogatepass")


@pytest.mark.parametrize("value", HOSTILE)
def test_a_path_segment_never_changes_the_path(value: str) -> None:
    """path_for escapes any id into exactly one segment of its own path, or refuses it."""
    base = yarl.URL("https://api.example/")
    for endpoint in (MESSAGE, VIDEO_FETCH):
        prefix = endpoint.path.split("{")[0]
        try:
            path = endpoint.path_for(message_id=value)
        except InvalidInputError:
            continue
        url = base.join(yarl.URL(path))
        segment = url.raw_path.removeprefix(prefix)
        assert url.raw_path.startswith(prefix)
        assert "/" not in segment
        assert (unquote(segment), url.query_string, url.fragment) == (value, "", "")


async def test_hostile_ids_are_refused_where_they_enter(redis_server: RedisServer) -> None:
    """Hostile ids through client.job, fetch, webhook deliveries (over HTTP too), hints and the
    shared Redis streams and set: each entry point refuses them with InvalidInputError (or skips what another
    process wrote), the shared-jobs task lives on, and the simulator sees only well-formed paths."""
    namespace = "hostile-ids"
    async with _simulator(seed=31) as sim, AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            coordination = await stack.enter_async_context(
                RedisCoordination(redis_server.url, lease=10.0, namespace=namespace,
                                  share_jobs=True, leader_lease=10.0)
            )  # fmt: skip
            client = ImagineProClient(
                sim.api_key,
                base_url=sim.url,
                time_scale=SCALE,
                coordination=coordination,
                webhook_token=TOKEN,
            )
            clients.append(await stack.enter_async_context(client))
        ids = await make_jobs(sim, 2)
        for client in clients:
            for value in HOSTILE:
                with pytest.raises(InvalidInputError):
                    client.job(value)
                with pytest.raises(InvalidInputError):
                    await client.fetch(value)
                with pytest.raises(InvalidInputError):
                    await client._core.hint(value)
                body = json.dumps({"messageId": value, "status": "DONE", "progress": 100})
                try:
                    delivered = parse_webhook(body)
                except ResponseValidationError:
                    continue  # refused by the parser already (a lone surrogate): never delivered
                with pytest.raises(InvalidInputError, match="webhook delivery"):
                    await client._core.deliver(delivered)
        first = clients[0].job(ids[0])
        for client in clients:  # deliveries over HTTP, to the leader and to the other one
            async with _receiver(client) as url, aiohttp.ClientSession() as http:
                for value in HOSTILE:
                    delivery = {"messageId": value, "status": "DONE", "progress": 100}
                    async with http.post(url, json=delivery) as answer:
                        assert answer.status < 500
        with anyio.fail_after(30):  # "poll now" requests are read by the leader: wait for one
            while not any(c._core._shared and c._core._shared.leading for c in clients):  # noqa: ASYNC110
                await anyio.sleep(0.02)
        prefix = f"{namespace}:{{{hashlib.sha256(sim.api_key.encode()).hexdigest()[:16]}}}"
        async with redis.asyncio.Redis.from_url(redis_server.url) as raw:
            for value in HOSTILE:  # what a compromised or buggy process could write
                await raw.xadd(f"{prefix}:poll-now", {"id": _raw(value)})
                await raw.sadd(f"{prefix}:followed", _raw(value))
                message = {"messageId": value, "status": "DONE", "progress": 100}
                await raw.xadd(f"{prefix}:updates", {"message": _raw(json.dumps(message))})
            await raw.xadd(f"{prefix}:poll-now", {"other": "field"})
            await raw.xadd(f"{prefix}:updates", {"message": b"[1, 2]"})
            await raw.xadd(f"{prefix}:updates", {"message": b"\xff not json"})
            await raw.xadd(f"{prefix}:poll-now", {"id": ids[1]})  # after them: a real request
        with anyio.fail_after(30):  # a guard against hangs, not a timing assertion
            while not any(r.path.endswith(ids[1]) for r in sim.requests()):  # noqa: ASYNC110
                await anyio.sleep(0.02)
            await anyio.sleep(0.5)  # a few renewals: the leader adopts the followed set
            assert (await first).status is Status.DONE
            assert (await clients[1].job(ids[1])).status is Status.DONE
    paths = {record.path for record in sim.requests()}
    assert all(ALLOWED.fullmatch(path) for path in paths), sorted(paths)
