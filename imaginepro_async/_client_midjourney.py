"""The client's Midjourney methods: imagine, press a button (upscale, vary, inpaint).

``ImagineProClient`` inherits them. Inpainting lives here with its mask rule: a mask of the image's
aspect ratio is scaled to it, another aspect ratio is refused before anything is sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._client_mixin import ClientMixin
from ._errors import ImagineProError, InvalidInputError
from ._models import Button, ButtonRequest, ImagineRequest, Message
from ._validation import check_message_id, check_options, check_prompt, short
from ._wire.endpoints import BOOST_BUTTON, BOOST_IMAGINE, BUTTON, IMAGINE

if TYPE_CHECKING:
    from ._jobs import Job
    from ._masks.mask import MaskInput

__all__ = ["MidjourneyMethods"]

logger = logging.getLogger("imaginepro_async")

_UPSCALES = (Button.U1, Button.U2, Button.U3, Button.U4)
_VARIATIONS = (Button.V1, Button.V2, Button.V3, Button.V4)


def _check_boost(boost: object) -> None:
    if not isinstance(boost, bool):
        raise InvalidInputError(f"boost must be True or False, got {short(boost)}")


class MidjourneyMethods(ClientMixin):
    """The client's methods for imagine and the buttons of a finished job, inpainting included."""

    async def imagine(
        self,
        prompt: str,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
        disable_cdn: bool | None = None,
        boost: bool = False,
    ) -> Job:
        """Start an image job from a prompt (``POST /api/v1/nova/imagine``); costs credits.

        Returns as soon as the server accepted the job (after waiting for the submission budget).

        Args:
            prompt: what to draw; for image-to-image, start it with an image URL.
            ref: your reference, echoed in the Message and the webhook.
            webhook_override: where ImaginePro posts the result instead of the account's default.
            timeout: server-side job timeout, 10 to 900 seconds.
            disable_cdn: skip the CDN upload (``uri`` may then be absent).
            boost: send through boost mode (``POST /api/v1/nova/boost/imagine``).

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
            SubmissionUncertainError: the request may have been processed but no answer came.
            APIStatusError: the server refused the job.
        """
        prompt = check_prompt(prompt, required=True) or ""
        _check_boost(boost)
        check_options(
            ref=ref, webhook_override=webhook_override, timeout=timeout, disable_cdn=disable_cdn
        )
        self._open()
        request = ImagineRequest(
            prompt=prompt,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
            disable_cdn=disable_cdn,
        )
        return await self._submit(BOOST_IMAGINE if boost else IMAGINE, request)

    async def press(
        self,
        parent: Message | str,
        button: Button | str,
        *,
        prompt: str | None = None,
        mask: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
        disable_cdn: bool | None = None,
        boost: bool = False,
    ) -> Job:
        """Press a button on a finished job (``POST /api/v1/nova/button``); costs credits.

        Args:
            parent: the finished job, as a ``Message`` or its messageId. With a ``Message``, the button
                is checked against the ones it offers before anything is sent.
            button: a ``Button`` or its exact string (case and emoji included).
            prompt: an optional prompt for the button (for ``Vary (Region)``, what to draw).
            mask: base64 of the mask (prefer ``inpaint``, which builds and checks it).
            ref, webhook_override, timeout, disable_cdn: as for ``imagine``.
            boost: send through boost mode (``POST /api/v1/nova/boost/button``).

        Raises:
            InvalidInputError: a bad argument, or a button the parent does not offer.
        """
        parent_id = self._check_parent(parent, button)
        _check_boost(boost)
        check_prompt(prompt, required=False)
        check_options(
            ref=ref, webhook_override=webhook_override, timeout=timeout, disable_cdn=disable_cdn
        )
        if mask is not None and not isinstance(mask, str):
            raise InvalidInputError("mask must be base64 text here; use client.inpaint for images")
        if button == Button.VARY_REGION and mask is None:
            raise InvalidInputError(
                "Vary (Region) needs a mask: use client.inpaint(parent, mask, prompt=...)"
            )
        self._open()
        request = ButtonRequest(
            message_id=parent_id,
            button=str(button),
            mask=mask,
            prompt=prompt,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
            disable_cdn=disable_cdn,
        )
        return await self._submit(BOOST_BUTTON if boost else BUTTON, request)

    def _check_parent(self, parent: Message | str, button: Button | str) -> str:
        if not isinstance(button, str) or not button:
            raise InvalidInputError(f"button must be a Button or its string, got {short(button)}")
        if isinstance(parent, Message):
            parent_id = check_message_id(parent.message_id, "parent.message_id")
            if not parent.is_terminal:
                raise InvalidInputError(
                    f"job {parent_id} is {parent.status.value}; buttons can be pressed only on a "
                    "finished job: await it first"
                )
            if button not in parent.buttons:
                offered = ", ".join(parent.buttons) or "none"
                raise InvalidInputError(
                    f"job {parent_id} does not offer the button {str(button)!r} (it offers: "
                    f"{offered})"
                )
            return parent_id
        return check_message_id(parent, "parent")

    async def upscale(
        self,
        parent: Message | str,
        index: int,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
        boost: bool = False,
    ) -> Job:
        """Upscale image ``index`` (1 to 4) of a grid: presses ``U1``..``U4``."""
        button = self._pick(_UPSCALES, index, "upscale")
        return await self.press(
            parent, button, ref=ref, webhook_override=webhook_override, timeout=timeout, boost=boost
        )

    async def vary(
        self,
        parent: Message | str,
        index: int,
        *,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
        boost: bool = False,
    ) -> Job:
        """Make variations of image ``index`` (1 to 4) of a grid: presses ``V1``..``V4``."""
        button = self._pick(_VARIATIONS, index, "vary")
        return await self.press(
            parent, button, ref=ref, webhook_override=webhook_override, timeout=timeout, boost=boost
        )

    @staticmethod
    def _pick(buttons: tuple[Button, ...], index: object, what: str) -> Button:
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 4:
            raise InvalidInputError(
                f"{what} index must be 1, 2, 3 or 4 (the image's place in the grid), got "
                f"{short(index)}"
            )
        return buttons[index - 1]

    async def inpaint(
        self,
        parent: Message | str,
        mask: MaskInput,
        *,
        prompt: str | None = None,
        ref: str | None = None,
        webhook_override: str | None = None,
        timeout: int | None = None,
        check_size: bool = True,
        resize_mask: bool = False,
        boost: bool = False,
    ) -> Job:
        """Redraw the region of an upscaled image that ``mask`` selects (``Vary (Region)``).

        A mask with the image's aspect ratio is accepted at any resolution: it is scaled to the
        image (nearest neighbour) when Pillow is installed, and sent as it is otherwise (the
        service scales it). A mask of another aspect ratio is refused before anything is sent.

        Args:
            parent: the upscaled job (after ``U1``..``U4``), as a ``Message`` or its messageId.
            mask: a ``Mask``, image bytes (PNG, WebP, JPEG), base64 text (a ``data:`` prefix is
                stripped), or a path to an image file. White selects what is redrawn.
            prompt: what to draw in the region.
            ref, webhook_override, timeout: as for ``imagine``.
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
        from ._masks.load import load_mask

        self._check_parent(parent, Button.VARY_REGION)
        check_prompt(prompt, required=False)
        check_options(ref=ref, webhook_override=webhook_override, timeout=timeout, disable_cdn=None)
        self._open()
        loaded = await load_mask(mask)  # refused here, before any traffic, if it is no mask at all
        if check_size and isinstance(parent, Message):
            expected = await self._image_size(parent)
            if expected is not None and expected != loaded.size:
                loaded = await load_mask(
                    loaded, expected_size=expected, resize=resize_mask, fit=True
                )
        return await self.press(
            parent,
            Button.VARY_REGION,
            mask=loaded.to_base64(),
            prompt=prompt,
            ref=ref,
            webhook_override=webhook_override,
            timeout=timeout,
            boost=boost,
        )

    async def _image_size(self, message: Message) -> tuple[int, int] | None:
        """The size of a finished job's image, from the first bytes of the file; None if unknown."""
        from ._masks.imageinfo import sniff_image

        if not message.image_urls:
            return None
        url = message.image_urls[0]
        if url in self._image_sizes:
            return self._image_sizes[url]
        transport, _ = self._open()
        try:
            head = await transport.download(url, max_bytes=256 * 1024, prefix_only=True)
            size = sniff_image(head, name="the parent's image").size
        except ImagineProError as exc:
            logger.warning("could not read the size of %s (%s); mask size not checked", url, exc)
            return None
        if len(self._image_sizes) >= 1024:
            self._image_sizes.clear()
        self._image_sizes[url] = size
        return size
