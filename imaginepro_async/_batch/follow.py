"""A batch's following side: await each job, record its end, download its images, resume.

``Batch`` inherits it (through ``SubmitMethods``); what it uses of the batch is declared below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from imaginepro_async._converters import make_converter
from imaginepro_async._errors import ClientClosedError, ImagineProError, JobFailedError
from imaginepro_async._models import Message

from .journal import RequestState, Row
from .results import BatchResult, file_stem

if TYPE_CHECKING:
    from collections.abc import Callable

    import anyio
    from anyio.abc import TaskGroup

    from imaginepro_async._client import ImagineProClient
    from imaginepro_async._jobs import Job

    from .journal import Journal

__all__ = ["FollowMethods"]

_CONVERTER: Final = make_converter()


def _dump(message: Message) -> str:
    return json.dumps(_CONVERTER.unstructure(message), ensure_ascii=False)


class FollowMethods:
    """Following the submitted jobs of a batch to their end, and saving their images."""

    if TYPE_CHECKING:
        _client: ImagineProClient
        _download_dir: Path | None
        _max_download_bytes: int
        _downloads: anyio.Semaphore
        _slots: anyio.Semaphore

        @property
        def _db(self) -> Journal: ...
        async def _record(
            self, row: Row, old: RequestState, state: RequestState, **fields: Any
        ) -> None: ...
        async def _emit(self, result: BatchResult) -> None: ...
        async def _guarded(self, work: Callable[..., Any], *args: Any) -> None: ...

    async def _reattach(self, tg: TaskGroup, row: Row) -> None:
        assert row.message_id is not None
        await self._slots.acquire()  # re-attached jobs count in flight too
        tg.start_soon(self._guarded, self._follow, row, row.state, self._client.job(row.message_id))

    def _from_row(self, row: Row) -> BatchResult:
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
            result = self._from_row(row)
            assert result.message is not None
            files, error = await self._download(row.key, result.message)
        finally:
            self._downloads.release()
        await self._emit(attrs.evolve(result, files=files, download_error=error))

    def _result(self, row: Row, state: RequestState, **fields: Any) -> BatchResult:
        return BatchResult(key=row.key, line=row.line, state=state, **fields)

    async def _follow(self, row: Row, old: RequestState, job: Job) -> None:
        try:
            try:
                message = await job
            finally:
                self._slots.release()
        except JobFailedError as exc:
            error = f"the job failed: {exc.error}"
            result = None if exc.message is None else _dump(exc.message)
            await self._record(row, old, RequestState.FAILED, result=result, error=error)
            await self._emit(
                self._result(
                    row, RequestState.FAILED, message_id=job.message_id, message=exc.message,
                    error=error,
                )
            )  # fmt: skip
            return
        except ClientClosedError:
            raise
        except ImagineProError as exc:
            await self._record(row, old, RequestState.FAILED, error=str(exc))
            await self._emit(
                self._result(row, RequestState.FAILED, message_id=job.message_id, error=str(exc))
            )
            return
        await self._record(row, old, RequestState.DONE, result=_dump(message), clear_error=True)
        files, download_error = await self._download(row.key, message)
        await self._emit(
            self._result(
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
            await self._db.record_files(key, None, str(exc))
            return tuple(paths), str(exc)
        await self._db.record_files(key, [str(p) for p in paths], None)
        return tuple(paths), None
