"""Batch pipelines: thousands of inpaints through one client, resumable, never paid for twice.

``Batch`` sits on the public client API and adds only what it owns: the journal (``_journal.py``),
downloads of the result images, and progress snapshots. Budgets, retries and polling stay the
client's.

Resume rules (the journal records each state change before acting on it):

- ``done``: skipped (its result is reported again; missing downloads are fetched).
- ``submitted``: re-attached by messageId (``client.job``) and awaited.
- ``pending``, and ``failed`` before any job was created: submitted.
- ``submitting`` (the process died between sending and hearing back) and ``uncertain``
  (``SubmissionUncertainError``): reported, never resent unless ``resubmit_uncertain=True``.
- ``failed`` with a job (the job ended FAIL): reported again; resent with ``retry_failed=True``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeAlias

import aiohttp
import anyio
import anyio.to_thread
import attrs

from ._converters import make_converter
from ._costs import cost_of
from ._errors import (
    AuthenticationError,
    BatchInputError,
    ClientClosedError,
    CreditLimitError,
    ImagineProError,
    InvalidInputError,
    JobFailedError,
    SubmissionUncertainError,
)
from ._journal import Journal, RequestState, Row
from ._masks import Mask
from ._models import Message
from ._validation import check_message_id, check_options, check_prompt

if TYPE_CHECKING:
    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ._client import ImagineProClient

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "Batch",
    "BatchProgress",
    "BatchResult",
    "BatchSummary",
    "InpaintRequest",
    "InputProblem",
    "RequestState",
    "download_image",
    "read_jsonl",
]

DEFAULT_MAX_DOWNLOAD_BYTES: Final = 50 * 1024 * 1024
"""Result images larger than this (50 MiB) are refused."""

_FIELDS: Final = {
    "parent": "parent",
    "messageId": "parent",
    "mask": "mask",
    "prompt": "prompt",
    "ref": "ref",
    "timeout": "timeout",
    "webhookOverride": "webhook_override",
    "webhook_override": "webhook_override",
}
_BASE64_TEXT: Final = re.compile(r"[A-Za-z0-9+/=_\-\s]+")
_IMAGE_TYPES: Final = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}
_CHUNK: Final = 64 * 1024
_DOWNLOAD_ATTEMPTS: Final = 3
_UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]")

MaskSource: TypeAlias = "Mask | bytes | str | os.PathLike[str]"


@attrs.frozen(kw_only=True)
class InpaintRequest:
    """One inpainting request of a batch: ``Vary (Region)`` on ``parent`` with ``mask``.

    Attributes:
        parent: the messageId of the upscaled image to edit.
        mask: the mask: a path, image bytes, base64 text, or a ``Mask``.
        prompt: what to draw in the region.
        ref: your key for this request (unique in the batch); default: a hash of the request.
        timeout: server-side job timeout, 10 to 900 seconds.
        webhook_override: where ImaginePro posts the result.
        line: where the request came from (a line number), for messages; not part of its identity.
    """

    parent: str
    mask: MaskSource
    prompt: str | None = None
    ref: str | None = None
    timeout: int | None = None
    webhook_override: str | None = None
    line: int | None = attrs.field(default=None, eq=False)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, line: int | None = None, base_dir: Path | None = None
    ) -> InpaintRequest:
        """Build a request from one JSON object (the JSONL format).

        Args:
            data: ``parent`` (or ``messageId``), ``mask``, and optionally ``prompt``, ``ref``,
                ``timeout``, ``webhookOverride``.
            line: the line number, kept for messages.
            base_dir: where relative mask paths start (default: the current directory).

        Raises:
            InvalidInputError: a missing, unknown or mistyped field, a bad messageId, or a mask
                that is neither an existing file nor base64.
        """
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"expected a JSON object, got {type(data).__name__}")
        unknown = sorted(k for k in data if k not in _FIELDS)
        if unknown:
            raise InvalidInputError(
                f"unknown field {unknown[0]!r}; the fields are parent, mask, prompt, ref, timeout, "
                "webhookOverride"
            )
        values: dict[str, Any] = {}
        for name, value in data.items():
            values[_FIELDS[name]] = value
        for required in ("parent", "mask"):
            if values.get(required) is None:
                raise InvalidInputError(f"the field {required!r} is missing")
        check_message_id(values["parent"], "parent")
        mask = values["mask"]
        if not isinstance(mask, str) or not mask.strip():
            raise InvalidInputError("mask must be a file path or base64 text (a non-empty string)")
        return cls(
            parent=values["parent"],
            mask=_mask_from_text(mask, base_dir or Path.cwd()),
            prompt=values.get("prompt"),
            ref=values.get("ref"),
            timeout=values.get("timeout"),
            webhook_override=values.get("webhook_override"),
            line=line,
        )


def _mask_from_text(text: str, base_dir: Path) -> MaskSource:
    stripped = text.strip()
    if stripped.lower().startswith("data:"):
        return stripped
    path = Path(stripped).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if path.is_file():
        return path
    if len(stripped) >= 64 and _BASE64_TEXT.fullmatch(stripped):
        return stripped
    raise InvalidInputError(f"mask file not found: {path}")


@attrs.frozen(kw_only=True)
class InputProblem:
    """An input line that is not a valid request: where it is and why.

    Attributes:
        line: the line number (1-based), or None when unknown.
        reason: what is wrong, as a sentence to act on.
        ref: the line's ``ref`` if it could be read.
    """

    line: int | None
    reason: str
    ref: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "a request"
        return f"{where}: {self.reason}"


@attrs.frozen(kw_only=True)
class BatchResult:
    """What became of one request: reported as data, failures included.

    Attributes:
        key: the request's key in the journal (its ``ref``, or ``req-`` and a hash).
        line: where the request came from.
        state: ``done``, ``failed``, ``uncertain`` or ``invalid``.
        message_id: the job's messageId, once known.
        message: the final Message (for ``done``, and ``failed`` jobs that ended FAIL).
        error: why it did not succeed (or why its download failed).
        files: where its images were saved, when downloads were asked for.
        resumed: True when it had already ended in an earlier run (read back from the journal).
    """

    key: str | None
    line: int | None
    state: RequestState
    message_id: str | None = None
    message: Message | None = None
    error: str | None = None
    files: tuple[Path, ...] = ()
    download_error: str | None = None
    resumed: bool = False

    @property
    def ok(self) -> bool:
        """True when the job is done (and its download, if asked for, succeeded)."""
        return self.state is RequestState.DONE and self.download_error is None

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (one line of the CLI's ``--out`` file)."""
        message = None if self.message is None else _CONVERTER.unstructure(self.message)
        return {
            "key": self.key,
            "line": self.line,
            "state": self.state.value,
            "messageId": self.message_id,
            "message": message,
            "error": self.error,
            "files": [str(f) for f in self.files],
            "downloadError": self.download_error,
            "resumed": self.resumed,
        }


