"""The bot: a sharded :class:`commands.Bot` with the store, the AKOOL client and the settings
injected. One process runs every shard unless ``SHARD_IDS`` gives it a share of them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp
import discord
from discord.ext import commands

from bot.akool import AkoolClient
from bot.budget import RequestKind, shared_budget
from bot.components import DYNAMIC_ITEMS
from bot.create_api import CreateApiChooser
from bot.guilds import leave_unlisted, warn_if_open
from bot.images import ImageFetcher
from bot.in_flight import InFlight
from bot.interaction_guard import guard_interactions
from bot.job_loop import JobLoop
from bot.jobs import PRESS_MARGIN, JobService
from bot.kept_images import KeptImages
from bot.lookups import Lookups
from bot.memory import FreedMemory
from bot.metrics import Metrics
from bot.notifier import Notifier
from bot.policy import OperatorCaps
from bot.schedule import PollSchedule
from bot.settings import Settings
from bot.store import JobStore
from bot.translator import CatalogTranslator
from bot.tree import AppCommandTree

log = logging.getLogger(__name__)

# The longest a job goes unchecked, in poll intervals, when webhooks have proven to arrive (60 s
# at the default interval); it scales with POLL_INTERVAL, like every other gap of the schedule.
MAX_POLL_GAPS: Final = 20.0
# Who owns the application (its owner, or a team's admins and developers) is asked of Discord
# again after this long, so a change of owner or team counts without a restart.
OWNERS_FOR: Final = 600.0
# The shares of the AKOOL request budget each kind of request is sure of while every kind waits
# (see bot.budget): members' creates and presses with the polls confirming callbacks, which are
# served first; due status checks; lookups (/status, /track of an unknown id, Post here), last.
URGENT_SHARE: Final = 0.5
POLL_SHARE: Final = 0.4
# Lookups also have a budget of their own of this share, so a flood of them waits on itself.
LOOKUP_SHARE: Final = 0.1
REQUEST_SHARES: Final = {
    RequestKind.URGENT: URGENT_SHARE,
    RequestKind.POLL: POLL_SHARE,
    RequestKind.LOOKUP: LOOKUP_SHARE,
}

# How long a stop waits for jobs AKOOL has accepted to be recorded, and for the commands and
# presses being answered to be answered.
DRAIN_TIMEOUT: Final = 3.0

# Loaded in this order at start-up; each is a module in cogs/ with a setup() function.
EXTENSIONS: Final = (
    "cogs.imagine",
    "cogs.jobs",
    "cogs.buttons",
    "cogs.admin",
    "cogs.history",
    "cogs.notify",
)


def _shard_ids(settings: Settings) -> list[int] | None:
    """This process's shards; ``None``: every shard."""
    return None if settings.shard_ids is None else list(settings.shard_ids)


