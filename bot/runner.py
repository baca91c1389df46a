"""Owns the process's resources: one HTTP session, the store, the AKOOL client, the bot and its
HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import discord

from bot import startup
from bot.akool import AkoolClient
from bot.budget import URGENT_RESERVE, PriorityBudget, shared_budget
from bot.core import REQUEST_SHARES, AkoolBot
from bot.discord_api import point_discord_py_at
from bot.metrics import Metrics
from bot.settings import Settings
from bot.startup import StartupError
from bot.store import JobStore, UnsupportedDatabaseError, open_store
from bot.web import WebServer
from bot.webhook import WebhookVerifier

log = logging.getLogger(__name__)

# How long a graceful stop (SIGTERM) may take before the process exits anyway.
SHUTDOWN_GRACE = 5.0


@dataclass(frozen=True, slots=True)
class Runtime:
    bot: AkoolBot
    web: WebServer


@asynccontextmanager
async def assemble(
    settings: Settings, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[Runtime]:
    """Open the store and the HTTP session, build the bot and its HTTP server, close all on exit.

    The entry point and the end-to-end tests both start the bot through this, so the tests
    exercise the same wiring that production runs.
    """
    point_discord_py_at(settings)
    verifier = None
    if settings.akool_client_id is not None:
        verifier = WebhookVerifier(
            settings.akool_client_id,
            settings.akool_api_key,
            max_age=settings.webhook_max_age,
            clock=clock,
        )
    # One registry per bot: several bots in one process (the tests) keep their numbers apart.
    metrics = Metrics(clock=clock)
    async with await _opened_store(settings) as store, aiohttp.ClientSession() as http:
        # One budget for every AKOOL request of this process (and, on PostgreSQL, of all).
        budget = PriorityBudget(
            shared_budget(
                store, "akool", settings.akool_requests_per_second, reserve=URGENT_RESERVE
            ),
            REQUEST_SHARES,
            reserve=URGENT_RESERVE,
            waited=metrics.request_waited,
        )
        akool = AkoolClient(
            http,
            settings.akool_api_key,
            settings.akool_base_url,
            timeout=settings.akool_timeout,
            budget=budget,
            observer=metrics,
        )
        bot = AkoolBot(
            settings=settings, store=store, akool=akool, http=http, clock=clock, metrics=metrics
        )
        server = WebServer(
            client=bot,
            store=store,
            loop=bot.job_loop,
            verifier=verifier,
            host=settings.http_host,
            port=settings.http_port,
            clock=clock,
            metrics=metrics,
            metrics_token=settings.metrics_token,
        )
        # Other processes sharing the database say when a job is created or woken.
        await store.subscribe(bot.job_loop.wake)
        try:
            async with bot, _listening(server, settings):
                yield Runtime(bot, server)
        finally:
            await budget.close()


async def _opened_store(settings: Settings) -> JobStore:
    try:
        return await open_store(settings.database_url)
    except UnsupportedDatabaseError:
        raise
    except Exception as exc:
        line = startup.database(exc, settings.database_url)
        if line is None:
            raise
        raise StartupError(line) from None


@asynccontextmanager
async def _listening(server: WebServer, settings: Settings) -> AsyncIterator[WebServer]:
    """The server, listening; a failure to listen (and only that) is a start-up error."""
    try:
        await server.__aenter__()
    except OSError as exc:
        raise StartupError(
            startup.http_server(exc, settings.http_host, settings.http_port)
        ) from None
    try:
        yield server
    finally:
        await server.__aexit__(None, None, None)


async def run(settings: Settings) -> int:
    """Run the bot until it is stopped (SIGTERM or SIGINT); return the process exit code."""
    try:
        async with assemble(settings) as runtime:
            _stop_on_signals(runtime.bot)
            await _connect(runtime.bot, settings)
    except (StartupError, UnsupportedDatabaseError) as exc:
        log.error("%s", exc)
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the gateway intents the bot asked for.")
        return 2
    log.info("Stopped")
    return 0


async def _connect(bot: AkoolBot, settings: Settings) -> None:
    """Log in to Discord and stay connected (discord.py reconnects by itself) until closed."""
    try:
        await bot.login(settings.discord_token.reveal())
        await bot.connect()
    except Exception as exc:
        line = startup.discord_failure(exc)
        if line is None:
            raise
        raise StartupError(line) from None


def _stop_on_signals(bot: AkoolBot) -> None:
    """Close the bot on SIGTERM/SIGINT: the job loop stops first, in-flight work is abandoned
    safely (the database still says what is due), and the process exits within seconds."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def stop(signame: str) -> None:
        log.info("%s received; stopping", signame)
        task = loop.create_task(_close(bot))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on Windows' default loop
            loop.add_signal_handler(signum, stop, signal.Signals(signum).name)


async def _close(bot: AkoolBot) -> None:
    try:
        async with asyncio.timeout(SHUTDOWN_GRACE):
            await bot.close()
    except TimeoutError:
        log.warning("Stopping took longer than %.0f s; exiting anyway", SHUTDOWN_GRACE)