@attrs.frozen(kw_only=True)
class BatchProgress:
    """A snapshot of a batch's progress.

    Attributes:
        total: requests in the batch (invalid lines included).
        counts: requests per state (every state present, zeros included).
        finished_this_run: requests that ended (done or failed) during this run.
        elapsed: seconds since this run started.
        throughput: requests ended per second in this run, or None before the first one.
        eta: seconds until the remaining requests end at that rate, or None when unknown.
        halted: why submitting stopped early (for example, no credits left), or None.
    """

    total: int
    counts: Mapping[RequestState, int]
    finished_this_run: int
    elapsed: float
    throughput: float | None
    eta: float | None
    halted: str | None = None

    @property
    def remaining(self) -> int:
        """Requests still to end in this run (pending, submitting or submitted)."""
        return sum(self.counts[s] for s in _ACTIVE)

    @property
    def finished(self) -> int:
        """Requests in a final state (done, failed, uncertain, invalid)."""
        return self.total - self.remaining


_ACTIVE: Final = (RequestState.PENDING, RequestState.SUBMITTING, RequestState.SUBMITTED)


@attrs.frozen(kw_only=True)
class BatchSummary:
    """How a batch run ended.

    Attributes:
        progress: the last progress snapshot.
        download_errors: requests done whose images could not be saved.
        stopped: True when the run was stopped (``stop()``) before every request ended.
    """

    progress: BatchProgress
    download_errors: int = 0
    stopped: bool = False

    @property
    def ok(self) -> bool:
        """True when every request is done (and downloaded, if asked for)."""
        counts = self.progress.counts
        return counts[RequestState.DONE] == self.progress.total and not self.download_errors


@attrs.frozen
class _Entry:
    key: str
    digest: str
    request: InpaintRequest


_CONVERTER: Final = make_converter()


