"""The read-only look at a database that ``akool-bot check`` takes: which migrations are
applied and which pending, and a read-only store that can read but never write."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.server_settings import ServerSettings
from bot.store import migrations, open_store, read_schema_state
from tests.postgres import postgres_schema


@contextlib.asynccontextmanager
async def database_url(backend: str, folder: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bot.sqlite3'}"
    else:
        async with postgres_schema() as url:
            yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database_url(request.param, tmp_path) as made:
        yield made


def dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


async def test_every_migration_pending_before_the_first_start_and_none_after(url: str):
    known = migrations.load(dialect(url))

    before = await read_schema_state(url, connect_timeout=5)
    again = await read_schema_state(url, connect_timeout=5)  # reading made nothing
    async with await open_store(url):
        pass
    after = await read_schema_state(url, connect_timeout=5)

    assert [m.version for m in before.pending] == [m.version for m in known]
    assert again.pending == before.pending
    assert after.pending == ()
    assert (after.version, after.known, after.newer_than_bot) == (len(known), len(known), False)


async def test_migrations_added_later_are_pending(url: str, monkeypatch: pytest.MonkeyPatch):
    known = migrations.load(dialect(url))
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "load", lambda _dialect: known[:-1])
        async with await open_store(url):
            pass

    state = await read_schema_state(url, connect_timeout=5)

    assert state.pending == (known[-1],)
    assert state.version == len(known) - 1


async def test_a_read_only_store_reads_and_cannot_write(url: str):
    saved = ServerSettings(max_daily_jobs=7)
    async with await open_store(url) as store:
        await store.save_server_settings(42, saved, now=0.0)

    async with await open_store(url, read_only=True) as store:
        assert await store.server_settings(42) == saved
        with pytest.raises(Exception, match=r"read-only|readonly"):
            await store.save_server_settings(42, ServerSettings(), now=0.0)


async def test_sqlite_state_creates_no_file(tmp_path: Path):
    path = tmp_path / "missing" / "bot.sqlite3"

    state = await read_schema_state(f"sqlite:///{path}", connect_timeout=5)

    assert not state.exists
    assert not path.parent.exists()


async def test_sqlite_newer_than_the_bot(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 999")

    state = await read_schema_state(f"sqlite:///{path}", connect_timeout=5)

    assert state.newer_than_bot
    assert state.pending == ()
