"""Run a real discord.py bot against a FakeDiscord for the length of an ``async with``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from discord.ext import commands

from tests.fakes.discord_server.core import FakeDiscord

log = logging.getLogger(__name__)

BotT = TypeVar("BotT", commands.Bot, commands.AutoShardedBot)

#: Quiet period used instead of discord.py's default 2 s ``guild_ready_timeout``.
FAST_GUILD_READY_TIMEOUT = 0.05


@contextlib.asynccontextmanager
async def run_bot(
    fake: FakeDiscord,
    bot: BotT,
    *,
    token: str | None = None,
    timeout: float = 10.0,
    fast_ready: bool = True,
) -> AsyncIterator[BotT]:
    """Start ``bot`` against ``fake``, wait for its ``on_ready``, close it cleanly on exit.

    Why ``fast_ready``: discord.py 2.7 has no "all guilds received" check. After READY it pulls
    GUILD_CREATEs from a queue and fires ``on_ready`` only once none arrived for
    ``guild_ready_timeout`` seconds (2 s by default), however many guilds READY announced. No
    wire payload can shorten that, so the fake sends every GUILD_CREATE in the same burst as
    READY and this helper lowers the bot's ``guild_ready_timeout`` (a public ``Client``
    option, read from ``bot._connection``) to 50 ms. Construct the bot with
    ``guild_ready_timeout=...`` yourself and pass ``fast_ready=False`` to keep your value.
    """
    if fast_ready:
        conn = bot._connection
        conn.guild_ready_timeout = min(conn.guild_ready_timeout, FAST_GUILD_READY_TIMEOUT)
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    bot.add_listener(on_ready, "on_ready")
    startup_failed = False
    with fake.patched():
        runner = asyncio.create_task(bot.start(token or fake.token), name=f"run_bot:{bot!r}")
        waiter = asyncio.create_task(ready.wait())
        try:
            done, _ = await asyncio.wait(
                {runner, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if waiter not in done:
                if runner in done:
                    startup_failed = True
                    runner.result()  # re-raise LoginFailure, PrivilegedIntentsRequired, ...
                    raise RuntimeError("bot.start() returned before on_ready")
                raise TimeoutError(f"bot did not become ready within {timeout:g}s")
            yield bot
        finally:
            waiter.cancel()
            bot.remove_listener(on_ready, "on_ready")
            await bot.close()
            try:
                await asyncio.wait_for(runner, 5.0)
            except asyncio.CancelledError:
                pass
            except Exception:
                if not startup_failed:
                    log.exception("bot task ended with an error")
