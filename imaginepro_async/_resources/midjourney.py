"""Midjourney: imagine, the buttons of a finished job (upscale, vary, inpaint), describe, blend,
face swap, prompt checks.

These are the client's own methods (``client.imagine``, ``client.inpaint``, ...): the
``ImagineProClient`` is the Midjourney resource of its core, plus the client's verbs and the other
API families as attributes. Inpainting lives here with its mask rule: a mask of the image's aspect
ratio is scaled to it, another aspect ratio is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from imaginepro_async._calls import JobCall, Prepared
from imaginepro_async._errors import InvalidInputError
from imaginepro_async._models import (
    BlendRequest,
    Button,
    ButtonRequest,
    DescribeRequest,
    FaceSwapRequest,
    ImagineRequest,
    Message,
    PromptCheck,
    PromptCheckRequest,
)
from imaginepro_async._validation import (
    check_message_id,
    check_options,
    check_prompt,
    check_url,
    check_urls,
    short,
)
from imaginepro_async._wire.endpoints import (
    BLEND,
    BOOST_BUTTON,
    BOOST_IMAGINE,
    BUTTON,
    DESCRIBE,
    FACESWAP,
    IMAGINE,
    PROMPT_CHECK,
)

from .base import Resource

if TYPE_CHECKING:
    from imaginepro_async._masks.mask import MaskInput

__all__ = ["Midjourney"]

_UPSCALES = (Button.U1, Button.U2, Button.U3, Button.U4)
_VARIATIONS = (Button.V1, Button.V2, Button.V3, Button.V4)
#: How many image URLs a blend takes (legacy docs).
BLEND_IMAGES: Final = (2, 5)


def _check_boost(boost: object) -> None:
    if not isinstance(boost, bool):
        raise InvalidInputError(f"boost must be True or False, got {short(boost)}")


def _check_parent(parent: Message | str, button: Button | str) -> str:
    """The parent's messageId; with a ``Message``, the button is checked against its offer."""
    if not isinstance(button, str) or not button:
        raise InvalidInputError(f"button must be a Button or its string, got {short(button)}")
    if not isinstance(parent, Message):
        return check_message_id(parent, "parent")
    parent_id = check_message_id(parent.message_id, "parent.message_id")
    if not parent.is_terminal:
        raise InvalidInputError(
            f"job {parent_id} is {parent.status.value}; buttons can be pressed only on a "
            "finished job: await it first"
        )
    if button not in parent.buttons:
        offered = ", ".join(parent.buttons) or "none"
        raise InvalidInputError(
            f"job {parent_id} does not offer the button {str(button)!r} (it offers: {offered})"
        )
    return parent_id


def _pick(buttons: tuple[Button, ...], index: object, what: str) -> Button:
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 4:
        raise InvalidInputError(
            f"{what} index must be 1, 2, 3 or 4 (the image's place in the grid), got {short(index)}"
        )
    return buttons[index - 1]


