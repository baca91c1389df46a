"""The job store: one interface (:class:`JobStore`), chosen by ``DATABASE_URL``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bot.settings import sqlite_path
from bot.store.base import JobStore
from bot.store.migrations import SchemaState
from bot.store.models import (
    ButtonPress,
    Caps,
    CostKind,
    CreateIntent,
    CreateOptions,
    CreditUsage,
    Delivery,
    ImageRole,
    InteractionReply,
    Job,
    JobKind,
    JobStatus,
    KeptImage,
    Limits,
    MemberUsage,
    NewJob,
    PressClaim,
    ReplyBy,
    Spending,
    StatusUpdate,
)


class UnsupportedDatabaseError(Exception):
    """``DATABASE_URL`` names a backend this version cannot use."""


_UNSUPPORTED = "DATABASE_URL must be sqlite:///path/to/file.sqlite3 or postgresql://user@host/db"


def _is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgresql://", "postgres://"))


async def open_store(database_url: str, *, read_only: bool = False) -> JobStore:
    """Open and migrate the store that ``database_url`` names. Use it with ``async with``.

    ``read_only`` (``akool-bot check``): open an existing database as it is, migrating and
    writing nothing.
    """
    path = sqlite_path(database_url)
    if path is not None:
        from bot.store.sqlite import SqliteJobStore

        return await SqliteJobStore.open(path, read_only=read_only)
    if _is_postgres(database_url):
        with _postgres_driver():
            from bot.store.postgres import PostgresJobStore

        return await PostgresJobStore.open(database_url, read_only=read_only)
    raise UnsupportedDatabaseError(_UNSUPPORTED)


@contextlib.contextmanager
def _postgres_driver() -> Iterator[None]:
    """Around importing the PostgreSQL store: its driver is an extra (pip install '.[postgres]')."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name != "asyncpg":
            raise
        raise UnsupportedDatabaseError(
            "DATABASE_URL asks for PostgreSQL, but its driver (asyncpg) is not installed: "
            "pip install '.[postgres]' (or pip install asyncpg)."
        ) from None


async def read_schema_state(database_url: str, *, connect_timeout: float) -> SchemaState:
    """Which of this bot's migrations the database has, and which are pending; read only, so
    a database that does not exist yet is not created. ``connect_timeout``: seconds to connect."""
    path = sqlite_path(database_url)
    if path is not None:
        from bot.store import sqlite

        return await sqlite.schema_state(path)
    if _is_postgres(database_url):
        with _postgres_driver():
            from bot.store import postgres

        return await postgres.schema_state(database_url, connect_timeout=connect_timeout)
    raise UnsupportedDatabaseError(_UNSUPPORTED)


__all__ = [
    "ButtonPress",
    "Caps",
    "CostKind",
    "CreateIntent",
    "CreateOptions",
    "CreditUsage",
    "Delivery",
    "ImageRole",
    "InteractionReply",
    "Job",
    "JobKind",
    "JobStatus",
    "JobStore",
    "KeptImage",
    "Limits",
    "MemberUsage",
    "NewJob",
    "PressClaim",
    "ReplyBy",
    "SchemaState",
    "Spending",
    "StatusUpdate",
    "UnsupportedDatabaseError",
    "open_store",
    "read_schema_state",
]
