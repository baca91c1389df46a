"""The one embed that shows a server's settings, after /settings show and after every change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import discord

from bot import render
from bot.server_settings import Mode, Scope, ServerSettings

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


def scope_text(scope: Scope, mention: str, *, everything: str) -> str:
    """ "All channels", "All channels except #a", "Only #a, #b" (roles alike)."""
    match scope.mode:
        case Mode.ALL:
            return everything
        case Mode.ONLY:
            return _listed("Only ", scope.only, mention)
        case Mode.EXCEPT:
            return _listed(f"{everything} except ", scope.excluded, mention)


def _listed(lead: str, ids: frozenset[int], mention: str) -> str:
    return lead + joined((mention.format(i) for i in sorted(ids)), _FIELD_MAX - len(lead))


def credit_cap_text(settings: ServerSettings, ceiling: int | None) -> str:
    """The server's daily credit cap: its own limit, the operator's, both, or none."""
    own = settings.max_daily_credits
    if own is None and ceiling is None:
        return "No limit"
    if own is None:
        assert ceiling is not None
        return f"{ceiling:,} in 24 hours (the operator's cap for every server)"
    if ceiling is None:
        return f"{own:,} in 24 hours"
    if own <= ceiling:
        return f"{own:,} in 24 hours (the operator allows up to {ceiling:,})"
    return f"{ceiling:,} in 24 hours: the operator's cap, below this server's own {own:,}"


def settings_embed(
    settings: ServerSettings, note: str | None = None, *, ceiling: int | None = None
) -> discord.Embed:
    """All of a server's settings; ``note`` says what was just changed; ``ceiling`` is the
    operator's daily credit cap for every server."""
    embed = discord.Embed(
        title="Image bot settings", description=note, colour=discord.Colour.blurple()
    )
    channels = scope_text(settings.channel_scope, "<#{}>", everything="All channels")
    roles = scope_text(settings.role_scope, "<@&{}>", everything="Everyone")
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
    embed.add_field(
        name="Credits the server may spend", value=credit_cap_text(settings, ceiling), inline=False
    )
    embed.add_field(name="Who may press a grid's buttons", value=buttons, inline=False)
    lookups = (
        "Everyone" if settings.lookups_for_everyone else "Only members who can manage this server"
    )
    embed.add_field(name="Default aspect ratio", value=settings.default_aspect, inline=False)
    embed.add_field(name="Who may look up jobs not made here", value=lookups, inline=False)
    embed.add_field(name=f"Banned words ({len(settings.banned_words)})", value=words, inline=False)
    return embed
