"""Every ImaginePro endpoint, declared once: the one table of the wire.

A row says how to reach an endpoint (method, path template), which request budget it spends
(``"create"``: 1 per 3 s on general endpoints; ``"poll"``: 10 per second on progress), whether it
creates a paid job (such a request is never resent once it may have been processed) and which models
its request and answer are. The client's methods, the CLI and the batch call through these rows; no
other module of the client spells a path (the simulator, the other side of the wire, keeps its own).

Adding an endpoint is a row here, a price in ``_costs.py`` when it creates a job, and a thin typed
method on the client. A job-creating row also names the progress endpoint its jobs are followed
through (``fetch``): the Message one, or the video one for video jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import quote

import attrs

from imaginepro_async._errors import InvalidInputError
from imaginepro_async._models import (
    AccountInfo,
    BlendRequest,
    ButtonRequest,
    CommandRequest,
    ContentsRequest,
    CreatedJob,
    DescribeRequest,
    DiscordToken,
    FaceSwapRequest,
    FluxImagineRequest,
    FluxUpscaleRequest,
    HistoryPage,
    ImagineRequest,
    Message,
    MessageTrace,
    PromptCheck,
    PromptCheckRequest,
    RemoveBackgroundRequest,
    TokenToggleRequest,
    VideoExtendRequest,
    VideoGenerateRequest,
    VideoMessage,
)
from imaginepro_async._validation import short

__all__ = [
    "ACCOUNT_INFO",
    "BLEND",
    "BOOST_BUTTON",
    "BOOST_IMAGINE",
    "BUTTON",
    "COMMANDS",
    "DESCRIBE",
    "DISCORD_TOKEN",
    "DISCORD_TOKENS",
    "DISCORD_TOKEN_TOGGLE",
    "ENDPOINTS",
    "FACESWAP",
    "FLUX_IMAGINE",
    "FLUX_UPSCALE",
    "GEMINI_IMAGINE",
    "HISTORY",
    "IMAGINE",
    "MESSAGE",
    "MESSAGE_TRACE",
    "PROMPT_CHECK",
    "REMOVE_BG",
    "UNIVERSAL_IMAGINE",
    "VIDEO_EXTEND",
    "VIDEO_FETCH",
    "VIDEO_GENERATE",
    "Endpoint",
]

BudgetKind = Literal["create", "poll"]
RequestT = TypeVar("RequestT")
AnswerT = TypeVar("AnswerT")


@attrs.frozen
class Endpoint(Generic[RequestT, AnswerT]):
    """One endpoint of the API.

    Attributes:
        name: the endpoint's name (the key of its price in ``_costs.CREDITS``).
        method: ``GET``, ``POST`` or ``PUT``.
        path: the path, with ``{name}`` placeholders for path parameters.
        budget: which request budget it spends: ``"create"`` or ``"poll"``.
        creates_job: True when it creates a paid job: resent only when it cannot have been processed.
        request: the model of its JSON body (None: no body).
        answer: the model its JSON answer is structured into.
        fetch: for a job-creating endpoint, the progress endpoint its jobs are followed through
            (None: the Message one).
        fallback: where a job-creating request answered 404 (certainly not processed) is sent
            instead: the documented path of an endpoint whose first path is assumed.
    """

    name: str
    method: Literal["GET", "POST", "PUT"]
    path: str
    budget: BudgetKind
    creates_job: bool
    request: type[RequestT] | None
    answer: type[AnswerT]
    fetch: Endpoint[None, Message] | None = None
    fallback: Endpoint[RequestT, AnswerT] | None = None

    def path_for(self, **params: str) -> str:
        """The path with each ``{name}`` filled in, each one escaped as one whole path segment.

        No value can change the path: a slash, ``?`` or ``#`` is escaped, and what escaping
        cannot keep in its segment (empty, ``.`` or ``..``, which URLs resolve away; a lone
        surrogate, which has no UTF-8) is refused with ``InvalidInputError``, nothing sent.
        """
        return self.path.format_map({k: _segment(k, v) for k, v in params.items()})


def _segment(name: str, value: object) -> str:
    """``value`` escaped as one path segment (see ``Endpoint.path_for``)."""
    if not isinstance(value, str) or value in ("", ".", ".."):
        raise InvalidInputError(
            f"{name} {short(value)} cannot be put in a URL path: it must be a non-empty string, "
            "not '.' or '..'"
        )
    try:
        return quote(value, safe="", errors="strict")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"{name} {short(value)} cannot be put in a URL path: it is not valid Unicode "
            "(a lone surrogate)"
        ) from None


def _job(
    name: str, path: str, request: type[RequestT], fetch: Endpoint[None, Message] | None = None
) -> Endpoint[RequestT, CreatedJob]:
    """A job-creating POST, answered with the creation answer."""
    return Endpoint(name, "POST", path, "create", True, request, CreatedJob, fetch)


def _read(name: str, path: str, answer: type[AnswerT]) -> Endpoint[None, AnswerT]:
    """A general GET that creates nothing (retried like a read)."""
    return Endpoint(name, "GET", path, "create", False, None, answer)


MESSAGE: Final[Endpoint[None, Message]] = Endpoint(
    "message", "GET", "/api/v1/message/fetch/{message_id}", "poll", False, None, Message
)
# doc (JS SDK): video jobs have their own progress endpoint; its Message carries the videos.
VIDEO_FETCH: Final[Endpoint[None, Message]] = Endpoint(
    "video_fetch", "GET", "/api/v1/video/mj/fetch/{message_id}", "poll", False, None, VideoMessage
)
IMAGINE: Final = _job("imagine", "/api/v1/nova/imagine", ImagineRequest)
BUTTON: Final = _job("button", "/api/v1/nova/button", ButtonRequest)
BOOST_IMAGINE: Final = _job("boost_imagine", "/api/v1/nova/boost/imagine", ImagineRequest)
BOOST_BUTTON: Final = _job("boost_button", "/api/v1/nova/boost/button", ButtonRequest)
DESCRIBE: Final = _job("describe", "/api/v1/nova/describe", DescribeRequest)
# Only the legacy path of blend is documented; the nova one (assumed, like the others) is tried
# first, and a 404 (nothing processed) sends the same request to the documented path.
BLEND: Final = attrs.evolve(
    _job("blend", "/api/v1/nova/blend", BlendRequest),
    fallback=_job("blend", "/api/v1/midjourney/blend", BlendRequest),
)
FACESWAP: Final = _job("faceswap", "/api/v1/nova/faceswap", FaceSwapRequest)
FLUX_IMAGINE: Final = _job("flux_imagine", "/api/v1/flux/imagine", FluxImagineRequest)
FLUX_UPSCALE: Final = _job("flux_upscale", "/api/v1/flux/upscale", FluxUpscaleRequest)
# third-party documented only.
REMOVE_BG: Final = _job("remove_bg", "/api/v1/tools/remove-bg", RemoveBackgroundRequest)
GEMINI_IMAGINE: Final = _job("gemini_imagine", "/api/v1/gemini/imagine", ContentsRequest)
UNIVERSAL_IMAGINE: Final = _job("universal_imagine", "/api/v1/universal/imagine", ContentsRequest)
VIDEO_GENERATE: Final = _job(
    "video_generate", "/api/v1/video/mj/generate", VideoGenerateRequest, VIDEO_FETCH
)
VIDEO_EXTEND: Final = _job(
    "video_extend", "/api/v1/video/mj/extend", VideoExtendRequest, VIDEO_FETCH
)
COMMANDS: Final = _job("commands", "/api/v1/nova/commands", CommandRequest)
DISCORD_TOKENS: Final = _read("discord_tokens", "/api/v1/discord/tokens", tuple[DiscordToken, ...])
DISCORD_TOKEN: Final = _read("discord_token", "/api/v1/discord/token/{token_id}", DiscordToken)
DISCORD_TOKEN_TOGGLE: Final[Endpoint[TokenToggleRequest, DiscordToken]] = Endpoint(
    "discord_token_toggle", "PUT", "/api/v1/discord/token/{token_id}", "create", False,
    TokenToggleRequest, DiscordToken,
)  # fmt: skip
MESSAGE_TRACE: Final = _read("message_trace", "/api/v1/message/trace/{message_id}", MessageTrace)
ACCOUNT_INFO: Final = _read("account_info", "/api/v1/subscription/account-info", AccountInfo)
HISTORY: Final = _read("history", "/api/v1/nova/images", HistoryPage)
# Checking a prompt creates nothing and costs nothing: it is retried like a read.
PROMPT_CHECK: Final[Endpoint[PromptCheckRequest, PromptCheck]] = Endpoint(
    "prompt_check", "POST", "/api/v1/nova/prompt-check", "create", False,
    PromptCheckRequest, PromptCheck,
)  # fmt: skip

#: Every endpoint by name (the legacy blend path is ``BLEND``'s fallback, not a row of its own).
ENDPOINTS: Final[Mapping[str, Endpoint[Any, Any]]] = MappingProxyType(
    {
        row.name: row
        for row in (
            IMAGINE,
            BUTTON,
            MESSAGE,
            ACCOUNT_INFO,
            HISTORY,
            PROMPT_CHECK,
            DESCRIBE,
            BLEND,
            FACESWAP,
            BOOST_IMAGINE,
            BOOST_BUTTON,
            FLUX_IMAGINE,
            FLUX_UPSCALE,
            REMOVE_BG,
            GEMINI_IMAGINE,
            UNIVERSAL_IMAGINE,
            VIDEO_GENERATE,
            VIDEO_EXTEND,
            COMMANDS,
            VIDEO_FETCH,
            DISCORD_TOKENS,
            DISCORD_TOKEN,
            DISCORD_TOKEN_TOGGLE,
            MESSAGE_TRACE,
        )
    }
)