async def read_jsonl(path: str | os.PathLike[str]) -> list[InpaintRequest | InputProblem]:
    """Read a JSONL file of inpainting requests (one JSON object per line).

    Blank lines and lines starting with ``#`` are skipped. Relative mask paths start from the
    file's folder. A line that is not a valid request becomes an ``InputProblem`` with its line
    number, so one bad line does not stop the others.

    Raises:
        OSError: the file cannot be read.
    """
    file = Path(path)
    return await anyio.to_thread.run_sync(_read_jsonl, file)


def _read_jsonl(file: Path) -> list[InpaintRequest | InputProblem]:
    base_dir = file.resolve().parent
    items: list[InpaintRequest | InputProblem] = []
    with file.open("rb") as stream:
        for number, raw in enumerate(stream, 1):
            text = raw.decode("utf-8", "replace").strip()
            if not text or text.startswith("#"):
                continue
            try:
                data = json.loads(text)
            except ValueError as exc:
                items.append(InputProblem(line=number, reason=f"not valid JSON ({exc})"))
                continue
            ref = data.get("ref") if isinstance(data, dict) else None
            try:
                items.append(InpaintRequest.from_mapping(data, line=number, base_dir=base_dir))
            except InvalidInputError as exc:
                shown = ref if isinstance(ref, str) else None
                items.append(InputProblem(line=number, reason=str(exc), ref=shown))
    return items


def _mask_digest(mask: object) -> str:
    if isinstance(mask, Mask):
        return "b:" + hashlib.sha256(mask.to_base64().encode()).hexdigest()
    if isinstance(mask, bytes | bytearray | memoryview):
        return "b:" + hashlib.sha256(bytes(mask)).hexdigest()
    if isinstance(mask, os.PathLike):
        try:
            data = Path(mask).read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read the mask file {os.fspath(mask)}: {exc}") from exc
        return "b:" + hashlib.sha256(data).hexdigest()
    if isinstance(mask, str):
        body = mask.split(",", 1)[1] if mask.lower().startswith("data:") else mask
        try:
            data = base64.b64decode(re.sub(r"\s+", "", body) + "==", validate=False)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError(f"the mask is not valid base64: {exc}") from exc
        return "b:" + hashlib.sha256(data).hexdigest()
    raise InvalidInputError(
        f"mask must be a path, image bytes, base64 text or a Mask, got {type(mask).__name__}"
    )


