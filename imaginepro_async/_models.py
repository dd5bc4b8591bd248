"""The records that cross the wire, as plain attrs classes (no I/O, no client inside).

How they map to JSON (camelCase, leniency) lives in ``_converters.py``, not here.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TypeAlias

import attrs

__all__ = [
    "AccountInfo",
    "BlendRequest",
    "Button",
    "ButtonRequest",
    "CommandRequest",
    "ContentPart",
    "ContentsRequest",
    "CreatedJob",
    "DescribeRequest",
    "DiscordToken",
    "FaceSwapRequest",
    "FluxImagineRequest",
    "FluxUpscaleRequest",
    "HistoryImage",
    "HistoryPage",
    "ImagePart",
    "ImagineRequest",
    "Message",
    "MessageTrace",
    "PromptCheck",
    "PromptCheckRequest",
    "RemoveBackgroundRequest",
    "Status",
    "TextPart",
    "TokenToggleRequest",
    "VideoExtendRequest",
    "VideoGenerateRequest",
    "VideoMessage",
    "VideoResult",
]


class Status(enum.StrEnum):
    """A job's status. ``DONE`` and ``FAIL`` are terminal (doc).

    The known statuses match whatever their case (``"done"`` is ``DONE``). A status the server sends
    that is not listed here (third parties have seen ``SUBMITTED``) is
    kept as a pseudo-member with that value and treated as not terminal, never as an error.
    """

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    FAIL = "FAIL"

    @classmethod
    def _missing_(cls, value: object) -> Status | None:
        if not isinstance(value, str) or not value:
            return None
        if value.strip().upper() in _KNOWN_STATUSES:
            return cls(value.strip().upper())
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def is_terminal(self) -> bool:
        """True for ``DONE`` and ``FAIL``: the job will not change any more."""
        return self is Status.DONE or self is Status.FAIL

    @property
    def is_known(self) -> bool:
        """False for a status this SDK does not know (kept as sent by the server)."""
        return self.value in _KNOWN_STATUSES


_KNOWN_STATUSES = frozenset({"QUEUED", "PROCESSING", "DONE", "FAIL"})


class Button(enum.StrEnum):
    """Every button of the API, with the exact string the server expects (emoji included) (doc).

    A ``Button`` is a ``str``, so ``Button.U1 in message.buttons`` works.
    """

    U1 = "U1"
    U2 = "U2"
    U3 = "U3"
    U4 = "U4"
    V1 = "V1"
    V2 = "V2"
    V3 = "V3"
    V4 = "V4"
    REROLL = "\U0001f504"
    ZOOM_OUT_2X = "Zoom Out 2x"
    ZOOM_OUT_1_5X = "Zoom Out 1.5x"
    VARY_STRONG = "Vary (Strong)"
    VARY_SUBTLE = "Vary (Subtle)"
    VARY_REGION = "Vary (Region)"
    PAN_LEFT = "\u2b05\ufe0f"
    PAN_RIGHT = "\u27a1\ufe0f"
    PAN_UP = "\u2b06\ufe0f"
    PAN_DOWN = "\u2b07\ufe0f"
    MAKE_SQUARE = "Make Square"
    UPSCALE_2X = "Upscale (2x)"
    UPSCALE_4X = "Upscale (4x)"
    REDO_UPSCALE_2X = "Redo Upscale (2x)"
    REDO_UPSCALE_4X = "Redo Upscale (4x)"
    UPSCALE_CREATIVE = "Upscale (Creative)"
    UPSCALE_SUBTLE = "Upscale (Subtle)"
    CANCEL_JOB = "Cancel Job"


@attrs.frozen(kw_only=True)
class Message:
    """A job as the progress endpoint reports it (``GET /api/v1/message/fetch/{id}``).

    Attributes:
        message_id: the job's id.
        status: QUEUED, PROCESSING, DONE, FAIL, or an unknown status kept as sent.
        progress: 0..100 (the server sends a number or a numeric string; both are accepted).
        uri: the result image on the CDN (absent with ``disableCdn``).
        images: each image of a grid.
        buttons: the buttons this result offers, exactly as the server spells them.
        prompt: the job's prompt.
        ref: the caller's reference, echoed.
        error: why the job failed (FAIL only).
        created_at, updated_at: timezone-aware timestamps.
        originating_message_id: the parent job, for a button job.
        original_url: the Discord link of the result (valid 24 h).
    """

    message_id: str
    status: Status
    progress: int = 0
    uri: str | None = None
    images: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()
    prompt: str | None = None
    ref: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    originating_message_id: str | None = None
    original_url: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True when the job has ended (``DONE`` or ``FAIL``)."""
        return self.status.is_terminal

    @property
    def succeeded(self) -> bool:
        """True when the job ended ``DONE``."""
        return self.status is Status.DONE

    @property
    def image_urls(self) -> tuple[str, ...]:
        """The result's images: ``images`` when given, else ``uri`` alone, else nothing.

        This is the one rule for "which image" (downloads, the mask size check, the CLI, batches).
        """
        if self.images:
            return self.images
        return (self.uri,) if self.uri else ()


