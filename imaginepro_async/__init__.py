"""imaginepro-async: an asyncio SDK for ImaginePro's image API.

Submit jobs with ``ImagineProClient``, get awaitable ``Job`` handles back, and let one shared,
rate-limit-aware scheduler follow thousands of them. ``imaginepro_async.testing`` is a local
ImaginePro to test against.

Names are imported on first use (PEP 562), so that ``import imaginepro_async`` and the command
line start fast and a Ctrl-C in their first moments is handled by the CLI, not by the importer.
Only the exceptions are imported at once (``_errors`` needs nothing but the standard library).

Every public class and function presents itself as ``imaginepro_async.X`` (its ``__module__``), as
httpx's and openai's do: in reprs, tracebacks, generated docs, and pickles, which find it here.
"""

from __future__ import annotations

import importlib
import sys
import types
import typing
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from . import _errors  # noqa: F401  (at once, so that tracebacks name imaginepro_async.X)

if TYPE_CHECKING:
    from ._batch.batch import (
        Batch,
        BatchProgress,
        BatchResult,
        BatchSummary,
        InpaintRequest,
        JsonlInput,
        read_jsonl,
    )
    from ._batch.journal import (
        RequestState,
    )
    from ._batch.results import (
        BatchState,
    )
    from ._calls import (
        JobCall,
    )
    from ._client import (
        DEFAULT_BASE_URL,
        ClientState,
        ImagineProClient,
    )
    from ._coordination.budgets import (
        RedisCoordination,
    )
    from ._errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BatchInputError,
        ClientClosedError,
        CoordinationError,
        CreditLimitError,
        ExtraNotInstalledError,
        ImagineProError,
        InputProblem,
        InvalidInputError,
        InvalidMaskError,
        JobCancelledError,
        JobDeadlineError,
        JobError,
        JobFailedError,
        JobTimeoutError,
        JournalBusyError,
        JournalLostError,
        JournalMismatchError,
        JournalWriteError,
        NotAJournalError,
        NotFoundError,
        PromptRefusedError,
        RateLimitError,
        RedirectError,
        RequestRefusedError,
        RequestTooLargeError,
        ResponseValidationError,
        ServerError,
        SubmissionCancelledError,
        SubmissionUncertainError,
    )
    from ._events.hooks import (
        ClientHooks,
    )
    from ._events.records import (
        BudgetWaited,
        JobEnded,
        JobPolled,
        JobSubmitted,
        RateLimited,
        RequestSent,
        ResponseReceived,
        RetryScheduled,
        SubmissionFailed,
        SubmissionHeld,
        SubmissionResumed,
        SubmissionStarted,
    )
    from ._jobs import (
        Job,
        as_completed,
        gather,
    )
    from ._masks.load import (
        load_mask,
    )
    from ._masks.mask import (
        Mask,
        MaskInput,
    )
    from ._models import (
        AccountInfo,
        Button,
        ContentPart,
        DiscordToken,
        HistoryImage,
        ImagePart,
        Message,
        MessageTrace,
        PromptCheck,
        Status,
        TextPart,
        VideoMessage,
        VideoResult,
    )
    from ._pacing.budget import (
        Budget,
        BudgetView,
        Coordination,
        Permit,
        RateLimit,
    )
    from ._pacing.clock import (
        Clock,
    )
    from ._pacing.retry import (
        RetryPolicy,
    )
    from ._scheduling.scheduler import (
        PollPolicy,
    )
    from ._submissions import (
        Submission,
        SubmissionState,
    )

#: Where each public name lives (its module is imported on first use).
_EXPORTS: Final[dict[str, str]] = {
    "DEFAULT_BASE_URL": "_client",
    "APIConnectionError": "_errors",
    "APIStatusError": "_errors",
    "APITimeoutError": "_errors",
    "AccountInfo": "_models",
    "AuthenticationError": "_errors",
    "BadRequestError": "_errors",
    "Batch": "_batch.batch",
    "BatchInputError": "_errors",
    "BatchProgress": "_batch.batch",
    "BatchResult": "_batch.batch",
    "BatchState": "_batch.results",
    "BatchSummary": "_batch.batch",
    "Budget": "_pacing.budget",
    "BudgetView": "_pacing.budget",
    "BudgetWaited": "_events.records",
    "Button": "_models",
    "ClientClosedError": "_errors",
    "ClientHooks": "_events.hooks",
    "ClientState": "_client",
    "Clock": "_pacing.clock",
    "ContentPart": "_models",
    "Coordination": "_pacing.budget",
    "CoordinationError": "_errors",
    "CreditLimitError": "_errors",
    "DiscordToken": "_models",
    "ExtraNotInstalledError": "_errors",
    "HistoryImage": "_models",
    "ImagePart": "_models",
    "ImagineProClient": "_client",
    "ImagineProError": "_errors",
    "InpaintRequest": "_batch.batch",
    "InputProblem": "_errors",
    "InvalidInputError": "_errors",
    "InvalidMaskError": "_errors",
    "Job": "_jobs",
    "JobCall": "_calls",
    "JobCancelledError": "_errors",
    "JobDeadlineError": "_errors",
    "JobEnded": "_events.records",
    "JobError": "_errors",
    "JobFailedError": "_errors",
    "JobPolled": "_events.records",
    "JobSubmitted": "_events.records",
    "JobTimeoutError": "_errors",
    "JournalBusyError": "_errors",
    "JournalLostError": "_errors",
    "JournalMismatchError": "_errors",
    "JournalWriteError": "_errors",
    "JsonlInput": "_batch.batch",
    "Mask": "_masks.mask",
    "MaskInput": "_masks.mask",
    "Message": "_models",
    "MessageTrace": "_models",
    "NotAJournalError": "_errors",
    "NotFoundError": "_errors",
    "Permit": "_pacing.budget",
    "PollPolicy": "_scheduling.scheduler",
    "PromptCheck": "_models",
    "PromptRefusedError": "_errors",
    "RateLimit": "_pacing.budget",
    "RateLimitError": "_errors",
    "RateLimited": "_events.records",
    "RedirectError": "_errors",
    "RedisCoordination": "_coordination.budgets",
    "RequestRefusedError": "_errors",
    "RequestSent": "_events.records",
    "RequestState": "_batch.journal",
    "RequestTooLargeError": "_errors",
    "ResponseReceived": "_events.records",
    "ResponseValidationError": "_errors",
    "RetryPolicy": "_pacing.retry",
    "RetryScheduled": "_events.records",
    "ServerError": "_errors",
    "Status": "_models",
    "Submission": "_submissions",
    "SubmissionCancelledError": "_errors",
    "SubmissionFailed": "_events.records",
    "SubmissionHeld": "_events.records",
    "SubmissionResumed": "_events.records",
    "SubmissionStarted": "_events.records",
    "SubmissionState": "_submissions",
    "SubmissionUncertainError": "_errors",
    "TextPart": "_models",
    "VideoMessage": "_models",
    "VideoResult": "_models",
    "as_completed": "_jobs",
    "gather": "_jobs",
    "load_mask": "_masks.load",
    "read_jsonl": "_batch.batch",
}

