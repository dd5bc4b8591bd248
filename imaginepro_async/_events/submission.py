"""A submission reported to the client's hooks: ``SubmissionStarted``, then ``JobSubmitted`` with
its messageId or ``SubmissionFailed`` with the error, timed from its start (admission and budget
waits included), all in the caller's task."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

from .hooks import Emitter
from .records import JobSubmitted, SubmissionFailed, SubmissionStarted

__all__ = ["reported"]


class Submitted(Protocol):
    """What a submission returns (a ``Job``), as far as its report needs."""

    @property
    def message_id(self) -> str: ...

    @property
    def cost(self) -> int | None: ...


SubmittedT = TypeVar("SubmittedT", bound=Submitted)


async def reported(
    emitter: Emitter, run: Awaitable[SubmittedT], *, endpoint: str, kind: str, model: str | None
) -> SubmittedT:
    """Await the submission ``run``, reporting how it ended."""
    if emitter.submission_started is not None:
        emitter.submission_started(SubmissionStarted(endpoint=endpoint, kind=kind, model=model))
    started = time.perf_counter()
    try:
        job = await run
    except BaseException as exc:
        if emitter.submission_failed is not None:
            emitter.submission_failed(
                SubmissionFailed(
                    endpoint=endpoint,
                    kind=kind,
                    model=model,
                    duration=time.perf_counter() - started,
                    error=type(exc).__name__,
                )
            )
        raise
    if emitter.job_submitted is not None:
        emitter.job_submitted(
            JobSubmitted(
                message_id=job.message_id,
                endpoint=endpoint,
                kind=kind,
                model=model,
                cost=job.cost,
                duration=time.perf_counter() - started,
            )
        )
    return job
