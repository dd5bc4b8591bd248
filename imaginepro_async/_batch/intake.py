"""A batch's input: requests, the JSONL format (streamed), and each request's identity.

A request's **key** is its ``ref``, or ``req-`` and a hash of its contents; its **digest** is a hash
of what would be sent (parent, mask bytes, prompt, timeout, webhook), so that the journal notices
an edited line. Masks in JSONL are read the one way the SDK reads mask text (``read_mask_text``):
base64 by content, else a file path relative to the JSONL file's folder.

``InputProblem`` (a line that is not a valid request) is defined in ``_errors`` beside
``BatchInputError``, and re-exported here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread
import attrs

from imaginepro_async._errors import InputProblem, InvalidInputError
from imaginepro_async._masks.mask import Mask, MaskInput, read_mask_text
from imaginepro_async._validation import check_message_id, check_options, check_prompt

from .journal import Entry, StoredRequest

__all__ = [
    "InpaintRequest",
    "InputItem",
    "InputProblem",
    "JsonlInput",
    "chunks",
    "prepare",
    "read_jsonl",
    "stored_digest",
]

_FIELDS: Final = {
    "parent": "parent",
    "messageId": "parent",
    "mask": "mask",
    "prompt": "prompt",
    "ref": "ref",
    "timeout": "job_timeout",
    "job_timeout": "job_timeout",
    "webhookOverride": "webhook_override",
    "webhook_override": "webhook_override",
}


@attrs.frozen(kw_only=True)
class InpaintRequest:
    """One inpainting request of a batch: ``Vary (Region)`` on ``parent`` with ``mask``.

    Attributes:
        parent: the messageId of the upscaled image to edit.
        mask: the mask: a path, image bytes, base64 text, or a ``Mask`` (any ``MaskInput``).
        prompt: what to draw in the region.
        ref: your key for this request (unique in the batch); default: a hash of the request.
        job_timeout: server-side job timeout, 10 to 900 seconds (``timeout`` in JSONL input).
        webhook_override: where ImaginePro posts the result.
        line: where the request came from (a line number), for messages; not part of its identity.
    """

    parent: str
    mask: MaskInput
    prompt: str | None = None
    ref: str | None = None
    job_timeout: int | None = None
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
                that is neither base64 of an image nor an existing file.
        """
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"expected a JSON object, got {type(data).__name__}")
        unknown = sorted(k for k in data if k not in _FIELDS)
        if unknown:
            raise InvalidInputError(
                f"unknown field {unknown[0]!r}; the fields are parent, mask, prompt, ref, timeout, "
                "webhookOverride"
            )
        values = {_FIELDS[name]: value for name, value in data.items()}
        for required in ("parent", "mask"):
            if values.get(required) is None:
                raise InvalidInputError(f"the field {required!r} is missing")
        check_message_id(values["parent"], "parent")
        check_options(
            ref=values.get("ref"),
            webhook_override=values.get("webhook_override"),
            job_timeout=values.get("job_timeout"),
            timeout_name="timeout",
        )
        mask = values["mask"]
        if not isinstance(mask, str) or not mask.strip():
            raise InvalidInputError("mask must be a file path or base64 text (a non-empty string)")
        return cls(
            parent=values["parent"],
            mask=read_mask_text(mask.strip(), base_dir=base_dir or Path.cwd()),
            prompt=values.get("prompt"),
            ref=values.get("ref"),
            job_timeout=values.get("job_timeout"),
            webhook_override=values.get("webhook_override"),
            line=line,
        )


InputItem = InpaintRequest | InputProblem | Mapping[str, Any]


