"""The client's methods beyond Midjourney's imagine and buttons: one thin, validated method each.

``ImagineProClient`` inherits them. Each method checks its arguments (nothing is sent when one is
wrong), builds its request model and hands it to the client's one submission path (``_submit``) or
read path (``_read``), through its row of ``_endpoints.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from ._client_mixin import ClientMixin
from ._errors import InvalidInputError
from ._models import (
    BlendRequest,
    CommandRequest,
    ContentPart,
    ContentsRequest,
    DescribeRequest,
    DiscordToken,
    FaceSwapRequest,
    FluxImagineRequest,
    FluxUpscaleRequest,
    ImagePart,
    Message,
    MessageTrace,
    RemoveBackgroundRequest,
    TextPart,
    TokenToggleRequest,
    VideoExtendRequest,
    VideoGenerateRequest,
    VideoMessage,
)
from ._validation import (
    check_choice,
    check_count,
    check_message_id,
    check_options,
    check_prompt,
    check_url,
    check_urls,
    short,
)
from ._wire.endpoints import (
    BLEND,
    BLEND_LEGACY,
    COMMANDS,
    DESCRIBE,
    DISCORD_TOKEN,
    DISCORD_TOKEN_TOGGLE,
    DISCORD_TOKENS,
    FACESWAP,
    FLUX_IMAGINE,
    FLUX_UPSCALE,
    GEMINI_IMAGINE,
    MESSAGE_TRACE,
    REMOVE_BG,
    UNIVERSAL_IMAGINE,
    VIDEO_EXTEND,
    VIDEO_GENERATE,
    Endpoint,
)

if TYPE_CHECKING:
    from ._jobs import Job

__all__ = [
    "COMMAND_NAMES",
    "FLUX_ASPECT_RATIOS",
    "FLUX_MODELS",
    "FLUX_OUTPUT_FORMATS",
    "GEMINI_MODELS",
    "UNIVERSAL_MODELS",
    "EndpointMethods",
]

logger = logging.getLogger("imaginepro_async")

#: How many image URLs a blend takes (legacy docs).
BLEND_URLS: Final = (2, 5)
#: Flux: images per request (doc), side in pixels (doc: multiples of 8; range assumed).
FLUX_N: Final = (1, 4)
FLUX_SIDE: Final = (256, 2048, 8)
FLUX_ASPECT_RATIOS: Final = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")
FLUX_OUTPUT_FORMATS: Final = ("png", "jpg", "webp")  # doc default "png"; the others assumed
FLUX_MODELS: Final = (  # doc: flux-1.1-pro (the default); the others assumed
    "flux-1.1-pro", "flux-1.1-pro-ultra", "flux-pro", "flux-dev", "flux-schnell",
)  # fmt: skip
FLUX_UPSCALE_SCALE: Final = (2, 4)  # third-party docs
GEMINI_MODELS: Final = ("gemini-2.5-flash-image-preview",)  # doc (JS SDK)
UNIVERSAL_MODELS: Final = (  # doc (JS SDK); the first is the default
    "nano-banana", "nano-banana-2", "gemini-2.5-flash-image-preview", "gemini-3-pro-image-preview",
)  # fmt: skip
#: At most this many parts in ``contents`` (assumed).
MAX_CONTENTS: Final = 16
#: How many videos a video job makes, indexed from 0 (assumed, like Midjourney).
VIDEO_RESULTS: Final = 4
#: The Midjourney commands of the DIY plan (legacy docs).
COMMAND_NAMES: Final = ("relax", "fast", "turbo", "cancel", "remix")


def _common(ref: object, webhook_override: object, timeout: object = None) -> None:
    check_options(ref=ref, webhook_override=webhook_override, timeout=timeout, disable_cdn=None)


def _contents(parts: object) -> tuple[ContentPart, ...]:
    if isinstance(parts, str | TextPart | ImagePart):
        parts = [parts]
    if not isinstance(parts, list | tuple) or not 1 <= len(parts) <= MAX_CONTENTS:
        raise InvalidInputError(
            f"contents must be a list of 1 to {MAX_CONTENTS} parts (text as str or TextPart, "
            f"images as ImagePart(url)), got {short(parts)}"
        )
    checked: list[ContentPart] = []
    for n, part in enumerate(parts):
        if isinstance(part, str):
            part = TextPart(part)
        if isinstance(part, TextPart):
            if not isinstance(part.text, str) or not part.text.strip():
                raise InvalidInputError(f"contents[{n}] is an empty text: say what you want")
        elif isinstance(part, ImagePart):
            check_url(part.url, f"contents[{n}].url")
        else:
            raise InvalidInputError(
                f"contents[{n}] must be a str, a TextPart or an ImagePart, got {short(part)}"
            )
        checked.append(part)
    return tuple(checked)


class EndpointMethods(ClientMixin):
    """The client's methods for describe, blend, face swap, Flux, tools, Gemini, video, DIY."""

    # -- Midjourney --------------------------------------------------------------------------

    async def describe(
        self,
        url: str,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
    ) -> Job:
        """Ask for four prompts that describe an image (``POST /api/v1/nova/describe``).

        The finished job's ``prompt`` holds the suggestions. Costs credits (an estimate is in
        ``job.cost``).

        Args:
            url: a public http(s) URL of the image (under 1 MB recommended).
            ref, webhook_override, timeout: as for ``imagine``.

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
            APIStatusError: the server refused the job.
        """
        _common(ref, webhook_override, timeout)
        request = DescribeRequest(
            url=check_url(url, "url"), ref=ref, webhook_override=webhook_override, timeout=timeout
        )
        return await self._job(DESCRIBE, request)

    async def blend(
        self,
        urls: Sequence[str],
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        legacy_path: bool = False,
    ) -> Job:
        """Blend 2 to 5 images into a grid (``POST /api/v1/nova/blend``); costs credits.

        Args:
            urls: 2 to 5 public http(s) image URLs.
            ref, webhook_override: as for ``imagine``.
            legacy_path: send to ``/api/v1/midjourney/blend``, the only documented path (the
                nova path is assumed by analogy with the other endpoints).
        """
        checked = check_urls(urls, "urls", *BLEND_URLS)
        _common(ref, webhook_override)
        request = BlendRequest(urls=checked, ref=ref, webhook_override=webhook_override)
        return await self._job(BLEND_LEGACY if legacy_path else BLEND, request)

    async def face_swap(
        self,
        source: str,
        target: str,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
    ) -> Job:
        """Put the face of ``source`` into ``target`` (``POST /api/v1/nova/faceswap``).

        Args:
            source: the http(s) URL of the image with the face.
            target: the http(s) URL of the image to put it in.
            ref, webhook_override: as for ``imagine``.
        """
        request = FaceSwapRequest(
            source=check_url(source, "source"),
            target=check_url(target, "target"),
            ref=ref,
            webhook_override=webhook_override,
        )
        _common(ref, webhook_override)
        return await self._job(FACESWAP, request)

    # -- Flux and tools ----------------------------------------------------------------------

    async def flux(
        self,
        prompt: str,
        *,
        n: int | None = None,
        width: int | None = None,
        height: int | None = None,
        aspect_ratio: str | None = None,
        output_format: str | None = None,
        output_quality: int | None = None,
        model: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
    ) -> Job:
        """Draw ``n`` images with a Flux model (``POST /api/v1/flux/imagine``); costs credits.

        Every output is in the finished job's ``images``. Left as None, a setting takes the
        server's default.

        Args:
            prompt: what to draw.
            n: how many images, 1 to 4 (default 1).
            width, height: in pixels, multiples of 8 from 256 to 2048 (default 1024).
            aspect_ratio: one of ``FLUX_ASPECT_RATIOS`` (default ``"1:1"``).
            output_format: ``"png"`` (default), ``"jpg"`` or ``"webp"``.
            output_quality: 0 to 100 (default 100).
            model: one of ``FLUX_MODELS`` (default ``"flux-1.1-pro"``).
            ref, webhook_override, timeout: as for ``imagine``.
        """
        text = check_prompt(prompt, required=True) or ""
        low, high, step = FLUX_SIDE
        if n is not None:
            check_count(n, "n", *FLUX_N)
        for name, side in (("width", width), ("height", height)):
            if side is not None:
                check_count(side, name, low, high, multiple_of=step, unit=" of pixels")
        for name, value, options in (
            ("aspect_ratio", aspect_ratio, FLUX_ASPECT_RATIOS),
            ("output_format", output_format, FLUX_OUTPUT_FORMATS),
            ("model", model, FLUX_MODELS),
        ):
            if value is not None:
                check_choice(value, name, options)
        if output_quality is not None:
            check_count(output_quality, "output_quality", 0, 100)
        _common(ref, webhook_override, timeout)
        request = FluxImagineRequest(
            prompt=text,
            n=n,
            width=width,
            height=height,
            aspect_ratio=aspect_ratio,
            output_format=output_format,
            output_quality=output_quality,
            model=model,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
        )
        return await self._job(FLUX_IMAGINE, request)

    async def flux_upscale(
        self,
        image: str,
        scale: int,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
    ) -> Job:
        """Upscale an image ``scale`` times with Flux (``POST /api/v1/flux/upscale``).

        Third-party documented: the endpoint and its fields are not in ImaginePro's own docs.

        Args:
            image: the http(s) URL of the image.
            scale: 2 to 4.
            ref, webhook_override: as for ``imagine``.
        """
        request = FluxUpscaleRequest(
            image=check_url(image, "image"),
            scale=check_count(scale, "scale", *FLUX_UPSCALE_SCALE),
            ref=ref,
            webhook_override=webhook_override,
        )
        _common(ref, webhook_override)
        return await self._job(FLUX_UPSCALE, request)

    async def remove_background(
        self, image: str, *, ref: str | None = None, webhook_override: str | None = None
    ) -> Job:
        """Cut the background out of an image (``POST /api/v1/tools/remove-bg``).

        Third-party documented: ImaginePro's docs have a page for it, but its body is assumed.

        Args:
            image: the http(s) URL of the image.
            ref, webhook_override: as for ``imagine``.
        """
        _common(ref, webhook_override)
        request = RemoveBackgroundRequest(
            image=check_url(image, "image"), ref=ref, webhook_override=webhook_override
        )
        return await self._job(REMOVE_BG, request)

    # -- Gemini / universal ------------------------------------------------------------------

    async def gemini_imagine(
        self,
        contents: Sequence[str | ContentPart] | str,
        *,
        model: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
    ) -> Job:
        """Make an image from text and images with Gemini (``POST /api/v1/gemini/imagine``).

        Args:
            contents: the parts, in order: ``str`` or ``TextPart`` for text, ``ImagePart(url)``
                for an image (1 to 16 parts).
            model: one of ``GEMINI_MODELS`` (default: the server's).
            ref, webhook_override, timeout: as for ``imagine``.
        """
        return await self._contents_job(
            GEMINI_IMAGINE, GEMINI_MODELS, contents, model, ref, webhook_override, timeout
        )

    async def universal_imagine(
        self,
        contents: Sequence[str | ContentPart] | str,
        *,
        model: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
    ) -> Job:
        """Make an image with any of several models (``POST /api/v1/universal/imagine``).

        Args:
            contents: as for ``gemini_imagine``.
            model: one of ``UNIVERSAL_MODELS`` (default ``"nano-banana"``).
            ref, webhook_override, timeout: as for ``imagine``.
        """
        return await self._contents_job(
            UNIVERSAL_IMAGINE, UNIVERSAL_MODELS, contents, model, ref, webhook_override, timeout
        )

    async def _contents_job(
        self,
        endpoint: Endpoint,
        models: tuple[str, ...],
        contents: object,
        model: str | None,
        ref: str | None,
        webhook_override: str | None,
        timeout: int | None,
    ) -> Job:
        parts = _contents(contents)
        if model is not None:
            check_choice(model, "model", models)
        _common(ref, webhook_override, timeout)
        request = ContentsRequest(
            contents=parts, model=model, ref=ref, webhook_override=webhook_override, timeout=timeout
        )
        return await self._job(endpoint, request)

    # -- video -------------------------------------------------------------------------------

    async def generate_video(
        self,
        start_frame_url: str,
        end_frame_url: str,
        *,
        prompt: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
    ) -> Job:
        """Animate from one frame to another (``POST /api/v1/video/mj/generate``); costs credits.

        The job is followed through the video progress endpoint: awaiting it gives a
        ``VideoMessage`` (``video_url``, and ``results`` with each video's index).

        Args:
            start_frame_url, end_frame_url: http(s) URLs of the first and last frames.
            prompt: what happens in between (optional).
            ref, webhook_override: as for ``imagine``.
            timeout: server-side job timeout, 10 to 900 seconds (900 recommended for videos).
        """
        check_prompt(prompt, required=False)
        _common(ref, webhook_override, timeout)
        request = VideoGenerateRequest(
            start_frame_url=check_url(start_frame_url, "start_frame_url"),
            end_frame_url=check_url(end_frame_url, "end_frame_url"),
            prompt=prompt,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
        )
        return await self._job(VIDEO_GENERATE, request)

    async def extend_video(
        self,
        parent: Message | str,
        index: int,
        *,
        animate_mode: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
    ) -> Job:
        """Extend video ``index`` (0 to 3) of a finished video job (``POST .../video/mj/extend``).

        Args:
            parent: the finished video job, as a ``VideoMessage`` or its messageId.
            index: which of its videos, 0 to 3 (the ``index`` of its ``results``).
            animate_mode: how to animate (passed as is).
            ref, webhook_override, timeout: as for ``generate_video``.
        """
        check_count(index, "index", 0, VIDEO_RESULTS - 1, unit=" (a video's place, from 0)")
        if isinstance(parent, Message):
            parent_id = check_message_id(parent.message_id, "parent.message_id")
            if not parent.succeeded:
                raise InvalidInputError(
                    f"job {parent_id} is {parent.status.value}; only a finished (DONE) video job "
                    "can be extended: await it first"
                )
            if isinstance(parent, VideoMessage) and parent.results:
                indexes = sorted(result.index for result in parent.results)
                if index not in indexes:
                    raise InvalidInputError(
                        f"job {parent_id} has videos {indexes}; index {index} is not one of them"
                    )
        else:
            parent_id = check_message_id(parent, "parent")
        if animate_mode is not None and not isinstance(animate_mode, str):
            raise InvalidInputError(f"animate_mode must be a string, got {short(animate_mode)}")
        _common(ref, webhook_override, timeout)
        request = VideoExtendRequest(
            message_id=parent_id,
            index=index,
            animate_mode=animate_mode,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
        )
        return await self._job(VIDEO_EXTEND, request)

    # -- DIY plan ----------------------------------------------------------------------------

    async def command(
        self, cmd: str, *, ref: str | None = None, webhook_override: str | None = None
    ) -> Job:
        """Run a Midjourney command on the linked account (DIY plan, ``POST /api/v1/nova/commands``).

        Args:
            cmd: one of ``COMMAND_NAMES``: ``"relax"``, ``"fast"``, ``"turbo"``, ``"cancel"``,
                ``"remix"``.
            ref, webhook_override: as for ``imagine``.
        """
        check_choice(cmd, "cmd", COMMAND_NAMES)
        _common(ref, webhook_override)
        return await self._job(
            COMMANDS, CommandRequest(cmd=cmd, ref=ref, webhook_override=webhook_override)
        )

    async def discord_tokens(self) -> list[DiscordToken]:
        """The Discord accounts linked to a DIY plan (``GET /api/v1/discord/tokens``)."""
        tokens: tuple[DiscordToken, ...] = await self._read(DISCORD_TOKENS)
        return list(tokens)

    async def discord_token(self, token_id: str) -> DiscordToken:
        """One linked Discord account (``GET /api/v1/discord/token/{id}``).

        Raises:
            NotFoundError: no linked account has this id.
        """
        token: DiscordToken = await self._read(
            DISCORD_TOKEN, token_id=check_message_id(token_id, "token_id")
        )
        return token

    async def set_discord_token_active(self, token_id: str, active: bool) -> DiscordToken:
        """Switch a linked Discord account on or off (``PUT /api/v1/discord/token/{id}``).

        Returns the updated record.
        """
        if not isinstance(active, bool):
            raise InvalidInputError(f"active must be True or False, got {short(active)}")
        token: DiscordToken = await self._read(
            DISCORD_TOKEN_TOGGLE,
            body=TokenToggleRequest(is_active=active),
            token_id=check_message_id(token_id, "token_id"),
        )
        return token

    async def trace(self, message_id: str) -> MessageTrace:
        """Which linked Discord account ran a job (``GET /api/v1/message/trace/{id}``)."""
        trace: MessageTrace = await self._read(
            MESSAGE_TRACE, message_id=check_message_id(message_id)
        )
        return trace
