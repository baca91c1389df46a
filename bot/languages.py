"""Which language a post is written in.

A private answer is for one member: it follows their Discord (``interaction.locale``). A post
in a channel is read by everyone there: it follows the server's language, which its admins set
with ``/settings language``; until they do, it is the language a community server chose in
Discord (``preferred_locale``, which Discord lets only community servers change), else English.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import discord

from bot import i18n
from bot.server_settings import ServerSettings
from bot.store import JobStore

# What ``ServerSettings.language`` holds when the admins have not chosen one.
FOLLOW_DISCORD: Final = ""
COMMUNITY: Final = "COMMUNITY"
# How long the job loop's posts may follow a server's language after another process changed it.
CACHE_TTL: Final = 30.0
# Past this many servers, those read longer than CACHE_TTL ago are forgotten.
_REMEMBERED: Final = 10_000


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
    return _chosen(settings.language, guild)


def _chosen(language: str, guild: discord.Guild | None) -> str:
    return language or discord_choice(guild) or i18n.SOURCE_LANGUAGE


async def public_locale(store: JobStore, client: discord.Client, guild_id: int | None) -> str:
    """The language of a post in ``guild_id``'s channels, made without an interaction (the job
    loop's results); a DM's language is English, which has nobody else to follow."""
    if guild_id is None:
        return i18n.SOURCE_LANGUAGE
    return server_locale(await store.server_settings(guild_id), client.get_guild(guild_id))


class PublicLocales:
    """The language of each server's posts for the job loop (results, failures, status lines),
    which posts many of them: each server's setting is read from the store at most every
    ``ttl`` seconds, and again at once after this process saved it (:meth:`forget`). A change
    made through another process takes effect here within ``ttl``; Discord's own choice of a
    community server is always the one the gateway last reported.
    """

    def __init__(
        self,
        store: JobStore,
        client: discord.Client,
        *,
        ttl: float = CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._client = client
        self._ttl = ttl
        self._clock = clock
        # guild id -> (when read, the admins' language or FOLLOW_DISCORD)
        self._read: dict[int, tuple[float, str]] = {}

    async def of(self, guild_id: int | None) -> str:
        """The language of a post in ``guild_id``'s channels (English in a DM)."""
        if guild_id is None:
            return i18n.SOURCE_LANGUAGE
        now = self._clock()
        read = self._read.get(guild_id)
        if read is None or now - read[0] >= self._ttl:
            settings = await self._store.server_settings(guild_id)
            if len(self._read) >= _REMEMBERED:
                self._read = {g: r for g, r in self._read.items() if now - r[0] < self._ttl}
            read = self._read[guild_id] = (now, settings.language)
        return _chosen(read[1], self._client.get_guild(guild_id))

    def forget(self, guild_id: int) -> None:
        """``guild_id``'s settings changed: read them again for the next post."""
        self._read.pop(guild_id, None)


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
