"""The command tree: options checked before a command runs, and the one app-command error
handler."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot import in_flight
from bot.errors import UserFacingError, answer_privately, report
from bot.guilds import no_choices, refused_here
from bot.i18n import lazy
from bot.options import kind_words, options_problem

log = logging.getLogger(__name__)


class AppCommandTree(app_commands.CommandTree[discord.Client]):
    """Domain errors show their sentence; anything unexpected an apology with a reference id."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Refuse, privately, anything from a server the bot does not serve, and options the
        command does not take (Discord's client never sends them; a forged one can), before
        discord.py turns them into arguments."""
        in_flight.track(interaction)
        if await refused_here(interaction):
            return False
        autocomplete = interaction.type is discord.InteractionType.autocomplete
        problem = options_problem(self, interaction)
        if problem is None:
            return True
        log.warning(
            "Refused %s from %s in guild %s: %s",
            "an autocomplete" if autocomplete else "a command",
            interaction.user.id,
            interaction.guild_id,
            problem.reason,
        )
        if autocomplete:
            await no_choices(interaction)
        else:
            await answer_privately(interaction, problem.message(interaction.locale))
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        elif isinstance(error, app_commands.CheckFailure):
            original = _check_failure(error)
        elif isinstance(error, app_commands.TransformerError):
            original = _transformer_error(interaction, error)
        command = interaction.command.qualified_name if interaction.command else "unknown command"
        await report(interaction, original, what=f"/{command}")


def _check_failure(error: app_commands.CheckFailure) -> BaseException:
    if isinstance(error, app_commands.NoPrivateMessage):
        return UserFacingError(lazy("This command works only in a server."))
    if isinstance(error, app_commands.MissingPermissions | app_commands.BotMissingPermissions):
        # discord.py's own sentence, naming the permissions as Discord's API does.
        return UserFacingError(str(error))
    return UserFacingError(lazy("You cannot use this command here."))


def _transformer_error(
    interaction: discord.Interaction, error: app_commands.TransformerError
) -> BaseException:
    """A value that fits its option's type but names nothing usable (a channel this bot cannot
    see): a recoverable oddity, not a failure."""
    log.warning(
        "Refused a command from %s in guild %s: %r could not be used as %s",
        interaction.user.id,
        interaction.guild_id,
        error.value,
        error.type.name,
    )
    return UserFacingError(
        lazy(
            "That is not {kind} this bot can use here, so nothing was done.",
            kind=kind_words(error.type),
        )
    )
