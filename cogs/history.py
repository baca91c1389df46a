"""Placeholder until the history feature lands."""

from __future__ import annotations

from bot.core import AkoolBot


async def setup(bot: AkoolBot) -> None:
    return None
