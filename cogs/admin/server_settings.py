"""/settings: where the bot works, who may use it, the limits, banned words, buttons, aspect.

Hidden from members by default (Manage Server); a server's admins can grant it to other roles in
the server's Integrations settings, so the commands do not check permissions themselves. Every
answer is private and shows all of the server's settings in one embed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Final

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.core import AkoolBot
from bot.errors import UserFacingError
from bot.server_settings import (
    ACTIVE_RANGE,
    ASPECTS,
    DAILY_RANGE,
    InvalidSetting,
    ServerSettings,
    normalise_word,
)

from .settings_embed import settings_embed

log = logging.getLogger(__name__)

_CHOICES_MAX: Final = 25  # Discord's limit on autocomplete answers

Change = Callable[[ServerSettings], tuple[ServerSettings, str]]


def _aspect_choice(ratio: str) -> app_commands.Choice[str]:
    width, height = (int(part) for part in ratio.split(":"))
    shape = "square" if width == height else "landscape" if width > height else "portrait"
    return app_commands.Choice(name=f"{ratio} {shape}", value=ratio)


ASPECT_CHOICES: Final = [_aspect_choice(ratio) for ratio in ASPECTS]
BUTTON_CHOICES: Final = [
    app_commands.Choice(name="Anyone in the channel", value="everyone"),
    app_commands.Choice(name="Only the member who asked for the image", value="requester"),
]
LOOKUP_CHOICES: Final = [
    app_commands.Choice(name="Everyone", value="everyone"),
    app_commands.Choice(name="Only members who can manage this server", value="admins"),
]


def allow(listed: frozenset[int], item: int, mention: str) -> frozenset[int]:
    if item in listed:
        raise InvalidSetting(f"{mention} is already allowed.")
    return listed | {item}


def disallow(
    listed: frozenset[int], item: int, mention: str, *, kind: str, everything: str, reset: str
) -> frozenset[int]:
    """``listed`` without ``item``. Never empty: an empty list means all, the very opposite."""
    if not listed:
        raise InvalidSetting(
            f"No {kind} is singled out yet ({everything} may be used), so there is nothing to "
            f"disallow. Allow the {kind}s you want instead."
        )
    if item not in listed:
        raise InvalidSetting(f"{mention} is not on the allowed list.")
    if listed == {item}:
        raise InvalidSetting(
            f"{mention} is the only {kind} allowed, and removing it would allow {everything}. "
            f"Allow another {kind} first, or use {reset}."
        )
    return listed - {item}


class ServerSettingsCog(commands.Cog, name="Server settings"):
    settings = app_commands.Group(
        name="settings",
        description="Choose where and how members may use the image bot on this server",
        # Both: guild_only alone sets only the deprecated dm_permission on a group.
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_guild=True),
    )
    channel = app_commands.Group(
        name="channel", description="Choose the channels the bot works in", parent=settings
    )
    role = app_commands.Group(
        name="role",
        description="Choose the roles that may create images and press buttons",
        parent=settings,
    )
    banned_word = app_commands.Group(
        name="banned-word",
        description="Words a prompt may not contain (checked before any credit is spent)",
        parent=settings,
    )

    def __init__(self, bot: AkoolBot) -> None:
        self.bot = bot
        # A server's interactions all reach the one process (shard) that owns it, so this lock
        # keeps two admins' changes from overwriting each other.
        self._lock = asyncio.Lock()

    async def _change(self, interaction: discord.Interaction, change: Change) -> None:
        """Apply ``change`` to the stored settings and show the result; save nothing if refused."""
        guild_id = interaction.guild_id
        assert guild_id is not None  # the group is guild-only
        async with self._lock:
            current = await self.bot.store.server_settings(guild_id)
            try:
                updated, note = change(current)
            except InvalidSetting as exc:
                raise UserFacingError(str(exc)) from exc
            await self.bot.store.save_server_settings(guild_id, updated, now=self.bot.clock())
        log.info("Settings of server %s changed by %s: %s", guild_id, interaction.user.id, note)
        await interaction.response.send_message(embed=settings_embed(updated, note), ephemeral=True)

    @settings.command(name="show")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show this server's image bot settings."""
        assert interaction.guild_id is not None
        current = await self.bot.store.server_settings(interaction.guild_id)
        await interaction.response.send_message(embed=settings_embed(current), ephemeral=True)

    @channel.command(name="allow")
    @app_commands.describe(channel="A channel the bot should work in")
    async def channel_allow(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        """Let the bot work in a channel. Once one is allowed, it works only in allowed ones."""

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            channels = allow(s.channels, channel.id, channel.mention)
            note = f"Allowed {channel.mention}."
            if not s.channels:
                note += " The bot now works only in the channels you allow."
            return dataclasses.replace(s, channels=channels), note

        await self._change(interaction, change)

    @channel.command(name="disallow")
    @app_commands.describe(channel="An allowed channel the bot should no longer work in")
    async def channel_disallow(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        """Stop the bot working in a channel you allowed before."""

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            left = disallow(
                s.channels,
                channel.id,
                channel.mention,
                kind="channel",
                everything="every channel",
                reset="/settings channel all",
            )
            return dataclasses.replace(s, channels=left), f"Disallowed {channel.mention}."

        await self._change(interaction, change)

    @channel.command(name="all")
    async def channel_all(self, interaction: discord.Interaction) -> None:
        """Let the bot work in every channel again."""

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            return dataclasses.replace(s, channels=frozenset()), "The bot works in every channel."

        await self._change(interaction, change)

    @role.command(name="allow")
    @app_commands.describe(role="A role whose members may create images and press buttons")
    async def role_allow(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Let a role create images. Once one is allowed, only allowed roles may."""
        if role.is_default():
            raise UserFacingError(
                "@everyone is every member. Use /settings role everyone to let everyone in."
            )

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            roles = allow(s.roles, role.id, role.mention)
            note = f"Allowed {role.mention}."
            if not s.roles:
                note += " Now only members with an allowed role may create images."
            return dataclasses.replace(s, roles=roles), note

        await self._change(interaction, change)

    @role.command(name="disallow")
    @app_commands.describe(role="An allowed role whose members should no longer create images")
    async def role_disallow(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Stop a role you allowed before from creating images."""

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            left = disallow(
                s.roles,
                role.id,
                role.mention,
                kind="role",
                everything="every member",
                reset="/settings role everyone",
            )
            return dataclasses.replace(s, roles=left), f"Disallowed {role.mention}."

        await self._change(interaction, change)

    @role.command(name="everyone")
    async def role_everyone(self, interaction: discord.Interaction) -> None:
        """Let every member create images and press buttons again."""

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            return dataclasses.replace(s, roles=frozenset()), "Every member may create images."

        await self._change(interaction, change)

    @settings.command(name="limits")
    @app_commands.describe(
        active="Unfinished jobs a member may have at once ({} to {})".format(*ACTIVE_RANGE),
        daily="Jobs a member may start in 24 hours ({} to {})".format(*DAILY_RANGE),
    )
    async def limits(
        self, interaction: discord.Interaction, active: int | None = None, daily: int | None = None
    ) -> None:
        """Set how many jobs each member may have running and start in a day."""
        if active is None and daily is None:
            raise UserFacingError("Give a new active limit, daily limit, or both.")

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            return s.with_limits(active=active, daily=daily), "Saved the new limits."

        await self._change(interaction, change)

    @banned_word.command(name="add")
    @app_commands.describe(word="A word or phrase; prompts containing it are refused")
    async def banned_word_add(self, interaction: discord.Interaction, word: str) -> None:
        """Refuse prompts that contain a word or phrase."""

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            updated = s.with_banned_word(word)
            return updated, f"Banned “{render.shown(updated.banned_words[-1])}”."

        await self._change(interaction, change)

    @banned_word.command(name="remove")
    @app_commands.describe(word="A banned word or phrase to allow again")
    async def banned_word_remove(self, interaction: discord.Interaction, word: str) -> None:
        """Allow a banned word or phrase in prompts again."""

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            updated = s.without_banned_word(word)
            allowed = render.shown(normalise_word(word))
            return updated, f"“{allowed}” is allowed again."

        await self._change(interaction, change)

    @banned_word_remove.autocomplete("word")
    async def banned_words_like(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        words = (await self.bot.store.server_settings(interaction.guild_id)).banned_words
        typed = current.casefold().strip()
        return [app_commands.Choice(name=w, value=w) for w in words if typed in w][:_CHOICES_MAX]

    @settings.command(name="buttons")
    @app_commands.describe(who="Who may press the upscale and variation buttons on a grid")
    @app_commands.choices(who=BUTTON_CHOICES)
    async def buttons(
        self, interaction: discord.Interaction, who: app_commands.Choice[str]
    ) -> None:
        """Choose who may press a grid's buttons: anyone, or only the member who asked."""
        everyone = who.value == "everyone"

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            note = (
                "Anyone in the channel may press a grid's buttons."
                if everyone
                else "Only the member who asked for a grid may press its buttons."
            )
            return dataclasses.replace(s, buttons_for_everyone=everyone), note

        await self._change(interaction, change)

    @settings.command(name="aspect")
    @app_commands.describe(ratio="The aspect ratio /imagine uses when none is given")
    @app_commands.choices(ratio=ASPECT_CHOICES)
    async def aspect(
        self, interaction: discord.Interaction, ratio: app_commands.Choice[str]
    ) -> None:
        """Set the aspect ratio /imagine uses when none is given."""

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            return s.with_aspect(ratio.value), f"/imagine now uses {ratio.value} by default."

        await self._change(interaction, change)

    @settings.command(name="lookups")
    @app_commands.describe(who="Who may look up, with /status and /track, jobs not made here")
    @app_commands.choices(who=LOOKUP_CHOICES)
    async def lookups(
        self, interaction: discord.Interaction, who: app_commands.Choice[str]
    ) -> None:
        """Choose who may look up jobs this bot did not make here (they are the operator's)."""
        everyone = who.value == "everyone"

        def change(s: ServerSettings) -> tuple[ServerSettings, str]:
            note = (
                "Everyone may look up jobs this bot did not make here."
                if everyone
                else "Only members who can manage this server may look up jobs not made here."
            )
            return dataclasses.replace(s, lookups_for_everyone=everyone), note

        await self._change(interaction, change)
