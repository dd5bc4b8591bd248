"""The ``imaginepro-async`` command line: inpaint, wait, show, batch, mask, simulate, demo.

Output to a terminal is drawn with rich (the ``[cli]`` extra); output to a pipe is plain lines or
JSON. Exit codes: 0 all done, 1 some jobs failed (or were not done), 2 usage errors and bad input
under ``--strict``, 3 the batch journal could not be written (disk full), 130 interrupted (Ctrl-C; the journal stays consistent and a rerun resumes).
The API key comes from ``--api-key`` or ``IMAGINEPRO_API_KEY`` and is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

import anyio
import anyio.abc

from ._batch import Batch, BatchProgress, BatchResult, BatchSummary, JsonlInput
from ._client import ImagineProClient
from ._converters import make_converter
from ._errors import (
    BatchInputError,
    ImagineProError,
    InvalidInputError,
    JobFailedError,
    JournalBusyError,
    JournalMismatchError,
    JournalWriteError,
)
from ._journal import RequestState

if TYPE_CHECKING:
    from ._jobs import Job
    from ._models import Message

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_JOURNAL: Final = 3
EXIT_INTERRUPTED: Final = 130

_CONVERTER: Final = make_converter()
_STATE_ORDER: Final = (
    RequestState.DONE,
    RequestState.SUBMITTED,
    RequestState.SUBMITTING,
    RequestState.PENDING,
    RequestState.FAILED,
    RequestState.UNCERTAIN,
    RequestState.INVALID,
)


class _UsageError(Exception):
    """A problem with the command line or its input: exit code 2."""


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def _live() -> bool:
    """Draw rich progress on stderr: only to a terminal, and only with rich installed."""
    return _is_tty(sys.stderr) and _rich_available() and os.environ.get("TERM") != "dumb"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


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


# -- argument parsing ----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imaginepro-async",
        description="Inpainting jobs on ImaginePro from the shell: one at a time, or thousands "
        "from a JSONL file, resumable.",
        epilog="The API key comes from --api-key or IMAGINEPRO_API_KEY (prefer the variable: "
        "arguments show in process lists). Exit codes: 0 all done, 1 some failed, 2 usage "
        "errors, 3 the batch journal could not be written, 130 interrupted.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    api = argparse.ArgumentParser(add_help=False)
    group = api.add_argument_group("connection")
    group.add_argument(
        "--api-key", default=None, help="the sk-... key (default: $IMAGINEPRO_API_KEY)"
    )
    group.add_argument(
        "--base-url",
        default=None,
        help="the API's address (default: $IMAGINEPRO_BASE_URL or https://api.imaginepro.ai)",
    )
    group.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="for a simulator running faster than real time: divide every wait by this (1)",
    )

    inpaint = commands.add_parser(
        "inpaint", parents=[api], help="redraw the masked region of an upscaled image"
    )
    inpaint.add_argument("--parent", required=True, help="messageId of the upscaled image")
    inpaint.add_argument("--mask", required=True, help="the mask image (white = redraw)")
    inpaint.add_argument("--prompt", default=None, help="what to draw in the region")
    inpaint.add_argument("--ref", default=None, help="your reference, echoed in the result")
    inpaint.add_argument("--download", metavar="FILE", default=None, help="save the image there")
    inpaint.add_argument("--json", action="store_true", help="print the final Message as JSON")

    for name, text in (("wait", "wait for a job to end"), ("show", "show a job's state once")):
        sub = commands.add_parser(name, parents=[api], help=text)
        sub.add_argument("message_id", metavar="ID", help="the job's messageId")
        sub.add_argument("--json", action="store_true", help="print the Message as JSON")
        if name == "wait":
            sub.add_argument("--download", metavar="FILE", default=None, help="save the image")

    batch = commands.add_parser(
        "batch", parents=[api], help="run a JSONL file of inpainting requests, resumable"
    )
    batch.add_argument("input", help="the requests, one JSON object per line")
    batch.add_argument(
        "--journal",
        default=None,
        help="the SQLite journal to resume from (default: INPUT.journal.db)",
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

    mask = commands.add_parser("mask", help="draw a mask from shapes, and a preview")
    mask.add_argument("--size", default=None, help="WIDTHxHEIGHT (default: the --image's size)")
    mask.add_argument("--image", default=None, help="the image being edited, for the preview")
    mask.add_argument(
        "--rect", nargs=4, type=float, action="append", default=[], metavar=("L", "T", "R", "B")
    )
    mask.add_argument(
        "--ellipse", nargs=4, type=float, action="append", default=[], metavar=("L", "T", "R", "B")
    )
    mask.add_argument(
        "--polygon",
        nargs="+",
        type=float,
        action="append",
        default=[],
        metavar="X Y",
        help="three or more points: X1 Y1 X2 Y2 X3 Y3 ...",
    )
    mask.add_argument(
        "--relative", action="store_true", help="coordinates are fractions of the size"
    )
    mask.add_argument("--invert", action="store_true", help="select everything but the shapes")
    mask.add_argument("-o", "--out", default="mask.png", help="the mask file (mask.png)")
    mask.add_argument("--preview", default=None, help="also write a preview PNG there")

    commands.add_parser(
        "simulate",
        help="serve a local simulator (options: imaginepro-async simulate --help)",
        add_help=False,
    )
    demo = commands.add_parser("demo", help="run the README demo on an embedded simulator")
    demo.add_argument("--jobs", type=int, default=12, help="how many inpaints (12)")
    demo.add_argument("--time-scale", type=float, default=30.0, help="simulator speed-up (30)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        0 all done, 1 some failed, 2 usage errors, 130 interrupted.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["simulate"]:
        from .testing.__main__ import main as simulate

        return simulate(args_list[1:])
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _exit_code(anyio.run, _dispatch, args)
    finally:
        # A Ctrl-C from here on would only print "Exception ignored" noise during shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _exit_code(run: Callable[..., int], *args: object) -> int:
    """Run the command; map what it raised (unwrapped from exception groups) to an exit code."""
    try:
        return run(*args, backend="asyncio")
    except BaseException as raised:  # every outcome becomes an exit code
        exc = _leaf(raised)
        if isinstance(exc, KeyboardInterrupt):
            _err("interrupted")
            return EXIT_INTERRUPTED
        if isinstance(exc, _UsageError | InvalidInputError | JournalBusyError):
            _err(f"error: {exc}")
            return EXIT_USAGE
        if isinstance(exc, JournalWriteError):
            if exc.message_id is not None:
                _err(f"the job {exc.message_id} was created but is not in the journal")
            _err(f"error: {exc}")
            return EXIT_JOURNAL
        if isinstance(exc, ImagineProError):
            _err(f"error: {exc}")
            return EXIT_FAILED
        raise


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside nested groups of one (a task group's wrapping), else ``exc``."""
    while isinstance(exc, BaseExceptionGroup):
        interrupt = exc.subgroup(KeyboardInterrupt)
        if interrupt is not None:
            return KeyboardInterrupt()
        if len(exc.exceptions) != 1:
            return exc
        exc = exc.exceptions[0]
    return exc


