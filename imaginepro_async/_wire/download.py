"""Downloads of result images: one function, used by the client, the batch and the CLI.

Streamed and capped (``max_bytes``), the content type checked (an image, or octet-stream), to memory
or atomically to a file (a temporary file beside the target, synced, then renamed: the target is
either absent or complete). Transient failures (connection errors, 5xx, a truncated body) are retried
with the one backoff of ``_pacing/retry.py``. Credentials are the caller's business: the client sends its key
only to the API's own host, and a request that carries it never follows a redirect.
"""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Final, overload

import aiohttp
import anyio
import anyio.to_thread
import yarl

from imaginepro_async._errors import (
    APIConnectionError,
    ResponseValidationError,
    ServerError,
    status_error,
)
from imaginepro_async._pacing.clock import Clock
from imaginepro_async._pacing.retry import RetryPolicy

__all__ = ["IMAGE_TYPES", "download"]

#: Content types accepted as images, with the file extension each is saved under.
IMAGE_TYPES: Final = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
}
_OCTET: Final = "application/octet-stream"
_CHUNK: Final = 64 * 1024

Target = Path | Callable[[str], Path]


class _Truncated(Exception):
    """The body ended before its announced length: worth another try."""


@overload
async def download(
    session: aiohttp.ClientSession,
    url: str | yarl.URL,
    *,
    max_bytes: int,
    to: None = None,
    prefix_only: bool = False,
    headers: Mapping[str, str] | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> bytes: ...
@overload
async def download(
    session: aiohttp.ClientSession,
    url: str | yarl.URL,
    *,
    max_bytes: int,
    to: Target,
    prefix_only: bool = False,
    headers: Mapping[str, str] | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Path: ...
async def download(
    session: aiohttp.ClientSession,
    url: str | yarl.URL,
    *,
    max_bytes: int,
    to: Target | None = None,
    prefix_only: bool = False,
    headers: Mapping[str, str] | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> bytes | Path:
    """GET an image: its bytes, or the path it was saved to (``to``).

    Args:
        session: the HTTP session (the client's own).
        url: an http(s) URL.
        max_bytes: larger bodies are refused (with ``prefix_only``: read only this many bytes).
        to: save to this file, or to ``to(extension)`` (``png``, ``jpg``, ``webp``, ``gif``, ``mp4``,
            from the content type); None keeps the bytes in memory.
        prefix_only: read only the first ``max_bytes`` bytes (to sniff an image's size).
        headers: extra headers (the client's Authorization, for its own host only).
        timeout: the aiohttp timeout of one try.
        retry: how transient failures are retried (None: one try).
        clock, rng: the time and jitter of retries.

    Raises:
        APIStatusError: the server refused (4xx; or 5xx after the retries).
        APIConnectionError: no answer, after the retries.
        ResponseValidationError: not an image, or over ``max_bytes``.
    """
    target = yarl.URL(url)
    if target.scheme not in ("http", "https") or not target.host:
        raise ResponseValidationError(
            f"cannot download {str(url)[:80]!r}: not an http(s) URL",
            body=b"",
            method="GET",
            url=str(url)[:200],
        )
    attempts = 1 if retry is None else retry.attempts
    for attempt in range(attempts):
        try:
            return await _once(session, target, to, max_bytes, prefix_only, headers, timeout)
        except (ServerError, APIConnectionError):
            if attempt + 1 >= attempts:
                raise
        assert retry is not None
        await (clock or Clock()).sleep(retry.backoff(attempt, rng or random.Random()))
    raise AssertionError("unreachable")  # pragma: no cover


async def _once(
    session: aiohttp.ClientSession,
    url: yarl.URL,
    to: Target | None,
    max_bytes: int,
    prefix_only: bool,
    headers: Mapping[str, str] | None,
    timeout: aiohttp.ClientTimeout | None,
) -> bytes | Path:
    sent = {"Accept": "image/*, video/*", "User-Agent": "imaginepro-async", **(headers or {})}
    # A request carrying credentials must not carry them on to wherever a redirect points.
    follow = "Authorization" not in sent
    try:
        async with session.get(
            url,
            headers=sent,
            timeout=timeout or aiohttp.ClientTimeout(total=60),
            allow_redirects=follow,
        ) as response:
            extension = await _check(response, url, max_bytes, prefix_only)
            if to is None:
                return await _read(response, url, max_bytes, prefix_only)
            path = to(extension) if callable(to) else to
            await _save(response, url, path, max_bytes)
            return path
    except _Truncated as exc:
        raise APIConnectionError(
            f"the download of {url} ended early ({exc})", method="GET", url=str(url)
        ) from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise APIConnectionError(
            f"could not download {url}: {type(exc).__name__}: {exc}", method="GET", url=str(url)
        ) from exc


async def _check(
    response: aiohttp.ClientResponse, url: yarl.URL, max_bytes: int, prefix_only: bool
) -> str:
    """Refuse an error status, a body that is not an image, or one announced too large."""
    if response.status >= 300:
        raw = await response.content.read(2000)
        where = response.headers.get("Location")
        text = f"redirected to {where}" if where and response.status < 400 else ""
        raise status_error(
            status=response.status,
            message=text
            or " ".join(raw.decode("utf-8", "replace").split())[:300]
            or response.reason
            or "",
            body=raw,
            method="GET",
            url=str(url),
        )
    kind = response.content_type.lower()
    if kind not in IMAGE_TYPES and kind != _OCTET:
        raise ResponseValidationError(
            f"expected an image, got Content-Type {kind!r}",
            body=await response.content.read(500),
            method="GET",
            url=str(url),
        )
    declared = response.content_length
    if not prefix_only and declared is not None and declared > max_bytes:
        raise _too_large(url, max_bytes)
    return IMAGE_TYPES.get(kind, "png")


def _too_large(url: yarl.URL, max_bytes: int) -> ResponseValidationError:
    return ResponseValidationError(
        f"the image is over the limit of {max_bytes} bytes (the download cap); raise max_bytes",
        body=b"",
        method="GET",
        url=str(url),
    )


async def _read(
    response: aiohttp.ClientResponse, url: yarl.URL, max_bytes: int, prefix_only: bool
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size >= max_bytes:
            if prefix_only:
                break
            if size > max_bytes:
                raise _too_large(url, max_bytes)
    _check_length(response, size, prefix_only)
    return b"".join(chunks)


def _check_length(response: aiohttp.ClientResponse, size: int, prefix_only: bool) -> None:
    declared = response.content_length
    if not prefix_only and declared is not None and size != declared:
        raise _Truncated(f"{size} of {declared} bytes")


async def _save(
    response: aiohttp.ClientResponse, url: yarl.URL, path: Path, max_bytes: int
) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    size = 0
    try:
        async with await anyio.open_file(temp, "wb") as out:
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(url, max_bytes)
                await out.write(chunk)
            _check_length(response, size, prefix_only=False)
            await anyio.to_thread.run_sync(_sync, out.wrapped)
        await anyio.to_thread.run_sync(os.replace, temp, path)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.Path(temp).unlink(missing_ok=True)


def _sync(file: IO[Any]) -> None:
    file.flush()
    os.fsync(file.fileno())