@attrs.frozen(kw_only=True)
class CreatedJob:
    """The answer to a job-creating request (imagine, button, describe)."""

    message_id: str
    success: bool = True
    created_at: datetime | None = None
    error: str | None = None


@attrs.frozen(kw_only=True)
class AccountInfo:
    """``GET /api/v1/subscription/account-info``: the plan and its credits."""

    type: str | None = None
    credits_quota: int | None = None
    credits: int | None = None
    credits_extra: int | None = None
    expired_at: datetime | None = None
    email: str | None = None


@attrs.frozen(kw_only=True)
class HistoryImage:
    """One entry of the last 24 hours' history (``GET /api/v1/nova/images``)."""

    id: str
    type: str | None = None
    button: str | None = None
    prompt: str | None = None
    uri: str | None = None
    created_at: datetime | None = None


@attrs.frozen(kw_only=True)
class HistoryPage:
    """The answer of ``GET /api/v1/nova/images`` (a bare list of entries is accepted too)."""

    images: tuple[HistoryImage, ...] = ()


@attrs.frozen(kw_only=True)
class PromptCheck:
    """The verdict of ``POST /api/v1/nova/prompt-check``."""

    status: str
    message: str | None = None

    @property
    def ok(self) -> bool:
        """True when the server accepts the prompt."""
        return self.status == "SUCCESS"


@attrs.frozen(kw_only=True)
class PromptCheckRequest:
    """The body of ``POST /api/v1/nova/prompt-check``."""

    prompt: str


@attrs.frozen(kw_only=True)
class ImagineRequest:
    """The body of ``POST /api/v1/nova/imagine``; ``None`` fields are left out on the wire."""

    prompt: str
    ref: str | None = None
    webhook_override: str | None = None
    timeout: int | None = None
    disable_cdn: bool | None = None


@attrs.frozen(kw_only=True)
class ButtonRequest:
    """The body of ``POST /api/v1/nova/button``; ``None`` fields are left out on the wire."""

    message_id: str
    button: str
    mask: str | None = None
    prompt: str | None = None
    ref: str | None = None
    webhook_override: str | None = None
    timeout: int | None = None
    disable_cdn: bool | None = None


# -- the further endpoints (describe, blend, face swap, Flux, tools, Gemini, video, DIY) ----------


@attrs.frozen(kw_only=True)
class VideoResult:
    """One video of a finished video job."""

    url: str
    index: int


@attrs.frozen(kw_only=True)
class VideoMessage(Message):
    """A video job as its own progress endpoint reports it (``GET /api/v1/video/mj/fetch/{id}``).

    A ``Message`` plus the videos: awaiting a video job gives one of these.

    Attributes:
        video_url: the first video, once DONE.
        results: every video, with its index (0..3): the index ``client.video.extend`` takes.
    """

    video_url: str | None = None
    results: tuple[VideoResult, ...] = ()


@attrs.frozen(kw_only=True)
class DescribeRequest:
    """The body of ``POST /api/v1/nova/describe``."""

    url: str
    ref: str | None = None
    webhook_override: str | None = None
    timeout: int | None = None


