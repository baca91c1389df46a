"""``akool-bot check``: the operator's pre-flight checklist.

Reads the settings as the bot does (``.env``, then the environment), then checks, all at once
and changing nothing: the settings, the Discord token and the invite link, each served server and
its channels, the AKOOL key and balance, the database and its migrations, and the webhook
settings. Prints one ✅/⚠️/❌ line per finding, each ❌ with its fix; the exit status is 0 only
when nothing is ❌. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Mapping, Sequence

import aiohttp

from bot.akool import AkoolClient
from bot.check import akool_side, database, discord_side, webhook_side
from bot.check.options import DEFAULT_TIMEOUT, Options
from bot.check.report import Finding, fail, failed, ok, render, warn
from bot.logs import setup_logging
from bot.settings import Settings, SettingsReading, environment

# Each part of the check, and the variables it cannot go without.
_NEEDS: dict[str, frozenset[str]] = {
    "discord": frozenset({"DISCORD_TOKEN", "DISCORD_API_BASE_URL"}),
    "servers": frozenset({"ALLOWED_GUILD_IDS"}),
    "akool": frozenset({"AKOOL_API_KEY", "AKOOL_BASE_URL"}),
    "database": frozenset({"DATABASE_URL"}),
    "webhooks": frozenset(
        {"AKOOL_API_KEY", "AKOOL_BASE_URL", "AKOOL_CLIENT_ID", "WEBHOOK_PUBLIC_URL"}
    ),
}
_PARTS = {
    "discord": "Discord",
    "servers": "Servers",
    "akool": "AKOOL",
    "database": "Database",
    "webhooks": "Webhooks",
}
_SETTINGS_FIX = (
    "correct it in .env (next to where the bot starts) or in the environment; .env.example "
    "explains each variable."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check as ``akool-bot check [--timeout S]``; the exit status (0: nothing ❌)."""
    options = _parse(argv)
    # As the bot does: values already in the environment win over .env; empty ones are unset.
    reading = Settings.read(environment())
    # Library warnings go to stderr, scrubbed of secrets; the checklist goes to stdout.
    setup_logging(logging.ERROR, reading.settings.secrets)
    findings = asyncio.run(run_check(reading, options))
    sys.stdout.write(render(findings))
    sys.stdout.flush()
    return 1 if failed(findings) else 0


def _parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="akool-bot check",
        description="Check the bot's settings, Discord, AKOOL, the database and webhooks "
        "before starting it. Changes nothing.",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds each service may take to answer (default {DEFAULT_TIMEOUT:g})",
    )
    args = parser.parse_args(argv)
    if not args.timeout > 0:
        parser.error("--timeout must be above 0")
    return Options(timeout=args.timeout)


async def run_check(reading: SettingsReading, options: Options) -> list[Finding]:
    """Every finding, in a fixed order; the parts run at the same time."""
    settings = reading.settings
    findings = _settings_findings(reading)
    usable = {part: not (needs & reading.unusable) for part, needs in _NEEDS.items()}
    async with aiohttp.ClientSession() as http:
        akool = akool_side.client(http, settings, options)
        results = await asyncio.gather(
            _akool(akool, settings) if usable["akool"] else _nothing(),
            _webhooks(http, akool, settings, options) if usable["webhooks"] else _nothing(),
            _database_and_discord(settings, options, usable),
        )
    database_findings, discord_findings = results[2]
    return [*findings, *discord_findings, *results[0], *database_findings, *results[1]]


def _settings_findings(reading: SettingsReading) -> list[Finding]:
    if not reading.problems:
        return [ok("Settings: every value is usable.")]
    findings = [fail(f"Settings: {problem}", _SETTINGS_FIX) for problem in reading.problems]
    for part, needs in _NEEDS.items():
        if blocked := sorted(needs & reading.unusable):
            findings.append(
                warn(f"{_PARTS[part]}: not checked until {', '.join(blocked)} is fixed.")
            )
    return findings


async def _nothing() -> list[Finding]:
    return []


async def _akool(akool: AkoolClient, settings: Settings) -> list[Finding]:
    return [await akool_side.check_key(akool, settings)]


async def _webhooks(
    http: aiohttp.ClientSession,
    akool: AkoolClient,
    settings: Settings,
    options: Options,
) -> list[Finding]:
    findings = webhook_side.check_pair(settings)
    paired = await akool_side.check_client_id(akool, settings)
    tested = await webhook_side.check_url(http, settings, options)
    findings.extend(f for f in (paired, tested) if f is not None)
    return findings


async def _database_and_discord(
    settings: Settings, options: Options, usable: Mapping[str, bool]
) -> tuple[list[Finding], list[Finding]]:
    """The database first: the Discord part reads each server's channel settings from it."""
    readable = False
    database_findings: list[Finding] = []
    if usable["database"]:
        database_findings, readable = await database.check_database(settings, options)
        database_findings.append(await database.check_create_api(settings, readable))
    if not usable["discord"]:
        return database_findings, []
    async with database.server_settings_reader(settings, readable) as read:
        discord_findings = await discord_side.check_discord(
            settings, options, read, servers=usable["servers"]
        )
    return database_findings, discord_findings
