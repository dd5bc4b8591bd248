"""``client.gemini``: images from text and images with Gemini."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from imaginepro_async._calls import JobCall
from imaginepro_async._models import ContentPart, ContentsRequest
from imaginepro_async._wire.endpoints import GEMINI_IMAGINE

from .base import Resource, contents_request

__all__ = ["GEMINI_MODELS", "Gemini"]

# doc (JS SDK 1.0.3): the default first; its README names flux-1.1-pro as the alternative, and its
# type for ``model`` admits every universal model too.
GEMINI_MODELS: Final = (
    "gemini-2.5-flash-image-preview", "flux-1.1-pro",
    "nano-banana", "nano-banana-2", "gemini-3-pro-image-preview",
)  # fmt: skip


class Gemini(Resource):
    """Gemini (``client.gemini``)."""

    __slots__ = ()

    MODELS: ClassVar[tuple[str, ...]] = GEMINI_MODELS
    """The models ``imagine`` takes."""

    def imagine(
        self,
        contents: Sequence[str | ContentPart] | str,
        *,
        model: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
    ) -> JobCall:
        """Make an image from text and images with Gemini (``POST /api/v1/gemini/imagine``).

        Args:
            contents: the parts, in order: ``str`` or ``TextPart`` for text, ``ImagePart(url)``
                for an image (1 to 16 parts).
            model: one of ``client.gemini.MODELS`` (default: the server's,
                ``gemini-2.5-flash-image-preview``; ``flux-1.1-pro`` and the universal models are
                accepted too).
            ref, webhook_override, job_timeout: as for ``client.imagine``.
        """

        def build() -> ContentsRequest:
            return contents_request(
                contents, model, GEMINI_MODELS, ref, webhook_override, job_timeout
            )

        return self._call("gemini.imagine", GEMINI_IMAGINE, build)
