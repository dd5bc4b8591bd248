"""imaginepro-async: an asyncio SDK for ImaginePro's image API.

Submit jobs with ``ImagineProClient``, get awaitable ``Job`` handles back, and let one shared,
rate-limit-aware scheduler follow thousands of them. ``imaginepro_async.testing`` is a local
ImaginePro to test against.
"""

from importlib.metadata import PackageNotFoundError, version

from ._batch import (
    Batch,
    BatchProgress,
    BatchResult,
    BatchSummary,
    InpaintRequest,
    InputProblem,
    JsonlInput,
    read_jsonl,
)
from ._budget import BudgetView, Coordination, RateLimit
from ._client import DEFAULT_BASE_URL, ClientState, ImagineProClient
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
    RateLimitError,
    RedirectError,
    RequestRefusedError,
    RequestTooLargeError,
    ResponseValidationError,
    ServerError,
    SubmissionCancelledError,
    SubmissionUncertainError,
)
from ._jobs import Job, as_completed, gather
from ._journal import RequestState
from ._masks import Mask, MaskInput, load_mask
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
from ._queue import Submission, SubmissionState
from ._redis import RedisCoordination
from ._retry import RetryPolicy
from ._scheduler import PollPolicy

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
