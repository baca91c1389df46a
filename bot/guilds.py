"""Which servers the bot serves (``ALLOWED_GUILD_IDS``): it leaves any other, and answers
nothing asked from one.

Every interaction passes one of two checks before anything else looks at it: the command tree's
``interaction_check`` (slash commands and their autocomplete) and the buttons' (every
``DynamicItem``, and the listener that answers presses no item takes). Both ask
:func:`refused_here`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

import discord

from bot.errors import answer_privately
from bot.i18n import lazy

log = logging.getLogger(__name__)

NOT_AVAILABLE: Final = lazy("This bot is not available in this server.")


def allowed_guilds(client: discord.Client) -> frozenset[int] | None:
    """The servers ``client`` serves; ``None``: every one."""
    settings = getattr(client, "settings", None)
    allowed: frozenset[int] | None = getattr(settings, "allowed_guild_ids", None)
    return allowed


def serves(allowed: frozenset[int] | None, guild_id: int | None) -> bool:
    """Whether the bot serves ``guild_id``. Outside a server (a DM) nothing is refused here: the
    commands that spend anything work only in a server and say so themselves."""
    return allowed is None or guild_id is None or guild_id in allowed


async def refused_here(interaction: discord.Interaction) -> bool:
    """If ``interaction`` comes from a server the bot does not serve, answer it privately (an
    autocomplete gets no choices) and return ``True``; otherwise ``False``, having done nothing."""
    if serves(allowed_guilds(interaction.client), interaction.guild_id):
        return False
    log.warning(
        "Refused an interaction (%s) from %s in guild %s, which is not in ALLOWED_GUILD_IDS",
        interaction.type.name,
        interaction.user.id,
        interaction.guild_id,
    )
    if interaction.type is discord.InteractionType.autocomplete:
        await no_choices(interaction)
    else:
        await answer_privately(interaction, NOT_AVAILABLE(interaction.locale))
    return True


async def no_choices(interaction: discord.Interaction) -> None:
    """Answer an autocomplete with nothing to choose."""
    try:
        await interaction.response.autocomplete([])
    except discord.HTTPException as exc:
        # Autocomplete answers must come within 3 seconds; a late one changes nothing.
        log.debug("Could not answer autocomplete %s: %s", interaction.id, exc)


async def leave_unlisted(allowed: frozenset[int] | None, guilds: Iterable[discord.Guild]) -> None:
    """Leave every one of ``guilds`` the bot does not serve, with a WARNING naming each."""
    if allowed is None:
        return
    for guild in guilds:
        if guild.id in allowed:
            continue
        # The name is the server's own text: repr keeps it on one line.
        log.warning("Leaving server %r (%s): it is not in ALLOWED_GUILD_IDS", guild.name, guild.id)
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            # Still refused there: every interaction from it is answered "not available".
            log.warning("Could not leave server %s: %s", guild.id, exc)


def warn_if_open(allowed: frozenset[int] | None) -> None:
    """At start-up: say so when the bot serves every server it is added to."""
    if allowed is None:
        log.warning(
            "ALLOWED_GUILD_IDS is not set: this bot serves every server it is added to, and "
            "each of them spends your AKOOL credits. Set it to your servers' ids, and switch off "
            "Public Bot in the Developer Portal (see the README, 'Keeping it yours')."
        )
    else:
        log.info("Serving only the servers in ALLOWED_GUILD_IDS (%d)", len(allowed))