async def _dispatch(args: argparse.Namespace) -> int:
    command: str = args.command
    if command == "inpaint":
        return await _inpaint(args)
    if command == "wait":
        return await _wait(args)
    if command == "show":
        return await _show(args)
    if command == "batch":
        return await _batch(args)
    if command == "mask":
        return await _mask(args)
    from . import demo

    await demo.main(args.jobs, args.time_scale)
    return EXIT_OK


def _client(args: argparse.Namespace) -> ImagineProClient:
    return ImagineProClient(args.api_key, base_url=args.base_url, time_scale=args.time_scale)


# -- single jobs ---------------------------------------------------------------------------------


async def _inpaint(args: argparse.Namespace) -> int:
    mask = Path(args.mask)
    if not await anyio.Path(mask).is_file():
        raise _UsageError(f"mask file not found: {mask}")
    async with _client(args) as client:
        job = await client.inpaint(args.parent, mask, prompt=args.prompt, ref=args.ref)
        _err(f"submitted {job.message_id}")
        return await _finish(client, job, args)


async def _wait(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        return await _finish(client, client.job(args.message_id), args)


async def _show(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        message = await client.fetch(args.message_id)
    _print_message(message, args.json)
    return EXIT_OK


async def _finish(client: ImagineProClient, job: Job, args: argparse.Namespace) -> int:
    await _follow(job)
    try:
        message = await job
    except JobFailedError as exc:
        if exc.message is not None:
            _print_message(exc.message, args.json)
        _err(f"error: {exc}")
        return EXIT_FAILED
    if getattr(args, "download", None):
        if not message.image_urls:
            _err("error: the result has no image URL to download")
            return EXIT_FAILED
        try:
            path = await client.download(message, to=Path(args.download))
        except (ImagineProError, OSError) as exc:
            _err(f"error: {exc}")
            return EXIT_FAILED
        _err(f"saved {path}")
    _print_message(message, args.json)
    return EXIT_OK


async def _follow(job: Job) -> None:
    if _live():
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), auto_refresh=False) as bar:
            task = bar.add_task(f"{job.message_id} waiting", total=100)
            async for update in job.updates(every=2.0):
                label = f"{job.message_id} {update.status.value}"
                bar.update(task, completed=update.progress, description=label)
                bar.refresh()
        return
    last = None
    async for update in job.updates(every=2.0):
        line = f"{job.message_id} {update.status.value} {update.progress}%"
        if line != last:
            _err(line)
            last = line


