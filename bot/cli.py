"""``akool-bot`` (and ``python -m bot``): run the bot, or one of the operator's commands.

Settings come from the environment over ``.env`` in the working folder, empty values counting as
unset. Each command ends with one clear line and a non-zero exit status when it cannot do its job.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from bot.memory import limit_malloc_arenas
from bot.settings import (
    Settings,
    SettingsError,
    database_url_from,
    environment,
    http_address_from,
    level_number,
    sqlite_path,
)

PROG = "akool-bot"


def main(argv: Sequence[str] | None = None) -> int:
    # Before any thread starts: bursts must not leave a malloc arena behind per worker thread.
    limit_malloc_arenas()
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["check"]:
        # Its own options are its own business.
        return _check(args[1:])
    parsed = _parser().parse_args(args)
    if parsed.command == "backup":
        return _backup(parsed.path)
    if parsed.command == "health":
        return _health()
    return _run()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A self-hosted Discord bot for AKOOL image generation.",
        epilog="Settings come from the environment and from .env in the current folder.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot (the default when no command is given)")
    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database to PATH while the bot runs",
        description=(
            "Make a consistent copy of the SQLite database (DATABASE_URL) while the bot runs, "
            "through SQLite's online backup API. PATH must not exist yet. For PostgreSQL, use "
            "pg_dump."
        ),
    )
    backup.add_argument("path", type=Path, metavar="PATH", help="the new file to write")
    commands.add_parser("check", help="check the settings, Discord, AKOOL and the database")
    commands.add_parser(
        "health", help="ask the running bot's /healthz; exit 0 only when it is healthy"
    )
    return parser


def _settings_failed(error: SettingsError, what: str) -> int:
    lines = "\n".join(f"  - {problem}" for problem in error.problems)
    sys.stderr.write(
        f"{what}: its settings are incomplete or do not work together.\n"
        f"{lines}\n"
        "Set them in a .env file next to where you start the bot (copy .env.example) "
        "or in the environment.\n"
    )
    return 2


def _run() -> int:
    try:
        settings = Settings.from_env(environment())
    except SettingsError as exc:
        return _settings_failed(exc, "The bot cannot start")
    # Imported only now: discord.py takes a moment to import, and a settings error should not wait.
    from bot.logs import setup_logging
    from bot.runner import run

    setup_logging(
        level_number(settings.log_level),
        settings.secrets,
        json_lines=settings.log_format == "json",
    )
    return asyncio.run(run(settings))


def _backup(path: Path) -> int:
    try:
        database_url = database_url_from(environment())
    except SettingsError as exc:
        return _settings_failed(exc, "No backup was made")
    source = sqlite_path(database_url)
    if source is None:
        sys.stderr.write(
            "No backup was made: DATABASE_URL names PostgreSQL, which this command does not "
            'copy. Use pg_dump: pg_dump --format=custom --file=akool.dump "$DATABASE_URL" '
            "(see the README, Running it well).\n"
        )
        return 2
    from bot.store.backup import BackupError, backup_sqlite

    try:
        result = backup_sqlite(source, path)
    except BackupError as exc:
        sys.stderr.write(f"No backup was made: {exc}\n")
        return 2
    sys.stdout.write(
        f"Backed up {source} to {result.path}: {result.jobs} jobs, {result.size} bytes, "
        "integrity check ok.\n"
    )
    return 0


def _health() -> int:
    try:
        host, port = http_address_from(environment())
    except SettingsError as exc:
        return _settings_failed(exc, "No health check was made")
    from bot.health import probe

    healthy, answer = probe(host, port)
    (sys.stdout if healthy else sys.stderr).write(f"{answer}\n")
    return 0 if healthy else 1


def _check(args: list[str]) -> int:
    try:
        module = importlib.import_module("bot.check")
    except ModuleNotFoundError as exc:
        if exc.name != "bot.check":
            raise
        sys.stderr.write(f"{PROG} check is not available in this version.\n")
        return 2
    check_main = cast(Callable[[list[str]], int], module.main)
    return check_main(args)
