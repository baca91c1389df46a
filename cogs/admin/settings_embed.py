"""The one embed that shows a server's settings, after /settings show and after every change,
written in the language of the admin who asked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import discord

from bot import i18n, render
from bot.i18n import LocaleLike, gettext, ngettext
from bot.server_settings import DEFAULT_SIMILARITY, Mode, Scope, ServerSettings

_FIELD_MAX: Final = 1024  # Discord's limit on an embed field's value


def joined(items: Iterable[str], locale: LocaleLike = None, limit: int = _FIELD_MAX) -> str:
    """``items`` separated by commas, cut short with "and N more" to fit ``limit`` characters."""
    listed = list(items)
    separator = gettext(locale, ", ")
    text = ""
    for shown, item in enumerate(listed):
        candidate = f"{text}{separator}{item}" if text else item
        rest = len(listed) - shown - 1
        if len(candidate) + len(_more(locale, rest) if rest else "") > limit:
            return text + _more(locale, len(listed) - shown)
        text = candidate
    return text


def _more(locale: LocaleLike, count: int) -> str:
    return ngettext(locale, " and {n} more", " and {n} more", count)


def scope_text(scope: Scope, mention: str, *, everything: str, locale: LocaleLike = None) -> str:
    """ "All channels", "All channels except #a", "Only #a, #b" (roles alike)."""
    match scope.mode:
        case Mode.ALL:
            return everything
        case Mode.ONLY:
            return _listed(gettext(locale, "Only {list}"), scope.only, mention, locale)
        case Mode.EXCEPT:
            lead = gettext(
                locale, "{everything} except {list}", everything=everything, list="{list}"
            )
            return _listed(lead, scope.excluded, mention, locale)


def _listed(sentence: str, ids: frozenset[int], mention: str, locale: LocaleLike) -> str:
    room = _FIELD_MAX - len(sentence.replace("{list}", ""))
    listed = joined((mention.format(i) for i in sorted(ids)), locale, room)
    return sentence.replace("{list}", listed)


def language_text(settings: ServerSettings, shown_in: str, locale: LocaleLike) -> str:
    """The server's language, and whether the admins chose it or it is Discord's."""
    name = i18n.language_name(shown_in)
    if settings.language:
        return name
    return gettext(locale, "{language} (Discord's, until you choose one)", language=name)


def credit_cap_text(settings: ServerSettings, ceiling: int | None, locale: LocaleLike) -> str:
    """The server's daily credit cap: its own limit, the operator's, both, or none."""
    own = settings.max_daily_credits
    if own is None and ceiling is None:
        return gettext(locale, "No limit")
    values = {
        "own": i18n.number(locale, own or 0),
        "ceiling": i18n.number(locale, ceiling or 0),
    }
    if own is None:
        return gettext(
            locale, "{ceiling} in 24 hours (the operator's cap for every server)", **values
        )
    if ceiling is None:
        return gettext(locale, "{own} in 24 hours", **values)
    if own <= ceiling:
        return gettext(locale, "{own} in 24 hours (the operator allows up to {ceiling})", **values)
    return gettext(
        locale, "{ceiling} in 24 hours: the operator's cap, below this server's own {own}", **values
    )


def similarity_text(settings: ServerSettings, locale: LocaleLike) -> str:
    """The similarity V1-V4 of a v4 batch use, and what it means."""
    value = i18n.number(locale, settings.variation_similarity)
    if settings.variation_similarity == DEFAULT_SIMILARITY:
        return gettext(locale, "{value} (AKOOL's default)", value=value)
    return gettext(
        locale, "{value} (0 lets a variation wander, 1 keeps it close to its image)", value=value
    )


def settings_embed(
    settings: ServerSettings,
    note: str | None = None,
    *,
    ceiling: int | None = None,
    locale: LocaleLike = None,
    server_language: str = i18n.SOURCE_LANGUAGE,
) -> discord.Embed:
    """All of a server's settings in ``locale``'s language; ``note`` says what was just changed;
    ``ceiling`` is the operator's daily credit cap for every server; ``server_language`` is the
    language of the server's posts."""
    embed = discord.Embed(
        title=gettext(locale, "Image bot settings"),
        description=note,
        colour=discord.Colour.blurple(),
    )
    channels = scope_text(
        settings.channel_scope,
        "<#{}>",
        everything=gettext(locale, "All channels"),
        locale=locale,
    )
    roles = scope_text(
        settings.role_scope, "<@&{}>", everything=gettext(locale, "Everyone"), locale=locale
    )
    if settings.buttons_for_everyone:
        buttons = gettext(locale, "Anyone in the channel")
    else:
        buttons = gettext(locale, "Only the member who asked for the image")
    if settings.banned_words:
        words = joined((render.shown(w) for w in settings.banned_words), locale)
    else:
        words = gettext(locale, "None")
    embed.add_field(name=gettext(locale, "Channels"), value=channels, inline=False)
    embed.add_field(
        name=gettext(locale, "Who may create images and press buttons"), value=roles, inline=False
    )
    active = ngettext(
        locale,
        "{n} unfinished job at once",
        "{n} unfinished jobs at once",
        settings.max_active_jobs,
    )
    daily = ngettext(locale, "{n} job in 24 hours", "{n} jobs in 24 hours", settings.max_daily_jobs)
    embed.add_field(
        name=gettext(locale, "Limits per member"),
        value=gettext(locale, "{active}, {daily}", active=active, daily=daily),
        inline=False,
    )
    embed.add_field(
        name=gettext(locale, "Credits the server may spend"),
        value=credit_cap_text(settings, ceiling, locale),
        inline=False,
    )
    embed.add_field(
        name=gettext(locale, "Who may press a grid's buttons"), value=buttons, inline=False
    )
    if settings.lookups_for_everyone:
        lookups = gettext(locale, "Everyone")
    else:
        lookups = gettext(locale, "Only members who can manage this server")
    embed.add_field(
        name=gettext(locale, "Default aspect ratio"), value=settings.default_aspect, inline=False
    )
    embed.add_field(
        name=gettext(locale, "Similarity of a batch's variations (V1-V4)"),
        value=similarity_text(settings, locale),
        inline=False,
    )
    embed.add_field(
        name=gettext(locale, "Who may look up jobs not made here"), value=lookups, inline=False
    )
    embed.add_field(
        name=gettext(locale, "Language of the bot's posts"),
        value=language_text(settings, server_language, locale),
        inline=False,
    )
    embed.add_field(
        name=ngettext(
            locale, "Banned words ({n})", "Banned words ({n})", len(settings.banned_words)
        ),
        value=words,
        inline=False,
    )
    return embed
