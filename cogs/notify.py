"""/notify: a member's choice to also receive their results by DM."""

from __future__ import annotations

import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import AkoolBot

log = logging.getLogger(__name__)


class Notify(commands.Cog):
    """/notify: a member's choice to also get their results by DM."""

    def __init__(self, bot: AkoolBot) -> None:
        self.bot = bot

    @app_commands.command(name="notify")
    @app_commands.guild_only()
    @app_commands.describe(dm="on: also DM you each result; off: only post it in the channel")
    async def notify(
        self, interaction: discord.Interaction, dm: Literal["on", "off"] | None = None
    ) -> None:
        """Choose whether your finished jobs are also sent to you by DM."""
        user_id = interaction.user.id
        if dm is None:
            now_on = await self.bot.store.dm_notify(user_id)
            state = "on" if now_on else "off"
            await interaction.response.send_message(
                f"Result DMs are {state}. Change it with /notify dm:on or /notify dm:off.",
                ephemeral=True,
            )
            return
        enabled = dm == "on"
        await self.bot.store.set_dm_notify(user_id, enabled, now=self.bot.clock())
        log.info("Member %s turned result DMs %s", user_id, dm)
        if enabled:
            text = (
                "Result DMs are on: each of your results is also sent to you by DM. "
                "This needs DMs from server members allowed."
            )
        else:
            text = "Result DMs are off: your results are only posted in their channel."
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: AkoolBot) -> None:
    await bot.add_cog(Notify(bot))
