"""Discord: the token logs in over REST, the application and its invite link, and in each
served server the permissions the bot has in every channel the server's settings allow.

Only REST calls: no gateway connection is opened, so a running bot is not disturbed.
Permissions are computed by discord.py from the roles and the channel's overwrites, as Discord
does (``GuildChannel.permissions_for``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Final

import aiohttp
import discord

from bot.check.database import SettingsReader
from bot.check.options import Options
from bot.check.report import Finding, fail, ok, shown, warn
from bot.discord_api import point_discord_py_at
from bot.errors import UserFacingError
from bot.invite import CHANNEL_PERMISSIONS, invite_url, permission_label
from bot.policy import check_place
from bot.server_settings import Scope, ServerSettings
from bot.settings import Settings

_FIX_REFUSED_LOGIN: Final = (
    "in the Developer Portal (https://discord.com/developers/applications), your application → "
    "Bot → Reset Token; put the new token in .env as DISCORD_TOKEN."
)
_SHOWN_CHANNELS: Final = 10
# Channels where members can start jobs without a server's settings naming them.
_TEXT: Final = (discord.TextChannel,)


class _Stop(Exception):
    """Discord cannot be asked anything more; ``finding`` says why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.text)
        self.finding = finding


async def check_discord(
    settings: Settings, options: Options, read_settings: SettingsReader, *, servers: bool = True
) -> list[Finding]:
    """Findings about the token and the application, then (``servers``) each served server."""
    undo = point_discord_py_at(settings)
    findings: list[Finding] = []
    try:
        async with discord.Client(intents=discord.Intents.none()) as client:
            await _guarded(_login(client, settings, findings), settings, options)
            if servers:
                await _guarded(
                    _servers(client, settings, read_settings, findings), settings, options
                )
    except _Stop as stop:
        findings.append(stop.finding)
    finally:
        undo()
    return findings


