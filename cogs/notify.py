"""/notify: a member's choice to also receive their results by DM."""

from __future__ import annotations

import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import AkoolBot
from bot.i18n import command, gettext, pgettext

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
        locale = interaction.locale
        if dm is None:
            now_on = await self.bot.store.dm_notify(user_id)
            # The command, option and value as the member's Discord names them.
            option = pgettext(locale, "option name", "dm")
            on, off = pgettext(locale, "choice name", "on"), pgettext(locale, "choice name", "off")
            how = gettext(
                locale,
                "{command} {option}:{on} or {command} {option}:{off}",
                command=command("notify"),
                option=option,
                on=on,
                off=off,
            )
            if now_on:
                text = gettext(locale, "Result DMs are on. Change it with {how}.", how=how)
            else:
                text = gettext(locale, "Result DMs are off. Change it with {how}.", how=how)
            await interaction.response.send_message(text, ephemeral=True)
            return
        enabled = dm == "on"
        await self.bot.store.set_dm_notify(user_id, enabled, now=self.bot.clock())
        log.info("Member %s turned result DMs %s", user_id, dm)
        if enabled:
            text = gettext(
                locale,
                "Result DMs are on: each of your results is also sent to you by DM. "
                "This needs DMs from server members allowed.",
            )
        else:
            text = gettext(
                locale, "Result DMs are off: your results are only posted in their channel."
            )
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: AkoolBot) -> None:
    await bot.add_cog(Notify(bot))
