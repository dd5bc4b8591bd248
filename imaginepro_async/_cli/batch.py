"""The ``imaginepro-async batch`` command: a JSONL file of inpaints, resumable, with progress."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.abc

from imaginepro_async._batch.batch import (
    Batch,
    BatchProgress,
    BatchResult,
    BatchSummary,
    JsonlInput,
)
from imaginepro_async._batch.journal import RequestState
from imaginepro_async._errors import BatchInputError, JournalMismatchError

from .common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    OutputWriteError,
    UsageError,
    cli_terms,
    client_for,
    default_journal,
)
from .common import duration as _duration
from .common import err as _err
from .common import live as _live

__all__ = ["add_parser", "run"]

_UsageError = UsageError
_client = client_for
_STATE_ORDER: Final = (
    RequestState.DONE,
    RequestState.SUBMITTED,
    RequestState.SUBMITTING,
    RequestState.PENDING,
    RequestState.FAILED,
    RequestState.UNCERTAIN,
    RequestState.INVALID,
)


def add_parser(commands: Any, api: argparse.ArgumentParser) -> None:
    """Add the ``batch`` subcommand to ``commands`` (``api``: the connection options)."""
    batch = commands.add_parser(
        "batch", parents=[api], help="run a JSONL file of inpainting requests, resumable"
    )
    batch.add_argument("input", help="the requests, one JSON object per line")
    batch.add_argument(
        "--journal",
        default=None,
        help="the SQLite journal to resume from (default: one per input file in "
        "$XDG_STATE_HOME/imaginepro-async/journals)",
    )
    batch.add_argument(
        "--out", default="-", help="write one JSON result per line there (default: stdout)"
    )
    batch.add_argument("--download", metavar="DIR", default=None, help="save result images there")
    batch.add_argument(
        "--strict", action="store_true", help="refuse to start if any line is invalid"
    )
    batch.add_argument(
        "--resubmit-uncertain",
        action="store_true",
        help="send again requests whose submission is uncertain (they may be paid for twice)",
    )
    batch.add_argument(
        "--reconcile",
        action="store_true",
        help="only look the uncertain requests up in the account's history (adopt a job found, "
        "mark one never created to be sent by the next run); send nothing",
    )
    batch.add_argument(
        "--retry-failed", action="store_true", help="send again requests whose job ended FAIL"
    )
    batch.add_argument(
        "--max-in-flight", type=int, default=100, help="jobs running at once at most (100)"
    )
    batch.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        help="seconds between progress lines when not on a terminal (10)",
    )


def _counts_text(progress: BatchProgress) -> str:
    counts = progress.counts
    parts = [f"{state.value} {counts[state]}" for state in _STATE_ORDER if counts[state]]
    return " · ".join(parts) or "nothing to do"


def _progress_line(progress: BatchProgress) -> str:
    rate = "?" if progress.throughput is None else f"{progress.throughput * 60:.1f}/min"
    return (
        f"progress: {progress.finished}/{progress.total} ended ({_counts_text(progress)}); "
        f"rate {rate}; ETA {_duration(progress.eta)}"
    )


async def run(args: argparse.Namespace) -> int:
    """Run ``imaginepro-async batch``; returns the exit status."""
    source = Path(args.input)
    if args.max_in_flight < 1:
        raise _UsageError("--max-in-flight must be at least 1")
    if args.reconcile and args.resubmit_uncertain:
        raise _UsageError(
            "--reconcile looks uncertain requests up; --resubmit-uncertain resends "
            "them without looking: give one of them"
        )
    if not await anyio.Path(source).is_file():
        raise _UsageError(f"cannot read {source}: no such file")
    journal = Path(args.journal) if args.journal else default_journal(source)
    async with _client(args) as client:
        batch = Batch(
            client,
            JsonlInput(source),
            journal=journal,
            download_dir=args.download,
            resubmit_uncertain=args.resubmit_uncertain,
            retry_failed=args.retry_failed,
            strict=args.strict,
            max_in_flight=args.max_in_flight,
            source=str(source),
            reconcile_only=args.reconcile,
        )
        summary, interrupted = await _run_batch(batch, args)
    _report(summary, journal, args)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if summary.ok else EXIT_FAILED


class _Results:
    """The ``--out`` file: opened only once the journal is checked; only whole lines in it.

    Each line goes out in one ``write`` to a file opened for appending, so a kill leaves whole
    lines; a short write (disk full) is cut back to the last whole line.
    """

    def __init__(self, path: str) -> None:
        self._fd: int | None = None
        if path != "-":
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)

    def write(self, result: BatchResult) -> None:
        data = result.to_json()
        if data.get("error"):
            data["error"] = cli_terms(data["error"])  # a JSONL line's mask is a path or base64
        line = (json.dumps(data, ensure_ascii=False) + "\n").encode()
        if self._fd is None:
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            return
        size = os.fstat(self._fd).st_size
        try:
            written = 0
            while written < len(line):  # a short write is followed by one that says why
                step = os.write(self._fd, line[written:])
                if step == 0:
                    raise OSError("short write (is the disk full?)")
                written += step
        except OSError:
            os.ftruncate(self._fd, size)
            raise

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


async def _run_batch(batch: Batch, args: argparse.Namespace) -> tuple[BatchSummary, bool]:
    interrupted = False

    async def watch_signals(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        nonlocal interrupted
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for _ in signals:
                if interrupted:
                    _err("stopping now; a submission in flight will be reported as uncertain")
                    batch.stop(force=True)
                    continue
                interrupted = True
                _err(
                    "stopping: no new submissions; jobs already submitted go on on the server "
                    "and the next run re-attaches them (Ctrl-C again to stop at once)"
                )
                batch.stop()

    async with anyio.create_task_group() as signals:
        await signals.start(watch_signals)  # in place before the journal is opened
        try:
            async with batch:
                # The journal's checks passed: only now may --out be truncated.
                out = _Results(args.out)
                try:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(_display, batch, args.progress_every)
                        async for result in batch:
                            try:
                                out.write(result)
                            except OSError as exc:
                                batch.stop()
                                raise OutputWriteError(_unwritten(batch, args, exc)) from exc
                            if not result.ok and not result.resumed:
                                _err(_problem_line(result))
                        tg.cancel_scope.cancel()
                finally:
                    out.close()
        except (BatchInputError, JournalMismatchError) as exc:
            raise _UsageError(str(exc)) from exc
        finally:
            signals.cancel_scope.cancel()
    return batch.summary(), interrupted


def _unwritten(batch: Batch, args: argparse.Namespace, exc: OSError) -> str:
    """What happened when ``--out`` could not be written mid-run, and how to go on."""
    counts = batch.snapshot().counts
    sent = sum(n for state, n in counts.items() if state not in _NEVER_SENT)
    return (
        f"cannot write the results to {args.out} ({exc.strerror or exc}); the batch stopped and "
        f"sends nothing more. {sent} requests were already sent: they are recorded in the journal "
        f"{batch.journal_path}, and their jobs go on on the server. Free space where {args.out} "
        "is (or give another --out), then run the same command again: it resumes from the "
        "journal, sends none of them again, and writes every result anew"
    )


_NEVER_SENT: Final = (RequestState.PENDING, RequestState.INVALID)


def _problem_line(result: BatchResult) -> str:
    where = f"line {result.line}" if result.line is not None else "a request"
    key = f" ({result.key})" if result.key else ""
    reason = cli_terms(result.error or result.download_error or "no reason given")
    return f"{where}{key}: {result.state.value}: {reason}"


def live_layout(progress: BatchProgress, width: int) -> tuple[int, str]:
    """The bar's width and the counts text for a live line of ``width`` columns.

    rich shrinks every column of a line that is too wide, the count first (``3/1…``); here the
    counts text gives way instead, cut at a separator, then the bar (20 columns down to 5).
    """
    count, eta = f"{progress.finished}/{progress.total}", f"ETA {_duration(progress.eta)}"
    fixed = len("batch") + len(count) + len(eta) + 5  # four gaps, and the last column rich keeps
    bar = min(max(width - fixed - 30, 5), 20)
    return bar, _shorten(_counts_text(progress), width - fixed - bar)


def _shorten(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    parts = text.split(" · ")
    while parts and len(" · ".join([*parts, "…"])) > room:
        parts.pop()
    return " · ".join([*parts, "…"]) if room > 0 else ""


def live_columns() -> tuple[Any, ...]:
    """The columns of the live batch line (rich's), in the order ``live_layout`` counts them."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    return (
        TextColumn("batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TextColumn("ETA {task.fields[eta]}"),
    )


async def _display(batch: Batch, every: float) -> None:
    if _live():
        from rich.console import Console
        from rich.progress import Progress

        columns = live_columns()
        console = Console(stderr=True)
        with Progress(*columns, console=console, auto_refresh=False) as bar:
            task = bar.add_task("batch", total=None, counts="", eta="?")
            async for progress in batch.progress(every=0.25):
                columns[1].bar_width, counts = live_layout(progress, console.width)
                bar.update(
                    task,
                    total=progress.total,
                    completed=progress.finished,
                    counts=counts,
                    eta=_duration(progress.eta),
                )
                bar.refresh()
        return
    async for progress in batch.progress(every=every):
        _err(_progress_line(progress))


def _report(summary: BatchSummary, journal: Path, args: argparse.Namespace) -> None:
    progress = summary.progress
    counts = progress.counts
    _err(
        f"{progress.total} requests: {counts[RequestState.DONE]} done, "
        f"{counts[RequestState.FAILED]} failed, {counts[RequestState.UNCERTAIN]} uncertain, "
        f"{counts[RequestState.INVALID]} invalid, {progress.remaining} not finished"
        + (f", {summary.download_errors} downloads failed" if summary.download_errors else "")
        + f" (journal: {journal})"
    )
    if progress.halted:
        _err(f"submitting stopped early: {progress.halted}")
    if counts[RequestState.UNCERTAIN]:
        _err(
            "uncertain requests may or may not have been created (and charged), and the account's "
            "history did not settle them (each says why): check the account's recent jobs, then "
            "rerun with --resubmit-uncertain to send them again"
        )
    if progress.remaining:
        _err("run the same command again to resume")
