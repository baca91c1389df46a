"""The bot: a :class:`commands.Bot` with the store, the AKOOL client and the settings injected."""

from __future__ import annotations

import logging
from typing import Final

import aiohttp
import discord
from discord.ext import commands

from bot.akool import AkoolClient
from bot.settings import Settings
from bot.store import JobStore

log = logging.getLogger(__name__)

# Loaded in this order at start-up; each is a module in cogs/ with a setup() function.
EXTENSIONS: Final[tuple[str, ...]] = ()


class AkoolBot(commands.Bot):
    """Slash commands only; the resources it uses are owned and closed by the entry point."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: JobStore,
        akool: AkoolClient,
        http: aiohttp.ClientSession,
    ) -> None:
        # No privileged intents: slash commands and buttons need none, and no message content.
        intents = discord.Intents.default()
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.store = store
        self.akool = akool
        self.http_session = http

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.discord_guild_id is not None:
            guild = discord.Object(id=self.settings.discord_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("Synced %d application commands", len(synced))

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("Connected to Discord as %s (%s)", self.user, self.user.id)
