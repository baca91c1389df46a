"""Where discord.py finds Discord: its own servers, or the proxy (or fake) the settings name."""

from __future__ import annotations

from collections.abc import Callable

import discord
import discord.gateway
import discord.http
import yarl

from bot.settings import Settings


def point_discord_py_at(settings: Settings) -> Callable[[], None]:
    """Use a proxy (or, in the tests, the fake Discord) instead of Discord itself; returns a
    function that undoes it. discord.py keeps both URLs as class attributes, read whenever a
    request is built or a socket opened, so this holds for the whole process."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_base_url:
        discord.http.Route.BASE = settings.discord_api_base_url
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)

    def undo() -> None:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return undo
