"""A TCP proxy on loopback in front of a real Redis, to make it slow, silent or unreachable.

Used by the outage tests and ``benchmarks/redis_outage.py``. Modes, switched at any time:

- ``pass``: bytes flow both ways (after ``delay`` seconds each way, if set);
- ``blackhole``: connections are accepted and what they send is read, but nothing is forwarded
  or answered (a partitioned or frozen Redis: clients wait for their socket timeouts);
- ``cut``: every open connection is closed at once and new ones are closed as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

Mode = Literal["pass", "blackhole", "cut"]


class RedisProxy:
    """Forwards ``127.0.0.1:<port>`` to a Redis on ``127.0.0.1:<target>`` (see the module)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.mode: Mode = "pass"
        self.delay = 0.0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        self._cut_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        if self._server is not None:
            await self._server.wait_closed()

    def set(self, mode: Mode) -> None:
        """Switch mode; ``cut`` (and leaving ``blackhole``) closes every open connection."""
        leaving_blackhole = self.mode == "blackhole" and mode != "blackhole"
        self.mode = mode
        if mode == "cut" or leaving_blackhole:
            self._cut_all()

    def _cut_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            writer.transport.abort()
            return
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.mode == "blackhole":
                while await reader.read(65536):
                    if self.mode != "blackhole":
                        break
                return
            try:
                up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target)
            except OSError:
                return
            self._writers.add(upstream)
            pumps = [
                asyncio.create_task(self._pump(reader, upstream)),
                asyncio.create_task(self._pump(up_reader, writer)),
            ]
            self._tasks.update(pumps)
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.wait(pumps)
                self._tasks.difference_update(pumps)
        finally:
            for end in (writer, upstream):
                if end is not None:
                    self._writers.discard(end)
                    end.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                while self.mode == "blackhole":  # swallowed: never forwarded, never answered
                    if not await reader.read(65536):
                        return
                if self.mode == "cut":
                    return
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
