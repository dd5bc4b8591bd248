"""``client.universal``: images from any of several models (nano-banana, Gemini, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from imaginepro_async._calls import JobCall
from imaginepro_async._models import ContentPart, ContentsRequest
from imaginepro_async._wire.endpoints import UNIVERSAL_IMAGINE

from .base import Resource, contents_request

__all__ = ["UNIVERSAL_MODELS", "Universal"]

UNIVERSAL_MODELS: Final = (  # doc (JS SDK); the first is the default
    "nano-banana", "nano-banana-2", "gemini-2.5-flash-image-preview", "gemini-3-pro-image-preview",
)  # fmt: skip


class Universal(Resource):
    """One endpoint for several image models (``client.universal``)."""

    __slots__ = ()

    MODELS: ClassVar[tuple[str, ...]] = UNIVERSAL_MODELS
    """The models ``imagine`` takes (the first is the server's default)."""

    def imagine(
        self,
        contents: Sequence[str | ContentPart] | str,
        *,
        model: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
    ) -> JobCall:
        """Make an image with any of several models (``POST /api/v1/universal/imagine``).

        Args:
            contents: the parts, in order: ``str`` or ``TextPart`` for text, ``ImagePart(url)``
                for an image (1 to 16 parts).
            model: one of ``client.universal.MODELS`` (default ``"nano-banana"``).
            ref, webhook_override, job_timeout: as for ``client.imagine``.
        """

        def build() -> ContentsRequest:
            return contents_request(
                contents, model, UNIVERSAL_MODELS, ref, webhook_override, job_timeout
            )

        return self._call("universal.imagine", UNIVERSAL_IMAGINE, build)
