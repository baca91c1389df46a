"""The command tree, with the one app-command error handler."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import UserFacingError, report


class AppCommandTree(app_commands.CommandTree[discord.Client]):
    """Domain errors show their sentence; anything unexpected an apology with a reference id."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        elif isinstance(error, app_commands.CheckFailure):
            original = _check_failure(error)
        command = interaction.command.qualified_name if interaction.command else "unknown command"
        await report(interaction, original, what=f"/{command}")


def _check_failure(error: app_commands.CheckFailure) -> BaseException:
    if isinstance(error, app_commands.NoPrivateMessage):
        return UserFacingError("This command works only in a server.")
    if isinstance(error, app_commands.MissingPermissions | app_commands.BotMissingPermissions):
        return UserFacingError(str(error))
    return UserFacingError("You cannot use this command here.")