class JsonlInput:
    """A JSONL file of requests, read line by line (never whole) each time it is iterated.

    Blank lines and lines starting with ``#`` are skipped. Relative mask paths start from the
    file's folder. A line that is not a valid request becomes an ``InputProblem`` with its line
    number, so one bad line does not stop the others.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lines_read = 0  # by the latest pass

    def __iter__(self) -> Iterator[InpaintRequest | InputProblem]:
        base_dir = self.path.resolve().parent
        self._lines_read = 0
        with self.path.open("rb") as stream:
            for number, raw in enumerate(stream, 1):
                self._lines_read = number
                text = raw.decode("utf-8", "replace").strip()
                if text and not text.startswith("#"):
                    yield _parse_line(text, number, base_dir)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"<JsonlInput path={str(self.path)!r} lines_read={self._lines_read}>"


def _parse_line(text: str, number: int, base_dir: Path) -> InpaintRequest | InputProblem:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return InputProblem(line=number, reason=f"not valid JSON ({exc})")
    try:
        return InpaintRequest.from_mapping(data, line=number, base_dir=base_dir)
    except InvalidInputError as exc:
        ref = data.get("ref") if isinstance(data, dict) else None
        return InputProblem(line=number, reason=str(exc), ref=ref if isinstance(ref, str) else None)


async def read_jsonl(path: str | os.PathLike[str]) -> list[InpaintRequest | InputProblem]:
    """Read a whole JSONL file of inpainting requests (for a streamed read, pass ``JsonlInput``).

    Raises:
        OSError: the file cannot be read.
    """
    return await anyio.to_thread.run_sync(list, JsonlInput(path))


def _mask_bytes(mask: object) -> tuple[str | None, bytes]:
    """The mask as ``(path, bytes)``: path set for a file (its bytes read to hash them)."""
    if isinstance(mask, str):
        mask = read_mask_text(mask)
    if isinstance(mask, os.PathLike):
        path = Path(mask).expanduser().resolve()
        try:
            return str(path), path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read the mask file {path}: {exc.strerror}") from exc
    if isinstance(mask, bytes | bytearray | memoryview):
        return None, bytes(mask)
    if not isinstance(mask, Mask):
        mask = Mask.coerce(mask)  # type: ignore[arg-type]
    return None, base64.b64decode(mask.to_base64())


def prepare(item: object, index: int) -> Entry | InputProblem:
    """Validate one input item (what the client would refuse) and give its journal entry."""
    if isinstance(item, InputProblem):
        return item
    line = item.line if isinstance(item, InpaintRequest) else index
    try:
        request = item if isinstance(item, InpaintRequest) else _from_item(item, index)
        check_message_id(request.parent, "parent")
        check_prompt(request.prompt, required=False)
        check_options(
            ref=request.ref,
            webhook_override=request.webhook_override,
            job_timeout=request.job_timeout,
        )
        if request.ref is not None and not request.ref.strip():
            raise InvalidInputError("ref is empty: leave it out, or give a unique name")
        path, data = _mask_bytes(request.mask)
    except (InvalidInputError, TypeError) as exc:
        return InputProblem(line=line, reason=str(exc))
    digest = _digest(request, data)
    stored = StoredRequest(
        parent=request.parent,
        prompt=request.prompt,
        timeout=request.job_timeout,
        webhook_override=request.webhook_override,
        mask_path=path,
        mask_data=None if path is not None else data,
    )
    key = request.ref if request.ref is not None else f"req-{digest[:16]}"
    return Entry(
        key=key, digest=digest, line=line, request=stored, keyed_by_hash=request.ref is None
    )


def _from_item(item: object, index: int) -> InpaintRequest:
    if not isinstance(item, Mapping):
        raise InvalidInputError(
            f"a request must be an InpaintRequest or a mapping, got {type(item).__name__}"
        )
    return InpaintRequest.from_mapping(item, line=index)


def _digest(request: InpaintRequest, mask: bytes) -> str:
    return stored_digest(
        StoredRequest(
            parent=request.parent,
            prompt=request.prompt,
            timeout=request.job_timeout,
            webhook_override=request.webhook_override,
            mask_path=None,
            mask_data=None,
        ),
        mask,
    )


def stored_digest(request: StoredRequest, mask: bytes) -> str:
    """The digest of a request as the journal keeps it, with its mask's bytes."""
    identity = {
        "parent": request.parent,
        "mask": "b:" + hashlib.sha256(mask).hexdigest(),
        "prompt": request.prompt,
        "timeout": request.timeout,
        "webhookOverride": request.webhook_override,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


async def chunks(
    source: Iterable[Any] | AsyncIterable[Any], size: int
) -> AsyncIterator[list[Entry | InputProblem]]:
    """The input prepared ``size`` items at a time (files and masks read in a worker thread)."""
    if isinstance(source, AsyncIterable):
        index = 0
        batch: list[Any] = []
        async for item in source:
            batch.append(item)
            if len(batch) >= size:
                yield await anyio.to_thread.run_sync(_prepare_all, batch, index)
                index += len(batch)
                batch = []
        if batch:
            yield await anyio.to_thread.run_sync(_prepare_all, batch, index)
        return
    iterator = iter(source)
    index = 0
    while True:
        prepared = await anyio.to_thread.run_sync(_next_prepared, iterator, index, size)
        if not prepared:
            return
        index += len(prepared)
        yield prepared


def _prepare_all(items: list[Any], start: int) -> list[Entry | InputProblem]:
    return [prepare(item, start + n) for n, item in enumerate(items, 1)]


def _next_prepared(iterator: Iterator[Any], start: int, size: int) -> list[Entry | InputProblem]:
    prepared: list[Entry | InputProblem] = []
    for item in iterator:
        prepared.append(prepare(item, start + len(prepared) + 1))
        if len(prepared) >= size:
            break
    return prepared
