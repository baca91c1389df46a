"""The job store: one interface (:class:`JobStore`), chosen by ``DATABASE_URL``."""

from __future__ import annotations

from bot.settings import sqlite_path
from bot.store.base import JobStore
from bot.store.models import (
    ButtonPress,
    CreateIntent,
    Delivery,
    InteractionReply,
    Job,
    JobKind,
    JobStatus,
    Limits,
    MemberUsage,
    NewJob,
    PressClaim,
    ReplyBy,
    StatusUpdate,
)


class UnsupportedDatabaseError(Exception):
    """``DATABASE_URL`` names a backend this version cannot use."""


async def open_store(database_url: str) -> JobStore:
    """Open and migrate the store that ``database_url`` names. Use it with ``async with``."""
    path = sqlite_path(database_url)
    if path is not None:
        from bot.store.sqlite import SqliteJobStore

        return await SqliteJobStore.open(path)
    if database_url.startswith(("postgresql://", "postgres://")):
        try:
            from bot.store.postgres import PostgresJobStore
        except ModuleNotFoundError as exc:
            if exc.name != "asyncpg":
                raise
            raise UnsupportedDatabaseError(
                "DATABASE_URL asks for PostgreSQL, but its driver (asyncpg) is not installed: "
                "pip install '.[postgres]' (or pip install asyncpg)."
            ) from None

        return await PostgresJobStore.open(database_url)
    raise UnsupportedDatabaseError(
        "DATABASE_URL must be sqlite:///path/to/file.sqlite3 or postgresql://user@host/db"
    )


__all__ = [
    "ButtonPress",
    "CreateIntent",
    "Delivery",
    "InteractionReply",
    "Job",
    "JobKind",
    "JobStatus",
    "JobStore",
    "Limits",
    "MemberUsage",
    "NewJob",
    "PressClaim",
    "ReplyBy",
    "StatusUpdate",
    "UnsupportedDatabaseError",
    "open_store",
]