async def _guarded(step: Awaitable[None], settings: Settings, options: Options) -> None:
    """Run one step of the check, turning Discord being unreachable into a finding."""
    where = settings.discord_api_base_url or "discord.com"
    try:
        async with asyncio.timeout(options.timeout):
            await step
    except TimeoutError:
        raise _Stop(
            fail(
                f"Discord ({where}) did not answer within {options.timeout:g} s.",
                "check this machine's internet connection, and DISCORD_API_BASE_URL if set.",
            )
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise _Stop(
            fail(
                f"Discord ({where}) cannot be reached: {shown(str(exc)) or type(exc).__name__}.",
                "check this machine's internet connection and DNS, and DISCORD_API_BASE_URL "
                "if set.",
            )
        ) from None
    except discord.HTTPException as exc:
        raise _Stop(
            fail(
                f"Discord ({where}) answered HTTP {exc.status}: {shown(exc.text) or 'no reason'}.",
                "try again in a minute; if it persists, see https://discordstatus.com.",
            )
        ) from None


async def _login(client: discord.Client, settings: Settings, findings: list[Finding]) -> None:
    try:
        await client.login(settings.discord_token.reveal())
    except discord.LoginFailure:
        raise _Stop(fail("Discord refused DISCORD_TOKEN.", _FIX_REFUSED_LOGIN)) from None
    app = client.application
    assert app is not None  # login() fetched it
    findings.append(
        ok(
            f"Discord: logged in as {shown(str(client.user))}, application "
            f"“{shown(app.name)}” (id {app.id})."
        )
    )
    if app.bot_public:
        findings.append(
            warn(
                "Discord: Public Bot is on, so anyone who sees the bot can add it to a server "
                "of their own.",
                "Developer Portal → your application → Bot: switch off Public Bot "
                "(README, “Keeping it yours”).",
            )
        )
    labels = ", ".join(permission_label(name) for name, _ in CHANNEL_PERMISSIONS)
    findings.append(ok(f"Invite link ({labels}): {invite_url(app.id)}"))


async def _servers(
    client: discord.Client,
    settings: Settings,
    read_settings: SettingsReader,
    findings: list[Finding],
) -> None:
    joined = {guild.id: guild async for guild in client.fetch_guilds(limit=None)}
    allowed = settings.allowed_guild_ids
    if allowed is None:
        findings.append(
            warn(
                f"ALLOWED_GUILD_IDS is not set: the bot serves every server it is in "
                f"({len(joined)}), and each spends your AKOOL credits.",
                "set ALLOWED_GUILD_IDS to your servers' ids (README, “Keeping it yours”).",
            )
        )
        if not joined:
            findings.append(
                warn(
                    "Discord: the bot is in no server yet.",
                    "open the invite link above and pick your server.",
                )
            )
        served = sorted(joined)
    else:
        for guild_id in sorted(allowed - joined.keys()):
            findings.append(
                fail(
                    f"Server {guild_id} (in ALLOWED_GUILD_IDS): the bot is not in it.",
                    "open the invite link above and add the bot to that server, or take the id "
                    "out of ALLOWED_GUILD_IDS.",
                )
            )
        for guild_id in sorted(joined.keys() - allowed):
            findings.append(
                warn(
                    f"Discord: the bot is in “{shown(joined[guild_id].name)}” ({guild_id}), "
                    "which is not in ALLOWED_GUILD_IDS; it leaves that server when it starts."
                )
            )
        served = sorted(allowed & joined.keys())
    for guild_id in served:
        findings.extend(await _server(client, guild_id, read_settings))


async def _server(
    client: discord.Client, guild_id: int, read_settings: SettingsReader
) -> list[Finding]:
    assert client.user is not None  # logged in
    try:
        guild = await client.fetch_guild(guild_id, with_counts=False)
        channels = await guild.fetch_channels()
        me = await guild.fetch_member(client.user.id)
    except (discord.Forbidden, discord.NotFound):
        return [
            fail(
                f"Server {guild_id}: the bot is not in it.",
                "open the invite link above and add the bot to that server.",
            )
        ]
    name = f"Server “{shown(guild.name)}”"
    findings: list[Finding] = []
    server_settings = await read_settings(guild_id)
    if server_settings is None:
        findings.append(
            warn(
                f"{name}: its settings could not be read from the database, so every text "
                "channel was checked."
            )
        )
        server_settings = ServerSettings()
    places = _allowed_channels(server_settings, channels)
    for missing_id in sorted(server_settings.channels - {c.id for c in channels}):
        findings.append(
            warn(
                f"{name}: its settings allow channel {missing_id}, which no longer exists.",
                "/settings channels in that server to update the list.",
            )
        )
    if not places:
        findings.append(
            warn(
                f"{name}: no channel where the bot may work.",
                "allow a text channel with /settings channels, or add one.",
            )
        )
        return findings
    role = next((r for r in me.roles if r.is_bot_managed()), me.top_role)
    good = []
    for channel in places:
        permissions = channel.permissions_for(me)
        missing = [n for n, _ in CHANNEL_PERMISSIONS if not getattr(permissions, n)]
        if not missing:
            good.append(channel)
            continue
        labels = ", ".join(permission_label(n) for n in missing)
        why = "; ".join(why for n, why in CHANNEL_PERMISSIONS if n in missing)
        findings.append(
            fail(
                f"{name}, #{shown(channel.name)}: the bot lacks {labels} ({why}).",
                f"in Discord, #{shown(channel.name)} → Edit Channel → Permissions: allow "
                f"{labels} for the role “{shown(role.name)}”.",
            )
        )
    if good:
        findings.insert(0, ok(f"{name}: the bot has every permission it needs in {_list(good)}."))
    return findings


def _allowed_channels(
    settings: ServerSettings, channels: Sequence[discord.abc.GuildChannel]
) -> list[discord.abc.GuildChannel]:
    """The channels where the server's settings let members start jobs: every text channel, or
    only those listed, or all but those excluded (the same rule as :func:`check_place`, whoever
    the member)."""
    anyone = settings.with_roles(Scope())
    found = []
    for channel in sorted(channels, key=lambda c: (c.position, c.id)):
        if not isinstance(channel, _TEXT) and channel.id not in settings.channels:
            continue
        try:
            check_place(anyone, channel.id, ())
        except UserFacingError:
            continue
        found.append(channel)
    return found


def _list(channels: Sequence[discord.abc.GuildChannel]) -> str:
    names = [f"#{shown(c.name)}" for c in channels[:_SHOWN_CHANNELS]]
    if len(channels) > _SHOWN_CHANNELS:
        names.append(f"and {len(channels) - _SHOWN_CHANNELS} more")
    noun = "the one channel" if len(channels) == 1 else f"all {len(channels)} channels"
    return f"{noun} its settings allow ({', '.join(names)})"
