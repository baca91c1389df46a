"""Turning an error into an answer: domain errors say their sentence, anything else gets a
short apology with a reference id that also appears in the log line with the full traceback."""

from __future__ import annotations

import logging
import secrets

import discord

from bot.akool import AkoolError

log = logging.getLogger(__name__)


class UserFacingError(Exception):
    """An error whose message is meant for the person who caused it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def describe(error: BaseException) -> str | None:
    """The sentence for a domain error, or ``None`` when the error is unexpected."""
    if isinstance(error, UserFacingError):
        return error.message
    if isinstance(error, AkoolError):
        return error.user_message
    return None


async def report(interaction: discord.Interaction, error: BaseException, *, what: str) -> None:
    """Answer ``interaction`` ephemerally with what went wrong, logging unexpected errors."""
    message = describe(error)
    if message is None:
        reference = secrets.token_hex(4)
        log.error(
            "Unexpected error %s in %s (user %s, guild %s, channel %s)",
            reference,
            what,
            interaction.user.id,
            interaction.guild_id,
            interaction.channel_id,
            exc_info=error,
        )
        message = f"Sorry, something went wrong. If it keeps happening, quote `{reference}`."
    await answer_privately(interaction, message)


async def answer_privately(interaction: discord.Interaction, message: str) -> None:
    """Send ``message`` that only the user sees, whatever state the interaction is in."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        # The interaction token may have expired (15 minutes) or the channel may be gone.
        log.warning("Could not tell user %s: %s", interaction.user.id, message)
