"""``client.video``: videos from two frames, and extensions of a finished video."""

from __future__ import annotations

from typing import Final

from imaginepro_async._calls import JobCall
from imaginepro_async._errors import InvalidInputError
from imaginepro_async._models import (
    Message,
    VideoExtendRequest,
    VideoGenerateRequest,
    VideoMessage,
)
from imaginepro_async._validation import (
    check_count,
    check_message_id,
    check_options,
    check_prompt,
    check_url,
    short,
)
from imaginepro_async._wire.endpoints import VIDEO_EXTEND, VIDEO_GENERATE

from .base import Resource

__all__ = ["VIDEO_RESULTS", "Video"]

#: How many videos a video job makes, indexed from 0 (assumed, like Midjourney).
VIDEO_RESULTS: Final = 4


class Video(Resource):
    """Midjourney videos (``client.video``). Video jobs are followed through the video progress
    endpoint: awaiting one gives a ``VideoMessage`` (``video_url``, and ``results`` with each
    video's index)."""

    __slots__ = ()

    def generate(
        self,
        start_image: str,
        end_image: str,
        *,
        prompt: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
    ) -> JobCall:
        """Animate from one frame to another (``POST /api/v1/video/mj/generate``); costs credits.

        Args:
            start_image, end_image: http(s) URLs of the first and last frames.
            prompt: what happens in between (optional).
            ref, webhook_override: as for ``client.imagine``.
            job_timeout: server-side job timeout, 10 to 900 seconds (900 recommended for videos).
        """

        def build() -> VideoGenerateRequest:
            check_prompt(prompt, required=False)
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=job_timeout)
            return VideoGenerateRequest(
                start_frame_url=check_url(start_image, "start_image"),
                end_frame_url=check_url(end_image, "end_image"),
                prompt=prompt,
                ref=ref,
                webhook_override=webhook_override,
                timeout=job_timeout,
            )

        return self._call("video.generate", VIDEO_GENERATE, build)

    def extend(
        self,
        parent: Message | str,
        index: int,
        *,
        animate_mode: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
    ) -> JobCall:
        """Extend video ``index`` (0 to 3) of a finished video job (``POST .../video/mj/extend``).

        Args:
            parent: the finished video job, as a ``VideoMessage`` or its messageId.
            index: which of its videos, 0 to 3 (the ``index`` of its ``results``).
            animate_mode: how to animate (passed as is).
            ref, webhook_override, job_timeout: as for ``generate``.
        """

        def build() -> VideoExtendRequest:
            check_count(index, "index", 0, VIDEO_RESULTS - 1, unit=" (a video's place, from 0)")
            parent_id = _check_video_parent(parent, index)
            if animate_mode is not None and not isinstance(animate_mode, str):
                raise InvalidInputError(f"animate_mode must be a string, got {short(animate_mode)}")
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=job_timeout)
            return VideoExtendRequest(
                message_id=parent_id,
                index=index,
                animate_mode=animate_mode,
                ref=ref,
                webhook_override=webhook_override,
                timeout=job_timeout,
            )

        return self._call("video.extend", VIDEO_EXTEND, build)


def _check_video_parent(parent: Message | str, index: int) -> str:
    if not isinstance(parent, Message):
        return check_message_id(parent, "parent")
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
    return parent_id
