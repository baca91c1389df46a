"""Which language a post is written in.

A private answer is for one member: it follows their Discord (``interaction.locale``). A post
in a channel is read by everyone there: it follows the server's language, which its admins set
with ``/settings language``; until they do, it is the language a community server chose in
Discord (``preferred_locale``, which Discord lets only community servers change), else English.
"""

from __future__ import annotations

from typing import Final

import discord

from bot import i18n
from bot.server_settings import ServerSettings
from bot.store import JobStore

# What ``ServerSettings.language`` holds when the admins have not chosen one.
FOLLOW_DISCORD: Final = ""
COMMUNITY: Final = "COMMUNITY"


def shipped() -> tuple[str, ...]:
    """The languages an admin may choose: English and every catalog (``de``, ``pt_BR``)."""
    return tuple(i18n.languages())


def discord_choice(guild: discord.Guild | None) -> str | None:
    """The language a community server chose in Discord; ``None`` for any other server
    (Discord reports ``en-US`` for every server that cannot choose)."""
    if guild is None or COMMUNITY not in guild.features:
        return None
    return guild.preferred_locale.value


def server_locale(settings: ServerSettings, guild: discord.Guild | None) -> str:
    """The language of the server's public posts."""
    if settings.language:
        return settings.language
    return discord_choice(guild) or i18n.SOURCE_LANGUAGE


async def public_locale(store: JobStore, client: discord.Client, guild_id: int | None) -> str:
    """The language of a post in ``guild_id``'s channels, made without an interaction (the job
    loop's results); a DM's language is English, which has nobody else to follow."""
    if guild_id is None:
        return i18n.SOURCE_LANGUAGE
    return server_locale(await store.server_settings(guild_id), client.get_guild(guild_id))


async def interaction_server_locale(store: JobStore, interaction: discord.Interaction) -> str:
    """The language of a post that ``interaction`` makes in its server's channel."""
    if interaction.guild_id is None:
        return str(interaction.locale)
    settings = await store.server_settings(interaction.guild_id)
    if not settings.language and interaction.guild is None:
        # A server the bot's cache does not hold: the interaction says what Discord would.
        return _from_interaction(interaction)
    return server_locale(settings, interaction.guild)


def _from_interaction(interaction: discord.Interaction) -> str:
    locale = interaction.guild_locale
    return locale.value if locale is not None and locale.value != "en-US" else i18n.SOURCE_LANGUAGE