@attrs.frozen(kw_only=True)
class BlendRequest:
    """The body of ``POST /api/v1/nova/blend`` (and of the legacy ``/api/v1/midjourney/blend``)."""

    urls: tuple[str, ...]
    ref: str | None = None
    webhook_override: str | None = None


@attrs.frozen(kw_only=True)
class FaceSwapRequest:
    """The body of ``POST /api/v1/nova/faceswap``: the face of ``source`` put into ``target``."""

    source: str
    target: str
    ref: str | None = None
    webhook_override: str | None = None


@attrs.frozen(kw_only=True)
class FluxImagineRequest:
    """The body of ``POST /api/v1/flux/imagine`` (some of its names are snake_case on the wire)."""

    prompt: str
    n: int | None = None
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    output_format: str | None = None
    output_quality: int | None = None
    model: str | None = None
    ref: str | None = None
    webhook_override: str | None = None
    timeout: int | None = None


@attrs.frozen(kw_only=True)
class FluxUpscaleRequest:
    """The body of ``POST /api/v1/flux/upscale``."""

    image: str
    scale: int
    ref: str | None = None
    webhook_override: str | None = None


@attrs.frozen(kw_only=True)
class RemoveBackgroundRequest:
    """The body of ``POST /api/v1/tools/remove-bg``."""

    image: str
    ref: str | None = None
    webhook_override: str | None = None


@attrs.frozen
class TextPart:
    """A text part of the ``contents`` of a Gemini or universal imagine (``{type: "text"}``)."""

    text: str


@attrs.frozen
class ImagePart:
    """An image part of the ``contents`` of a Gemini or universal imagine (``{type: "image"}``)."""

    url: str


#: One part of ``contents``: a plain ``str`` given to the client is a ``TextPart``.
ContentPart: TypeAlias = TextPart | ImagePart


@attrs.frozen(kw_only=True)
class ContentsRequest:
    """The body of ``POST /api/v1/gemini/imagine`` and ``POST /api/v1/universal/imagine``."""

    contents: tuple[ContentPart, ...]
    model: str | None = None
    ref: str | None = None
    webhook_override: str | None = None
    timeout: int | None = None


@attrs.frozen(kw_only=True)
class VideoGenerateRequest:
    """The body of ``POST /api/v1/video/mj/generate``."""

    start_frame_url: str
    end_frame_url: str
    prompt: str | None = None
    ref: str | None = None
    webhook_override: str | None = None
    timeout: int | None = None


@attrs.frozen(kw_only=True)
class VideoExtendRequest:
    """The body of ``POST /api/v1/video/mj/extend``."""

    message_id: str
    index: int
    animate_mode: str | None = None
    ref: str | None = None
    webhook_override: str | None = None
    timeout: int | None = None


@attrs.frozen(kw_only=True)
class CommandRequest:
    """The body of ``POST /api/v1/nova/commands`` (DIY plan; fields as the legacy endpoint)."""

    cmd: str
    ref: str | None = None
    webhook_override: str | None = None


@attrs.frozen(kw_only=True)
class DiscordToken:
    """A Discord account linked to a DIY plan (``GET /api/v1/discord/token/{id}``).

    Attributes:
        id: the token's id (what ``client.diy.token`` takes).
        token: the Discord token, masked by the server.
        status: FAST, RELAX, VERIFYING or BANNED (doc); another value is kept as sent.
    """

    id: str
    token: str | None = None
    channel_id: str | None = None
    server_id: str | None = None
    is_active: bool | None = None
    status: str | None = None
    info: str | None = None
    concurrency: int | None = None


@attrs.frozen(kw_only=True)
class TokenToggleRequest:
    """The body of ``PUT /api/v1/discord/token/{id}``."""

    is_active: bool


@attrs.frozen(kw_only=True)
class MessageTrace:
    """Which linked Discord account ran a job (``GET /api/v1/message/trace/{id}``)."""

    token_id: str | None = None
    token_info: str | None = None
