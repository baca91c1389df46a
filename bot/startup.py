"""Start-up failures, each said in one line that names the part that failed and what to do.

The runner opens the parts in order (the database, the HTTP server, Discord) and hands a failure
of each to its function here; an error none of them recognises is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import discord

from bot.settings import sqlite_path


class StartupError(Exception):
    """A part of the bot could not start; the message is the one line the operator reads."""


def database(error: BaseException, database_url: str) -> str | None:
    """Why the store named by ``database_url`` could not be opened, or ``None`` if unknown."""
    path = sqlite_path(database_url)
    if path is not None:
        return _sqlite(error, path)
    return _postgres(error, database_url)


def _sqlite(error: BaseException, path: Path) -> str | None:
    folder = path.parent.absolute()
    where = "set DATABASE_URL to a file in a folder this user can write"
    if isinstance(error, OSError):
        # Raised while making the folder: it is missing and cannot be made.
        return (
            f"The database folder {folder} does not exist and cannot be created "
            f"({error.strerror or error}): create it, or {where}."
        )
    if not isinstance(error, sqlite3.Error):
        return None
    if not folder.is_dir():
        return f"The database folder {folder} does not exist: create it, or {where}."
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"The database folder {folder} is not writable by this user (uid {os.getuid()}): "
            f"give it write permission, or {where}."
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return (
            f"The database file {path.absolute()} cannot be read and written by this user "
            f"(uid {os.getuid()}): fix its permissions, or {where}."
        )
    if isinstance(error, sqlite3.DatabaseError) and "not a database" in str(error):
        return f"{path.absolute()} is not a SQLite database: set DATABASE_URL to the bot's file."
    return f"The SQLite database {path.absolute()} cannot be opened: {error}."


def _postgres(error: BaseException, database_url: str) -> str | None:
    parts = urlsplit(database_url)
    # Never the whole URL: it may carry a password.
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    if isinstance(error, socket.gaierror):
        return f"PostgreSQL's host {parts.hostname} cannot be resolved: check DATABASE_URL."
    if isinstance(error, OSError | TimeoutError):
        reason = _reason(error)
        return (
            f"PostgreSQL at {where} cannot be reached ({reason}): check that it runs and that "
            "DATABASE_URL names its host and port."
        )
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - the store could not have got this far without it
        return None
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        # asyncpg's messages name the user or database, never the password.
        return f"PostgreSQL at {where} refused the connection: {error}. Check DATABASE_URL."
    return None


def http_server(error: OSError, host: str, port: int) -> str:
    """Why the bot's own HTTP server could not listen on ``host:port``."""
    where = f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return (
            f"The bot's HTTP server cannot listen on {where}: the port is in use by another "
            "program (another copy of the bot?). Stop it, or set HTTP_PORT to a free port."
        )
    if error.errno == errno.EACCES:
        return (
            f"The bot's HTTP server cannot listen on {where}: this user is not permitted to "
            "use that port (ports below 1024 need privileges). Set HTTP_PORT to 1024 or above."
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"The bot's HTTP server cannot listen on {where}: {host} is not an address of this "
            "machine. Set HTTP_HOST to one of its addresses, or 0.0.0.0 for all."
        )
    if isinstance(error, socket.gaierror):
        return f"The bot's HTTP server cannot listen: HTTP_HOST {host} is not a known host name."
    return f"The bot's HTTP server cannot listen on {where}: {error.strerror or error}."


def discord_failure(error: BaseException) -> str | None:
    """Why logging in to Discord failed, or ``None`` if unknown."""
    if isinstance(error, discord.LoginFailure):
        return (
            "Discord refused DISCORD_TOKEN. Reset the token in the Developer Portal "
            "(Bot -> Reset Token) and put the new one in .env."
        )
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return (
            f"Discord cannot be resolved: {error.host} is not a known host name here. Check "
            "this machine's DNS (and DISCORD_API_BASE_URL, if set)."
        )
    if isinstance(error, aiohttp.ClientConnectorError):
        reason = _reason(error.os_error)
        return (
            f"Discord cannot be reached at {error.host}:{error.port} ({reason}). Check this "
            "machine's network, firewall or proxy (and DISCORD_API_BASE_URL, if set)."
        )
    if isinstance(error, aiohttp.ClientError | OSError | TimeoutError):
        reason = str(error) or "no answer"
        return (
            f"Discord cannot be reached ({type(error).__name__}: {reason}). Check "
            "this machine's network, firewall or proxy (and DISCORD_API_BASE_URL, if set)."
        )
    if isinstance(error, discord.DiscordServerError):
        return (
            f"Discord answered {error.status} at start-up: it may be having an outage; "
            "try again later."
        )
    if isinstance(error, discord.HTTPException):
        return f"Discord refused a start-up request: {error.status} {error.text}."
    return None


def _reason(error: BaseException) -> str:
    """An OS error in words: "Connection refused" rather than asyncio's "Connect call failed"."""
    number = getattr(error, "errno", None)
    if number:
        return os.strerror(number)
    return str(error) or "no answer"
