"""The client's reads: a job's Message, the account, its history, a prompt check, a download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import overload

import yarl

from ._client_mixin import ClientMixin
from ._errors import InvalidInputError
from ._models import (
    AccountInfo,
    HistoryImage,
    HistoryPage,
    Message,
    PromptCheck,
    PromptCheckRequest,
)
from ._validation import check_message_id, check_prompt, short
from ._wire.endpoints import ACCOUNT_INFO, HISTORY, MESSAGE, PROMPT_CHECK

__all__ = ["ReadMethods"]


class ReadMethods(ClientMixin):
    """The client's methods that read (within the poll or create budget) and pay for nothing."""

    @overload
    async def download(
        self,
        source: Message | str,
        *,
        index: int | None = None,
        max_bytes: int = ...,
        to: None = None,
    ) -> bytes: ...

    @overload
    async def download(
        self,
        source: Message | str,
        *,
        index: int | None = None,
        max_bytes: int = ...,
        to: Path | Callable[[str], Path],
    ) -> Path: ...

    async def download(
        self,
        source: Message | str,
        *,
        index: int | None = None,
        max_bytes: int = 50 * 1024 * 1024,
        to: Path | Callable[[str], Path] | None = None,
    ) -> bytes | Path:
        """Download a result image: a URL, or a finished Message's image (for a mask preview).

        Returns its bytes, or with ``to`` the path it was saved to (written atomically: the file is
        either absent or complete). Connection errors and 5xx answers are retried.

        Args:
            source: a ``Message`` (image ``index`` of its ``image_urls``: ``images`` when given,
                else ``uri``) or a URL.
            index: which image of a grid, 1 to 4 (default: the first).
            max_bytes: refuse larger files.
            to: save the image to this file instead of returning its bytes; or a function from
                the file's extension (``png``, ``jpg``, ``webp``, ``gif``, ``mp4``, from the answer's
                content type) to the file.

        Raises:
            InvalidInputError: the Message has no such image.
            ResponseValidationError: the answer is not an image, or is too large.
        """
        if isinstance(source, Message):
            urls = source.image_urls
            if not urls:
                raise InvalidInputError(
                    f"job {source.message_id} has no image ({source.status.value}); await it first"
                )
            if index is not None and (
                isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= len(urls)
            ):
                raise InvalidInputError(
                    f"job {source.message_id} has {len(urls)} images; index {short(index)} is out "
                    "of range"
                )
            url = urls[(index or 1) - 1]
        elif isinstance(source, str) and yarl.URL(source).scheme in ("http", "https"):
            url = source
        else:
            raise InvalidInputError(
                f"source must be a Message or an http(s) URL, got {short(source)}"
            )
        transport, _ = self._open()
        return await transport.download(url, max_bytes=max_bytes, to=to)

    async def fetch(self, message_id: str) -> Message:
        """Fetch a job's Message once (``GET /api/v1/message/fetch/{id}``), within the poll budget.

        A video job this client follows is fetched from the video progress endpoint.

        Raises:
            NotFoundError: the server does not know the messageId.
        """
        check_message_id(message_id)
        _, scheduler = self._open()
        endpoint = scheduler.route(message_id) or MESSAGE
        sent = self._clock.now()
        message: Message = await self._read(endpoint, message_id=message_id)
        if message.message_id == message_id:
            scheduler.observe(message, sent=sent)
        return message

    async def account(self) -> AccountInfo:
        """The account's plan and credits (``GET /api/v1/subscription/account-info``)."""
        info: AccountInfo = await self._read(ACCOUNT_INFO)
        return info

    async def history(self, *, page: int = 1, size: int = 10) -> list[HistoryImage]:
        """The account's jobs of the last 24 hours, newest first (``GET /api/v1/nova/images``)."""
        for name, value in (("page", page), ("size", size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a whole number ≥ 1, got {short(value)}")
        answer: HistoryPage = await self._read(HISTORY, query={"page": page, "size": size})
        return list(answer.images)

    async def check_prompt(self, prompt: str) -> PromptCheck:
        """Ask the server whether a prompt would be accepted (``POST /api/v1/nova/prompt-check``)."""
        checked = check_prompt(prompt, required=True) or ""
        verdict: PromptCheck = await self._read(
            PROMPT_CHECK, body=PromptCheckRequest(prompt=checked)
        )
        return verdict
