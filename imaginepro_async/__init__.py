"""imaginepro-async: an asyncio SDK for ImaginePro's image API.

Submit jobs with ``ImagineProClient``, get awaitable ``Job`` handles back, and let one shared,
rate-limit-aware scheduler follow thousands of them. ``imaginepro_async.testing`` is a local
ImaginePro to test against.
"""

from ._batch import (
    Batch,
    BatchProgress,
    BatchResult,
    BatchSummary,
    InpaintRequest,
    InputProblem,
    read_jsonl,
)
from ._budget import RateLimit
from ._client import DEFAULT_BASE_URL, ImagineProClient
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchInputError,
    ClientClosedError,
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
    NotFoundError,
    RateLimitError,
    RequestTooLargeError,
    ResponseValidationError,
    ServerError,
    SubmissionUncertainError,
)
from ._jobs import Job, as_completed, gather
from ._journal import RequestState
from ._masks import Mask, MaskInput, load_mask
from ._models import AccountInfo, Button, HistoryImage, Message, PromptCheck, Status
from ._retry import RetryPolicy
from ._scheduler import PollPolicy

__version__ = "0.1.0.dev0"

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
    "Button",
    "ClientClosedError",
    "ExtraNotInstalledError",
    "HistoryImage",
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
    "Mask",
    "MaskInput",
    "Message",
    "NotFoundError",
    "PollPolicy",
    "PromptCheck",
    "RateLimit",
    "RateLimitError",
    "RequestState",
    "RequestTooLargeError",
    "ResponseValidationError",
    "RetryPolicy",
    "ServerError",
    "Status",
    "SubmissionUncertainError",
    "as_completed",
    "gather",
    "load_mask",
    "read_jsonl",
]