class AkoolBot(commands.AutoShardedBot):
    """Slash commands and buttons; the resources it uses are owned and closed by the entry point."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: JobStore,
        akool: AkoolClient,
        http: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        metrics = metrics or Metrics(clock=clock)
        # Slash commands and buttons arrive as interactions whatever the intents; the guilds intent
        # keeps servers cached (their upload limits). No privileged intents, no message content.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=AppCommandTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            # Nothing here reads discord.py's cache of messages; keep none (its default is 1,000).
            max_messages=None,
            # None and None: as many shards as Discord recommends, all in this process.
            shard_count=settings.shard_count,
            # discord.py's own default is None (every shard); its annotation leaves that out.
            shard_ids=_shard_ids(settings),  # type: ignore[arg-type]
            # Times each interaction's first response (see bot.metrics).
            http_trace=metrics.discord_trace(),
        )
        # A payload discord.py cannot parse would otherwise end the gateway task, and the process.
        guard_interactions(self._connection)
        # The commands and presses being answered, which a stop lets finish.
        self.in_flight = InFlight()
        self.settings = settings
        self.store = store
        self.akool = akool
        self.clock = clock
        self.metrics = metrics
        self._owners_read_at: float | None = None
        # Images that must outlive their links (a month-old press): kept on the bot's messages.
        self.kept_images = KeptImages(self, store, clock=clock)
        self.notifier = Notifier(
            self,
            store,
            ImageFetcher(http, settings.image_hosts, max_bytes=settings.max_image_bytes),
            clock=clock,
            metrics=metrics,
            kept=self.kept_images,
        )
        self.job_loop = JobLoop(
            store=store,
            akool=akool,
            notifier=self.notifier,
            poll_interval=settings.poll_interval,
            job_timeout=settings.job_timeout,
            concurrency=settings.poll_concurrency,
            schedule=PollSchedule(
                base_gap=settings.poll_interval,
                min_gap=settings.poll_interval / 3,
                max_gap=settings.poll_interval * MAX_POLL_GAPS,
            ),
            create_grace=settings.akool_timeout + 1.0,
            hold=settings.claim_hold,
            clock=clock,
            metrics=metrics,
        )
        self.jobs = JobService(
            store=store,
            akool=akool,
            loop=self.job_loop,
            webhook_url=settings.webhook_public_url,
            clock=clock,
            press_wait=settings.akool_timeout + PRESS_MARGIN,
            metrics=metrics,
            caps=OperatorCaps(settings.credits_per_day, settings.server_credits_per_day),
            creator=CreateApiChooser(akool, store, settings.akool_create_api, clock=clock),
        )
        lookup_budget = shared_budget(
            store, "akool-lookups", settings.akool_requests_per_second * LOOKUP_SHARE
        )
        self.lookups = Lookups(store, metrics.timed(lookup_budget, "akool-lookups"), clock=clock)
        # What a burst freed goes back to the system, not kept resident (see bot.memory).
        self.freed_memory = FreedMemory.of_this_process()
        # Filled by the extensions (family -> handler); the dynamic items hand presses to them.
        self.button_handlers: dict[str, Callable[..., Awaitable[None]]] = {}

    async def is_owner(self, user: discord.abc.User, /) -> bool:
        """discord.py's answer (Discord's application info), read again every ``OWNERS_FOR``
        seconds rather than remembered until the process ends."""
        now = self.clock()
        if self._owners_read_at is None or now - self._owners_read_at >= OWNERS_FOR:
            # Unset, discord.py asks Discord and remembers the answer here.
            self.owner_id, self.owner_ids = None, None
            self._owners_read_at = now
        return await super().is_owner(user)

    async def setup_hook(self) -> None:
        warn_if_open(self.settings.allowed_guild_ids)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        # Every command, option and choice carries its translations when it syncs.
        await self.tree.set_translator(CatalogTranslator())
        if self.settings.shard_ids is not None and 0 not in self.settings.shard_ids:
            # Several processes: the one running shard 0 registers the commands for all.
            log.info("Commands are synced by the process that runs shard 0")
        elif self.settings.discord_guild_id is not None:
            guild = discord.Object(id=self.settings.discord_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("Synced %d commands to server %s", len(synced), guild.id)
        else:
            synced = await self.tree.sync()
            log.info("Synced %d commands globally", len(synced))
        self.job_loop.start()
        self.freed_memory.start()

    async def close(self) -> None:
        # Jobs AKOOL is accepting right now are recorded first, and the members being answered
        # are answered, within one grace; then the loop stops (the database says what is due),
        # then the gateway.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_TIMEOUT
        await self.jobs.drain(grace=DRAIN_TIMEOUT)
        await self.in_flight.settle(grace=deadline - loop.time())
        await self.job_loop.stop()
        await self.freed_memory.stop()
        await super().close()

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("Connected to Discord as %s (%s)", self.user, self.user.id)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await leave_unlisted(self.settings.allowed_guild_ids, [guild])

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # A sharded bot hears this for every server as each shard becomes ready (those it was
        # added to while it was not running among them), and again after an outage.
        await leave_unlisted(self.settings.allowed_guild_ids, [guild])
