"""Turning an error into an answer: domain errors say their sentence, anything else gets a
short apology with a reference id that also appears in the log line with the full traceback.

An error raised in ``bot/`` does not know who will read it: it carries an :class:`bot.i18n.Text`
(a message id and its values), and the sentence is written in the reader's language where the
answer is sent (:func:`report`, with ``interaction.locale``)."""

from __future__ import annotations

import logging
import secrets

import discord

from bot import i18n
from bot.akool import AkoolError
from bot.i18n import LocaleLike, Text

log = logging.getLogger(__name__)


class UserFacingError(Exception):
    """An error whose message is meant for the person who caused it, in their language.

    ``text`` is an :class:`bot.i18n.Text` (``i18n.lazy("...", name=value)``); a plain string is
    shown as it is, to every reader (kept only for text that is not the bot's own words).
    """

    def __init__(self, text: Text | str) -> None:
        super().__init__(str(text))
        self.text = text

    @property
    def message(self) -> str:
        """The sentence in the source language (for logs and for what is stored)."""
        return str(self.text)

    def in_language(self, locale: LocaleLike) -> str:
        return self.text(locale) if isinstance(self.text, Text) else self.text


def describe(error: BaseException, locale: LocaleLike = None) -> str | None:
    """The sentence for a domain error in ``locale``'s language, or ``None`` when the error is
    unexpected."""
    if isinstance(error, UserFacingError):
        return error.in_language(locale)
    if isinstance(error, AkoolError):
        return error.user_text(locale)
    return None


async def report(interaction: discord.Interaction, error: BaseException, *, what: str) -> None:
    """Answer ``interaction`` ephemerally with what went wrong, logging unexpected errors."""
    locale = interaction.locale
    message = describe(error, locale)
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
        message = i18n.gettext(
            locale,
            "Sorry, something went wrong. If it keeps happening, quote `{reference}`.",
            reference=reference,
        )
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