def _print_message(message: Message, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_CONVERTER.unstructure(message), ensure_ascii=False), flush=True)
        return
    print(f"messageId: {message.message_id}")
    print(f"status:    {message.status.value} ({message.progress}%)")
    if message.error:
        print(f"error:     {message.error}")
    if message.uri:
        print(f"uri:       {message.uri}")
    for n, image in enumerate(message.images, 1):
        print(f"image {n}:   {image}")
    if message.buttons:
        print(f"buttons:   {' '.join(message.buttons)}")
    sys.stdout.flush()


# -- batch ---------------------------------------------------------------------------------------


async def _batch(args: argparse.Namespace) -> int:
    source = Path(args.input)
    if args.max_in_flight < 1:
        raise _UsageError("--max-in-flight must be at least 1")
    if not await anyio.Path(source).is_file():
        raise _UsageError(f"cannot read {source}: no such file")
    journal = Path(args.journal) if args.journal else source.with_name(source.name + ".journal.db")
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
        line = (json.dumps(result.to_json(), ensure_ascii=False) + "\n").encode()
        if self._fd is None:
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            return
        size = os.fstat(self._fd).st_size
        try:
            if os.write(self._fd, line) != len(line):
                raise OSError("short write (is the disk full?)")
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
                            out.write(result)
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


def _problem_line(result: BatchResult) -> str:
    where = f"line {result.line}" if result.line is not None else "a request"
    key = f" ({result.key})" if result.key else ""
    reason = result.error or result.download_error or "no reason given"
    return f"{where}{key}: {result.state.value}: {reason}"


async def _display(batch: Batch, every: float) -> None:
    if _live():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (
            TextColumn("batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TextColumn("ETA {task.fields[eta]}"),
        )
        with Progress(*columns, console=Console(stderr=True), auto_refresh=False) as bar:
            task = bar.add_task("batch", total=None, counts="", eta="?")
            async for progress in batch.progress(every=0.25):
                bar.update(
                    task,
                    total=progress.total,
                    completed=progress.finished,
                    counts=_counts_text(progress),
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
            "uncertain requests may or may not have been created (and charged): check the "
            "account's recent jobs, then rerun with --resubmit-uncertain to send them again"
        )
    if progress.remaining:
        _err("run the same command again to resume")


# -- masks ---------------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise _UsageError(f"--size must be WIDTHxHEIGHT, like 1024x1024; got {text!r}") from None
    return width, height


async def _mask(args: argparse.Namespace) -> int:
    return await anyio.to_thread.run_sync(_draw_mask, args)


def _draw_mask(args: argparse.Namespace) -> int:
    from ._masks import Mask

    source = Path(args.image).read_bytes() if args.image else None
    if args.size:
        size = _size(args.size)
    elif source is not None:
        from ._imageinfo import sniff_image

        info = sniff_image(source, name=str(args.image))
        size = (info.width, info.height)
    else:
        raise _UsageError("give --size WIDTHxHEIGHT, or --image to take its size")
    shapes: list[Mask] = []
    for box in args.rect:
        shapes.append(Mask.rectangle(size, tuple(box), relative=args.relative))
    for box in args.ellipse:
        shapes.append(Mask.ellipse(size, tuple(box), relative=args.relative))
    for flat in args.polygon:
        if len(flat) % 2:
            raise _UsageError("--polygon takes pairs of numbers: X1 Y1 X2 Y2 X3 Y3 ...")
        points = list(zip(flat[::2], flat[1::2], strict=True))
        shapes.append(Mask.polygon(size, points, relative=args.relative))
    if not shapes:
        raise _UsageError("draw at least one shape: --rect, --ellipse or --polygon")
    mask = shapes[0]
    for shape in shapes[1:]:
        mask = mask | shape
    if args.invert:
        mask = ~mask
    out = Path(args.out)
    out.write_bytes(mask.to_png())
    print(f"{out}: {mask}")
    if args.preview:
        if source is None:
            from PIL import Image

            canvas = Image.new("RGB", size, (128, 128, 128))
            preview = mask.preview(canvas)
        else:
            preview = mask.preview(source)
        Path(args.preview).write_bytes(preview)
        print(f"{args.preview}: preview")
    return EXIT_OK
