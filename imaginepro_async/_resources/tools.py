"""``client.tools``: image tools (background removal)."""

from __future__ import annotations

from imaginepro_async._calls import JobCall
from imaginepro_async._models import RemoveBackgroundRequest
from imaginepro_async._validation import check_options, check_url
from imaginepro_async._wire.endpoints import REMOVE_BG

from .base import Resource

__all__ = ["Tools"]


class Tools(Resource):
    """Image tools (``client.tools``)."""

    __slots__ = ()

    def remove_background(
        self, image: str, *, ref: str | None = None, webhook_override: str | None = None
    ) -> JobCall:
        """Cut the background out of an image (``POST /api/v1/tools/remove-bg``); costs credits.

        Third-party documented: ImaginePro's docs have a page for it, but its body is assumed.

        Args:
            image: the http(s) URL of the image.
            ref, webhook_override: as for ``client.imagine``.
        """

        def build() -> RemoveBackgroundRequest:
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=None)
            return RemoveBackgroundRequest(
                image=check_url(image, "image"), ref=ref, webhook_override=webhook_override
            )

        return self._call("tools.remove_background", REMOVE_BG, build)
