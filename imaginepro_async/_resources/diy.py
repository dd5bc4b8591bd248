"""``client.diy``: the DIY plan (your own Discord accounts): commands, linked tokens, traces."""

from __future__ import annotations

from typing import ClassVar, Final

from imaginepro_async._calls import JobCall
from imaginepro_async._errors import InvalidInputError
from imaginepro_async._models import CommandRequest, DiscordToken, MessageTrace, TokenToggleRequest
from imaginepro_async._validation import check_choice, check_message_id, check_options, short
from imaginepro_async._wire.endpoints import (
    COMMANDS,
    DISCORD_TOKEN,
    DISCORD_TOKEN_TOGGLE,
    DISCORD_TOKENS,
    MESSAGE_TRACE,
)

from .base import Resource

__all__ = ["COMMAND_NAMES", "Diy"]

#: The Midjourney commands of the DIY plan (legacy docs).
COMMAND_NAMES: Final = ("relax", "fast", "turbo", "cancel", "remix")


class Diy(Resource):
    """The DIY plan (``client.diy``): jobs run on the Discord accounts you linked."""

    __slots__ = ()

    COMMANDS: ClassVar[tuple[str, ...]] = COMMAND_NAMES
    """The commands ``command`` runs."""

    def command(
        self, name: str, *, ref: str | None = None, webhook_override: str | None = None
    ) -> JobCall:
        """Run a Midjourney command on the linked account (``POST /api/v1/nova/commands``).

        Args:
            name: one of ``client.diy.COMMANDS``: ``"relax"``, ``"fast"``, ``"turbo"``, ``"cancel"``,
                ``"remix"``.
            ref, webhook_override: as for ``client.imagine``.
        """

        def build() -> CommandRequest:
            check_choice(name, "name", COMMAND_NAMES)
            check_options(ref=ref, webhook_override=webhook_override, job_timeout=None)
            return CommandRequest(cmd=name, ref=ref, webhook_override=webhook_override)

        return self._call("diy.command", COMMANDS, build)

    async def tokens(self) -> list[DiscordToken]:
        """The Discord accounts linked to the plan (``GET /api/v1/discord/tokens``)."""
        tokens: tuple[DiscordToken, ...] = await self._core.read(DISCORD_TOKENS)
        return list(tokens)

    async def token(self, token_id: str) -> DiscordToken:
        """One linked Discord account (``GET /api/v1/discord/token/{id}``).

        Raises:
            NotFoundError: no linked account has this id.
        """
        return await self._core.read(DISCORD_TOKEN, token_id=check_message_id(token_id, "token_id"))

    async def set_token_active(self, token_id: str, *, active: bool) -> DiscordToken:
        """Switch a linked Discord account on or off (``PUT /api/v1/discord/token/{id}``).

        Returns the updated record.
        """
        if not isinstance(active, bool):
            raise InvalidInputError(f"active must be True or False, got {short(active)}")
        return await self._core.read(
            DISCORD_TOKEN_TOGGLE,
            TokenToggleRequest(is_active=active),
            token_id=check_message_id(token_id, "token_id"),
        )

    async def trace(self, message_id: str) -> MessageTrace:
        """Which linked Discord account ran a job (``GET /api/v1/message/trace/{id}``)."""
        return await self._core.read(MESSAGE_TRACE, message_id=check_message_id(message_id))
