"""/settings: where the bot works, who may use it, the limits, banned words, buttons, aspect,
the similarity of a batch's variations.

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

from bot import languages, render
from bot.core import AkoolBot
from bot.errors import UserFacingError
from bot.i18n import LocaleLike, Localized, Number, Text, command, language_name, lazy
from bot.server_settings import (
    ACTIVE_RANGE,
    ASPECTS,
    CREDITS_RANGE,
    DAILY_RANGE,
    DEFAULT_SIMILARITY,
    SIMILARITY_RANGE,
    InvalidSetting,
    Kind,
    Mode,
    Scope,
    ServerSettings,
    normalise_word,
)

from .settings_embed import settings_embed

log = logging.getLogger(__name__)

_CHOICES_MAX: Final = 25  # Discord's limit on autocomplete answers

# A change: the new settings and what it did, written in the admin's language when shown.
Change = Callable[[ServerSettings], tuple[ServerSettings, Text]]


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
# What ServerSettings.language holds for "follow Discord" is empty, which Discord cannot carry.
_FOLLOW_DISCORD: Final = "discord"
# Each shipped language by its own name (the same in every catalog), then Discord's.
LANGUAGE_CHOICES: Final = [
    *(app_commands.Choice(name=language_name(code), value=code) for code in languages.shipped()),
    app_commands.Choice(name="The server's language in Discord (default)", value=_FOLLOW_DISCORD),
]


@dataclasses.dataclass(frozen=True, slots=True)
class Words:
    """How the answers name one kind of scope (channels or roles), and each mode of it."""

    kind: Kind
    modes: dict[Mode, Text]

    def now(self, scope: Scope) -> Text:
        return self.modes[scope.mode]


CHANNELS: Final = Words(
    Kind.CHANNEL,
    {
        Mode.ALL: lazy("The bot works in every channel."),
        Mode.ONLY: lazy("The bot works only in the channels you allowed."),
        Mode.EXCEPT: lazy("The bot works in every channel except the ones you disallowed."),
    },
)
ROLES: Final = Words(
    Kind.ROLE,
    {
        Mode.ALL: lazy("Every member may create images."),
        Mode.ONLY: lazy("Only members with a role you allowed may create images."),
        Mode.EXCEPT: lazy(
            "Every member may create images except members with a role you disallowed."
        ),
    },
)


def allowed(scope: Scope, item: int, mention: str, words: Words) -> tuple[Scope, Text]:
    """``scope`` with ``item`` allowed, and a sentence saying what that now means."""
    updated = scope.allowing(item, mention, kind=words.kind)
    return updated, lazy("Allowed {mention}. {now}", mention=mention, now=words.now(updated))


def disallowed(scope: Scope, item: int, mention: str, words: Words) -> tuple[Scope, Text]:
    """``scope`` with ``item`` disallowed, and a sentence saying what that now means."""
    updated = scope.disallowing(item, mention, kind=words.kind)
    return updated, lazy("Disallowed {mention}. {now}", mention=mention, now=words.now(updated))


def _not_everyone(role: discord.Role, why: Text) -> None:
    if role.is_default():
        raise UserFacingError(lazy("@everyone is every member. {why}", why=why))


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
                raise UserFacingError(exc.text) from exc
            await self.bot.store.save_server_settings(guild_id, updated, now=self.bot.clock())
            # The job loop's next post in this server follows the change at once.
            self.bot.notifier.languages.forget(guild_id)
        log.info("Settings of server %s changed by %s: %s", guild_id, interaction.user.id, note)
        await interaction.response.send_message(
            embed=self._embed(interaction, updated, note(interaction.locale)), ephemeral=True
        )

    def _embed(
        self, interaction: discord.Interaction, current: ServerSettings, note: str | None = None
    ) -> discord.Embed:
        """The settings in the admin's language, naming the language of the server's posts."""
        return settings_embed(
            current,
            note,
            ceiling=self.bot.settings.server_credits_per_day,
            locale=interaction.locale,
            server_language=languages.server_locale(current, interaction.guild),
        )

    @settings.command(name="show")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show this server's image bot settings."""
        assert interaction.guild_id is not None
        current = await self.bot.store.server_settings(interaction.guild_id)
        await interaction.response.send_message(
            embed=self._embed(interaction, current), ephemeral=True
        )

    @settings.command(name="language")
    @app_commands.describe(language="The language of the bot's posts in this server's channels")
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def language(
        self, interaction: discord.Interaction, language: app_commands.Choice[str]
    ) -> None:
        """Choose the language of the bot's posts here (each member's answers follow their own)."""
        chosen = "" if language.value == _FOLLOW_DISCORD else language.value

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            updated = s.with_language(chosen, languages.shipped())
            shown_in = _LanguageName(languages.server_locale(updated, interaction.guild))
            if chosen:
                return updated, lazy("The bot now posts in {language} here.", language=shown_in)
            return updated, lazy(
                "The bot now posts in the server's language in Discord ({language}).",
                language=shown_in,
            )

        await self._change(interaction, change)

    @channel.command(name="allow")
    @app_commands.describe(channel="A channel the bot should work in")
    async def channel_allow(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        """Let the bot work in a channel: only there (and in other allowed ones), or again."""

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            scope, note = allowed(s.channel_scope, channel.id, channel.mention, CHANNELS)
            return s.with_channels(scope), note

        await self._change(interaction, change)

    @channel.command(name="disallow")
    @app_commands.describe(channel="A channel the bot should not work in")
    async def channel_disallow(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        """Stop the bot working in a channel (it works in every other one unless you chose some)."""

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            scope, note = disallowed(s.channel_scope, channel.id, channel.mention, CHANNELS)
            return s.with_channels(scope), note

        await self._change(interaction, change)

    @channel.command(name="all")
    async def channel_all(self, interaction: discord.Interaction) -> None:
        """Let the bot work in every channel again."""

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            return s.with_channels(Scope()), CHANNELS.modes[Mode.ALL]

        await self._change(interaction, change)

    @role.command(name="allow")
    @app_commands.describe(role="A role whose members may create images and press buttons")
    async def role_allow(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Let a role create images: only it (and other allowed ones), or again."""
        _not_everyone(
            role,
            lazy("Use {command} to let everyone in.", command=command("settings role everyone")),
        )

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            scope, note = allowed(s.role_scope, role.id, role.mention, ROLES)
            return s.with_roles(scope), note

        await self._change(interaction, change)

    @role.command(name="disallow")
    @app_commands.describe(role="A role whose members should not create images")
    async def role_disallow(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Stop a role's members creating images (everyone else still may unless you chose some)."""
        _not_everyone(role, lazy("To let only some members in, allow their roles instead."))

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            scope, note = disallowed(s.role_scope, role.id, role.mention, ROLES)
            return s.with_roles(scope), note

        await self._change(interaction, change)

    @role.command(name="everyone")
    async def role_everyone(self, interaction: discord.Interaction) -> None:
        """Let every member create images and press buttons again."""

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            return s.with_roles(Scope()), ROLES.modes[Mode.ALL]

        await self._change(interaction, change)

    @settings.command(name="limits")
    @app_commands.describe(
        active="Unfinished jobs a member may have at once ({} to {})".format(*ACTIVE_RANGE),
        daily="Jobs a member may start in 24 hours ({} to {})".format(*DAILY_RANGE),
        credits="Credits the whole server may spend in 24 hours (0: no limit of its own)",
    )
    async def limits(
        self,
        interaction: discord.Interaction,
        active: int | None = None,
        daily: int | None = None,
        credits: app_commands.Range[int, CREDITS_RANGE[0], CREDITS_RANGE[1]] | None = None,
    ) -> None:
        """Set each member's job limits and the credits the server may spend in a day."""
        if active is None and daily is None and credits is None:
            raise UserFacingError(
                lazy("Give a new active limit, daily limit, credit limit, or some.")
            )
        # The operator's cap for every server: a server's own limit may only be lower.
        ceiling = self.bot.settings.server_credits_per_day

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            updated = s.with_limits(active=active, daily=daily)
            if credits is not None:
                updated = updated.with_credit_limit(credits, ceiling=ceiling)
            return updated, lazy("Saved the new limits.")

        await self._change(interaction, change)

    @banned_word.command(name="add")
    @app_commands.describe(word="A word or phrase; prompts containing it are refused")
    async def banned_word_add(self, interaction: discord.Interaction, word: str) -> None:
        """Refuse prompts that contain a word or phrase."""

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            updated = s.with_banned_word(word)
            return updated, lazy("Banned “{word}”.", word=render.shown(updated.banned_words[-1]))

        await self._change(interaction, change)

    @banned_word.command(name="remove")
    @app_commands.describe(word="A banned word or phrase to allow again")
    async def banned_word_remove(self, interaction: discord.Interaction, word: str) -> None:
        """Allow a banned word or phrase in prompts again."""

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            updated = s.without_banned_word(word)
            allowed = render.shown(normalise_word(word))
            return updated, lazy("“{word}” is allowed again.", word=allowed)

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

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            note = (
                lazy("Anyone in the channel may press a grid's buttons.")
                if everyone
                else lazy("Only the member who asked for a grid may press its buttons.")
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

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            return s.with_aspect(ratio.value), lazy(
                "{command} now uses {ratio} by default.",
                command=command("imagine"),
                ratio=ratio.value,
            )

        await self._change(interaction, change)

    @settings.command(name="variations")
    @app_commands.describe(
        similarity="0 lets a variation wander, 1 keeps it close to its image "
        f"(AKOOL's default: {DEFAULT_SIMILARITY})"
    )
    async def variations(
        self,
        interaction: discord.Interaction,
        similarity: app_commands.Range[float, SIMILARITY_RANGE[0], SIMILARITY_RANGE[1]],
    ) -> None:
        """Set how close V1-V4 of a batch of single images stay to the image pressed."""

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            return s.with_variation_similarity(similarity), lazy(
                "Variations of a batch's images now use a similarity of {value}.",
                value=Number(similarity),
            )

        await self._change(interaction, change)

    @settings.command(name="lookups")
    @app_commands.describe(who="Who may look up, with /status and /track, jobs not made here")
    @app_commands.choices(who=LOOKUP_CHOICES)
    async def lookups(
        self, interaction: discord.Interaction, who: app_commands.Choice[str]
    ) -> None:
        """Choose who may look up jobs this bot did not make here (they are the operator's)."""
        everyone = who.value == "everyone"

        def change(s: ServerSettings) -> tuple[ServerSettings, Text]:
            note = (
                lazy("Everyone may look up jobs this bot did not make here.")
                if everyone
                else lazy("Only members who can manage this server may look up jobs not made here.")
            )
            return dataclasses.replace(s, lookups_for_everyone=everyone), note

        await self._change(interaction, change)


@dataclasses.dataclass(frozen=True, slots=True)
class _LanguageName(Localized):
    """A language by its own name, whoever reads it (``Deutsch``, ``日本語``)."""

    code: str

    def __call__(self, locale: LocaleLike) -> str:
        return language_name(self.code)