def _check_request(request: InpaintRequest) -> str:
    """Validate what the client would refuse; return the request's digest."""
    check_message_id(request.parent, "parent")
    check_prompt(request.prompt, required=False)
    check_options(
        ref=request.ref,
        webhook_override=request.webhook_override,
        timeout=request.timeout,
        disable_cdn=None,
    )
    if request.ref is not None and not request.ref.strip():
        raise InvalidInputError("ref is empty: leave it out, or give a unique name")
    identity = {
        "parent": request.parent,
        "mask": _mask_digest(request.mask),
        "prompt": request.prompt,
        "timeout": request.timeout,
        "webhookOverride": request.webhook_override,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _prepare(items: Sequence[object]) -> tuple[list[_Entry], list[InputProblem]]:
    entries: list[_Entry] = []
    problems: list[InputProblem] = []
    refs: dict[str, int | None] = {}
    repeats: Counter[str] = Counter()
    for index, item in enumerate(items, 1):
        if isinstance(item, InputProblem):
            problems.append(item)
            continue
        line = item.line if isinstance(item, InpaintRequest) else index
        try:
            request = (
                item
                if isinstance(item, InpaintRequest)
                else InpaintRequest.from_mapping(item, line=index)  # type: ignore[arg-type]
            )
            digest = _check_request(request)
        except InvalidInputError as exc:
            problems.append(InputProblem(line=line, reason=str(exc)))
            continue
        if request.ref is not None:
            if request.ref in refs:
                first = refs[request.ref]
                problems.append(
                    InputProblem(
                        line=line,
                        reason=f"ref {request.ref!r} is used again (first on line {first}); "
                        "each request needs its own ref",
                        ref=request.ref,
                    )
                )
                continue
            refs[request.ref] = line
            key = request.ref
        else:
            # The same request twice without a ref is two jobs (two draws), keyed apart.
            repeats[digest] += 1
            key = f"req-{digest[:16]}"
            if repeats[digest] > 1:
                key += f"-{repeats[digest]}"
        entries.append(_Entry(key, digest, request))
    duplicate = {e.key for e in entries if e.request.ref is None} & set(refs)
    if duplicate:
        for key in sorted(duplicate):
            problems.append(InputProblem(line=refs[key], reason=f"ref {key!r} is reserved"))
        entries = [e for e in entries if e.request.ref is None or e.key not in duplicate]
    return entries, problems


def _file_stem(key: str) -> str:
    safe = _UNSAFE_NAME.sub("_", key)[:80].lstrip(".") or "result"
    if safe != key:
        safe += "-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    return safe


class _DownloadError(Exception):
    def __init__(self, text: str, *, retry: bool) -> None:
        self.retry = retry
        super().__init__(text)


async def download_image(
    session: aiohttp.ClientSession,
    url: str,
    target: Callable[[str], Path] | Path,
    *,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    attempts: int = _DOWNLOAD_ATTEMPTS,
    backoff: float = 0.5,
) -> Path:
    """Download one result image: streamed, size-capped, type-checked, written atomically.

    The bytes go to a temporary file beside the target, which is synced and then renamed, so the
    target is either absent or complete. No credentials are sent (a CDN needs none).

    Args:
        session: the HTTP session to use.
        url: the image's URL (http or https).
        target: the file to write, or a function from the extension (``png``, ``jpg``, ``webp``,
            ``gif``, from the answer's content type) to the file.
        max_bytes: larger images are refused.
        attempts: tries in all, for connection errors and 5xx answers.
        backoff: seconds before the first retry; doubled each time.

    Returns:
        The path written.

    Raises:
        OSError: the image could not be downloaded or saved (the message says why).
    """
    if not url.lower().startswith(("http://", "https://")):
        raise OSError(f"cannot download {url[:80]!r}: not an http(s) URL")
    last: _DownloadError | None = None
    for attempt in range(attempts):
        if attempt:
            await anyio.sleep(backoff * 2 ** (attempt - 1))
        try:
            return await _download_once(session, url, target, max_bytes)
        except _DownloadError as exc:
            last = exc
            if not exc.retry:
                break
    assert last is not None
    raise OSError(f"download of {url} failed: {last}")


async def _download_once(
    session: aiohttp.ClientSession,
    url: str,
    target: Callable[[str], Path] | Path,
    max_bytes: int,
) -> Path:
    try:
        async with session.get(url) as response:
            if response.status >= 400:
                raise _DownloadError(
                    f"the server answered {response.status}", retry=response.status >= 500
                )
            content_type = response.content_type.lower()
            ext = _IMAGE_TYPES.get(content_type)
            if ext is None:
                raise _DownloadError(
                    f"the answer is {content_type or 'untyped'}, not an image", retry=False
                )
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise _DownloadError(
                    f"the image is {declared} bytes, over the limit of {max_bytes}", retry=False
                )
            path = target(ext) if callable(target) else target
            temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
            received = 0
            try:
                async with await anyio.open_file(temp, "wb") as out:
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        received += len(chunk)
                        if received > max_bytes:
                            raise _DownloadError(
                                f"the image is over the limit of {max_bytes} bytes", retry=False
                            )
                        await out.write(chunk)
                    if declared is not None and received != declared:
                        raise _DownloadError(
                            f"the answer ended after {received} of {declared} bytes", retry=True
                        )
                    await anyio.to_thread.run_sync(_sync_file, out.wrapped)
                await anyio.to_thread.run_sync(os.replace, temp, path)
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.Path(temp).unlink(missing_ok=True)
            return path
    except aiohttp.ClientError as exc:
        raise _DownloadError(f"{type(exc).__name__}: {exc}", retry=True) from exc
    except TimeoutError as exc:
        raise _DownloadError("timed out", retry=True) from exc


def _sync_file(file: Any) -> None:
    file.flush()
    os.fsync(file.fileno())


class Batch:
    """Run many inpainting requests through one client, with a journal to resume from.

    Use it as ``async with Batch(client, requests, journal="run.db") as batch:`` and iterate over
    it for each ``BatchResult`` as it finishes (failures included), or ``await batch.wait()``.
    Requests already ended in an earlier run with the same journal are reported first (with
    ``resumed=True``) and not submitted again. Leaving the block early stops the batch cleanly:
    no new submission starts, the one in flight is finished and recorded, and the jobs already
    submitted go on on the server (the next run re-attaches them).

    Args:
        client: an open ``ImagineProClient``.
        requests: ``InpaintRequest`` objects, JSON-like mappings, or ``InputProblem`` entries (as
            ``read_jsonl`` makes them), as an iterable or async iterable.
        journal: the SQLite journal's path; created if missing, resumed if it exists.
        download_dir: save each result's images there (``<key>.png``, or ``<key>-1.png`` ...).
        max_download_bytes: refuse larger images.
        resubmit_uncertain: send again the requests whose submission is uncertain (they may
            then be paid for twice).
        retry_failed: send again the requests whose job ended FAIL.
        strict: refuse to start (``BatchInputError``) when any request is invalid.
        max_in_flight: at most this many jobs submitted and not yet ended at once.
        on_progress: called with a ``BatchProgress`` at each change of a request's state.
        source: a name for the input, kept in the journal for error messages.
        max_credits: refuse to start when the requests to submit would cost more (an estimate
            from the SDK's price table); with it set, the account's balance is checked too
            (one account request) and a batch it cannot pay for does not start.

    Raises:
        BatchInputError: ``strict`` and some requests are invalid (on entering).
        CreditLimitError: the batch needs more than ``max_credits``, or than the account has
            (on entering; nothing was submitted).
        JournalMismatchError: the journal was made from another input (on entering).
        JournalBusyError: another process runs this journal, or it is not a journal.
    """

    def __init__(
        self,
        client: ImagineProClient,
        requests: Iterable[InpaintRequest | InputProblem | Mapping[str, Any]]
        | AsyncIterable[InpaintRequest | InputProblem | Mapping[str, Any]],
        *,
        journal: str | os.PathLike[str],
        download_dir: str | os.PathLike[str] | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        resubmit_uncertain: bool = False,
        retry_failed: bool = False,
        strict: bool = False,
        max_in_flight: int = 100,
        on_progress: Callable[[BatchProgress], None] | None = None,
        source: str | None = None,
        max_credits: int | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise InvalidInputError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
        if max_credits is not None and (
            isinstance(max_credits, bool) or not isinstance(max_credits, int) or max_credits < 0
        ):
            raise InvalidInputError(
                f"max_credits must be a whole number of credits ≥ 0, got {max_credits!r}"
            )
        self._max_credits = max_credits
        self._client = client
        self._requests = requests
        self._journal_path = Path(journal)
        self._download_dir = None if download_dir is None else Path(download_dir)
        self._max_download_bytes = max_download_bytes
        self._resubmit_uncertain = resubmit_uncertain
        self._retry_failed = retry_failed
        self._strict = strict
        self._slots = anyio.Semaphore(max_in_flight)
        self._on_progress = on_progress
        self._source = source or os.fspath(journal)
        self._journal: Journal | None = None
        self._session: aiohttp.ClientSession | None = None
        self._download_limiter = anyio.CapacityLimiter(4)
        self._entries: dict[str, _Entry] = {}
        self._rows: list[Row] = []
        self._problems: list[InputProblem] = []
        self._states: dict[str, RequestState] = {}
        self._finished_this_run = 0
        self._download_errors = 0
        self._started = 0.0
        self._halted: str | None = None
        self._stopping = False
        self._scope = anyio.CancelScope()
        self._critical: anyio.CancelScope | None = None
        self._finished = anyio.Event()
        self._tg: TaskGroup | None = None
        self._send: MemoryObjectSendStream[BatchResult]
        self._receive: MemoryObjectReceiveStream[BatchResult]
        self._state = "new"

    # -- life cycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a Batch runs once; create a new one to run again")
        self._state = "open"
        items = await _collect(self._requests)
        entries, problems = await anyio.to_thread.run_sync(_prepare, items)
        if self._strict and problems:
            raise BatchInputError(problems)
        self._problems = problems
        self._entries = {e.key: e for e in entries}
        journal = await Journal.open(self._journal_path)
        try:
            self._rows = await journal.reconcile(
                [(e.key, e.digest, e.request.line) for e in entries], source=self._source
            )
            if self._max_credits is not None:
                await self._check_credits(self._max_credits)
            if self._download_dir is not None:
                await anyio.Path(self._download_dir).mkdir(parents=True, exist_ok=True)
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=300, sock_connect=30, sock_read=60)
                )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await journal.aclose()
            raise
        self._journal = journal
        self._states = {row.key: row.state for row in self._rows}
        self._started = anyio.current_time()
        self._send, self._receive = anyio.create_memory_object_stream[BatchResult](math.inf)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if not self._finished.is_set():
            self.stop()
        try:
            assert self._tg is not None
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            self._state = "closed"
            with anyio.CancelScope(shield=True):
                self._receive.close()
                if self._session is not None:
                    await self._session.close()
                if self._journal is not None:
                    await self._journal.aclose()

    async def _check_credits(self, cap: int) -> None:
        """Refuse to start a batch that would cost more than ``cap`` or than the account has."""
        price = cost_of("button", button="Vary (Region)")
        count = sum(1 for row in self._rows if self._will_submit(row))
        needed = count * price
        if needed > cap:
            raise CreditLimitError(
                f"this batch needs about {needed} credits ({count} requests at {price}), over "
                f"max_credits={cap}: raise the cap or split the batch",
                needed=needed,
                available=cap,
            )
        info = await self._client.account()
        balance = (info.credits or 0) + (info.credits_extra or 0)
        if info.credits is not None and needed > balance:
            raise CreditLimitError(
                f"this batch needs about {needed} credits ({count} requests at {price}); the "
                f"account has {balance}: add credits or split the batch",
                needed=needed,
                available=balance,
            )

    def _will_submit(self, row: Row) -> bool:
        """Whether this run would submit ``row`` (the rules of ``_run_rows``)."""
        state = row.state
        if state is RequestState.FAILED:
            return row.message_id is None or (self._retry_failed and row.result is not None)
        if state in (RequestState.SUBMITTING, RequestState.UNCERTAIN):
            return self._resubmit_uncertain
        return state not in (RequestState.DONE, RequestState.SUBMITTED)

    def stop(self, *, force: bool = False) -> None:
        """Stop the batch cleanly: submit nothing more, stop following the jobs.

        The submission in flight, if any, is finished and recorded (unless ``force``: it is then
        abandoned, and reported as uncertain by the next run). Jobs already submitted go on on
        the server; the next run with the same journal re-attaches them.
        """
        self._stopping = True
        self._scope.cancel()
        if force and self._critical is not None:
            self._critical.shield = False
            self._critical.cancel()

    # -- results and progress ------------------------------------------------------------------

    @property
    def problems(self) -> tuple[InputProblem, ...]:
        """The input entries that are not valid requests."""
        return tuple(self._problems)

    @property
    def journal_path(self) -> Path:
        """The journal's path."""
        return self._journal_path

    def __aiter__(self) -> AsyncIterator[BatchResult]:
        return self._results()

    async def _results(self) -> AsyncIterator[BatchResult]:
        async for result in self._receive:
            yield result

    async def wait(self) -> BatchSummary:
        """Wait for the batch to end (reading and dropping the results not read yet).

        Returns:
            How the run ended.
        """
        async for _ in self._receive:
            pass
        await self._finished.wait()
        return self.summary()

    def summary(self) -> BatchSummary:
        """How the run stands (or ended)."""
        return BatchSummary(
            progress=self.snapshot(),
            download_errors=self._download_errors,
            stopped=self._stopping,
        )

    def snapshot(self) -> BatchProgress:
        """The batch's progress now: counts per state, throughput and ETA."""
        counts = dict.fromkeys(RequestState, 0)
        for state in self._states.values():
            counts[state] += 1
        counts[RequestState.INVALID] = len(self._problems)
        elapsed = max(anyio.current_time() - self._started, 1e-9) if self._started else 0.0
        rate = self._finished_this_run / elapsed if self._finished_this_run else None
        remaining = sum(counts[s] for s in _ACTIVE)
        eta = (remaining / rate if rate else None) if remaining else 0.0
        return BatchProgress(
            total=len(self._states) + len(self._problems),
            counts=counts,
            finished_this_run=self._finished_this_run,
            elapsed=elapsed,
            throughput=rate,
            eta=eta,
            halted=self._halted,
        )

    async def progress(self, *, every: float = 1.0) -> AsyncIterator[BatchProgress]:
        """Yield a progress snapshot now, then every ``every`` seconds, and a last one at the end."""
        if not every > 0:
            raise ValueError(f"every must be a number of seconds > 0, got {every!r}")
        while True:
            finished = self._finished.is_set()
            yield self.snapshot()
            if finished:
                return
            with anyio.move_on_after(every):
                await self._finished.wait()

    # -- the run ---------------------------------------------------------------------------------

    def _set(self, key: str, state: RequestState, *, finished: bool = False) -> None:
        self._states[key] = state
        if finished:
            self._finished_this_run += 1
        if self._on_progress is not None:
            self._on_progress(self.snapshot())

    def _emit(self, result: BatchResult) -> None:
        if result.download_error is not None:
            self._download_errors += 1
        self._send.send_nowait(result)

    @property
    def _db(self) -> Journal:
        assert self._journal is not None
        return self._journal

    async def _run(self) -> None:
        try:
            with self._scope:
                await self._run_rows()
        finally:
            self._send.close()
            self._finished.set()

    async def _run_rows(self) -> None:
        for problem in self._problems:
            self._emit(
                BatchResult(
                    key=problem.ref, line=problem.line, state=RequestState.INVALID,
                    error=problem.reason,
                )
            )  # fmt: skip
        to_submit: list[_Entry] = []
        to_follow: list[Row] = []
        to_download: list[Row] = []
        for row in self._rows:
            entry = self._entries[row.key]
            state = row.state
            if state is RequestState.DONE:
                if self._download_dir is not None and not await _files_present(row.files):
                    to_download.append(row)
                else:
                    self._emit(self._from_row(row, entry))
            elif state is RequestState.FAILED:
                # With a final Message the job itself ended FAIL; without one, only following it
                # failed (unreadable answers, say) and the job may be fine: look at it again.
                ended_fail = row.result is not None
                if row.message_id is None or (self._retry_failed and ended_fail):
                    to_submit.append(entry)
                elif not ended_fail:
                    to_follow.append(row)
                else:
                    self._emit(self._from_row(row, entry))
            elif state is RequestState.SUBMITTED:
                to_follow.append(row)
            elif state in (RequestState.SUBMITTING, RequestState.UNCERTAIN):
                if self._resubmit_uncertain:
                    to_submit.append(entry)
                    continue
                error = row.error
                if state is RequestState.SUBMITTING:
                    error = (
                        "the process stopped between sending this request and hearing back: the "
                        "job may exist (and may have been charged). Check the account's recent "
                        f"jobs (ref {row.key!r}); resubmit it with --resubmit-uncertain"
                    )
                    await self._db.update(row.key, RequestState.UNCERTAIN, error=error)
                    self._set(row.key, RequestState.UNCERTAIN)
                self._emit(
                    BatchResult(
                        key=row.key, line=entry.request.line, state=RequestState.UNCERTAIN,
                        error=error, resumed=True,
                    )
                )  # fmt: skip
            else:
                to_submit.append(entry)
        async with anyio.create_task_group() as tg:
            for row in to_follow:
                assert row.message_id is not None
                job = self._client.job(row.message_id)
                tg.start_soon(self._follow, self._entries[row.key], job, False)
            for row in to_download:
                tg.start_soon(self._resume_download, row)
            tg.start_soon(self._submit_all, tg, to_submit)

    def _from_row(self, row: Row, entry: _Entry) -> BatchResult:
        message = None
        if row.result is not None:
            message = _CONVERTER.structure(json.loads(row.result), Message)
        return BatchResult(
            key=row.key,
            line=entry.request.line,
            state=row.state,
            message_id=row.message_id,
            message=message,
            error=row.error,
            files=tuple(Path(f) for f in row.files or ()),
            download_error=row.download_error if self._download_dir is not None else None,
            resumed=True,
        )

    async def _resume_download(self, row: Row) -> None:
        entry = self._entries[row.key]
        result = self._from_row(row, entry)
        assert result.message is not None
        files, error = await self._download(row.key, result.message)
        self._emit(attrs.evolve(result, files=files, download_error=error))

    async def _submit_all(self, tg: TaskGroup, entries: list[_Entry]) -> None:
        for entry in entries:
            if self._stopping or self._halted is not None:
                return
            await self._slots.acquire()
            await self._submit_one(tg, entry)

    async def _submit_one(self, tg: TaskGroup, entry: _Entry) -> None:
        key, request = entry.key, entry.request
        client, db = self._client, self._db
        job = None
        # Shielded: once the journal says "submitting", hear the answer and record it, so that a
        # clean stop never leaves an uncertain request behind.
        with anyio.CancelScope(shield=True) as self._critical:
            try:
                if self._stopping:
                    return
                await db.update(key, RequestState.SUBMITTING, count_attempt=True, clear_error=True)
                self._set(key, RequestState.SUBMITTING)
                try:
                    job = await client.inpaint(
                        request.parent,
                        request.mask,
                        prompt=request.prompt,
                        ref=key,
                        timeout=request.timeout,
                        webhook_override=request.webhook_override,
                    )
                except (ImagineProError, OSError, ValueError, TypeError) as exc:
                    await self._not_submitted(entry, exc)
                    return
                await db.update(key, RequestState.SUBMITTED, message_id=job.message_id)
                self._set(key, RequestState.SUBMITTED)
            finally:
                self._critical = None
                if job is None:
                    self._slots.release()
        tg.start_soon(self._follow, entry, job, True)

    async def _not_submitted(self, entry: _Entry, exc: Exception) -> None:
        """Record why a submission gave no job: uncertain, halted, or refused (free to resend)."""
        key, db = entry.key, self._db
        if isinstance(exc, AuthenticationError):
            # Nothing was created; every later submission would fail alike. Stop here.
            self._halted = str(exc)
            await db.update(key, RequestState.PENDING, error=str(exc))
            self._set(key, RequestState.PENDING)
            return
        if isinstance(exc, SubmissionUncertainError):
            # A lost answer, or a 5xx other than 503, does not prove that no job was created:
            # never resend it on its own.
            error = str(exc).split(" Request: ")[0] + " Resend with --resubmit-uncertain."
            await db.update(key, RequestState.UNCERTAIN, error=error)
            self._set(key, RequestState.UNCERTAIN)
            self._emit(self._result(entry, RequestState.UNCERTAIN, error=error))
            return
        # Refused before a job was created: costs nothing, tried again on resume.
        await db.update(key, RequestState.FAILED, error=str(exc))
        self._set(key, RequestState.FAILED, finished=True)
        self._emit(self._result(entry, RequestState.FAILED, error=str(exc)))

    def _result(self, entry: _Entry, state: RequestState, **fields: Any) -> BatchResult:
        return BatchResult(key=entry.key, line=entry.request.line, state=state, **fields)

    async def _follow(self, entry: _Entry, job: Any, holds_slot: bool) -> None:
        key, db = entry.key, self._db
        try:
            try:
                message = await job
            finally:
                if holds_slot:
                    self._slots.release()
        except JobFailedError as exc:
            error = f"the job failed: {exc.error}"
            result = None if exc.message is None else _dump(exc.message)
            await db.update(key, RequestState.FAILED, result=result, error=error)
            self._set(key, RequestState.FAILED, finished=True)
            self._emit(
                self._result(
                    entry, RequestState.FAILED, message_id=job.message_id, message=exc.message,
                    error=error,
                )
            )  # fmt: skip
            return
        except ClientClosedError:
            raise
        except ImagineProError as exc:
            await db.update(key, RequestState.FAILED, error=str(exc))
            self._set(key, RequestState.FAILED, finished=True)
            self._emit(
                self._result(entry, RequestState.FAILED, message_id=job.message_id, error=str(exc))
            )
            return
        await db.update(key, RequestState.DONE, result=_dump(message), clear_error=True)
        self._set(key, RequestState.DONE, finished=True)
        files, download_error = await self._download(key, message)
        self._emit(
            self._result(
                entry, RequestState.DONE, message_id=job.message_id, message=message,
                files=files, download_error=download_error,
            )
        )  # fmt: skip

    async def _download(self, key: str, message: Message) -> tuple[tuple[Path, ...], str | None]:
        if self._download_dir is None or self._session is None:
            return (), None
        directory = self._download_dir
        urls = message.image_urls
        stem = _file_stem(key)
        paths: list[Path] = []
        try:
            if not urls:
                raise OSError("the result has no image URL (was it made with disableCdn?)")
            async with self._download_limiter:
                for n, url in enumerate(urls, 1):
                    name = stem if len(urls) == 1 else f"{stem}-{n}"
                    path = await download_image(
                        self._session,
                        url,
                        lambda ext, name=name: directory / f"{name}.{ext}",  # type: ignore[misc]
                        max_bytes=self._max_download_bytes,
                        backoff=0.5 / self._client.time_scale,
                    )
                    paths.append(path)
        except OSError as exc:
            await self._db.record_files(key, None, str(exc))
            return tuple(paths), str(exc)
        await self._db.record_files(key, [str(p) for p in paths], None)
        return tuple(paths), None


def _dump(message: Message) -> str:
    return json.dumps(_CONVERTER.unstructure(message), ensure_ascii=False)


async def _files_present(files: tuple[str, ...] | None) -> bool:
    if files is None:
        return False
    for file in files:
        if not await anyio.Path(file).is_file():
            return False
    return True


async def _collect(
    requests: Iterable[Any] | AsyncIterable[Any],
) -> list[Any]:
    if isinstance(requests, AsyncIterable):
        return [item async for item in requests]
    return list(requests)
