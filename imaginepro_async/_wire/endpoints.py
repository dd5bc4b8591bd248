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
from typing import Any, Final, Literal
from urllib.parse import quote

import attrs

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

__all__ = [
    "ACCOUNT_INFO",
    "BLEND",
    "BLEND_LEGACY",
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


@attrs.frozen
class Endpoint:
    """One endpoint of the API.

    Attributes:
        name: the endpoint's name (the key of its price in ``_costs.CREDITS``).
        method: ``GET``, ``POST`` or ``PUT``.
        path: the path, with ``{name}`` placeholders for path parameters.
        budget: which request budget it spends: ``"create"`` or ``"poll"``.
        creates_job: True when it creates a paid job: resent only when it cannot have been processed.
        request: the model of its JSON body (None: no body, or no model yet).
        answer: the model its JSON answer is structured into (None: no model yet).
        fetch: for a job-creating endpoint, the progress endpoint its jobs are followed through
            (None: the Message one).
    """

    name: str
    method: Literal["GET", "POST", "PUT"]
    path: str
    budget: BudgetKind
    creates_job: bool = False
    request: type[Any] | None = None
    answer: Any = None
    fetch: Endpoint | None = None

    def path_for(self, **params: str) -> str:
        """The path with each ``{name}`` filled in (escaped: an id can never add a path segment)."""
        return self.path.format_map({k: quote(v, safe="") for k, v in params.items()})


def _job(
    name: str, path: str, request: type[Any] | None = None, fetch: Endpoint | None = None
) -> Endpoint:
    """A job-creating POST, answered with the creation answer."""
    return Endpoint(name, "POST", path, "create", True, request, CreatedJob, fetch)


def _read(name: str, method: Literal["GET", "PUT"], path: str, answer: Any) -> Endpoint:
    """A general request that creates nothing (retried like a read)."""
    body = TokenToggleRequest if method == "PUT" else None
    return Endpoint(name, method, path, "create", False, body, answer)


MESSAGE: Final = Endpoint(
    "message", "GET", "/api/v1/message/fetch/{message_id}", "poll", False, None, Message
)
# doc (JS SDK): video jobs have their own progress endpoint; its Message carries the videos.
VIDEO_FETCH: Final = Endpoint(
    "video_fetch", "GET", "/api/v1/video/mj/fetch/{message_id}", "poll", False, None, VideoMessage
)
IMAGINE: Final = _job("imagine", "/api/v1/nova/imagine", ImagineRequest)
BUTTON: Final = _job("button", "/api/v1/nova/button", ButtonRequest)
BOOST_IMAGINE: Final = _job("boost_imagine", "/api/v1/nova/boost/imagine", ImagineRequest)
BOOST_BUTTON: Final = _job("boost_button", "/api/v1/nova/boost/button", ButtonRequest)
DESCRIBE: Final = _job("describe", "/api/v1/nova/describe", DescribeRequest)
# assumed: only the legacy path of blend is documented; the nova one follows the others.
BLEND: Final = _job("blend", "/api/v1/nova/blend", BlendRequest)
BLEND_LEGACY: Final = attrs.evolve(BLEND, path="/api/v1/midjourney/blend")
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
DISCORD_TOKENS: Final = _read(
    "discord_tokens", "GET", "/api/v1/discord/tokens", tuple[DiscordToken, ...]
)
DISCORD_TOKEN: Final = _read(
    "discord_token", "GET", "/api/v1/discord/token/{token_id}", DiscordToken
)
DISCORD_TOKEN_TOGGLE: Final = _read(
    "discord_token_toggle", "PUT", "/api/v1/discord/token/{token_id}", DiscordToken
)
MESSAGE_TRACE: Final = _read(
    "message_trace", "GET", "/api/v1/message/trace/{message_id}", MessageTrace
)
ACCOUNT_INFO: Final = Endpoint(
    "account_info", "GET", "/api/v1/subscription/account-info", "create", False, None, AccountInfo
)
HISTORY: Final = Endpoint(
    "history", "GET", "/api/v1/nova/images", "create", False, None, HistoryPage
)
# Checking a prompt creates nothing and costs nothing: it is retried like a read.
PROMPT_CHECK: Final = Endpoint("prompt_check", "POST", "/api/v1/nova/prompt-check", "create", False, PromptCheckRequest, PromptCheck)  # fmt: skip

#: Every endpoint by name (the legacy blend path is an option of ``BLEND``, not a row of its own).
ENDPOINTS: Final[Mapping[str, Endpoint]] = MappingProxyType(
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