class Midjourney(Resource):
    """Midjourney's endpoints: the client's own job-creating methods."""

    __slots__ = ()

    def imagine(
        self,
        prompt: str,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
        disable_cdn: bool | None = None,
        boost: bool = False,
    ) -> JobCall:
        """Start an image job from a prompt (``POST /api/v1/nova/imagine``); costs credits.

        Await the call for the ``Job`` (or pass it to ``enqueue``): it returns as soon as the
        server accepted the job (after waiting for the submission budget).

        Args:
            prompt: what to draw; for image-to-image, start it with an image URL.
            ref: your reference, echoed in the Message and the webhook.
            webhook_override: where ImaginePro posts the result instead of the account's default.
            job_timeout: the server-side job timeout, 10 to 900 seconds (the server's default:
                900). Waits on this side are ``job.wait(timeout=...)``, in real seconds.
            disable_cdn: skip the CDN upload (``uri`` may then be absent).
            boost: send through boost mode (``POST /api/v1/nova/boost/imagine``).

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
            SubmissionUncertainError: the request may have been processed but no answer came.
            APIStatusError: the server refused the job.
        """

        def build() -> ImagineRequest:
            text = check_prompt(prompt, required=True) or ""
            _check_boost(boost)
            check_options(
                ref=ref,
                webhook_override=webhook_override,
                job_timeout=job_timeout,
                disable_cdn=disable_cdn,
            )
            return ImagineRequest(
                prompt=text,
                ref=ref,
                webhook_override=webhook_override,
                timeout=job_timeout,
                disable_cdn=disable_cdn,
            )

        return self._call("imagine", BOOST_IMAGINE if boost else IMAGINE, build)

    def press(
        self,
        parent: Message | str,
        button: Button | str,
        *,
        prompt: str | None = None,
        mask: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
        disable_cdn: bool | None = None,
        boost: bool = False,
    ) -> JobCall:
        """Press a button on a finished job (``POST /api/v1/nova/button``); costs credits.

        Args:
            parent: the finished job, as a ``Message`` or its messageId. With a ``Message``, the
                button is checked against the ones it offers before anything is sent.
            button: a ``Button`` or its exact string (case and emoji included).
            prompt: an optional prompt for the button (for ``Vary (Region)``, what to draw).
            mask: base64 of the mask (prefer ``inpaint``, which builds and checks it).
            ref, webhook_override, job_timeout, disable_cdn: as for ``imagine``.
            boost: send through boost mode (``POST /api/v1/nova/boost/button``).

        Raises:
            InvalidInputError: a bad argument, or a button the parent does not offer.
        """

        def build() -> ButtonRequest:
            return self._button_request(
                parent, button, prompt, mask, ref, webhook_override, job_timeout, disable_cdn, boost
            )

        return self._call("press", BOOST_BUTTON if boost else BUTTON, build)

    @staticmethod
    def _button_request(
        parent: Message | str,
        button: Button | str,
        prompt: str | None,
        mask: str | None,
        ref: str | None,
        webhook_override: str | None,
        job_timeout: int | None,
        disable_cdn: bool | None,
        boost: bool,
    ) -> ButtonRequest:
        parent_id = _check_parent(parent, button)
        _check_boost(boost)
        check_prompt(prompt, required=False)
        check_options(
            ref=ref,
            webhook_override=webhook_override,
            job_timeout=job_timeout,
            disable_cdn=disable_cdn,
        )
        if mask is not None and not isinstance(mask, str):
            raise InvalidInputError("mask must be base64 text here; use client.inpaint for images")
        if button == Button.VARY_REGION and mask is None:
            raise InvalidInputError(
                "Vary (Region) needs a mask: use client.inpaint(parent, mask, prompt=...)"
            )
        return ButtonRequest(
            message_id=parent_id,
            button=str(button),
            mask=mask,
            prompt=prompt,
            ref=ref,
            webhook_override=webhook_override,
            timeout=job_timeout,
            disable_cdn=disable_cdn,
        )

    def upscale(
        self,
        parent: Message | str,
        index: int,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
        boost: bool = False,
    ) -> JobCall:
        """Upscale image ``index`` (1 to 4) of a grid: presses ``U1``..``U4``."""

        return self._grid_press(
            "upscale", _UPSCALES, parent, index, ref, webhook_override, job_timeout, boost
        )

    def vary(
        self,
        parent: Message | str,
        index: int,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
        boost: bool = False,
    ) -> JobCall:
        """Make variations of image ``index`` (1 to 4) of a grid: presses ``V1``..``V4``."""

        return self._grid_press(
            "vary", _VARIATIONS, parent, index, ref, webhook_override, job_timeout, boost
        )

    def _grid_press(
        self,
        what: str,
        buttons: tuple[Button, ...],
        parent: Message | str,
        index: int,
        ref: str | None,
        webhook_override: str | None,
        job_timeout: int | None,
        boost: bool,
    ) -> JobCall:
        """Press the button of image ``index`` of a grid among ``buttons`` (U1..U4, V1..V4)."""

        def build() -> ButtonRequest:
            button = _pick(buttons, index, what)
            return self._button_request(
                parent, button, None, None, ref, webhook_override, job_timeout, None, boost
            )

        return self._call(what, BOOST_BUTTON if boost is True else BUTTON, build)

    def inpaint(
        self,
        parent: Message | str,
        mask: MaskInput,
        *,
        prompt: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
        check_size: bool = True,
        resize_mask: bool = False,
        boost: bool = False,
    ) -> JobCall:
        """Redraw the region of an upscaled image that ``mask`` selects (``Vary (Region)``).

        A mask with the image's aspect ratio is accepted at any resolution: it is scaled to the
        image (nearest neighbour) when Pillow is installed, and sent as it is otherwise (the
        service scales it). A mask of another aspect ratio is refused before anything is sent.

        Args:
            parent: the upscaled job (after ``U1``..``U4``), as a ``Message`` or its messageId.
            mask: a ``Mask``, image bytes (PNG, WebP, JPEG), base64 text (a ``data:`` prefix is
                stripped), or a path to an image file. White selects what is redrawn.
            prompt: what to draw in the region.
            ref, webhook_override, job_timeout: as for ``imagine``.
            check_size: when ``parent`` is a ``Message`` with an image, read that image's size (the
                first bytes of ``parent.uri``, once per image) and fit the mask to it. If the
                image cannot be read, the check is skipped (the server checks too).
            resize_mask: stretch a mask of any size, even of another aspect ratio, to the image's.
            boost: send through boost mode (``POST /api/v1/nova/boost/button``).

        Raises:
            InvalidMaskError: the mask is not a usable black-and-white image, or its aspect ratio
                is not the image's (the message gives both sizes; nothing was sent).
            InvalidInputError: another bad argument, or the parent does not offer ``Vary (Region)``.
        """
        core = self._core

        async def prepare() -> Prepared[ButtonRequest]:
            from imaginepro_async._masks.load import load_mask

            _check_parent(parent, Button.VARY_REGION)
            check_prompt(prompt, required=False)
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=job_timeout)
            core.open()
            loaded = await load_mask(mask)  # refused here, before any traffic, if it is no mask
            if check_size is True and isinstance(parent, Message):
                expected = await core.image_size(parent)
                if expected is not None and expected != loaded.size:
                    loaded = await load_mask(
                        loaded, expected_size=expected, resize=resize_mask, fit=True
                    )
            request = self._button_request(
                parent,
                Button.VARY_REGION,
                prompt,
                loaded.to_base64(),
                ref,
                webhook_override,
                job_timeout,
                None,
                boost,
            )
            return Prepared(BOOST_BUTTON if boost is True else BUTTON, request)

        return self._prepared_call("inpaint", prepare)

    def describe(
        self,
        image: str,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        job_timeout: int | None = None,
    ) -> JobCall:
        """Ask for four prompts that describe an image (``POST /api/v1/nova/describe``).

        The finished job's ``prompt`` holds the suggestions. Costs credits (an estimate is in
        ``job.cost``).

        Args:
            image: a public http(s) URL of the image (under 1 MB recommended).
            ref, webhook_override, job_timeout: as for ``imagine``.

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
            APIStatusError: the server refused the job.
        """

        def build() -> DescribeRequest:
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=job_timeout)
            return DescribeRequest(
                url=check_url(image, "image"),
                ref=ref,
                webhook_override=webhook_override,
                timeout=job_timeout,
            )

        return self._call("describe", DESCRIBE, build)

    def blend(
        self,
        images: Sequence[str],
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
    ) -> JobCall:
        """Blend 2 to 5 images into a grid (``POST /api/v1/nova/blend``); costs credits.

        Only the legacy path ``/api/v1/midjourney/blend`` is documented: a 404 on the nova path
        (nothing processed) sends the same request there.

        Args:
            images: 2 to 5 public http(s) image URLs.
            ref, webhook_override: as for ``imagine``.
        """

        def build() -> BlendRequest:
            checked = check_urls(images, "images", *BLEND_IMAGES)
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=None)
            return BlendRequest(urls=checked, ref=ref, webhook_override=webhook_override)

        return self._call("blend", BLEND, build)

    def face_swap(
        self,
        source_image: str,
        target_image: str,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
    ) -> JobCall:
        """Put the face of ``source_image`` into ``target_image`` (``POST /api/v1/nova/faceswap``).

        Args:
            source_image: the http(s) URL of the image with the face.
            target_image: the http(s) URL of the image to put it in.
            ref, webhook_override: as for ``imagine``.
        """

        def build() -> FaceSwapRequest:
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=None)
            return FaceSwapRequest(
                source=check_url(source_image, "source_image"),
                target=check_url(target_image, "target_image"),
                ref=ref,
                webhook_override=webhook_override,
            )

        return self._call("face_swap", FACESWAP, build)

    async def check_prompt(self, prompt: str) -> PromptCheck:
        """Ask the server whether a prompt would be accepted (``POST /api/v1/nova/prompt-check``)."""
        checked = check_prompt(prompt, required=True) or ""
        return await self._core.read(PROMPT_CHECK, PromptCheckRequest(prompt=checked))
