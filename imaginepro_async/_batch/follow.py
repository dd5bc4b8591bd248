"""A batch's following side: await each job, record its end, download its images, resume.

``Batch`` owns one ``Follower``; the submitting side (``submit.py``) hands it each job it created.
It is given what it uses: the client, the run's ``Ledger``, the in-flight slots (a job's slot is
released when it ends), where to save images, and ``guarded`` (the batch's runner for background
work: a failed journal write stops the batch).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import anyio
import attrs

from imaginepro_async._converters import make_converter
from imaginepro_async._errors import ClientClosedError, ImagineProError, JobFailedError
from imaginepro_async._models import Message

from .journal import RequestState, Row
from .results import BatchResult, file_stem, row_result

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from imaginepro_async._client import ImagineProClient
    from imaginepro_async._jobs import Job

    from .ledger import Ledger

__all__ = ["Follower", "Guard"]

Guard: TypeAlias = Callable[..., Coroutine[Any, Any, None]]
"""``guarded(work, *args)``: run one piece of the batch in the background, stopping it cleanly if
the journal cannot be written."""

_CONVERTER: Final = make_converter()
_DOWNLOADS: Final = 4


def _dump(message: Message) -> str:
    return json.dumps(_CONVERTER.unstructure(message), ensure_ascii=False)


class Follower:
    """Following the submitted jobs of a batch to their end, and saving their images."""

    def __init__(
        self,
        client: ImagineProClient,
        ledger: Ledger,
        *,
        slots: anyio.Semaphore,
        guarded: Guard,
        download_dir: Path | None,
        max_download_bytes: int,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._slots = slots
        self._guarded = guarded
        self._download_dir = download_dir
        self._max_download_bytes = max_download_bytes
        self._downloads = anyio.Semaphore(_DOWNLOADS)

    def start(self, tg: TaskGroup, row: Row, old: RequestState, job: Job) -> None:
        """Follow ``job`` (which holds an in-flight slot) in the background."""
        tg.start_soon(self._guarded, self._follow, row, old, job)

    async def reattach(self, tg: TaskGroup, row: Row) -> None:
        """Follow again the job of an earlier run, by its messageId."""
        assert row.message_id is not None
        await self._slots.acquire()  # re-attached jobs count in flight too
        self.start(tg, row, row.state, self._client.job(row.message_id))

    async def redownload(self, tg: TaskGroup, row: Row) -> None:
        """Fetch, in the background, the images a done request of an earlier run is missing."""
        await self._downloads.acquire()
        tg.start_soon(self._guarded, self._resume_download, row)

    def from_row(self, row: Row) -> BatchResult:
        """The result of a request that ended in an earlier run, as the journal has it."""
        message = None
        if row.result is not None:
            message = _CONVERTER.structure(json.loads(row.result), Message)
        return BatchResult(
            key=row.key,
            line=row.line,
            state=row.state,
            message_id=row.message_id,
            message=message,
            error=row.error,
            files=tuple(Path(f) for f in row.files or ()),
            download_error=row.download_error if self._download_dir is not None else None,
            resumed=True,
        )

    async def _resume_download(self, row: Row) -> None:
        try:
            result = self.from_row(row)
            assert result.message is not None
            files, error = await self._download(row.key, result.message)
        finally:
            self._downloads.release()
        await self._ledger.emit(attrs.evolve(result, files=files, download_error=error))

    async def _follow(self, row: Row, old: RequestState, job: Job) -> None:
        ledger = self._ledger
        try:
            try:
                message = await job
            finally:
                self._slots.release()
        except JobFailedError as exc:
            error = f"the job failed: {exc.error}"
            result = None if exc.message is None else _dump(exc.message)
            await ledger.record(row, old, RequestState.FAILED, result=result, error=error)
            await ledger.emit(
                row_result(
                    row, RequestState.FAILED, message_id=job.message_id, message=exc.message,
                    error=error,
                )
            )  # fmt: skip
            return
        except ClientClosedError:
            raise
        except ImagineProError as exc:
            await ledger.record(row, old, RequestState.FAILED, error=str(exc))
            await ledger.emit(
                row_result(row, RequestState.FAILED, message_id=job.message_id, error=str(exc))
            )
            return
        await ledger.record(row, old, RequestState.DONE, result=_dump(message), clear_error=True)
        files, download_error = await self._download(row.key, message)
        await ledger.emit(
            row_result(
                row, RequestState.DONE, message_id=job.message_id, message=message,
                files=files, download_error=download_error,
            )
        )  # fmt: skip

    async def _download(self, key: str, message: Message) -> tuple[tuple[Path, ...], str | None]:
        directory = self._download_dir
        if directory is None:
            return (), None
        urls = message.image_urls
        stem = file_stem(key)
        paths: list[Path] = []
        try:
            if not urls:
                raise OSError("the result has no image URL (was it made with disableCdn?)")
            for n in range(1, len(urls) + 1):
                name = stem if len(urls) == 1 else f"{stem}-{n}"
                path = await self._client.download(
                    message,
                    index=n,
                    max_bytes=self._max_download_bytes,
                    to=lambda extension, name=name: directory / f"{name}.{extension}",  # type: ignore[misc]
                )
                paths.append(path)
        except (ImagineProError, OSError) as exc:
            await self._ledger.record_files(key, None, str(exc))
            return tuple(paths), str(exc)
        await self._ledger.record_files(key, [str(p) for p in paths], None)
        return tuple(paths), None
