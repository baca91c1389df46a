"""Looking jobs up: who may see a job, who may look up ids the bot never saw, and how often.

A job belongs to the server and channel it was made in. Anywhere else it gets exactly the answer
an id AKOOL does not know gets, so a guessed id tells nothing. Ids the bot never stored are jobs
of the operator's AKOOL account (the web app, other tools): by default only members who may
manage the server may look them up.

A live lookup asks AKOOL, so each member may make one every :data:`LOOKUP_COOLDOWN` seconds, and
lookups draw on their own small share of the AKOOL request budget (see ``bot.core``), never on
the share that polls and creates use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import discord

from bot import policy, render
from bot.akool.errors import USER_MESSAGES
from bot.budget import Budget
from bot.errors import UserFacingError
from bot.i18n import command, lazy
from bot.server_settings import ServerSettings
from bot.store import Job, JobStore

log = logging.getLogger(__name__)

# One live lookup per member in this many seconds. The cooldown is kept in memory: with several
# processes, each server's interactions reach the one process that runs its shard, so a member
# gets this allowance per process their servers are spread over (the lookup budget, shared in
# the database, still bounds them all together).
LOOKUP_COOLDOWN: Final = 10.0
# The answer to an id AKOOL does not know (its code 1008), given for another server's job too.
UNKNOWN_JOB: Final = USER_MESSAGES[1008]
# At most this many lookups wait for the budget in one process; more are told to retry.
LOOKUP_QUEUE: Final = 5
BUSY: Final = lazy("The bot is busy looking up other jobs. Please try again in a few seconds.")
# Past this many members, those whose cooldown is over are forgotten.
_REMEMBERED: Final = 10_000
FOR_ADMINS: Final = lazy(
    "Only members who can manage this server may look up jobs this bot did not make here. "
    "An admin can open this to everyone with {command}.",
    command=command("settings lookups"),
)


class Cooldown(UserFacingError):
    """A member looked a job up too recently."""


def may_view(interaction: discord.Interaction, channel_id: int) -> bool:
    """Whether the member can view ``channel_id``. A channel the bot has not cached (a deleted
    one, or one it cannot see) counts as one they cannot."""
    if channel_id == interaction.channel_id:
        return True  # they are using a command or a button in it
    guild = interaction.guild
    member = interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return False
    channel = guild.get_channel_or_thread(channel_id)
    if channel is None:
        return False
    return channel.permissions_for(member).view_channel


def belongs_here(interaction: discord.Interaction, job: Job) -> bool:
    """The job was made in this server, in a channel the member can view."""
    return job.guild_id == interaction.guild_id and may_view(interaction, job.channel_id)


def may_look_up_unknown(interaction: discord.Interaction, settings: ServerSettings) -> bool:
    """Ids the bot never stored: everyone, if the server says so; else Manage Server."""
    return settings.lookups_for_everyone or interaction.permissions.manage_guild


class Lookups:
    """The per-member cooldown and the request budget of live lookups."""

    def __init__(
        self,
        store: JobStore,
        budget: Budget,
        *,
        clock: Callable[[], float],
        cooldown: float | None = None,
    ) -> None:
        self._store = store
        self._budget = budget
        self._clock = clock
        self._cooldown = LOOKUP_COOLDOWN if cooldown is None else cooldown
        self._next: dict[int, float] = {}
        self._waiting = 0

    async def check_place(self, interaction: discord.Interaction) -> ServerSettings:
        """The server's channel and role rules where the interaction happens (a thread under its
        parent's rules too); the server's settings, or a :class:`UserFacingError` to show. Only
        the store is read, so a refusal costs no AKOOL call and can still be private."""
        guild_id = interaction.guild_id
        if guild_id is None:
            return ServerSettings()
        settings = await self._store.server_settings(guild_id)
        assert interaction.channel_id is not None  # a command or a press is always in a channel
        policy.check_place(
            settings,
            interaction.channel_id,
            policy.role_ids(interaction.user),
            parent_channel_id=policy.parent_channel_id(interaction.channel),
        )
        return settings

    async def unknown(self, interaction: discord.Interaction, *, cooled: bool = True) -> None:
        """The turn of an id the bot may not show: the server's lookups setting, then
        :meth:`live`. Raises a :class:`UserFacingError` if the member may not look it up now.

        ``cooled=False``: no cooldown, for Post here, whose button only a /status answer
        (a lookup that took its turn) carries."""
        guild_id = interaction.guild_id
        settings = (
            ServerSettings() if guild_id is None else await self._store.server_settings(guild_id)
        )
        if not may_look_up_unknown(interaction, settings):
            raise UserFacingError(FOR_ADMINS)
        await self.live(interaction.user.id, cooled=cooled)

    async def live(self, member_id: int, *, cooled: bool = True) -> None:
        """The member's turn to ask AKOOL, once the lookups' budget allows it."""
        now = self._clock()
        ready = self._next.get(member_id, 0.0)
        if cooled and now < ready:
            raise Cooldown(
                lazy("You can look up another job {time}.", time=render.timestamp(ready))
            )
        # A flood waits in a short line, not a long one: past it, members hear at once to try
        # again rather than waiting (and holding their interaction) for minutes.
        if self._waiting >= LOOKUP_QUEUE:
            raise UserFacingError(BUSY)
        if cooled:
            if len(self._next) > _REMEMBERED:  # forget members whose cooldown is over
                self._next = {m: t for m, t in self._next.items() if t > now}
            self._next[member_id] = now + self._cooldown
        self._waiting += 1
        try:
            await self._budget.acquire()
        finally:
            self._waiting -= 1
