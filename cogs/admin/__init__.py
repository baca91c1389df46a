"""Admin commands: /settings (where and how members may use the bot), /usage and /credits."""

from __future__ import annotations

from bot.core import AkoolBot

from .server_settings import ServerSettingsCog
from .spending import Spending


async def setup(bot: AkoolBot) -> None:
    await bot.add_cog(ServerSettingsCog(bot))
    await bot.add_cog(Spending(bot))
