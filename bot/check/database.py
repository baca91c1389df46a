"""The database: reachable, and its migrations applied or pending, read without changing it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from bot.check.options import Options
from bot.check.report import Finding, fail, ok, warn
from bot.server_settings import ServerSettings
from bot.settings import Settings, sqlite_path
from bot.store import JobStore, SchemaState, open_store, read_schema_state

# Reads a server's settings; ``None`` when they cannot be read.
SettingsReader = Callable[[int], Awaitable[ServerSettings | None]]

_FIX_POSTGRES = (
    "start PostgreSQL, or correct the host, port, user, password and database name in "
    "DATABASE_URL (the database must exist)."
)


def describe(database_url: str) -> str:
    """The database named, without any password."""
    path = sqlite_path(database_url)
    if path is not None:
        return f"SQLite file {path}"
    parts = urlsplit(database_url)
    where = parts.hostname or "localhost"
    if parts.port:
        where += f":{parts.port}"
    return f"PostgreSQL database {parts.path.lstrip('/') or '(default)'} at {where}"


async def check_database(settings: Settings, options: Options) -> tuple[list[Finding], bool]:
    """Findings about the database, and whether its rows (server settings) can be read."""
    url = settings.database_url
    timeout = options.timeout
    where = describe(url)
    path = sqlite_path(url)
    if path is not None:
        problem = _sqlite_access(path)
        if problem is not None:
            return [problem], False
    try:
        async with asyncio.timeout(timeout):
            state = await read_schema_state(url, connect_timeout=timeout)
    except ModuleNotFoundError:
        return [
            fail(
                f"Database: {where} needs the asyncpg package, which is not installed.",
                "install the bot with PostgreSQL support: pip install '.[postgres]'.",
            )
        ], False
    except TimeoutError:
        return [fail(f"Database: {where} did not answer within {timeout:g} s.", _fix(path))], False
    except (OSError, sqlite3.Error) as exc:
        return [fail(f"Database: {where} cannot be opened: {_reason(exc)}.", _fix(path))], False
    except Exception as exc:  # asyncpg's own errors (refused password, unknown database, ...)
        if path is not None:
            raise
        refused = f"Database: {where} refused the connection: {_reason(exc)}."
        return [fail(refused, _fix(path))], False
    return [_schema_finding(where, state)], state.exists and not state.newer_than_bot


def _schema_finding(where: str, state: SchemaState) -> Finding:
    if not state.exists:
        return ok(
            f"Database: {where} does not exist yet; the bot creates it, with all "
            f"{state.known} migrations, when it starts."
        )
    if state.newer_than_bot:
        return fail(
            f"Database: {where} is at schema version {state.version}, newer than this bot knows "
            f"({state.known}).",
            "run the newer version of the bot that upgraded it, or restore a backup made "
            "with this version.",
        )
    if state.pending:
        names = ", ".join(f"{m.version:04d} {m.name}" for m in state.pending)
        return warn(
            f"Database: {where} is reachable; {len(state.pending)} of {state.known} migrations "
            f"pending ({names}). The bot applies them when it starts; back the database up "
            "first."
        )
    return ok(f"Database: {where} is reachable; all {state.known} migrations applied.")


def _sqlite_access(path: Path) -> Finding | None:
    """Whether the bot's user can write the file and its folder (SQLite keeps its journal
    beside the file), or create both."""
    if path.exists():
        folder = path.parent
        if not os.access(path, os.R_OK | os.W_OK) or not os.access(folder, os.W_OK | os.X_OK):
            return fail(
                f"Database: the bot's user cannot read and write {path} and its folder.",
                f"give this user write access to {path} and to {folder}.",
            )
        return None
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return fail(
            f"Database: {path} does not exist, and the bot's user cannot create it: it may not "
            f"write in {existing}.",
            f"give this user write access to {existing}, or set DATABASE_URL to a file in a "
            "folder it can write.",
        )
    return None


def _fix(path: Path | None) -> str:
    if path is None:
        return _FIX_POSTGRES
    return (
        "check that DATABASE_URL names the bot's SQLite file, that no other program holds "
        "it locked, and that it is not damaged (restore a backup if it is)."
    )


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(".")


@contextlib.asynccontextmanager
async def server_settings_reader(
    settings: Settings, readable: bool
) -> AsyncIterator[SettingsReader]:
    """Reads each server's settings from the database, opened read-only; a database not yet
    made has none, so every server has the defaults."""
    if not readable:
        exists = sqlite_path(settings.database_url)
        if exists is not None and not exists.exists():

            async def defaults(guild_id: int) -> ServerSettings | None:
                return ServerSettings()

            yield defaults
            return

        async def unknown(guild_id: int) -> ServerSettings | None:
            return None

        yield unknown
        return
    store: JobStore | None = None
    try:
        store = await open_store(settings.database_url, read_only=True)
    except Exception:  # reported already by check_database; here it only means "unknown"
        store = None

    async def read(guild_id: int) -> ServerSettings | None:
        if store is None:
            return None
        try:
            return await store.server_settings(guild_id)
        except Exception:  # an older schema without the table, a lock: not known
            return None

    try:
        yield read
    finally:
        if store is not None:
            await store.close()


async def check_create_api(settings: Settings, readable: bool) -> Finding:
    """Which create API new jobs go through: the setting, and in ``auto`` whether AKOOL has
    answered (noted in the database) that v3 create is gone."""
    mode = settings.akool_create_api
    gone = await _v3_create_gone(settings) if readable else None
    if mode == "v4":
        return ok("AKOOL create API: v4 (createBySourcePrompt), as AKOOL_CREATE_API says.")
    if mode == "v3":
        if gone:
            return warn(
                "AKOOL create API: v3 is forced, but AKOOL has answered that v3 create is gone: "
                "/imagine will fail.",
                "set AKOOL_CREATE_API=auto (or v4) in .env and restart the bot.",
            )
        return ok("AKOOL create API: v3 (the grid of four), as AKOOL_CREATE_API says.")
    if gone:
        return ok(
            "AKOOL create API: auto, switched to v4 for good: AKOOL has answered that v3 create "
            "is gone."
        )
    known = "" if gone is not None else " (the database could not say whether it switched)"
    return ok(
        "AKOOL create API: auto: the grid through v3 until AKOOL answers that v3 create is "
        f"gone, then v4 for good{known}."
    )


async def _v3_create_gone(settings: Settings) -> bool | None:
    try:
        store = await open_store(settings.database_url, read_only=True)
    except Exception:  # reported already by check_database
        return None
    try:
        return await store.v3_create_gone()
    except Exception:  # an older schema without the table: not known
        return None
    finally:
        await store.close()
