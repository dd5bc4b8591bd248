"""The ``imaginepro-async`` commands for single jobs and reads: from a prompt to an inpainting.

``imagine``, ``upscale``, ``vary``, ``press``, ``inpaint``, ``describe``, ``blend``, ``flux`` submit
a job and follow it with a live display; ``wait`` and ``show`` follow or show an existing one;
``account``, ``history`` and ``check-prompt`` read. A parent job is fetched once before a button is
pressed on it, so that the client checks the button (and an inpaint's mask against the parent's
image) before anything is paid for.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from imaginepro_async._errors import JobFailedError, NotFoundError
from imaginepro_async._models import Button, Message

from .common import (
    CONVERTER,
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    UsageError,
    check_input_file,
    check_output_file,
    client_for,
    err,
    live,
)

if TYPE_CHECKING:
    from imaginepro_async._client import ImagineProClient
    from imaginepro_async._jobs import Job

__all__ = ["COMMANDS", "Run", "add_parsers", "run"]


class Phase(enum.Enum):
    IDLE = "idle"
    SUBMITTING = "submitting"
    FOLLOWING = "following"


@attrs.define
class Run:
    """Where a command is, so that Ctrl-C can say what became of the job."""

    phase: Phase = Phase.IDLE
    message_id: str | None = None
    download: str | None = None

    async def post(self, submission: Coroutine[Any, Any, Job]) -> Job:
        """Await a job-creating call, remembering that it is in flight, then the job it made."""
        self.phase = Phase.SUBMITTING
        job = await submission
        self.phase, self.message_id = Phase.FOLLOWING, job.message_id
        err(f"submitted {job.message_id}")
        return job

    def interrupted(self) -> str:
        """What to tell the user after Ctrl-C."""
        if self.phase is Phase.SUBMITTING:
            return (
                "interrupted while submitting: the job may or may not have been created (and "
                f"charged); look at `{PROG} history` before submitting it again"
            )
        if self.phase is Phase.FOLLOWING and self.message_id:
            again = f" --download {self.download}" if self.download else ""
            return (
                f"interrupted: job {self.message_id} goes on on the server (it is paid for); "
                f"follow it with: {PROG} wait {self.message_id}{again}"
            )
        return "interrupted; nothing was submitted"


# -- argument parsing ----------------------------------------------------------------------------


def _options() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The options of commands that follow a job, and of those that also create one."""
    output = argparse.ArgumentParser(add_help=False)
    group = output.add_argument_group("output")
    # Exclusive: one prints the whole Message, the other only its id; neither may silently win.
    either = group.add_mutually_exclusive_group()
    either.add_argument("--json", action="store_true", help="print the final Message as JSON")
    either.add_argument("-q", "--quiet", action="store_true", help="print only the messageId")
    group.add_argument(
        "--download", metavar="FILE", default=None, help="save the (first) image there"
    )
    submit = argparse.ArgumentParser(add_help=False, parents=[output])
    group = submit.add_argument_group("job")
    group.add_argument("--ref", default=None, help="your reference, echoed in the result")
    group.add_argument("--webhook", default=None, help="post the result to this URL too")
    group.add_argument(
        "--job-timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help="server-side job timeout, 10 to 900 s (the server's default: 900)",
    )
    group.add_argument(
        "--no-wait", action="store_true", help="print the messageId and exit without waiting"
    )
    return output, submit


def add_parsers(commands: Any, api: argparse.ArgumentParser) -> None:
    """Add the job and read subcommands to ``commands`` (``api``: the connection options)."""
    output, submit = _options()
    job = [api, submit]
    sub = commands.add_parser("imagine", parents=job, help="start an image grid from a prompt")
    sub.add_argument("prompt", help="what to draw (image-to-image: start with an image URL)")
    sub.add_argument("--no-cdn", action="store_true", help="skip the CDN upload")
    for name, text in (("upscale", "upscale image N of a grid (U1..U4)"),
                       ("vary", "variations of image N of a grid (V1..V4)")):  # fmt: skip
        sub = commands.add_parser(name, parents=job, help=text)
        sub.add_argument("parent", metavar="ID", help="the grid's messageId")
        sub.add_argument("index", type=int, choices=range(1, 5), metavar="N", help="1 to 4")
    sub = commands.add_parser("press", parents=job, help="press any button on a finished job")
    sub.add_argument("parent", metavar="ID", help="the job's messageId")
    sub.add_argument("button", help="the button, exactly as shown (e.g. 'Zoom Out 2x')")
    sub.add_argument("--prompt", default=None, help="a prompt for the button, if it takes one")
    sub.add_argument("--no-cdn", action="store_true", help="skip the CDN upload")
    sub = commands.add_parser(
        "inpaint", parents=job, help="redraw the masked region of an upscaled image"
    )
    sub.add_argument("--parent", required=True, help="messageId of the upscaled image")
    sub.add_argument("--mask", required=True, help="the mask image (white = redraw)")
    sub.add_argument("--prompt", default=None, help="what to draw in the region")
    sub.add_argument(
        "--resize-mask", action="store_true", help="resize a mask of another size to the image's"
    )
    sub = commands.add_parser("describe", parents=job, help="four prompts for an image")
    sub.add_argument("url", help="the image's http(s) URL")
    sub = commands.add_parser("blend", parents=job, help="blend 2 to 5 images into a grid")
    sub.add_argument("urls", nargs="+", metavar="URL", help="the images' http(s) URLs")
    sub = commands.add_parser("flux", parents=job, help="images from a prompt with Flux")
    sub.add_argument("prompt", help="what to draw")
    sub.add_argument("-n", type=int, default=None, help="how many images, 1 to 4")

    sub = commands.add_parser("wait", parents=[api, output], help="follow a job to its end")
    sub.add_argument("message_id", metavar="ID", help="the job's messageId")
    sub = commands.add_parser("show", parents=[api], help="show a job's state once")
    sub.add_argument("message_id", metavar="ID", help="the job's messageId")
    sub.add_argument("--json", action="store_true", help="print the Message as JSON")
    sub = commands.add_parser("account", parents=[api], help="the plan and its credits")
    sub.add_argument("--json", action="store_true", help="print it as JSON")
    sub = commands.add_parser("history", parents=[api], help="the jobs of the last 24 hours")
    sub.add_argument("--page", type=_positive, default=1, help="page, from 1 (1)")
    sub.add_argument("--size", type=_positive, default=10, help="entries per page (10)")
    sub.add_argument("--json", action="store_true", help="print them as JSON")
    sub = commands.add_parser(
        "check-prompt", parents=[api], help="ask whether a prompt would be accepted"
    )
    sub.add_argument("prompt", help="the prompt")
    sub.add_argument("--json", action="store_true", help="print the verdict as JSON")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return value


# -- submitting ----------------------------------------------------------------------------------

_Submit = Callable[["ImagineProClient", argparse.Namespace, Run], Awaitable["Job"]]


async def _parent(client: ImagineProClient, message_id: str) -> Message:
    """The parent job's Message, fetched once: the client then checks buttons and mask sizes."""
    try:
        return await client.fetch(message_id)
    except NotFoundError:
        raise UsageError(f"no job {message_id} on this account (the server answered 404)") from None


def _common(args: argparse.Namespace) -> dict[str, Any]:
    return {"ref": args.ref, "webhook_override": args.webhook, "job_timeout": args.job_timeout}


async def _imagine(client: ImagineProClient, args: argparse.Namespace, run: Run) -> Job:
    cdn = True if args.no_cdn else None
    return await run.post(client.imagine(args.prompt, disable_cdn=cdn, **_common(args)))


async def _upscale(client: ImagineProClient, args: argparse.Namespace, run: Run) -> Job:
    parent = await _parent(client, args.parent)
    return await run.post(client.upscale(parent, args.index, **_common(args)))


async def _vary(client: ImagineProClient, args: argparse.Namespace, run: Run) -> Job:
    parent = await _parent(client, args.parent)
    return await run.post(client.vary(parent, args.index, **_common(args)))


async def _press(client: ImagineProClient, args: argparse.Namespace, run: Run) -> Job:
    if args.button == Button.VARY_REGION:
        raise UsageError(f"Vary (Region) needs a mask: use {PROG} inpaint --parent ID --mask FILE")
    parent = await _parent(client, args.parent)
    cdn = True if args.no_cdn else None
    return await run.post(
        client.press(parent, args.button, prompt=args.prompt, disable_cdn=cdn, **_common(args))
    )


async def _inpaint(client: ImagineProClient, args: argparse.Namespace, run: Run) -> Job:
    mask = check_input_file(Path(args.mask), "--mask")
    parent = await _parent(client, args.parent)
    return await run.post(
        client.inpaint(
            parent, mask, prompt=args.prompt, resize_mask=args.resize_mask, **_common(args)
        )
    )


async def _describe(client: ImagineProClient, args: argparse.Namespace, run: Run) -> Job:
    return await run.post(client.describe(args.url, **_common(args)))


async def _blend(client: ImagineProClient, args: argparse.Namespace, run: Run) -> Job:
    if args.job_timeout is not None:
        raise UsageError("blend takes no --job-timeout (the API has no job timeout for blends)")
    return await run.post(client.blend(args.urls, ref=args.ref, webhook_override=args.webhook))


async def _flux(client: ImagineProClient, args: argparse.Namespace, run: Run) -> Job:
    return await run.post(client.flux.imagine(args.prompt, n=args.n, **_common(args)))


COMMANDS: Final[dict[str, _Submit]] = {
    "imagine": _imagine,
    "upscale": _upscale,
    "vary": _vary,
    "press": _press,
    "inpaint": _inpaint,
    "describe": _describe,
    "blend": _blend,
    "flux": _flux,
}


async def run(args: argparse.Namespace, state: Run) -> int:
    """Run a job or read command; returns the exit status."""
    command: str = args.command
    if getattr(args, "download", None):
        state.download = str(check_output_file(Path(args.download), "--download"))
    async with client_for(args) as client:
        if command in COMMANDS:
            job = await COMMANDS[command](client, args, state)
            if args.no_wait:
                print(job.message_id, flush=True)
                return EXIT_OK
            return await _finish(client, job, args)
        if command == "wait":
            state.phase, state.message_id = Phase.FOLLOWING, args.message_id
            return await _finish(client, client.job(args.message_id), args)
        return await _read(client, args)


# -- following and printing ----------------------------------------------------------------------


async def _finish(client: ImagineProClient, job: Job, args: argparse.Namespace) -> int:
    await _follow(job)
    try:
        message = await job
    except JobFailedError as exc:
        if exc.message is not None:
            _print_message(exc.message, args)
        err(f"error: {exc}")
        return EXIT_FAILED
    if args.download:
        if not message.image_urls:
            err("error: the result has no image URL to download")
            return EXIT_FAILED
        path = await client.download(message, to=Path(args.download))
        err(f"saved {path}")
    _print_message(message, args)
    return EXIT_OK


async def _follow(job: Job) -> None:
    if live():
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
    last: tuple[str, int] | None = None
    async for update in job.updates(every=2.0):
        mark = piped_mark(update)
        if mark != last:
            err(f"{job.message_id} {update.status.value} {update.progress}%")
            last = mark


#: Piped, a job prints a line when its status changes and when its progress crosses a multiple of
#: this: about seven lines a job (a script still sees that a long job moves), not one per poll.
PIPED_STEP: Final = 25


def piped_mark(update: Message) -> tuple[str, int]:
    """What must change for a piped progress line to be printed: the status, or the 25 % step."""
    return update.status.value, min(max(update.progress, 0), 100) // PIPED_STEP


def _json(value: object) -> None:
    print(json.dumps(CONVERTER.unstructure(value), ensure_ascii=False), flush=True)


def _print_message(message: Message, args: argparse.Namespace) -> None:
    if getattr(args, "quiet", False):
        print(message.message_id, flush=True)
        return
    if args.json:
        _json(message)
        return
    print(f"messageId: {message.message_id}")
    print(f"status:    {message.status.value} ({message.progress}%)")
    if message.error:
        print(f"error:     {message.error}")
    if message.prompt:
        print(f"prompt:    {message.prompt}")
    if message.uri:
        print(f"uri:       {message.uri}")
    for n, image in enumerate(message.images, 1):
        print(f"image {n}:   {image}")
    if message.buttons:
        print(f"buttons:   {' '.join(message.buttons)}")
    sys.stdout.flush()


async def _read(client: ImagineProClient, args: argparse.Namespace) -> int:
    command: str = args.command
    if command == "show":
        _print_message(await client.fetch(args.message_id), args)
        return EXIT_OK
    if command == "account":
        info = await client.account()
        if args.json:
            _json(info)
            return EXIT_OK
        for name, value in attrs.asdict(info).items():
            print(f"{name + ':':<15}{'' if value is None else value}")
        return EXIT_OK
    if command == "history":
        entries = await client.history(page=args.page, size=args.size)
        if args.json:
            _json(entries)
            return EXIT_OK
        for entry in entries:
            when = entry.created_at.isoformat(timespec="seconds") if entry.created_at else "?"
            what = entry.button or entry.type or "?"
            print(f"{when}  {entry.id}  {what}  {entry.prompt or ''}".rstrip())
        if not entries:
            err("no jobs in the last 24 hours on this page")
        return EXIT_OK
    verdict = await client.check_prompt(args.prompt)
    if args.json:
        _json(verdict)
    else:
        print("accepted" if verdict.ok else f"refused: {verdict.message or verdict.status}")
    return EXIT_OK if verdict.ok else EXIT_FAILED
