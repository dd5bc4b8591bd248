"""``client.flux``: images from Flux models, and Flux upscales."""

from __future__ import annotations

from typing import ClassVar, Final

from imaginepro_async._calls import JobCall
from imaginepro_async._models import FluxImagineRequest, FluxUpscaleRequest
from imaginepro_async._validation import (
    check_choice,
    check_count,
    check_options,
    check_prompt,
    check_url,
)
from imaginepro_async._wire.endpoints import FLUX_IMAGINE, FLUX_UPSCALE

from .base import Resource

__all__ = ["FLUX_ASPECT_RATIOS", "FLUX_MODELS", "FLUX_OUTPUT_FORMATS", "Flux"]

#: Flux: images per request (doc), side in pixels (doc: multiples of 8; range assumed).
FLUX_N: Final = (1, 4)
FLUX_SIDE: Final = (256, 2048, 8)
FLUX_ASPECT_RATIOS: Final = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")
FLUX_OUTPUT_FORMATS: Final = ("png", "jpg", "webp")  # doc default "png"; the others assumed
FLUX_MODELS: Final = (  # doc: flux-1.1-pro (the default); the others assumed
    "flux-1.1-pro", "flux-1.1-pro-ultra", "flux-pro", "flux-dev", "flux-schnell",
)  # fmt: skip
FLUX_UPSCALE_SCALE: Final = (2, 4)  # third-party docs


class Flux(Resource):
    """Flux models (``client.flux``): ``imagine`` and ``upscale``; each call costs credits."""

    __slots__ = ()

    MODELS: ClassVar[tuple[str, ...]] = FLUX_MODELS
    """The Flux models ``imagine`` takes."""

    ASPECT_RATIOS: ClassVar[tuple[str, ...]] = FLUX_ASPECT_RATIOS
    """The aspect ratios ``imagine`` takes."""

    OUTPUT_FORMATS: ClassVar[tuple[str, ...]] = FLUX_OUTPUT_FORMATS
    """The output formats ``imagine`` takes."""

    def imagine(
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
        job_timeout: int | None = None,
    ) -> JobCall:
        """Draw ``n`` images with a Flux model (``POST /api/v1/flux/imagine``); costs credits.

        Every output is in the finished job's ``images``. Left as None, a setting takes the
        server's default. Await the call for the ``Job`` (or pass it to ``client.enqueue``).

        Args:
            prompt: what to draw.
            n: how many images, 1 to 4 (default 1).
            width, height: in pixels, multiples of 8 from 256 to 2048 (default 1024).
            aspect_ratio: one of ``client.flux.ASPECT_RATIOS`` (default ``"1:1"``).
            output_format: ``"png"`` (default), ``"jpg"`` or ``"webp"``.
            output_quality: 0 to 100 (default 100).
            model: one of ``client.flux.MODELS`` (default ``"flux-1.1-pro"``).
            ref, webhook_override, job_timeout: as for ``client.imagine``.

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
        """

        def build() -> FluxImagineRequest:
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
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=job_timeout)
            return FluxImagineRequest(
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
                timeout=job_timeout,
            )

        return self._call("flux.imagine", FLUX_IMAGINE, build)

    def upscale(
        self,
        image: str,
        scale: int,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
    ) -> JobCall:
        """Upscale an image ``scale`` times with Flux (``POST /api/v1/flux/upscale``).

        Third-party documented: the endpoint and its fields are not in ImaginePro's own docs.

        Args:
            image: the http(s) URL of the image.
            scale: 2 to 4.
            ref, webhook_override: as for ``client.imagine``.
        """

        def build() -> FluxUpscaleRequest:
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=None)
            return FluxUpscaleRequest(
                image=check_url(image, "image"),
                scale=check_count(scale, "scale", *FLUX_UPSCALE_SCALE),
                ref=ref,
                webhook_override=webhook_override,
            )

        return self._call("flux.upscale", FLUX_UPSCALE, build)
