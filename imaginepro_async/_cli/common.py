"""What every ``imaginepro-async`` command shares: exit codes, messages in CLI terms, output checks."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final, NoReturn

from imaginepro_async._client import ImagineProClient
from imaginepro_async._converters import make_converter
from imaginepro_async._errors import (
    APIConnectionError,
    APIStatusError,
    ExtraNotInstalledError,
    ImagineProError,
    InvalidInputError,
    JobFailedError,
    JournalBusyError,
    JournalWriteError,
    ResponseValidationError,
    SubmissionUncertainError,
)

__all__ = [
    "CONVERTER",
    "EXIT_API",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_JOURNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "OutputWriteError",
    "Parser",
    "UsageError",
    "check_output_file",
    "cli_terms",
    "client_for",
    "default_journal",
    "duration",
    "err",
    "exit_code",
    "is_tty",
    "live",
]

#: The exit codes, documented in one table in docs/guides/cli.md.
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1  # a job ended FAIL, a batch did not end all done, a prompt was refused
EXIT_USAGE: Final = 2  # the command line or its input was refused: nothing was sent
EXIT_API: Final = 3  # the API refused a request, could not be reached, or may have it (uncertain)
# a batch's journal or results file could not be written (disk full, I/O error), or its journal
# was lost under it: what was sent is recorded, the message says how to resume
EXIT_JOURNAL: Final = 4
EXIT_INTERRUPTED: Final = 130  # Ctrl-C

CONVERTER: Final = make_converter()
PROG: Final = "imaginepro-async"


class UsageError(Exception):
    """A problem with the command line or its input: exit code 2, nothing was sent."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (what was wrong, and where ``--help`` is).

    argparse prints the whole usage block before its error, seven lines for ``inpaint``, which
    hides the one that matters; subcommands inherit the class (``add_subparsers``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The subcommands by name (filled by whoever adds them), to name the right ``--help``.
        self.subcommands: Mapping[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_command_line(self, argv: Sequence[str]) -> argparse.Namespace:
        """``parse_args``, but an unknown option is refused by the subcommand it was given to."""
        args, extra = self.parse_known_args(argv)
        if extra:
            where = self.subcommands.get(getattr(args, "command", None) or "", self)
            where.error(f"unrecognized arguments: {' '.join(extra)}")
        return args


class OutputWriteError(Exception):
    """A batch's results could not be written once it had started: exit code 4 (see the text)."""


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def is_tty(stream: IO[str]) -> bool:
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


def live() -> bool:
    """Draw rich progress on stderr: only to a terminal, and only with rich installed."""
    return is_tty(sys.stderr) and _rich_available() and os.environ.get("TERM") != "dumb"


def duration(seconds: float | None) -> str:
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


def client_for(args: argparse.Namespace) -> ImagineProClient:
    return ImagineProClient(args.api_key, base_url=args.base_url, time_scale=args.time_scale)


# -- messages in CLI terms -----------------------------------------------------------------------

# The client's messages name Python arguments; a CLI user knows options. One table, one place.
_TERMS: Final = (
    (re.compile(r"api_key='sk-\.\.\.'"), "--api-key sk-..."),
    (re.compile(r"api_key=\.\.\."), "--api-key"),
    (re.compile(r"\bbase_url\b"), "--base-url"),
    (re.compile(r"\btime_scale\b"), "--time-scale"),
    (re.compile(r"\bwebhook_override\b"), "--webhook"),
    (re.compile(r"\bdisable_cdn must be True or False\b"), "--no-cdn takes no value"),
    (
        re.compile(r"^job_timeout is the server-side job timeout"),
        "--job-timeout is the server-side job timeout",
    ),
    (re.compile(r"\bmax_in_flight\b"), "--max-in-flight"),
    (re.compile(r"(with |pass )relative=True"), r"\1--relative"),
    (re.compile(r"pass relative=False"), "leave out --relative"),
    (re.compile(r"pass a pathlib\.Path to read a file"), "give the path of an existing file"),
    (
        re.compile(
            r"pass (?:resize|resize_mask)=True(?:, or call mask\.resized\([^)]*\)\)? first)?"
        ),
        "pass --resize-mask",
    ),
    (re.compile(r"client\.history\(\)"), f"{PROG} history"),
    (re.compile(r"client\.check_prompt\(prompt\)"), f"`{PROG} check-prompt PROMPT`"),
    (re.compile(r"await it again, or use client\.job\('([^']+)'\) later"), rf"{PROG} wait \1"),
    (re.compile(r"client\.job\('([^']+)'\)"), rf"{PROG} wait \1"),
    (re.compile(r"use client\.inpaint\(parent, mask, prompt=\.\.\.\)"), f"use {PROG} inpaint"),
)


def cli_terms(text: str) -> str:
    """An SDK message with its Python terms (``api_key=``, ``client.job(...)``) in CLI terms."""
    for pattern, replacement in _TERMS:
        text = pattern.sub(replacement, text)
    return text


def exit_code(exc: BaseException) -> int:
    """The exit code of an error that ended a command (see the table in docs/guides/cli.md)."""
    if isinstance(exc, JournalWriteError | OutputWriteError):
        return EXIT_JOURNAL
    if isinstance(exc, UsageError | InvalidInputError | JournalBusyError | ExtraNotInstalledError):
        return EXIT_USAGE
    if isinstance(exc, OSError):
        return EXIT_USAGE  # a local file: aiohttp's errors never escape the client
    if isinstance(exc, JobFailedError):
        return EXIT_FAILED
    if isinstance(
        exc,
        APIStatusError | APIConnectionError | ResponseValidationError | SubmissionUncertainError,
    ):
        return EXIT_API
    if isinstance(exc, ImagineProError):
        return EXIT_FAILED
    return EXIT_FAILED


def describe_error(exc: BaseException) -> str:
    """One line (or a few) for the user, never a traceback."""
    if isinstance(exc, OSError) and not isinstance(exc, ImagineProError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, JournalWriteError) and exc.message_id is not None:
        return (
            f"{cli_terms(str(exc))}\nthe job {exc.message_id} was created but is not in the "
            f"journal: follow it with `{PROG} wait {exc.message_id}`"
        )
    if isinstance(exc, ImagineProError | UsageError | OutputWriteError):
        return cli_terms(str(exc))
    return (
        f"unexpected {type(exc).__name__}: {exc} (please report it; IMAGINEPRO_DEBUG=1 shows where)"
    )


# -- files ---------------------------------------------------------------------------------------


def check_output_file(path: Path, option: str) -> Path:
    """Refuse an output file that cannot be written, before anything is sent (and paid for)."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory; give a file name, like {path / 'x.png'}")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "does not exist"
        raise UsageError(f"{option} {path}: the folder {folder} {what}; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path} cannot be written (permission denied); pick another")
    return path


def check_input_file(path: Path, option: str) -> Path:
    """Refuse an input file that is missing, a directory, or unreadable, naming the option."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory; give a file")
    if not path.is_file():
        raise UsageError(f"{option} {path}: no such file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{option} {path} cannot be read (permission denied)")
    return path


def state_dir() -> Path:
    """Where the CLI keeps its state: ``$XDG_STATE_HOME/imaginepro-async`` (or the platform's)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / PROG


def default_journal(source: Path) -> Path:
    """A batch's journal when none is given: in the state folder (created), named after the input.

    The same input path always gives the same journal (so rerunning the command resumes), and
    nothing is written beside the input (a repository stays clean).
    """
    absolute = str(source.resolve())
    digest = hashlib.sha256(absolute.encode()).hexdigest()[:12]
    folder = state_dir() / "journals"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{source.stem}-{digest}.db"