if TYPE_CHECKING:
    __version__: str  # read from the package metadata on first use (importlib.metadata is slow)

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AccountInfo",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchInputError",
    "BatchProgress",
    "BatchResult",
    "BatchState",
    "BatchSummary",
    "Budget",
    "BudgetView",
    "BudgetWaited",
    "Button",
    "ClientClosedError",
    "ClientHooks",
    "ClientState",
    "Clock",
    "ContentPart",
    "Coordination",
    "CoordinationError",
    "CreditLimitError",
    "DiscordToken",
    "ExtraNotInstalledError",
    "HistoryImage",
    "ImagePart",
    "ImagineProClient",
    "ImagineProError",
    "InpaintRequest",
    "InputProblem",
    "InvalidInputError",
    "InvalidMaskError",
    "Job",
    "JobCall",
    "JobCancelledError",
    "JobDeadlineError",
    "JobEnded",
    "JobError",
    "JobFailedError",
    "JobPolled",
    "JobSubmitted",
    "JobTimeoutError",
    "JournalBusyError",
    "JournalLostError",
    "JournalMismatchError",
    "JournalWriteError",
    "JsonlInput",
    "Mask",
    "MaskInput",
    "Message",
    "MessageTrace",
    "NotAJournalError",
    "NotFoundError",
    "Permit",
    "PollPolicy",
    "PromptCheck",
    "PromptRefusedError",
    "RateLimit",
    "RateLimitError",
    "RateLimited",
    "RedirectError",
    "RedisCoordination",
    "RequestRefusedError",
    "RequestSent",
    "RequestState",
    "RequestTooLargeError",
    "ResponseReceived",
    "ResponseValidationError",
    "RetryPolicy",
    "RetryScheduled",
    "ServerError",
    "Status",
    "Submission",
    "SubmissionCancelledError",
    "SubmissionFailed",
    "SubmissionHeld",
    "SubmissionResumed",
    "SubmissionStarted",
    "SubmissionState",
    "SubmissionUncertainError",
    "TextPart",
    "VideoMessage",
    "VideoResult",
    "as_completed",
    "gather",
    "load_mask",
    "read_jsonl",
]


def _present(values: Iterable[object]) -> None:
    """Make each class and function of ``values`` read ``imaginepro_async`` as its module.

    ``typing.get_type_hints`` (and through it cattrs, attrs and doc tools) evaluates a class's
    string annotations in the module its ``__module__`` names: so each class's own annotations are
    evaluated first, all of them while every class still names its home module (a subclass's
    hints read its bases'), and kept as objects. A class whose hints never resolved (a name
    imported only for type checkers) is renamed all the same: it loses nothing.
    """
    presented = [
        value
        for value in values
        if isinstance(value, type | types.FunctionType) and value.__module__ != __name__
    ]
    for value in presented:
        own = vars(value).get("__annotations__") if isinstance(value, type) else None
        if own:
            try:
                hints = typing.get_type_hints(value, include_extras=True)
            except NameError:
                continue
            own.update((key, hints[key]) for key in own)
    for value in presented:
        value.__module__ = __name__


def _present_loaded() -> None:
    """Present every public name whose module is already imported, and keep it in this module.

    Run at package import (the exceptions, which reach users without a lookup here) and at each
    lookup: the models a client returns read ``imaginepro_async.Message`` once a client is used.
    """
    namespace = globals()
    found = {}
    # Only the top layer imports this package (tests/test_layers.py), so a module met here has
    # finished importing: its classes' annotations can all be evaluated.
    for name, module in _EXPORTS.items():
        home = sys.modules.get(f"{__name__}.{module}")
        if name not in namespace and home is not None and hasattr(home, name):
            found[name] = getattr(home, name)
    _present(found.values())
    namespace.update(found)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imaginepro-async")  # the one place it is written is pyproject.toml
    except PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = _version()
        return globals()[name]
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imaginepro_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    _present_loaded()  # looked up once: the name (and its neighbours) are now in globals()
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "__version__"})


_present_loaded()
