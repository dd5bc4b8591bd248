"""imaginepro-async: an asyncio SDK for ImaginePro's image API.

Submit jobs with ``ImagineProClient``, get awaitable ``Job`` handles back, and let one shared,
rate-limit-aware scheduler follow thousands of them. ``imaginepro_async.testing`` is a local
ImaginePro to test against.

Names are imported on first use (PEP 562), so that ``import imaginepro_async`` and the command
line start fast and a Ctrl-C in their first moments is handled by the CLI, not by the importer.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._batch.batch import (
        Batch,
        BatchProgress,
        BatchResult,
        BatchSummary,
        InpaintRequest,
        InputProblem,
        JsonlInput,
        read_jsonl,
    )
    from ._batch.journal import (
        RequestState,
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
        InvalidInputError,
        InvalidMaskError,
        JobCancelledError,
        JobDeadlineError,
        JobError,
        JobFailedError,
        JobTimeoutError,
        JournalBusyError,
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
    from ._jobs import (
        Job,
        as_completed,
        gather,
    )
    from ._masks.mask import (
        Mask,
        MaskInput,
        load_mask,
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
        BudgetView,
        Coordination,
        RateLimit,
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
    "BatchSummary": "_batch.batch",
    "BudgetView": "_pacing.budget",
    "Button": "_models",
    "ClientClosedError": "_errors",
    "ClientState": "_client",
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
    "InputProblem": "_batch.batch",
    "InvalidInputError": "_errors",
    "InvalidMaskError": "_errors",
    "Job": "_jobs",
    "JobCancelledError": "_errors",
    "JobDeadlineError": "_errors",
    "JobError": "_errors",
    "JobFailedError": "_errors",
    "JobTimeoutError": "_errors",
    "JournalBusyError": "_errors",
    "JournalMismatchError": "_errors",
    "JournalWriteError": "_errors",
    "JsonlInput": "_batch.batch",
    "Mask": "_masks.mask",
    "MaskInput": "_masks.mask",
    "Message": "_models",
    "MessageTrace": "_models",
    "NotAJournalError": "_errors",
    "NotFoundError": "_errors",
    "PollPolicy": "_scheduling.scheduler",
    "PromptCheck": "_models",
    "PromptRefusedError": "_errors",
    "RateLimit": "_pacing.budget",
    "RateLimitError": "_errors",
    "RedirectError": "_errors",
    "RedisCoordination": "_coordination.budgets",
    "RequestRefusedError": "_errors",
    "RequestState": "_batch.journal",
    "RequestTooLargeError": "_errors",
    "ResponseValidationError": "_errors",
    "RetryPolicy": "_pacing.retry",
    "ServerError": "_errors",
    "Status": "_models",
    "Submission": "_submissions",
    "SubmissionCancelledError": "_errors",
    "SubmissionState": "_submissions",
    "SubmissionUncertainError": "_errors",
    "TextPart": "_models",
    "VideoMessage": "_models",
    "VideoResult": "_models",
    "as_completed": "_jobs",
    "gather": "_jobs",
    "load_mask": "_masks.mask",
    "read_jsonl": "_batch.batch",
}

try:
    __version__ = version("imaginepro-async")  # the one place it is written is pyproject.toml
except PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"

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
    "BatchSummary",
    "BudgetView",
    "Button",
    "ClientClosedError",
    "ClientState",
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
    "JobCancelledError",
    "JobDeadlineError",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "JournalBusyError",
    "JournalMismatchError",
    "JournalWriteError",
    "JsonlInput",
    "Mask",
    "MaskInput",
    "Message",
    "MessageTrace",
    "NotAJournalError",
    "NotFoundError",
    "PollPolicy",
    "PromptCheck",
    "PromptRefusedError",
    "RateLimit",
    "RateLimitError",
    "RedirectError",
    "RedisCoordination",
    "RequestRefusedError",
    "RequestState",
    "RequestTooLargeError",
    "ResponseValidationError",
    "RetryPolicy",
    "ServerError",
    "Status",
    "Submission",
    "SubmissionCancelledError",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imaginepro_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
