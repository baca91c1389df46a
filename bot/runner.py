"""Owns the process's resources: one HTTP session, the store, the AKOOL client and the bot."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import discord

from bot.akool import AkoolClient
from bot.core import AkoolBot
from bot.settings import Settings
from bot.store import UnsupportedDatabaseError, open_store

log = logging.getLogger(__name__)


@asynccontextmanager
async def assemble(
    settings: Settings, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[AkoolBot]:
    """Open the store and the HTTP session, build the bot on them, and close all on exit.

    The entry point and the end-to-end tests both start the bot through this, so the tests
    exercise the same wiring that production runs.
    """
    async with await open_store(settings.database_url) as store, aiohttp.ClientSession() as http:
        akool = AkoolClient(
            http, settings.akool_api_key, settings.akool_base_url, timeout=settings.akool_timeout
        )
        bot = AkoolBot(settings=settings, store=store, akool=akool, http=http, clock=clock)
        async with bot:
            yield bot


async def run(settings: Settings) -> int:
    """Run the bot until it is stopped; return the process exit code."""
    try:
        async with assemble(settings) as bot:
            await bot.start(settings.discord_token.reveal())
    except UnsupportedDatabaseError as exc:
        log.error("%s", exc)
        return 2
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
