"""Migrations: applied from empty in one transaction, recorded, idempotent, and pragmas set."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.store import migrations, open_store
from bot.store.sqlite import SqliteJobStore


def test_every_migration_has_a_reason():
    found = migrations.load("sqlite")

    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert all(m.reason for m in found)


async def test_migrates_an_empty_file_and_creates_its_folder(tmp_path: Path):
    path = tmp_path / "nested" / "folder" / "bot.sqlite3"

    async with await SqliteJobStore.open(path):
        pass

    with sqlite3.connect(path) as raw:
        version = raw.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        journal = raw.execute("PRAGMA journal_mode").fetchone()[0]
        strict = raw.execute("SELECT sql FROM sqlite_master WHERE name='jobs'").fetchone()[0]
    assert version == len(migrations.load("sqlite"))
    assert {"jobs", "button_presses"} <= tables
    assert journal == "wal"
    assert strict.rstrip().endswith("STRICT")


async def test_reopening_applies_nothing_twice(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    async with await SqliteJobStore.open(path):
        pass

    async with await SqliteJobStore.open(path) as store:
        assert await store.ping()


async def test_connection_pragmas(tmp_path: Path):
    store = await SqliteJobStore.open(tmp_path / "bot.sqlite3")
    db = store._db
    async with db.execute("PRAGMA foreign_keys") as cursor:
        foreign_keys = (await cursor.fetchone())[0]  # type: ignore[index]
    async with db.execute("PRAGMA busy_timeout") as cursor:
        busy = (await cursor.fetchone())[0]  # type: ignore[index]
    await store.close()

    assert foreign_keys == 1
    assert busy >= 1000


async def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path, monkeypatch):
    broken = [
        *migrations.load("sqlite"),
        migrations.Migration(99, "broken", "test", "CREATE TABLE half (x INTEGER); SELEC oops;"),
    ]
    monkeypatch.setattr(migrations, "load", lambda dialect: broken)
    path = tmp_path / "bot.sqlite3"

    with pytest.raises(sqlite3.OperationalError, match='near "SELEC": syntax error'):
        await SqliteJobStore.open(path)

    with sqlite3.connect(path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = raw.execute("PRAGMA user_version").fetchone()[0]
    assert tables == set()
    assert version == 0


async def test_a_newer_database_is_refused(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 999")

    with pytest.raises(RuntimeError, match="newer than this bot knows"):
        await SqliteJobStore.open(path)


async def test_open_store_by_url(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async with await open_store("sqlite:///data/bot.sqlite3") as store:
        assert await store.ping()

    assert (tmp_path / "data" / "bot.sqlite3").exists()


async def test_intents_from_before_0007_keep_their_meaning(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as raw:
        for migration in migrations.load("sqlite")[:6]:
            raw.executescript(migration.sql)
        raw.execute("PRAGMA user_version = 6")
        raw.execute(
            "INSERT INTO jobs (akool_id, kind, requester_id, channel_id, created_at, updated_at,"
            " intent_id, status_message_id) VALUES ('a', 'imagine', 1, 2, 0, 0, 7, 9)"
        )
        raw.execute(
            "INSERT INTO create_intents (id, requester_id, channel_id, prompt, started_at)"
            " VALUES (3, 1, 2, 'under way', 100)"
        )

    async with await SqliteJobStore.open(path) as store:
        (old,) = await store.lost_create_intents(started_before=200)
        new = await store.add_create_intent(1, None, 2, "new", now=150)

    # Written before the AKOOL call could be told apart: AKOOL may have been asked.
    assert (old.id, old.prompt, old.akool_called_at, old.reply) == (3, "under way", 100, None)
    # New ids start above every id a job names, so no old job seems to fulfil a new intent.
    assert new is not None
    assert new > 7
