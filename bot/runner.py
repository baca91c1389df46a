"""Owns the process's resources: one HTTP session, the store, the AKOOL client and the bot."""

from __future__ import annotations

import logging

import aiohttp
import discord

from bot.akool import AkoolClient
from bot.core import AkoolBot
from bot.settings import Settings
from bot.store import UnsupportedDatabaseError, open_store

log = logging.getLogger(__name__)


async def run(settings: Settings) -> int:
    """Run the bot until it is stopped; return the process exit code."""
    try:
        store = await open_store(settings.database_url)
    except UnsupportedDatabaseError as exc:
        log.error("%s", exc)
        return 2
    async with store, aiohttp.ClientSession() as session:
        akool = AkoolClient(
            session,
            settings.akool_api_key,
            settings.akool_base_url,
            timeout=settings.akool_timeout,
        )
        async with AkoolBot(settings=settings, store=store, akool=akool, http=session) as bot:
            try:
                await bot.start(settings.discord_token.reveal())
            except discord.LoginFailure:
                log.error(
                    "Discord rejected DISCORD_TOKEN. Reset the token in the Developer Portal "
                    "(Bot -> Reset Token) and put the new one in .env."
                )
                return 2
            except discord.PrivilegedIntentsRequired:
                log.error("Discord refused the gateway intents the bot asked for.")
                return 2
    return 0
