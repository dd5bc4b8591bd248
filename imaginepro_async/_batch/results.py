"""A batch's records (results, progress, summary, state) and its files on disk (downloads)."""

from __future__ import annotations

import enum
import hashlib
import re
from pathlib import Path
from typing import Any, Final

import anyio
import attrs

from imaginepro_async._converters import make_converter
from imaginepro_async._models import Message

from .journal import RequestState, Row

__all__ = [
    "ACTIVE_STATES",
    "BatchProgress",
    "BatchResult",
    "BatchState",
    "BatchSummary",
    "clean_part_files",
    "file_stem",
    "files_present",
    "row_result",
]

_UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]")
_PART_FILE: Final = re.compile(r"\..+\.[0-9a-f]{8}\.part")
ACTIVE_STATES: Final = (RequestState.PENDING, RequestState.SUBMITTING, RequestState.SUBMITTED)
_CONVERTER: Final = make_converter()


class BatchState(enum.Enum):
    """A batch's life: new, running (inside ``async with``), closed."""

    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


@attrs.frozen(kw_only=True)
class BatchResult:
    """What became of one request: reported as data, failures included.

    Attributes:
        key: the request's key in the journal (its ``ref``, or ``req-`` and a hash).
        line: where the request came from.
        state: ``done``, ``failed``, ``uncertain`` or ``invalid`` (``submitted`` only when the
            journal could not record the job: its ``message_id`` is then the one record of it).
        message_id: the job's messageId, once known.
        message: the final Message (for ``done``, and ``failed`` jobs that ended FAIL).
        error: why it did not succeed.
        files: where its images were saved, when downloads were asked for.
        download_error: why its images could not be saved.
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
    counts: dict[RequestState, int]
    finished_this_run: int
    elapsed: float
    throughput: float | None
    eta: float | None
    halted: str | None = None

    @property
    def remaining(self) -> int:
        """Requests still to end in this run (pending, submitting or submitted)."""
        return sum(self.counts[s] for s in ACTIVE_STATES)

    @property
    def finished(self) -> int:
        """Requests in a final state (done, failed, uncertain, invalid)."""
        return self.total - self.remaining


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


def row_result(row: Row, state: RequestState, **fields: Any) -> BatchResult:
    """The result of ``row`` in ``state``, with the other fields given."""
    return BatchResult(key=row.key, line=row.line, state=state, **fields)


def file_stem(key: str) -> str:
    safe = _UNSAFE_NAME.sub("_", key)[:80].lstrip(".") or "result"
    if safe != key:
        safe += "-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    return safe


def clean_part_files(directory: Path) -> None:
    """Remove the temporary files of downloads that a killed run left behind."""
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        return
    for entry in directory.iterdir():
        if _PART_FILE.fullmatch(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)


async def files_present(files: tuple[str, ...] | None) -> bool:
    if files is None:
        return False
    for file in files:
        if not await anyio.Path(file).is_file():
            return False
    return True
