"""The one embed that shows a server's settings, after /settings show and after every change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import discord

from bot import render
from bot.server_settings import ServerSettings

_FIELD_MAX: Final = 1024  # Discord's limit on an embed field's value


def counted(count: int, thing: str) -> str:
    return f"{count} {thing}" if count == 1 else f"{count} {thing}s"


def joined(items: Iterable[str], limit: int = _FIELD_MAX) -> str:
    """``items`` separated by commas, cut short with "and N more" to fit ``limit`` characters."""
    listed = list(items)
    text = ""
    for shown, item in enumerate(listed):
        candidate = f"{text}, {item}" if text else item
        rest = len(listed) - shown - 1
        if len(candidate) + len(f" and {rest} more" if rest else "") > limit:
            return f"{text} and {len(listed) - shown} more"
        text = candidate
    return text


def settings_embed(settings: ServerSettings, note: str | None = None) -> discord.Embed:
    """All of a server's settings; ``note`` says what was just changed."""
    embed = discord.Embed(
        title="Image bot settings", description=note, colour=discord.Colour.blurple()
    )
    channels = (
        joined(f"<#{c}>" for c in sorted(settings.channels))
        if settings.channels
        else "All channels"
    )
    roles = joined(f"<@&{r}>" for r in sorted(settings.roles)) if settings.roles else "Everyone"
    buttons = (
        "Anyone in the channel"
        if settings.buttons_for_everyone
        else "Only the member who asked for the image"
    )
    words = (
        joined(render.shown(w) for w in settings.banned_words) if settings.banned_words else "None"
    )
    embed.add_field(name="Channels", value=channels, inline=False)
    embed.add_field(name="Who may create images and press buttons", value=roles, inline=False)
    embed.add_field(
        name="Limits per member",
        value=(
            f"{counted(settings.max_active_jobs, 'unfinished job')} at once, "
            f"{counted(settings.max_daily_jobs, 'job')} in 24 hours"
        ),
        inline=False,
    )
    embed.add_field(name="Who may press a grid's buttons", value=buttons, inline=False)
    lookups = (
        "Everyone" if settings.lookups_for_everyone else "Only members who can manage this server"
    )
    embed.add_field(name="Default aspect ratio", value=settings.default_aspect, inline=False)
    embed.add_field(name="Who may look up jobs not made here", value=lookups, inline=False)
    embed.add_field(name=f"Banned words ({len(settings.banned_words)})", value=words, inline=False)
    return embed
